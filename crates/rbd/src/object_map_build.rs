//! Creating, rebuilding, checking and removing object maps from what the OSDs hold
//! (librbd/object_map/CreateRequest.cc, RemoveRequest.cc,
//! operation/RebuildObjectMapRequest.cc, ObjectMapIterate.cc): every data object's
//! clone list (`list_snaps`) says in which snapshots, and at the head, it exists.
//!
//! Unlike librbd, which rebuilds one map per call, [`Image::rebuild_object_maps`] fills
//! the head's and every snapshot's map from one `list_snaps` per object.

use std::collections::BTreeSet;

use rados::{Errno, IoCtx, SnapSet};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::cls::rbd as m;
use crate::error::{Error, Result};
use crate::exclusive_lock::{ExclusiveAccess, Held};
use crate::features::{self, flags};
use crate::image::Image;
use crate::names;
use crate::object_map::{self as om, BitVector2, state};
use crate::snapshot::snap_object_map_object;

/// Clone lists asked for at once (`rbd_concurrent_management_ops` is 10 in librbd).
const LIST_IN_FLIGHT: usize = 16;

/// The state an object should have in the map of `snap` (`m::NOSNAP`: the head),
/// from its clone list (ObjectMapIterate.cc `get_object_state`): EXISTS where the
/// object was written in the interval ending at `snap`, EXISTS_CLEAN (fast-diff only)
/// where the data is an older snapshot's, NONEXISTENT where no clone covers `snap`.
/// `snaps`: the image's snapshot ids.
pub fn object_state(ss: &SnapSet, snap: u64, snaps: &BTreeSet<u64>, fast_diff: bool) -> u8 {
    // the first image snapshot at or after `id` (the head when none)
    let next_valid = |id: u64| snaps.range(id..).next().copied().unwrap_or(m::NOSNAP);
    for clone in &ss.clones {
        let (from, to) = if clone.cloneid.0 == m::NOSNAP {
            (next_valid(ss.seq.0.saturating_add(1)), m::NOSNAP)
        } else {
            match (clone.snaps.first(), clone.snaps.last()) {
                (Some(first), Some(last)) => (next_valid(first.0), last.0),
                _ => continue,
            }
        };
        if to < snap {
            continue;
        }
        if snap < from {
            break;
        }
        return if fast_diff && from != snap {
            state::EXISTS_CLEAN
        } else {
            state::EXISTS
        };
    }
    state::NONEXISTENT
}

/// Whether a map entry `current` differs from the computed `expected` in a way
/// `rbd object-map check` treats as an error (Operations.cc `needs_invalidate`): a map
/// may say an object exists that does not, never the other way round.
pub fn check_mismatch(current: u8, expected: u8) -> bool {
    if current == expected {
        return false;
    }
    let may_exist = matches!(current, state::EXISTS | state::EXISTS_CLEAN);
    !(may_exist && matches!(expected, state::NONEXISTENT | state::PENDING))
}

/// One map to fill: the head's or a snapshot's, with its object count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapTarget {
    /// `m::NOSNAP` for the head.
    pub(crate) snap: u64,
    /// Objects the image (at that snapshot) spans.
    pub(crate) num_objs: u64,
}

/// What [`Image::check_object_map`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMapCheck {
    /// Objects checked.
    pub objects: u64,
    /// `(object number, state in the map, state it should have)` of every mismatch
    /// (the map was flagged invalid when there is one).
    pub mismatches: Vec<(u64, u8, u8)>,
}

impl Image {
    /// The head's and every snapshot's map (object counts from their sizes).
    pub(crate) async fn map_targets(&self) -> Result<Vec<MapTarget>> {
        let layout = self.info.layout();
        let mut out = vec![MapTarget {
            snap: m::NOSNAP,
            num_objs: layout.num_objects(self.info.size),
        }];
        for s in self.snap_list().await? {
            out.push(MapTarget {
                snap: s.id,
                num_objs: layout.num_objects(s.size),
            });
        }
        Ok(out)
    }

    /// The state each target's objects should have, from one `list_snaps` per object;
    /// `progress(done, total)` per object.
    async fn scan_object_states(
        &self,
        targets: &[MapTarget],
        fast_diff: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<BitVector2>> {
        let snaps: BTreeSet<u64> = self.snap_list().await?.into_iter().map(|s| s.id).collect();
        let total = targets.iter().map(|t| t.num_objs).max().unwrap_or(0);
        let mut maps: Vec<BitVector2> = targets
            .iter()
            .map(|t| BitVector2::new(t.num_objs))
            .collect();
        let mut set: JoinSet<(u64, rados::Result<SnapSet>)> = JoinSet::new();
        let mut next = 0u64;
        let mut done = 0u64;
        while done < total {
            while next < total && set.len() < LIST_IN_FLIGHT {
                let io: IoCtx = self.data_io.clone();
                let oid = names::data_object(&self.info.block_name_prefix, next);
                let object_no = next;
                set.spawn(async move { (object_no, io.list_snaps(&oid).await) });
                next += 1;
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let (object_no, listed) = joined.map_err(|_| Error::Rados(rados::Error::Shutdown))?;
            let ss = match listed {
                Ok(ss) => ss,
                Err(e) if e.is(Errno::ENOENT) => SnapSet::default(),
                Err(e) => return Err(e.into()),
            };
            for (t, map) in targets.iter().zip(maps.iter_mut()) {
                if object_no < t.num_objs {
                    map.set(object_no, object_state(&ss, t.snap, &snaps, fast_diff));
                }
            }
            done += 1;
            progress(done, total);
        }
        Ok(maps)
    }

    /// object_map/CreateRequest: an empty (all NONEXISTENT) map object for the head and
    /// every snapshot. EINVAL when the image is too large for an object map.
    pub(crate) async fn create_object_maps(&self, targets: &[MapTarget]) -> Result<()> {
        for t in targets {
            om::resize(t.num_objs, state::NONEXISTENT)?
                .call(&self.io, &snap_object_map_object(&self.info.id, t.snap))
                .await?;
        }
        Ok(())
    }

    /// object_map/RemoveRequest: removes the head's and every snapshot's map object
    /// (already gone is fine).
    pub(crate) async fn remove_object_maps(&self, targets: &[MapTarget]) -> Result<()> {
        for t in targets {
            let oid = snap_object_map_object(&self.info.id, t.snap);
            match self.io.remove(&oid).await {
                Ok(()) => {}
                Err(e) if e.is(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Sets (`on`) or clears `bits` of the flags of the head and every snapshot in
    /// `targets` (image/SetFlagsRequest).
    pub(crate) async fn set_map_flags(
        &self,
        targets: &[MapTarget],
        bits: u64,
        on: bool,
    ) -> Result<()> {
        let header = self.header_object();
        for t in targets {
            m::set_flags(t.snap, if on { bits } else { 0 }, bits)?
                .call(&self.io, &header)
                .await?;
        }
        Ok(())
    }

    /// Rebuilds the maps of `targets` (RebuildObjectMapRequest, for all of them in one
    /// pass): saves each computed map, clears its invalid flags, and hands the head's to
    /// the lock state `held` keeps. Call with writes stopped (exclusive access).
    pub(crate) async fn rebuild_maps(
        &self,
        targets: &[MapTarget],
        held: Option<&Held>,
        features_now: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        let fast_diff = features_now & features::FAST_DIFF != 0;
        if targets.iter().any(|t| t.num_objs > om::MAX_OBJECT_COUNT) {
            return Err(Error::InvalidArgument(
                "image size not compatible with object map",
            ));
        }
        let mut maps = self
            .scan_object_states(targets, fast_diff, progress)
            .await?;
        let header = self.header_object();
        let invalid = flags::OBJECT_MAP_INVALID | flags::FAST_DIFF_INVALID;
        for (t, map) in targets.iter().zip(maps.iter_mut()) {
            if t.snap == m::NOSNAP {
                // update_object_map: the head keeps EXISTS for objects not found (librbd
                // may be writing them concurrently)
                if let Some(old) = match held {
                    Some(h) => h.map_copy().await,
                    None => None,
                } {
                    for o in 0..map.len().min(old.len()) {
                        if old.get(o) == state::EXISTS && map.get(o) == state::NONEXISTENT {
                            map.set(o, state::EXISTS);
                        }
                    }
                }
            }
            let oid = snap_object_map_object(&self.info.id, t.snap);
            om::save(map)?.call(&self.io, &oid).await?;
            m::set_flags(t.snap, 0, invalid)?
                .call(&self.io, &header)
                .await?;
            if t.snap == m::NOSNAP {
                if let Some(h) = held {
                    h.replace_map(map.clone()).await;
                }
            }
        }
        info!(
            image = self.info.name,
            maps = targets.len(),
            "rebuilt the object maps"
        );
        Ok(())
    }

    /// The exclusive lock with writes stopped, for a head operation (`None` without the
    /// feature).
    pub(crate) async fn stop_writes(&self) -> Result<Option<ExclusiveAccess>> {
        match &self.lock {
            Some(l) => {
                let g = l.exclusive_access(self.state.num_objs()).await?;
                self.refresh_if_required().await?;
                Ok(Some(g))
            }
            None => Ok(None),
        }
    }

    /// Rebuilds the object map of the head, or of the snapshot this handle is at
    /// (`rbd_rebuild_object_map`; `rbd object-map rebuild`), from the objects' clone
    /// lists, and clears its invalid flags. `progress(done, total)` per object. EINVAL
    /// without the object-map feature; EROFS on a read-only handle.
    pub async fn rebuild_object_map(&mut self, mut progress: impl FnMut(u64, u64)) -> Result<()> {
        self.check_map_op()?;
        let target = self.map_target_here();
        let guard = if self.snap_id.is_none() {
            self.stop_writes().await?
        } else {
            None
        };
        let held = guard.as_ref().and_then(|g| g.as_ref());
        self.rebuild_maps(&[target], held, self.info.features, &mut progress)
            .await?;
        drop(guard);
        self.notify_header_update().await;
        self.refresh().await
    }

    /// Compares the object map of the head, or of the snapshot this handle is at, with
    /// the objects' clone lists (`rbd object-map check`); a mismatch flags the map
    /// invalid (ObjectMapIterate with `needs_invalidate`).
    pub async fn check_object_map(
        &mut self,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ObjectMapCheck> {
        self.check_map_op()?;
        let target = self.map_target_here();
        let guard = if self.snap_id.is_none() {
            self.stop_writes().await?
        } else {
            None
        };
        let held = guard.as_ref().and_then(|g| g.as_ref());
        let fast_diff = self.info.features & features::FAST_DIFF != 0;
        let expected = self
            .scan_object_states(&[target], fast_diff, &mut progress)
            .await?;
        let oid = snap_object_map_object(&self.info.id, target.snap);
        let current = match held.filter(|h| h.has_map()) {
            Some(h) => h.map_copy().await.unwrap_or_default(),
            None => match om::load()?.call(&self.io, &oid).await {
                Ok(b) => om::decode_load(&b).unwrap_or_default(),
                Err(e) if e.is(Errno::ENOENT) => BitVector2::default(),
                Err(e) => return Err(e),
            },
        };
        let mut mismatches = Vec::new();
        if let Some(expected) = expected.first() {
            for o in 0..expected.len() {
                let (cur, exp) = (current.get(o), expected.get(o));
                if check_mismatch(cur, exp) {
                    warn!(object = o, map = cur, should_be = exp, "object map error");
                    mismatches.push((o, cur, exp));
                }
            }
        }
        if !mismatches.is_empty() {
            let mut f = flags::OBJECT_MAP_INVALID;
            if fast_diff {
                f |= flags::FAST_DIFF_INVALID;
            }
            m::set_flags(target.snap, f, f)?
                .call(&self.io, &self.header_object())
                .await?;
            if let Some(h) = held {
                h.mark_map_invalid().await;
            }
        }
        drop(guard);
        if !mismatches.is_empty() {
            self.notify_header_update().await;
            self.refresh().await?;
        }
        Ok(ObjectMapCheck {
            objects: target.num_objs,
            mismatches,
        })
    }

    fn check_map_op(&self) -> Result<()> {
        if self.mode == crate::OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        if self.info.op_features & !crate::feature_update::OP_FEATURES_KNOWN != 0 {
            return Err(Error::ReadOnly);
        }
        if self.info.features & features::OBJECT_MAP == 0 {
            return Err(Error::InvalidArgument(
                "image must support object-map feature",
            ));
        }
        Ok(())
    }

    /// The map this handle's position (head or snapshot) uses.
    fn map_target_here(&self) -> MapTarget {
        // at a snapshot, `info.size` is the snapshot's size (set_snap)
        MapTarget {
            snap: self.snap_id.unwrap_or(m::NOSNAP),
            num_objs: self.info.layout().num_objects(self.info.size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::SnapId;
    use rados::CloneInfo;

    fn clone(id: u64, snaps: &[u64]) -> CloneInfo {
        CloneInfo {
            cloneid: SnapId(id),
            snaps: snaps.iter().map(|&s| SnapId(s)).collect(),
            overlap: Vec::new(),
            size: 4096,
        }
    }

    #[test]
    fn states_from_clone_lists() {
        use state::*;
        let snaps: BTreeSet<u64> = [4, 6, 9].into_iter().collect();
        let head = m::NOSNAP;
        // written before snap 4, then again after snap 6 (clone 6 serves 4 and 6)
        let ss = SnapSet {
            clones: vec![clone(6, &[4, 6]), clone(m::NOSNAP, &[])],
            seq: SnapId(6),
        };
        // head: written after 6, and snap 9 came after that write
        assert_eq!(object_state(&ss, head, &snaps, false), EXISTS);
        assert_eq!(object_state(&ss, head, &snaps, true), EXISTS_CLEAN);
        assert_eq!(object_state(&ss, 9, &snaps, true), EXISTS);
        assert_eq!(object_state(&ss, 6, &snaps, true), EXISTS_CLEAN);
        assert_eq!(object_state(&ss, 4, &snaps, true), EXISTS);
        assert_eq!(object_state(&ss, 4, &snaps, false), EXISTS);
        // written after the last snapshot: the head is dirty
        let ss = SnapSet {
            clones: vec![clone(m::NOSNAP, &[])],
            seq: SnapId(9),
        };
        assert_eq!(object_state(&ss, head, &snaps, true), EXISTS);
        assert_eq!(object_state(&ss, 9, &snaps, true), NONEXISTENT);
        // removed after snap 4: only the clone is left
        let ss = SnapSet {
            clones: vec![clone(4, &[4])],
            seq: SnapId(4),
        };
        assert_eq!(object_state(&ss, head, &snaps, true), NONEXISTENT);
        assert_eq!(object_state(&ss, 4, &snaps, true), EXISTS);
        assert_eq!(object_state(&ss, 6, &snaps, true), NONEXISTENT);
        assert_eq!(
            object_state(&SnapSet::default(), head, &snaps, true),
            NONEXISTENT
        );
    }

    #[test]
    fn check_rules() {
        use state::*;
        assert!(!check_mismatch(EXISTS, EXISTS));
        assert!(!check_mismatch(EXISTS, NONEXISTENT));
        assert!(!check_mismatch(EXISTS_CLEAN, NONEXISTENT));
        assert!(check_mismatch(NONEXISTENT, EXISTS));
        assert!(check_mismatch(EXISTS, EXISTS_CLEAN));
        assert!(check_mismatch(EXISTS_CLEAN, EXISTS));
    }
}
