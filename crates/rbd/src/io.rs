//! Data I/O on an open image: requests are clipped to the image size as librbd clips
//! them (`clip_io`: starting at or past the end is EINVAL, running past it is cut short),
//! split by the [`Layout`](crate::striper::Layout) into one operation per object, and
//! the per-object operations run concurrently. Writes carry the image's snap context.
//!
//! There is no cache: `flush` has nothing to do once the calls returned (each write
//! returns after the OSDs committed it).

use bytes::{Bytes, BytesMut};
use rados::{Errno, IoCtx};
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::exclusive_lock::{Access, Held};
use crate::image::Image;
use crate::names;
use crate::object_map::state;
use crate::striper::ObjectExtent;

/// How many object operations one call keeps in flight.
const MAX_IN_FLIGHT: usize = 64;

/// What to do with one object's part of a discard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiscardAction {
    Remove,
    Truncate(u64),
    Zero(u64, u64),
    /// A clone's whole object the parent backs: kept, empty (create + truncate).
    Hide,
}

impl Image {
    /// `off..off + len` cut to the image as last read: `None` for an empty request,
    /// PastEnd when it starts at or past the end.
    fn clip(&self, off: u64, len: u64) -> Result<Option<u64>> {
        if len == 0 {
            return Ok(None);
        }
        let size = self.io_size();
        if off >= size {
            return Err(Error::PastEnd { offset: off, size });
        }
        Ok(Some(len.min(size - off)))
    }

    pub(crate) fn object_name(&self, object_no: u64) -> String {
        names::data_object(&self.info.block_name_prefix, object_no)
    }

    /// Reads `len` bytes at `off` (`rbd_read`); holes read as zeros, a request running
    /// past the end returns the bytes up to the end.
    pub async fn read(&self, off: u64, len: u64) -> Result<Bytes> {
        self.check_readable()?;
        self.refresh_if_required().await?;
        let Some(len) = self.clip(off, len)? else {
            return Ok(Bytes::new());
        };
        let buf_len =
            usize::try_from(len).map_err(|_| Error::InvalidArgument("read larger than memory"))?;
        let mut extents = self.info.layout().file_to_extents(off, len);
        // while we own the lock, a valid object map says which objects are not there
        let access = match self.snap_id {
            None => self.lock.as_ref().and_then(|l| l.try_read_access()),
            Some(_) => None,
        };
        let parent = self.parent_link();
        // (a clone's missing objects read the parent: no skipping)
        if let (Some(h), None) = (held(&access), &parent) {
            let mut kept = Vec::with_capacity(extents.len());
            for ex in extents {
                if h.may_exist(ex.object_no).await {
                    kept.push(ex);
                }
            }
            extents = kept;
        }
        let results = run_all(extents, |ex| {
            let io = self.data_io.clone();
            let oid = self.object_name(ex.object_no);
            let parent = parent.clone();
            async move {
                match io.read(&oid, ex.offset, ex.length).await {
                    Ok(data) => Ok((ex, data)),
                    Err(e) if e.is(Errno::ENOENT) => match parent {
                        // io/ObjectRequest.cc read_parent: the same image ranges, from the parent
                        Some(link) => {
                            let ranges: Vec<(u64, u64)> = ex
                                .buffer_extents
                                .iter()
                                .map(|&(b, l)| (off + b, l))
                                .collect();
                            let data = link.read_ranges(&ranges).await?;
                            Ok((ex, data))
                        }
                        None => Ok((ex, Bytes::new())),
                    },
                    Err(e) => Err(Error::from(e)),
                }
            }
        })
        .await?;
        // one object range filling the whole request, read in full: hand out the received
        // bytes as they are (no copy)
        if let [(ex, data)] = results.as_slice() {
            if ex.buffer_extents.as_slice() == [(0, len)] && data.len() as u64 == len {
                return Ok(data.clone());
            }
        }
        let mut buf = BytesMut::zeroed(buf_len);
        for (ex, data) in results {
            scatter(&mut buf, &ex, &data);
        }
        Ok(buf.freeze())
    }

    /// Writes `data` at `off` (`rbd_write`); returns the bytes written (fewer when the
    /// write runs past the end of the image).
    pub async fn write(&self, off: u64, data: impl Into<Bytes>) -> Result<u64> {
        self.check_writable()?;
        let data: Bytes = data.into();
        if data.is_empty() {
            return Ok(0);
        }
        // the lock first: taking it reads the header again (another client may have
        // resized the image while it held the lock), then the clip to the size of now
        let access = self.write_access().await?;
        let Some(len) = self.clip(off, data.len() as u64)? else {
            return Ok(0);
        };
        let object_size = self.info.obj_size;
        let extents = self.info.layout().file_to_extents(off, len);
        if let Some(h) = held(&access) {
            let objects: Vec<u64> = extents.iter().map(|e| e.object_no).collect();
            h.mark(&self.io, &objects, state::EXISTS, None).await?;
        }
        let wio = self.write_io();
        let clone = self.clone_writer(held(&access));
        let exist = self.may_exist_all(&extents, held(&access)).await;
        run_all(extents, |ex| {
            let io = wio.clone();
            let oid = self.object_name(ex.object_no);
            let payload = gather(&data, &ex);
            let clone = clone.clone().filter(|c| c.covers(ex.object_no));
            let may_exist = exist.get(&ex.object_no).copied().unwrap_or(true);
            async move {
                if let Some(c) = clone {
                    let op = crate::copyup::ObjectOp::Write(ex.offset, payload);
                    return c.run(ex.object_no, op, may_exist).await.map(|_| ());
                }
                io.op(oid)
                    .set_alloc_hint(object_size, object_size, 0)
                    .write(ex.offset, payload)
                    .submit()
                    .await?;
                Ok(())
            }
        })
        .await?;
        Ok(len)
    }

    /// Discards `len` bytes at `off` (`rbd_discard`): whole objects are removed, object
    /// tails truncated, other ranges zeroed; reads of the range return zeros after.
    /// Returns the bytes discarded.
    pub async fn discard(&self, off: u64, len: u64) -> Result<u64> {
        self.check_writable()?;
        if len == 0 {
            return Ok(0);
        }
        let access = self.write_access().await?;
        let Some(len) = self.clip(off, len)? else {
            return Ok(0);
        };
        let object_size = self.info.obj_size;
        let extents = self.info.layout().file_to_extents(off, len);
        let plan = extents
            .into_iter()
            .map(|ex| {
                let action = if ex.offset == 0 && ex.length == object_size {
                    DiscardAction::Remove
                } else if ex.offset + ex.length == object_size {
                    DiscardAction::Truncate(ex.offset)
                } else {
                    DiscardAction::Zero(ex.offset, ex.length)
                };
                (ex.object_no, action)
            })
            .collect();
        self.discard_objects(plan, held(&access), CloneMode::Discard, &mut |_, _| {})
            .await?;
        Ok(len)
    }

    /// Zeroes `len` bytes at `off` (`rbd_write_zeroes`); the same as [`Image::discard`]
    /// here (both leave zeros behind). Returns the bytes zeroed.
    pub async fn write_zeroes(&self, off: u64, len: u64) -> Result<u64> {
        self.discard(off, len).await
    }

    /// Waits for written data to be durable (`rbd_flush`): with no cache, every write
    /// already returned after the OSDs committed it, so there is nothing to wait for.
    pub async fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Removes the data of `new_size..old_size` (shrinking): each object's part of that
    /// range is a suffix of the object, so it is removed (suffix from 0) or truncated.
    /// `progress(done, total)` counts the objects of the plan as they are done.
    pub(crate) async fn trim(
        &self,
        new_size: u64,
        old_size: u64,
        held: Option<&Held>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<()> {
        let extents = self
            .info
            .layout()
            .file_to_extents(new_size, old_size - new_size);
        let plan = extents
            .into_iter()
            .map(|ex| {
                let action = if ex.offset == 0 {
                    DiscardAction::Remove
                } else {
                    DiscardAction::Truncate(ex.offset)
                };
                (ex.object_no, action)
            })
            .collect();
        // operation/TrimRequest.cc: a clone's boundary object is truncated through the
        // write path (copied up first when absent), and with snapshots the objects past
        // it are copied up before they go, so the snapshots keep the parent's data after
        // set_size cuts the overlap
        self.discard_objects(plan, held, CloneMode::Trim, progress)
            .await
    }

    /// Runs discard actions, keeping the object map in step (ObjectDiscardRequest):
    /// objects a valid map says do not exist are skipped; removed objects go PENDING
    /// before and NONEXISTENT after, truncated or zeroed ones are (still) EXISTS.
    /// Objects of a clone the parent backs are copied up first (see [`CloneMode`]).
    async fn discard_objects(
        &self,
        plan: Vec<(u64, DiscardAction)>,
        held: Option<&Held>,
        mode: CloneMode,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<()> {
        let total = plan.len() as u64;
        let mut done = 0;
        let mut run = Vec::with_capacity(plan.len());
        let (mut removed, mut kept) = (Vec::new(), Vec::new());
        let clone = self.clone_writer(held);
        for (object_no, mut action) in plan {
            let mut covered = clone.as_ref().filter(|c| c.covers(object_no)).cloned();
            if action == DiscardAction::Remove && mode == CloneMode::Trim {
                // whole objects past the new end: a plain remove unless snapshots
                // must keep the parent's data
                covered = covered.filter(|c| !c.snaps.is_empty());
            }
            let may_exist = match held {
                Some(h) => h.may_exist(object_no).await,
                None => true,
            };
            if !may_exist && covered.is_none() {
                // nothing to do for it: done already
                done += 1;
                progress(done, total);
                continue;
            }
            if covered.is_some() && action == DiscardAction::Remove && mode == CloneMode::Discard {
                action = DiscardAction::Hide;
            }
            match action {
                DiscardAction::Remove => removed.push(object_no),
                _ => kept.push(object_no),
            }
            run.push((object_no, action, covered, may_exist));
        }
        if let Some(h) = held {
            h.mark(&self.io, &removed, state::PENDING, None).await?;
            h.mark(&self.io, &kept, state::EXISTS, None).await?;
        }
        let wio = self.write_io();
        let on_done = || {
            done += 1;
            progress(done, total);
        };
        run_all_with(run, on_done, |(object_no, action, covered, may_exist)| {
            let io = wio.clone();
            let oid = self.object_name(object_no);
            async move {
                match covered {
                    Some(c) => c
                        .run(object_no, action.clone_op(), may_exist)
                        .await
                        .map(|_| ()),
                    None => discard_object(io, oid, action).await,
                }
            }
        })
        .await?;
        if let Some(h) = held {
            h.mark(&self.io, &removed, state::NONEXISTENT, Some(state::PENDING))
                .await?;
        }
        Ok(())
    }

    /// Removes data objects `range` (missing ones are fine).
    /// Removes every data object of `0..count` (an image being removed), skipping those a
    /// valid object map (`map`) says do not exist, as librbd's TrimRequest does;
    /// `progress(done, count)` is called as objects are done.
    pub(crate) async fn remove_objects(
        &self,
        count: u64,
        map: Option<&crate::object_map::BitVector2>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let mut set = JoinSet::new();
        let mut done = 0;
        for object_no in 0..count {
            let absent =
                map.is_some_and(|m| object_no < m.len() && m.get(object_no) == state::NONEXISTENT);
            if absent {
                done += 1;
                progress(done, count);
                continue;
            }
            if set.len() >= MAX_IN_FLIGHT {
                join_one(&mut set).await?;
                done += 1;
                progress(done, count);
            }
            let io = self.data_io.clone();
            let oid = self.object_name(object_no);
            set.spawn(async move { discard_object(io, oid, DiscardAction::Remove).await });
        }
        while !set.is_empty() {
            join_one(&mut set).await?;
            done += 1;
            progress(done, count);
        }
        Ok(())
    }
}

/// How discards treat a clone's objects the parent backs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloneMode {
    /// `rbd_discard`: copied up, and whole objects kept empty (hidden) rather than
    /// removed, so the parent's data does not show through.
    Discard,
    /// Shrinking: partial objects copied up then truncated; whole objects removed,
    /// copied up first only when snapshots need the parent's data.
    Trim,
}

impl DiscardAction {
    fn clone_op(self) -> crate::copyup::ObjectOp {
        use crate::copyup::ObjectOp;
        match self {
            DiscardAction::Remove => ObjectOp::Remove,
            DiscardAction::Hide => ObjectOp::Hide,
            DiscardAction::Truncate(at) => ObjectOp::Truncate(at),
            DiscardAction::Zero(o, l) => ObjectOp::Zero(o, l),
        }
    }
}

/// The lock state behind an access, when we hold the lock.
pub(crate) fn held(access: &Option<Access>) -> Option<&Held> {
    access.as_ref().and_then(|a| a.as_ref())
}

async fn discard_object(io: IoCtx, oid: String, action: DiscardAction) -> Result<()> {
    // an object that does not exist already reads as zeros: nothing to create
    let op = io.op(oid);
    let r = match action {
        DiscardAction::Remove => op.remove().submit().await,
        DiscardAction::Truncate(at) => op.assert_exists().truncate(at).submit().await,
        DiscardAction::Zero(o, l) => op.assert_exists().zero(o, l).submit().await,
        DiscardAction::Hide => op.create(false).truncate(0).submit().await,
    };
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Image {
    /// Whether each object of `extents` may exist (a valid object map's answer; all
    /// true without one).
    async fn may_exist_all(
        &self,
        extents: &[ObjectExtent],
        held: Option<&Held>,
    ) -> std::collections::HashMap<u64, bool> {
        let mut out = std::collections::HashMap::new();
        if let (Some(h), Some(_)) = (held, self.parent_link()) {
            for ex in extents {
                out.insert(ex.object_no, h.may_exist(ex.object_no).await);
            }
        }
        out
    }
}

/// Copies an object read into the caller's buffer along the extent's pieces; bytes past
/// what the object held stay zero.
pub(crate) fn scatter(buf: &mut [u8], ex: &ObjectExtent, data: &[u8]) {
    let mut obj_pos = 0usize;
    for &(b_off, b_len) in &ex.buffer_extents {
        let (Ok(b_off), Ok(b_len)) = (usize::try_from(b_off), usize::try_from(b_len)) else {
            return;
        };
        let avail = data.len().saturating_sub(obj_pos).min(b_len);
        if let (Some(dst), Some(src)) = (
            buf.get_mut(b_off..b_off + avail),
            data.get(obj_pos..obj_pos + avail),
        ) {
            dst.copy_from_slice(src);
        }
        obj_pos += b_len;
    }
}

/// The bytes of `data` one object receives, in object order (a slice, no copy, when the
/// extent has a single piece).
fn gather(data: &Bytes, ex: &ObjectExtent) -> Bytes {
    let piece = |&(o, l): &(u64, u64)| {
        let o = usize::try_from(o).unwrap_or(usize::MAX);
        let l = usize::try_from(l).unwrap_or(0);
        let end = o.saturating_add(l).min(data.len());
        data.slice(o.min(end)..end)
    };
    match ex.buffer_extents.as_slice() {
        [one] => piece(one),
        many => {
            let mut out = BytesMut::with_capacity(usize::try_from(ex.length).unwrap_or(0));
            for p in many {
                out.extend_from_slice(&piece(p));
            }
            out.freeze()
        }
    }
}

pub(crate) async fn join_one<T: Send + 'static>(set: &mut JoinSet<Result<T>>) -> Result<Option<T>> {
    match set.join_next().await {
        None => Ok(None),
        Some(Ok(r)) => r.map(Some),
        Some(Err(_)) => Err(Error::Rados(rados::Error::Shutdown)),
    }
}

/// Runs one future per extent (a single one in the caller's task, more as tasks), at
/// most [`MAX_IN_FLIGHT`] at a time, and collects their
/// results (in completion order). The first error ends the call (the rest are dropped,
/// which cancels them).
async fn run_all<I, T, F, Fut>(extents: Vec<I>, f: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: FnMut(I) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    run_all_with(extents, || {}, f).await
}

/// [`run_all`], calling `on_done` as each future finishes (progress).
async fn run_all_with<I, T, F, Fut>(
    extents: Vec<I>,
    mut on_done: impl FnMut(),
    mut f: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: FnMut(I) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let mut out = Vec::with_capacity(extents.len());
    if extents.len() == 1 {
        // one object (most small requests): run it in the caller's task, no spawn
        for ex in extents {
            out.push(f(ex).await?);
            on_done();
        }
        return Ok(out);
    }
    let mut set = JoinSet::new();
    for ex in extents {
        if set.len() >= MAX_IN_FLIGHT {
            if let Some(v) = join_one(&mut set).await? {
                out.push(v);
                on_done();
            }
        }
        set.spawn(f(ex));
    }
    while let Some(v) = join_one(&mut set).await? {
        out.push(v);
        on_done();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_short_object() {
        let ex = ObjectExtent {
            object_no: 0,
            offset: 0,
            length: 8,
            buffer_extents: vec![(0, 4), (10, 4)],
        };
        let mut buf = vec![0u8; 14];
        scatter(&mut buf, &ex, b"abcdef");
        assert_eq!(&buf, b"abcd\0\0\0\0\0\0ef\0\0");
        let data = Bytes::from_static(b"0123456789ABCDEF");
        assert_eq!(&gather(&data, &ex)[..], b"0123ABCD");
    }
}
