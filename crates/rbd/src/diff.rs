//! Which parts of an image changed between two snapshots (`rbd_diff_iterate2`), as
//! src/librbd/api/DiffIterate.cc (Pacific) finds them: through the per-snapshot object
//! maps when whole objects are asked for and fast-diff is on and valid, otherwise object
//! by object through the OSDs' clone lists (`list_snaps`).
//!
//! Extents are reported in librbd's order (one stripe period at a time, objects ascending
//! within it) and with its offsets: whole-object extents are reported at the period's
//! start plus the extent's offset in its object, as librbd does.

use std::sync::Arc;

use rados::Errno;
use tokio::task::JoinSet;
use tracing::debug;

use crate::cls::rbd as m;
use crate::error::{Error, Result};
use crate::features::{self, flags};
use crate::image::Image;
use crate::names;
use crate::object_map::{self as om, state};
use crate::snap_set_diff::{Intervals, calc_snap_set_diff};
use crate::snapshot::snap_object_map_object;
use crate::striper::ObjectExtent;

/// Objects whose clone lists are asked for at once.
const MAX_IN_FLIGHT: usize = 32;

/// One changed extent: `exists` false when it reads as zeros now (discarded, removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffExtent {
    /// Image offset.
    pub offset: u64,
    /// Length.
    pub length: u64,
    /// Whether data exists there at the end snapshot.
    pub exists: bool,
}

/// Per-object verdict of the object map comparison (`ObjectDiffState`).
mod diff_state {
    pub const NONE: u8 = 0;
    pub const UPDATED: u8 = 1;
    pub const HOLE: u8 = 2;
}

impl Image {
    /// The extents of `off..off + len` that changed since user snapshot `from_snap` (or
    /// since the image was created) up to what this handle reads (its snapshot, or the
    /// head), in librbd's order (`rbd_diff_iterate2`). `whole_object` reports whole
    /// objects (fast, through the object maps, when fast-diff is on and valid).
    /// `include_parent` on a clone diffed from its creation (what `rbd diff` and `rbd
    /// export-diff` ask) also reports the parent's data, within the overlap, where the
    /// clone's objects hold none.
    pub async fn diff_iterate<F>(
        &self,
        from_snap: Option<&str>,
        off: u64,
        len: u64,
        include_parent: bool,
        whole_object: bool,
        mut callback: F,
    ) -> Result<()>
    where
        F: FnMut(DiffExtent) -> Result<()>,
    {
        self.check_readable()?;
        let mut len = len;
        // internal.cc clip_io
        if len != 0 {
            if off >= self.info.size {
                return Err(Error::PastEnd {
                    offset: off,
                    size: self.info.size,
                });
            }
            len = len.min(self.info.size - off);
        }
        let from_id = match from_snap {
            Some(name) => self.snap_id(name).await?,
            None => 0,
        };
        let end_id = self.snap_id.unwrap_or(m::NOSNAP);
        if from_id == end_id {
            return Ok(());
        }
        if from_id > end_id {
            return Err(Error::InvalidArgument(
                "the start snapshot is newer than the end",
            ));
        }
        let fast = if whole_object && self.info.features & features::FAST_DIFF != 0 {
            match self.diff_object_map(from_id, end_id).await {
                Ok(states) => Some(states),
                Err(e) => {
                    debug!(error = %e, "fast diff disabled");
                    None
                }
            }
        } else {
            None
        };
        // DiffIterate: from the beginning, the parent's data (within the overlap) shows
        // where the child has no object
        let parent_data = match (&self.parent, include_parent && from_id == 0) {
            (Some(link), true) if link.overlap > off && len > 0 => {
                let mut d = crate::parent_diff::parent_data(link, whole_object).await?;
                d.erase(0, off);
                d.erase(off + len, u64::MAX - (off + len));
                Some(Arc::new(d))
            }
            _ => None,
        };
        let layout = self.info.layout();
        let period = layout.period();
        let (mut at, mut left) = (off, len);
        // (period's start, object extent) waiting for their clone lists
        let mut pending: Vec<(u64, ObjectExtent)> = Vec::new();
        while left > 0 {
            let read_len = (at - at % period + period - at).min(left);
            let extents = layout.file_to_extents(at, read_len);
            match &fast {
                Some(states) => {
                    let mut found = Vec::new();
                    for ex in extents {
                        let s = states
                            .get(usize::try_from(ex.object_no).unwrap_or(usize::MAX))
                            .copied()
                            .unwrap_or(diff_state::NONE);
                        if s != diff_state::NONE {
                            push_pieces(&mut found, at, &ex, s == diff_state::UPDATED);
                        } else if let Some(p) = &parent_data {
                            // (from the beginning, NONE: no object at the end)
                            push_parent(&mut found, p, at, &ex);
                        }
                    }
                    merged(found).into_iter().try_for_each(&mut callback)?;
                }
                None => pending.extend(extents.into_iter().map(|ex| (at, ex))),
            }
            left -= read_len;
            at += read_len;
            if pending.len() >= 4 * MAX_IN_FLIGHT || (left == 0 && !pending.is_empty()) {
                let batch = std::mem::take(&mut pending);
                let bases: Vec<u64> = batch.iter().map(|(b, _)| *b).collect();
                let results = self
                    .diff_objects(batch, from_id, end_id, whole_object, parent_data.clone())
                    .await?;
                // one period at a time, sorted and merged (io::SparseExtents)
                let mut i = 0;
                while i < results.len() {
                    let base = bases.get(i).copied().unwrap_or(0);
                    let mut found = Vec::new();
                    while i < results.len() && bases.get(i) == Some(&base) {
                        if let Some(r) = results.get(i) {
                            found.extend_from_slice(r);
                        }
                        i += 1;
                    }
                    merged(found).into_iter().try_for_each(&mut callback)?;
                }
            }
        }
        Ok(())
    }

    /// [`Image::diff_iterate`] collected.
    pub async fn diff(
        &self,
        from_snap: Option<&str>,
        off: u64,
        len: u64,
        include_parent: bool,
        whole_object: bool,
    ) -> Result<Vec<DiffExtent>> {
        let mut out = Vec::new();
        self.diff_iterate(from_snap, off, len, include_parent, whole_object, |e| {
            out.push(e);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// The clone lists of a batch of objects, `MAX_IN_FLIGHT` at a time, turned into
    /// extents in the batch's order (C_DiffObject).
    async fn diff_objects(
        &self,
        batch: Vec<(u64, ObjectExtent)>,
        from_id: u64,
        end_id: u64,
        whole_object: bool,
        parent_data: Option<Arc<Intervals>>,
    ) -> Result<Vec<Vec<DiffExtent>>> {
        let mut results: Vec<Option<Vec<DiffExtent>>> = vec![None; batch.len()];
        let mut set = JoinSet::new();
        for (i, (at, ex)) in batch.into_iter().enumerate() {
            if set.len() >= MAX_IN_FLIGHT {
                store(&mut results, set.join_next().await)?;
            }
            let io = self.data_io.clone();
            let oid = names::data_object(&self.info.block_name_prefix, ex.object_no);
            let parent_data = parent_data.clone();
            let object_size = self.info.obj_size;
            set.spawn(async move {
                let r = match io.list_snaps(&oid).await {
                    Ok(ss) => {
                        object_diffs(&ss, (from_id, end_id), whole_object, object_size, at, &ex)
                    }
                    // no object at any snapshot: nothing changed (a clone reports its
                    // parent's data here)
                    Err(e) if e.is(Errno::ENOENT) => None,
                    Err(e) => return (i, Err(Error::from(e))),
                };
                let r = match (r, parent_data) {
                    (Some(found), _) => found,
                    (None, Some(p)) => {
                        let mut found = Vec::new();
                        push_parent(&mut found, &p, at, &ex);
                        found
                    }
                    (None, None) => Vec::new(),
                };
                (i, Ok(r))
            });
        }
        while !set.is_empty() {
            store(&mut results, set.join_next().await)?;
        }
        Ok(results.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Compares the object maps from `from_id` to `end_id`, snapshot by snapshot
    /// (DiffIterate::diff_object_map): per object NONE, UPDATED or HOLE.
    async fn diff_object_map(&self, from_id: u64, end_id: u64) -> Result<Vec<u8>> {
        let snaps = self.snap_list().await?;
        let from_start = from_id == 0;
        let from_id = if from_start {
            snaps.first().map_or(m::NOSNAP, |s| s.id)
        } else {
            from_id
        };
        // Pacific checks the first map's flags only
        let f = m::decode_u64(
            "get_flags",
            &m::get_flags(from_id)?
                .call(&self.io, &self.header_object())
                .await?,
        )?;
        if f & flags::FAST_DIFF_INVALID != 0 {
            return Err(Error::InvalidArgument("fast diff is invalid"));
        }
        let layout = self.info.layout();
        let head_size = if self.snap_id.is_none() {
            self.info.size
        } else {
            // the loop ends at the open snapshot; the head's size is not needed
            0
        };
        let mut states: Vec<u8> = Vec::new();
        let mut prev: Option<Vec<u8>> = None;
        let mut current = from_id;
        loop {
            let mut next = end_id;
            let size = if current == m::NOSNAP {
                head_size
            } else {
                let pos = snaps
                    .iter()
                    .position(|s| s.id == current)
                    .ok_or_else(|| Error::SnapshotNotFound(format!("with id {current}")))?;
                next = snaps.get(pos + 1).map_or(m::NOSNAP, |s| s.id);
                snaps.get(pos).map_or(0, |s| s.size)
            };
            let b = om::load()?
                .call(&self.io, &snap_object_map_object(&self.info.id, current))
                .await?;
            let map = om::decode_load(&b)?;
            let n = layout.num_objects(size);
            if map.len() < n {
                return Err(Error::InvalidArgument("object map too small"));
            }
            let cur: Vec<u8> = (0..n).map(|o| map.get(o)).collect();
            states.resize(cur.len(), diff_state::NONE);
            let empty = Vec::new();
            let p = prev.as_ref().unwrap_or(&empty);
            for (i, (&now, d)) in cur.iter().zip(states.iter_mut()).enumerate() {
                let Some(&before) = p.get(i) else {
                    // grown since: counted only from the start or after a first map
                    if from_start || prev.is_some() {
                        *d = if now == state::NONEXISTENT {
                            diff_state::NONE
                        } else {
                            diff_state::UPDATED
                        };
                    }
                    continue;
                };
                if now == state::NONEXISTENT {
                    if before != state::NONEXISTENT {
                        *d = diff_state::HOLE;
                    }
                } else if now == state::EXISTS
                    || (before != now && !(before == state::EXISTS && now == state::EXISTS_CLEAN))
                {
                    *d = diff_state::UPDATED;
                }
            }
            if current == next || next > end_id {
                break;
            }
            current = next;
            prev = Some(cur);
        }
        if from_start {
            // nothing existed at the beginning: an object missing at the end did not change
            for s in &mut states {
                if *s == diff_state::HOLE {
                    *s = diff_state::NONE;
                }
            }
        }
        Ok(states)
    }
}

type Joined = Option<std::result::Result<(usize, Result<Vec<DiffExtent>>), tokio::task::JoinError>>;

fn store(results: &mut [Option<Vec<DiffExtent>>], joined: Joined) -> Result<()> {
    match joined {
        None => Ok(()),
        Some(Ok((i, r))) => {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r?);
            }
            Ok(())
        }
        Some(Err(_)) => Err(Error::Rados(rados::Error::Shutdown)),
    }
}

/// One object's changed extents from its clone list, as librbd's
/// io/ObjectRequest.cc `ObjectListSnapsRequest::handle_list_snaps` finds them for the
/// snapshot pair (`from_id`, `end_id`) and DiffIterate's `compute_diffs` reports them, in
/// image offsets; `at` is the image offset the object extent's buffer starts at.
/// Ranges past the object's size at the end that it had at `from_id` read as zeros
/// (truncated: `exists` false); with `whole_object`, any change is the whole object.
/// `None`: no extent at all (a clone's parent shows, from the beginning).
pub(crate) fn object_diffs(
    ss: &rados::SnapSet,
    (from_id, end_id): (u64, u64),
    whole_object: bool,
    object_size: u64,
    at: u64,
    q: &ObjectExtent,
) -> Option<Vec<DiffExtent>> {
    let d = calc_snap_set_diff(ss, from_id, end_id);
    // the size at the start snapshot (the pass over the prior snapshot)
    let prev_end_size = if from_id == 0 {
        0
    } else {
        calc_snap_set_diff(ss, 0, from_id).end_size
    };
    let whole = || {
        let mut all = Intervals::new();
        all.insert(0, object_size);
        all
    };
    let (mut data, exists, end_size) = if d.whole_object {
        (whole(), true, object_size)
    } else if whole_object && !d.diff.is_empty() {
        (whole(), d.end_exists, d.end_size)
    } else {
        (d.diff, d.end_exists, d.end_size)
    };
    let mut zeroed = Intervals::new();
    if end_size < prev_end_size && !whole_object {
        // truncated since the start: zeros, not data
        zeroed.insert(end_size, prev_end_size - end_size);
        data.erase(end_size, prev_end_size - end_size);
    }
    if !exists {
        zeroed.union_of(&data);
        data = Intervals::new();
    }
    let mut out = Vec::new();
    for (ranges, exists) in [(&data, true), (&zeroed, false)] {
        let mut opos = q.offset;
        for &(b_off, b_len) in &q.buffer_extents {
            for (s, l) in ranges.intersect(opos, b_len) {
                out.push(DiffExtent {
                    offset: at + b_off + (s - opos),
                    length: l,
                    exists,
                });
            }
            opos += b_len;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The parent's data within an object extent's image ranges, as data.
fn push_parent(out: &mut Vec<DiffExtent>, parent: &Intervals, at: u64, q: &ObjectExtent) {
    for &(b_off, b_len) in &q.buffer_extents {
        for (offset, length) in parent.intersect(at + b_off, b_len) {
            out.push(DiffExtent {
                offset,
                length,
                exists: true,
            });
        }
    }
}

/// The image ranges of an object extent.
fn push_pieces(out: &mut Vec<DiffExtent>, at: u64, q: &ObjectExtent, exists: bool) {
    for &(b_off, b_len) in &q.buffer_extents {
        out.push(DiffExtent {
            offset: at + b_off,
            length: b_len,
            exists,
        });
    }
}

/// Sorted, with touching extents of the same kind joined.
fn merged(mut v: Vec<DiffExtent>) -> Vec<DiffExtent> {
    v.sort_by_key(|e| e.offset);
    let mut out: Vec<DiffExtent> = Vec::with_capacity(v.len());
    for e in v {
        match out.last_mut() {
            Some(l) if l.exists == e.exists && l.offset + l.length == e.offset => {
                l.length += e.length
            }
            _ => out.push(e),
        }
    }
    out
}
