//! `MMonGetVersion` and `MMonGetVersionReply` (src/messages/MMonGetVersion.h,
//! MMonGetVersionReply.h): the newest and oldest epoch of a map the monitors keep.

use denc::{Reader, Writer};

use super::{MessageCodec, msg_type};

/// `MMonGetVersion`: asks for the newest version of a map (`osdmap`, `monmap`, `mdsmap`,
/// `fsmap`, `mgrmap`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MMonGetVersion {
    /// Our request id, echoed in the reply.
    pub handle: u64,
    /// Which map.
    pub what: String,
}

impl MessageCodec for MMonGetVersion {
    const TYPE: u16 = msg_type::MON_GET_VERSION;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MMonGetVersion";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put_u64(self.handle);
        w.put(&self.what);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MMonGetVersion {
            handle: r.u64()?,
            what: r.decode()?,
        })
    }
}

/// `MMonGetVersionReply`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MMonGetVersionReply {
    /// The request id.
    pub handle: u64,
    /// The newest version.
    pub version: u64,
    /// The oldest version kept (v2+).
    pub oldest_version: u64,
}

impl MessageCodec for MMonGetVersionReply {
    const TYPE: u16 = msg_type::MON_GET_VERSION_REPLY;
    const HEAD_VERSION: u16 = 2;
    const NAME: &'static str = "MMonGetVersionReply";

    fn header_for(_: u64) -> (u16, u16) {
        (2, 0)
    }

    fn encode_front(&self, w: &mut Writer, version: u16) {
        w.put_u64(self.handle);
        w.put_u64(self.version);
        if version >= 2 {
            w.put_u64(self.oldest_version);
        }
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        let mut m = MMonGetVersionReply {
            handle: r.u64()?,
            version: r.u64()?,
            oldest_version: 0,
        };
        if version >= 2 {
            m.oldest_version = r.u64()?;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};

    #[test]
    fn round_trips() {
        let m = MMonGetVersion {
            handle: 3,
            what: "osdmap".into(),
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!(msg.front.len(), 8 + 4 + 6);
        truncations_fail::<MMonGetVersion>(&msg, usize::MAX);
        let r = MMonGetVersionReply {
            handle: 3,
            version: 40,
            oldest_version: 1,
        };
        let msg = round_trip(&r, denc::features::ALL);
        assert_eq!(msg.header.version, 2);
        truncations_fail::<MMonGetVersionReply>(&msg, usize::MAX);
        // a v1 reply has no oldest version
        let v1 = MMonGetVersionReply::decode_front(&mut Reader::new(&msg.front[..16]), 1).unwrap();
        assert_eq!((v1.version, v1.oldest_version), (40, 0));
    }
}
