//! [`IoCtx`]: objects of one pool (and namespace), read at a snapshot, written with a snap
//! context; single-op calls, and the compound op builders [`WriteOp`] and [`ReadOp`]
//! (`builders.rs`).
//!
//! Every call is cancel-safe: dropping its future forgets the op (a write may or may not
//! have been applied; its throttle budget is returned exactly once).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use denc::{ObjectLocator, SnapContext, SnapId, UTime};

use crate::builders::OpOptions;
use crate::builders::{ReadOp, WriteOp};
use crate::client::Rados;
use crate::errno::Errno;
use crate::error::{Error, Result};
use crate::messages::osd_types::flag;
use crate::osd::ops::{CmpOp, CmpValue, MAX_OPS, OpOutput, OpResult, OpSpec, decode_output};
use crate::osd::target::Target;
use crate::osd::types::{ObjectStat, OmapKeys, OmapVals, SnapSet, SparseRead, Watcher};
use crate::osd::{OpRequest, OutKind};

/// A pool (and namespace) to do object I/O in. Cheap to clone; clones are independent
/// (namespace, snapshots and timeout are per handle).
#[derive(Debug, Clone)]
pub struct IoCtx {
    pub(crate) rados: Rados,
    pub(crate) pool: i64,
    pub(crate) pool_name: String,
    nspace: String,
    locator_key: String,
    pub(crate) read_snap: SnapId,
    pub(crate) snapc: SnapContext,
    pub(crate) timeout: Option<Duration>,
    pub(crate) extra_flags: u32,
}

/// The result of a compound operation: the object's version after it, and each op's
/// result in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResults {
    /// The object's user version after the operation (`rados_get_last_version`).
    pub version: u64,
    /// One result per op.
    pub results: Vec<OpResult>,
}

impl OpResults {
    /// The result of op `i`.
    pub fn get(&self, i: usize) -> Option<&OpResult> {
        self.results.get(i)
    }

    fn into_output(self, i: usize) -> Result<OpOutput> {
        self.results
            .into_iter()
            .nth(i)
            .map(|r| r.output)
            .ok_or(Error::Protocol("the OSD returned fewer ops than sent"))
    }
}

/// Reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

impl IoCtx {
    pub(crate) fn new(rados: Rados, pool: i64, pool_name: String) -> IoCtx {
        let timeout = rados.config().osd_op_timeout;
        IoCtx {
            rados,
            pool,
            pool_name,
            nspace: String::new(),
            locator_key: String::new(),
            read_snap: SnapId::NOSNAP,
            snapc: SnapContext::default(),
            timeout,
            extra_flags: 0,
        }
    }

    /// The client this handle belongs to.
    pub fn rados(&self) -> &Rados {
        &self.rados
    }

    /// The pool id.
    pub fn pool_id(&self) -> i64 {
        self.pool
    }

    /// The pool name.
    pub fn pool_name(&self) -> &str {
        &self.pool_name
    }

    /// The namespace ("" = the default one).
    pub fn namespace(&self) -> &str {
        &self.nspace
    }

    /// Uses namespace `nspace` for later calls (`rados_ioctx_set_namespace`).
    pub fn set_namespace(&mut self, nspace: impl Into<String>) {
        self.nspace = nspace.into();
    }

    /// This handle in namespace `nspace`.
    #[must_use]
    pub fn with_namespace(mut self, nspace: impl Into<String>) -> Self {
        self.set_namespace(nspace);
        self
    }

    /// Places objects by `key` instead of their names (`rados_ioctx_locator_set_key`; ""
    /// to stop).
    pub fn set_locator_key(&mut self, key: impl Into<String>) {
        self.locator_key = key.into();
    }

    /// Reads from snapshot `snap` (`SnapId::NOSNAP`: the head; `rados_ioctx_snap_set_read`).
    pub fn set_read_snap(&mut self, snap: SnapId) {
        self.read_snap = snap;
    }

    /// This handle reading from `snap`.
    #[must_use]
    pub fn with_read_snap(mut self, snap: SnapId) -> Self {
        self.read_snap = snap;
        self
    }

    /// The snapshot reads go to.
    pub fn read_snap(&self) -> SnapId {
        self.read_snap
    }

    /// Writes with snap context `seq` / `snaps` (newest first), for self-managed snapshots
    /// (`rados_ioctx_selfmanaged_snap_set_write_ctx`). Refuses an unordered context.
    pub fn set_write_snap_context(&mut self, seq: SnapId, snaps: Vec<SnapId>) -> Result<()> {
        let snapc = SnapContext { seq, snaps };
        if !snapc.is_valid() {
            return Err(Error::InvalidArgument(
                "snap context: snaps must be descending and not above seq",
            ));
        }
        self.snapc = snapc;
        Ok(())
    }

    /// The write snap context.
    pub fn write_snap_context(&self) -> &SnapContext {
        &self.snapc
    }

    /// Bounds every later call of this handle (throttle wait included); `None` waits
    /// forever. The default is `rados_osd_op_timeout`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// This handle with another timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout bounding each op of this handle.
    pub(crate) fn op_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// With `true`, writes to a full pool or cluster fail at once (ENOSPC / EDQUOT)
    /// instead of waiting for space (`rados_ioctx_set_pool_full_try`).
    pub fn set_pool_full_try(&mut self, yes: bool) {
        if yes {
            self.extra_flags |= flag::FULL_TRY;
        } else {
            self.extra_flags &= !flag::FULL_TRY;
        }
    }

    /// Whether [`IoCtx::set_pool_full_try`] is on (`rados_ioctx_get_pool_full_try`).
    pub fn pool_full_try(&self) -> bool {
        self.extra_flags & flag::FULL_TRY != 0
    }

    pub(crate) fn locator(&self) -> ObjectLocator {
        ObjectLocator {
            pool: self.pool,
            key: self.locator_key.clone(),
            nspace: self.nspace.clone(),
            hash: -1,
        }
    }

    /// Runs `specs` on `oid` as one atomic operation.
    pub(crate) async fn operate(
        &self,
        oid: &str,
        specs: Vec<OpSpec>,
        mode: Mode,
        opts: &OpOptions,
    ) -> Result<OpResults> {
        if specs.is_empty() {
            return Ok(OpResults {
                version: 0,
                results: Vec::new(),
            });
        }
        if specs.len() > MAX_OPS {
            return Err(Error::InvalidArgument("too many ops in one operation"));
        }
        let mut flags = self.extra_flags | opts.flags;
        let (snapid, snapc, mtime) = match mode {
            Mode::Read => {
                flags |= flag::READ;
                (
                    opts.snap.unwrap_or(self.read_snap),
                    SnapContext::default(),
                    UTime::default(),
                )
            }
            Mode::Write => {
                flags |= flag::WRITE;
                (
                    SnapId::NOSNAP,
                    self.snapc.clone(),
                    opts.mtime.unwrap_or_else(UTime::now),
                )
            }
        };
        let budget: u64 = specs.iter().map(OpSpec::budget).sum();
        let kinds: Vec<OutKind> = specs.iter().map(|s| s.out).collect();
        let mut ops = Vec::with_capacity(specs.len());
        let mut data = Bytes::new();
        let mut data_tail: Vec<Bytes> = Vec::new();
        for s in specs {
            let mut raw = s.raw;
            raw.payload_len = u32::try_from(s.indata_len())
                .map_err(|_| Error::InvalidArgument("op data larger than 4 GiB"))?;
            ops.push(raw);
            // the ops' in-data buffers go out one after the other, none copied
            for chunk in s.into_indata_chunks() {
                if data.is_empty() {
                    data = chunk;
                } else {
                    data_tail.push(chunk);
                }
            }
        }
        let target = Target::new(oid.to_owned(), self.locator(), flags);
        let timeout = opts.timeout.unwrap_or(self.timeout);
        let reply = self
            .rados
            .osd()
            .run(
                |reply| OpRequest {
                    target,
                    ops,
                    data,
                    data_tail,
                    snapid,
                    snapc,
                    mtime,
                    reply: reply.into(),
                },
                budget,
                timeout,
            )
            .await?;
        if reply.result < 0 {
            let failed_op = reply.rvals.iter().position(|r| *r < 0);
            if let Some(offset) = cmpext_mismatch(reply.result) {
                return Err(Error::CompareMismatch { offset, failed_op });
            }
            return Err(Error::Osd {
                errno: Errno::from_result(reply.result).unwrap_or(Errno::EIO),
                failed_op,
            });
        }
        let outdata = reply.outdata().ok_or(Error::Protocol(
            "op reply out-data shorter than its ops say",
        ))?;
        let mut results = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.into_iter().enumerate() {
            let rval = reply.rvals.get(i).copied().unwrap_or(0);
            let out = outdata.get(i).cloned().unwrap_or_default();
            results.push(OpResult {
                rval,
                output: decode_output(kind, rval, out)?,
            });
        }
        Ok(OpResults {
            version: reply.user_version,
            results,
        })
    }

    async fn one(&self, oid: &str, spec: OpSpec, mode: Mode) -> Result<OpOutput> {
        self.operate(oid, vec![spec], mode, &OpOptions::default())
            .await?
            .into_output(0)
    }

    async fn one_write(&self, oid: &str, spec: OpSpec) -> Result<()> {
        self.one(oid, spec, Mode::Write).await.map(|_| ())
    }

    // ---- single-op calls ----

    /// Reads up to `len` bytes at `off` (fewer at the end of the object). The bytes are a
    /// slice of the received message, not a copy.
    pub async fn read(&self, oid: &str, off: u64, len: u64) -> Result<Bytes> {
        expect_data(self.one(oid, OpSpec::read(off, len), Mode::Read).await?)
    }

    /// Reads the extents of `off..off+len` that hold data.
    pub async fn sparse_read(&self, oid: &str, off: u64, len: u64) -> Result<SparseRead> {
        match self
            .one(oid, OpSpec::sparse_read(off, len), Mode::Read)
            .await?
        {
            OpOutput::Sparse(s) => Ok(s),
            _ => Err(Error::Protocol(
                "sparse read returned another kind of result",
            )),
        }
    }

    /// Writes `data` at `off` (zero-copy: the buffer is sent as it is).
    pub async fn write(&self, oid: &str, off: u64, data: impl Into<Bytes>) -> Result<()> {
        self.one_write(oid, OpSpec::write(off, data.into())).await
    }

    /// Replaces the object's content with `data`.
    pub async fn write_full(&self, oid: &str, data: impl Into<Bytes>) -> Result<()> {
        self.one_write(oid, OpSpec::write_full(data.into())).await
    }

    /// Appends `data`.
    pub async fn append(&self, oid: &str, data: impl Into<Bytes>) -> Result<()> {
        self.one_write(oid, OpSpec::append(data.into())).await
    }

    /// Zeroes `len` bytes at `off`.
    pub async fn zero(&self, oid: &str, off: u64, len: u64) -> Result<()> {
        self.one_write(oid, OpSpec::zero(off, len)).await
    }

    /// Sets the object's size.
    pub async fn truncate(&self, oid: &str, size: u64) -> Result<()> {
        self.one_write(oid, OpSpec::truncate(size)).await
    }

    /// Creates the object; `exclusive` fails with EEXIST if it exists.
    pub async fn create(&self, oid: &str, exclusive: bool) -> Result<()> {
        self.one_write(oid, OpSpec::create(exclusive)).await
    }

    /// Removes the object (ENOENT if it does not exist).
    pub async fn remove(&self, oid: &str) -> Result<()> {
        self.one_write(oid, OpSpec::remove()).await
    }

    /// Compares the object's bytes at `off` with `data` (librados `cmpext`): Ok when they
    /// match (bytes past the end of the object compare as zeros), else
    /// [`Error::CompareMismatch`] with the index of the first differing byte. A missing
    /// object is ENOENT here (a read); in a [`WriteOp`] it compares as zeros.
    pub async fn cmpext(&self, oid: &str, off: u64, data: impl Into<Bytes>) -> Result<()> {
        self.one(oid, OpSpec::cmpext(off, data.into()), Mode::Read)
            .await
            .map(|_| ())
    }

    /// Size and modification time.
    pub async fn stat(&self, oid: &str) -> Result<ObjectStat> {
        match self.one(oid, OpSpec::stat(), Mode::Read).await? {
            OpOutput::Stat(s) => Ok(s),
            _ => Err(Error::Protocol("stat returned another kind of result")),
        }
    }

    /// The value of xattr `name` (ENODATA if absent).
    pub async fn get_xattr(&self, oid: &str, name: &str) -> Result<Bytes> {
        expect_data(self.one(oid, OpSpec::get_xattr(name), Mode::Read).await?)
    }

    /// Every xattr.
    pub async fn get_xattrs(&self, oid: &str) -> Result<BTreeMap<String, Bytes>> {
        match self.one(oid, OpSpec::get_xattrs(), Mode::Read).await? {
            OpOutput::Xattrs(x) => Ok(x),
            _ => Err(Error::Protocol("getxattrs returned another kind of result")),
        }
    }

    /// Sets xattr `name`.
    pub async fn set_xattr(&self, oid: &str, name: &str, value: &[u8]) -> Result<()> {
        self.one_write(oid, OpSpec::set_xattr(name, value)).await
    }

    /// Removes xattr `name`.
    pub async fn rm_xattr(&self, oid: &str, name: &str) -> Result<()> {
        self.one_write(oid, OpSpec::rm_xattr(name)).await
    }

    /// Compares xattr `name` with `value`; ECANCELED if the comparison does not hold.
    pub async fn cmp_xattr(&self, oid: &str, name: &str, op: CmpOp, value: CmpValue) -> Result<()> {
        self.one(oid, OpSpec::cmp_xattr(name, op, &value), Mode::Read)
            .await
            .map(|_| ())
    }

    /// Up to `max` omap keys after `start_after`.
    pub async fn omap_get_keys(&self, oid: &str, start_after: &str, max: u64) -> Result<OmapKeys> {
        match self
            .one(oid, OpSpec::omap_get_keys(start_after, max), Mode::Read)
            .await?
        {
            OpOutput::OmapKeys(k) => Ok(k),
            _ => Err(Error::Protocol("omap keys returned another kind of result")),
        }
    }

    /// Up to `max` omap entries after `start_after` whose keys start with `prefix`.
    pub async fn omap_get_vals(
        &self,
        oid: &str,
        start_after: &str,
        prefix: &str,
        max: u64,
    ) -> Result<OmapVals> {
        expect_vals(
            self.one(
                oid,
                OpSpec::omap_get_vals(start_after, prefix, max),
                Mode::Read,
            )
            .await?,
        )
    }

    /// The omap entries of `keys` that exist.
    pub async fn omap_get_vals_by_keys(
        &self,
        oid: &str,
        keys: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Bytes>> {
        expect_vals(
            self.one(oid, OpSpec::omap_get_vals_by_keys(keys), Mode::Read)
                .await?,
        )
        .map(|v| v.vals)
    }

    /// The omap header.
    pub async fn omap_get_header(&self, oid: &str) -> Result<Bytes> {
        expect_data(self.one(oid, OpSpec::omap_get_header(), Mode::Read).await?)
    }

    /// Sets omap entries.
    pub async fn omap_set(&self, oid: &str, entries: &BTreeMap<String, Bytes>) -> Result<()> {
        self.one_write(oid, OpSpec::omap_set(entries)).await
    }

    /// Sets the omap header.
    pub async fn omap_set_header(&self, oid: &str, header: impl Into<Bytes>) -> Result<()> {
        self.one_write(oid, OpSpec::omap_set_header(header.into()))
            .await
    }

    /// Removes omap keys.
    pub async fn omap_rm_keys(&self, oid: &str, keys: &BTreeSet<String>) -> Result<()> {
        self.one_write(oid, OpSpec::omap_rm_keys(keys)).await
    }

    /// Removes every omap entry (and the header).
    pub async fn omap_clear(&self, oid: &str) -> Result<()> {
        self.one_write(oid, OpSpec::omap_clear()).await
    }

    /// Calls object class method `class.method` with `input`; returns its output. Sent as
    /// a read, as librados does; the OSD knows from the method whether it writes.
    pub async fn exec(&self, oid: &str, class: &str, method: &str, input: &[u8]) -> Result<Bytes> {
        expect_data(
            self.one(oid, OpSpec::call(class, method, input)?, Mode::Read)
                .await?,
        )
    }

    /// The object's clones (read at the snapdir, as librados does).
    pub async fn list_snaps(&self, oid: &str) -> Result<SnapSet> {
        let opts = OpOptions {
            snap: Some(SnapId::SNAPDIR),
            ..OpOptions::default()
        };
        match self
            .operate(oid, vec![OpSpec::list_snaps()], Mode::Read, &opts)
            .await?
            .into_output(0)?
        {
            OpOutput::Snaps(s) => Ok(s),
            _ => Err(Error::Protocol(
                "list_snaps returned another kind of result",
            )),
        }
    }

    /// The object's watchers.
    pub async fn list_watchers(&self, oid: &str) -> Result<Vec<Watcher>> {
        match self.one(oid, OpSpec::list_watchers(), Mode::Read).await? {
            OpOutput::Watchers(w) => Ok(w),
            _ => Err(Error::Protocol(
                "list_watchers returned another kind of result",
            )),
        }
    }

    /// Hints the expected object and write sizes (`CEPH_OSD_ALLOC_HINT_FLAG_*` flags).
    pub async fn set_alloc_hint(
        &self,
        oid: &str,
        object_size: u64,
        write_size: u64,
        flags: u32,
    ) -> Result<()> {
        self.one_write(oid, OpSpec::set_alloc_hint(object_size, write_size, flags))
            .await
    }

    // ---- compound operations ----

    /// A compound write operation on `oid`: add ops, then [`WriteOp::submit`]. All ops
    /// apply atomically, or none does.
    pub fn op(&self, oid: impl Into<String>) -> WriteOp {
        WriteOp::new(self.clone(), oid.into())
    }

    /// A compound read operation on `oid`.
    pub fn read_op(&self, oid: impl Into<String>) -> ReadOp {
        ReadOp::new(self.clone(), oid.into())
    }
}

/// The OSD's cmpext mismatch code `-MAX_ERRNO - index` (src/include/err.h MAX_ERRNO =
/// 4095; PrimaryLogPG.cc `finish_extent_cmp`) as the index.
fn cmpext_mismatch(result: i32) -> Option<u64> {
    const MAX_ERRNO: i64 = 4095;
    let index = -MAX_ERRNO - i64::from(result);
    u64::try_from(index).ok()
}

fn expect_data(out: OpOutput) -> Result<Bytes> {
    match out {
        OpOutput::Data(b) => Ok(b),
        OpOutput::None => Ok(Bytes::new()),
        _ => Err(Error::Protocol("expected data, got another kind of result")),
    }
}

fn expect_vals(out: OpOutput) -> Result<OmapVals> {
    match out {
        OpOutput::OmapVals(v) => Ok(v),
        _ => Err(Error::Protocol(
            "omap values returned another kind of result",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmpext_mismatch_codes() {
        assert_eq!(cmpext_mismatch(-4095), Some(0));
        assert_eq!(cmpext_mismatch(-4095 - 10), Some(10));
        assert_eq!(cmpext_mismatch(-2), None);
        assert_eq!(cmpext_mismatch(-4094), None);
        assert_eq!(cmpext_mismatch(i32::MIN), Some(2_147_479_553));
    }
}
