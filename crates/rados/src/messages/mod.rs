//! The client's messages (monitor and OSD): their type numbers, the header version each is sent with,
//! and codecs for both directions (src/messages/*.h of Reef and Tentacle; Pacific's are
//! identical for these types).
//!
//! Every message implements [`MessageCodec`]: [`encode_message`] turns it into an msgr2
//! [`Message`] with the header version the *peer* understands ([`MessageCodec::header_for`];
//! Pacific silently drops messages of versions it does not know, so the newest is never sent
//! blindly), and [`decode_message`] refuses a message whose compat version is above what we
//! decode, as Ceph's `decode_message` does.

mod auth;
mod backoff;
mod command;
mod config;
mod monmap;
mod osd_op;
mod osd_op_reply;
pub mod osd_types;
mod osdmap;
mod paxos;
pub mod pg_nls;
mod pool;
mod subscribe;
mod version;
mod watch_notify;

use bytes::Bytes;
use denc::{DecodeError, DecodeErrorKind, EncodeError, Reader, Writer};
use msgr2::Message;

pub use auth::{MAuth, MAuthReply};
pub use backoff::{MOsdBackoff, backoff_op};
pub use command::{MMonCommand, MMonCommandAck};
pub use config::MConfig;
pub use monmap::{MMonGetMap, MMonMap, MonFeature, MonInfo, MonMap};
pub use osd_op::{MOsdOp, client_reqid, split_by_payload};
pub use osd_op_reply::{MOsdOpReply, RequestRedirect};
pub use osd_types::{RawOsdOp, SpgId};
pub use osdmap::MOsdMap;
pub use paxos::PaxosHeader;
pub use pg_nls::{ListEntry, ListPosition, PgNlsResponse};
pub use pool::{MGetPoolStats, MGetPoolStatsReply, MPoolOp, MPoolOpReply, PoolStat, pool_op};
pub use subscribe::{MMonSubscribe, MMonSubscribeAck, SUBSCRIBE_ONETIME, SubscribeItem};
pub use version::{MMonGetVersion, MMonGetVersionReply};
pub use watch_notify::{MWatchNotify, NotifyAck, NotifyReplies, watch_event};

/// Message type numbers (`CEPH_MSG_*`, src/include/ceph_fs.h; `MSG_*`, src/msg/Message.h).
pub mod msg_type {
    /// `CEPH_MSG_PING`.
    pub const PING: u16 = 2;
    /// `CEPH_MSG_MON_MAP`.
    pub const MON_MAP: u16 = 4;
    /// `CEPH_MSG_MON_GET_MAP`.
    pub const MON_GET_MAP: u16 = 5;
    /// `CEPH_MSG_MON_SUBSCRIBE`.
    pub const MON_SUBSCRIBE: u16 = 15;
    /// `CEPH_MSG_MON_SUBSCRIBE_ACK`.
    pub const MON_SUBSCRIBE_ACK: u16 = 16;
    /// `CEPH_MSG_AUTH`.
    pub const AUTH: u16 = 17;
    /// `CEPH_MSG_AUTH_REPLY`.
    pub const AUTH_REPLY: u16 = 18;
    /// `CEPH_MSG_MON_GET_VERSION`.
    pub const MON_GET_VERSION: u16 = 19;
    /// `CEPH_MSG_MON_GET_VERSION_REPLY`.
    pub const MON_GET_VERSION_REPLY: u16 = 20;
    /// `CEPH_MSG_OSD_MAP`.
    pub const OSD_MAP: u16 = 41;
    /// `CEPH_MSG_OSD_OP`.
    pub const OSD_OP: u16 = 42;
    /// `CEPH_MSG_OSD_OPREPLY`.
    pub const OSD_OPREPLY: u16 = 43;
    /// `CEPH_MSG_WATCH_NOTIFY`.
    pub const WATCH_NOTIFY: u16 = 44;
    /// `CEPH_MSG_POOLOP_REPLY`.
    pub const POOLOP_REPLY: u16 = 48;
    /// `CEPH_MSG_POOLOP`.
    pub const POOLOP: u16 = 49;
    /// `MSG_MON_COMMAND`.
    pub const MON_COMMAND: u16 = 50;
    /// `MSG_MON_COMMAND_ACK`.
    pub const MON_COMMAND_ACK: u16 = 51;
    /// `MSG_LOGACK`.
    pub const LOG_ACK: u16 = 53;
    /// `MSG_GETPOOLSTATS`.
    pub const GET_POOL_STATS: u16 = 58;
    /// `MSG_GETPOOLSTATSREPLY`.
    pub const GET_POOL_STATS_REPLY: u16 = 59;
    /// `CEPH_MSG_OSD_BACKOFF`.
    pub const OSD_BACKOFF: u16 = 61;
    /// `MSG_CONFIG`.
    pub const CONFIG: u16 = 62;
}

/// A message the monitor client sends or receives: its type, the versions we speak, and the
/// front (plus, for some, the data segment).
pub trait MessageCodec: Sized {
    /// The message type (`CEPH_MSG_*`).
    const TYPE: u16;
    /// The newest header version we encode and decode (Ceph's `HEAD_VERSION`).
    const HEAD_VERSION: u16;
    /// Human-readable name for errors and logs.
    const NAME: &'static str;

    /// The header `(version, compat_version)` to send to a peer with `peer_features`.
    fn header_for(peer_features: u64) -> (u16, u16);

    /// Writes the front for header `version`.
    fn encode_front(&self, w: &mut Writer, version: u16);

    /// Reads the front of a message with header `version`.
    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self>;

    /// The data segment (most messages have none).
    fn data(&self) -> Bytes {
        Bytes::new()
    }

    /// Takes the data segment of a received message.
    fn set_data(&mut self, _data: Bytes) {}

    /// More of the data segment to send after [`MessageCodec::data`], without copying it
    /// into one buffer.
    fn data_tail(&self) -> Vec<Bytes> {
        Vec::new()
    }
}

/// Encodes `m` as an msgr2 message for a peer with `peer_features`, with header tid `tid`.
pub fn encode_message<M: MessageCodec>(
    m: &M,
    tid: u64,
    peer_features: u64,
) -> Result<Message, EncodeError> {
    let (version, compat) = M::header_for(peer_features);
    let mut w = Writer::with_features(peer_features);
    m.encode_front(&mut w, version);
    let front = Bytes::from(w.finish()?);
    let mut msg = Message::new(M::TYPE, version, compat, front).with_data(m.data());
    msg.data_tail = m.data_tail();
    msg.header.tid = tid;
    Ok(msg)
}

/// Decodes a received message as an `M`. Refuses another type, a compat version above
/// [`MessageCodec::HEAD_VERSION`] and a truncated front; bytes after the fields we know are
/// ignored, as Ceph ignores them (newer peers may append fields).
pub fn decode_message<M: MessageCodec>(msg: &Message) -> Result<M, DecodeError> {
    let r = Reader::new(&msg.front);
    let h = &msg.header;
    if h.msg_type != M::TYPE {
        return Err(r.invalid("message type", u64::from(h.msg_type)));
    }
    if h.compat_version > M::HEAD_VERSION {
        return Err(r.error(DecodeErrorKind::IncompatibleVersion {
            version: u8::try_from(h.version).unwrap_or(u8::MAX),
            compat: u8::try_from(h.compat_version).unwrap_or(u8::MAX),
            supported: u8::try_from(M::HEAD_VERSION).unwrap_or(u8::MAX),
        }));
    }
    let mut r = r;
    let mut m = r.named(M::NAME, |r| M::decode_front(r, h.version))?;
    m.set_data(msg.data.clone());
    Ok(m)
}

/// A message from a monitor, decoded by type.
#[derive(Debug, Clone)]
pub enum MonIncoming {
    /// `MMonMap`.
    MonMap(MMonMap),
    /// `MMonSubscribeAck`.
    SubscribeAck(MMonSubscribeAck),
    /// `MOSDMap`.
    OsdMap(MOsdMap),
    /// `MMonCommandAck`, with the header tid.
    CommandAck {
        /// The header tid (the command's).
        tid: u64,
        /// The ack.
        ack: MMonCommandAck,
    },
    /// `MMonGetVersionReply`.
    VersionReply(MMonGetVersionReply),
    /// `MAuthReply`.
    AuthReply(MAuthReply),
    /// `MConfig`.
    Config(MConfig),
    /// A type the monitor client does not handle (logged and dropped).
    Other(u16),
}

impl MonIncoming {
    /// Decodes a message received from a monitor.
    pub fn decode(msg: &Message) -> Result<MonIncoming, DecodeError> {
        Ok(match msg.header.msg_type {
            msg_type::MON_MAP => MonIncoming::MonMap(decode_message(msg)?),
            msg_type::MON_SUBSCRIBE_ACK => MonIncoming::SubscribeAck(decode_message(msg)?),
            msg_type::OSD_MAP => MonIncoming::OsdMap(decode_message(msg)?),
            msg_type::MON_COMMAND_ACK => MonIncoming::CommandAck {
                tid: msg.header.tid,
                ack: decode_message(msg)?,
            },
            msg_type::MON_GET_VERSION_REPLY => MonIncoming::VersionReply(decode_message(msg)?),
            msg_type::AUTH_REPLY => MonIncoming::AuthReply(decode_message(msg)?),
            msg_type::CONFIG => MonIncoming::Config(decode_message(msg)?),
            other => MonIncoming::Other(other),
        })
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// Encodes `m` for `features`, decodes it back and returns the message.
    pub(crate) fn round_trip<M: MessageCodec + std::fmt::Debug + PartialEq>(
        m: &M,
        features: u64,
    ) -> Message {
        let msg = encode_message(m, 7, features).unwrap();
        assert_eq!(msg.header.msg_type, M::TYPE);
        assert_eq!(msg.header.tid, 7);
        let back: M = decode_message(&msg).unwrap();
        assert_eq!(&back, m);
        msg
    }

    /// Every strict prefix of the front (from `min` bytes on) fails to decode, cleanly.
    pub(crate) fn truncations_fail<M: MessageCodec>(msg: &Message, upto: usize) {
        for cut in 0..upto.min(msg.front.len()) {
            let mut short = msg.clone();
            short.front = msg.front.slice(..cut);
            assert!(
                decode_message::<M>(&short).is_err(),
                "{}: {cut} of {} bytes decoded",
                M::NAME,
                msg.front.len()
            );
        }
    }
}
