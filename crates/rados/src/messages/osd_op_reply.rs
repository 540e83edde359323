//! `MOSDOpReply` (src/messages/MOSDOpReply.h): the result of a compound operation, per-op
//! return values, and every op's out-data in the data segment.
//!
//! OSDs of every release we meet send v8 to clients with `NEW_OSDOPREPLY_ENCODING` (we
//! advertise it); v2..v7 are decoded too (v6 sent the redirect unconditionally, v7 added
//! the `do_redirect` flag, v8 the trace). v1 (the pre-`PGID64` packed head) is refused.

use bytes::Bytes;
use denc::{Decode, EVersion, Encode, ObjectLocator, PgId, Reader, Writer};

use super::osd_op::split_by_payload;
use super::osd_types::RawOsdOp;
use super::{MessageCodec, msg_type};

/// `request_redirect_t`: "send this op to another pool/object" (cache tiering).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestRedirect {
    /// The locator to use instead (authoritative).
    pub locator: ObjectLocator,
    /// The object name to use instead, if not empty.
    pub object: String,
}

impl RequestRedirect {
    /// `request_redirect_t::empty`.
    pub fn is_empty(&self) -> bool {
        self.locator.pool == -1 && self.object.is_empty()
    }
}

// src/osd/osd_types.cc request_redirect_t::encode
impl Encode for RequestRedirect {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.locator);
            w.put(&self.object);
            // the removed osd_instructions bufferlist, always empty
            w.put_u32(0);
        });
    }
}

impl Decode for RequestRedirect {
    const MIN_LEN: usize = 6 + ObjectLocator::MIN_LEN + 4 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("request_redirect_t", 1, |_, r| {
            let locator = r.decode()?;
            let object = r.decode()?;
            let _legacy_instructions = r.length_prefixed()?;
            Ok(RequestRedirect { locator, object })
        })
    }
}

/// `MOSDOpReply`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MOsdOpReply {
    /// The object name (raw bytes: names need not be UTF-8).
    pub oid: Vec<u8>,
    /// The PG.
    pub pgid: PgId,
    /// `CEPH_OSD_FLAG_*` (ONDISK for a committed write).
    pub flags: i64,
    /// The overall result (0 or a negative errno).
    pub result: i32,
    /// The legacy replay version.
    pub bad_replay_version: EVersion,
    /// The OSD's map epoch.
    pub epoch: u32,
    /// The ops as the OSD returns them (`payload_len` = out-data length).
    pub ops: Vec<RawOsdOp>,
    /// Which attempt this answers (-1 from very old OSDs).
    pub retry_attempt: i32,
    /// Per-op return values (v4+).
    pub rvals: Vec<i32>,
    /// The PG log version of the op.
    pub replay_version: EVersion,
    /// The object's user version after the op.
    pub user_version: u64,
    /// Where to resend, for a redirect reply.
    pub redirect: Option<RequestRedirect>,
    /// The ops' out-data, concatenated.
    pub data: Bytes,
}

impl MOsdOpReply {
    /// The ops' out-data as slices of the data segment (no copies); `None` if the ops
    /// claim more bytes than the segment holds.
    pub fn outdata(&self) -> Option<Vec<Bytes>> {
        split_by_payload(&self.ops, &self.data)
    }

    /// True for a write's commit (`ONDISK`).
    pub fn is_ondisk(&self) -> bool {
        self.flags & i64::from(super::osd_types::flag::ONDISK) != 0
    }
}

impl MessageCodec for MOsdOpReply {
    const TYPE: u16 = msg_type::OSD_OPREPLY;
    const HEAD_VERSION: u16 = 8;
    const NAME: &'static str = "MOSDOpReply";

    fn header_for(_: u64) -> (u16, u16) {
        (8, 2)
    }

    fn encode_front(&self, w: &mut Writer, version: u16) {
        w.put_length_prefixed(&self.oid);
        w.put(&self.pgid);
        w.put_i64(self.flags);
        w.put_i32(self.result);
        w.put(&self.bad_replay_version);
        w.put_u32(self.epoch);
        w.put_len(self.ops.len());
        for op in &self.ops {
            w.put(op);
        }
        w.put_i32(self.retry_attempt);
        for i in 0..self.ops.len() {
            w.put_i32(self.rvals.get(i).copied().unwrap_or(0));
        }
        w.put(&self.replay_version);
        w.put_u64(self.user_version);
        if version == 6 {
            w.put(&self.redirect.clone().unwrap_or_else(empty_redirect));
        } else if version >= 7 {
            w.put_bool(self.redirect.is_some());
            if let Some(r) = &self.redirect {
                w.put(r);
            }
        }
        if version >= 8 {
            w.put_bytes(&[0; 24]);
        }
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        if version < 2 {
            return Err(r.invalid("MOSDOpReply version (2..8 decoded)", u64::from(version)));
        }
        let oid = r.length_prefixed()?.to_vec();
        let pgid = r.decode()?;
        let flags = r.i64()?;
        let result = r.i32()?;
        let bad_replay_version = r.decode()?;
        let epoch = r.u32()?;
        let n = r.count(RawOsdOp::LEN)?;
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            ops.push(r.decode()?);
        }
        let mut m = MOsdOpReply {
            oid,
            pgid,
            flags,
            result,
            bad_replay_version,
            epoch,
            ops,
            retry_attempt: -1,
            rvals: Vec::new(),
            replay_version: bad_replay_version,
            user_version: bad_replay_version.version,
            redirect: None,
            data: Bytes::new(),
        };
        if version >= 3 {
            m.retry_attempt = r.i32()?;
        }
        if version >= 4 {
            r.check_count(n as u64, 4)?;
            m.rvals = (0..n).map(|_| r.i32()).collect::<denc::Result<_>>()?;
        }
        if version >= 5 {
            m.replay_version = r.decode()?;
            m.user_version = r.u64()?;
        }
        if version == 6 {
            let redirect: RequestRedirect = r.decode()?;
            m.redirect = Some(redirect).filter(|r| !r.is_empty());
        }
        if version >= 7 && r.bool()? {
            m.redirect = Some(r.decode()?);
        }
        if version >= 8 {
            // blkin_trace_info
            r.skip(24)?;
        }
        Ok(m)
    }

    fn data(&self) -> Bytes {
        self.data.clone()
    }

    fn set_data(&mut self, data: Bytes) {
        self.data = data;
    }
}

fn empty_redirect() -> RequestRedirect {
    RequestRedirect {
        locator: ObjectLocator::new(-1),
        object: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::osd_types::opcode;
    use crate::messages::testutil::{round_trip, truncations_fail};
    use crate::messages::{decode_message, encode_message};

    fn sample() -> MOsdOpReply {
        let mut read = RawOsdOp::extent(opcode::READ, 0, 5, 0, 0);
        read.payload_len = 5;
        let mut stat = RawOsdOp::new(opcode::STAT);
        stat.payload_len = 16;
        let mut data = b"hello".to_vec();
        data.extend_from_slice(&5u64.to_le_bytes());
        data.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        MOsdOpReply {
            oid: b"obj".to_vec(),
            pgid: PgId::new(2, 0x1c),
            flags: 0x15,
            result: 0,
            bad_replay_version: EVersion {
                version: 9,
                epoch: 40,
            },
            epoch: 41,
            ops: vec![read, stat],
            retry_attempt: 0,
            rvals: vec![0, 0],
            replay_version: EVersion {
                version: 9,
                epoch: 40,
            },
            user_version: 9,
            redirect: None,
            data: Bytes::from(data),
        }
    }

    #[test]
    fn v8_round_trip_and_out_data_slices() {
        let m = sample();
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (8, 2));
        truncations_fail::<MOsdOpReply>(&msg, usize::MAX);
        let back: MOsdOpReply = decode_message(&msg).unwrap();
        let out = back.outdata().unwrap();
        assert_eq!(out[0], Bytes::from_static(b"hello"));
        assert_eq!(out[1].len(), 16);
        // slices share the received buffer
        assert_eq!(out[0].as_ptr(), back.data.as_ptr());
        assert!(back.is_ondisk());
        // the ops claim more than the data segment has
        let mut short = back.clone();
        short.data = short.data.slice(..20);
        assert!(short.outdata().is_none());
    }

    #[test]
    fn older_versions_decode() {
        let mut m = sample();
        m.redirect = Some(RequestRedirect {
            locator: ObjectLocator::new(7),
            object: "other".into(),
        });
        for version in [5u16, 6, 7] {
            let mut msg = encode_message(&m, 3, denc::features::ALL).unwrap();
            let mut w = Writer::new();
            m.encode_front(&mut w, version);
            msg.front = Bytes::from(w.finish().unwrap());
            msg.header.version = version;
            let back: MOsdOpReply = decode_message(&msg).unwrap();
            let expected = if version >= 6 {
                m.redirect.clone()
            } else {
                None
            };
            assert_eq!(back.redirect, expected, "v{version}");
            assert_eq!(back.rvals, m.rvals);
            assert_eq!(back.user_version, 9);
        }
        // v6 with an empty redirect means none
        m.redirect = None;
        let mut w = Writer::new();
        m.encode_front(&mut w, 6);
        let back = MOsdOpReply::decode_front(&mut Reader::new(&w.finish().unwrap()), 6).unwrap();
        assert_eq!(back.redirect, None);
        // v1 is refused
        assert!(MOsdOpReply::decode_front(&mut Reader::new(&[0; 64]), 1).is_err());
    }

    #[test]
    fn redirect_corpus() {
        let samples = denc::testing::check_corpus::<RequestRedirect>("request_redirect_t", 0);
        assert!(!samples.is_empty());
    }
}
