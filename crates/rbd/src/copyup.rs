//! Writes to clones (librbd/io/ObjectRequest.cc AbstractObjectWriteRequest,
//! io/CopyupRequest.cc): an object of a clone whose range the parent backs is first
//! filled with the parent's bytes ("copyup"), so the write does not hide the rest of the
//! parent's data. The copyup and the write go in one OSD op (cls `sparse_copyup` does
//! nothing when the object exists); when the child has snapshots and the parent's bytes
//! are not all zero, the copyup goes first on its own with an empty snap context so the
//! snapshots see the parent's data too ("deep copyup"), and the snapshots' object maps
//! say the object exists.

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::SnapId;
use rados::{Errno, IoCtx, WriteOp};
use tracing::trace;

use crate::cls::{self, parent as p};
use crate::error::{Error, Result};
use crate::names;
use crate::object_map::{self as om, state};
use crate::parent::{ParentLink, object_to_image};
use crate::striper::Layout;

/// What a write does to one object of a clone.
#[derive(Debug, Clone)]
pub(crate) enum ObjectOp {
    /// Write bytes at an object offset.
    Write(u64, Bytes),
    /// Truncate at an object offset.
    Truncate(u64),
    /// Zero a range.
    Zero(u64, u64),
    /// A discard of the whole object: it must still exist, empty, so that reads do not
    /// fall through to the parent (librbd's DISCARD_ACTION_REMOVE_TRUNCATE).
    Hide,
    /// Nothing but the copyup (flatten).
    CopyupOnly,
    /// Remove the object after the copyup, so the child's snapshots keep the parent's
    /// data (a shrink's TrimRequest "removing (with copyup)").
    Remove,
}

/// What a clone's object writes need: its data objects, layout, snapshots, parent.
#[derive(Debug, Clone)]
pub(crate) struct CloneWriter {
    pub(crate) data_io: IoCtx,
    pub(crate) prefix: String,
    pub(crate) layout: Layout,
    pub(crate) link: ParentLink,
    /// The image's snapshots, newest first.
    pub(crate) snaps: Vec<SnapId>,
    /// Header pool, image id and fast-diff, when snapshot object maps are to be kept.
    pub(crate) snap_maps: Option<(IoCtx, String, bool)>,
}

impl CloneWriter {
    /// The parent-backed image ranges of object `object_no` (empty: none).
    pub(crate) fn parent_ranges(&self, object_no: u64) -> Vec<(u64, u64)> {
        let r = object_to_image(&self.layout, object_no, 0, self.layout.object_size);
        if self.link.covers(&r) { r } else { Vec::new() }
    }

    /// Whether the parent backs part of object `object_no`.
    pub(crate) fn covers(&self, object_no: u64) -> bool {
        !self.parent_ranges(object_no).is_empty()
    }

    /// Runs `op` on object `object_no` (which the parent backs), copying the parent's
    /// data up first when the object does not exist yet. `may_exist` false (from a valid
    /// object map) skips the guarded attempt. Returns whether a copyup wrote the object.
    pub(crate) async fn run(&self, object_no: u64, op: ObjectOp, may_exist: bool) -> Result<bool> {
        let oid = names::data_object(&self.prefix, object_no);
        let full = match &op {
            ObjectOp::Write(0, d) => d.len() as u64 == self.layout.object_size,
            ObjectOp::Hide | ObjectOp::Remove => true,
            _ => false,
        };
        // compute_parent_info: a whole-object write with no snapshots to preserve
        // replaces everything the parent had
        if full && self.snaps.is_empty() {
            submit(add_op(self.data_io.op(&oid), &op, &self.layout)).await?;
            return Ok(false);
        }
        if may_exist && matches!(op, ObjectOp::CopyupOnly) {
            // io::util::trigger_copyup: only objects the child does not have yet
            match self.data_io.stat(&oid).await {
                Ok(_) => return Ok(false),
                Err(e) if e.is(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        } else if may_exist {
            let guarded = add_op(self.data_io.op(&oid).assert_exists(), &op, &self.layout);
            match guarded.submit().await {
                Ok(_) => return Ok(false),
                Err(e) if e.is(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.copyup(object_no, &oid, op).await
    }

    async fn copyup(&self, object_no: u64, oid: &str, op: ObjectOp) -> Result<bool> {
        let ranges = self.parent_ranges(object_no);
        let (extents, payload) = self.link.read_for_copyup(&ranges).await?;
        // CopyupRequest: the parent read's extent map, dropped when all zeros (holes
        // are zeros: only the extents' bytes need a look)
        let zero = payload.iter().all(|&b| b == 0);
        let (extents, payload) = if zero {
            (BTreeMap::new(), Bytes::new())
        } else {
            (extents, payload)
        };
        if zero && matches!(op, ObjectOp::CopyupOnly | ObjectOp::Remove) {
            // flatten of an object the parent has no data for, or removal of one the
            // child does not have: nothing to copy, nothing to remove
            return Ok(false);
        }
        // the encoded extent map and length, then the payload from its own buffer
        let copyup = p::sparse_copyup_head(&extents, payload.len())?;
        let payload = [payload];
        let deep = !self.snaps.is_empty() && !zero;
        trace!(object_no, bytes = payload[0].len(), deep, "copyup");
        if deep {
            self.update_snapshot_maps(object_no).await?;
            // the copyup alone, at the object's first revision, so every snapshot of the
            // child sees the parent's data
            let mut io = self.data_io.clone();
            io.set_write_snap_context(SnapId(0), Vec::new())?;
            io.op(oid)
                .exec_chunks(cls::CLASS, copyup.name, &copyup.input, &payload)
                .submit()
                .await?;
            if !matches!(op, ObjectOp::CopyupOnly) {
                submit(add_op(self.data_io.op(oid), &op, &self.layout)).await?;
            }
            return Ok(true);
        }
        let w = self
            .data_io
            .op(oid)
            .exec_chunks(cls::CLASS, copyup.name, &copyup.input, &payload);
        submit(add_op(w, &op, &self.layout)).await?;
        Ok(true)
    }

    /// CopyupRequest::update_object_maps for snapshots: the oldest snapshot holds the
    /// copied data (EXISTS), later ones inherit it (EXISTS_CLEAN with fast-diff).
    async fn update_snapshot_maps(&self, object_no: u64) -> Result<()> {
        let Some((io, image_id, fast_diff)) = &self.snap_maps else {
            return Ok(());
        };
        for (i, snap) in self.snaps.iter().rev().enumerate() {
            let new = if *fast_diff && i > 0 {
                state::EXISTS_CLEAN
            } else {
                state::EXISTS
            };
            let oid = snapshot_map_object(image_id, snap.0);
            match om::update(object_no, object_no + 1, new, None)?
                .call(io, &oid)
                .await
            {
                Ok(_) => {}
                // a snapshot without a map (or already removed): nothing to keep
                Err(e) if e.is_enoent() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `rbd_object_map.<id>.<snap id as 16 hex digits>` (ObjectMap::object_map_name).
pub(crate) fn snapshot_map_object(image_id: &str, snap: u64) -> String {
    format!("{}.{snap:016x}", names::object_map_object(image_id))
}

fn add_op(w: WriteOp, op: &ObjectOp, layout: &Layout) -> WriteOp {
    match op {
        ObjectOp::Write(off, data) => w
            .set_alloc_hint(layout.object_size, layout.object_size, 0)
            .write(*off, data.clone()),
        ObjectOp::Truncate(at) => w.truncate(*at),
        ObjectOp::Zero(off, len) => w.zero(*off, *len),
        ObjectOp::Hide => w.create(false).truncate(0),
        ObjectOp::CopyupOnly => w,
        ObjectOp::Remove => w.remove(),
    }
}

async fn submit(w: WriteOp) -> Result<()> {
    w.submit().await.map(|_| ()).map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_map_names() {
        assert_eq!(
            snapshot_map_object("ab", 10),
            "rbd_object_map.ab.000000000000000a"
        );
    }
}
