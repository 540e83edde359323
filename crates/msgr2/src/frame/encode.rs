//! Frame assembly (frames_v2.cc `FrameAssembler::assemble_frame`, msgr2.1 paths).

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    CRC_LEN, CRYPTO_BLOCK, EPILOGUE_CRC_LEN, EPILOGUE_SECURE_LEN, FLAG_COMPRESSED, Frame,
    GCM_TAG_LEN, INLINE_LEN, LATE_STATUS_COMPLETE, MAX_SEGMENTS, PREAMBLE_LEN, Preamble, padded,
};
use crate::compression::{CompressionAlgorithm, OnwireCompression};
use crate::crc;
use crate::crypto::GcmTx;
use crate::error::Error;

/// Segment chunks up to this size are copied next to the preamble in crc mode; larger ones
/// are handed out as their own `Bytes` (no copy) for a vectored write. A 4 KiB data segment
/// passes through: on a quiet machine with AVX-512 that encodes a 4 KiB message 30-40 ns
/// (15 %) faster than copying it, although it costs two atomic reference-count updates and
/// makes three chunks of one (docs/benchmarks.md; earlier, noisier runs saw no difference).
const COALESCE_MAX: usize = 1024;

/// Turns frames into wire bytes, in crc or secure mode.
#[derive(Debug)]
pub struct FrameEncoder {
    tx: Option<GcmTx>,
    compression: Option<OnwireCompression>,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self::crc()
    }
}

impl FrameEncoder {
    /// An encoder for crc mode (also used for everything before AUTH_DONE).
    pub fn crc() -> Self {
        FrameEncoder {
            tx: None,
            compression: None,
        }
    }

    /// An encoder for secure mode.
    pub fn secure(tx: GcmTx) -> Self {
        FrameEncoder {
            tx: Some(tx),
            compression: None,
        }
    }

    /// True in secure mode.
    pub fn is_secure(&self) -> bool {
        self.tx.is_some()
    }

    /// Appends the wire form of `frame` to `out` as one or more chunks, returning the number
    /// of bytes appended. In crc mode large segments are passed through without copying; in
    /// secure mode the frame is copied once into a buffer and encrypted there in place.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<Bytes>) -> Result<usize, Error> {
        let compressed = self
            .compression
            .filter(|c| frame.payload_len() as u64 >= c.min_size)
            .and_then(|c| compress_frame(c.algorithm, frame));
        let (frame, flags) = match &compressed {
            Some(c) => (c, FLAG_COMPRESSED),
            None => (frame, 0),
        };
        let mut preamble = Preamble::for_frame(frame)?;
        preamble.flags = flags;
        match &mut self.tx {
            None => Ok(encode_crc(&preamble, frame, out)),
            Some(tx) => encode_secure(tx, &preamble, frame, out),
        }
    }

    /// Compresses frames from now on (after COMPRESSION_DONE); `None` stops.
    pub fn set_compression(&mut self, compression: Option<OnwireCompression>) {
        self.compression = compression;
    }

    /// The compression in force.
    pub fn compression(&self) -> Option<OnwireCompression> {
        self.compression
    }
}

/// `frame` with every segment compressed on its own (frames_v2.cc `asm_compress`); `None`
/// if a segment cannot be compressed: then, as in Ceph, the frame goes out uncompressed.
fn compress_frame(algorithm: CompressionAlgorithm, frame: &Frame) -> Option<Frame> {
    let mut compressed = Frame {
        tag: frame.tag,
        ..Frame::default()
    };
    for (i, slot) in compressed.segments.iter_mut().enumerate() {
        let mut chunks = frame.segment_chunks(i);
        let result = match (chunks.next(), chunks.next()) {
            (None, _) => Ok(Vec::new()),
            (Some(only), None) => algorithm.compress(only),
            _ => {
                // a data segment made of several buffers: compressors want one slice
                let joined: Vec<u8> = frame.segment_chunks(i).flatten().copied().collect();
                algorithm.compress(&joined)
            }
        };
        match result {
            Ok(bytes) => *slot = Bytes::from(bytes),
            Err(error) => {
                tracing::debug!(%error, "segment not compressed; frame sent as is");
                return None;
            }
        }
    }
    Some(compressed)
}

fn encode_crc(preamble: &Preamble, frame: &Frame, out: &mut Vec<Bytes>) -> usize {
    let n = preamble.num_segments;
    let [first, ..] = &frame.segments;
    let epilogue_len = if n > 1 { EPILOGUE_CRC_LEN } else { 0 };
    // Small chunks of segments 2-4 and the epilogue are copied next to what precedes them;
    // large chunks pass through. Each copied run gets a buffer of exactly its size: freezing
    // a buffer with room to spare (or splitting one) allocates a shared header.
    let run_len = |chunks: &mut dyn Iterator<Item = &Bytes>| {
        let mut len = 0;
        for chunk in chunks {
            if chunk.len() > COALESCE_MAX {
                return len;
            }
            len += chunk.len();
        }
        len + epilogue_len
    };
    let mut rest = (1..n).flat_map(|i| frame.segment_chunks(i));
    let first_len = if first.is_empty() {
        0
    } else {
        first.len() + CRC_LEN
    };
    let mut run = BytesMut::with_capacity(PREAMBLE_LEN + first_len + run_len(&mut rest.clone()));
    run.put_slice(&preamble.encode());
    if !first.is_empty() {
        run.put_slice(first);
        run.put_u32_le(crc::segment_crc(first));
    }
    let mut total = 0;
    while let Some(chunk) = rest.next() {
        if chunk.len() <= COALESCE_MAX {
            run.put_slice(chunk);
            continue;
        }
        let next = BytesMut::with_capacity(run_len(&mut rest.clone()));
        let before = std::mem::replace(&mut run, next);
        total += before.len() + chunk.len();
        if !before.is_empty() {
            out.push(before.freeze());
        }
        out.push(chunk.clone());
    }
    if n > 1 {
        let mut crcs = [0u32; MAX_SEGMENTS - 1];
        for (i, crc_slot) in (1..n).zip(&mut crcs) {
            *crc_slot = crc::segment_crc_chunks(frame.segment_chunks(i).map(|c| &c[..]));
        }
        run.put_u8(LATE_STATUS_COMPLETE);
        for c in crcs {
            run.put_u32_le(c);
        }
    }
    debug_assert_eq!(run.len(), run.capacity());
    total += run.len();
    out.push(run.freeze());
    total
}

fn encode_secure(
    tx: &mut GcmTx,
    preamble: &Preamble,
    frame: &Frame,
    out: &mut Vec<Bytes>,
) -> Result<usize, Error> {
    let total = preamble.secure_onwire_len();
    let mut buf = BytesMut::with_capacity(total);
    let [first, ..] = &frame.segments;

    // op 1: preamble + inline area (first segment's head, zero padded to 48)
    buf.put_slice(&preamble.encode());
    let inline = first.len().min(INLINE_LEN);
    buf.put_slice(first.get(..inline).unwrap_or_default());
    buf.put_bytes(0, INLINE_LEN - inline);
    seal_tail(tx, &mut buf, 0)?;

    // op 2: the rest of the first segment, padded to the block size
    if let Some(tail) = first.get(INLINE_LEN..).filter(|t| !t.is_empty()) {
        let start = buf.len();
        buf.put_slice(tail);
        buf.put_bytes(0, padded(tail.len()) - tail.len());
        seal_tail(tx, &mut buf, start)?;
    }

    // op 3: segments 2-4 each padded, then the epilogue
    if preamble.num_segments > 1 {
        let start = buf.len();
        for i in 1..preamble.num_segments {
            for chunk in frame.segment_chunks(i) {
                buf.put_slice(chunk);
            }
            let len = frame.segment_len(i);
            buf.put_bytes(0, padded(len) - len);
        }
        buf.put_u8(LATE_STATUS_COMPLETE);
        buf.put_bytes(0, EPILOGUE_SECURE_LEN - 1);
        seal_tail(tx, &mut buf, start)?;
    }
    debug_assert_eq!(buf.len(), total);
    debug_assert_eq!(buf.len() % CRYPTO_BLOCK, 0);
    out.push(buf.freeze());
    Ok(total)
}

/// Encrypts `buf[start..]` in place and appends the tag.
fn seal_tail(tx: &mut GcmTx, buf: &mut BytesMut, start: usize) -> Result<(), Error> {
    let region = buf
        .get_mut(start..)
        .ok_or(Error::Encode("internal: bad seal region"))?;
    let tag = tx.seal(region)?;
    debug_assert_eq!(tag.len(), GCM_TAG_LEN);
    buf.put_slice(&tag);
    Ok(())
}
