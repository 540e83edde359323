//! The crate's errors.

use rados::Errno;

/// Everything that can go wrong with RBD images.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The RADOS layer failed (an OSD error, a timeout, a missing pool...).
    #[error(transparent)]
    Rados(#[from] rados::Error),
    /// A class method's reply did not decode.
    #[error("undecodable reply from cls_rbd.{method}: {source}")]
    Decode {
        /// The method.
        method: &'static str,
        /// Why.
        source: denc::DecodeError,
    },
    /// No image of that name (or id) in the pool.
    #[error("image {0} does not exist")]
    ImageNotFound(String),
    /// An image of that name already exists.
    #[error("image {0} already exists")]
    ImageExists(String),
    /// An argument librbd would refuse (EINVAL).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// An image size above the largest this client accepts.
    #[error("image size {size} is above the maximum ({max} bytes)")]
    SizeTooLarge {
        /// Requested size.
        size: u64,
        /// The maximum.
        max: u64,
    },
    /// The object order is outside 12..=25 (EDOM, as librbd).
    #[error("order {0} must be in the range [12, 25]")]
    BadOrder(u8),
    /// Feature bits that are not known at all (ENOSYS, as librbd).
    #[error("unknown feature bits {0:#x}")]
    UnknownFeatures(u64),
    /// Features this client does not implement yet (for the operation asked).
    #[error("image features {} are not supported by this client yet ({what})", crate::features::names(*.features).join(","))]
    Unsupported {
        /// The feature bits in the way.
        features: u64,
        /// What was refused.
        what: &'static str,
    },
    /// The image is open read-only.
    #[error("the image is open read-only")]
    ReadOnly,
    /// I/O starting at or past the end of the image (EINVAL, as librbd).
    #[error("I/O at offset {offset} is past the end of the image ({size} bytes)")]
    PastEnd {
        /// Requested offset.
        offset: u64,
        /// Image size.
        size: u64,
    },
    /// Shrinking without `allow_shrink`.
    #[error("shrinking from {from} to {to} bytes needs allow_shrink")]
    ShrinkNotAllowed {
        /// Current size.
        from: u64,
        /// Requested size.
        to: u64,
    },
    /// The image is in use: someone watches its header (EBUSY).
    #[error("image still has watchers ({0})")]
    HasWatchers(usize),
    /// The image has snapshots (ENOTEMPTY), as librbd refuses to remove it.
    #[error("image has {0} snapshot(s); remove them first")]
    HasSnapshots(usize),
    /// compare_and_write found different data (EILSEQ); `offset` is the first byte that
    /// differs, in image offsets.
    #[error("compare mismatch at image offset {offset}")]
    CompareMismatch {
        /// The first differing byte.
        offset: u64,
    },
    /// The pool cannot hold RBD images (no overwrites or self-managed snapshots).
    #[error("pool {0} does not support RBD images")]
    PoolNotSupported(String),
    /// No metadata entry of that key.
    #[error("metadata key {0} does not exist")]
    MetadataNotFound(String),
    /// The exclusive lock could not be taken (EBUSY): held by another mechanism, refused
    /// by its owner, or its owner did not release it in time.
    #[error("exclusive lock not acquired: {0}")]
    LockBusy(&'static str),
    /// No snapshot of that name (or id) (ENOENT).
    #[error("snapshot {0} does not exist")]
    SnapshotNotFound(String),
    /// A snapshot of that name already exists (EEXIST).
    #[error("snapshot {0} already exists")]
    SnapshotExists(String),
    /// The snapshot is protected, or clones still use it (EBUSY).
    #[error("snapshot {0} is protected or in use")]
    SnapshotBusy(String),
    /// The image's snapshot limit is reached (EDQUOT).
    #[error("the image's snapshot limit is reached")]
    SnapshotLimit,
    /// The image is open at a snapshot: no writes (EROFS).
    #[error("the image is open at a snapshot (read-only)")]
    AtSnapshot,
    /// A write needs the exclusive lock, which `lock_acquire` stopped taking on demand
    /// (EROFS, as librbd's StandardPolicy).
    #[error("the exclusive lock is not held and may not be taken automatically")]
    LockNotOwned,
    /// No lock holder (or lock owner) of that name on the image (ENOENT).
    #[error("no lock held by {0}")]
    LockerNotFound(String),
    /// A trash entry cannot be removed before its deferment end (EPERM) without force.
    #[error("deferment time has not expired (it ends at {0} s since the epoch)")]
    TrashDeferred(u64),
    /// A trash entry is being moved, restored or removed (EBUSY, as librbd).
    #[error("trash entry busy: {0}")]
    TrashBusy(&'static str),
    /// A namespace of that name exists already (EEXIST).
    #[error("namespace {0} already exists")]
    NamespaceExists(String),
    /// No namespace of that name (ENOENT).
    #[error("namespace {0} does not exist")]
    NamespaceNotFound(String),
    /// The namespace still holds images or trash entries (EBUSY).
    #[error("namespace {0} is not empty")]
    NamespaceBusy(String),
    /// A diff or export stream is malformed (EINVAL).
    #[error("invalid diff stream: {0}")]
    BadStream(&'static str),
    /// Reading or writing a diff or export stream failed.
    #[error("stream I/O failed: {0}")]
    StreamIo(#[from] std::io::Error),
    /// No group of that name (ENOENT).
    #[error("group {0} does not exist")]
    GroupNotFound(String),
    /// A group of that name exists already (EEXIST).
    #[error("group {0} already exists")]
    GroupExists(String),
    /// The image belongs to a group: remove it from the group first (EMLINK, as librbd).
    #[error("image {0} belongs to a group")]
    ImageInGroup(String),
    /// The image is not being migrated (EINVAL, as librbd's `migration_status`).
    #[error("image {0} is not being migrated")]
    NotMigrating(String),
    /// A monitor command's reply did not say what it should (EBADMSG, as librbd when
    /// `ceph df` cannot be parsed).
    #[error("unexpected monitor reply: {0}")]
    BadMonReply(&'static str),
    /// A client of the image failed to quiesce before a snapshot (its hook's error, or
    /// ETIMEDOUT when it never answered); see `snap_create_flags`.
    #[error("failed to quiesce the image's clients: {}", Errno::from_result(*.0).unwrap_or(Errno::EIO))]
    QuiesceFailed(i32),
    /// The image is the source or target of a migration (EBUSY, as librbd's trash move).
    #[error("image {0} is being migrated")]
    ImageMigrating(String),
}

impl Error {
    /// The negative errno librbd would return for this error.
    pub fn errno(&self) -> i32 {
        let e = match self {
            Error::Rados(e) => return e.errno(),
            Error::Decode { .. } => Errno::EIO,
            Error::ImageNotFound(_) | Error::MetadataNotFound(_) => Errno::ENOENT,
            Error::ImageExists(_) => Errno::EEXIST,
            Error::InvalidArgument(_)
            | Error::PastEnd { .. }
            | Error::ShrinkNotAllowed { .. }
            | Error::SizeTooLarge { .. }
            | Error::PoolNotSupported(_) => Errno::EINVAL,
            Error::BadOrder(_) => Errno(33), // EDOM
            Error::UnknownFeatures(_) => Errno::ENOSYS,
            Error::Unsupported { .. } => Errno::EOPNOTSUPP,
            Error::ReadOnly => Errno::EROFS,
            Error::HasWatchers(_) => Errno::EBUSY,
            Error::HasSnapshots(_) => Errno::ENOTEMPTY,
            Error::CompareMismatch { .. } => Errno::EILSEQ,
            Error::LockBusy(_) | Error::SnapshotBusy(_) => Errno::EBUSY,
            Error::SnapshotNotFound(_) => Errno::ENOENT,
            Error::SnapshotExists(_) => Errno::EEXIST,
            Error::SnapshotLimit => Errno(122), // EDQUOT
            Error::AtSnapshot => Errno::EROFS,
            Error::LockNotOwned => Errno::EROFS,
            Error::LockerNotFound(_) => Errno::ENOENT,
            Error::TrashDeferred(_) => Errno::EPERM,
            Error::TrashBusy(_) => Errno::EBUSY,
            Error::NamespaceExists(_) => Errno::EEXIST,
            Error::NamespaceNotFound(_) => Errno::ENOENT,
            Error::NamespaceBusy(_) => Errno::EBUSY,
            Error::BadStream(_) => Errno::EINVAL,
            Error::StreamIo(_) => Errno::EIO,
            Error::GroupNotFound(_) => Errno::ENOENT,
            Error::GroupExists(_) => Errno::EEXIST,
            Error::ImageInGroup(_) => Errno::EMLINK,
            Error::NotMigrating(_) => Errno::EINVAL,
            Error::BadMonReply(_) => Errno(74), // EBADMSG
            Error::QuiesceFailed(code) => Errno::from_result(*code).unwrap_or(Errno::EIO),
            Error::ImageMigrating(_) => Errno::EBUSY,
        };
        e.as_result()
    }

    /// True if the error is errno `e`.
    pub fn is(&self, e: Errno) -> bool {
        self.errno() == e.as_result()
    }

    /// True for an OSD `ENOENT`.
    pub(crate) fn is_enoent(&self) -> bool {
        matches!(self, Error::Rados(e) if e.is(Errno::ENOENT))
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
