//! One stage of a deep copy written object by object, as librbd's
//! deep_copy/ObjectCopyRequest.cc does: every changed range of one object is read, then
//! written to the copy in a single OSD op (writes of the non-zero 4 KiB runs, zeroes for
//! the rest). Writing each changed range in its own op made a deep copy of an image with
//! many small changes between snapshots cost 3-4x the write ops of librbd (984 against
//! 256 for a 512 MiB image with 64 KiB random writes between two snapshots), and the
//! copy took 1.4x librbd's wall time.

use std::collections::BTreeMap;

use bytes::Bytes;
use rados::{Errno, OpOutput};
use tokio::task::JoinSet;

use crate::diff::DiffExtent;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::io::{held, join_one};
use crate::object_map::state;

/// Granularity of the holes kept in the copy (`rbd deep cp` passes 4 KiB, as `write_sparse`).
const SPARSE_SIZE: usize = 4096;

/// Most reads or writes put in one OSD op (an object with more changed ranges takes
/// several ops, or per-range reads).
pub(crate) const OPS_PER_OP: usize = 128;

/// A changed range of one object: its object offset, length, and whether data is to be
/// read there (else it is zeroed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) image_off: u64,
    pub(crate) object_off: u64,
    pub(crate) len: u64,
    pub(crate) data: bool,
}

/// The changed ranges of a stage grouped by object, or `None` when the layout stripes
/// (an image range then spans objects in pieces; the caller copies range by range).
/// `overlap`: below it a clone's missing object shows the parent's data (to be read).
fn group_by_object(
    extents: &[DiffExtent],
    object_size: u64,
    stripe_count: u64,
    overlap: u64,
) -> Option<BTreeMap<u64, Vec<Piece>>> {
    if stripe_count > 1 || object_size == 0 {
        return None;
    }
    let mut out: BTreeMap<u64, Vec<Piece>> = BTreeMap::new();
    for e in extents {
        let data = e.exists || e.offset < overlap;
        let end = e.offset.saturating_add(e.length);
        let mut at = e.offset;
        while at < end {
            let object_no = at / object_size;
            let object_off = at % object_size;
            let len = (object_size - object_off).min(end - at);
            out.entry(object_no).or_default().push(Piece {
                image_off: at,
                object_off,
                len,
                data,
            });
            at += len;
        }
    }
    Some(out)
}

/// The runs of `data`, `SPARSE_SIZE` blocks counted from its start, as (offset, length,
/// non-zero).
fn runs(data: &[u8]) -> Vec<(usize, usize, bool)> {
    let mut out: Vec<(usize, usize, bool)> = Vec::new();
    for (i, block) in data.chunks(SPARSE_SIZE).enumerate() {
        let nonzero = block.iter().any(|&b| b != 0);
        let start = i * SPARSE_SIZE;
        match out.last_mut() {
            Some((_, len, nz)) if *nz == nonzero => *len += block.len(),
            _ => out.push((start, block.len(), nonzero)),
        }
    }
    out
}

/// Copies the changed ranges `extents` of `src` into `dest`, one write op per object.
/// Returns `false` (nothing done) when the layout does not allow it; the caller then
/// copies range by range.
pub(crate) async fn copy_stage(
    src: &Image,
    dest: &Image,
    extents: &[DiffExtent],
    overlap: u64,
) -> Result<bool> {
    let layout = dest.info.layout();
    let Some(objects) = group_by_object(extents, layout.object_size, layout.stripe_count, overlap)
    else {
        return Ok(false);
    };
    let same_layout = src.info.layout() == layout;
    if !same_layout || dest.parent_link().is_some() {
        return Ok(false);
    }
    let jobs = objects.into_iter().map(|(object_no, pieces)| {
        let (src, dest) = (src.clone(), dest.clone());
        async move { copy_object(&src, &dest, object_no, pieces).await }
    });
    let n = jobs.len() as u64;
    crate::copy::run_bounded(jobs, n, &mut |_, _| {}).await?;
    Ok(true)
}

/// Reads the data pieces of one object (concurrently), then writes them and zeroes the
/// rest in one op. An object with nothing but zeros to write takes the per-range path
/// (a discard: removes or truncates as the range says, and keeps the object map right).
async fn copy_object(src: &Image, dest: &Image, object_no: u64, pieces: Vec<Piece>) -> Result<()> {
    let reads = pieces.iter().filter(|p| p.data).count();
    let data = match src.parent_link() {
        None if reads <= OPS_PER_OP => read_object(src, object_no, &pieces).await?,
        _ => read_pieces(src, &pieces).await?,
    };
    let (zeros, writes) = object_ops(&pieces, data);
    if writes.is_empty() {
        for p in &pieces {
            dest.write_zeroes(p.image_off, p.len).await?;
        }
        return Ok(());
    }
    let access = dest.write_access().await?;
    if let Some(h) = held(&access) {
        h.mark(&dest.io, &[object_no], state::EXISTS, None).await?;
    }
    let oid = dest.object_name(object_no);
    submit_ops(&dest.write_io(), &oid, dest.info.obj_size, zeros, writes).await
}

/// (object offset, bytes) to write in one object.
pub(crate) type Writes = Vec<(u64, Bytes)>;

/// (object offset, length) to zero and (object offset, bytes) to write for the read
/// `data` of `pieces` (`None`: a piece to zero): the non-zero 4 KiB runs are written,
/// the rest zeroed.
pub(crate) fn object_ops(pieces: &[Piece], data: Vec<Option<Bytes>>) -> (Vec<(u64, u64)>, Writes) {
    let mut writes: Vec<(u64, Bytes)> = Vec::new();
    let mut zeros: Vec<(u64, u64)> = Vec::new();
    for (p, d) in pieces.iter().zip(data) {
        let Some(d) = d else {
            zeros.push((p.object_off, p.len));
            continue;
        };
        for (at, len, nonzero) in runs(&d) {
            let off = p.object_off + at as u64;
            if nonzero {
                writes.push((off, d.slice(at..at + len)));
            } else {
                zeros.push((off, len as u64));
            }
        }
        // a short read (past the source's end) leaves the rest as zeros
        let got = d.len() as u64;
        if got < p.len {
            zeros.push((p.object_off + got, p.len - got));
        }
    }
    (zeros, writes)
}

/// Zeroes `zeros` and writes `writes` to object `oid` through `io` (its snap context),
/// at most [`OPS_PER_OP`] sub-ops per op.
pub(crate) async fn submit_ops(
    io: &rados::IoCtx,
    oid: &str,
    object_size: u64,
    zeros: Vec<(u64, u64)>,
    writes: Vec<(u64, Bytes)>,
) -> Result<()> {
    // zeros first: on an object the op creates they do nothing, and they never overlap
    // the writes
    let mut ops = zeros.into_iter().map(|(off, len)| (off, len, None)).chain(
        writes
            .into_iter()
            .map(|(off, b)| (off, b.len() as u64, Some(b))),
    );
    loop {
        let chunk: Vec<_> = ops.by_ref().take(OPS_PER_OP).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        let mut op = io.op(oid).set_alloc_hint(object_size, object_size, 0);
        for (off, len, bytes) in chunk {
            op = match bytes {
                Some(b) => op.write(off, b),
                None => op.zero(off, len),
            };
        }
        op.submit().await.map_err(Error::from)?;
    }
}

/// The data pieces of one object of an image without a parent, in one read op (a
/// missing object reads as zeros); `None` for the pieces to be zeroed.
pub(crate) async fn read_object(
    src: &Image,
    object_no: u64,
    pieces: &[Piece],
) -> Result<Vec<Option<Bytes>>> {
    let mut op = src.data_io.read_op(src.object_name(object_no));
    for p in pieces.iter().filter(|p| p.data) {
        op = op.read(p.object_off, p.len);
    }
    let mut results = match op.submit().await {
        Ok(r) => r.results.into_iter(),
        Err(e) if e.is(Errno::ENOENT) => Vec::new().into_iter(),
        Err(e) => return Err(e.into()),
    };
    Ok(pieces
        .iter()
        .map(|p| {
            if !p.data {
                return None;
            }
            match results.next().map(|r| r.output) {
                Some(OpOutput::Data(b)) => Some(b),
                // a missing object: zeros (a short piece is padded by the caller)
                _ => Some(Bytes::new()),
            }
        })
        .collect())
}

/// The data of `pieces` of object `object_no` of `src`: in one read op when they are few
/// enough ([`read_object`]), else read by image range ([`read_pieces`]).
pub(crate) async fn read_planned(
    src: &Image,
    object_no: u64,
    pieces: &[Piece],
) -> Result<Vec<Option<Bytes>>> {
    if pieces.iter().filter(|p| p.data).count() <= OPS_PER_OP {
        read_object(src, object_no, pieces).await
    } else {
        read_pieces(src, pieces).await
    }
}

/// The data pieces through the image (a clone's missing objects read the parent),
/// concurrently; `None` for the pieces to be zeroed.
pub(crate) async fn read_pieces(src: &Image, pieces: &[Piece]) -> Result<Vec<Option<Bytes>>> {
    let mut reads = JoinSet::new();
    for (i, p) in pieces.iter().enumerate().filter(|(_, p)| p.data) {
        let (src, p) = (src.clone(), *p);
        reads.spawn(async move { Ok((i, src.read(p.image_off, p.len).await?)) });
    }
    let mut data: Vec<Option<Bytes>> = vec![None; pieces.len()];
    while let Some((i, bytes)) = join_one(&mut reads).await? {
        if let Some(slot) = data.get_mut(i) {
            *slot = Some(bytes);
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(offset: u64, length: u64, exists: bool) -> DiffExtent {
        DiffExtent {
            offset,
            length,
            exists,
        }
    }

    #[test]
    fn groups_split_at_object_boundaries() {
        let g = group_by_object(&[ext(3, 10, true), ext(20, 4, false)], 8, 1, 0).unwrap();
        let pieces: Vec<_> = g
            .iter()
            .flat_map(|(o, ps)| ps.iter().map(move |p| (*o, p.object_off, p.len, p.data)))
            .collect();
        assert_eq!(pieces, [(0, 3, 5, true), (1, 0, 5, true), (2, 4, 4, false)]);
        // a missing object under the parent overlap is read (flattening copy)
        let g = group_by_object(&[ext(0, 8, false)], 8, 1, 4).unwrap();
        assert!(g[&0][0].data);
        assert!(group_by_object(&[ext(0, 8, true)], 8, 2, 0).is_none());
    }

    #[test]
    fn runs_split_zero_blocks() {
        let mut d = vec![0u8; 3 * SPARSE_SIZE + 10];
        d[SPARSE_SIZE + 1] = 1;
        d[3 * SPARSE_SIZE + 2] = 1;
        assert_eq!(
            runs(&d),
            [
                (0, SPARSE_SIZE, false),
                (SPARSE_SIZE, SPARSE_SIZE, true),
                (2 * SPARSE_SIZE, SPARSE_SIZE, false),
                (3 * SPARSE_SIZE, 10, true)
            ]
        );
        assert!(runs(&[]).is_empty());
    }
}
