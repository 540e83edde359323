//! Copying an image's data to a new image (`rbd_copy4`, src/librbd/internal.cc `copy`)
//! and sparsifying an image in place (`rbd_sparsify`,
//! src/librbd/operation/SparsifyRequest.cc).
//!
//! A copy reads the source (its head, or the snapshot the handle is set to) one stripe
//! period at a time and writes only the non-zero `sparse_size` runs of each period, so
//! holes stay holes; the image metadata (`image-meta`) is copied first, as librbd's
//! MetadataCopyRequest does. Snapshots are not copied (that is a deep copy).

use std::future::Future;

use rados::Errno;
use tokio::task::JoinSet;

use crate::cls::Method;
use crate::create::CreateOptions;
use crate::error::{Error, Result};
use crate::features;
use crate::image::{Image, OpenMode};
use crate::io::{held, join_one};
use crate::object_map::state;
use crate::pool::Rbd;

/// Requests in flight during a copy or a sparsify (`rbd_concurrent_management_ops`).
const CONCURRENT_OPS: usize = 10;

/// The smallest sparse size librbd accepts.
const MIN_SPARSE_SIZE: u64 = 4096;

/// Options of [`Image::copy_to`]: `None` fields are taken from the source image, as
/// `rbd_copy4` does (features, order, striping); the data pool is never inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Feature bits of the copy (default: the source's).
    pub features: Option<u64>,
    /// Object size order of the copy (default: the source's).
    pub order: Option<u8>,
    /// Stripe unit and count of the copy (default: the source's).
    pub striping: Option<(u64, u64)>,
    /// Data pool of the copy (default: none).
    pub data_pool: Option<String>,
    /// Granularity of the holes kept (default: the copy's object size, as librbd's API;
    /// the `rbd` tool passes 4 KiB).
    pub sparse_size: Option<u64>,
    /// Deep copies of clones: a standalone copy with the parent's data merged in
    /// (`RBD_IMAGE_OPTION_FLATTEN`, `rbd deep cp --flatten`) instead of a clone of the
    /// same parent snapshot.
    pub flatten: bool,
}

/// The byte runs of `data` worth writing: maximal runs of `chunk`-sized pieces (counted
/// from the start of `data`) that are not all zeros (`util::calc_sparse_extent`).
pub(crate) fn nonzero_runs(data: &[u8], chunk: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for piece in data.chunks(chunk.max(1)) {
        let zero = piece.iter().all(|&b| b == 0);
        match (zero, start) {
            (false, None) => start = Some(pos),
            (true, Some(s)) => {
                runs.push((s, pos - s));
                start = None;
            }
            _ => {}
        }
        pos += piece.len();
    }
    if let Some(s) = start {
        runs.push((s, pos - s));
    }
    runs
}

/// Runs `jobs` with at most [`CONCURRENT_OPS`] in flight, reporting each finished one to
/// `progress(done, total)`; returns their results in completion order.
pub(crate) async fn run_bounded<T, F>(
    jobs: impl Iterator<Item = F>,
    total: u64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let mut set = JoinSet::new();
    let mut out = Vec::new();
    for job in jobs {
        if set.len() >= CONCURRENT_OPS {
            out.extend(join_one(&mut set).await?);
            progress(out.len() as u64, total);
        }
        set.spawn(job);
    }
    while let Some(r) = join_one(&mut set).await? {
        out.push(r);
        progress(out.len() as u64, total);
    }
    Ok(out)
}

/// The feature bits a copy or import asks for: the source's, less those librbd sets
/// itself or derives from other options (fast-diff, although "implicitly enabled", is
/// asked for like the others).
pub(crate) fn askable_features(f: u64) -> u64 {
    f & !(features::INTERNAL | features::STRIPINGV2 | features::DATA_POOL | features::NON_PRIMARY)
}

impl Image {
    /// The options of a copy of `size` bytes: `opts`, else this image's order, features
    /// and striping (never its data pool), as `rbd_copy4` / `rbd_deep_copy` do.
    pub(crate) fn copy_create_options(&self, opts: &CopyOptions, size: u64) -> CreateOptions {
        let src = &self.info;
        let (stripe_unit, stripe_count) =
            opts.striping.unwrap_or((src.stripe_unit, src.stripe_count));
        CreateOptions {
            size,
            order: Some(opts.order.unwrap_or(src.order)),
            features: Some(askable_features(opts.features.unwrap_or(src.features))),
            stripe_unit,
            stripe_count,
            data_pool: opts.data_pool.clone(),
        }
    }

    /// Copies this image (its head, or the snapshot the handle is set to) to a new image
    /// `dest_name` of `dest` (`rbd_copy4` with a progress callback `progress(done,
    /// total)`). Zero runs of `sparse_size` stay unallocated in the copy.
    pub async fn copy_to(
        &self,
        dest: &Rbd,
        dest_name: &str,
        opts: &CopyOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        self.check_readable()?;
        dest.create(dest_name, &self.copy_create_options(opts, self.info.size))
            .await?;
        let copy = dest.open(dest_name, OpenMode::ReadWrite).await?;
        let r = self.copy_data(&copy, opts.sparse_size, &mut progress).await;
        let closed = copy.close().await;
        r.and(closed)
    }

    /// Copies this image with all its user snapshots to a new image `dest_name` of `dest`
    /// (`rbd_deep_copy`): the same features, object size and striping unless `opts`
    /// says otherwise, the image metadata, then for each snapshot, oldest first, what
    /// changed since the previous one (the size, the extents `diff` reports) followed by
    /// a snapshot of the same name (protected if the source's is), and last the head.
    /// Snapshot ids and timestamps are the copy's own. `progress(done, total)` counts
    /// the objects copied when they are copied in one pass (deep_copy_pass.rs: the same
    /// object size, no striping; a clone, or an image whose size never shrinks from one
    /// snapshot to the next), else the snapshots and the head.
    ///
    /// A handle set to a snapshot copies the snapshots up to that one (it included, when
    /// it is a user snapshot) and a head holding the data at it, as `rbd_deep_copy`'s
    /// `snap_id_end` does.
    ///
    /// A clone (its oldest snapshot, or its head, has a parent) is copied as a clone of
    /// the same parent snapshot, registered as its child, with the source's parent
    /// overlap at each snapshot and at the head and only the clone's own objects copied
    /// (into another object size or striping, a copy object that holds some of them is
    /// completed with the parent's data, as librbd's); with `opts.flatten` the copy is
    /// standalone, the parent's data merged in.
    pub async fn deep_copy_to(
        &self,
        dest: &Rbd,
        dest_name: &str,
        opts: &CopyOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        self.check_readable()?;
        // api/Image.cc deep_copy: a handle at a snapshot copies up to it (snap_id_end)
        let end = self.snap_id.unwrap_or(crate::cls::rbd::NOSNAP);
        let snaps: Vec<_> = self
            .snap_list()
            .await?
            .into_iter()
            .filter(|s| s.namespace == crate::cls::snap::SnapshotNamespace::User && s.id <= end)
            .collect();
        let stages = self.deep_copy_stages(&snaps).await?;
        // api/Image.cc deep_copy: the oldest snapshot's parent, else the head's
        let parent = stages.first().and_then(|(_, s)| s.info.parent.clone());
        if let (Some(parent), false) = (&parent, opts.flatten) {
            return self
                .deep_copy_clone(dest, dest_name, opts, stages, parent, &mut progress)
                .await;
        }
        let size = snaps.first().map_or(self.info.size, |s| s.size);
        dest.create(dest_name, &self.copy_create_options(opts, size))
            .await?;
        let mut copy = dest.open(dest_name, OpenMode::ReadWrite).await?;
        let r = self.deep_copy_data(&mut copy, stages, &mut progress).await;
        let closed = copy.close().await;
        r.and(closed)
    }

    /// The stages (each snapshot, then the head) copied through the image: what changed
    /// since the previous stage, read (through the parent, for a clone: flatten) and
    /// written.
    async fn deep_copy_data(
        &self,
        dest: &mut Image,
        stages: Vec<(Option<&crate::snapshot::SnapInfo>, Image)>,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        for (key, value) in &self.metadata_list().await? {
            dest.metadata_set(key, &value[..]).await?;
        }
        if let Some(mode) = crate::deep_copy_pass::one_pass_mode(&stages, dest) {
            return self.deep_copy_one_pass(dest, stages, mode, progress).await;
        }
        let total = stages.len() as u64;
        let mut from: Option<&str> = None;
        let mut ended_at = None;
        for (i, (snap, src)) in stages.into_iter().enumerate() {
            let size = src.info.size;
            if dest.info.size != size {
                dest.resize(size, true).await?;
            }
            // from the beginning the parent's data counts as the clone's
            let extents = src.diff(from, 0, size, from.is_none(), false).await?;
            let n = extents.len() as u64;
            // where a clone has no object the parent shows (when flattening)
            let overlap = src.parent.as_ref().map_or(0, |l| l.overlap);
            // one write op per object where the layout allows (ObjectCopyRequest)
            let batched = crate::deep_copy_objects::copy_stage(&src, dest, &extents, overlap);
            let extents = if batched.await? { Vec::new() } else { extents };
            let jobs = extents.into_iter().map(|e| {
                let (src, dest) = (src.clone(), dest.clone());
                async move {
                    if e.exists || e.offset < overlap {
                        let data = src.read(e.offset, e.length).await?;
                        dest.write_sparse(e.offset, data).await
                    } else {
                        dest.write_zeroes(e.offset, e.length).await.map(drop)
                    }
                }
            });
            run_bounded(jobs, n, &mut |_, _| {}).await?;
            if let Some(s) = snap {
                ended_at = Some(&s.name);
                // deep_copy/SnapshotCreateRequest.cc: no quiesce for copied snapshots
                dest.create_snap2(&s.name, crate::snap_create_flags::SKIP_QUIESCE)
                    .await?;
                if s.is_protected() {
                    dest.protect_snap(&s.name).await?;
                }
                from = Some(&s.name);
            } else {
                ended_at = None;
            }
            progress(i as u64 + 1, total);
        }
        match ended_at {
            Some(name) => dest.head_object_map_from_snap(name).await,
            None => Ok(()),
        }
    }

    /// The head's object map becomes user snapshot `name`'s (DeepCopyRequest
    /// `send_copy_object_map`: a deep copy that ends at a snapshot), when the image has
    /// one.
    pub(crate) async fn head_object_map_from_snap(&self, name: &str) -> Result<()> {
        if self.info.features & features::OBJECT_MAP == 0 {
            return Ok(());
        }
        let id = self.snap_id(name).await?;
        let guard = self.snap_lock().await?;
        let held = guard.as_ref().and_then(|g| g.as_ref());
        self.rollback_object_map(id, held).await
    }

    /// Copies the image metadata, then the data, into `dest` (at least as large).
    async fn copy_data(
        &self,
        dest: &Image,
        sparse_size: Option<u64>,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        let size = self.info.size;
        if dest.info.size < size {
            return Err(Error::InvalidArgument(
                "the destination is smaller than the source",
            ));
        }
        let meta = self.metadata_list().await?;
        for (key, value) in &meta {
            dest.metadata_set(key, &value[..]).await?;
        }
        let period = self.info.layout().period().max(1);
        let chunk = usize::try_from(sparse_size.unwrap_or(dest.info.obj_size).max(1))
            .map_err(|_| Error::InvalidArgument("sparse size larger than memory"))?;
        let periods = size.div_ceil(period);
        let jobs = (0..periods).map(|i| {
            let (src, dest) = (self.clone(), dest.clone());
            async move {
                let off = i * period;
                let data = src.read(off, period.min(size - off)).await?;
                for (at, len) in nonzero_runs(&data, chunk) {
                    dest.write(off + at as u64, data.slice(at..at + len))
                        .await?;
                }
                Ok(())
            }
        });
        run_bounded(jobs, periods, progress).await?;
        progress(periods, periods);
        Ok(())
    }

    /// Deallocates the zero runs of `sparse_size` (a power of two from 4 KiB to the
    /// object size) in every data object (`rbd_sparsify_with_progress`): the OSDs'
    /// `rbd.sparsify` punches them out, removing objects left all zeros unless a parent
    /// shows through them; the object map follows. Needs the exclusive lock.
    pub async fn sparsify(
        &self,
        sparse_size: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        self.check_writable()?;
        if sparse_size < MIN_SPARSE_SIZE
            || sparse_size > self.info.obj_size
            || !sparse_size.is_power_of_two()
        {
            return Err(Error::InvalidArgument(
                "sparse size must be a power of two from 4096 to the object size",
            ));
        }
        let access = self.write_access().await?;
        let held = held(&access);
        // objects that reach into the parent's overlap must stay, even all zeros
        let overlap_objects = match &self.info.parent {
            Some(p) => self.info.layout().num_objects(p.overlap),
            None => 0,
        };
        let mut todo = Vec::new();
        for object_no in 0..self.info.num_objs {
            match held {
                Some(h) if !h.may_exist(object_no).await => {}
                _ => todo.push(object_no),
            }
        }
        let total = todo.len() as u64;
        let has_map = held.is_some_and(|h| h.has_map());
        let mut jobs = Vec::with_capacity(todo.len());
        for object_no in todo {
            let io = self.write_io();
            let oid = self.object_name(object_no);
            let remove_empty = object_no >= overlap_objects;
            let call = sparsify_call(sparse_size, remove_empty)?;
            jobs.push(async move {
                match call.call(&io, &oid).await {
                    Ok(_) => {}
                    Err(Error::Rados(e)) if e.is(Errno::ENOENT) => return Ok((object_no, false)),
                    Err(e) => return Err(e),
                }
                if !remove_empty {
                    return Ok((object_no, true));
                }
                match io.stat(&oid).await {
                    Ok(_) => Ok((object_no, true)),
                    Err(e) if e.is(Errno::ENOENT) => Ok((object_no, false)),
                    Err(e) => Err(e.into()),
                }
            });
        }
        let finished = run_bounded(jobs.into_iter(), total, &mut progress).await?;
        // the OSDs removed the objects left all zeros: the object map says so after
        // (librbd marks them PENDING around the call; nothing else writes meanwhile,
        // as we hold the lock for the whole operation)
        if let (Some(h), true) = (held, has_map) {
            let gone: Vec<u64> = finished
                .iter()
                .filter(|(_, exists)| !exists)
                .map(|(o, _)| *o)
                .collect();
            h.mark(&self.io, &gone, state::PENDING, Some(state::EXISTS))
                .await?;
            h.mark(&self.io, &gone, state::NONEXISTENT, Some(state::PENDING))
                .await?;
        }
        progress(total, total);
        Ok(())
    }
}

/// `rbd.sparsify(sparse_size, remove_empty)` (cls_rbd.cc `sparsify`).
fn sparsify_call(sparse_size: u64, remove_empty: bool) -> Result<Method> {
    Method::new("sparsify", |w| {
        w.put_u64(sparse_size);
        w.put_bool(remove_empty);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_nonzero_chunks() {
        let mut d = vec![0u8; 16];
        assert!(nonzero_runs(&d, 4).is_empty());
        d[5] = 1;
        assert_eq!(nonzero_runs(&d, 4), vec![(4, 4)]);
        d[8] = 1;
        d[15] = 1;
        assert_eq!(nonzero_runs(&d, 4), vec![(4, 12)]);
        d[8] = 0;
        assert_eq!(nonzero_runs(&d, 4), vec![(4, 4), (12, 4)]);
        // a short tail counts as a piece of its own
        let t = [0, 0, 0, 0, 0, 7];
        assert_eq!(nonzero_runs(&t, 4), vec![(4, 2)]);
        assert_eq!(nonzero_runs(&t, 1), vec![(5, 1)]);
    }
}
