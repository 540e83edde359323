//! Single OSD ops: how each is encoded (its `ceph_osd_op` union and in-data, as
//! src/osdc/Objecter.h `ObjectOperation` lays them out) and how its out-data decodes
//! (src/osd/PrimaryLogPG.cc `do_osd_ops`), plus the byte budget the throttle charges.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use denc::{Reader, UTime, Writer};

use super::types::{ObjectStat, OmapKeys, OmapVals, SnapSet, SparseRead, Watcher, WatcherList};
use crate::error::{Error, Result};
use crate::messages::osd_types::{RawOsdOp, op_flag, opcode, watch_op};

/// How an op's out-data is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutKind {
    /// No out-data of interest.
    Nothing,
    /// Raw bytes (read, getxattr, omap header, class call output).
    Bytes,
    /// `map<u64,u64>` extents + bufferlist.
    Sparse,
    /// `le64 size, utime mtime`.
    Stat,
    /// `map<string, bufferlist>`.
    Xattrs,
    /// `set<string>` + optional `bool more`.
    OmapKeys { max: u64 },
    /// `map<string, bufferlist>` + optional `bool more`.
    OmapVals { max: u64 },
    /// `map<string, bufferlist>`.
    OmapValsByKeys,
    /// `obj_list_snap_response_t`.
    Snaps,
    /// `obj_list_watch_response_t`.
    Watchers,
}

/// One op of a compound operation: the packed op, its in-data, and how to read its result.
#[derive(Debug, Clone)]
pub(crate) struct OpSpec {
    pub(crate) raw: RawOsdOp,
    pub(crate) indata: Bytes,
    /// More in-data after `indata`, kept in its own buffers (a class call's input
    /// payload): it goes out without being copied.
    pub(crate) indata_tail: Vec<Bytes>,
    pub(crate) out: OutKind,
}

/// A comparison for [`cmp_xattr`](crate::WriteOp::cmp_xattr) (`CEPH_OSD_CMPXATTR_OP_*`):
/// the OSD tests "our value OP the stored value" (`do_xattr_cmp_*`); a missing xattr
/// compares as empty (or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// Equal.
    Eq = 1,
    /// Not equal.
    Ne = 2,
    /// Ours greater than the stored value.
    Gt = 3,
    /// Greater or equal.
    Gte = 4,
    /// Less than.
    Lt = 5,
    /// Less or equal.
    Lte = 6,
}

/// The value an xattr is compared with: bytes (compared as strings) or a number (the
/// stored value is parsed as a decimal number; `CEPH_OSD_CMPXATTR_MODE_U64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmpValue {
    /// `CEPH_OSD_CMPXATTR_MODE_STRING`.
    String(Bytes),
    /// `CEPH_OSD_CMPXATTR_MODE_U64`.
    U64(u64),
}

/// Most ops one compound operation may hold (`num_ops` is a __u16 on the wire; the OSD
/// refuses far fewer: `osd_max_ops_per_op`-like limits are in the hundreds).
pub const MAX_OPS: usize = 1024;

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn encode<F: FnOnce(&mut Writer)>(f: F) -> Bytes {
    let mut w = Writer::new();
    f(&mut w);
    Bytes::from(w.finish().unwrap_or_default())
}

impl OpSpec {
    fn new(raw: RawOsdOp, indata: Bytes, out: OutKind) -> Self {
        OpSpec {
            raw,
            indata,
            indata_tail: Vec::new(),
            out,
        }
    }

    /// Length of the in-data (tail included).
    pub(crate) fn indata_len(&self) -> usize {
        self.indata.len() + self.indata_tail.iter().map(Bytes::len).sum::<usize>()
    }

    /// The in-data's buffers, in order.
    pub(crate) fn into_indata_chunks(self) -> impl Iterator<Item = Bytes> {
        std::iter::once(self.indata)
            .chain(self.indata_tail)
            .filter(|c| !c.is_empty())
    }

    pub(crate) fn read(off: u64, len: u64) -> Self {
        Self::new(
            RawOsdOp::extent(opcode::READ, off, len, 0, 0),
            Bytes::new(),
            OutKind::Bytes,
        )
    }

    pub(crate) fn sparse_read(off: u64, len: u64) -> Self {
        Self::new(
            RawOsdOp::extent(opcode::SPARSE_READ, off, len, 0, 0),
            Bytes::new(),
            OutKind::Sparse,
        )
    }

    /// `CMPEXT`: the extent `off..off + data.len()` must hold `data` (bytes past the end
    /// of the object compare as zeros: PrimaryLogPG.cc `finish_extent_cmp`).
    pub(crate) fn cmpext(off: u64, data: Bytes) -> Self {
        let len = data.len() as u64;
        Self::new(
            RawOsdOp::extent(opcode::CMPEXT, off, len, 0, 0),
            data,
            OutKind::Nothing,
        )
    }

    pub(crate) fn stat() -> Self {
        Self::new(RawOsdOp::new(opcode::STAT), Bytes::new(), OutKind::Stat)
    }

    pub(crate) fn write(off: u64, data: Bytes) -> Self {
        let len = data.len() as u64;
        Self::new(
            RawOsdOp::extent(opcode::WRITE, off, len, 0, 0),
            data,
            OutKind::Nothing,
        )
    }

    pub(crate) fn write_full(data: Bytes) -> Self {
        let len = data.len() as u64;
        Self::new(
            RawOsdOp::extent(opcode::WRITE_FULL, 0, len, 0, 0),
            data,
            OutKind::Nothing,
        )
    }

    pub(crate) fn append(data: Bytes) -> Self {
        let len = data.len() as u64;
        Self::new(
            RawOsdOp::extent(opcode::APPEND, 0, len, 0, 0),
            data,
            OutKind::Nothing,
        )
    }

    pub(crate) fn zero(off: u64, len: u64) -> Self {
        Self::new(
            RawOsdOp::extent(opcode::ZERO, off, len, 0, 0),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    pub(crate) fn truncate(size: u64) -> Self {
        Self::new(
            RawOsdOp::extent(opcode::TRUNCATE, size, 0, 0, 0),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    pub(crate) fn create(exclusive: bool) -> Self {
        let flags = if exclusive { op_flag::EXCL } else { 0 };
        Self::new(
            RawOsdOp::new(opcode::CREATE).with_flags(flags),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    pub(crate) fn remove() -> Self {
        Self::new(
            RawOsdOp::extent(opcode::DELETE, 0, 0, 0, 0),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    /// ROLLBACK: the union's `snap.snapid` is its first field (where an extent's offset
    /// goes), the rest zero (Objecter.h `rollback`).
    pub(crate) fn rollback(snap: u64) -> Self {
        Self::new(
            RawOsdOp::extent(opcode::ROLLBACK, snap, 0, 0, 0),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    fn xattr(op: u16, name: &str, value: &[u8], out: OutKind) -> Self {
        let mut indata = Vec::with_capacity(name.len() + value.len());
        indata.extend_from_slice(name.as_bytes());
        indata.extend_from_slice(value);
        Self::new(
            RawOsdOp::xattr(op, len32(name.len()), len32(value.len()), 0, 0),
            Bytes::from(indata),
            out,
        )
    }

    pub(crate) fn get_xattr(name: &str) -> Self {
        Self::xattr(opcode::GET_XATTR, name, &[], OutKind::Bytes)
    }

    pub(crate) fn get_xattrs() -> Self {
        Self::new(
            RawOsdOp::new(opcode::GET_XATTRS),
            Bytes::new(),
            OutKind::Xattrs,
        )
    }

    pub(crate) fn set_xattr(name: &str, value: &[u8]) -> Self {
        Self::xattr(opcode::SET_XATTR, name, value, OutKind::Nothing)
    }

    pub(crate) fn rm_xattr(name: &str) -> Self {
        Self::xattr(opcode::RM_XATTR, name, &[], OutKind::Nothing)
    }

    pub(crate) fn cmp_xattr(name: &str, op: CmpOp, value: &CmpValue) -> Self {
        let (mode, bytes) = match value {
            CmpValue::String(b) => (1u8, b.to_vec()),
            CmpValue::U64(v) => (2u8, v.to_le_bytes().to_vec()),
        };
        let mut spec = Self::xattr(opcode::CMP_XATTR, name, &bytes, OutKind::Nothing);
        spec.raw = RawOsdOp::xattr(
            opcode::CMP_XATTR,
            len32(name.len()),
            len32(bytes.len()),
            op as u8,
            mode,
        );
        spec
    }

    /// An op whose extent length says how much in-data follows (librados sets it for the
    /// omap ops, whose in-data is an encoding).
    fn with_encoded(op: u16, indata: Bytes, out: OutKind) -> Self {
        let len = indata.len() as u64;
        Self::new(RawOsdOp::extent(op, 0, len, 0, 0), indata, out)
    }

    pub(crate) fn omap_get_keys(start_after: &str, max: u64) -> Self {
        let indata = encode(|w| {
            w.put(start_after);
            w.put_u64(max);
        });
        Self::with_encoded(opcode::OMAP_GET_KEYS, indata, OutKind::OmapKeys { max })
    }

    pub(crate) fn omap_get_vals(start_after: &str, prefix: &str, max: u64) -> Self {
        let indata = encode(|w| {
            w.put(start_after);
            w.put_u64(max);
            w.put(prefix);
        });
        Self::with_encoded(opcode::OMAP_GET_VALS, indata, OutKind::OmapVals { max })
    }

    pub(crate) fn omap_get_vals_by_keys(keys: &BTreeSet<String>) -> Self {
        let indata = encode(|w| w.put(keys));
        Self::with_encoded(
            opcode::OMAP_GET_VALS_BY_KEYS,
            indata,
            OutKind::OmapValsByKeys,
        )
    }

    pub(crate) fn omap_get_header() -> Self {
        Self::new(
            RawOsdOp::new(opcode::OMAP_GET_HEADER),
            Bytes::new(),
            OutKind::Bytes,
        )
    }

    pub(crate) fn omap_set(entries: &BTreeMap<String, Bytes>) -> Self {
        let indata = encode(|w| w.put(entries));
        Self::with_encoded(opcode::OMAP_SET_VALS, indata, OutKind::Nothing)
    }

    pub(crate) fn omap_set_header(header: Bytes) -> Self {
        Self::with_encoded(opcode::OMAP_SET_HEADER, header, OutKind::Nothing)
    }

    pub(crate) fn omap_rm_keys(keys: &BTreeSet<String>) -> Self {
        let indata = encode(|w| w.put(keys));
        Self::with_encoded(opcode::OMAP_RM_KEYS, indata, OutKind::Nothing)
    }

    pub(crate) fn omap_clear() -> Self {
        Self::new(
            RawOsdOp::new(opcode::OMAP_CLEAR),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    /// `CALL`: in-data = class name, method name, input. Names longer than 255 bytes do
    /// not fit the op's length bytes and are refused.
    pub(crate) fn call(class: &str, method: &str, input: &[u8]) -> Result<Self> {
        Self::call_chunks(class, method, input, &[])
    }

    /// `CALL` whose input is `input` followed by the buffers of `more`, which are not
    /// copied (the OSD sees one input: `cls` ops carry only its total length).
    pub(crate) fn call_chunks(
        class: &str,
        method: &str,
        input: &[u8],
        more: &[Bytes],
    ) -> Result<Self> {
        let (Ok(cl), Ok(ml)) = (u8::try_from(class.len()), u8::try_from(method.len())) else {
            return Err(Error::InvalidArgument(
                "class and method names are at most 255 bytes",
            ));
        };
        let more_len: usize = more.iter().map(Bytes::len).sum();
        let input_len = u32::try_from(input.len().saturating_add(more_len))
            .map_err(|_| Error::InvalidArgument("class call input larger than 4 GiB"))?;
        let mut indata = Vec::with_capacity(class.len() + method.len() + input.len());
        indata.extend_from_slice(class.as_bytes());
        indata.extend_from_slice(method.as_bytes());
        indata.extend_from_slice(input);
        let mut spec = Self::new(
            RawOsdOp::cls(cl, ml, input_len),
            Bytes::from(indata),
            OutKind::Bytes,
        );
        spec.indata_tail = more.iter().filter(|c| !c.is_empty()).cloned().collect();
        Ok(spec)
    }

    pub(crate) fn assert_version(version: u64) -> Self {
        Self::new(
            RawOsdOp::assert_ver(version),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    /// librados `assert_exists`: a STAT whose result is ignored (it fails with ENOENT).
    pub(crate) fn assert_exists() -> Self {
        Self::new(RawOsdOp::new(opcode::STAT), Bytes::new(), OutKind::Nothing)
    }

    pub(crate) fn list_snaps() -> Self {
        Self::new(
            RawOsdOp::new(opcode::LIST_SNAPS),
            Bytes::new(),
            OutKind::Snaps,
        )
    }

    /// Acknowledges notification `notify_id` of watch `cookie` with `reply`
    /// (`NOTIFY_ACK`: notify id, cookie, reply bufferlist).
    pub(crate) fn notify_ack(notify_id: u64, cookie: u64, reply: &Bytes) -> Self {
        let indata = encode(|w| {
            w.put_u64(notify_id);
            w.put_u64(cookie);
            w.put(reply);
        });
        Self::new(RawOsdOp::new(opcode::NOTIFY_ACK), indata, OutKind::Nothing)
    }

    /// Removes watch `cookie` of this client.
    pub(crate) fn unwatch(cookie: u64) -> Self {
        Self::new(
            RawOsdOp::watch(cookie, watch_op::UNWATCH, 0, 0),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    pub(crate) fn list_watchers() -> Self {
        Self::new(
            RawOsdOp::new(opcode::LIST_WATCHERS),
            Bytes::new(),
            OutKind::Watchers,
        )
    }

    /// `SETALLOCHINT`, advisory: FAILOK so that OSDs without it do not fail the op.
    pub(crate) fn set_alloc_hint(object_size: u64, write_size: u64, flags: u32) -> Self {
        Self::new(
            RawOsdOp::alloc_hint(object_size, write_size, flags).with_flags(op_flag::FAILOK),
            Bytes::new(),
            OutKind::Nothing,
        )
    }

    /// The bytes the throttle charges for this op (`Objecter::calc_op_budget`): in-data of
    /// writes, the extent of reads, name and value lengths of attribute reads.
    pub(crate) fn budget(&self) -> u64 {
        let op = self.raw.op;
        if opcode::is_write(op) {
            self.indata_len() as u64
        } else if opcode::is_read(op) {
            if opcode::uses_extent(op) {
                self.raw.extent_length()
            } else if op & opcode::TYPE_MASK == opcode::TYPE_ATTR {
                u64::from(self.raw.xattr_name_len()) + u64::from(self.raw.xattr_value_len())
            } else {
                0
            }
        } else {
            0
        }
    }
}

/// One op's result: its return value and, when it succeeded, its decoded out-data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// The op's return value (0 or positive on success, a negative errno on failure;
    /// ops after a failed one report 0 and did not run).
    pub rval: i32,
    /// What it returned.
    pub output: OpOutput,
}

/// The decoded out-data of one op.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpOutput {
    /// Nothing (writes, asserts, failed ops).
    None,
    /// Bytes: read data, an xattr value, the omap header, a class method's output.
    Data(Bytes),
    /// A sparse read.
    Sparse(SparseRead),
    /// A stat.
    Stat(ObjectStat),
    /// Every xattr.
    Xattrs(BTreeMap<String, Bytes>),
    /// A page of omap keys.
    OmapKeys(OmapKeys),
    /// A page of omap entries (or the entries asked for by key).
    OmapVals(OmapVals),
    /// The object's clones.
    Snaps(SnapSet),
    /// The object's watchers.
    Watchers(Vec<Watcher>),
}

impl OpResult {
    /// The data of a read, getxattr, omap header or class call.
    pub fn data(&self) -> Option<&Bytes> {
        match &self.output {
            OpOutput::Data(b) => Some(b),
            _ => None,
        }
    }

    /// The answer of a stat.
    pub fn stat(&self) -> Option<ObjectStat> {
        match self.output {
            OpOutput::Stat(s) => Some(s),
            _ => None,
        }
    }
}

/// Decodes one op's out-data by its kind. Malformed out-data is [`Error::Decode`] (librados
/// reports it as EIO).
pub(crate) fn decode_output(kind: OutKind, rval: i32, out: Bytes) -> Result<OpOutput> {
    if rval < 0 {
        return Ok(OpOutput::None);
    }
    let mut r = Reader::new(&out);
    let output = match kind {
        OutKind::Nothing => OpOutput::None,
        OutKind::Bytes => OpOutput::Data(out.clone()),
        OutKind::Sparse => {
            let extents: BTreeMap<u64, u64> = r.decode()?;
            let len = r.length()?;
            let at = r.offset();
            let data = out.slice(at..at + len);
            OpOutput::Sparse(SparseRead {
                extents: extents.into_iter().collect(),
                data,
            })
        }
        OutKind::Stat => {
            let size = r.u64()?;
            let mtime: UTime = r.decode()?;
            OpOutput::Stat(ObjectStat { size, mtime })
        }
        OutKind::Xattrs => OpOutput::Xattrs(r.decode()?),
        OutKind::OmapKeys { max } => {
            let keys: BTreeSet<String> = r.decode()?;
            // OSDs before Jewel did not say; then a full page means "maybe more"
            let more = if r.is_empty() {
                keys.len() as u64 == max
            } else {
                r.bool()?
            };
            OpOutput::OmapKeys(OmapKeys {
                keys: keys.into_iter().collect(),
                more,
            })
        }
        OutKind::OmapVals { max } => {
            let vals: BTreeMap<String, Bytes> = r.decode()?;
            let more = if r.is_empty() {
                vals.len() as u64 == max
            } else {
                r.bool()?
            };
            OpOutput::OmapVals(OmapVals { vals, more })
        }
        OutKind::OmapValsByKeys => OpOutput::OmapVals(OmapVals {
            vals: r.decode()?,
            more: false,
        }),
        OutKind::Snaps => OpOutput::Snaps(r.decode()?),
        OutKind::Watchers => OpOutput::Watchers(r.decode::<WatcherList>()?.0),
    };
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::Encode;

    #[test]
    fn xattr_and_call_layouts() {
        let s = OpSpec::set_xattr("user.a", b"xyz");
        assert_eq!(s.raw.op, opcode::SET_XATTR);
        assert_eq!((s.raw.xattr_name_len(), s.raw.xattr_value_len()), (6, 3));
        assert_eq!(&s.indata[..], b"user.axyz");
        assert_eq!(s.budget(), 9);
        let g = OpSpec::get_xattr("user.a");
        assert_eq!(g.budget(), 6);
        let c = OpSpec::cmp_xattr("n", CmpOp::Gte, &CmpValue::U64(5));
        assert_eq!(&c.raw.body[8..10], &[4, 2]);
        assert_eq!(&c.indata[1..], &5u64.to_le_bytes());
        let call = OpSpec::call("lock", "get_info", b"in").unwrap();
        assert_eq!(&call.raw.body[..7], &[4, 8, 0, 2, 0, 0, 0]);
        assert_eq!(&call.indata[..], b"lockget_infoin");
        assert!(OpSpec::call(&"x".repeat(256), "m", b"").is_err());
        // an input in several buffers: the op counts all of it, the buffers stay apart
        let big = Bytes::from(vec![7u8; 5000]);
        let chunked =
            OpSpec::call_chunks("lock", "get_info", b"in", std::slice::from_ref(&big)).unwrap();
        assert_eq!(&chunked.raw.body[..3], &[4, 8, 0]);
        assert_eq!(&chunked.raw.body[3..7], &5002u32.to_le_bytes());
        assert_eq!(chunked.indata_len(), 12 + 5002);
        assert_eq!(chunked.indata_tail[0].as_ptr(), big.as_ptr());
        let whole = OpSpec::call("lock", "get_info", &[&b"in"[..], &big[..]].concat()).unwrap();
        assert_eq!(chunked.raw.body, whole.raw.body);
        let joined: Vec<u8> = chunked.into_indata_chunks().flatten().collect();
        assert_eq!(joined, whole.indata.to_vec());
        assert_eq!(OpSpec::create(true).raw.flags, op_flag::EXCL);
        assert_eq!(OpSpec::set_alloc_hint(1, 2, 3).raw.flags, op_flag::FAILOK);
    }

    #[test]
    fn budgets_follow_calc_op_budget() {
        assert_eq!(OpSpec::read(0, 4096).budget(), 4096);
        assert_eq!(OpSpec::write(0, Bytes::from_static(b"12345")).budget(), 5);
        assert_eq!(OpSpec::stat().budget(), 0);
        let c = OpSpec::cmpext(7, Bytes::from_static(b"abc"));
        assert_eq!(c.raw.op, 0x1220);
        assert_eq!(
            &c.raw.body[..16],
            &[7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(&c.indata[..], b"abc");
        assert_eq!(c.budget(), 3);
        assert_eq!(OpSpec::remove().budget(), 0);
        let rb = OpSpec::rollback(0x1234);
        assert_eq!(rb.raw.op, 0x220e);
        assert_eq!(&rb.raw.body[..9], &[0x34, 0x12, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(rb.budget(), 0);
        let keys: BTreeSet<String> = ["a".to_string()].into();
        assert_eq!(
            OpSpec::omap_rm_keys(&keys).budget(),
            OpSpec::omap_rm_keys(&keys).indata.len() as u64
        );
    }

    #[test]
    fn omap_requests_encode_like_librados() {
        let k = OpSpec::omap_get_keys("b", 10);
        assert_eq!(&k.indata[..], &[1, 0, 0, 0, b'b', 10, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(k.raw.extent_length(), 13);
        let v = OpSpec::omap_get_vals("", "p", 2);
        assert_eq!(
            &v.indata[..],
            &[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, b'p']
        );
    }

    #[test]
    fn outputs_decode() {
        // sparse read: extents map + bufferlist, sliced without copying
        let mut w = Writer::new();
        let ext: BTreeMap<u64, u64> = [(0, 2), (10, 1)].into();
        ext.encode(&mut w);
        w.put(&Bytes::from_static(b"abc"));
        let out = Bytes::from(w.finish().unwrap());
        let OpOutput::Sparse(s) = decode_output(OutKind::Sparse, 0, out.clone()).unwrap() else {
            panic!()
        };
        assert_eq!(s.extents, vec![(0, 2), (10, 1)]);
        assert_eq!(&s.data[..], b"abc");
        assert_eq!(s.data.as_ptr(), out[out.len() - 3..].as_ptr());
        // stat
        let mut st = 9u64.to_le_bytes().to_vec();
        st.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(
            decode_output(OutKind::Stat, 0, Bytes::from(st)).unwrap(),
            OpOutput::Stat(ObjectStat {
                size: 9,
                mtime: UTime::new(1, 2)
            })
        );
        // omap keys with and without the `more` flag
        let mut w = Writer::new();
        let keys: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        w.put(&keys);
        let plain = Bytes::from(w.finish().unwrap());
        let OpOutput::OmapKeys(k) =
            decode_output(OutKind::OmapKeys { max: 2 }, 0, plain.clone()).unwrap()
        else {
            panic!()
        };
        assert!(k.more);
        let mut with_flag = plain.to_vec();
        with_flag.push(0);
        let OpOutput::OmapKeys(k) =
            decode_output(OutKind::OmapKeys { max: 2 }, 0, Bytes::from(with_flag)).unwrap()
        else {
            panic!()
        };
        assert!(!k.more);
        assert_eq!(k.keys, ["a", "b"]);
        // failed ops carry nothing; garbage is an error
        assert_eq!(
            decode_output(OutKind::Stat, -2, Bytes::new()).unwrap(),
            OpOutput::None
        );
        assert!(decode_output(OutKind::Stat, 0, Bytes::from_static(b"x")).is_err());
        assert!(decode_output(OutKind::Sparse, 0, Bytes::from_static(&[1, 0, 0, 0])).is_err());
    }
}
