//! Reading clones through to their parents (librbd/image/RefreshParentRequest.cc,
//! io/ObjectRequest.cc `read_parent`, io/Utils.cc): a child object that does not exist
//! reads the parent image at the parent snapshot, in image offsets (the parent's striping
//! may differ), only below the child's overlap; past it, zeros. Parents may be clones
//! themselves, in other pools and namespaces.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use denc::SnapId;
use rados::{Errno, IoCtx};
use tracing::debug;

use crate::cls::parent::{self as p, ParentSpec};
use crate::cls::{self, Method, rbd as m};
use crate::error::{Error, Result};
use crate::features;
use crate::names;
use crate::snap_set_diff::Intervals;
use crate::striper::{Layout, ObjectExtent};

/// Clone chains deeper than this are refused (a loop in broken metadata must not recurse
/// forever; librbd has no limit but real chains are short).
pub const MAX_CHAIN_DEPTH: usize = 64;

/// A parent image opened at its snapshot: where its objects are and what it reads
/// through to.
#[derive(Debug)]
pub(crate) struct Source {
    /// Data objects, reads at the parent snapshot.
    pub(crate) data_io: IoCtx,
    pub(crate) prefix: String,
    pub(crate) layout: Layout,
    /// The image size at the snapshot.
    pub(crate) size: u64,
    /// Its own parent (at this snapshot), if it is a clone too.
    pub(crate) parent: Option<ParentLink>,
}

/// A child's link to its parent: the parent and the child's overlap (bytes of the child,
/// from offset 0, backed by the parent).
#[derive(Debug, Clone)]
pub(crate) struct ParentLink {
    pub(crate) spec: ParentSpec,
    pub(crate) source: Arc<Source>,
    pub(crate) overlap: u64,
}

/// The image ranges object `object_no`'s bytes `off..off + len` hold (`Striper::
/// extent_to_file`), in object order, adjacent ranges merged.
pub(crate) fn object_to_image(
    layout: &Layout,
    object_no: u64,
    off: u64,
    len: u64,
) -> Vec<(u64, u64)> {
    let su = layout.stripe_unit;
    let sc = layout.stripe_count;
    let stripes_per_object = layout.object_size / su;
    let object_set = object_no / sc;
    let stripe_pos = object_no % sc;
    let mut out: Vec<(u64, u64)> = Vec::new();
    let (mut cur, end) = (off, off.saturating_add(len));
    while cur < end {
        let row = cur / su;
        let stripe_no = object_set * stripes_per_object + row;
        let block_no = stripe_no * sc + stripe_pos;
        let image_off = block_no * su + cur % su;
        let n = (su - cur % su).min(end - cur);
        match out.last_mut() {
            Some(last) if last.0 + last.1 == image_off => last.1 += n,
            _ => out.push((image_off, n)),
        }
        cur += n;
    }
    out
}

/// `ranges` cut to `0..overlap` (`ImageCtx::prune_parent_extents`), keeping each range's
/// position: (index into the caller's buffer, image offset, length).
fn prune(ranges: &[(u64, u64)], overlap: u64) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for &(off, len) in ranges {
        if off < overlap {
            out.push((pos, off, len.min(overlap - off)));
        }
        pos += len;
    }
    out
}

impl ParentLink {
    /// Whether any byte of `ranges` (image offsets) is backed by the parent.
    pub(crate) fn covers(&self, ranges: &[(u64, u64)]) -> bool {
        ranges
            .iter()
            .any(|&(off, len)| len > 0 && off < self.overlap)
    }

    /// The parent's bytes for `ranges` (child image offsets), one after the other in a
    /// buffer of their total length: zeros past the overlap and where the parent has no
    /// data.
    pub(crate) async fn read_ranges(&self, ranges: &[(u64, u64)]) -> Result<Bytes> {
        Ok(self.read_ranges_with(ranges, false).await?.0)
    }

    /// [`ParentLink::read_ranges`], and where in the buffer the parent's objects have
    /// extents (sparse reads: a copyup copies exactly those, as librbd's CopyupRequest
    /// copies the extent map of its parent read).
    pub(crate) async fn read_ranges_sparse(
        &self,
        ranges: &[(u64, u64)],
    ) -> Result<(Bytes, Intervals)> {
        self.read_ranges_with(ranges, true).await
    }

    /// What a copyup of `ranges` (child image offsets; their positions one after the
    /// other are the child object's offsets) writes: the parent's extents (position ->
    /// length) and their bytes back to back, as `sparse_copyup` takes them. When the
    /// ranges fall in one parent object that exists (the usual clone, same object size),
    /// the sparse read's reply is that payload as received: not zeroed, scattered or
    /// copied.
    pub(crate) async fn read_for_copyup(
        &self,
        ranges: &[(u64, u64)],
    ) -> Result<(BTreeMap<u64, u64>, Bytes)> {
        if let Some(found) = self.read_one_object_for_copyup(ranges).await? {
            return Ok(found);
        }
        let (data, found) = self.read_ranges_sparse(ranges).await?;
        let mut extents = BTreeMap::new();
        let mut payload = Vec::new();
        for &(o, l) in found.ranges() {
            if let Some(b) = data.get(to_usize(o)?..to_usize(o.saturating_add(l))?) {
                extents.insert(o, l);
                payload.extend_from_slice(b);
            }
        }
        Ok((extents, Bytes::from(payload)))
    }

    /// [`ParentLink::read_for_copyup`] when one existing parent object backs all of
    /// `ranges`; `None` otherwise (the caller takes the general path).
    async fn read_one_object_for_copyup(
        &self,
        ranges: &[(u64, u64)],
    ) -> Result<Option<(BTreeMap<u64, u64>, Bytes)>> {
        let src = &self.source;
        let &[(pos, off, len)] = prune(ranges, self.overlap).as_slice() else {
            return Ok(None);
        };
        let len = len.min(src.size.saturating_sub(off));
        if len == 0 {
            return Ok(Some((BTreeMap::new(), Bytes::new())));
        }
        let extents = src.layout.file_to_extents(off, len);
        let [ex] = extents.as_slice() else {
            return Ok(None);
        };
        if ex.buffer_extents.as_slice() != [(0, len)] {
            return Ok(None);
        }
        let oid = names::data_object(&src.prefix, ex.object_no);
        let read = match src.data_io.sparse_read(&oid, ex.offset, ex.length).await {
            Ok(r) => r,
            // no object and nothing further up: the parent has no data here
            Err(e) if e.is(Errno::ENOENT) && src.parent.is_none() => {
                return Ok(Some((BTreeMap::new(), Bytes::new())));
            }
            Err(e) if e.is(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let end = ex.offset + ex.length;
        let mut map = BTreeMap::new();
        let mut total = 0u64;
        for &(o, l) in &read.extents {
            // a sane OSD answers within the range asked for; anything else takes the
            // general path, which clips
            if o < ex.offset || o.saturating_add(l) > end {
                return Ok(None);
            }
            map.insert(pos + (o - ex.offset), l);
            total = total.saturating_add(l);
        }
        if total != read.data.len() as u64 || map.len() != read.extents.len() {
            return Ok(None);
        }
        Ok(Some((map, read.data)))
    }

    async fn read_ranges_with(
        &self,
        ranges: &[(u64, u64)],
        sparse: bool,
    ) -> Result<(Bytes, Intervals)> {
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        let mut buf = BytesMut::zeroed(to_usize(total)?);
        let mut extents = Intervals::new();
        for (pos, off, len) in prune(ranges, self.overlap) {
            let (data, found) = read_source(self.source.clone(), off, len, sparse).await?;
            let start = to_usize(pos)?;
            if let Some(dst) = buf.get_mut(start..start + data.len()) {
                dst.copy_from_slice(&data);
            }
            for &(o, l) in found.ranges() {
                extents.insert(pos + o, l);
            }
        }
        Ok((buf.freeze(), extents))
    }
}

/// A sparse read of object range `off..off + len` as the plain read's bytes (holes as
/// zeros; extents outside the range, which a sane OSD does not send, are ignored).
fn dense(r: &rados::SparseRead, off: u64, len: u64) -> Bytes {
    let mut out = BytesMut::zeroed(usize::try_from(len).unwrap_or(0));
    let mut at = 0usize;
    for &(o, l) in &r.extents {
        let Ok(n) = usize::try_from(l) else { break };
        let src = r.data.get(at..at.saturating_add(n));
        at = at.saturating_add(n);
        let (Some(src), Some(rel)) = (src, o.checked_sub(off)) else {
            continue;
        };
        let Ok(rel) = usize::try_from(rel) else {
            continue;
        };
        if let Some(dst) = out.get_mut(rel..rel.saturating_add(n)) {
            dst.copy_from_slice(src);
        }
    }
    out.freeze()
}

/// The positions (from the request's start) that object range `o..o + l` of extent
/// `ex` fills.
fn object_to_buffer(ex: &ObjectExtent, o: u64, l: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut opos = ex.offset;
    for &(b, bl) in &ex.buffer_extents {
        let (s, e) = (o.max(opos), (o + l).min(opos + bl));
        if s < e {
            out.push((b + (s - opos), e - s));
        }
        opos += bl;
    }
    out
}

/// The positions (from the request's start) of positions `p..p + l` of the buffer a
/// parent read of `ex`'s image ranges returned (its pieces one after the other).
fn pieces_to_buffer(ex: &ObjectExtent, p: u64, l: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(b, bl) in &ex.buffer_extents {
        let (s, e) = (p.max(at), (p + l).min(at + bl));
        if s < e {
            out.push((b + (s - at), e - s));
        }
        at += bl;
    }
    out
}

fn to_usize(n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::InvalidArgument("read larger than memory"))
}

/// A parent read: its bytes, and where its objects have extents (sparse reads only).
type SourceRead = (Bytes, Intervals);

/// Reads `off..off + len` of a parent image (cut to its size; a short result means zeros
/// follow), each object at the snapshot, through to its own parent where absent. With
/// `sparse`, also where (from `off`) the objects have extents.
fn read_source(
    src: Arc<Source>,
    off: u64,
    len: u64,
    sparse: bool,
) -> Pin<Box<dyn Future<Output = Result<SourceRead>> + Send>> {
    Box::pin(async move {
        let len = len.min(src.size.saturating_sub(off));
        let mut buf = BytesMut::zeroed(to_usize(len)?);
        let mut extents = Intervals::new();
        if len == 0 {
            return Ok((buf.freeze(), extents));
        }
        let mut reads = tokio::task::JoinSet::new();
        for ex in src.layout.file_to_extents(off, len) {
            let src = src.clone();
            reads.spawn(async move {
                let oid = names::data_object(&src.prefix, ex.object_no);
                let read = if sparse {
                    src.data_io
                        .sparse_read(&oid, ex.offset, ex.length)
                        .await
                        .map(|r| {
                            let found: Vec<(u64, u64)> = r
                                .extents
                                .iter()
                                .flat_map(|&(o, l)| object_to_buffer(&ex, o, l))
                                .collect();
                            (dense(&r, ex.offset, ex.length), found)
                        })
                } else {
                    src.data_io
                        .read(&oid, ex.offset, ex.length)
                        .await
                        .map(|d| (d, Vec::new()))
                };
                let (data, found) = match read {
                    Ok(d) => d,
                    Err(e) if e.is(Errno::ENOENT) => match &src.parent {
                        Some(link) => {
                            let ranges: Vec<(u64, u64)> = ex
                                .buffer_extents
                                .iter()
                                .map(|&(b, l)| (off + b, l))
                                .collect();
                            let (data, below) = link.read_ranges_with(&ranges, sparse).await?;
                            let found = below
                                .ranges()
                                .iter()
                                .flat_map(|&(p, l)| pieces_to_buffer(&ex, p, l))
                                .collect();
                            (data, found)
                        }
                        None => (Bytes::new(), Vec::new()),
                    },
                    Err(e) => return Err(Error::from(e)),
                };
                Ok((ex, data, found))
            });
        }
        while let Some(r) = reads.join_next().await {
            let (ex, data, found) = r.map_err(|_| Error::Rados(rados::Error::Shutdown))??;
            crate::io::scatter(&mut buf, &ex, &data);
            for (o, l) in found {
                extents.insert(o, l);
            }
        }
        Ok((buf.freeze(), extents))
    })
}

/// The parent spec and overlap of `header` at `snap`.
async fn parent_at(io: &IoCtx, header: &str, snap: u64) -> Result<Option<(ParentSpec, u64)>> {
    let calls: [Method; 2] = [p::parent_get()?, p::parent_overlap_get(snap)?];
    let mut op = io.read_op(header);
    for c in &calls {
        op = op.exec(cls::CLASS, c.name, &c.input);
    }
    let r = op.submit().await?;
    let spec = p::decode_parent_spec(reply(&r, 0))?;
    let overlap = p::decode_parent_overlap(reply(&r, 1))?;
    Ok(match overlap {
        Some(o) if spec.exists() => Some((spec, o)),
        _ => None,
    })
}

pub(crate) fn reply(results: &rados::OpResults, i: usize) -> &[u8] {
    results
        .get(i)
        .and_then(|r| r.data())
        .map_or(&[], |b| &b[..])
}

/// Opens the parent chain of a child whose parent is `spec`, reachable from `rados`.
pub(crate) async fn open_chain(
    rados: &rados::Rados,
    spec: ParentSpec,
    overlap: u64,
) -> Result<ParentLink> {
    open_link(rados.clone(), spec, overlap, 0).await
}

fn open_link(
    rados: rados::Rados,
    spec: ParentSpec,
    overlap: u64,
    depth: usize,
) -> Pin<Box<dyn Future<Output = Result<ParentLink>> + Send>> {
    Box::pin(async move {
        if depth >= MAX_CHAIN_DEPTH {
            return Err(Error::InvalidArgument("clone chain too deep"));
        }
        let io = rados
            .ioctx_by_id(spec.pool_id)
            .await?
            .with_namespace(spec.pool_namespace.clone());
        let header = names::header_object(&spec.image_id);
        let snap = spec.snap_id;
        let calls: [Method; 4] = [
            m::get_size(snap)?,
            m::get_features(snap, true)?,
            m::get_object_prefix()?,
            m::get_data_pool()?,
        ];
        let mut op = io.read_op(&header);
        for c in &calls {
            op = op.exec(cls::CLASS, c.name, &c.input);
        }
        let r = match op.submit().await {
            Ok(r) => r,
            Err(e) if e.is(Errno::ENOENT) => {
                return Err(Error::ImageNotFound(format!(
                    "parent {} (or its snapshot {snap})",
                    spec.image_id
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let (order, size) = m::decode_size(reply(&r, 0))?;
        let (feats, _) = m::decode_features(reply(&r, 1))?;
        if !(12..=25).contains(&order) {
            return Err(Error::BadOrder(order));
        }
        let prefix = m::decode_string("get_object_prefix", reply(&r, 2))?;
        let data_pool = m::decode_data_pool(reply(&r, 3))?;
        let object_size = 1u64 << order;
        let layout = if feats & features::STRIPINGV2 != 0 {
            let b = m::get_stripe_unit_count()?.call(&io, &header).await?;
            let (su, sc) = m::decode_stripe_unit_count(&b)?;
            Layout::new(object_size, su, sc)?
        } else {
            Layout::simple(order)
        };
        let mut data_io = if data_pool >= 0 && data_pool != io.pool_id() {
            rados
                .ioctx_by_id(data_pool)
                .await?
                .with_namespace(spec.pool_namespace.clone())
        } else {
            io.clone()
        };
        data_io.set_read_snap(SnapId(snap));
        let parent = match parent_at(&io, &header, snap).await? {
            Some((pspec, poverlap)) => {
                Some(open_link(rados.clone(), pspec, poverlap, depth + 1).await?)
            }
            None => None,
        };
        debug!(image = spec.image_id, snap, size, "opened parent");
        Ok(ParentLink {
            source: Arc::new(Source {
                data_io,
                prefix,
                layout,
                size,
                parent,
            }),
            spec,
            overlap,
        })
    })
}

/// The head's parent from `parent_get` and `parent_overlap_get(NOSNAP)` replies (the
/// legacy `get_parent` fails with EXDEV for parents in a namespace).
pub(crate) fn decode_head_parent(spec: &[u8], overlap: &[u8]) -> Result<Option<m::ParentInfo>> {
    let spec = p::decode_parent_spec(spec)?;
    let overlap = p::decode_parent_overlap(overlap)?;
    Ok(match overlap {
        Some(overlap) if spec.exists() => Some(m::ParentInfo {
            pool_id: spec.pool_id,
            pool_namespace: spec.pool_namespace,
            image_id: spec.image_id,
            snap_id: spec.snap_id,
            overlap,
        }),
        _ => None,
    })
}

/// Opens the parent chain of an image whose header said `info` (`None`: not a clone).
pub(crate) async fn open_for(io: &IoCtx, info: &crate::ImageInfo) -> Result<Option<ParentLink>> {
    let Some(pi) = &info.parent else {
        return Ok(None);
    };
    let spec = ParentSpec {
        pool_id: pi.pool_id,
        pool_namespace: pi.pool_namespace.clone(),
        image_id: pi.image_id.clone(),
        snap_id: pi.snap_id,
    };
    // the child's bytes past its size are not backed (set_size also trims the overlap)
    let overlap = pi.overlap.min(info.size);
    Ok(Some(open_chain(io.rados(), spec, overlap).await?))
}

/// The parent of image `image_id` at snapshot `snap` (`parent_get` and
/// `parent_overlap_get(snap)`, as RefreshRequest reads it per snapshot), opened, with
/// the overlap cut to the snapshot's `size`.
pub(crate) async fn open_at_snap(
    io: &IoCtx,
    image_id: &str,
    snap: u64,
    size: u64,
) -> Result<(Option<m::ParentInfo>, Option<ParentLink>)> {
    let header = names::header_object(image_id);
    let Some((spec, overlap)) = parent_at(io, &header, snap).await? else {
        return Ok((None, None));
    };
    let info = m::ParentInfo {
        pool_id: spec.pool_id,
        pool_namespace: spec.pool_namespace.clone(),
        image_id: spec.image_id.clone(),
        snap_id: spec.snap_id,
        overlap,
    };
    let link = open_chain(io.rados(), spec, overlap.min(size)).await?;
    Ok((Some(info), Some(link)))
}

impl crate::Image {
    /// The parent spec of a clone (`None` for other images), as of the last refresh.
    pub fn parent_spec(&self) -> Option<&ParentSpec> {
        self.parent.as_ref().map(|l| &l.spec)
    }

    /// The bytes of a clone backed by its parent (`rbd_get_overlap`); 0 without a parent.
    pub fn parent_overlap(&self) -> u64 {
        self.info().parent.as_ref().map_or(0, |p| p.overlap)
    }

    /// The object writer of a clone; `held` is the lock state of the write.
    pub(crate) fn clone_writer(
        &self,
        held: Option<&crate::exclusive_lock::Held>,
    ) -> Option<crate::copyup::CloneWriter> {
        let link = self.parent_link()?;
        let info = &self.info;
        let keeps_maps = held.is_some_and(|h| h.map.is_some());
        Some(crate::copyup::CloneWriter {
            // the snap context of now (snapshots taken since the open count)
            data_io: self.write_io(),
            prefix: info.block_name_prefix.clone(),
            layout: info.layout(),
            link,
            snaps: self.current_snapc().snaps,
            snap_maps: keeps_maps.then(|| {
                (
                    self.io.clone(),
                    info.id.clone(),
                    info.features & features::FAST_DIFF != 0,
                )
            }),
        })
    }
}

/// The id of snapshot `name` of the image with header `header` (get_snapcontext, then
/// each id's name).
pub(crate) async fn snap_id_by_name(io: &IoCtx, header: &str, name: &str) -> Result<u64> {
    let b = m::get_snapcontext()?.call(io, header).await?;
    let sc = m::decode_snapcontext(&b)?;
    for id in sc.snaps {
        let b = p::get_snapshot_name(id.0)?.call(io, header).await?;
        if m::decode_string("get_snapshot_name", &b)? == name {
            return Ok(id.0);
        }
    }
    Err(Error::ImageNotFound(format!("snapshot {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_to_image_inverts_file_to_extents() {
        for layout in [
            Layout::simple(16),
            Layout::new(1 << 16, 4096, 3).unwrap(),
            Layout::new(1 << 16, 8192, 1).unwrap(),
        ] {
            let (off, len) = (5000, 3 * (1 << 16) + 777);
            for ex in layout.file_to_extents(off, len) {
                let back = object_to_image(&layout, ex.object_no, ex.offset, ex.length);
                let want: Vec<(u64, u64)> = ex
                    .buffer_extents
                    .iter()
                    .map(|&(b, l)| (off + b, l))
                    .collect();
                assert_eq!(back, want, "{layout:?} object {}", ex.object_no);
            }
        }
    }

    #[test]
    fn sparse_extents_map_to_request_positions() {
        // stripe unit 4096, 3 objects per set: object 1 holds request bytes 4096..8192
        // and 16384..20480 of a read from 0
        let layout = Layout::new(1 << 16, 4096, 3).unwrap();
        let ex = layout
            .file_to_extents(0, 6 * 4096)
            .into_iter()
            .find(|e| e.object_no == 1)
            .unwrap();
        assert_eq!(ex.buffer_extents, vec![(4096, 4096), (16384, 4096)]);
        assert_eq!(
            object_to_buffer(&ex, 4000, 200),
            vec![(4096 + 4000, 96), (16384, 104)]
        );
        assert_eq!(
            pieces_to_buffer(&ex, 4000, 200),
            vec![(4096 + 4000, 96), (16384, 104)]
        );
        let r = rados::SparseRead {
            extents: vec![(10, 2), (1 << 40, 3), (20, 2)],
            data: Bytes::from_static(b"abcdefg"),
        };
        let d = dense(&r, 8, 16);
        assert_eq!(&d[..], b"\0\0ab\0\0\0\0\0\0\0\0fg\0\0");
    }

    #[test]
    fn prune_at_overlap() {
        let r = [(0, 10), (100, 10), (20, 10)];
        assert_eq!(prune(&r, 25), vec![(0, 0, 10), (20, 20, 5)]);
        assert_eq!(prune(&r, 0), vec![]);
    }
}
