//! Pool messages to the monitors: `MPoolOp` / `MPoolOpReply` (create and delete pools,
//! pool snapshots, self-managed snapshot ids; src/messages/MPoolOp.h, MPoolOpReply.h) and
//! `MGetPoolStats` / `MGetPoolStatsReply` (src/messages/MGetPoolStats*.h, pool_stat_t in
//! src/osd/osd_types.cc).

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::{Decode, Reader, Uuid, Writer};

use super::paxos::PaxosHeader;
use super::{MessageCodec, msg_type};

/// `POOL_OP_*` (src/include/ceph_fs.h).
pub mod pool_op {
    /// Create a pool.
    pub const CREATE: u32 = 0x01;
    /// Delete a pool.
    pub const DELETE: u32 = 0x02;
    /// Create a pool snapshot.
    pub const CREATE_SNAP: u32 = 0x11;
    /// Delete a pool snapshot.
    pub const DELETE_SNAP: u32 = 0x12;
    /// Allocate a self-managed snapshot id.
    pub const CREATE_UNMANAGED_SNAP: u32 = 0x21;
    /// Release a self-managed snapshot id.
    pub const DELETE_UNMANAGED_SNAP: u32 = 0x22;
}

/// `MPoolOp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MPoolOp {
    /// Paxos prefix (version = the OSD map epoch we know).
    pub paxos: PaxosHeader,
    /// The cluster.
    pub fsid: Uuid,
    /// The pool id (0 when creating).
    pub pool: u32,
    /// [`pool_op`].
    pub op: u32,
    /// The snapshot id (DELETE_UNMANAGED_SNAP).
    pub snapid: u64,
    /// Pool name (CREATE) or snapshot name (CREATE_SNAP, DELETE_SNAP).
    pub name: String,
    /// CRUSH rule for CREATE (0 = the default rule).
    pub crush_rule: i16,
}

impl MessageCodec for MPoolOp {
    const TYPE: u16 = msg_type::POOLOP;
    const HEAD_VERSION: u16 = 4;
    const NAME: &'static str = "MPoolOp";

    fn header_for(_: u64) -> (u16, u16) {
        (4, 2)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.paxos);
        w.put(&self.fsid);
        w.put_u32(self.pool);
        w.put_u32(self.op);
        // the removed auid
        w.put_u64(0);
        w.put_u64(self.snapid);
        w.put(&self.name);
        // pad byte of the v3 -> v4 change
        w.put_u8(0);
        w.put_i16(self.crush_rule);
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        let paxos = r.decode()?;
        let fsid = r.decode()?;
        let pool = r.u32()?;
        let mut name = String::new();
        if version < 2 {
            name = r.decode()?;
        }
        let op = r.u32()?;
        let _auid = r.u64()?;
        let snapid = r.u64()?;
        if version >= 2 {
            name = r.decode()?;
        }
        let mut crush_rule = -1;
        if version >= 3 {
            let pad = r.u8()?;
            crush_rule = if version >= 4 {
                r.i16()?
            } else {
                i16::from(pad)
            };
        }
        Ok(MPoolOp {
            paxos,
            fsid,
            pool,
            op,
            snapid,
            name,
            crush_rule,
        })
    }
}

/// `MPoolOpReply`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MPoolOpReply {
    /// Paxos prefix (version = the monitor's last committed OSD map version).
    pub paxos: PaxosHeader,
    /// The cluster.
    pub fsid: Uuid,
    /// 0 or a negative errno.
    pub reply_code: i32,
    /// The OSD map epoch that holds the change: wait for it before relying on it.
    pub epoch: u32,
    /// Op-specific data (CREATE_UNMANAGED_SNAP: the new snap id, le64).
    pub response_data: Option<Bytes>,
}

impl MessageCodec for MPoolOpReply {
    const TYPE: u16 = msg_type::POOLOP_REPLY;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MPoolOpReply";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 1)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.paxos);
        w.put(&self.fsid);
        w.put_i32(self.reply_code);
        w.put_u32(self.epoch);
        match self.response_data.as_ref().filter(|d| !d.is_empty()) {
            Some(d) => {
                w.put_bool(true);
                w.put(d);
            }
            None => w.put_bool(false),
        }
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        let paxos = r.decode()?;
        let fsid = r.decode()?;
        let reply_code = r.i32()?;
        let epoch = r.u32()?;
        let response_data = if r.bool()? { Some(r.decode()?) } else { None };
        Ok(MPoolOpReply {
            paxos,
            fsid,
            reply_code,
            epoch,
            response_data,
        })
    }
}

/// `MGetPoolStats`: usage statistics of some pools.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MGetPoolStats {
    /// Paxos prefix.
    pub paxos: PaxosHeader,
    /// The cluster.
    pub fsid: Uuid,
    /// Pool names.
    pub pools: Vec<String>,
}

impl MessageCodec for MGetPoolStats {
    const TYPE: u16 = msg_type::GET_POOL_STATS;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MGetPoolStats";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 1)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.paxos);
        w.put(&self.fsid);
        w.put(&self.pools);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MGetPoolStats {
            paxos: r.decode()?,
            fsid: r.decode()?,
            pools: r.decode()?,
        })
    }
}

/// A pool's usage (`pool_stat_t`: the leading fields of its `object_stat_sum_t`, which is
/// what `rados df` prints, and the log sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PoolStat {
    /// Bytes stored.
    pub num_bytes: i64,
    /// Objects.
    pub num_objects: i64,
    /// Snapshot clones.
    pub num_object_clones: i64,
    /// Object copies (objects x replicas).
    pub num_object_copies: i64,
    /// Objects missing on the primary.
    pub num_objects_missing_on_primary: i64,
    /// Degraded objects.
    pub num_objects_degraded: i64,
    /// Unfound objects.
    pub num_objects_unfound: i64,
    /// Read operations.
    pub num_rd: i64,
    /// KiB read.
    pub num_rd_kb: i64,
    /// Write operations.
    pub num_wr: i64,
    /// KiB written.
    pub num_wr_kb: i64,
    /// PG log entries.
    pub log_size: i64,
    /// PG log entries on disk.
    pub ondisk_log_size: i64,
}

// object_stat_sum_t: ENCODE_START(20, 14); its first eleven fields are le64 in every
// version (later ones are skipped with the envelope)
fn decode_stat_sum(r: &mut Reader<'_>, s: &mut PoolStat) -> denc::Result<()> {
    r.versioned("object_stat_sum_t", 20, |_, r| {
        for field in [
            &mut s.num_bytes,
            &mut s.num_objects,
            &mut s.num_object_clones,
            &mut s.num_object_copies,
            &mut s.num_objects_missing_on_primary,
            &mut s.num_objects_degraded,
            &mut s.num_objects_unfound,
            &mut s.num_rd,
            &mut s.num_rd_kb,
            &mut s.num_wr,
            &mut s.num_wr_kb,
        ] {
            *field = r.i64()?;
        }
        Ok(())
    })
}

impl Decode for PoolStat {
    const MIN_LEN: usize = 6;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        // pool_stat_t: DECODE_START_LEGACY_COMPAT_LEN(7, 5, 5); only v4+ is met today
        r.versioned_legacy("pool_stat_t", 7, 5, 5, |v, r| {
            if v < 4 {
                return Err(r.invalid("pool_stat_t version", u64::from(v)));
            }
            let mut s = PoolStat::default();
            // object_stat_collection_t: DECODE_START_LEGACY_COMPAT_LEN(2, 2, 2) { sum, an
            // empty per-category map (skipped with the envelope) }
            r.versioned_legacy("object_stat_collection_t", 2, 2, 2, |_, r| {
                decode_stat_sum(r, &mut s)
            })?;
            s.log_size = r.i64()?;
            s.ondisk_log_size = r.i64()?;
            Ok(s)
        })
    }
}

/// `MGetPoolStatsReply`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MGetPoolStatsReply {
    /// Paxos prefix.
    pub paxos: PaxosHeader,
    /// The cluster.
    pub fsid: Uuid,
    /// Statistics by pool name.
    pub pool_stats: BTreeMap<String, PoolStat>,
    /// The OSDs report per-pool (omap and data) statistics (v2+).
    pub per_pool: bool,
}

impl MessageCodec for MGetPoolStatsReply {
    const TYPE: u16 = msg_type::GET_POOL_STATS_REPLY;
    const HEAD_VERSION: u16 = 2;
    const NAME: &'static str = "MGetPoolStatsReply";

    fn header_for(_: u64) -> (u16, u16) {
        (2, 1)
    }

    /// Encodes the statistics as a v6 `pool_stat_t` (enough for the tests; clients never
    /// send this message).
    fn encode_front(&self, w: &mut Writer, version: u16) {
        w.put(&self.paxos);
        w.put(&self.fsid);
        w.put_len(self.pool_stats.len());
        for (name, s) in &self.pool_stats {
            w.put(name);
            w.versioned(6, 5, |w| {
                w.versioned(2, 2, |w| {
                    w.versioned(20, 14, |w| {
                        for v in [
                            s.num_bytes,
                            s.num_objects,
                            s.num_object_clones,
                            s.num_object_copies,
                            s.num_objects_missing_on_primary,
                            s.num_objects_degraded,
                            s.num_objects_unfound,
                            s.num_rd,
                            s.num_rd_kb,
                            s.num_wr,
                            s.num_wr_kb,
                        ] {
                            w.put_i64(v);
                        }
                    });
                    w.put_u32(0);
                });
                w.put_i64(s.log_size);
                w.put_i64(s.ondisk_log_size);
                w.put_i32(0);
                w.put_i32(0);
            });
        }
        if version >= 2 {
            w.put_bool(self.per_pool);
        }
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        let paxos = r.decode()?;
        let fsid = r.decode()?;
        let pool_stats = r.decode()?;
        let per_pool = if version >= 2 { r.bool()? } else { false };
        Ok(MGetPoolStatsReply {
            paxos,
            fsid,
            pool_stats,
            per_pool,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};

    #[test]
    fn pool_op_layout() {
        let m = MPoolOp {
            paxos: PaxosHeader {
                version: 12,
                ..PaxosHeader::default()
            },
            fsid: Uuid([9; 16]),
            pool: 3,
            op: pool_op::DELETE_UNMANAGED_SNAP,
            snapid: 4,
            name: String::new(),
            crush_rule: 0,
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (4, 2));
        let f = &msg.front;
        // paxos (18), fsid (16), pool, op, auid, snapid, name, pad, crush_rule
        assert_eq!(f.len(), 18 + 16 + 4 + 4 + 8 + 8 + 4 + 1 + 2);
        assert_eq!(&f[34..38], &3u32.to_le_bytes());
        assert_eq!(&f[38..42], &0x22u32.to_le_bytes());
        assert_eq!(&f[50..58], &4u64.to_le_bytes());
        truncations_fail::<MPoolOp>(&msg, usize::MAX);
    }

    #[test]
    fn pool_op_reply_with_and_without_data() {
        let mut m = MPoolOpReply {
            paxos: PaxosHeader::default(),
            fsid: Uuid([1; 16]),
            reply_code: -17,
            epoch: 33,
            response_data: None,
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!(msg.front.len(), 18 + 16 + 4 + 4 + 1);
        truncations_fail::<MPoolOpReply>(&msg, usize::MAX);
        m.reply_code = 0;
        m.response_data = Some(Bytes::from(7u64.to_le_bytes().to_vec()));
        let msg = round_trip(&m, denc::features::ALL);
        truncations_fail::<MPoolOpReply>(&msg, usize::MAX);
    }

    #[test]
    fn pool_stats_round_trip() {
        let req = MGetPoolStats {
            paxos: PaxosHeader::default(),
            fsid: Uuid([2; 16]),
            pools: vec!["rbd".into(), "data".into()],
        };
        let msg = round_trip(&req, denc::features::ALL);
        truncations_fail::<MGetPoolStats>(&msg, usize::MAX);
        let mut reply = MGetPoolStatsReply {
            fsid: Uuid([2; 16]),
            per_pool: true,
            ..MGetPoolStatsReply::default()
        };
        reply.pool_stats.insert(
            "rbd".into(),
            PoolStat {
                num_bytes: 4096,
                num_objects: 2,
                num_object_copies: 6,
                num_wr: 3,
                num_wr_kb: 4,
                log_size: 5,
                ondisk_log_size: 5,
                ..PoolStat::default()
            },
        );
        let msg = round_trip(&reply, denc::features::ALL);
        truncations_fail::<MGetPoolStatsReply>(&msg, usize::MAX);
    }
}
