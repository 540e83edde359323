//! msgr2.1 frames: preamble, up to four segments, epilogue; crc and secure modes.
//!
//! Layouts (src/msg/async/frames_v2.h/.cc, `FrameAssembler`):
//!
//! ```text
//! preamble (32): u8 tag, u8 num_segments, 4 x (le32 len, le16 align), u8 flags, u8 reserved,
//!                le32 crc32c(seed 0) of the first 28 bytes
//! crc mode:    preamble | seg1 + le32 crc (if seg1 non-empty) | seg2..seg4 |
//!              epilogue (13, only if num_segments > 1): u8 late_status, 3 x le32 crc of seg2..4
//! secure mode: GCM(preamble | seg1[..48] zero-padded to 48) + tag            (96 bytes)
//!              GCM(seg1[48..] zero-padded to 16) + tag                    (if seg1 > 48)
//!              GCM(seg2..4 each zero-padded to 16 | late_status + 15 zeros) + tag
//!                                                                     (if num_segments > 1)
//! ```
//!
//! Every GCM operation uses the next nonce of its direction.

mod decode;
mod encode;
mod pool;

pub use decode::FrameDecoder;
pub use encode::FrameEncoder;
pub use pool::{RecvPoolLimits, RecvPoolStats, SharedRecvPool};

use std::fmt;

use bytes::Bytes;

use crate::crc;
use crate::error::Error;

/// Size of the preamble block.
pub const PREAMBLE_LEN: usize = 32;
/// Bytes of the first segment carried inside the preamble's GCM operation in secure mode.
pub const INLINE_LEN: usize = 48;
/// Size of an AES-GCM tag.
pub const GCM_TAG_LEN: usize = crate::crypto::TAG_LEN;
/// Secure-mode padding unit.
pub const CRYPTO_BLOCK: usize = 16;
/// The preamble in secure mode: preamble + inline area + tag.
pub const SECURE_PREAMBLE_LEN: usize = PREAMBLE_LEN + INLINE_LEN + GCM_TAG_LEN;
/// Size of a segment crc.
pub const CRC_LEN: usize = 4;
/// The crc-mode epilogue: late_status + 3 crcs.
pub const EPILOGUE_CRC_LEN: usize = 1 + 3 * CRC_LEN;
/// The secure-mode epilogue before its tag.
pub const EPILOGUE_SECURE_LEN: usize = CRYPTO_BLOCK;
/// Most segments a frame can have.
pub const MAX_SEGMENTS: usize = 4;

/// `FRAME_LATE_STATUS_COMPLETE`.
pub const LATE_STATUS_COMPLETE: u8 = 0x0e;
/// `FRAME_LATE_STATUS_ABORTED`.
pub const LATE_STATUS_ABORTED: u8 = 0x01;
/// `FRAME_LATE_STATUS_ABORTED_MASK`.
const LATE_STATUS_MASK: u8 = 0x0f;
/// `FRAME_EARLY_DATA_COMPRESSED` in the preamble's flags byte (Quincy+).
pub const FLAG_COMPRESSED: u8 = 0x01;

/// Default segment alignment hint (`sizeof(void *)`).
const ALIGN_DEFAULT: u16 = 8;
/// Alignment hint of a message's data segment.
const ALIGN_PAGE: u16 = 4096;

/// A frame tag (frames_v2.h `enum class Tag`). Unknown values are carried, not rejected, at
/// this layer.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u8);

macro_rules! tags {
    ($($name:ident = $v:expr),* $(,)?) => {
        impl Tag {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Tag = Tag($v);
            )*
            /// Ceph's name of the tag, if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

tags! {
    HELLO = 1,
    AUTH_REQUEST = 2,
    AUTH_BAD_METHOD = 3,
    AUTH_REPLY_MORE = 4,
    AUTH_REQUEST_MORE = 5,
    AUTH_DONE = 6,
    AUTH_SIGNATURE = 7,
    CLIENT_IDENT = 8,
    SERVER_IDENT = 9,
    IDENT_MISSING_FEATURES = 10,
    SESSION_RECONNECT = 11,
    SESSION_RESET = 12,
    SESSION_RETRY = 13,
    SESSION_RETRY_GLOBAL = 14,
    SESSION_RECONNECT_OK = 15,
    WAIT = 16,
    MESSAGE = 17,
    KEEPALIVE2 = 18,
    KEEPALIVE2_ACK = 19,
    ACK = 20,
    COMPRESSION_REQUEST = 21,
    COMPRESSION_DONE = 22,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "tag {}", self.0),
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A frame: a tag and up to four segments. Control frames use segment 0 only; messages use
/// header, front, middle and data. Trailing empty segments are not sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// The frame's tag.
    pub tag: Tag,
    /// The segments; received segments are slices of one buffer per frame.
    pub segments: [Bytes; MAX_SEGMENTS],
    /// More bytes of the last segment (a message's data), after `segments[3]`: a segment
    /// assembled from several buffers goes out without being copied into one (in crc
    /// mode). Always empty in received frames.
    pub data_tail: Vec<Bytes>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lens: Vec<usize> = (0..MAX_SEGMENTS).map(|i| self.segment_len(i)).collect();
        f.debug_struct("Frame")
            .field("tag", &self.tag)
            .field("segment_lens", &lens)
            .finish()
    }
}

impl Frame {
    /// A control frame with one payload segment.
    pub fn control(tag: Tag, payload: Bytes) -> Self {
        Frame {
            tag,
            segments: [payload, Bytes::new(), Bytes::new(), Bytes::new()],
            data_tail: Vec::new(),
        }
    }

    /// The chunks segment `i` is made of, in order (the last segment's tail included).
    pub fn segment_chunks(&self, i: usize) -> impl Iterator<Item = &Bytes> + Clone {
        let tail: &[Bytes] = if i == MAX_SEGMENTS - 1 {
            &self.data_tail
        } else {
            &[]
        };
        self.segments.get(i).into_iter().chain(tail)
    }

    /// The length of segment `i`.
    pub fn segment_len(&self, i: usize) -> usize {
        self.segment_chunks(i).map(Bytes::len).sum()
    }

    /// Segments actually sent: trailing empty ones are dropped, at least one remains
    /// (frames_v2.cc `calc_num_segments`).
    pub fn num_segments(&self) -> usize {
        (0..MAX_SEGMENTS)
            .rposition(|i| self.segment_len(i) > 0)
            .map_or(1, |i| i + 1)
    }

    /// Total payload bytes.
    pub fn payload_len(&self) -> usize {
        (0..MAX_SEGMENTS).map(|i| self.segment_len(i)).sum()
    }
}

/// Limits that keep a peer from making us buffer arbitrary amounts of memory. Checked against
/// the preamble before any segment byte is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest MESSAGE frame (sum of its four segments). Ceph has no messenger-level cap
    /// (only throttles; `osd_max_write_size` is 90 MiB); the kernel caps front and middle at
    /// 16 MiB and data at 64 MiB. Default 256 MiB.
    pub max_message_len: u64,
    /// Largest control frame. Default 4 MiB (handshake frames are a few KiB).
    pub max_control_len: u64,
    /// Reuse of receive buffers for large frames.
    pub recv_pool: RecvPoolLimits,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_message_len: 256 << 20,
            max_control_len: 4 << 20,
            recv_pool: RecvPoolLimits::default(),
        }
    }
}

impl FrameLimits {
    fn limit_for(&self, tag: Tag) -> u64 {
        if tag == Tag::MESSAGE {
            self.max_message_len
        } else {
            self.max_control_len
        }
    }
}

/// The decoded preamble block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preamble {
    pub tag: Tag,
    pub num_segments: usize,
    pub lens: [u32; MAX_SEGMENTS],
    pub aligns: [u16; MAX_SEGMENTS],
    pub flags: u8,
}

impl Preamble {
    /// The preamble for `frame` (frames_v2.cc `fill_preamble`).
    pub fn for_frame(frame: &Frame) -> Result<Self, Error> {
        let num_segments = frame.num_segments();
        let mut lens = [0u32; MAX_SEGMENTS];
        let mut aligns = [0u16; MAX_SEGMENTS];
        let default_aligns = segment_aligns(frame.tag);
        for i in 0..num_segments {
            let len = u32::try_from(frame.segment_len(i))
                .map_err(|_| Error::Encode("segment longer than 4 GiB"))?;
            if let (Some(l), Some(a), Some(d)) =
                (lens.get_mut(i), aligns.get_mut(i), default_aligns.get(i))
            {
                *l = len;
                *a = *d;
            }
        }
        Ok(Preamble {
            tag: frame.tag,
            num_segments,
            lens,
            aligns,
            flags: 0,
        })
    }

    pub fn encode(&self) -> [u8; PREAMBLE_LEN] {
        let mut b = [0u8; PREAMBLE_LEN];
        let mut w = &mut b[..];
        let mut put = |bytes: &[u8]| {
            let (head, rest) = std::mem::take(&mut w).split_at_mut(bytes.len());
            head.copy_from_slice(bytes);
            w = rest;
        };
        put(&[self.tag.0, u8::try_from(self.num_segments).unwrap_or(0)]);
        for (len, align) in self.lens.iter().zip(&self.aligns) {
            put(&len.to_le_bytes());
            put(&align.to_le_bytes());
        }
        put(&[self.flags, 0]);
        let crc = crc::preamble_crc(&b[..PREAMBLE_LEN - CRC_LEN]);
        b[PREAMBLE_LEN - CRC_LEN..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks a (decrypted) preamble (frames_v2.cc `disassemble_preamble`).
    pub fn decode(b: &[u8; PREAMBLE_LEN]) -> Result<Self, Error> {
        let (body, crc_bytes) = b.split_at(PREAMBLE_LEN - CRC_LEN);
        let computed = crc::preamble_crc(body);
        let received = le32(crc_bytes);
        if computed != received {
            return Err(Error::BadPreambleCrc { computed, received });
        }
        let [tag, num_segments, descs @ .., flags, _reserved, _, _, _, _] = *b;
        if !(1..=4).contains(&num_segments) {
            return Err(Error::BadSegmentCount(num_segments));
        }
        let mut lens = [0u32; MAX_SEGMENTS];
        let mut aligns = [0u16; MAX_SEGMENTS];
        for ((desc, len), align) in descs.chunks_exact(6).zip(&mut lens).zip(&mut aligns) {
            *len = le32(desc);
            *align = u16::from_le_bytes([
                desc.get(4).copied().unwrap_or(0),
                desc.get(5).copied().unwrap_or(0),
            ]);
        }
        let num_segments = usize::from(num_segments);
        // slots beyond num_segments are ignored, as Ceph does
        for l in lens.iter_mut().skip(num_segments) {
            *l = 0;
        }
        if num_segments > 1 && lens.get(num_segments - 1) == Some(&0) {
            return Err(Error::LastSegmentEmpty);
        }
        Ok(Preamble {
            tag: Tag(tag),
            num_segments,
            lens,
            aligns,
            flags,
        })
    }

    pub fn len(&self, i: usize) -> usize {
        self.lens.get(i).map_or(0, |&l| l as usize)
    }

    /// Sum of the segment lengths.
    pub fn payload_len(&self) -> u64 {
        self.lens.iter().map(|&l| u64::from(l)).sum()
    }

    /// Bytes the whole frame occupies on the wire in crc mode.
    pub fn crc_onwire_len(&self) -> usize {
        let first = self.len(0);
        let mut n = PREAMBLE_LEN + first + if first > 0 { CRC_LEN } else { 0 };
        if self.num_segments > 1 {
            n += (1..MAX_SEGMENTS).map(|i| self.len(i)).sum::<usize>() + EPILOGUE_CRC_LEN;
        }
        n
    }

    /// Bytes of the first segment's remainder (beyond the inline area) on the wire in secure
    /// mode, including its tag; 0 if it is fully inlined.
    pub fn secure_first_rest_len(&self) -> usize {
        let padded = padded(self.len(0));
        if padded > INLINE_LEN {
            padded - INLINE_LEN + GCM_TAG_LEN
        } else {
            0
        }
    }

    /// Bytes of segments 2-4 plus epilogue and tag in secure mode; 0 for one segment.
    pub fn secure_tail_len(&self) -> usize {
        if self.num_segments > 1 {
            (1..MAX_SEGMENTS)
                .map(|i| padded(self.len(i)))
                .sum::<usize>()
                + EPILOGUE_SECURE_LEN
                + GCM_TAG_LEN
        } else {
            0
        }
    }

    /// Bytes the whole frame occupies on the wire in secure mode.
    pub fn secure_onwire_len(&self) -> usize {
        SECURE_PREAMBLE_LEN + self.secure_first_rest_len() + self.secure_tail_len()
    }
}

/// Alignment hints per segment (ControlFrame: one segment of 8; MessageFrame: 8, 8, 8, 4096).
fn segment_aligns(tag: Tag) -> [u16; MAX_SEGMENTS] {
    if tag == Tag::MESSAGE {
        [ALIGN_DEFAULT, ALIGN_DEFAULT, ALIGN_DEFAULT, ALIGN_PAGE]
    } else {
        [ALIGN_DEFAULT; MAX_SEGMENTS]
    }
}

/// `len` rounded up to the GCM padding unit.
pub(crate) fn padded(len: usize) -> usize {
    len.div_ceil(CRYPTO_BLOCK) * CRYPTO_BLOCK
}

/// A little-endian u32 from the first four bytes (zeros if shorter: callers pass 4 bytes).
pub(crate) fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

/// Checks an epilogue's late status: `Ok(true)` complete, `Ok(false)` aborted by the sender
/// (the frame is dropped), error otherwise (frames_v2.cc `check_epilogue_late_status`).
pub(crate) fn check_late_status(late_status: u8) -> Result<bool, Error> {
    match late_status & LATE_STATUS_MASK {
        LATE_STATUS_COMPLETE => Ok(true),
        LATE_STATUS_ABORTED => Ok(false),
        _ => Err(Error::BadLateStatus(late_status)),
    }
}

#[cfg(test)]
mod pool_tests;
#[cfg(test)]
mod tests;
