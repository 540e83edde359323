//! `MMonSubscribe` and `MMonSubscribeAck` (src/messages/MMonSubscribe.h,
//! MMonSubscribeAck.h; `ceph_mon_subscribe_item` in src/include/ceph_fs.h).

use std::collections::BTreeMap;

use denc::{Reader, Uuid, Writer, features};

use super::{MessageCodec, msg_type};

/// `CEPH_SUBSCRIBE_ONETIME`: send one update, then forget the subscription.
pub const SUBSCRIBE_ONETIME: u8 = 1;

/// `ceph_mon_subscribe_item`: from which epoch, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscribeItem {
    /// The first epoch wanted (0: the latest, as a full map where that matters).
    pub start: u64,
    /// [`SUBSCRIBE_ONETIME`] or 0 (ongoing).
    pub flags: u8,
}

/// `MMonSubscribe`: what maps to send and from which epoch (`monmap`, `osdmap`, `config`,
/// `mgrmap`, ...), and our host name (v3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MMonSubscribe {
    /// The subscriptions.
    pub what: BTreeMap<String, SubscribeItem>,
    /// Our short host name (v3; the config monitor matches `host:` masks against it).
    pub hostname: String,
}

impl MessageCodec for MMonSubscribe {
    const TYPE: u16 = msg_type::MON_SUBSCRIBE;
    const HEAD_VERSION: u16 = 3;
    const NAME: &'static str = "MMonSubscribe";

    /// v3 (with the host name) to Mimic and later, v2 to older monitors with
    /// `SUBSCRIBE2`. (Monitors without `SUBSCRIBE2`, pre-Bobtail, are not supported: the
    /// msgr2 monitors we can reach all have it.)
    fn header_for(peer_features: u64) -> (u16, u16) {
        if features::has(peer_features, features::SERVER_MIMIC) {
            (3, 1)
        } else {
            (2, 1)
        }
    }

    fn encode_front(&self, w: &mut Writer, version: u16) {
        w.put_len(self.what.len());
        for (name, item) in &self.what {
            w.put(name);
            w.put_u64(item.start);
            w.put_u8(item.flags);
        }
        if version >= 3 {
            w.put(&self.hostname);
        }
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        let mut m = MMonSubscribe::default();
        // string (>= 4 bytes) + item (9 or 17 bytes)
        let n = r.count(13)?;
        for _ in 0..n {
            let name: String = r.decode()?;
            let item = if version < 2 {
                // ceph_mon_subscribe_item_old: le64 unused, le64 have, u8 onetime
                let _unused = r.u64()?;
                let have = r.u64()?;
                let onetime = r.u8()?;
                SubscribeItem {
                    start: if have != 0 { have.saturating_add(1) } else { 0 },
                    flags: if onetime != 0 { SUBSCRIBE_ONETIME } else { 0 },
                }
            } else {
                SubscribeItem {
                    start: r.u64()?,
                    flags: r.u8()?,
                }
            };
            m.what.insert(name, item);
        }
        if version >= 3 {
            m.hostname = r.decode()?;
        }
        Ok(m)
    }
}

/// `MMonSubscribeAck`: only monitors without `MON_STATEFUL_SUB` peers send it; it says
/// how often to renew the subscriptions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MMonSubscribeAck {
    /// Renewal interval in seconds (renew at half of it).
    pub interval: u32,
    /// The cluster id.
    pub fsid: Uuid,
}

impl MessageCodec for MMonSubscribeAck {
    const TYPE: u16 = msg_type::MON_SUBSCRIBE_ACK;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MMonSubscribeAck";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put_u32(self.interval);
        w.put(&self.fsid);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MMonSubscribeAck {
            interval: r.u32()?,
            fsid: r.decode()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};
    use crate::messages::{decode_message, encode_message};

    fn sample() -> MMonSubscribe {
        let mut m = MMonSubscribe {
            hostname: "node1".into(),
            ..MMonSubscribe::default()
        };
        m.what
            .insert("monmap".into(), SubscribeItem { start: 2, flags: 0 });
        m.what.insert(
            "osdmap".into(),
            SubscribeItem {
                start: 0,
                flags: SUBSCRIBE_ONETIME,
            },
        );
        m
    }

    #[test]
    fn version_follows_the_peer() {
        let m = sample();
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (3, 1));
        truncations_fail::<MMonSubscribe>(&msg, usize::MAX);
        // the exact layout: map<string, {le64 start, u8 flags}>, string hostname
        let mut want = vec![2, 0, 0, 0];
        want.extend_from_slice(&[6, 0, 0, 0]);
        want.extend_from_slice(b"monmap");
        want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[6, 0, 0, 0]);
        want.extend_from_slice(b"osdmap");
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend_from_slice(&[5, 0, 0, 0]);
        want.extend_from_slice(b"node1");
        assert_eq!(&msg.front[..], &want[..]);

        // a pre-Mimic peer gets v2, without the host name
        let old = denc::features::ALL & !denc::features::SERVER_MIMIC;
        let msg = encode_message(&m, 0, old).unwrap();
        assert_eq!(msg.header.version, 2);
        let back: MMonSubscribe = decode_message(&msg).unwrap();
        assert_eq!(back.what, m.what);
        assert!(back.hostname.is_empty());
    }

    #[test]
    fn old_items_decode() {
        let mut w = Writer::new();
        w.put_u32(1);
        w.put("osdmap");
        w.put_u64(0);
        w.put_u64(41);
        w.put_u8(1);
        let bytes = w.finish().unwrap();
        let m = MMonSubscribe::decode_front(&mut Reader::new(&bytes), 1).unwrap();
        assert_eq!(
            m.what["osdmap"],
            SubscribeItem {
                start: 42,
                flags: SUBSCRIBE_ONETIME
            }
        );
    }

    #[test]
    fn ack_round_trips() {
        let m = MMonSubscribeAck {
            interval: 300,
            fsid: Uuid([9; 16]),
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!(msg.front.len(), 20);
        truncations_fail::<MMonSubscribeAck>(&msg, usize::MAX);
    }
}
