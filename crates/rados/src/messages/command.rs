//! `MMonCommand` and `MMonCommandAck` (src/messages/MMonCommand.h, MMonCommandAck.h).

use bytes::Bytes;
use denc::{Reader, Uuid, Writer};

use super::{MessageCodec, PaxosHeader, msg_type};

/// `MMonCommand`: a command (JSON strings) for the monitors, input in the data segment,
/// matched to its ack by the header tid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MMonCommand {
    /// Paxos prefix (version 0 from clients).
    pub paxos: PaxosHeader,
    /// The cluster id.
    pub fsid: Uuid,
    /// The command, usually one JSON object such as `{"prefix": "osd pool ls"}`.
    pub cmd: Vec<String>,
    /// Input data (`-i FILE` of the `ceph` tool).
    pub data: Bytes,
}

impl MessageCodec for MMonCommand {
    const TYPE: u16 = msg_type::MON_COMMAND;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MMonCommand";

    /// v1 in every release (`PaxosServiceMessage{MSG_MON_COMMAND, 0}`).
    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.paxos);
        w.put(&self.fsid);
        w.put(&self.cmd);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MMonCommand {
            paxos: r.decode()?,
            fsid: r.decode()?,
            cmd: r.decode()?,
            data: Bytes::new(),
        })
    }

    fn data(&self) -> Bytes {
        self.data.clone()
    }

    fn set_data(&mut self, data: Bytes) {
        self.data = data;
    }
}

/// `MMonCommandAck`: the result of a command: return code, status text, output data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MMonCommandAck {
    /// Paxos prefix (the version the monitor had).
    pub paxos: PaxosHeader,
    /// Return code: 0 or a negative errno.
    pub r: i32,
    /// Status text (what `ceph` prints to stderr).
    pub rs: String,
    /// The command, echoed.
    pub cmd: Vec<String>,
    /// Output data (what `ceph` prints to stdout).
    pub data: Bytes,
}

impl MessageCodec for MMonCommandAck {
    const TYPE: u16 = msg_type::MON_COMMAND_ACK;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MMonCommandAck";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.paxos);
        w.put_i32(self.r);
        w.put(&self.rs);
        w.put(&self.cmd);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MMonCommandAck {
            paxos: r.decode()?,
            r: r.i32()?,
            rs: r.decode()?,
            cmd: r.decode()?,
            data: Bytes::new(),
        })
    }

    fn data(&self) -> Bytes {
        self.data.clone()
    }

    fn set_data(&mut self, data: Bytes) {
        self.data = data;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};

    #[test]
    fn command_layout_and_round_trip() {
        let m = MMonCommand {
            paxos: PaxosHeader::default(),
            fsid: Uuid([0xab; 16]),
            cmd: vec![r#"{"prefix":"osd pool ls"}"#.into()],
            data: Bytes::from_static(b"input"),
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (1, 0));
        assert_eq!(&msg.data[..], b"input");
        // paxos (18) + fsid (16) + vector of one string
        assert_eq!(msg.front.len(), 18 + 16 + 4 + 4 + 24);
        assert_eq!(&msg.front[8..10], &[0xff, 0xff]);
        truncations_fail::<MMonCommand>(&msg, usize::MAX);
    }

    #[test]
    fn ack_round_trip() {
        let m = MMonCommandAck {
            paxos: PaxosHeader {
                version: 17,
                ..PaxosHeader::default()
            },
            r: -2,
            rs: "pool 'x' does not exist".into(),
            cmd: vec!["{}".into()],
            data: Bytes::from_static(b"[]"),
        };
        let msg = round_trip(&m, denc::features::ALL);
        truncations_fail::<MMonCommandAck>(&msg, usize::MAX);
    }
}
