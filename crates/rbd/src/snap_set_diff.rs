//! What changed in one RADOS object between two snapshots, from its clone list
//! (`list_snaps`): the rules of src/librados/snap_set_diff.cc `calc_snap_set_diff`, and
//! the little interval arithmetic (`interval_set<uint64_t>`) they need.

use denc::SnapId;
use rados::SnapSet;

/// Sorted, disjoint, non-adjacent half-open ranges `(offset, length)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<(u64, u64)>);

impl Intervals {
    /// No ranges.
    pub fn new() -> Intervals {
        Intervals(Vec::new())
    }

    /// The ranges, ascending.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `off..off + len` (merging with what it touches).
    pub fn insert(&mut self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        let (mut start, mut end) = (off, off.saturating_add(len));
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(o, l) in &self.0 {
            let e = o + l;
            if e < start {
                out.push((o, l));
            } else if o > end {
                if !placed {
                    out.push((start, end - start));
                    placed = true;
                }
                out.push((o, l));
            } else {
                start = start.min(o);
                end = end.max(e);
            }
        }
        if !placed {
            out.push((start, end - start));
        }
        self.0 = out;
    }

    /// Removes `off..off + len`.
    pub fn erase(&mut self, off: u64, len: u64) {
        let end = off.saturating_add(len);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(o, l) in &self.0 {
            let e = o + l;
            if e <= off || o >= end {
                out.push((o, l));
                continue;
            }
            if o < off {
                out.push((o, off - o));
            }
            if e > end {
                out.push((end, e - end));
            }
        }
        self.0 = out;
    }

    /// Adds every range of `other`.
    pub fn union_of(&mut self, other: &Intervals) {
        for &(o, l) in &other.0 {
            self.insert(o, l);
        }
    }

    /// The parts of `off..off + len` these ranges cover.
    pub fn intersect(&self, off: u64, len: u64) -> Vec<(u64, u64)> {
        let end = off.saturating_add(len);
        self.0
            .iter()
            .filter_map(|&(o, l)| {
                let (s, e) = (o.max(off), (o + l).min(end));
                (s < e).then(|| (s, e - s))
            })
            .collect()
    }
}

/// What `calc_snap_set_diff` finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectDiff {
    /// Object ranges that differ between the two snapshots.
    pub diff: Intervals,
    /// The object's size at the end snapshot.
    pub end_size: u64,
    /// Whether the object exists at the end snapshot.
    pub end_exists: bool,
    /// The clone list cannot tell (a clone serving no snapshot): the whole object.
    pub whole_object: bool,
}

/// The ranges of an object that differ from snapshot `start` (0: the beginning) to
/// snapshot `end` (`NOSNAP`: the head), given its clones.
pub fn calc_snap_set_diff(snap_set: &SnapSet, start: u64, end: u64) -> ObjectDiff {
    let mut out = ObjectDiff::default();
    let mut saw_start = false;
    let mut start_size = 0u64;
    let clones = &snap_set.clones;
    let mut i = 0usize;
    while let Some(c) = clones.get(i) {
        // the head serves every snapshot after the sequence it was last written under
        let (a, b) = if c.cloneid == SnapId::NOSNAP {
            (snap_set.seq.0.saturating_add(1), SnapId::NOSNAP.0)
        } else {
            match (c.snaps.first(), c.snaps.last()) {
                (Some(a), Some(b)) => (a.0, b.0),
                _ => {
                    return ObjectDiff {
                        whole_object: true,
                        ..ObjectDiff::default()
                    };
                }
            }
        };
        if b < start {
            i += 1;
            continue;
        }
        if !saw_start {
            if start < a {
                // the object did not exist at `start`
                out.diff.insert(0, c.size);
                start_size = 0;
            } else {
                start_size = c.size;
            }
            saw_start = true;
        }
        if end < a {
            break;
        }
        if end <= b {
            out.end_size = c.size;
            out.end_exists = true;
            return out;
        }
        // everything up to the next clone's size differs, except what they share
        let prev_size = c.size;
        let overlap = &c.overlap;
        i += 1;
        if let Some(next) = clones.get(i) {
            let boundary = if next.size >= prev_size {
                next.size
            } else if prev_size <= start_size {
                prev_size
            } else {
                // truncated above the size at start: that part no longer differs
                let b = next.size.max(start_size);
                out.diff.erase(b, prev_size - b);
                b
            };
            let mut to_next = Intervals::new();
            to_next.insert(0, boundary);
            for &(o, l) in overlap {
                to_next.erase(o, l);
            }
            out.diff.union_of(&to_next);
        }
    }
    // the object does not exist at `end`: what existed at start differs
    out.diff = Intervals::new();
    out.diff.insert(0, start_size);
    out.end_size = 0;
    out.end_exists = false;
    out
}

/// Clone lists for unit tests (here and in copy_clone.rs).
#[cfg(test)]
pub(crate) mod test_support {
    use denc::SnapId;
    use rados::CloneInfo;

    /// A clone entry: clone id (`NOSNAP`: the head), the snapshots it serves, the ranges
    /// it shares with the next newer one, its size.
    pub(crate) fn clone(id: u64, snaps: &[u64], overlap: &[(u64, u64)], size: u64) -> CloneInfo {
        CloneInfo {
            cloneid: SnapId(id),
            snaps: snaps.iter().map(|&s| SnapId(s)).collect(),
            overlap: overlap.to_vec(),
            size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::clone;
    use super::*;

    #[test]
    fn intervals() {
        let mut s = Intervals::new();
        s.insert(10, 10);
        s.insert(30, 5);
        s.insert(20, 10);
        assert_eq!(s.ranges(), &[(10, 25)]);
        s.erase(12, 3);
        assert_eq!(s.ranges(), &[(10, 2), (15, 20)]);
        assert_eq!(s.intersect(0, 16), vec![(10, 2), (15, 1)]);
        s.insert(0, 100);
        assert_eq!(s.ranges(), &[(0, 100)]);
    }

    #[test]
    fn head_only() {
        let ss = SnapSet {
            clones: vec![clone(SnapId::NOSNAP.0, &[], &[], 4096)],
            seq: SnapId(0),
        };
        let d = calc_snap_set_diff(&ss, 0, SnapId::NOSNAP.0);
        assert!(d.end_exists);
        assert_eq!(d.diff.ranges(), &[(0, 4096)]);
        // last written under seq 3, snapshot 4 taken after: nothing changed since 4
        let ss = SnapSet {
            seq: SnapId(3),
            ..ss
        };
        let d = calc_snap_set_diff(&ss, 4, SnapId::NOSNAP.0);
        assert!(d.diff.is_empty() && d.end_exists);
    }

    #[test]
    fn clone_then_overwrite() {
        // snapshot 4 kept a 8 KiB clone; the head rewrote 4 KiB..6 KiB and grew to 12 KiB
        let ss = SnapSet {
            clones: vec![
                clone(4, &[4], &[(0, 4096), (6144, 2048)], 8192),
                clone(SnapId::NOSNAP.0, &[], &[], 12288),
            ],
            seq: SnapId(4),
        };
        let d = calc_snap_set_diff(&ss, 4, SnapId::NOSNAP.0);
        assert_eq!(d.diff.ranges(), &[(4096, 2048), (8192, 4096)]);
        // at the snapshot itself, from the beginning: the whole clone
        let d = calc_snap_set_diff(&ss, 0, 4);
        assert_eq!((d.diff.ranges(), d.end_size), (&[(0, 8192)][..], 8192));
    }

    #[test]
    fn removed_since() {
        // only the clone of snapshot 2 is left: the head was removed
        let ss = SnapSet {
            clones: vec![clone(2, &[2], &[], 4096)],
            seq: SnapId(2),
        };
        let d = calc_snap_set_diff(&ss, 2, SnapId::NOSNAP.0);
        assert!(!d.end_exists);
        assert_eq!(d.diff.ranges(), &[(0, 4096)]);
        let d = calc_snap_set_diff(&ss, 0, SnapId::NOSNAP.0);
        assert!(!d.end_exists && d.diff.is_empty());
    }
}
