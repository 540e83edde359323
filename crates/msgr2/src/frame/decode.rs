//! Frame disassembly (frames_v2.cc `disassemble_preamble` / `disassemble_segments`, msgr2.1).
//!
//! The decoder works on the caller's receive buffer. Once a preamble is read it knows the
//! frame's size, checks it against the limits, reserves room for exactly that frame and waits
//! until all of it has arrived; then it splits the frame off the buffer (no copy), checks or
//! decrypts it in place and hands the segments out as slices of that one allocation.
//!
//! A large frame (see [`RecvPoolLimits`](super::RecvPoolLimits)) not yet complete in the
//! receive buffer is moved to a buffer lent by the connection's pool: what has arrived is
//! copied once (usually one read's worth), the rest is read straight into it
//! ([`FrameDecoder::recv_target`]).

use bytes::{Buf, Bytes, BytesMut};

use super::pool::SharedRecvPool;
use super::{
    CRC_LEN, EPILOGUE_CRC_LEN, EPILOGUE_SECURE_LEN, FLAG_COMPRESSED, Frame, FrameLimits,
    GCM_TAG_LEN, INLINE_LEN, MAX_SEGMENTS, PREAMBLE_LEN, Preamble, RecvPoolStats,
    SECURE_PREAMBLE_LEN, check_late_status, le32, padded,
};
use crate::compression::CompressionAlgorithm;
use crate::crc;
use crate::crypto::GcmRx;
use crate::error::Error;

/// Reassembles frames from received bytes, in crc or secure mode.
#[derive(Debug)]
pub struct FrameDecoder {
    rx: Option<GcmRx>,
    limits: FrameLimits,
    /// The preamble of the frame being received (already decrypted in place in secure mode)
    /// and its on-wire length.
    pending: Option<(Preamble, usize)>,
    /// The pending frame's bytes when it is received into a pooled buffer (then the
    /// caller's receive buffer holds nothing of it).
    large: Option<BytesMut>,
    pool: SharedRecvPool,
    /// Frames received into pooled buffers so far.
    pooled_frames: u64,
    /// The negotiated compression: frames flagged compressed are decompressed with it.
    decompression: Option<CompressionAlgorithm>,
}

impl FrameDecoder {
    /// A decoder for crc mode (also used for everything before AUTH_DONE).
    pub fn crc(limits: FrameLimits) -> Self {
        FrameDecoder {
            rx: None,
            limits,
            pending: None,
            large: None,
            pool: SharedRecvPool::new(limits.recv_pool),
            pooled_frames: 0,
            decompression: None,
        }
    }

    /// A decoder for secure mode.
    pub fn secure(rx: GcmRx, limits: FrameLimits) -> Self {
        FrameDecoder {
            rx: Some(rx),
            limits,
            pending: None,
            large: None,
            pool: SharedRecvPool::new(limits.recv_pool),
            pooled_frames: 0,
            decompression: None,
        }
    }

    /// Switches to secure mode (after AUTH_DONE). Only valid between frames.
    pub fn set_secure(&mut self, rx: GcmRx) {
        debug_assert!(self.pending.is_none());
        self.rx = Some(rx);
    }

    /// Receives large frames into buffers of `pool` (shared with other decoders) instead of
    /// this decoder's own pool; a frame already being received keeps its buffer.
    pub fn use_recv_pool(&mut self, pool: SharedRecvPool) {
        self.pool = pool;
    }

    /// The pool large frames are received into.
    pub fn recv_pool(&self) -> &SharedRecvPool {
        &self.pool
    }

    /// How many frames this decoder has received into buffers of its pool.
    pub fn pooled_frames(&self) -> u64 {
        self.pooled_frames
    }

    /// True in secure mode.
    pub fn is_secure(&self) -> bool {
        self.rx.is_some()
    }

    /// Accepts frames compressed with `algorithm` from now on (after COMPRESSION_DONE).
    /// Without it a compressed frame is an error.
    pub fn set_decompression(&mut self, algorithm: Option<CompressionAlgorithm>) {
        self.decompression = algorithm;
    }

    /// True while part of a frame has been received.
    pub fn is_mid_frame(&self, input: &BytesMut) -> bool {
        self.pending.is_some() || !input.is_empty()
    }

    /// Bytes still missing before the next frame can be decoded (at least 1).
    pub fn bytes_wanted(&self, input: &BytesMut) -> usize {
        let want = match &self.pending {
            Some((_, len)) => *len,
            None if self.rx.is_some() => SECURE_PREAMBLE_LEN,
            None => PREAMBLE_LEN,
        };
        want.saturating_sub(self.buffered(input)).max(1)
    }

    /// Bytes received and not yet decoded (in `input` and in a pooled buffer).
    pub fn buffered(&self, input: &BytesMut) -> usize {
        input.len() + self.large.as_ref().map_or(0, BytesMut::len)
    }

    /// True while the pending frame is received into a pooled buffer with room left: then
    /// [`FrameDecoder::recv_target`] returns that buffer.
    pub fn receiving_large(&self, input: &BytesMut) -> bool {
        input.is_empty() && self.large.as_ref().is_some_and(|b| b.len() < b.capacity())
    }

    /// Where the next received bytes should go: a pooled buffer with room for exactly the
    /// rest of the pending large frame, or else `input`. Reading into it saves a copy; bytes
    /// appended to `input` instead are fine too (they are moved over).
    pub fn recv_target<'a>(&'a mut self, input: &'a mut BytesMut) -> &'a mut BytesMut {
        if !self.receiving_large(input) {
            return input;
        }
        match &mut self.large {
            Some(buf) => buf,
            None => input,
        }
    }

    /// What the receive-buffer pool has done so far (for all its decoders, if shared).
    pub fn pool_stats(&self) -> RecvPoolStats {
        self.pool.stats()
    }

    /// Bytes held by the receive-buffer pool.
    pub fn pooled_bytes(&self) -> usize {
        self.pool.pooled_bytes()
    }

    /// Drops any partly received frame (the connection is closing).
    pub fn discard_partial(&mut self) {
        self.pending = None;
        self.large = None;
    }

    /// Decodes the next frame from the front of `input`: `Ok(None)` if more bytes are needed,
    /// `Ok(Some(frame))`, or an error for corrupt input (after which the connection must be
    /// dropped). Frames the sender aborted (late status) are skipped.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.decode_capturing(input, None)
    }

    /// Like [`FrameDecoder::decode`], also appending the frame's exact wire bytes to
    /// `capture` (for the pre-auth signature; meaningful in crc mode only).
    pub fn decode_capturing(
        &mut self,
        input: &mut BytesMut,
        mut capture: Option<&mut Vec<u8>>,
    ) -> Result<Option<Frame>, Error> {
        loop {
            let (preamble, onwire_len) = match self.pending {
                Some(p) => p,
                None => match self.read_preamble(input)? {
                    Some(p) => p,
                    None => return Ok(None),
                },
            };
            let Some(raw) = self.take_frame(input, onwire_len) else {
                return Ok(None);
            };
            self.pending = None;
            if let Some(c) = capture.as_deref_mut() {
                c.extend_from_slice(&raw);
            }
            let frame = match &mut self.rx {
                None => finish_crc(&preamble, raw)?,
                Some(rx) => finish_secure(rx, &preamble, raw)?,
            };
            if let Some(frame) = frame {
                if preamble.flags & FLAG_COMPRESSED != 0 {
                    return self.decompress(frame).map(Some);
                }
                return Ok(Some(frame));
            }
            tracing::debug!(tag = %preamble.tag, "dropping frame aborted by the sender");
        }
    }

    /// The whole pending frame of `onwire_len` bytes, split off the receive buffer or taken
    /// from the pooled one; `None` while bytes are missing.
    fn take_frame(&mut self, input: &mut BytesMut, onwire_len: usize) -> Option<BytesMut> {
        if self.large.is_none() {
            if input.len() >= onwire_len {
                return Some(input.split_to(onwire_len));
            }
            if !self.pool.wants(onwire_len) {
                // reserve exactly the rest of this frame (it passed the limit check)
                input.reserve(onwire_len - input.len());
                return None;
            }
            self.large = Some(self.pool.take(onwire_len));
        }
        let buf = self.large.as_mut()?;
        let missing = onwire_len.saturating_sub(buf.len());
        let moved = missing.min(input.len());
        if let Some(head) = input.get(..moved) {
            buf.extend_from_slice(head);
            input.advance(moved);
        }
        if buf.len() < onwire_len {
            return None;
        }
        let mut buf = self.large.take()?;
        self.pooled_frames += 1;
        // a pooled buffer has exactly the frame's capacity; a full `input` never adds more
        let frame = buf.split_to(onwire_len);
        if !buf.is_empty() {
            // cannot happen (see above); keep the bytes in order if it ever does
            buf.unsplit(std::mem::take(input));
            *input = buf;
        }
        Some(frame)
    }

    /// Decompresses every segment of a frame flagged compressed (frames_v2.cc
    /// `disassemble_decompress`); together they may not exceed the frame limit.
    fn decompress(&self, mut frame: Frame) -> Result<Frame, Error> {
        let algorithm = self.decompression.ok_or(Error::UnexpectedCompression)?;
        let limit = usize::try_from(self.limits.limit_for(frame.tag)).unwrap_or(usize::MAX);
        let mut total = 0usize;
        for segment in &mut frame.segments {
            let plain = algorithm.decompress(segment, limit.saturating_sub(total))?;
            total += plain.len();
            *segment = Bytes::from(plain);
        }
        Ok(frame)
    }

    fn read_preamble(&mut self, input: &mut BytesMut) -> Result<Option<(Preamble, usize)>, Error> {
        let head_len = if self.rx.is_some() {
            SECURE_PREAMBLE_LEN
        } else {
            PREAMBLE_LEN
        };
        let Some(head) = input.get_mut(..head_len) else {
            return Ok(None);
        };
        if let Some(rx) = &mut self.rx {
            let (block, tag) = head.split_at_mut(PREAMBLE_LEN + INLINE_LEN);
            rx.open(block, tag, "preamble")?;
        }
        let block: &[u8; PREAMBLE_LEN] = head
            .get(..PREAMBLE_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Encode("internal: short preamble"))?;
        let preamble = Preamble::decode(block)?;
        if preamble.flags & FLAG_COMPRESSED != 0 && self.decompression.is_none() {
            // Ceph asserts that a compression handler exists
            return Err(Error::UnexpectedCompression);
        }
        let limit = self.limits.limit_for(preamble.tag);
        let len = preamble.payload_len();
        if len > limit {
            return Err(Error::FrameTooLarge {
                tag: preamble.tag,
                len,
                limit,
            });
        }
        let onwire_len = if self.rx.is_some() {
            preamble.secure_onwire_len()
        } else {
            preamble.crc_onwire_len()
        };
        self.pending = Some((preamble, onwire_len));
        Ok(Some((preamble, onwire_len)))
    }
}

/// Checks a whole crc-mode frame and slices out its segments. `None` if aborted.
///
/// The segments are sliced off the frame's buffer first (shared, not copied: one reference
/// per segment, the last one taking the frame's own), then their crcs are checked. That
/// order is faster: a reference count update is an atomic operation, which keeps the
/// processor from running later loads early, so placed after the long crc of a data
/// segment it would stop the next work from overlapping that crc's tail.
#[inline(always)]
fn finish_crc(p: &Preamble, raw: BytesMut) -> Result<Option<Frame>, Error> {
    let first_len = p.len(0);
    let first_crc_len = if first_len > 0 { CRC_LEN } else { 0 };
    let mut starts = [0usize; MAX_SEGMENTS];
    let mut pos = PREAMBLE_LEN;
    for (i, start) in starts.iter_mut().enumerate() {
        *start = pos;
        pos += p.len(i) + if i == 0 { first_crc_len } else { 0 };
    }
    let raw = raw.freeze();
    let first_crc = le32(region(&raw, PREAMBLE_LEN + first_len, first_crc_len)?);
    let epilogue = if p.num_segments > 1 {
        region(&raw, pos, EPILOGUE_CRC_LEN)?
    } else {
        &[]
    };
    let epilogue = <[u8; EPILOGUE_CRC_LEN]>::try_from(epilogue).unwrap_or_default();
    let frame = segments_of(p, raw, starts)?;
    let [late_status, crcs @ ..] = epilogue;
    for (i, segment) in frame.segments.iter().enumerate().take(p.num_segments) {
        if i == 0 && segment.is_empty() {
            continue;
        }
        let received = match i.checked_sub(1) {
            None => first_crc,
            Some(j) => le32(crcs.get(j * CRC_LEN..).unwrap_or_default()),
        };
        check_crc(i, segment, received)?;
    }
    if p.num_segments > 1 && !check_late_status(late_status)? {
        return Ok(None);
    }
    Ok(Some(frame))
}

/// The frame whose segment `i` is `raw[starts[i]..][..p.len(i)]`: slices of `raw` (no copy),
/// the last segment taking `raw` itself, which saves one reference count update.
#[inline(always)]
fn segments_of(
    p: &Preamble,
    mut raw: Bytes,
    starts: [usize; MAX_SEGMENTS],
) -> Result<Frame, Error> {
    let outside = (0..p.num_segments).zip(starts).any(|(i, start)| {
        start
            .checked_add(p.len(i))
            .is_none_or(|end| end > raw.len())
    });
    if outside {
        return Err(Error::Encode("internal: segment outside its frame"));
    }
    let last = p.num_segments - 1;
    let mut segment = |i: usize, start: usize| {
        let len = p.len(i);
        if len == 0 || i > last {
            Bytes::new()
        } else if i == last {
            let mut segment = std::mem::take(&mut raw);
            segment.advance(start);
            segment.truncate(len);
            segment
        } else {
            raw.slice(start..start + len)
        }
    };
    let [s0, s1, s2, s3] = starts;
    let segments = [
        segment(0, s0),
        segment(1, s1),
        segment(2, s2),
        segment(3, s3),
    ];
    Ok(Frame {
        tag: p.tag,
        segments,
        data_tail: Vec::new(),
    })
}

/// Decrypts the rest of a secure-mode frame in place (its preamble block is already
/// plaintext) and cuts its segments off it. `None` if aborted.
fn finish_secure(rx: &mut GcmRx, p: &Preamble, mut raw: BytesMut) -> Result<Option<Frame>, Error> {
    let mut pos = SECURE_PREAMBLE_LEN;
    let rest_len = p.secure_first_rest_len();
    if rest_len > 0 {
        let cipher_len = rest_len - GCM_TAG_LEN;
        open_at(rx, &mut raw, pos, cipher_len, "first segment")?;
        pos += rest_len;
        // close the gap left by the preamble's tag: move the inline head next to the rest
        raw.copy_within(
            PREAMBLE_LEN..PREAMBLE_LEN + INLINE_LEN,
            PREAMBLE_LEN + GCM_TAG_LEN,
        );
    }
    let tail_len = p.secure_tail_len();
    if tail_len > 0 {
        let cipher_len = tail_len - GCM_TAG_LEN;
        open_at(rx, &mut raw, pos, cipher_len, "segments")?;
        let late_status = region(&raw, pos + cipher_len - EPILOGUE_SECURE_LEN, 1)?;
        if !check_late_status(late_status.first().copied().unwrap_or_default())? {
            return Ok(None);
        }
    }
    let first_start = if rest_len > 0 {
        PREAMBLE_LEN + GCM_TAG_LEN
    } else {
        PREAMBLE_LEN
    };
    let mut starts = [first_start; MAX_SEGMENTS];
    // segments 2-4 (if any: then `tail_len > 0`) follow the first one's operation, each
    // padded to the block size
    for (i, start) in starts.iter_mut().enumerate().skip(1) {
        *start = pos;
        pos += padded(p.len(i));
    }
    Ok(Some(segments_of(p, raw.freeze(), starts)?))
}

fn open_at(
    rx: &mut GcmRx,
    raw: &mut BytesMut,
    start: usize,
    len: usize,
    part: &'static str,
) -> Result<(), Error> {
    let region = raw
        .get_mut(start..start + len + GCM_TAG_LEN)
        .ok_or(Error::Encode("internal: short secure frame"))?;
    let (cipher, tag) = region.split_at_mut(len);
    rx.open(cipher, tag, part)
}

/// `len` bytes of the frame from `start`.
#[inline(always)]
fn region(raw: &[u8], start: usize, len: usize) -> Result<&[u8], Error> {
    start
        .checked_add(len)
        .and_then(|end| raw.get(start..end))
        .ok_or(Error::Encode("internal: segment outside its frame"))
}

#[inline(always)]
fn check_crc(segment: usize, data: &[u8], received: u32) -> Result<(), Error> {
    let computed = crc::segment_crc(data);
    if computed == received {
        Ok(())
    } else {
        Err(Error::BadSegmentCrc {
            segment,
            computed,
            received,
        })
    }
}

const _: () = assert!(MAX_SEGMENTS == 4);
