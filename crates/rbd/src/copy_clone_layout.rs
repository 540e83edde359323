//! Deep copies of clones into another object size or striping than the source's
//! (src/librbd/deep_copy/ObjectCopyRequest.cc, which works this way for any pair of
//! layouts): each object of the copy is planned from the image range it holds, through
//! the source objects behind that range and their clone lists. A copy object none of
//! whose source objects exist stays absent (the parent shows through it, as in the
//! source); one written for the first time is filled from the source image as it reads
//! at the stage's snapshot, so where one of its source objects is absent the parent's
//! data is copied in (ObjectCopyRequest's read of "DNE" extents from the parent: the
//! copy's object hides the parent there, the bytes stay the same); later stages rewrite
//! only what changed, and remove a copy object only when all of it is gone from the
//! source (parts holding the parent's data keep it alive, the rest zeroed or cut).

use std::collections::BTreeMap;

use bytes::Bytes;
use rados::{Errno, IoCtx, SnapSet};

use crate::copy::{nonzero_runs, run_bounded};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::snap_set_diff::{Intervals, calc_snap_set_diff};
use crate::striper::Layout;

/// Granularity of the zero runs left as holes (written fresh) or zeroed (rewritten).
const HOLE_CHUNK: usize = 4096;

/// A source object from one stage to the next, in its own byte offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SourceState {
    start_exists: bool,
    end_exists: bool,
    /// What changed (`None`: all of it).
    changed: Option<Intervals>,
}

/// The state of a source object from its clone list (`None`: it never existed), from
/// snapshot `from` (0: the beginning) to `end`.
pub(crate) fn source_state(ss: Option<&SnapSet>, from: u64, end: u64) -> SourceState {
    let Some(ss) = ss else {
        return SourceState::default();
    };
    let d = calc_snap_set_diff(ss, from, end);
    let start = (from != 0).then(|| calc_snap_set_diff(ss, 0, from));
    let start_exists = start.as_ref().is_some_and(|s| s.end_exists);
    let start_size = start.map_or(0, |s| s.end_size);
    // (a clone list that cannot tell: take it as rewritten; the reads say what is there)
    let end_exists = d.end_exists || d.whole_object;
    let changed = if d.whole_object || start_exists != end_exists {
        None
    } else {
        let mut c = d.diff;
        if d.end_size < start_size {
            c.insert(d.end_size, start_size - d.end_size);
        }
        Some(c)
    };
    SourceState {
        start_exists,
        end_exists,
        changed,
    }
}

/// What one object of the copy needs at a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MappedPlan {
    /// Nothing changed.
    Keep,
    /// None of its source objects exists any more: remove it.
    Remove,
    /// Write `ranges` (object offsets) from the source image; `fresh`: the object is
    /// new (created empty first, holes left as holes).
    Write { fresh: bool, ranges: Intervals },
}

/// The two layouts and the image sizes of a stage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageGeometry {
    pub(crate) src: Layout,
    pub(crate) dst: Layout,
    /// The copy's size before the stage.
    pub(crate) old_size: u64,
    /// The size at the stage.
    pub(crate) size: u64,
    /// The parent overlap at the stage.
    pub(crate) overlap: u64,
}

impl StageGeometry {
    /// The source objects behind copy object `object_no`.
    fn sources(&self, object_no: u64) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .dst
            .object_to_file(object_no, 0, self.dst.object_size)
            .into_iter()
            .flat_map(|(img, n)| self.src.file_to_extents(img, n))
            .map(|e| e.object_no)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The plan of copy object `object_no` given its source objects' states.
    pub(crate) fn plan(&self, object_no: u64, states: &BTreeMap<u64, SourceState>) -> MappedPlan {
        let none = SourceState::default();
        let pieces = self.dst.object_to_file(object_no, 0, self.dst.object_size);
        let (mut any_start, mut any_end) = (false, false);
        // a piece whose source object never existed, inside the image: an existing copy
        // object holds the parent's data there (copied in when it was written first)
        let mut kept_parent = false;
        let mut ranges = Intervals::new();
        let mut obj_off = 0;
        for &(img, n) in &pieces {
            for e in self.src.file_to_extents(img, n) {
                let st = states.get(&e.object_no).unwrap_or(&none);
                any_start |= st.start_exists;
                any_end |= st.end_exists;
                let mut cur = e.offset;
                for (b, len) in e.buffer_extents {
                    if !st.start_exists && !st.end_exists && img + b < self.size {
                        kept_parent = true;
                    }
                    let changed = match &st.changed {
                        None if st.start_exists || st.end_exists => vec![(cur, len)],
                        None => Vec::new(),
                        Some(c) => c.intersect(cur, len),
                    };
                    for (o, l) in changed {
                        ranges.insert(obj_off + b + (o - cur), l);
                    }
                    cur += len;
                }
            }
            // a shrink: what was inside the image and is past its end now reads zeros
            let (lo, hi) = (img.max(self.size), (img + n).min(self.old_size));
            if lo < hi {
                ranges.insert(obj_off + (lo - img), hi - lo);
            }
            obj_off += n;
        }
        // wholly past the end: the source's objects there are gone or cut
        let past_end = pieces.first().is_none_or(|p| p.0 >= self.size);
        if past_end || (!any_end && !any_start) {
            return if any_start {
                MappedPlan::Remove
            } else {
                MappedPlan::Keep
            };
        }
        if !any_end && !kept_parent {
            // ObjectCopyRequest removes an object only when all of it is zeroed
            return MappedPlan::Remove;
        }
        if !any_start {
            let mut whole = Intervals::new();
            whole.insert(0, self.dst.object_size);
            return MappedPlan::Write {
                fresh: true,
                ranges: whole,
            };
        }
        if ranges.is_empty() {
            MappedPlan::Keep
        } else {
            MappedPlan::Write {
                fresh: false,
                ranges,
            }
        }
    }
}

impl Image {
    /// The plans of copy objects `batch` (the source objects' clone lists asked for
    /// concurrently), Keep left out.
    pub(crate) async fn plan_mapped_batch(
        &self,
        src: &Image,
        geo: StageGeometry,
        batch: std::ops::Range<u64>,
        from: u64,
        end: u64,
    ) -> Result<Vec<(u64, MappedPlan)>> {
        let mut wanted: Vec<u64> = batch.clone().flat_map(|o| geo.sources(o)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let n = wanted.len() as u64;
        let jobs = wanted.into_iter().map(|object_no| {
            let io = src.data_io.clone();
            let oid = src.object_name(object_no);
            async move {
                match io.list_snaps(&oid).await {
                    Ok(ss) => Ok((object_no, source_state(Some(&ss), from, end))),
                    Err(e) if e.is(Errno::ENOENT) => Ok((object_no, SourceState::default())),
                    Err(e) => Err(Error::from(e)),
                }
            }
        });
        let states: BTreeMap<u64, SourceState> = run_bounded(jobs, n, &mut |_, _| {})
            .await?
            .into_iter()
            .collect();
        Ok(batch
            .map(|o| (o, geo.plan(o, &states)))
            .filter(|(_, p)| *p != MappedPlan::Keep)
            .collect())
    }
}

/// The source image's bytes `off..off + len` at the stage (zeros past its end `size`).
async fn read_padded(src: &Image, off: u64, len: u64, size: u64) -> Result<Vec<u8>> {
    let n = usize::try_from(len).map_err(|_| Error::InvalidArgument("extent too large"))?;
    let mut out = vec![0u8; n];
    let readable = size.saturating_sub(off).min(len);
    if readable > 0 {
        let data = src.read(off, readable).await?;
        if let Some(dst) = out.get_mut(..data.len()) {
            dst.copy_from_slice(&data);
        }
    }
    Ok(out)
}

/// ObjectCopyRequest for one copy object of another layout: `plan` applied to
/// `dst_oid` (copy object `object_no`), the bytes read from `src` (at the stage).
/// Returns whether the object exists after: a new one that would hold only zeros is
/// not created unless it has to hide the parent (part of it inside the overlap), as
/// ObjectCopyRequest zeroes nothing in an object that does not exist.
pub(crate) async fn apply_mapped(
    src: &Image,
    dst_io: &IoCtx,
    dst_oid: String,
    object_no: u64,
    plan: MappedPlan,
    geo: StageGeometry,
) -> Result<bool> {
    let (fresh, ranges) = match plan {
        MappedPlan::Keep => return Ok(true),
        MappedPlan::Remove => {
            return match dst_io.remove(&dst_oid).await {
                Err(e) if !e.is(Errno::ENOENT) => Err(e.into()),
                _ => Ok(false),
            };
        }
        MappedPlan::Write { fresh, ranges } => (fresh, ranges),
    };
    let hides_parent = geo
        .dst
        .object_to_file(object_no, 0, geo.dst.object_size)
        .first()
        .is_some_and(|&(img, _)| img < geo.overlap);
    let mut wrote = false;
    let obj_size = geo.dst.object_size;
    let mut op = dst_io.op(dst_oid);
    if fresh {
        op = op
            .create(false)
            .set_alloc_hint(obj_size, obj_size, 0)
            .truncate(0);
    }
    for &(o, l) in ranges.ranges() {
        let mut data = Vec::new();
        for (img, n) in geo.dst.object_to_file(object_no, o, l) {
            data.extend(read_padded(src, img, n, geo.size).await?);
        }
        let data = Bytes::from(data);
        let mut at = 0usize;
        for (start, len) in nonzero_runs(&data, HOLE_CHUNK) {
            if start > at && !fresh {
                op = op.zero(o + at as u64, (start - at) as u64);
            }
            op = op.write(o + start as u64, data.slice(start..start + len));
            wrote = true;
            at = start + len;
        }
        if at < data.len() && !fresh {
            let (from, len) = (o + at as u64, (data.len() - at) as u64);
            // ObjectCopyRequest: a zeroed extent reaching the object's end truncates it
            op = if from + len >= obj_size {
                op.truncate(from)
            } else {
                op.zero(from, len)
            };
        }
    }
    if fresh && !wrote && !hides_parent {
        return Ok(false);
    }
    op.submit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exists(changed: Option<&[(u64, u64)]>) -> SourceState {
        SourceState {
            start_exists: true,
            end_exists: true,
            changed: changed.map(|c| {
                let mut i = Intervals::new();
                for &(o, l) in c {
                    i.insert(o, l);
                }
                i
            }),
        }
    }

    #[test]
    fn plans_map_source_changes_into_the_copy() {
        // source: 1 MiB objects; copy: 4 MiB objects striped 64 KiB over 2
        let geo = StageGeometry {
            src: Layout::simple(20),
            dst: Layout::new(4 << 20, 64 << 10, 2).unwrap(),
            old_size: 16 << 20,
            size: 16 << 20,
            overlap: 0,
        };
        // copy object 1 holds the odd 64 KiB units of the first 8 MiB
        assert_eq!(geo.sources(1), (0..8).collect::<Vec<_>>());
        let mut states = BTreeMap::new();
        assert_eq!(geo.plan(1, &states), MappedPlan::Keep);
        // a new source object: the copy object is written fresh, whole
        states.insert(
            2,
            SourceState {
                end_exists: true,
                ..SourceState::default()
            },
        );
        assert!(matches!(
            geo.plan(1, &states),
            MappedPlan::Write { fresh: true, .. }
        ));
        // source object 0 changed at 64 KiB..64 KiB + 10: copy object 1 offset 0..10
        states.clear();
        states.insert(0, exists(Some(&[(64 << 10, 10)])));
        states.insert(1, exists(Some(&[])));
        match geo.plan(1, &states) {
            MappedPlan::Write { fresh, ranges } => {
                assert!(!fresh);
                assert_eq!(ranges.ranges(), &[(0, 10)]);
            }
            p => panic!("{p:?}"),
        }
        // all gone from the source: removed from the copy
        let gone = SourceState {
            start_exists: true,
            ..SourceState::default()
        };
        for o in 0..8 {
            states.insert(o, gone.clone());
        }
        assert_eq!(geo.plan(1, &states), MappedPlan::Remove);
        // some parts never existed in the source (the copy holds the parent's data
        // there): kept, the rest zeroed
        states.remove(&1);
        match geo.plan(1, &states) {
            MappedPlan::Write { fresh, ranges } => {
                assert!(!fresh);
                // source object 1 (image 1..2 MiB) is copy object 1's units 8..15
                assert_eq!(ranges.intersect(8 * (64 << 10), 8 * (64 << 10)), vec![]);
                assert_eq!(ranges.ranges().first(), Some(&(0, 8 * (64 << 10))));
            }
            p => panic!("{p:?}"),
        }
        // a shrink to 1 MiB + 64 KiB zeroes the rest of copy object 0 (its units past
        // the end)
        let shrunk = StageGeometry {
            size: (1 << 20) + (64 << 10),
            ..geo
        };
        states.clear();
        states.insert(0, exists(Some(&[])));
        states.insert(1, exists(Some(&[])));
        match shrunk.plan(0, &states) {
            MappedPlan::Write { fresh, ranges } => {
                assert!(!fresh);
                // copy object 0 holds units 0, 2, 4..: 1 MiB + 64 KiB is unit 17, the
                // 9th of object 1; object 0's 9th unit (unit 18) onwards is past the end
                assert_eq!(
                    ranges.ranges(),
                    &[(9 * (64 << 10), (4 << 20) - 9 * (64 << 10))]
                );
            }
            p => panic!("{p:?}"),
        }
    }
}
