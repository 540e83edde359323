//! The crate's error type.

use denc::{DecodeError, EncodeError};

/// What can go wrong with OSD maps: decoding, applying incrementals, and placement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OsdMapError {
    /// The encoding is malformed or truncated.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A length did not fit Ceph's 32-bit fields while encoding.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The map's or incremental's crc32c does not match its bytes (Ceph refuses these too).
    #[error("{what} crc mismatch: encoded {expected:#010x}, computed {actual:#010x}")]
    CrcMismatch {
        /// `OSDMap` or `OSDMap::Incremental`.
        what: &'static str,
        /// The crc stored in the encoding.
        expected: u32,
        /// The crc of the bytes.
        actual: u32,
    },
    /// The map has no pool with this id.
    #[error("no pool {0}")]
    NoSuchPool(i64),
    /// The map has no pool with this name.
    #[error("no pool named {0:?}")]
    NoSuchPoolName(String),
    /// An incremental must move the map exactly one epoch forward.
    #[error("incremental for epoch {incremental} cannot apply to a map at epoch {current}")]
    WrongEpoch {
        /// The map's epoch.
        current: u32,
        /// The incremental's epoch.
        incremental: u32,
    },
    /// The incremental belongs to another cluster.
    #[error("incremental fsid does not match the map's")]
    FsidMismatch,
    /// An OSD id outside `0..max_osd`.
    #[error("osd {osd} out of range (max_osd {max_osd}) in {what}")]
    OsdOutOfRange {
        /// The id.
        osd: i32,
        /// The map's max_osd.
        max_osd: i32,
        /// Which field referred to it.
        what: &'static str,
    },
    /// A `max_osd` beyond what this implementation accepts ([`crate::MAX_OSD_LIMIT`]).
    #[error("max_osd {0} is negative or above the supported limit")]
    MaxOsdOutOfRange(i64),
    /// The per-OSD vectors of a map disagree with its max_osd.
    #[error("{what} has {len} entries but max_osd is {max_osd}")]
    OsdVectorLength {
        /// Which vector.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The map's max_osd.
        max_osd: i32,
    },
    /// Purged snaps for a pool that has no removed-snaps queue (Ceph asserts on this).
    #[error("incremental purges snaps of pool {0}, which has no removed_snaps_queue entry")]
    PurgedSnapsWithoutQueue(i64),
    /// CRUSH could not compute a mapping (a malformed map Ceph's mapper would crash on).
    #[error("crush: {0}")]
    Crush(#[from] crush::CrushError),
}

/// Result with [`OsdMapError`].
pub type Result<T, E = OsdMapError> = std::result::Result<T, E>;
