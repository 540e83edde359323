//! Output of Ceph's tools, reproduced exactly: `osdmaptool --test-map-object`,
//! `--test-map-pg` and `--test-map-pgs-dump-all` (src/tools/osdmaptool.cc), and `ceph osd map`
//! (src/mon/OSDMonitor.cc, its plain text and the fields of its JSON).

use std::fmt::Write as _;

use denc::PgId;

use crate::crush_adapter::CRUSH_ITEM_NONE;
use crate::error::{OsdMapError, Result};
use crate::osdmap::OsdMap;
use crate::placement::UpActing;

/// A `vector<int>` as Ceph's `operator<<` prints it: `[1,0,2]` (an empty EC slot prints as
/// `2147483647`).
pub fn osd_list(osds: &[i32]) -> String {
    let mut s = String::from("[");
    for (i, o) in osds.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{o}");
    }
    s.push(']');
    s
}

/// `pg_vector_string`: like [`osd_list`] but empty EC slots print as `NONE` (`ceph osd map`'s
/// plain output).
pub fn pg_vector_string(osds: &[i32]) -> String {
    let mut s = String::from("[");
    for (i, o) in osds.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        if *o == CRUSH_ITEM_NONE {
            s.push_str("NONE");
        } else {
            let _ = write!(s, "{o}");
        }
    }
    s.push(']');
    s
}

/// The line `osdmaptool MAP --test-map-object NAME --pool POOL` prints:
/// ` object 'NAME' -> 1.1c -> [0,1,2]` (the PG and its acting set).
pub fn test_map_object_line(name: &str, pg: PgId, acting: &[i32]) -> String {
    format!(" object '{name}' -> {pg} -> {}", osd_list(acting))
}

/// One line of `osdmaptool MAP --test-map-pgs-dump-all` (and the second line of
/// `--test-map-pg`): `1.0 raw ([1,0,2], p1) up ([1,0,2], p1) acting ([1,0,2], p1)`.
pub fn pg_dump_all_line(pg: PgId, raw: &[i32], raw_primary: i32, osds: &UpActing) -> String {
    format!(
        "{pg} raw ({}, p{raw_primary}) up ({}, p{}) acting ({}, p{})",
        osd_list(raw),
        osd_list(&osds.up),
        osds.up_primary,
        osd_list(&osds.acting),
        osds.acting_primary
    )
}

/// What `ceph osd map POOL OBJECT [NSPACE]` reports (the fields of its JSON, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsdMapCommandOutput {
    /// `epoch`: the map epoch.
    pub epoch: u32,
    /// `pool`: the pool name as given.
    pub pool: String,
    /// `pool_id`.
    pub pool_id: i64,
    /// `objname`: `NSPACE/NAME`, or `NAME` without a namespace.
    pub objname: String,
    /// `raw_pgid`: pool and full object hash, `1.30a98c1c`.
    pub raw_pgid: String,
    /// `pgid`: the PG, `1.1c`.
    pub pgid: String,
    /// `up`: OSD ids (an empty EC slot is 2147483647, as Ceph's `dump_int` writes it).
    pub up: Vec<i32>,
    /// `up_primary`.
    pub up_primary: i32,
    /// `acting`.
    pub acting: Vec<i32>,
    /// `acting_primary`.
    pub acting_primary: i32,
}

impl OsdMapCommandOutput {
    /// The plain-text form: `osdmap e11 pool 'rbd' (1) object 'foo' -> pg 1.7fc1f406 (1.6)
    /// -> up ([0,2,1], p0) acting ([0,2,1], p0)`.
    pub fn plain(&self) -> String {
        format!(
            "osdmap e{} pool '{}' ({}) object '{}' -> pg {} ({}) -> up ({}, p{}) acting ({}, p{})",
            self.epoch,
            self.pool,
            self.pool_id,
            self.objname,
            self.raw_pgid,
            self.pgid,
            pg_vector_string(&self.up),
            self.up_primary,
            pg_vector_string(&self.acting),
            self.acting_primary
        )
    }
}

impl OsdMap {
    /// `ceph osd map POOL OBJECT [NSPACE]`, computed from this map.
    pub fn osd_map_command(
        &self,
        pool: &str,
        object: &str,
        nspace: &str,
    ) -> Result<OsdMapCommandOutput> {
        let pool_id = self
            .lookup_pool(pool)
            .ok_or_else(|| OsdMapError::NoSuchPoolName(pool.to_owned()))?;
        let m = self.map_object(pool_id, object, "", nspace)?;
        let objname = if nspace.is_empty() {
            object.to_owned()
        } else {
            format!("{nspace}/{object}")
        };
        Ok(OsdMapCommandOutput {
            epoch: self.epoch,
            pool: pool.to_owned(),
            pool_id,
            objname,
            raw_pgid: m.raw_pg.to_string(),
            pgid: m.pg.to_string(),
            up: m.osds.up,
            up_primary: m.osds.up_primary,
            acting: m.osds.acting,
            acting_primary: m.osds.acting_primary,
        })
    }

    /// The line `osdmaptool --test-map-object NAME --pool POOL` prints for this map.
    pub fn test_map_object_line(&self, pool: i64, name: &str) -> Result<String> {
        let pg = self.object_to_pg(pool, name, "", "")?;
        let osds = self.pg_to_up_acting(pg)?;
        Ok(test_map_object_line(name, pg, &osds.acting))
    }

    /// The `--test-map-pgs-dump-all` line of PG `pg`.
    pub fn pg_dump_all_line(&self, pg: PgId) -> Result<String> {
        let (raw, raw_primary) = self.pg_to_raw_osds(pg)?;
        let osds = self.pg_to_up_acting(pg)?;
        Ok(pg_dump_all_line(pg, &raw, raw_primary, &osds))
    }

    /// What `osdmaptool --test-map-pgs-dump-all --pool POOL` prints for `pool`: the
    /// `pool P pg_num N` header and one line per PG (the statistics that follow are not
    /// reproduced).
    pub fn pg_dump_all(&self, pool: i64) -> Result<Vec<String>> {
        let p = self.pool(pool).ok_or(OsdMapError::NoSuchPool(pool))?;
        #[allow(clippy::cast_sign_loss)]
        let pool_u = pool as u64;
        let mut lines = Vec::with_capacity(usize::try_from(p.pg_num).unwrap_or(0) + 1);
        lines.push(format!("pool {pool} pg_num {}", p.pg_num));
        for seed in 0..p.pg_num {
            lines.push(self.pg_dump_all_line(PgId::new(pool_u, seed))?);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(osd_list(&[]), "[]");
        assert_eq!(osd_list(&[1, CRUSH_ITEM_NONE]), "[1,2147483647]");
        assert_eq!(pg_vector_string(&[1, CRUSH_ITEM_NONE]), "[1,NONE]");
        let ua = UpActing {
            up: vec![1, 0, 2],
            up_primary: 1,
            acting: vec![1, 0, 2],
            acting_primary: 1,
        };
        assert_eq!(
            pg_dump_all_line(PgId::new(1, 0), &[1, 0, 2], 1, &ua),
            "1.0 raw ([1,0,2], p1) up ([1,0,2], p1) acting ([1,0,2], p1)"
        );
        assert_eq!(
            test_map_object_line("foo", PgId::new(1, 0x1c), &[0, 1, 2]),
            " object 'foo' -> 1.1c -> [0,1,2]"
        );
        let out = OsdMapCommandOutput {
            epoch: 11,
            pool: "rbd".into(),
            pool_id: 1,
            objname: "ns/foo".into(),
            raw_pgid: "1.7fc1f406".into(),
            pgid: "1.6".into(),
            up: vec![0, CRUSH_ITEM_NONE],
            up_primary: 0,
            acting: vec![0, CRUSH_ITEM_NONE],
            acting_primary: 0,
        };
        assert_eq!(
            out.plain(),
            "osdmap e11 pool 'rbd' (1) object 'ns/foo' -> pg 1.7fc1f406 (1.6) -> up ([0,NONE], p0) acting ([0,NONE], p0)"
        );
    }
}
