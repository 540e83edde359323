//! `MOSDOp` (src/messages/MOSDOp.h): a client's compound operation on one object.
//!
//! Versions: 8 (Luminous..Reef; Pacific and Reef decode nothing newer and silently drop a
//! v9) and 9 (Squid+: v8 plus an OpenTelemetry trace context after the blkin trace). The
//! version is chosen from the OSD's features: v9 only when it has `SERVER_SQUID`, tested
//! as a set (`features & MASK == MASK`). Tentacle decodes both.

use bytes::Bytes;
use denc::{EntityName, ObjectLocator, OsdReqId, Reader, SnapId, UTime, Writer, features};

use super::osd_types::{RawOsdOp, SpgId};
use super::{MessageCodec, msg_type};

/// `MOSDOp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MOsdOp {
    /// The target PG (folded into `pg_num`) and shard.
    pub pgid: SpgId,
    /// The object's full 32-bit placement hash.
    pub hash: u32,
    /// Our OSD map epoch.
    pub epoch: u32,
    /// `CEPH_OSD_FLAG_*`.
    pub flags: u32,
    /// Request id: the OSD deduplicates resends by it.
    pub reqid: OsdReqId,
    /// Client incarnation (0).
    pub client_inc: u32,
    /// Modification time for writes.
    pub mtime: UTime,
    /// Pool, namespace, locator key.
    pub oloc: ObjectLocator,
    /// The object name.
    pub oid: String,
    /// The ops; `payload_len` says how much of the data segment each takes.
    pub ops: Vec<RawOsdOp>,
    /// Snapshot to read (`NOSNAP` = head, `SNAPDIR` for list_snaps).
    pub snapid: SnapId,
    /// Write snap context: sequence.
    pub snap_seq: SnapId,
    /// Write snap context: snapshots, newest first.
    pub snaps: Vec<SnapId>,
    /// Which attempt this is (0 = first send).
    pub retry_attempt: i32,
    /// Our features.
    pub features: u64,
    /// The ops' in-data, concatenated in op order (the data segment).
    pub data: Bytes,
    /// More of the data segment, sent after `data` without being copied into it (ops
    /// whose in-data is in several buffers, or several ops with data). Empty when decoded.
    pub data_tail: Vec<Bytes>,
}

impl Default for MOsdOp {
    fn default() -> Self {
        MOsdOp {
            pgid: SpgId::default(),
            hash: 0,
            epoch: 0,
            flags: 0,
            reqid: OsdReqId::default(),
            client_inc: 0,
            mtime: UTime::default(),
            oloc: ObjectLocator::default(),
            oid: String::new(),
            ops: Vec::new(),
            snapid: SnapId::NOSNAP,
            snap_seq: SnapId(0),
            snaps: Vec::new(),
            retry_attempt: 0,
            features: 0,
            data: Bytes::new(),
            data_tail: Vec::new(),
        }
    }
}

/// `blkin_trace_info`: trace, span and parent span ids, all zero from us.
const BLKIN_TRACE_LEN: usize = 24;

impl MessageCodec for MOsdOp {
    const TYPE: u16 = msg_type::OSD_OP;
    const HEAD_VERSION: u16 = 9;
    const NAME: &'static str = "MOSDOp";

    /// v9 to Squid and newer, v8 to everything else msgr2 reaches (`RESEND_ON_SPLIT`,
    /// Luminous+).
    fn header_for(peer_features: u64) -> (u16, u16) {
        if features::has(peer_features, features::SERVER_SQUID) {
            (9, 3)
        } else {
            (8, 3)
        }
    }

    fn encode_front(&self, w: &mut Writer, version: u16) {
        w.put(&self.pgid);
        w.put_u32(self.hash);
        w.put_u32(self.epoch);
        w.put_u32(self.flags);
        w.put(&self.reqid);
        w.put_bytes(&[0; BLKIN_TRACE_LEN]);
        if version >= 9 {
            // jspan_context: ENCODE_START(1, 1) { bool is_valid = false }
            w.versioned(1, 1, |w| w.put_bool(false));
        }
        w.put_u32(self.client_inc);
        w.put(&self.mtime);
        w.put(&self.oloc);
        w.put(&self.oid);
        // num_ops is a __u16 on the wire; more ops than that cannot be built (ops.rs caps
        // compound operations far below it)
        w.put_u16(u16::try_from(self.ops.len()).unwrap_or(u16::MAX));
        for op in self.ops.iter().take(usize::from(u16::MAX)) {
            w.put(op);
        }
        w.put(&self.snapid);
        w.put(&self.snap_seq);
        w.put(&self.snaps);
        w.put_i32(self.retry_attempt);
        w.put_u64(self.features);
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        if version < 8 {
            return Err(r.invalid("MOSDOp version (8 and 9 decoded)", u64::from(version)));
        }
        let pgid = r.decode()?;
        let hash = r.u32()?;
        let epoch = r.u32()?;
        let flags = r.u32()?;
        let reqid = r.decode()?;
        r.skip(BLKIN_TRACE_LEN)?;
        if version >= 9 {
            r.versioned("jspan_context", 1, |_, _| Ok(()))?;
        }
        let client_inc = r.u32()?;
        let mtime = r.decode()?;
        let oloc = r.decode()?;
        let oid = r.decode()?;
        let n = usize::from(r.u16()?);
        r.check_count(n as u64, RawOsdOp::LEN)?;
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            ops.push(r.decode()?);
        }
        Ok(MOsdOp {
            pgid,
            hash,
            epoch,
            flags,
            reqid,
            client_inc,
            mtime,
            oloc,
            oid,
            ops,
            snapid: r.decode()?,
            snap_seq: r.decode()?,
            snaps: r.decode()?,
            retry_attempt: r.i32()?,
            features: r.u64()?,
            data: Bytes::new(),
            data_tail: Vec::new(),
        })
    }

    fn data(&self) -> Bytes {
        self.data.clone()
    }

    fn set_data(&mut self, data: Bytes) {
        self.data = data;
    }

    fn data_tail(&self) -> Vec<Bytes> {
        self.data_tail.clone()
    }
}

impl MOsdOp {
    /// The in-data of op `i` (its slice of the data segment), if the lengths add up.
    pub fn indata(&self, i: usize) -> Option<Bytes> {
        split_by_payload(&self.ops, &self.data).and_then(|v| v.get(i).cloned())
    }
}

/// Slices `data` by the ops' `payload_len`s (`OSDOp::split_osd_op_vector_*_data`); `None`
/// if they claim more than there is. Slices share `data`'s buffer.
pub fn split_by_payload(ops: &[RawOsdOp], data: &Bytes) -> Option<Vec<Bytes>> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let len = usize::try_from(op.payload_len).ok()?;
        let end = at.checked_add(len)?;
        if end > data.len() {
            return None;
        }
        out.push(data.slice(at..end));
        at = end;
    }
    Some(out)
}

/// Our request id for `tid`: `client.<global_id>`, incarnation 0.
pub fn client_reqid(global_id: u64, tid: u64) -> OsdReqId {
    OsdReqId {
        name: EntityName {
            entity_type: denc::EntityType::CLIENT,
            num: i64::try_from(global_id).unwrap_or(i64::MAX),
        },
        tid,
        inc: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::osd_types::opcode;
    use crate::messages::testutil::{round_trip, truncations_fail};
    use crate::messages::{decode_message, encode_message};
    use denc::PgId;

    const PACIFIC: u64 = 0x3f01_cfbd_fffd_ffff;
    const REEF: u64 = 0x3f01_cfbf_fffd_ffff;
    const TENTACLE: u64 = 0x3f07_ffff_fffd_ffff;

    fn sample() -> MOsdOp {
        let mut write = RawOsdOp::extent(opcode::WRITE, 4096, 5, 0, 0);
        write.payload_len = 5;
        let mut setx = RawOsdOp::xattr(opcode::SET_XATTR, 1, 2, 0, 0);
        setx.payload_len = 3;
        MOsdOp {
            pgid: SpgId::new(PgId::new(2, 0x1c)),
            hash: 0x30a9_8c1c,
            epoch: 41,
            flags: 0x0040_0024,
            reqid: client_reqid(4123, 7),
            client_inc: 0,
            mtime: UTime::new(1_700_000_000, 5),
            oloc: ObjectLocator::new(2).in_namespace("ns"),
            oid: "obj".into(),
            ops: vec![write, setx],
            snapid: SnapId::NOSNAP,
            snap_seq: SnapId(3),
            snaps: vec![SnapId(3), SnapId(1)],
            retry_attempt: 1,
            features: denc::features::ALL,
            data: Bytes::from_static(b"helloabc"),
            data_tail: Vec::new(),
        }
    }

    #[test]
    fn a_data_tail_is_sent_as_part_of_the_data_segment() {
        let mut m = sample();
        m.data = Bytes::from_static(b"hel");
        m.data_tail = vec![Bytes::from_static(b"lo"), Bytes::from_static(b"abc")];
        let msg = encode_message(&m, 7, PACIFIC).unwrap();
        assert_eq!(msg.data_len(), 8);
        let frame = msg.to_frame();
        let mut wire = Vec::new();
        msgr2::frame::FrameEncoder::crc()
            .encode(&frame, &mut wire)
            .unwrap();
        let mut buf = bytes::BytesMut::new();
        for c in &wire {
            buf.extend_from_slice(c);
        }
        let back = msgr2::frame::FrameDecoder::crc(msgr2::frame::FrameLimits::default())
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        let back: MOsdOp = decode_message(&msgr2::Message::from_frame(back).unwrap()).unwrap();
        assert_eq!(back.data, Bytes::from_static(b"helloabc"));
        assert_eq!(back.indata(0).unwrap(), Bytes::from_static(b"hello"));
        assert_eq!(back.indata(1).unwrap(), Bytes::from_static(b"abc"));
    }

    #[test]
    fn version_follows_the_osd_release() {
        assert_eq!(MOsdOp::header_for(PACIFIC), (8, 3));
        assert_eq!(MOsdOp::header_for(REEF), (8, 3));
        assert_eq!(MOsdOp::header_for(TENTACLE), (9, 3));
        // bit 49 alone (without the incarnation marker) is not SERVER_SQUID
        assert_eq!(MOsdOp::header_for(REEF | (1 << 49)), (9, 3));
        assert_eq!(MOsdOp::header_for(1 << 49), (8, 3));
    }

    #[test]
    fn v8_layout_and_round_trips() {
        let m = sample();
        let msg = round_trip(&m, PACIFIC);
        assert_eq!((msg.header.version, msg.header.compat_version), (8, 3));
        let f = &msg.front;
        // spg_t (24 bytes), then the raw hash
        assert_eq!(&f[24..28], &0x30a9_8c1cu32.to_le_bytes());
        assert_eq!(&f[28..32], &41u32.to_le_bytes());
        assert_eq!(&f[32..36], &0x0040_0024u32.to_le_bytes());
        // osd_reqid_t: ENCODE_START(2,2), entity_name_t (u8 8 = client, le64 num), tid, inc
        assert_eq!(&f[36..42], &[2, 2, 21, 0, 0, 0]);
        assert_eq!(f[42], 8);
        assert_eq!(&f[43..51], &4123u64.to_le_bytes());
        assert_eq!(&f[51..59], &7u64.to_le_bytes());
        // blkin trace: 24 zero bytes, then client_inc
        assert_eq!(&f[63..87], &[0; 24]);
        assert_eq!(&f[87..91], &[0; 4]);
        assert_eq!(msg.data, Bytes::from_static(b"helloabc"));
        let back: MOsdOp = decode_message(&msg).unwrap();
        assert_eq!(back.indata(0).unwrap(), Bytes::from_static(b"hello"));
        assert_eq!(back.indata(1).unwrap(), Bytes::from_static(b"abc"));
        truncations_fail::<MOsdOp>(&msg, usize::MAX);
        // the tail: snapid, snap_seq, snaps, retry_attempt, features
        let tail = &f[f.len() - 8 - 4 - (4 + 16) - 8 - 8..];
        assert_eq!(&tail[..8], &SnapId::NOSNAP.0.to_le_bytes());
        assert_eq!(&tail[8..16], &3u64.to_le_bytes());
    }

    #[test]
    fn v9_adds_an_empty_trace_context() {
        let m = sample();
        let v8 = encode_message(&m, 1, PACIFIC).unwrap();
        let v9 = round_trip(&m, TENTACLE);
        assert_eq!(v9.header.version, 9);
        assert_eq!(v9.front.len(), v8.front.len() + 7);
        assert_eq!(&v9.front[87..94], &[1, 1, 1, 0, 0, 0, 0]);
        assert_eq!(&v9.front[94..], &v8.front[87..]);
        truncations_fail::<MOsdOp>(&v9, usize::MAX);
    }
}
