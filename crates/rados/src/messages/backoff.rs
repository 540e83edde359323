//! `MOSDBackoff` (src/messages/MOSDBackoff.h): an OSD asks us to stop sending ops for a
//! range of objects of a PG (BLOCK), we acknowledge (ACK_BLOCK), and it lifts the block
//! later (UNBLOCK), when we resend what we held.

use denc::{HObject, Reader, Writer};

use super::osd_types::SpgId;
use super::{MessageCodec, msg_type};

/// `CEPH_OSD_BACKOFF_OP_*`.
pub mod backoff_op {
    /// Stop sending ops in the range.
    pub const BLOCK: u8 = 1;
    /// Our acknowledgement of a BLOCK.
    pub const ACK_BLOCK: u8 = 2;
    /// Resume (resend what was held).
    pub const UNBLOCK: u8 = 3;
}

/// `MOSDBackoff`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MOsdBackoff {
    /// The PG (and shard).
    pub pgid: SpgId,
    /// The OSD's map epoch.
    pub epoch: u32,
    /// [`backoff_op`].
    pub op: u8,
    /// The backoff's id (per session).
    pub id: u64,
    /// First object of the range (inclusive).
    pub begin: HObject,
    /// End of the range (exclusive).
    pub end: HObject,
}

impl MessageCodec for MOsdBackoff {
    const TYPE: u16 = msg_type::OSD_BACKOFF;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MOSDBackoff";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 1)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.pgid);
        w.put_u32(self.epoch);
        w.put_u8(self.op);
        w.put_u64(self.id);
        w.put(&self.begin);
        w.put(&self.end);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MOsdBackoff {
            pgid: r.decode()?,
            epoch: r.u32()?,
            op: r.u8()?,
            id: r.u64()?,
            begin: r.decode()?,
            end: r.decode()?,
        })
    }
}

impl MOsdBackoff {
    /// Our answer to a BLOCK: the same backoff, op ACK_BLOCK.
    pub fn ack(&self) -> MOsdBackoff {
        MOsdBackoff {
            op: backoff_op::ACK_BLOCK,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};
    use denc::{PgId, SnapId};

    #[test]
    fn round_trips_with_object_bounds() {
        let m = MOsdBackoff {
            pgid: SpgId::new(PgId::new(3, 5)),
            epoch: 20,
            op: backoff_op::BLOCK,
            id: 77,
            begin: HObject {
                oid: "a".into(),
                snap: SnapId(0),
                hash: 0x45,
                pool: 3,
                ..HObject::default()
            },
            end: HObject::max(),
        };
        let msg = round_trip(&m, denc::features::ALL);
        // spg_t (24), epoch, op, id, then hobject_t ENCODE_START(4, 3)
        assert_eq!(msg.front[28], backoff_op::BLOCK);
        assert_eq!(&msg.front[37..39], &[4, 3]);
        truncations_fail::<MOsdBackoff>(&msg, usize::MAX);
        let ack = m.ack();
        assert_eq!((ack.op, ack.id), (backoff_op::ACK_BLOCK, 77));
    }
}
