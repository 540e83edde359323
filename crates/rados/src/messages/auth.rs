//! `MAuth` and `MAuthReply` (src/messages/MAuth.h, MAuthReply.h): CephX ticket renewal on
//! an established monitor session (the initial authentication is part of the msgr2
//! handshake).

use bytes::Bytes;
use denc::{Reader, Writer};

use super::{MessageCodec, PaxosHeader, msg_type};

/// `MAuth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MAuth {
    /// Paxos prefix.
    pub paxos: PaxosHeader,
    /// The auth protocol (`CEPH_AUTH_CEPHX` = 2).
    pub protocol: u32,
    /// The protocol's request.
    pub auth_payload: Bytes,
    /// The monitor map epoch we have (clients leave it 0 for renewals).
    pub monmap_epoch: u32,
}

impl MessageCodec for MAuth {
    const TYPE: u16 = msg_type::AUTH;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MAuth";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.paxos);
        w.put_u32(self.protocol);
        w.put(&self.auth_payload);
        w.put_u32(self.monmap_epoch);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        let mut m = MAuth {
            paxos: r.decode()?,
            protocol: r.u32()?,
            auth_payload: r.decode()?,
            monmap_epoch: 0,
        };
        // optional, as Ceph reads it
        if !r.is_empty() {
            m.monmap_epoch = r.u32()?;
        }
        Ok(m)
    }
}

/// `MAuthReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MAuthReply {
    /// The auth protocol.
    pub protocol: u32,
    /// 0 or a negative errno.
    pub result: i32,
    /// Our global id (0 = meaningless).
    pub global_id: u64,
    /// The protocol's reply.
    pub result_bl: Bytes,
    /// A message (for errors).
    pub result_msg: String,
}

impl MessageCodec for MAuthReply {
    const TYPE: u16 = msg_type::AUTH_REPLY;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MAuthReply";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put_u32(self.protocol);
        w.put_i32(self.result);
        w.put_u64(self.global_id);
        w.put(&self.result_bl);
        w.put(&self.result_msg);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MAuthReply {
            protocol: r.u32()?,
            result: r.i32()?,
            global_id: r.u64()?,
            result_bl: r.decode()?,
            result_msg: r.decode()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};

    #[test]
    fn round_trips() {
        let m = MAuth {
            paxos: PaxosHeader::default(),
            protocol: 2,
            auth_payload: Bytes::from_static(&[0, 2, 1, 2, 3]),
            monmap_epoch: 0,
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!(msg.front.len(), 18 + 4 + 4 + 5 + 4);
        // the trailing monmap epoch is optional
        truncations_fail::<MAuth>(&msg, msg.front.len() - 4);
        let r = MAuthReply {
            protocol: 2,
            result: -13,
            global_id: 4242,
            result_bl: Bytes::from_static(b"xyz"),
            result_msg: "denied".into(),
        };
        let msg = round_trip(&r, denc::features::ALL);
        truncations_fail::<MAuthReply>(&msg, usize::MAX);
    }
}
