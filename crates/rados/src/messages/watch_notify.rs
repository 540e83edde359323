//! `MWatchNotify` (src/messages/MWatchNotify.h): what an OSD tells a watcher (a
//! notification to acknowledge, or that its watch was dropped) and a notifier (that its
//! notify completed, with every watcher's reply), plus the reply body of a completed
//! notify (src/osd/Watch.cc `Notify::maybe_complete_notify`).

use bytes::Bytes;
use denc::{Reader, Writer};

use super::{MessageCodec, msg_type};

/// `CEPH_WATCH_EVENT_*` (src/include/ceph_fs.h).
pub mod watch_event {
    /// A notification for a watcher (it must acknowledge it).
    pub const NOTIFY: u8 = 1;
    /// A notify is complete (to the notifier), the replies in the data segment.
    pub const NOTIFY_COMPLETE: u8 = 2;
    /// The watch was dropped (the object was deleted, the watch timed out).
    pub const DISCONNECT: u8 = 3;
}

/// `MWatchNotify`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MWatchNotify {
    /// The watch's (or the notify's) cookie: which registration the event is for.
    pub cookie: u64,
    /// Unused by Ceph since Giant (the object version of old notifies).
    pub ver: u64,
    /// The OSD's id of the notify (what an acknowledgement names).
    pub notify_id: u64,
    /// [`watch_event`].
    pub opcode: u8,
    /// The notify's payload (NOTIFY events).
    pub payload: Bytes,
    /// The notify's result (NOTIFY_COMPLETE: `-ETIMEDOUT` if some watcher did not answer).
    pub return_code: i32,
    /// Global id of the client that sent the notify.
    pub notifier_gid: u64,
    /// The data segment: a [`NotifyReplies`] encoding on NOTIFY_COMPLETE.
    pub data: Bytes,
}

impl MessageCodec for MWatchNotify {
    const TYPE: u16 = msg_type::WATCH_NOTIFY;
    const HEAD_VERSION: u16 = 3;
    const NAME: &'static str = "MWatchNotify";

    fn header_for(_: u64) -> (u16, u16) {
        (3, 1)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        // the inner version byte: 1 since the payload joined the front
        w.put_u8(1);
        w.put_u8(self.opcode);
        w.put_u64(self.cookie);
        w.put_u64(self.ver);
        w.put_u64(self.notify_id);
        w.put(&self.payload);
        w.put_i32(self.return_code);
        w.put_u64(self.notifier_gid);
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        let inner = r.u8()?;
        let opcode = r.u8()?;
        let cookie = r.u64()?;
        let ver = r.u64()?;
        let notify_id = r.u64()?;
        let payload = if inner >= 1 {
            r.decode()?
        } else {
            Bytes::new()
        };
        let return_code = if version >= 2 { r.i32()? } else { 0 };
        let notifier_gid = if version >= 3 { r.u64()? } else { 0 };
        Ok(MWatchNotify {
            cookie,
            ver,
            notify_id,
            opcode,
            payload,
            return_code,
            notifier_gid,
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

/// One watcher's answer to a notify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyAck {
    /// The watcher's global id (`client.<gid>`).
    pub gid: u64,
    /// The watch's cookie.
    pub cookie: u64,
    /// What the watcher replied (often empty).
    pub reply: Bytes,
}

/// Every watcher's answer to a completed notify, and the watchers that did not answer in
/// time: `map<pair<u64,u64>, bufferlist>` then `vector<pair<u64,u64>>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifyReplies {
    /// The answers, by (gid, cookie).
    pub acks: Vec<NotifyAck>,
    /// (gid, cookie) of the watchers that timed out.
    pub missed: Vec<(u64, u64)>,
}

impl NotifyReplies {
    /// Decodes the data segment of a NOTIFY_COMPLETE (empty: no watchers).
    pub fn decode(data: &[u8]) -> denc::Result<NotifyReplies> {
        let mut r = Reader::new(data);
        if r.is_empty() {
            return Ok(NotifyReplies::default());
        }
        r.named("notify replies", |r| {
            let n = r.count(8 + 8 + 4)?;
            let mut acks = Vec::with_capacity(n);
            for _ in 0..n {
                let gid = r.u64()?;
                let cookie = r.u64()?;
                let reply: Bytes = r.decode()?;
                acks.push(NotifyAck { gid, cookie, reply });
            }
            let n = r.count(16)?;
            let mut missed = Vec::with_capacity(n);
            for _ in 0..n {
                missed.push((r.u64()?, r.u64()?));
            }
            Ok(NotifyReplies { acks, missed })
        })
    }

    /// The encoding an OSD sends (for tests and scripted peers).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.put_len(self.acks.len());
        for a in &self.acks {
            w.put_u64(a.gid);
            w.put_u64(a.cookie);
            w.put(&a.reply);
        }
        w.put_len(self.missed.len());
        for (gid, cookie) in &self.missed {
            w.put_u64(*gid);
            w.put_u64(*cookie);
        }
        w.finish().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::decode_message;
    use crate::messages::testutil::{round_trip, truncations_fail};

    fn sample() -> MWatchNotify {
        MWatchNotify {
            cookie: 0x1122_3344,
            ver: 0,
            notify_id: 77,
            opcode: watch_event::NOTIFY,
            payload: Bytes::from_static(b"\x05\0\0\0hello"),
            return_code: 0,
            notifier_gid: 4123,
            data: Bytes::new(),
        }
    }

    #[test]
    fn round_trips_and_truncations_fail() {
        let m = sample();
        let msg = round_trip(&m, 0);
        truncations_fail::<MWatchNotify>(&msg, msg.front.len());
    }

    #[test]
    fn old_headers_lack_the_newer_fields() {
        let m = sample();
        let mut msg = crate::messages::encode_message(&m, 0, 0).unwrap();
        msg.header.version = 1;
        let front = msg.front.clone();
        msg.front = front.slice(..front.len() - 12);
        let d = decode_message::<MWatchNotify>(&msg).unwrap();
        assert_eq!(d.return_code, 0);
        assert_eq!(d.notifier_gid, 0);
        assert_eq!(d.payload, m.payload);
    }

    #[test]
    fn notify_replies_round_trip() {
        let r = NotifyReplies {
            acks: vec![
                NotifyAck {
                    gid: 4100,
                    cookie: 1,
                    reply: Bytes::from_static(b"ok"),
                },
                NotifyAck {
                    gid: 4101,
                    cookie: 9,
                    reply: Bytes::new(),
                },
            ],
            missed: vec![(4200, 3)],
        };
        let bytes = r.encode();
        assert_eq!(NotifyReplies::decode(&bytes).unwrap(), r);
        for n in 1..bytes.len() {
            assert!(NotifyReplies::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(
            NotifyReplies::decode(&[]).unwrap(),
            NotifyReplies::default()
        );
    }

    #[test]
    fn a_huge_count_is_refused_without_allocating() {
        let bytes = [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        assert!(NotifyReplies::decode(&bytes).is_err());
    }
}
