//! The crate's error type.

use crate::auth::AuthError;
use crate::frame::Tag;

/// Everything that can go wrong on a msgr2 connection. Each variant closes the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent the msgr1 banner `ceph v027`.
    #[error("peer speaks messenger v1 (banner \"ceph v027\"); only msgr2 is supported")]
    Msgr1Peer,
    /// The peer's first bytes are not a Ceph banner.
    #[error("peer sent a bad banner (not \"ceph v2\\n\")")]
    BadBanner,
    /// The banner payload is too short for the two feature words.
    #[error("banner payload of {0} bytes is shorter than 16")]
    BannerTooShort(u16),
    /// The peer requires msgr2 features we do not support.
    #[error("peer requires msgr2 features {missing:#x} that we do not support")]
    PeerRequiresFeatures {
        /// The required bits we lack.
        missing: u64,
    },
    /// The peer lacks msgr2 features we require (msgr2.1).
    #[error("peer lacks msgr2 features {missing:#x} that we require")]
    PeerLacksFeatures {
        /// The bits the peer does not support.
        missing: u64,
    },
    /// The preamble crc does not match.
    #[error("bad preamble crc: computed {computed:#010x}, received {received:#010x}")]
    BadPreambleCrc {
        /// Our crc.
        computed: u32,
        /// The crc in the frame.
        received: u32,
    },
    /// A segment crc does not match.
    #[error("bad crc of segment {segment}: computed {computed:#010x}, received {received:#010x}")]
    BadSegmentCrc {
        /// Segment index (0-3).
        segment: usize,
        /// Our crc.
        computed: u32,
        /// The crc in the frame.
        received: u32,
    },
    /// AES-GCM authentication failed (tampered or corrupted ciphertext, or wrong key/nonce).
    #[error("AES-GCM authentication tag mismatch on the {part}")]
    BadAuthTag {
        /// Which part of the frame: "preamble", "first segment", "segments".
        part: &'static str,
    },
    /// The preamble names an impossible number of segments.
    #[error("bad segment count {0} (must be 1-4)")]
    BadSegmentCount(u8),
    /// More than one segment but the last is empty (Ceph never sends this).
    #[error("frame's last segment is empty")]
    LastSegmentEmpty,
    /// The frame is larger than the configured limit.
    #[error("frame of {len} bytes (tag {tag}) exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// The frame's tag.
        tag: Tag,
        /// Sum of its segment lengths.
        len: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The epilogue's late status is neither "complete" nor "aborted".
    #[error("bad late_status {0:#04x} in the epilogue")]
    BadLateStatus(u8),
    /// The peer sent a compressed frame but compression was not negotiated.
    #[error("peer sent a compressed frame but compression was not negotiated")]
    UnexpectedCompression,
    /// A compressed segment does not decompress.
    #[error("cannot decompress a {algorithm} segment: {reason}")]
    Decompress {
        /// The negotiated algorithm.
        algorithm: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A compressed segment declares (or inflates to) more than the frame limit allows.
    #[error("{algorithm} segment decompresses to {len} bytes, over the limit of {limit}")]
    DecompressedTooLarge {
        /// The negotiated algorithm.
        algorithm: &'static str,
        /// The declared (or reached) length.
        len: u64,
        /// What the frame limit leaves for this segment.
        limit: u64,
    },
    /// COMPRESSION_DONE turned compression on with a method we did not offer.
    #[error("server chose compression method {0}, which we did not offer")]
    CompressionMethodNotOffered(u32),
    /// The transmit nonce would repeat (2^64 frames sent).
    #[error("AES-GCM transmit nonces exhausted")]
    NonceExhausted,
    /// The connection secret is too short for secure mode (key + two nonces = 40 bytes).
    #[error("connection secret of {0} bytes is too short for secure mode (need 40)")]
    ConnectionSecretTooShort(usize),
    /// The peer closed the connection in the middle of a banner or frame.
    #[error("connection closed by peer in the middle of a frame ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes received but not yet forming a whole frame.
        buffered: usize,
    },
    /// A frame's payload does not decode.
    #[error("bad {tag} frame payload")]
    BadPayload {
        /// The frame's tag.
        tag: Tag,
        /// What failed.
        #[source]
        source: denc::DecodeError,
    },
    /// A frame has a shape its tag does not allow (e.g. a control frame with 2 segments).
    #[error("malformed {tag} frame: {detail}")]
    MalformedFrame {
        /// The frame's tag.
        tag: Tag,
        /// What is wrong.
        detail: &'static str,
    },
    /// A frame arrived that the current state does not expect.
    #[error("unexpected {tag} frame while {state}")]
    UnexpectedFrame {
        /// The frame's tag.
        tag: Tag,
        /// The state we were in.
        state: &'static str,
    },
    /// A frame with a tag we do not know (Ceph faults on these too).
    #[error("frame with unknown tag {0}")]
    UnknownTag(u8),
    /// The peer is not the kind of entity we wanted to talk to.
    #[error("peer is a {got} but we expected a {expected}")]
    PeerTypeMismatch {
        /// The type we dialled.
        expected: denc::EntityType,
        /// The type in its HELLO.
        got: denc::EntityType,
    },
    /// The peer's SERVER_IDENT addresses do not include the address we dialled.
    #[error("peer identifies as {addrs} which does not include {target}")]
    PeerAddrMismatch {
        /// Its addresses.
        addrs: denc::EntityAddrVec,
        /// What we dialled.
        target: denc::EntityAddr,
    },
    /// The auth client failed or gave up.
    #[error("authentication failed")]
    Auth(#[from] AuthError),
    /// AUTH_DONE chose a connection mode we did not offer.
    #[error("peer chose connection mode {0} which we did not offer")]
    ModeNotOffered(u32),
    /// The peer's AUTH_SIGNATURE does not match what we sent.
    #[error("peer's auth signature does not match the bytes we sent (tampering or bug)")]
    BadSignature,
    /// The pre-auth transcript grew beyond any sane handshake.
    #[error("pre-auth transcript exceeds {0} bytes")]
    PreAuthTooLarge(usize),
    /// The server requires RADOS features we did not offer.
    #[error("server requires features {0:#x} that we do not support")]
    IdentMissingFeatures(u64),
    /// The server lacks RADOS features we require.
    #[error("server lacks required features {missing:#x}")]
    ServerLacksFeatures {
        /// The bits it does not support.
        missing: u64,
    },
    /// The server reset a session we asked to resume without saying "full".
    #[error("server sent a partial session reset")]
    PartialSessionReset,
    /// A frame or message cannot be encoded (a segment over 4 GiB, an address too large).
    #[error("cannot encode frame: {0}")]
    Encode(&'static str),
}

impl From<denc::EncodeError> for Error {
    fn from(_: denc::EncodeError) -> Self {
        Error::Encode("a field exceeds its length prefix")
    }
}
