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
//! Taken for the same layout without striping: images without a parent (or none in the
//! copied stages) whose sizes never shrink from one stage to the next, and clones of one
//! parent, kept clones or flattened (deep_copy_clone_pass.rs: the copy's snapshots get
//! the source's size and parent overlap each); the stage-by-stage copy does the rest.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use rados::{Errno, IoCtx, SnapId, SnapSet};
use tokio::task::JoinSet;
use tracing::debug;

use crate::cls::parent::ParentSpec;
use crate::cls::rbd as m;
use crate::deep_copy_clone_pass::copy_clone_object;
use crate::deep_copy_objects::{Piece, object_ops, read_planned};
use crate::error::{Error, Result};
use crate::features::{self, flags};
use crate::image::Image;
use crate::io::{held, join_one};
use crate::object_map::{self as om, BitVector2, state};
use crate::parent::ParentLink;
use crate::snapshot::{SnapInfo, snap_object_map_object};
use crate::striper::{Layout, ObjectExtent};

/// One stage of the copy as the per-object pass sees it.
struct Stage {
    /// The source handle at the stage (reads at its snapshot).
    src: Image,
    /// The source snapshot id (`NOSNAP`: the head).
    src_id: u64,
    /// The image size at the stage.
    size: u64,
    /// The parent at the stage (its overlap).
    parent: Option<ParentLink>,
    /// The write handle of the copy for the stage: the snap context of the copy's
    /// snapshots older than the stage.
    dest_io: IoCtx,
    /// The copy's snapshot id (`NOSNAP`: the head).
    dest_id: u64,
}

/// How the one pass copies each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassMode {
    /// No parent anywhere.
    Plain,
    /// A clone copied as a clone of the same parent snapshot (the copy's header has it).
    KeepClone,
    /// A clone copied standalone, the parent's data merged in.
    Flatten,
}

/// What [`pass_mode`] looks at: the copy's size, parent (a clone kept a clone) and
/// layout; each stage's size, parent and layout.
pub(crate) struct PassShape {
    pub(crate) dest_size: u64,
    pub(crate) dest_parent: Option<ParentSpec>,
    pub(crate) dest_layout: Layout,
    pub(crate) stages: Vec<(u64, Option<ParentSpec>, Layout)>,
}

/// Whether (and how) the stages can be copied in one pass over the objects: the same
/// object size and no striping in the copy; without a parent, sizes never shrinking;
/// a clone, one parent for all its stages (the copy's, kept a clone).
pub(crate) fn pass_mode(shape: &PassShape) -> Option<PassMode> {
    let layout = shape.dest_layout;
    let (first_size, ..) = shape.stages.first()?;
    let same = layout.stripe_count == 1
        && layout.object_size > 0
        && shape.dest_size == *first_size
        && shape.stages.iter().all(|(_, _, l)| *l == layout);
    if !same {
        return None;
    }
    let parents: Vec<&ParentSpec> = shape
        .stages
        .iter()
        .filter_map(|(_, p, _)| p.as_ref())
        .collect();
    if parents.windows(2).any(|w| w.first() != w.last()) {
        return None;
    }
    match (&shape.dest_parent, parents.first()) {
        (None, None) => shape
            .stages
            .windows(2)
            .all(|w| match w {
                [(a, ..), (b, ..)] => a <= b,
                _ => true,
            })
            .then_some(PassMode::Plain),
        (None, Some(_)) => Some(PassMode::Flatten),
        (Some(d), Some(p)) if d == *p => Some(PassMode::KeepClone),
        (Some(_), _) => None,
    }
}

/// [`pass_mode`] of copying `stages` into `dest`.
pub(crate) fn one_pass_mode(
    stages: &[(Option<&SnapInfo>, Image)],
    dest: &Image,
) -> Option<PassMode> {
    let spec = |i: &Image| i.info.parent.as_ref().map(crate::copy_clone::spec_of);
    pass_mode(&PassShape {
        dest_size: dest.info.size,
        dest_parent: spec(dest),
        dest_layout: dest.info.layout(),
        stages: stages
            .iter()
            .map(|(_, s)| (s.info.size, spec(s), s.info.layout()))
            .collect(),
    })
}

/// One stage as each object's copy sees it.
pub(crate) struct PassStage {
    /// The source handle at the stage.
    pub(crate) src: Image,
    /// The source snapshot id (`NOSNAP`: the head).
    pub(crate) src_id: u64,
    /// The image size at the stage.
    pub(crate) size: u64,
    /// The parent overlap at the stage (0: no parent).
    pub(crate) overlap: u64,
    /// The copy's write handle for the stage (the snap context of its older snapshots).
    pub(crate) dest_io: IoCtx,
}

impl Image {
    /// Copies `stages` (each user snapshot, oldest first, then the head unless the copy
    /// ends at a snapshot) into the empty `dest` in one pass over the objects (see the
    /// module's comment) as [`one_pass_mode`] said.
    pub(crate) async fn deep_copy_one_pass(
        &self,
        dest: &mut Image,
        stages: Vec<(Option<&SnapInfo>, Image)>,
        mode: PassMode,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        let spec = dest.info.parent.as_ref().map(crate::copy_clone::spec_of);
        // the copy's snapshots first, each at its size (deep_copy/SnapshotCopyRequest)
        let mut planned = Vec::with_capacity(stages.len());
        let mut older: Vec<SnapId> = Vec::new();
        let mut ended_at = None;
        for (snap, src) in stages {
            match (mode, &spec) {
                // SetHeadRequest: the size and parent overlap the snapshot records
                (PassMode::KeepClone, Some(spec)) => {
                    let overlap = src.info.parent.as_ref().map(|p| p.overlap);
                    dest.set_clone_head(src.info.size, overlap, spec).await?;
                }
                _ if dest.info.size != src.info.size => {
                    // (on the still empty copy: a shrink trims nothing)
                    dest.resize(src.info.size, true).await?;
                }
                _ => {}
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
                parent: src.parent_link(),
                src,
                dest_io,
                dest_id,
            });
        }
        let stages = planned;
        let src_snaps: BTreeSet<u64> = self.snap_list().await?.iter().map(|s| s.id).collect();
        let mut objects = self.objects_to_copy(&stages).await;
        // flattening: where the parent shows, whether or not the clone has objects
        let parent = match mode {
            PassMode::Flatten => stages
                .iter()
                .filter_map(|s| s.parent.clone())
                .max_by_key(|l| l.overlap),
            _ => None,
        };
        if let Some(link) = &parent {
            let under = self.info.layout().num_objects(link.overlap);
            let mut all: BTreeSet<u64> = objects.into_iter().collect();
            all.extend(0..under);
            objects = all.into_iter().collect();
        }
        let total = objects.len() as u64;
        debug!(
            objects = total,
            stages = stages.len(),
            "deep copy in one pass"
        );
        // the lock of the copy (its object map) for the whole pass
        let access = dest.write_access().await?;
        let shared: Arc<Vec<PassStage>> = Arc::new(
            stages
                .iter()
                .map(|s| PassStage {
                    src: s.src.clone(),
                    src_id: s.src_id,
                    size: s.size,
                    overlap: s.parent.as_ref().map_or(0, |l| l.overlap),
                    dest_io: s.dest_io.clone(),
                })
                .collect(),
        );
        let parent = Arc::new(parent);
        let src_snaps = Arc::new(src_snaps);
        let dest_ref: &Image = dest;
        let jobs = objects.into_iter().map(|object_no| {
            let (stages, src_snaps) = (shared.clone(), src_snaps.clone());
            let parent = parent.clone();
            let oid = dest_ref.object_name(object_no);
            let object_size = dest_ref.info.obj_size;
            async move {
                let states = match mode {
                    PassMode::Plain => {
                        copy_object_stages(&stages, object_no, &oid, object_size, &src_snaps)
                            .await?
                    }
                    _ => {
                        let parent = parent.as_ref().as_ref();
                        copy_clone_object(&stages, parent, object_no, &oid, object_size).await?
                    }
                };
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
pub(crate) enum ObjectStage {
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
    stages: &[PassStage],
    object_no: u64,
    oid: &str,
    object_size: u64,
    src_snaps: &BTreeSet<u64>,
) -> Result<Vec<ObjectStage>> {
    let Some(first) = stages.first() else {
        return Ok(Vec::new());
    };
    let ss = match first
        .src
        .data_io
        .list_snaps(&first.src.object_name(object_no))
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
    for s in stages {
        let exists = crate::object_map_build::object_state(&ss, s.src_id, src_snaps, false)
            != state::NONEXISTENT;
        let pieces = if at < s.size {
            stage_pieces(&ss, (prev_id, s.src_id), object_size, at, s.size)
        } else {
            Vec::new()
        };
        prev_id = s.src_id;
        states.push(match (exists, pieces.is_empty()) {
            (false, _) => ObjectStage::Missing,
            (true, false) => ObjectStage::Written,
            (true, true) => ObjectStage::Kept,
        });
        plans.push(pieces);
    }
    // the reads of all stages at once
    let mut reads = JoinSet::new();
    for (k, (stage, pieces)) in stages.iter().zip(&plans).enumerate() {
        if pieces.iter().any(|p| p.data) {
            let (src, pieces) = (stage.src.clone(), pieces.clone());
            reads.spawn(async move { Ok((k, read_planned(&src, object_no, &pieces).await?)) });
        }
    }
    let mut data: Vec<Option<Vec<Option<Bytes>>>> = vec![None; stages.len()];
    while let Some((k, d)) = join_one(&mut reads).await? {
        if let Some(slot) = data.get_mut(k) {
            *slot = Some(d);
        }
    }
    for ((stage, pieces), d) in stages.iter().zip(&plans).zip(data) {
        if pieces.is_empty() {
            continue;
        }
        let d = d.unwrap_or_else(|| vec![None; pieces.len()]);
        let object_len = object_size.min(stage.size - at);
        write_pieces(&stage.dest_io, oid, object_size, object_len, pieces, d).await?;
    }
    Ok(states)
}

/// The ranges of the object at image offset `at` changed between source snapshots
/// `ids` (clipped to the image `size` at the end one), as object pieces.
pub(crate) fn stage_pieces(
    ss: &SnapSet,
    ids: (u64, u64),
    object_size: u64,
    at: u64,
    size: u64,
) -> Vec<Piece> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(snap_id: u64) -> Option<ParentSpec> {
        Some(ParentSpec {
            pool_id: 1,
            pool_namespace: String::new(),
            image_id: "abc".into(),
            snap_id,
        })
    }

    fn shape(dest_parent: Option<ParentSpec>, stages: &[(u64, Option<ParentSpec>)]) -> PassShape {
        let layout = Layout::simple(22);
        PassShape {
            dest_size: stages.first().map_or(0, |s| s.0),
            dest_parent,
            dest_layout: layout,
            stages: stages
                .iter()
                .map(|(n, p)| (*n, p.clone(), layout))
                .collect(),
        }
    }

    #[test]
    fn pass_modes() {
        let m = 1 << 20;
        // no parent: sizes must not shrink
        assert_eq!(
            pass_mode(&shape(None, &[(8 * m, None), (9 * m, None)])),
            Some(PassMode::Plain)
        );
        assert_eq!(
            pass_mode(&shape(None, &[(8 * m, None), (4 * m, None)])),
            None
        );
        // a clone kept a clone or flattened, shrinking or not; a stage after a
        // flatten of the source has no parent
        let kept = shape(
            spec(4),
            &[(8 * m, spec(4)), (4 * m, spec(4)), (8 * m, None)],
        );
        assert_eq!(pass_mode(&kept), Some(PassMode::KeepClone));
        let flat = shape(None, &[(8 * m, spec(4)), (4 * m, spec(4))]);
        assert_eq!(pass_mode(&flat), Some(PassMode::Flatten));
        // two parents, or a copy of another parent: stage by stage
        assert_eq!(
            pass_mode(&shape(None, &[(8 * m, spec(4)), (8 * m, spec(5))])),
            None
        );
        assert_eq!(pass_mode(&shape(spec(5), &[(8 * m, spec(4))])), None);
        // another size at the start, striping, another object size
        let mut s = shape(None, &[(8 * m, spec(4))]);
        s.dest_size = 4 * m;
        assert_eq!(pass_mode(&s), None);
        let mut s = shape(None, &[(8 * m, spec(4))]);
        s.dest_layout = Layout::new(4 << 20, 1 << 16, 2).unwrap();
        assert_eq!(pass_mode(&s), None);
        let mut s = shape(None, &[(8 * m, spec(4))]);
        s.dest_layout = Layout::simple(20);
        assert_eq!(pass_mode(&s), None);
        assert_eq!(pass_mode(&shape(None, &[])), None);
    }
}
