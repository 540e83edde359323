//! The pieces OSD messages share: `spg_t`, the packed `ceph_osd_op`, op codes and flags
//! (src/include/rados.h, src/osd/osd_types.h).

use denc::{Decode, Encode, PgId, Reader, Writer};

/// `spg_t`: a PG and, for erasure-coded pools, the shard (`NO_SHARD` = -1 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SpgId {
    /// The PG.
    pub pgid: PgId,
    /// The shard; [`SpgId::NO_SHARD`] for replicated pools.
    pub shard: i8,
}

impl SpgId {
    /// `shard_id_t::NO_SHARD`.
    pub const NO_SHARD: i8 = -1;

    /// A PG of a replicated pool.
    pub fn new(pgid: PgId) -> Self {
        SpgId {
            pgid,
            shard: Self::NO_SHARD,
        }
    }
}

impl std::fmt::Display for SpgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.shard == Self::NO_SHARD {
            write!(f, "{}", self.pgid)
        } else {
            write!(f, "{}s{}", self.pgid, self.shard)
        }
    }
}

// src/osd/osd_types.h spg_t::encode: ENCODE_START(1, 1) { pgid, shard }
impl Encode for SpgId {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.pgid);
            w.put_i8(self.shard);
        });
    }
}

impl Decode for SpgId {
    const MIN_LEN: usize = 6 + 17 + 1;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("spg_t", 1, |_, r| {
            Ok(SpgId {
                pgid: r.decode()?,
                shard: r.i8()?,
            })
        })
    }
}

/// OSD op codes (`CEPH_OSD_OP_*`): mode (RD 0x1000, WR 0x2000) | type (DATA 0x200, ATTR
/// 0x300, EXEC 0x400, PG 0x500) | number.
pub mod opcode {
    /// `CEPH_OSD_OP_MODE_RD`.
    pub const MODE_RD: u16 = 0x1000;
    /// `CEPH_OSD_OP_MODE_WR`.
    pub const MODE_WR: u16 = 0x2000;
    /// `CEPH_OSD_OP_TYPE` mask.
    pub const TYPE_MASK: u16 = 0x0f00;
    /// `CEPH_OSD_OP_TYPE_DATA`.
    pub const TYPE_DATA: u16 = 0x0200;
    /// `CEPH_OSD_OP_TYPE_ATTR`.
    pub const TYPE_ATTR: u16 = 0x0300;
    /// `CEPH_OSD_OP_TYPE_EXEC`.
    pub const TYPE_EXEC: u16 = 0x0400;
    /// `CEPH_OSD_OP_TYPE_PG`.
    pub const TYPE_PG: u16 = 0x0500;

    /// `READ`.
    pub const READ: u16 = 0x1201;
    /// `STAT`.
    pub const STAT: u16 = 0x1202;
    /// `SPARSE_READ`.
    pub const SPARSE_READ: u16 = 0x1205;
    /// `NOTIFY`.
    pub const NOTIFY: u16 = 0x1206;
    /// `NOTIFY_ACK`.
    pub const NOTIFY_ACK: u16 = 0x1207;
    /// `ASSERT_VER`.
    pub const ASSERT_VER: u16 = 0x1208;
    /// `LIST_WATCHERS`.
    pub const LIST_WATCHERS: u16 = 0x1209;
    /// `LIST_SNAPS`.
    pub const LIST_SNAPS: u16 = 0x120a;
    /// `OMAPGETKEYS`.
    pub const OMAP_GET_KEYS: u16 = 0x1211;
    /// `OMAPGETVALS`.
    pub const OMAP_GET_VALS: u16 = 0x1212;
    /// `OMAPGETHEADER`.
    pub const OMAP_GET_HEADER: u16 = 0x1213;
    /// `OMAPGETVALSBYKEYS`.
    pub const OMAP_GET_VALS_BY_KEYS: u16 = 0x1214;
    /// `OMAP_CMP`.
    pub const OMAP_CMP: u16 = 0x1219;
    /// `CMPEXT` (`__CEPH_OSD_OP(RD, DATA, 32)`): compares an extent with the in-data.
    pub const CMPEXT: u16 = 0x1220;
    /// `WRITE`.
    pub const WRITE: u16 = 0x2201;
    /// `WRITEFULL`.
    pub const WRITE_FULL: u16 = 0x2202;
    /// `TRUNCATE`.
    pub const TRUNCATE: u16 = 0x2203;
    /// `ZERO`.
    pub const ZERO: u16 = 0x2204;
    /// `DELETE`.
    pub const DELETE: u16 = 0x2205;
    /// `APPEND`.
    pub const APPEND: u16 = 0x2206;
    /// `CREATE`.
    pub const CREATE: u16 = 0x220d;
    /// `ROLLBACK` (`__CEPH_OSD_OP(WR, DATA, 14)`): the object's content back to a snapshot.
    pub const ROLLBACK: u16 = 0x220e;
    /// `WATCH`.
    pub const WATCH: u16 = 0x220f;
    /// `OMAPSETVALS`.
    pub const OMAP_SET_VALS: u16 = 0x2215;
    /// `OMAPSETHEADER`.
    pub const OMAP_SET_HEADER: u16 = 0x2216;
    /// `OMAPCLEAR`.
    pub const OMAP_CLEAR: u16 = 0x2217;
    /// `OMAPRMKEYS`.
    pub const OMAP_RM_KEYS: u16 = 0x2218;
    /// `SETALLOCHINT`.
    pub const SET_ALLOC_HINT: u16 = 0x2223;
    /// `GETXATTR`.
    pub const GET_XATTR: u16 = 0x1301;
    /// `GETXATTRS`.
    pub const GET_XATTRS: u16 = 0x1302;
    /// `CMPXATTR`.
    pub const CMP_XATTR: u16 = 0x1303;
    /// `SETXATTR`.
    pub const SET_XATTR: u16 = 0x2301;
    /// `RMXATTR`.
    pub const RM_XATTR: u16 = 0x2304;
    /// `CALL`.
    pub const CALL: u16 = 0x1401;
    /// `PGLS`.
    pub const PGLS: u16 = 0x1501;
    /// `PGNLS` (`__CEPH_OSD_OP(RD, PG, 5)`; 0x1503 is `PG_HITSET_LS`).
    pub const PGNLS: u16 = 0x1505;

    /// True for ops that may write (`ceph_osd_op_mode_modify`).
    pub fn is_write(op: u16) -> bool {
        op & MODE_WR != 0
    }

    /// True for ops that only read (`ceph_osd_op_mode_read`).
    pub fn is_read(op: u16) -> bool {
        op & MODE_RD != 0 && op & MODE_WR == 0
    }

    /// Ops whose union is the extent (`ceph_osd_op_uses_extent`).
    pub fn uses_extent(op: u16) -> bool {
        matches!(
            op,
            READ | SPARSE_READ | WRITE | WRITE_FULL | TRUNCATE | ZERO | APPEND | CMPEXT
        )
    }
}

/// Message flags (`CEPH_OSD_FLAG_*`).
pub mod flag {
    /// Want (or is) an ack.
    pub const ACK: u32 = 0x0001;
    /// Want (or is) "on disk".
    pub const ONDISK: u32 = 0x0004;
    /// A resend.
    pub const RETRY: u32 = 0x0008;
    /// May read.
    pub const READ: u32 = 0x0010;
    /// May write.
    pub const WRITE: u32 = 0x0020;
    /// Fail with EOLDSNAPC if the snap context is out of date.
    pub const ORDERSNAP: u32 = 0x0040;
    /// Read from a random replica.
    pub const BALANCE_READS: u32 = 0x0100;
    /// A PG op (listing), no object.
    pub const PGOP: u32 = 0x0400;
    /// May execute class methods.
    pub const EXEC: u32 = 0x0800;
    /// Read from the nearest replica.
    pub const LOCALIZE_READS: u32 = 0x2000;
    /// Order with respect to concurrent reads.
    pub const RWORDERED: u32 = 0x4000;
    /// Ignore cache logic.
    pub const IGNORE_CACHE: u32 = 0x8000;
    /// Ignore the pool overlay.
    pub const IGNORE_OVERLAY: u32 = 0x20000;
    /// The op was redirected.
    pub const REDIRECTED: u32 = 0x200000;
    /// The client knows redirects (always set by librados).
    pub const KNOWN_REDIR: u32 = 0x400000;
    /// Try despite a full pool (fail with ENOSPC/EDQUOT instead of waiting).
    pub const FULL_TRY: u32 = 0x800000;
    /// Force despite a full pool.
    pub const FULL_FORCE: u32 = 0x1000000;
    /// Results and out data for every op even on success.
    pub const RETURNVEC: u32 = 0x4000000;
    /// The client understands a pool's EIO flag.
    pub const SUPPORTSPOOLEIO: u32 = 0x8000000;
}

/// What a WATCH op does (`CEPH_OSD_WATCH_OP_*`, odd so that pre-Giant OSDs never read
/// them as UNWATCH).
pub mod watch_op {
    /// Remove the watch.
    pub const UNWATCH: u8 = 0;
    /// Register a watch (pre-Giant semantics, no pings).
    pub const LEGACY_WATCH: u8 = 1;
    /// Register a watch that the client keeps alive with pings.
    pub const WATCH: u8 = 3;
    /// Re-attach an existing watch to this session (after a reset or a new primary).
    pub const RECONNECT: u8 = 5;
    /// Keep the watch alive; fails if the OSD has dropped it.
    pub const PING: u8 = 7;
}

/// Per-op flags (`CEPH_OSD_OP_FLAG_*`).
pub mod op_flag {
    /// Exclusive create.
    pub const EXCL: u32 = 0x1;
    /// Continue despite this op's failure.
    pub const FAILOK: u32 = 0x2;
    /// fadvise: random access.
    pub const FADVISE_RANDOM: u32 = 0x4;
    /// fadvise: sequential access.
    pub const FADVISE_SEQUENTIAL: u32 = 0x8;
    /// fadvise: will need.
    pub const FADVISE_WILLNEED: u32 = 0x10;
    /// fadvise: don't need.
    pub const FADVISE_DONTNEED: u32 = 0x20;
    /// fadvise: no cache.
    pub const FADVISE_NOCACHE: u32 = 0x40;
}

/// The size of the op-specific union of `ceph_osd_op`.
pub const OP_UNION_LEN: usize = 28;

/// `struct ceph_osd_op` (38 packed bytes): the op code, per-op flags, the op-specific
/// union (kept as bytes; the constructors lay it out) and the length of this op's part of
/// the data segment.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct RawOsdOp {
    /// `CEPH_OSD_OP_*`.
    pub op: u16,
    /// `CEPH_OSD_OP_FLAG_*`.
    pub flags: u32,
    /// The union, packed little-endian.
    pub body: [u8; OP_UNION_LEN],
    /// Bytes of in-data (request) or out-data (reply) of this op.
    pub payload_len: u32,
}

impl std::fmt::Debug for RawOsdOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawOsdOp")
            .field("op", &format_args!("{:#06x}", self.op))
            .field("flags", &self.flags)
            .field("body", &denc_hex(&self.body))
            .field("payload_len", &self.payload_len)
            .finish()
    }
}

fn denc_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes little-endian fields into the union.
struct Union {
    body: [u8; OP_UNION_LEN],
    at: usize,
}

impl Union {
    fn new() -> Self {
        Union {
            body: [0; OP_UNION_LEN],
            at: 0,
        }
    }

    fn put(mut self, bytes: &[u8]) -> Self {
        let end = (self.at + bytes.len()).min(OP_UNION_LEN);
        if let Some(dst) = self.body.get_mut(self.at..end) {
            dst.copy_from_slice(bytes.get(..end - self.at).unwrap_or_default());
        }
        self.at = end;
        self
    }

    fn u8(self, v: u8) -> Self {
        self.put(&[v])
    }

    fn u32(self, v: u32) -> Self {
        self.put(&v.to_le_bytes())
    }

    fn u64(self, v: u64) -> Self {
        self.put(&v.to_le_bytes())
    }
}

impl RawOsdOp {
    /// The encoded size.
    pub const LEN: usize = 2 + 4 + OP_UNION_LEN + 4;

    /// An op with an all-zero union.
    pub fn new(op: u16) -> Self {
        RawOsdOp {
            op,
            ..RawOsdOp::default()
        }
    }

    /// An extent op (`extent`: offset, length, truncate_size, truncate_seq).
    pub fn extent(
        op: u16,
        offset: u64,
        length: u64,
        truncate_size: u64,
        truncate_seq: u32,
    ) -> Self {
        let u = Union::new()
            .u64(offset)
            .u64(length)
            .u64(truncate_size)
            .u32(truncate_seq);
        RawOsdOp {
            op,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// An xattr op (`xattr`: name_len, value_len, cmp_op, cmp_mode).
    pub fn xattr(op: u16, name_len: u32, value_len: u32, cmp_op: u8, cmp_mode: u8) -> Self {
        let u = Union::new()
            .u32(name_len)
            .u32(value_len)
            .u8(cmp_op)
            .u8(cmp_mode);
        RawOsdOp {
            op,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// A class call (`cls`: class_len, method_len, argc, indata_len).
    pub fn cls(class_len: u8, method_len: u8, indata_len: u32) -> Self {
        let u = Union::new()
            .u8(class_len)
            .u8(method_len)
            .u8(0)
            .u32(indata_len);
        RawOsdOp {
            op: opcode::CALL,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// `ASSERT_VER` (`assert_ver`: unused, ver).
    pub fn assert_ver(ver: u64) -> Self {
        let u = Union::new().u64(0).u64(ver);
        RawOsdOp {
            op: opcode::ASSERT_VER,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// `SETALLOCHINT` (`alloc_hint`: expected_object_size, expected_write_size, flags).
    pub fn alloc_hint(object_size: u64, write_size: u64, flags: u32) -> Self {
        let u = Union::new().u64(object_size).u64(write_size).u32(flags);
        RawOsdOp {
            op: opcode::SET_ALLOC_HINT,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// A watch op (`watch`: cookie, ver, op, gen, timeout).
    pub fn watch(cookie: u64, watch_op: u8, generation: u32, timeout: u32) -> Self {
        let u = Union::new()
            .u64(cookie)
            .u64(0)
            .u8(watch_op)
            .u32(generation)
            .u32(timeout);
        RawOsdOp {
            op: opcode::WATCH,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// A notify op (`notify`: the notify's cookie).
    pub fn notify(cookie: u64) -> Self {
        let u = Union::new().u64(cookie);
        RawOsdOp {
            op: opcode::NOTIFY,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// A PG listing op (`pgls`: count, start_epoch).
    pub fn pgls(op: u16, count: u64, start_epoch: u32) -> Self {
        let u = Union::new().u64(count).u32(start_epoch);
        RawOsdOp {
            op,
            body: u.body,
            ..RawOsdOp::default()
        }
    }

    /// The same op with per-op flags.
    #[must_use]
    pub fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    fn body_u64(&self, at: usize) -> u64 {
        let mut b = [0u8; 8];
        if let Some(s) = self.body.get(at..at + 8) {
            b.copy_from_slice(s);
        }
        u64::from_le_bytes(b)
    }

    fn body_u32(&self, at: usize) -> u32 {
        let mut b = [0u8; 4];
        if let Some(s) = self.body.get(at..at + 4) {
            b.copy_from_slice(s);
        }
        u32::from_le_bytes(b)
    }

    /// `extent.offset`.
    pub fn extent_offset(&self) -> u64 {
        self.body_u64(0)
    }

    /// `extent.length` (in a READ reply: the bytes read).
    pub fn extent_length(&self) -> u64 {
        self.body_u64(8)
    }

    /// `xattr.name_len`.
    pub fn xattr_name_len(&self) -> u32 {
        self.body_u32(0)
    }

    /// `xattr.value_len`.
    pub fn xattr_value_len(&self) -> u32 {
        self.body_u32(4)
    }
}

// src/include/rados.h struct ceph_osd_op: le16 op, le32 flags, 28-byte union, le32 payload_len
impl Encode for RawOsdOp {
    fn encode(&self, w: &mut Writer) {
        w.put_u16(self.op);
        w.put_u32(self.flags);
        w.put_bytes(&self.body);
        w.put_u32(self.payload_len);
    }
}

impl Decode for RawOsdOp {
    const MIN_LEN: usize = Self::LEN;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        Ok(RawOsdOp {
            op: r.u16()?,
            flags: r.u32()?,
            body: r.array()?,
            payload_len: r.u32()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceph_osd_op_is_38_packed_bytes() {
        let op = RawOsdOp::extent(opcode::WRITE, 0x1122, 0x3344, 5, 6).with_flags(op_flag::FAILOK);
        let mut op = op;
        op.payload_len = 0x3344;
        let b = denc::encode_to_vec(&op).unwrap();
        assert_eq!(b.len(), 38);
        assert_eq!(&b[0..2], &[0x01, 0x22]);
        assert_eq!(&b[2..6], &[2, 0, 0, 0]);
        assert_eq!(&b[6..14], &0x1122u64.to_le_bytes());
        assert_eq!(&b[14..22], &0x3344u64.to_le_bytes());
        assert_eq!(&b[22..30], &5u64.to_le_bytes());
        assert_eq!(&b[30..34], &6u32.to_le_bytes());
        assert_eq!(&b[34..38], &0x3344u32.to_le_bytes());
        let back: RawOsdOp = denc::decode_exact(&b).unwrap();
        assert_eq!(back, op);
        assert_eq!(
            (back.extent_offset(), back.extent_length()),
            (0x1122, 0x3344)
        );
    }

    #[test]
    fn union_layouts() {
        let x = RawOsdOp::xattr(opcode::CMP_XATTR, 3, 9, 1, 2);
        assert_eq!(&x.body[..10], &[3, 0, 0, 0, 9, 0, 0, 0, 1, 2]);
        assert_eq!((x.xattr_name_len(), x.xattr_value_len()), (3, 9));
        let c = RawOsdOp::cls(4, 6, 100);
        assert_eq!(&c.body[..7], &[4, 6, 0, 100, 0, 0, 0]);
        let a = RawOsdOp::assert_ver(7);
        assert_eq!(&a.body[8..16], &7u64.to_le_bytes());
        let h = RawOsdOp::alloc_hint(1, 2, 3);
        assert_eq!(&h.body[16..20], &3u32.to_le_bytes());
        let w = RawOsdOp::watch(9, 3, 1, 30);
        assert_eq!(w.body[16], 3);
        assert_eq!(&w.body[17..21], &1u32.to_le_bytes());
        assert_eq!(&w.body[21..25], &30u32.to_le_bytes());
    }

    #[test]
    fn spg_layout() {
        let s = SpgId::new(PgId::new(3, 0x1c));
        let b = denc::encode_to_vec(&s).unwrap();
        // ENCODE_START(1,1), pg_t (u8 1, le64 pool, le32 seed, le32 -1), i8 shard
        assert_eq!(&b[..6], &[1, 1, 18, 0, 0, 0]);
        assert_eq!(b[6], 1);
        assert_eq!(&b[7..15], &3u64.to_le_bytes());
        assert_eq!(&b[15..19], &0x1cu32.to_le_bytes());
        assert_eq!(&b[19..23], &[0xff; 4]);
        assert_eq!(b[23], 0xff);
        assert_eq!(denc::decode_exact::<SpgId>(&b).unwrap(), s);
        assert_eq!(s.to_string(), "3.1c");
        assert_eq!(SpgId { shard: 2, ..s }.to_string(), "3.1cs2");
    }
}
