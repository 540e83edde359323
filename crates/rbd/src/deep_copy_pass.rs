//! A deep copy in one pass over the objects, as librbd's deep_copy/ImageCopyRequest.cc
//! and ObjectCopyRequest.cc do: the copy's snapshots are created first (on the still
//! empty copy), then each object is copied across all its snapshots at once: one
//! `list_snaps` of the source object, one read per snapshot interval that changed it (at
//! that snapshot), and one write op per interval carrying the snap context of the copy's
//! older snapshots, so that the OSD preserves what each snapshot holds; up to
//! `rbd_concurrent_management_ops` objects in flight. The object maps of the copy's
//! snapshots and head are written whole at the end.
//!
//! Copying stage by stage instead (all objects of the first snapshot, create it, then
//! the next...) makes each snapshot a barrier and lists each object's clones once per
//! stage.
//!
//! Taken for images without a parent (or none in the copied stages), same layout, no
//! striping, and sizes that never shrink from one stage to the next; the stage-by-stage
//! copy does the rest.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use rados::{Errno, IoCtx, SnapId, SnapSet};
use tokio::task::JoinSet;
use tracing::debug;

use crate::cls::rbd as m;
use crate::deep_copy_objects::{OPS_PER_OP, Piece, object_ops, read_object, read_pieces};
use crate::error::{Error, Result};
use crate::features::{self, flags};
use crate::image::Image;
use crate::io::{held, join_one};
use crate::object_map::{self as om, BitVector2, state};
use crate::snapshot::{SnapInfo, snap_object_map_object};
use crate::striper::ObjectExtent;

/// One stage of the copy as the per-object pass sees it.
struct Stage {
    /// The source handle at the stage (reads at its snapshot).
    src: Image,
    /// The source snapshot id (`NOSNAP`: the head).
    src_id: u64,
    /// The image size at the stage.
    size: u64,
    /// The write handle of the copy for the stage: the snap context of the copy's
    /// snapshots older than the stage.
    dest_io: IoCtx,
    /// The copy's snapshot id (`NOSNAP`: the head).
    dest_id: u64,
}

/// Whether the stages can be copied in one pass over the objects: no parent anywhere,
/// the same object size and no striping in the copy, sizes never shrinking.
pub(crate) fn one_pass_possible(stages: &[(Option<&SnapInfo>, Image)], dest: &Image) -> bool {
    let layout = dest.info.layout();
    let Some((_, first)) = stages.first() else {
        return false;
    };
    layout.stripe_count == 1
        && layout.object_size > 0
        && dest.parent_link().is_none()
        && dest.info.size == first.info.size
        && stages
            .iter()
            .all(|(_, s)| s.parent.is_none() && s.info.layout() == layout)
        && stages.windows(2).all(|w| match w {
            [(_, a), (_, b)] => a.info.size <= b.info.size,
            _ => true,
        })
}

impl Image {
    /// Copies `stages` (each user snapshot, oldest first, then the head unless the copy
    /// ends at a snapshot) into the empty `dest` in one pass over the objects (see the
    /// module's comment). Check [`one_pass_possible`] first.
    pub(crate) async fn deep_copy_one_pass(
        &self,
        dest: &mut Image,
        stages: Vec<(Option<&SnapInfo>, Image)>,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        // the copy's snapshots first, each at its size (deep_copy/SnapshotCopyRequest)
        let mut planned = Vec::with_capacity(stages.len());
        let mut older: Vec<SnapId> = Vec::new();
        let mut ended_at = None;
        for (snap, src) in stages {
            if dest.info.size != src.info.size {
                dest.resize(src.info.size, false).await?;
            }
            let mut dest_io = dest.data_io.clone();
            let seq = older.first().copied().unwrap_or(SnapId(0));
            dest_io.set_write_snap_context(seq, older.clone())?;
            let dest_id = match snap {
                Some(s) => {
                    // deep_copy/SnapshotCreateRequest.cc: no quiesce for copied snapshots
                    let id = dest
                        .create_snap2(&s.name, crate::snap_create_flags::SKIP_QUIESCE)
                        .await?;
                    if s.is_protected() {
                        dest.protect_snap(&s.name).await?;
                    }
                    older.insert(0, SnapId(id));
                    ended_at = Some(s.name.clone());
                    id
                }
                None => {
                    ended_at = None;
                    m::NOSNAP
                }
            };
            planned.push(Stage {
                src_id: src.snap_id.unwrap_or(m::NOSNAP),
                size: src.info.size,
                src,
                dest_io,
                dest_id,
            });
        }
        let stages = planned;
        let src_snaps: BTreeSet<u64> = self.snap_list().await?.iter().map(|s| s.id).collect();
        let objects = self.objects_to_copy(&stages).await;
        let total = objects.len() as u64;
        debug!(
            objects = total,
            stages = stages.len(),
            "deep copy in one pass"
        );
        // the lock of the copy (its object map) for the whole pass
        let access = dest.write_access().await?;
        let shared: Arc<Vec<(Image, u64, u64, IoCtx)>> = Arc::new(
            stages
                .iter()
                .map(|s| (s.src.clone(), s.src_id, s.size, s.dest_io.clone()))
                .collect(),
        );
        let src_snaps = Arc::new(src_snaps);
        let dest_ref: &Image = dest;
        let jobs = objects.into_iter().map(|object_no| {
            let (stages, src_snaps) = (shared.clone(), src_snaps.clone());
            let oid = dest_ref.object_name(object_no);
            let object_size = dest_ref.info.obj_size;
            async move {
                let states =
                    copy_object_stages(&stages, object_no, &oid, object_size, &src_snaps).await?;
                Ok((object_no, states))
            }
        });
        let done = crate::copy::run_bounded(jobs, total, progress).await?;
        let fast_diff = dest.info.features & features::FAST_DIFF != 0;
        if dest.info.features & features::OBJECT_MAP != 0 {
            let layout = dest.info.layout();
            let mut maps: Vec<BitVector2> = stages
                .iter()
                .map(|s| BitVector2::new(layout.num_objects(s.size)))
                .collect();
            for (object_no, states) in &done {
                for (map, st) in maps.iter_mut().zip(states) {
                    let st = match *st {
                        ObjectStage::Written => state::EXISTS,
                        ObjectStage::Kept if fast_diff => state::EXISTS_CLEAN,
                        ObjectStage::Kept => state::EXISTS,
                        ObjectStage::Missing => state::NONEXISTENT,
                    };
                    map.set(*object_no, st);
                }
            }
            for (s, map) in stages.iter().zip(maps) {
                let oid = snap_object_map_object(&dest.info.id, s.dest_id);
                om::save(&map)?.call(&dest.io, &oid).await?;
                if s.dest_id == m::NOSNAP {
                    if let Some(h) = held(&access) {
                        h.replace_map(map).await;
                    }
                }
            }
        }
        drop(access);
        progress(total, total);
        match ended_at {
            // DeepCopyRequest send_copy_object_map: the head's map is the last snapshot's
            Some(name) => dest.head_object_map_from_snap(&name).await,
            None => Ok(()),
        }
    }

    /// The objects that may exist at some stage: those the source's object maps do not
    /// call NONEXISTENT at any stage (all of them without valid maps, or when a map cannot
    /// be read).
    async fn objects_to_copy(&self, stages: &[Stage]) -> Vec<u64> {
        let layout = self.info.layout();
        let count = stages
            .iter()
            .map(|s| layout.num_objects(s.size))
            .max()
            .unwrap_or(0);
        if self.info.features & features::OBJECT_MAP == 0 {
            return (0..count).collect();
        }
        match self.objects_in_maps(stages, count).await {
            Ok(Some(objects)) => objects,
            Ok(None) => (0..count).collect(),
            Err(e) => {
                debug!(error = %e, "source object maps unreadable: copying every object");
                (0..count).collect()
            }
        }
    }

    /// [`Self::objects_to_copy`] from the maps; `None` when one is flagged invalid or
    /// too small.
    async fn objects_in_maps(&self, stages: &[Stage], count: u64) -> Result<Option<Vec<u64>>> {
        let Ok(len) = usize::try_from(count) else {
            return Ok(None);
        };
        let mut wanted = vec![false; len];
        let header = self.header_object();
        for s in stages {
            let f = m::decode_u64(
                "get_flags",
                &m::get_flags(s.src_id)?.call(&self.io, &header).await?,
            )?;
            if f & flags::OBJECT_MAP_INVALID != 0 {
                return Ok(None);
            }
            let oid = snap_object_map_object(&self.info.id, s.src_id);
            let map = om::decode_load(&om::load()?.call(&self.io, &oid).await?)?;
            let n = self.info.layout().num_objects(s.size);
            if map.len() < n {
                return Ok(None);
            }
            for (o, w) in wanted
                .iter_mut()
                .enumerate()
                .take(usize::try_from(n).unwrap_or(0))
            {
                if map.get(o as u64) != state::NONEXISTENT {
                    *w = true;
                }
            }
        }
        Ok(Some(
            wanted
                .iter()
                .enumerate()
                .filter(|(_, w)| **w)
                .map(|(o, _)| o as u64)
                .collect(),
        ))
    }
}

/// What one stage did to one object of the copy, for its object map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectStage {
    /// Written (or zeroed, truncated) in the stage: EXISTS.
    Written,
    /// There, unchanged since the previous stage: EXISTS_CLEAN with fast-diff.
    Kept,
    /// Not there at the stage.
    Missing,
}

/// Copies one object across all `stages` (source handle, source id, size, write handle
/// of the copy): the clone list of the source object says what each stage changed; each
/// stage's changed ranges are read at its snapshot (all stages' reads at once), then
/// written in order, one op per stage with the stage's snap context. Returns the
/// object's state per stage.
async fn copy_object_stages(
    stages: &[(Image, u64, u64, IoCtx)],
    object_no: u64,
    oid: &str,
    object_size: u64,
    src_snaps: &BTreeSet<u64>,
) -> Result<Vec<ObjectStage>> {
    let Some((first, ..)) = stages.first() else {
        return Ok(Vec::new());
    };
    let ss = match first
        .data_io
        .list_snaps(&first.object_name(object_no))
        .await
    {
        Ok(ss) => ss,
        // no object at any snapshot: nothing to copy
        Err(e) if e.is(Errno::ENOENT) => return Ok(vec![ObjectStage::Missing; stages.len()]),
        Err(e) => return Err(e.into()),
    };
    let at = object_no * object_size;
    let mut states = Vec::with_capacity(stages.len());
    let mut plans: Vec<Vec<Piece>> = Vec::with_capacity(stages.len());
    let mut prev_id = 0;
    for (_, src_id, size, _) in stages {
        let exists = crate::object_map_build::object_state(&ss, *src_id, src_snaps, false)
            != state::NONEXISTENT;
        let pieces = if at < *size {
            stage_pieces(&ss, (prev_id, *src_id), object_size, at, *size)
        } else {
            Vec::new()
        };
        prev_id = *src_id;
        states.push(match (exists, pieces.is_empty()) {
            (false, _) => ObjectStage::Missing,
            (true, false) => ObjectStage::Written,
            (true, true) => ObjectStage::Kept,
        });
        plans.push(pieces);
    }
    // the reads of all stages at once
    let mut reads = JoinSet::new();
    for (k, ((src, ..), pieces)) in stages.iter().zip(&plans).enumerate() {
        if pieces.iter().any(|p| p.data) {
            let (src, pieces) = (src.clone(), pieces.clone());
            reads.spawn(async move {
                let data = if pieces.iter().filter(|p| p.data).count() <= OPS_PER_OP {
                    read_object(&src, object_no, &pieces).await?
                } else {
                    read_pieces(&src, &pieces).await?
                };
                Ok((k, data))
            });
        }
    }
    let mut data: Vec<Option<Vec<Option<Bytes>>>> = vec![None; stages.len()];
    while let Some((k, d)) = join_one(&mut reads).await? {
        if let Some(slot) = data.get_mut(k) {
            *slot = Some(d);
        }
    }
    for (((_, _, size, dest_io), pieces), d) in stages.iter().zip(&plans).zip(data) {
        if pieces.is_empty() {
            continue;
        }
        let d = d.unwrap_or_else(|| vec![None; pieces.len()]);
        let object_len = object_size.min(size - at);
        write_pieces(dest_io, oid, object_size, object_len, pieces, d).await?;
    }
    Ok(states)
}

/// The ranges of the object at image offset `at` changed between source snapshots
/// `ids` (clipped to the image `size` at the end one), as object pieces.
fn stage_pieces(ss: &SnapSet, ids: (u64, u64), object_size: u64, at: u64, size: u64) -> Vec<Piece> {
    let length = object_size.min(size - at);
    let ex = ObjectExtent {
        object_no: at / object_size,
        offset: 0,
        length,
        buffer_extents: vec![(0, length)],
    };
    crate::diff::object_diffs(ss, ids, false, object_size, at, &ex)
        .unwrap_or_default()
        .into_iter()
        .map(|e| Piece {
            image_off: e.offset,
            object_off: e.offset - at,
            len: e.length,
            data: e.exists,
        })
        .collect()
}

/// Writes the read `data` of one object's `pieces` (zeroes the rest) to `oid` through
/// `dest_io`. Nothing but zeros: removed when the whole object goes, else zeroed, or
/// truncated where a range reaches the object's end (ObjectCopyRequest
/// `send_write_object`). `object_len`: the object's bytes inside the image at the stage.
async fn write_pieces(
    dest_io: &IoCtx,
    oid: &str,
    object_size: u64,
    object_len: u64,
    pieces: &[Piece],
    data: Vec<Option<Bytes>>,
) -> Result<()> {
    let (mut zeros, writes) = object_ops(pieces, data);
    if !writes.is_empty() {
        return crate::deep_copy_objects::submit_ops(dest_io, oid, object_size, zeros, writes)
            .await;
    }
    let whole = pieces
        .iter()
        .any(|p| p.object_off == 0 && p.len >= object_len && !p.data);
    let result = if whole {
        dest_io.remove(oid).await
    } else {
        // the zeros inside the object first, a truncation last
        zeros.sort_unstable();
        let mut op = dest_io.op(oid);
        let mut truncate = None;
        for (off, len) in zeros {
            if off + len >= object_len {
                truncate = Some(truncate.map_or(off, |t: u64| t.min(off)));
            } else {
                op = op.zero(off, len);
            }
        }
        if let Some(off) = truncate {
            op = op.truncate(off);
        }
        op.submit().await.map(drop)
    };
    match result {
        Ok(()) => Ok(()),
        // nothing there to remove or zero in the copy (the source's was zeros)
        Err(e) if e.is(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::from(e)),
    }
}
