//! The compound operation builders: [`WriteOp`] ([`IoCtx::op`]) and [`ReadOp`]
//! ([`IoCtx::read_op`]); ops are added in order and applied atomically by the OSD.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use denc::{SnapId, UTime};

use crate::error::{Error, Result};
use crate::ioctx::{IoCtx, Mode, OpResults};
use crate::osd::ops::{CmpOp, CmpValue, OpSpec};

/// Per-operation options of the builders.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpOptions {
    /// `Some(t)`: this timeout instead of the handle's.
    pub(crate) timeout: Option<Option<Duration>>,
    pub(crate) mtime: Option<UTime>,
    pub(crate) snap: Option<SnapId>,
    pub(crate) flags: u32,
}

macro_rules! common_builder_methods {
    () => {
        /// Bounds this operation (throttle wait included); `None` waits forever.
        pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
            self.opts.timeout = Some(timeout);
            self
        }

        /// Fails with ENOENT unless the object exists (librados `assert_exists`).
        pub fn assert_exists(mut self) -> Self {
            self.specs.push(OpSpec::assert_exists());
            self
        }

        /// Fails unless the object's version is `version` (ERANGE if it is newer,
        /// EOVERFLOW if older).
        pub fn assert_version(mut self, version: u64) -> Self {
            self.specs.push(OpSpec::assert_version(version));
            self
        }

        /// Compares xattr `name` with `value`; the whole operation fails with ECANCELED if
        /// the comparison does not hold.
        pub fn cmp_xattr(mut self, name: &str, op: CmpOp, value: CmpValue) -> Self {
            self.specs.push(OpSpec::cmp_xattr(name, op, &value));
            self
        }

        /// Compares the object's bytes at `off` with `data` (librados `cmpext`); bytes
        /// past the end of the object compare as zeros, and so does a missing object in a
        /// write operation (a read operation fails with ENOENT on one). On a
        /// difference the whole operation fails with [`Error::CompareMismatch`] carrying
        /// the index in `data` of the first differing byte.
        pub fn cmpext(mut self, off: u64, data: impl Into<Bytes>) -> Self {
            self.specs.push(OpSpec::cmpext(off, data.into()));
            self
        }

        /// Calls class method `class.method` with `input`; its output is this op's data.
        pub fn exec(mut self, class: &str, method: &str, input: &[u8]) -> Self {
            match OpSpec::call(class, method, input) {
                Ok(s) => self.specs.push(s),
                Err(e) => self.error = Some(e),
            }
            self
        }

        /// Calls class method `class.method` with an input made of `input` followed by
        /// the buffers of `more`, which are sent as they are, not copied (a large payload
        /// wrapped in a small encoded header, such as a copyup's data).
        pub fn exec_chunks(
            mut self,
            class: &str,
            method: &str,
            input: &[u8],
            more: &[Bytes],
        ) -> Self {
            match OpSpec::call_chunks(class, method, input, more) {
                Ok(s) => self.specs.push(s),
                Err(e) => self.error = Some(e),
            }
            self
        }

        /// Number of ops so far.
        pub fn len(&self) -> usize {
            self.specs.len()
        }

        /// True when no op was added.
        pub fn is_empty(&self) -> bool {
            self.specs.is_empty()
        }
    };
}

/// A compound write operation (built by [`IoCtx::op`]).
#[derive(Debug)]
#[must_use = "an operation does nothing until submitted"]
pub struct WriteOp {
    ioctx: IoCtx,
    oid: String,
    specs: Vec<OpSpec>,
    opts: OpOptions,
    error: Option<Error>,
}

impl WriteOp {
    pub(crate) fn new(ioctx: IoCtx, oid: String) -> Self {
        WriteOp {
            ioctx,
            oid,
            specs: Vec::new(),
            opts: OpOptions::default(),
            error: None,
        }
    }

    common_builder_methods!();

    /// Creates the object (`exclusive`: fail with EEXIST if it exists).
    pub fn create(mut self, exclusive: bool) -> Self {
        self.specs.push(OpSpec::create(exclusive));
        self
    }

    /// Writes `data` at `off`.
    pub fn write(mut self, off: u64, data: impl Into<Bytes>) -> Self {
        self.specs.push(OpSpec::write(off, data.into()));
        self
    }

    /// Replaces the content with `data`.
    pub fn write_full(mut self, data: impl Into<Bytes>) -> Self {
        self.specs.push(OpSpec::write_full(data.into()));
        self
    }

    /// Appends `data`.
    pub fn append(mut self, data: impl Into<Bytes>) -> Self {
        self.specs.push(OpSpec::append(data.into()));
        self
    }

    /// Zeroes a range.
    pub fn zero(mut self, off: u64, len: u64) -> Self {
        self.specs.push(OpSpec::zero(off, len));
        self
    }

    /// Sets the size.
    pub fn truncate(mut self, size: u64) -> Self {
        self.specs.push(OpSpec::truncate(size));
        self
    }

    /// Removes the object.
    pub fn remove(mut self) -> Self {
        self.specs.push(OpSpec::remove());
        self
    }

    /// Rolls the object back to self-managed snapshot `snap` (librados
    /// `selfmanaged_snap_rollback`): its content becomes what the snapshot saw; an object
    /// the snapshot did not see is removed.
    pub fn rollback(mut self, snap: SnapId) -> Self {
        self.specs.push(OpSpec::rollback(snap.0));
        self
    }

    /// Sets an xattr.
    pub fn set_xattr(mut self, name: &str, value: &[u8]) -> Self {
        self.specs.push(OpSpec::set_xattr(name, value));
        self
    }

    /// Removes an xattr.
    pub fn rm_xattr(mut self, name: &str) -> Self {
        self.specs.push(OpSpec::rm_xattr(name));
        self
    }

    /// Sets omap entries.
    pub fn omap_set(mut self, entries: &BTreeMap<String, Bytes>) -> Self {
        self.specs.push(OpSpec::omap_set(entries));
        self
    }

    /// Sets the omap header.
    pub fn omap_set_header(mut self, header: impl Into<Bytes>) -> Self {
        self.specs.push(OpSpec::omap_set_header(header.into()));
        self
    }

    /// Removes omap keys.
    pub fn omap_rm_keys(mut self, keys: &BTreeSet<String>) -> Self {
        self.specs.push(OpSpec::omap_rm_keys(keys));
        self
    }

    /// Removes every omap entry.
    pub fn omap_clear(mut self) -> Self {
        self.specs.push(OpSpec::omap_clear());
        self
    }

    /// Hints expected sizes (advisory; never fails the operation).
    pub fn set_alloc_hint(mut self, object_size: u64, write_size: u64, flags: u32) -> Self {
        self.specs
            .push(OpSpec::set_alloc_hint(object_size, write_size, flags));
        self
    }

    /// Sets the modification time the OSD records (default: now).
    pub fn mtime(mut self, mtime: UTime) -> Self {
        self.opts.mtime = Some(mtime);
        self
    }

    /// Sends the operation; it succeeds once the OSD has committed it.
    pub async fn submit(self) -> Result<OpResults> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.ioctx
            .operate(&self.oid, self.specs, Mode::Write, &self.opts)
            .await
    }
}

/// A compound read operation (built by [`IoCtx::read_op`]).
#[derive(Debug)]
#[must_use = "an operation does nothing until submitted"]
pub struct ReadOp {
    ioctx: IoCtx,
    oid: String,
    specs: Vec<OpSpec>,
    opts: OpOptions,
    error: Option<Error>,
}

impl ReadOp {
    pub(crate) fn new(ioctx: IoCtx, oid: String) -> Self {
        ReadOp {
            ioctx,
            oid,
            specs: Vec::new(),
            opts: OpOptions::default(),
            error: None,
        }
    }

    common_builder_methods!();

    /// Reads `len` bytes at `off`.
    pub fn read(mut self, off: u64, len: u64) -> Self {
        self.specs.push(OpSpec::read(off, len));
        self
    }

    /// Reads the data-holding extents of a range.
    pub fn sparse_read(mut self, off: u64, len: u64) -> Self {
        self.specs.push(OpSpec::sparse_read(off, len));
        self
    }

    /// Size and mtime.
    pub fn stat(mut self) -> Self {
        self.specs.push(OpSpec::stat());
        self
    }

    /// One xattr.
    pub fn get_xattr(mut self, name: &str) -> Self {
        self.specs.push(OpSpec::get_xattr(name));
        self
    }

    /// Every xattr.
    pub fn get_xattrs(mut self) -> Self {
        self.specs.push(OpSpec::get_xattrs());
        self
    }

    /// A page of omap keys.
    pub fn omap_get_keys(mut self, start_after: &str, max: u64) -> Self {
        self.specs.push(OpSpec::omap_get_keys(start_after, max));
        self
    }

    /// A page of omap entries.
    pub fn omap_get_vals(mut self, start_after: &str, prefix: &str, max: u64) -> Self {
        self.specs
            .push(OpSpec::omap_get_vals(start_after, prefix, max));
        self
    }

    /// The omap entries of `keys`.
    pub fn omap_get_vals_by_keys(mut self, keys: &BTreeSet<String>) -> Self {
        self.specs.push(OpSpec::omap_get_vals_by_keys(keys));
        self
    }

    /// The omap header.
    pub fn omap_get_header(mut self) -> Self {
        self.specs.push(OpSpec::omap_get_header());
        self
    }

    /// The watchers.
    pub fn list_watchers(mut self) -> Self {
        self.specs.push(OpSpec::list_watchers());
        self
    }

    /// Reads at snapshot `snap` instead of the handle's read snapshot.
    pub fn snap(mut self, snap: SnapId) -> Self {
        self.opts.snap = Some(snap);
        self
    }

    /// Sends the operation.
    pub async fn submit(self) -> Result<OpResults> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.ioctx
            .operate(&self.oid, self.specs, Mode::Read, &self.opts)
            .await
    }
}
