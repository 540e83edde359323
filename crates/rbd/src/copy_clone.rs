//! Deep copies of clones that stay clones (src/librbd/api/Image.cc `deep_copy`,
//! deep_copy/SnapshotCopyRequest.cc, SnapshotCreateRequest.cc, SetHeadRequest.cc,
//! ObjectCopyRequest.cc): the copy is made a clone of the same parent snapshot
//! (CloneRequest, which also registers it as a child), then for each snapshot, oldest
//! first, and last for the head, its size and parent overlap are set on the header
//! (`set_size`; another overlap of the same parent by `parent_attach` with reattach,
//! where SetHeadRequest detaches first and so, on a deep-flatten copy, takes the parent
//! from the snapshots already made) and the source's own objects that changed since the previous snapshot are
//! copied object by object, raw: what the clone's objects hold, never the parent's data
//! behind them (no copyup; an object the source does not have stays absent, so the copy
//! reads through to the parent too). Into the same layout without striping, the
//! objects are copied in one pass over all stages instead (deep_copy_clone_pass.rs);
//! this stage-by-stage copy takes the rest.

use bytes::Bytes;
use rados::{Errno, IoCtx};

use crate::clone::CloneOptions;
use crate::cls::parent::{self as p, ParentSpec};
use crate::cls::rbd::{self as m, ParentInfo};
use crate::copy::{CopyOptions, run_bounded};
use crate::copy_clone_layout::{MappedPlan, StageGeometry, apply_mapped};
use crate::deep_copy_pass::PassMode;
use crate::error::{Error, Result};
use crate::image::{Image, OpenMode};
use crate::io::held;
use crate::object_map::state;
use crate::pool::Rbd;
use crate::snap_set_diff::{Intervals, calc_snap_set_diff};
use crate::snapshot::SnapInfo;

/// Objects whose clone lists are looked at before their copies are written (the object
/// map is updated once per batch).
const OBJECT_BATCH: u64 = 256;

/// What one object of the copy needs at a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ObjectPlan {
    /// Nothing changed.
    Keep,
    /// The source's object is gone: remove the copy's.
    Remove,
    /// Write: `fresh` rewrites the whole object (it did not exist, or the clone list
    /// cannot tell what changed); else only `changed`. The object ends `size` long.
    Write {
        fresh: bool,
        changed: Intervals,
        size: u64,
        start_size: u64,
    },
    /// The copy has another layout: write what `copy_clone_layout` planned.
    Mapped(MappedPlan),
}

/// The plan of an object from its clone list, copying from source snapshot `from` (0:
/// the beginning) to `end` (`NOSNAP`: the head).
fn plan_object(ss: &rados::SnapSet, from: u64, end: u64) -> ObjectPlan {
    let d = calc_snap_set_diff(ss, from, end);
    let start = (from != 0).then(|| calc_snap_set_diff(ss, 0, from));
    let start_exists = start.as_ref().is_some_and(|s| s.end_exists);
    if !d.end_exists {
        return if start_exists {
            ObjectPlan::Remove
        } else {
            ObjectPlan::Keep
        };
    }
    let fresh = !start_exists || d.whole_object;
    if !fresh && d.diff.is_empty() {
        return ObjectPlan::Keep;
    }
    ObjectPlan::Write {
        fresh,
        changed: d.diff,
        size: d.end_size,
        start_size: start.map_or(0, |s| s.end_size),
    }
}

/// The parent spec of a `ParentInfo`.
pub(crate) fn spec_of(p: &ParentInfo) -> ParentSpec {
    ParentSpec {
        pool_id: p.pool_id,
        pool_namespace: p.pool_namespace.clone(),
        image_id: p.image_id.clone(),
        snap_id: p.snap_id,
    }
}

/// One stage of the copy: a snapshot (`None`: the head) and the source opened at it.
struct Stage<'a> {
    snap: Option<&'a SnapInfo>,
    src: Image,
}

impl Image {
    /// The source opened at each user snapshot `snaps` (oldest first), then at the head
    /// (or at the snapshot this handle is set to). When this handle is at one of
    /// `snaps`, that one is the last stage (SnapshotCopyRequest::send_set_head: a copy
    /// ending at a user snapshot sets no head; its head is that snapshot's).
    pub(crate) async fn deep_copy_stages<'a>(
        &self,
        snaps: &'a [SnapInfo],
    ) -> Result<Vec<(Option<&'a SnapInfo>, Image)>> {
        let mut out = Vec::with_capacity(snaps.len() + 1);
        let ends_at_snap = snaps.iter().any(|s| Some(s.id) == self.snap_id);
        let head = (!ends_at_snap).then_some(None);
        for snap in snaps.iter().map(Some).chain(head) {
            let mut src = self.clone();
            src.set_snap_by_id(snap.map_or(self.snap_id, |s| Some(s.id)))
                .await?;
            out.push((snap, src));
        }
        Ok(out)
    }

    /// `rbd_deep_copy` of a clone without flatten: the copy is a clone of `parent`'s
    /// snapshot (the oldest stage's parent) in `dest`, then each stage is copied.
    pub(crate) async fn deep_copy_clone(
        &self,
        dest: &Rbd,
        dest_name: &str,
        opts: &CopyOptions,
        stages: Vec<(Option<&SnapInfo>, Image)>,
        parent: &ParentInfo,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        let spec = spec_of(parent);
        // SnapshotCopyRequest::validate_parent: one parent for all
        if stages
            .iter()
            .filter_map(|(_, s)| s.info.parent.as_ref())
            .any(|p| spec_of(p) != spec)
        {
            return Err(Error::InvalidArgument(
                "the source's snapshots have different parents",
            ));
        }
        let first_size = stages.first().map_or(self.info.size, |(_, s)| s.info.size);
        // (another object size or striping is copied through the image's offsets:
        // copy_clone_layout.rs)
        let create = self.copy_create_options(opts, first_size);
        let pio = self
            .io
            .rados()
            .ioctx_by_id(parent.pool_id)
            .await?
            .with_namespace(parent.pool_namespace.clone());
        let clone_opts = CloneOptions {
            create,
            format: None,
        };
        dest.clone_of_snap(
            &pio,
            parent.image_id.clone(),
            parent.snap_id,
            dest_name,
            &clone_opts,
        )
        .await?;
        let mut copy = dest.open(dest_name, OpenMode::ReadWrite).await?;
        let r = match crate::deep_copy_pass::one_pass_mode(&stages, &copy) {
            Some(mode @ PassMode::KeepClone) => match self.copy_metadata(&copy).await {
                Ok(()) => {
                    self.deep_copy_one_pass(&mut copy, stages, mode, progress)
                        .await
                }
                Err(e) => Err(e),
            },
            _ => {
                let stages = stages
                    .into_iter()
                    .map(|(snap, src)| Stage { snap, src })
                    .collect::<Vec<_>>();
                self.deep_copy_clone_stages(&mut copy, &stages, &spec, progress)
                    .await
            }
        };
        let closed = copy.close().await;
        r.and(closed)
    }

    async fn deep_copy_clone_stages(
        &self,
        dest: &mut Image,
        stages: &[Stage<'_>],
        spec: &ParentSpec,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        self.copy_metadata(dest).await?;
        let total = stages.len() as u64;
        let mut from = 0u64;
        let mut ended_at = None;
        for (i, stage) in stages.iter().enumerate() {
            let end = stage.src.snap_id.unwrap_or(m::NOSNAP);
            let overlap = stage.src.info.parent.as_ref().map(|p| p.overlap);
            self.copy_stage(dest, &stage.src, from, end, spec, overlap)
                .await?;
            if let Some(s) = stage.snap {
                // (SnapshotCreateRequest: the snapshot records the head's parent overlap)
                dest.create_snap(&s.name).await?;
                if s.is_protected() {
                    dest.protect_snap(&s.name).await?;
                }
                from = s.id;
            }
            ended_at = stage.snap.map(|s| s.name.as_str());
            progress(i as u64 + 1, total);
        }
        // (DeepCopyRequest::send_copy_object_map: ending at a snapshot, the head's map
        // is that snapshot's)
        match ended_at {
            Some(name) => dest.head_object_map_from_snap(name).await,
            None => Ok(()),
        }
    }

    /// The image metadata (`image-meta`) copied to `dest` (MetadataCopyRequest).
    async fn copy_metadata(&self, dest: &Image) -> Result<()> {
        for (key, value) in &self.metadata_list().await? {
            dest.metadata_set(key, &value[..]).await?;
        }
        Ok(())
    }

    /// SetHeadRequest alone (the one-pass copy: before any object is written): the
    /// copy's size and parent overlap (`None`: no parent) for the next snapshot.
    pub(crate) async fn set_clone_head(
        &mut self,
        size: u64,
        overlap: Option<u64>,
        spec: &ParentSpec,
    ) -> Result<()> {
        let old_size = self.info.size;
        let layout = self.info.layout();
        let access = self.write_access().await?;
        if let (Some(h), true) = (held(&access), size != old_size) {
            h.resize_map(&self.io, layout.num_objects(size)).await?;
        }
        self.set_size_and_parent(size, overlap, spec).await?;
        drop(access);
        self.refresh().await
    }

    /// The header's size (when it changes) and parent overlap (`None`: detached), as
    /// SetHeadRequest sets them.
    async fn set_size_and_parent(
        &self,
        size: u64,
        overlap: Option<u64>,
        spec: &ParentSpec,
    ) -> Result<()> {
        let header = self.header_object();
        if size != self.info.size {
            m::set_size(size)?.call(&self.io, &header).await?;
        }
        // a shrink cuts the overlap too (cls set_size): a detach is then seldom needed,
        // and a detach takes the parent from the snapshots of a deep-flatten image
        let have = self
            .info
            .parent
            .as_ref()
            .map(|p| (spec_of(p), p.overlap.min(size)));
        let want = overlap.map(|o| (spec.clone(), o));
        if have == want {
            return Ok(());
        }
        match (&have, &want) {
            // the same parent, another overlap (cut by a shrink and grown back since,
            // say): changed in place, the snapshots keep theirs (librbd's SetHeadRequest
            // detaches first, which takes the parent from the snapshots of a
            // deep-flatten copy)
            (Some((hs, _)), Some((ws, o))) if hs == ws && *o > 0 => {
                p::parent_reattach(ws, *o)?.call(&self.io, &header).await?;
            }
            _ => {
                if have.is_some() {
                    p::parent_detach()?.call(&self.io, &header).await?;
                }
                // (the class refuses a zero overlap: nothing of the parent shows then)
                if let Some((s, o)) = want.filter(|w| w.1 > 0) {
                    p::parent_attach(&s, o)?.call(&self.io, &header).await?;
                }
            }
        }
        Ok(())
    }

    /// SetHeadRequest, then the objects changed from source snapshot `from` to `end`.
    async fn copy_stage(
        &self,
        dest: &mut Image,
        src: &Image,
        from: u64,
        end: u64,
        spec: &ParentSpec,
        overlap: Option<u64>,
    ) -> Result<()> {
        let size = src.info.size;
        let old_size = dest.info.size;
        let layout = dest.info.layout();
        let access = dest.write_access().await?;
        let held = held(&access);
        // the map grows before the header; it shrinks once the objects past the end
        // are gone
        if size > old_size {
            if let Some(h) = held {
                h.resize_map(&dest.io, layout.num_objects(size)).await?;
            }
        }
        dest.set_size_and_parent(size, overlap, spec).await?;
        let objects = layout.num_objects(size.max(old_size));
        let geo = StageGeometry {
            src: src.info.layout(),
            dst: layout,
            old_size,
            size,
            overlap: overlap.unwrap_or(0).min(size),
        };
        let mut next = 0;
        while next < objects {
            let batch = next..(next + OBJECT_BATCH).min(objects);
            next = batch.end;
            let plans = if geo.src == geo.dst {
                self.plan_batch(src, batch, from, end).await?
            } else {
                let mapped = self.plan_mapped_batch(src, geo, batch, from, end).await?;
                mapped
                    .into_iter()
                    .map(|(o, p)| match p {
                        MappedPlan::Remove => (o, ObjectPlan::Remove),
                        p => (o, ObjectPlan::Mapped(p)),
                    })
                    .collect()
            };
            let written: Vec<u64> = plans
                .iter()
                .filter(|(_, p)| matches!(p, ObjectPlan::Write { .. } | ObjectPlan::Mapped(_)))
                .map(|(o, _)| *o)
                .collect();
            let removed: Vec<u64> = plans
                .iter()
                .filter(|(_, p)| *p == ObjectPlan::Remove)
                .map(|(o, _)| *o)
                .collect();
            // as writes and removals do: EXISTS before, PENDING then NONEXISTENT around
            if let Some(h) = held {
                h.mark(&dest.io, &written, state::EXISTS, None).await?;
                h.mark(&dest.io, &removed, state::PENDING, None).await?;
            }
            let n = plans.len() as u64;
            let obj_size = layout.object_size;
            let jobs = plans.into_iter().map(|(object_no, plan)| {
                let src = src.clone();
                let src_oid = src.object_name(object_no);
                let dst_io = dest.write_io();
                let dst_oid = dest.object_name(object_no);
                async move {
                    let created = match plan {
                        ObjectPlan::Mapped(p) => {
                            apply_mapped(&src, &dst_io, dst_oid, object_no, p, geo).await?
                        }
                        p => {
                            apply_plan(&src.data_io, &src_oid, &dst_io, dst_oid, p, obj_size)
                                .await?;
                            true
                        }
                    };
                    Ok((object_no, created))
                }
            });
            let done = run_bounded(jobs, n, &mut |_, _| {}).await?;
            // new copy objects left uncreated (nothing to write, no parent to hide)
            let absent: Vec<u64> = done
                .into_iter()
                .filter(|(o, created)| !created && written.contains(o))
                .map(|(o, _)| o)
                .collect();
            if let Some(h) = held {
                h.mark(&dest.io, &removed, state::NONEXISTENT, Some(state::PENDING))
                    .await?;
                // (NONEXISTENT only from PENDING, as cls_rbd)
                h.mark(&dest.io, &absent, state::PENDING, Some(state::EXISTS))
                    .await?;
                h.mark(&dest.io, &absent, state::NONEXISTENT, Some(state::PENDING))
                    .await?;
            }
        }
        if size < old_size {
            if let Some(h) = held {
                h.resize_map(&dest.io, layout.num_objects(size)).await?;
            }
        }
        drop(access);
        dest.refresh().await
    }

    /// The plans of objects `batch` (clone lists asked for concurrently).
    async fn plan_batch(
        &self,
        src: &Image,
        batch: std::ops::Range<u64>,
        from: u64,
        end: u64,
    ) -> Result<Vec<(u64, ObjectPlan)>> {
        let n = batch.end - batch.start;
        let jobs = batch.map(|object_no| {
            let io = src.data_io.clone();
            let oid = src.object_name(object_no);
            async move {
                match io.list_snaps(&oid).await {
                    Ok(ss) => Ok((object_no, plan_object(&ss, from, end))),
                    // never existed: the parent shows (or zeros), in the copy too
                    Err(e) if e.is(Errno::ENOENT) => Ok((object_no, ObjectPlan::Keep)),
                    Err(e) => Err(Error::from(e)),
                }
            }
        });
        let mut plans: Vec<(u64, ObjectPlan)> = run_bounded(jobs, n, &mut |_, _| {})
            .await?
            .into_iter()
            .filter(|(_, p)| *p != ObjectPlan::Keep)
            .collect();
        plans.sort_by_key(|(o, _)| *o);
        Ok(plans)
    }
}

/// ObjectCopyRequest for one object: the source's bytes (at the stage's snapshot, read
/// sparsely so holes stay holes) written to the copy's object under the copy's snap
/// context, or the copy's object removed.
async fn apply_plan(
    src_io: &IoCtx,
    src_oid: &str,
    dst_io: &IoCtx,
    dst_oid: String,
    plan: ObjectPlan,
    obj_size: u64,
) -> Result<()> {
    let (fresh, changed, size, start_size) = match plan {
        ObjectPlan::Keep | ObjectPlan::Mapped(_) => return Ok(()),
        ObjectPlan::Remove => {
            return match dst_io.remove(&dst_oid).await {
                Err(e) if !e.is(Errno::ENOENT) => Err(e.into()),
                _ => Ok(()),
            };
        }
        ObjectPlan::Write {
            fresh,
            changed,
            size,
            start_size,
        } => (fresh, changed, size, start_size),
    };
    let read = src_io.sparse_read(src_oid, 0, obj_size.max(size)).await?;
    let mut ranges = Intervals::new();
    let mut op = dst_io.op(dst_oid);
    if fresh {
        op = op
            .create(false)
            .set_alloc_hint(obj_size, obj_size, 0)
            .truncate(0);
        ranges.insert(0, size);
    } else {
        for (o, l) in changed.intersect(0, size) {
            ranges.insert(o, l);
            // what was there before and is a hole now
            if o < start_size {
                op = op.zero(o, l.min(start_size - o));
            }
        }
    }
    for (at, data) in extents_of(&read) {
        for (o, l) in ranges.intersect(at, data.len() as u64) {
            let rel = usize::try_from(o - at).unwrap_or(usize::MAX);
            let len = usize::try_from(l).unwrap_or(usize::MAX);
            if let Some(piece) = data.get(rel..rel.saturating_add(len)) {
                op = op.write(o, Bytes::copy_from_slice(piece));
            }
        }
    }
    // (a truncate to the size it has changes nothing the clone lists see)
    op = op.truncate(size);
    op.submit().await?;
    Ok(())
}

/// The data extents of a sparse read as (object offset, bytes).
fn extents_of(read: &rados::SparseRead) -> Vec<(u64, Bytes)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    for &(o, l) in &read.extents {
        let Ok(n) = usize::try_from(l) else { break };
        let Some(d) = read.data.get(at..at.saturating_add(n)) else {
            break;
        };
        out.push((o, read.data.slice_ref(d)));
        at += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snap_set_diff::test_support::clone;
    use denc::SnapId;
    use rados::SnapSet;

    const HEAD: u64 = SnapId::NOSNAP.0;

    #[test]
    fn plans_follow_the_clone_list() {
        // written before snapshot 4 (8 KiB), then 4 KiB..6 KiB rewritten and grown
        let ss = SnapSet {
            clones: vec![
                clone(4, &[4], &[(0, 4096), (6144, 2048)], 8192),
                clone(HEAD, &[], &[], 12288),
            ],
            seq: SnapId(4),
        };
        let fresh = plan_object(&ss, 0, 4);
        assert!(matches!(
            fresh,
            ObjectPlan::Write {
                fresh: true,
                size: 8192,
                ..
            }
        ));
        match plan_object(&ss, 4, HEAD) {
            ObjectPlan::Write {
                fresh,
                changed,
                size,
                start_size,
            } => {
                assert!(!fresh);
                assert_eq!(changed.ranges(), &[(4096, 2048), (8192, 4096)]);
                assert_eq!((size, start_size), (12288, 8192));
            }
            p => panic!("{p:?}"),
        }
        // last written before snapshot 4, unchanged since
        let ss = SnapSet {
            clones: vec![clone(HEAD, &[], &[], 4096)],
            seq: SnapId(3),
        };
        assert_eq!(plan_object(&ss, 4, HEAD), ObjectPlan::Keep);
        // a deep copyup (written under no snapshot) exists at every snapshot
        let ss = SnapSet {
            clones: vec![clone(HEAD, &[], &[], 4096)],
            seq: SnapId(0),
        };
        assert!(matches!(
            plan_object(&ss, 0, 4),
            ObjectPlan::Write { fresh: true, .. }
        ));
        // removed after snapshot 2: gone at the head, nothing to do from the beginning
        let ss = SnapSet {
            clones: vec![clone(2, &[2], &[], 4096)],
            seq: SnapId(2),
        };
        assert_eq!(plan_object(&ss, 2, HEAD), ObjectPlan::Remove);
        assert_eq!(plan_object(&ss, 0, HEAD), ObjectPlan::Keep);
    }

    #[test]
    fn sparse_extents_back_to_back() {
        let r = rados::SparseRead {
            extents: vec![(10, 2), (20, 3)],
            data: Bytes::from_static(b"abcde"),
        };
        let e = extents_of(&r);
        assert_eq!(
            e,
            vec![
                (10, Bytes::from_static(b"ab")),
                (20, Bytes::from_static(b"cde"))
            ]
        );
        let short = rados::SparseRead {
            extents: vec![(0, 9)],
            data: Bytes::from_static(b"ab"),
        };
        assert!(extents_of(&short).is_empty());
    }
}
