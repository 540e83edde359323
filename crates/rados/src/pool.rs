//! Pools and snapshots: lookup, listing, create and delete (`MPoolOp` as librados sends
//! it, or monitor commands when a PG count or application is asked for), statistics
//! (`MGetPoolStats`), pool snapshots and self-managed snapshot ids (src/osdc/Objecter.cc
//! `create_pool`, `delete_pool`, `create_pool_snap`, `allocate_selfmanaged_snap`, ...:
//! each waits for the OSD map epoch the monitor's reply names).

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::{Reader, SnapId, UTime, features};

use crate::client::Rados;
use crate::errno::Errno;
use crate::error::{Error, Result};
use crate::ioctx::IoCtx;
use crate::messages::{
    MGetPoolStats, MGetPoolStatsReply, MPoolOp, MPoolOpReply, PaxosHeader, PoolStat,
    decode_message, encode_message, msg_type, pool_op,
};

/// How to create a pool with [`Rados::create_pool_with`] (`ceph osd pool create`).
#[derive(Debug, Clone, Default)]
pub struct PoolSpec {
    /// PG count (default: the monitors' `osd_pool_default_pg_num`).
    pub pg_num: Option<u32>,
    /// CRUSH rule name (default: the pool type's default rule).
    pub crush_rule: Option<String>,
    /// An application to enable on the new pool (`rbd`, `rgw`, `cephfs`, ...).
    pub application: Option<String>,
}

/// A pool snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSnap {
    /// Its id.
    pub id: SnapId,
    /// Its name.
    pub name: String,
    /// When it was taken.
    pub stamp: UTime,
}

impl Rados {
    /// Every pool, by id, from the current map (`rados lspools`).
    pub fn pool_list(&self) -> Vec<(i64, String)> {
        self.osdmap()
            .pool_names
            .iter()
            .map(|(id, name)| (*id, name.clone()))
            .collect()
    }

    /// Brings the OSD map up to the monitors' newest (after a miss in the current one).
    async fn refresh_osdmap(&self) -> Result<()> {
        let newest = self.get_version("osdmap").await?.newest;
        self.wait_for_osdmap(u32::try_from(newest).unwrap_or(u32::MAX))
            .await
            .map(|_| ())
    }

    /// The id of pool `name`; a miss is checked against the monitors' newest map first
    /// (as librados does), then is [`Error::NoSuchPool`].
    pub async fn pool_lookup(&self, name: &str) -> Result<i64> {
        if let Some(id) = self.osdmap().lookup_pool(name) {
            return Ok(id);
        }
        self.refresh_osdmap().await?;
        self.osdmap()
            .lookup_pool(name)
            .ok_or_else(|| Error::NoSuchPool(name.to_owned()))
    }

    /// An I/O context on pool `name`.
    pub async fn ioctx(&self, name: &str) -> Result<IoCtx> {
        let id = self.pool_lookup(name).await?;
        Ok(IoCtx::new(self.clone(), id, name.to_owned()))
    }

    /// An I/O context on pool `id`.
    pub async fn ioctx_by_id(&self, id: i64) -> Result<IoCtx> {
        let name = match self.osdmap().pool_names.get(&id) {
            Some(n) => n.clone(),
            None => {
                self.refresh_osdmap().await?;
                self.osdmap()
                    .pool_names
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Error::NoSuchPool(id.to_string()))?
            }
        };
        Ok(IoCtx::new(self.clone(), id, name))
    }

    /// Sends a pool op; on success waits for the map epoch the reply names and returns
    /// the reply's data.
    async fn pool_op(&self, mut op: MPoolOp) -> Result<Option<Bytes>> {
        op.fsid = self.fsid();
        op.paxos = PaxosHeader::default();
        let msg = encode_message(&op, 0, features::ALL)?;
        let reply = self.mon_request(msg, msg_type::POOLOP_REPLY).await?;
        let reply: MPoolOpReply = decode_message(&reply)?;
        if let Some(errno) = Errno::from_result(reply.reply_code) {
            return Err(Error::PoolOp { errno });
        }
        self.wait_for_osdmap(reply.epoch).await?;
        Ok(reply.response_data)
    }

    /// Creates pool `name` with the monitors' defaults (`rados_pool_create`); returns its
    /// id. EEXIST if it exists.
    pub async fn create_pool(&self, name: &str) -> Result<i64> {
        if self.osdmap().lookup_pool(name).is_some() {
            return Err(Error::PoolOp {
                errno: Errno::EEXIST,
            });
        }
        self.pool_op(MPoolOp {
            op: pool_op::CREATE,
            name: name.to_owned(),
            ..MPoolOp::default()
        })
        .await?;
        self.pool_lookup(name).await
    }

    /// Creates pool `name` with CRUSH rule `rule` (`rados_pool_create_with_crush_rule`).
    pub async fn create_pool_with_rule(&self, name: &str, rule: i16) -> Result<i64> {
        if self.osdmap().lookup_pool(name).is_some() {
            return Err(Error::PoolOp {
                errno: Errno::EEXIST,
            });
        }
        self.pool_op(MPoolOp {
            op: pool_op::CREATE,
            name: name.to_owned(),
            crush_rule: rule,
            ..MPoolOp::default()
        })
        .await?;
        self.pool_lookup(name).await
    }

    /// Creates pool `name` the way `ceph osd pool create` does (PG count, CRUSH rule) and
    /// enables an application on it; returns its id.
    pub async fn create_pool_with(&self, name: &str, spec: &PoolSpec) -> Result<i64> {
        let mut cmd = serde_json::Map::new();
        cmd.insert("prefix".into(), "osd pool create".into());
        cmd.insert("pool".into(), name.into());
        if let Some(n) = spec.pg_num {
            cmd.insert("pg_num".into(), n.into());
        }
        if let Some(rule) = &spec.crush_rule {
            cmd.insert("rule".into(), rule.clone().into());
        }
        let cmd = serde_json::Value::Object(cmd);
        self.mon_command(&cmd.to_string(), Bytes::new()).await?;
        if let Some(app) = &spec.application {
            self.application_enable(name, app, false).await?;
        }
        self.pool_lookup(name).await
    }

    /// Enables application `app` on pool `pool` (`ceph osd pool application enable`);
    /// `force` allows a second application.
    pub async fn application_enable(&self, pool: &str, app: &str, force: bool) -> Result<()> {
        let mut cmd = serde_json::Map::new();
        cmd.insert("prefix".into(), "osd pool application enable".into());
        cmd.insert("pool".into(), pool.into());
        cmd.insert("app".into(), app.into());
        if force {
            cmd.insert("yes_i_really_mean_it".into(), true.into());
        }
        let cmd = serde_json::Value::Object(cmd);
        self.mon_command(&cmd.to_string(), Bytes::new()).await?;
        Ok(())
    }

    /// Deletes pool `name` (`rados_pool_delete`; the monitors must allow it:
    /// `mon_allow_pool_delete`). [`Error::NoSuchPool`] if it does not exist.
    pub async fn delete_pool(&self, name: &str) -> Result<()> {
        let id = self.pool_lookup(name).await?;
        self.pool_op(MPoolOp {
            op: pool_op::DELETE,
            pool: u32::try_from(id).map_err(|_| Error::InvalidArgument("pool id"))?,
            name: "delete".into(),
            ..MPoolOp::default()
        })
        .await?;
        Ok(())
    }

    /// Usage statistics of `pools` (by name), as `rados df` shows them.
    pub async fn pool_stats(&self, pools: &[&str]) -> Result<BTreeMap<String, PoolStat>> {
        let m = MGetPoolStats {
            paxos: PaxosHeader::default(),
            fsid: self.fsid(),
            pools: pools.iter().map(|p| (*p).to_owned()).collect(),
        };
        let msg = encode_message(&m, 0, features::ALL)?;
        let reply = self
            .mon_request(msg, msg_type::GET_POOL_STATS_REPLY)
            .await?;
        let reply: MGetPoolStatsReply = decode_message(&reply)?;
        Ok(reply.pool_stats)
    }
}

impl IoCtx {
    fn pool_u32(&self) -> Result<u32> {
        u32::try_from(self.pool).map_err(|_| Error::InvalidArgument("pool id"))
    }

    /// Allocates a self-managed snapshot id (`rados_ioctx_selfmanaged_snap_create`).
    /// Waits for the OSD map that records it.
    pub async fn create_selfmanaged_snap(&self) -> Result<SnapId> {
        let data = self
            .rados
            .pool_op_for(MPoolOp {
                op: pool_op::CREATE_UNMANAGED_SNAP,
                pool: self.pool_u32()?,
                ..MPoolOp::default()
            })
            .await?
            .ok_or(Error::Protocol("no snap id in the monitor's reply"))?;
        let mut r = Reader::new(&data);
        Ok(SnapId(r.u64()?))
    }

    /// Releases a self-managed snapshot id (the OSDs trim its clones).
    pub async fn remove_selfmanaged_snap(&self, snap: SnapId) -> Result<()> {
        self.rados
            .pool_op_for(MPoolOp {
                op: pool_op::DELETE_UNMANAGED_SNAP,
                pool: self.pool_u32()?,
                snapid: snap.0,
                ..MPoolOp::default()
            })
            .await
            .map(|_| ())
    }

    /// Takes pool snapshot `name` (`rados_ioctx_snap_create`); EEXIST if it exists.
    pub async fn create_pool_snap(&self, name: &str) -> Result<()> {
        if self.lookup_pool_snap(name).is_ok() {
            return Err(Error::PoolOp {
                errno: Errno::EEXIST,
            });
        }
        self.rados
            .pool_op_for(MPoolOp {
                op: pool_op::CREATE_SNAP,
                pool: self.pool_u32()?,
                name: name.to_owned(),
                ..MPoolOp::default()
            })
            .await
            .map(|_| ())
    }

    /// Removes pool snapshot `name`; ENOENT if there is none.
    pub async fn remove_pool_snap(&self, name: &str) -> Result<()> {
        self.lookup_pool_snap(name)?;
        self.rados
            .pool_op_for(MPoolOp {
                op: pool_op::DELETE_SNAP,
                pool: self.pool_u32()?,
                name: name.to_owned(),
                ..MPoolOp::default()
            })
            .await
            .map(|_| ())
    }

    /// The pool's snapshots, by id (`rados_ioctx_snap_list`).
    pub fn pool_snaps(&self) -> Vec<PoolSnap> {
        let map = self.rados.osdmap();
        map.pool(self.pool)
            .map(|p| {
                p.snaps
                    .values()
                    .map(|s| PoolSnap {
                        id: SnapId(s.snapid),
                        name: s.name.clone(),
                        stamp: s.stamp,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The id of pool snapshot `name` (ENOENT if there is none).
    pub fn lookup_pool_snap(&self, name: &str) -> Result<SnapId> {
        self.pool_snaps()
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.id)
            .ok_or(Error::Osd {
                errno: Errno::ENOENT,
                failed_op: None,
            })
    }

    /// True if the pool uses self-managed snapshots (then pool snapshots are refused).
    pub fn is_selfmanaged_snaps_mode(&self) -> bool {
        self.rados
            .osdmap()
            .pool(self.pool)
            .is_some_and(|p| p.has_flag(osdmap::PgPool::FLAG_SELFMANAGED_SNAPS))
    }
}

impl Rados {
    /// [`Rados::pool_op`] for the snapshot calls of [`IoCtx`].
    pub(crate) async fn pool_op_for(&self, op: MPoolOp) -> Result<Option<Bytes>> {
        self.pool_op(op).await
    }
}
