//! The placement pipeline: object -> PG -> OSDs (src/osd/OSDMap.cc `map_to_pg`,
//! `_pg_to_raw_osds`, `_apply_upmap`, `_raw_to_up_osds`, `_apply_primary_affinity`,
//! `_get_temp_osds`, `_pg_to_up_acting_osds`).

use denc::{ObjectLocator, PgId};

use crate::codec::{release, release_lt};
use crate::crush_adapter::CRUSH_ITEM_NONE;
use crate::error::{OsdMapError, Result};
use crate::osdmap::{DEFAULT_PRIMARY_AFFINITY, OsdMap, osd_state};
use crate::pool::{PgPool, crush_hash32_2};

/// The OSDs serving a PG: the up set (CRUSH, upmaps, minus down OSDs, with primary affinity)
/// and the acting set (pg_temp/primary_temp if any, else the up set). Primaries are -1 when
/// there is none. Erasure-coded pools keep positions, with [`crate::CRUSH_ITEM_NONE`] for
/// missing shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpActing {
    /// The up set.
    pub up: Vec<i32>,
    /// The up set's primary.
    pub up_primary: i32,
    /// The acting set.
    pub acting: Vec<i32>,
    /// The acting primary: where clients send requests.
    pub acting_primary: i32,
}

/// Where an object goes: its raw PG (the full 32-bit hash), its PG, and the PG's OSDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMapping {
    /// The raw PG: pool and the object's full placement hash (`1.30a98c1c`).
    pub raw_pg: PgId,
    /// The PG (`1.1c`).
    pub pg: PgId,
    /// The PG's OSDs.
    pub osds: UpActing,
}

impl OsdMap {
    /// The pool with id `pool`.
    pub fn pool(&self, pool: i64) -> Option<&PgPool> {
        self.pools.get(&pool)
    }

    /// The id of the pool named `name`.
    pub fn lookup_pool(&self, name: &str) -> Option<i64> {
        self.pool_names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| *id)
    }

    fn state(&self, osd: i32) -> u32 {
        if osd >= self.max_osd {
            return 0;
        }
        usize::try_from(osd)
            .ok()
            .and_then(|i| self.osd_state.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// True if OSD `osd` exists.
    pub fn exists(&self, osd: i32) -> bool {
        self.state(osd) & osd_state::EXISTS != 0
    }

    /// True if OSD `osd` exists and is up.
    pub fn is_up(&self, osd: i32) -> bool {
        self.exists(osd) && self.state(osd) & osd_state::UP != 0
    }

    /// The weight of OSD `osd` (0 = out, 0x10000 = in; 0 for unknown OSDs).
    pub fn weight(&self, osd: i32) -> u32 {
        if osd >= self.max_osd {
            return 0;
        }
        usize::try_from(osd)
            .ok()
            .and_then(|i| self.osd_weight.get(i))
            .copied()
            .unwrap_or(0)
    }

    fn primary_affinity_of(&self, osd: i32) -> u32 {
        let Some(aff) = &self.primary_affinity else {
            return DEFAULT_PRIMARY_AFFINITY;
        };
        usize::try_from(osd)
            .ok()
            .and_then(|i| aff.get(i))
            .copied()
            .unwrap_or(DEFAULT_PRIMARY_AFFINITY)
    }

    fn pool_or_err(&self, pool: i64) -> Result<&PgPool> {
        self.pool(pool).ok_or(OsdMapError::NoSuchPool(pool))
    }

    /// `map_to_pg`: the raw PG of object `name` in `pool` (the locator `key` replaces the name
    /// when not empty; `nspace` is the namespace). Its seed is the full 32-bit hash, as
    /// `ceph osd map` prints it (`raw_pgid`).
    pub fn object_to_raw_pg(&self, pool: i64, name: &str, key: &str, nspace: &str) -> Result<PgId> {
        let p = self.pool_or_err(pool)?;
        let hashed = if key.is_empty() { name } else { key };
        let seed = p.hash_key(hashed.as_bytes(), nspace.as_bytes());
        Ok(PgId::new(pool_id(pool), seed))
    }

    /// `object_locator_to_pg`: the raw PG of `name` under locator `loc` (an explicit hash in
    /// the locator wins over the name).
    pub fn object_locator_to_raw_pg(&self, name: &str, loc: &ObjectLocator) -> Result<PgId> {
        if loc.hash >= 0 {
            self.pool_or_err(loc.pool)?;
            // Ceph keeps the low 32 bits of the explicit hash
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let seed = loc.hash as u32;
            return Ok(PgId::new(pool_id(loc.pool), seed));
        }
        self.object_to_raw_pg(loc.pool, name, &loc.key, &loc.nspace)
    }

    /// `raw_pg_to_pg`: folds a raw PG into `0..pg_num` of its pool.
    pub fn raw_pg_to_pg(&self, raw: PgId) -> Result<PgId> {
        let p = self.pool_or_err(pool_key(raw.pool))?;
        Ok(PgId::new(raw.pool, p.raw_seed_to_pg_seed(raw.seed)))
    }

    /// The PG of object `name` in `pool` (`raw_pg_to_pg(map_to_pg(...))`).
    pub fn object_to_pg(&self, pool: i64, name: &str, key: &str, nspace: &str) -> Result<PgId> {
        self.raw_pg_to_pg(self.object_to_raw_pg(pool, name, key, nspace)?)
    }

    /// Where object `name` (with locator `key` and namespace `nspace`) in `pool` lives.
    pub fn map_object(
        &self,
        pool: i64,
        name: &str,
        key: &str,
        nspace: &str,
    ) -> Result<ObjectMapping> {
        let raw_pg = self.object_to_raw_pg(pool, name, key, nspace)?;
        let pg = self.raw_pg_to_pg(raw_pg)?;
        let osds = self.pg_to_up_acting(pg)?;
        Ok(ObjectMapping { raw_pg, pg, osds })
    }

    /// The CRUSH rule the pool maps with. Up to Pacific, Ceph looked the rule up by its mask
    /// (ruleset = `crush_rule`, type = pool type, size range); Quincy and later use
    /// `crush_rule` as the rule id (ceph/ceph PR 42041, "remove last traces of ruleset;
    /// remove min/max_size"). The map's `require_osd_release` says which OSDs compute the
    /// mapping, so it decides.
    fn pool_rule(&self, p: &PgPool) -> Option<i32> {
        let by_id = !release_lt(self.require_osd_release, release::QUINCY);
        self.crush
            .select_rule(p.crush_rule, p.pool_type, p.size, by_id)
    }

    /// `_pg_to_raw_osds`: CRUSH's answer minus OSDs that do not exist, and the placement seed.
    fn raw_osds(&self, p: &PgPool, pg: PgId) -> Result<(Vec<i32>, u32)> {
        let pps = p.raw_pg_to_pps(pg.pool, pg.seed);
        let mut osds = match self.pool_rule(p) {
            Some(rule) => self.crush.do_rule(
                rule,
                pps,
                usize::from(p.size),
                &self.osd_weight,
                pool_key(pg.pool),
            )?,
            None => Vec::new(),
        };
        if p.can_shift_osds() {
            osds.retain(|&o| self.exists(o));
        } else {
            for o in &mut osds {
                if !self.exists(*o) {
                    *o = CRUSH_ITEM_NONE;
                }
            }
        }
        Ok((osds, pps))
    }

    /// `pg_to_raw_osds`: the raw (CRUSH) OSDs of `pg` and the first of them, before upmaps
    /// and without regard to OSDs being down.
    pub fn pg_to_raw_osds(&self, pg: PgId) -> Result<(Vec<i32>, i32)> {
        let p = self.pool_or_err(pool_key(pg.pool))?;
        let (raw, _) = self.raw_osds(p, pg)?;
        let primary = pick_primary(&raw);
        Ok((raw, primary))
    }

    /// `_apply_upmap`: explicit mappings (pg_upmap), exceptions (pg_upmap_items) and
    /// explicit primaries (pg_upmap_primaries), looked up by the folded PG.
    fn apply_upmap(&self, p: &PgPool, pg: PgId, raw: &mut Vec<i32>) {
        let pg = PgId::new(pg.pool, p.raw_seed_to_pg_seed(pg.seed));
        // a valid OSD id whose weight is 0
        let marked_out = |osd: i32| -> bool {
            osd != CRUSH_ITEM_NONE && osd >= 0 && osd < self.max_osd && self.weight(osd) == 0
        };
        if let Some(targets) = self.pg_upmap.get(&pg) {
            // an explicit mapping onto an out OSD is ignored altogether
            if targets.iter().any(|&o| marked_out(o)) {
                return;
            }
            raw.clone_from(targets);
        }
        if let Some(items) = self.pg_upmap_items.get(&pg) {
            for &(from, to) in items {
                let mut exists = false;
                let mut pos = None;
                for (i, &osd) in raw.iter().enumerate() {
                    if osd == to {
                        exists = true;
                        break;
                    }
                    if osd == from && pos.is_none() && !marked_out(to) {
                        pos = Some(i);
                    }
                }
                if let (false, Some(i)) = (exists, pos) {
                    if let Some(slot) = raw.get_mut(i) {
                        *slot = to;
                    }
                }
            }
        }
        if let Some(&new_primary) = self.pg_upmap_primaries.get(&pg) {
            let valid = new_primary != CRUSH_ITEM_NONE
                && new_primary >= 0
                && new_primary < self.max_osd
                && self.weight(new_primary) != 0;
            if valid {
                let idx = raw.iter().skip(1).position(|&o| o == new_primary);
                if let Some(i) = idx.map(|i| i + 1) {
                    raw.swap(0, i);
                }
            }
        }
    }

    /// `_raw_to_up_osds`: drops (replicated) or blanks (EC) OSDs that are down.
    fn raw_to_up(&self, p: &PgPool, raw: &[i32]) -> Vec<i32> {
        if p.can_shift_osds() {
            raw.iter().copied().filter(|&o| self.is_up(o)).collect()
        } else {
            raw.iter()
                .map(|&o| if self.is_up(o) { o } else { CRUSH_ITEM_NONE })
                .collect()
        }
    }

    /// `_apply_primary_affinity`: an OSD with affinity below 1 declines to be primary for a
    /// proportional share of PGs; replicated pools move the chosen primary to the front.
    fn apply_primary_affinity(&self, pps: u32, p: &PgPool, osds: &mut [i32], primary: &mut i32) {
        if self.primary_affinity.is_none() {
            return;
        }
        let any = osds.iter().any(|&o| {
            o != CRUSH_ITEM_NONE && self.primary_affinity_of(o) != DEFAULT_PRIMARY_AFFINITY
        });
        if !any {
            return;
        }
        let mut pos = None;
        for (i, &o) in osds.iter().enumerate() {
            if o == CRUSH_ITEM_NONE {
                continue;
            }
            let a = self.primary_affinity_of(o);
            // the OSD id enters the hash as Ceph's unsigned int
            #[allow(clippy::cast_sign_loss)]
            let draw = crush_hash32_2(pps, o as u32) >> 16;
            if a < DEFAULT_PRIMARY_AFFINITY && draw >= a {
                // declined: remember it as a fallback, keep looking
                if pos.is_none() {
                    pos = Some(i);
                }
            } else {
                pos = Some(i);
                break;
            }
        }
        let Some(pos) = pos else { return };
        let Some(&chosen) = osds.get(pos) else { return };
        *primary = chosen;
        if p.can_shift_osds() && pos > 0 {
            if let Some(head) = osds.get_mut(..=pos) {
                head.rotate_right(1);
            }
        }
    }

    /// `_get_temp_osds`: the pg_temp acting set (down OSDs dropped or blanked) and the
    /// temporary primary (primary_temp, else the first usable pg_temp OSD, else -1).
    fn temp_osds(&self, p: &PgPool, pg: PgId) -> (Vec<i32>, i32) {
        let pg = PgId::new(pg.pool, p.raw_seed_to_pg_seed(pg.seed));
        let mut temp = Vec::new();
        let mut acting = Vec::new();
        if let Some(osds) = self.pg_temp.get(&pg) {
            for &o in osds {
                if self.is_up(o) {
                    temp.push(o);
                } else if !p.can_shift_osds() {
                    temp.push(CRUSH_ITEM_NONE);
                }
            }
            acting = undo_primary_first(p, &temp);
        }
        let primary = match self.primary_temp.get(&pg) {
            Some(&primary) => primary,
            None => pick_primary(&temp),
        };
        (acting, primary)
    }

    /// `pg_to_up_acting_osds`: the up and acting sets of `pg` and their primaries. The PG
    /// seed may be raw (it is folded where Ceph folds it).
    pub fn pg_to_up_acting(&self, pg: PgId) -> Result<UpActing> {
        let p = self.pool_or_err(pool_key(pg.pool))?;
        let (mut acting, mut acting_primary) = self.temp_osds(p, pg);
        let (mut raw, pps) = self.raw_osds(p, pg)?;
        self.apply_upmap(p, pg, &mut raw);
        let mut up = self.raw_to_up(p, &raw);
        let mut up_primary = pick_primary(&up);
        self.apply_primary_affinity(pps, p, &mut up, &mut up_primary);
        if acting.is_empty() {
            acting.clone_from(&up);
            if acting_primary == -1 {
                acting_primary = up_primary;
            }
        }
        Ok(UpActing {
            up,
            up_primary,
            acting,
            acting_primary,
        })
    }
}

/// `_pick_primary`: the first OSD that is not `CRUSH_ITEM_NONE`, or -1.
fn pick_primary(osds: &[i32]) -> i32 {
    osds.iter()
        .copied()
        .find(|&o| o != CRUSH_ITEM_NONE)
        .unwrap_or(-1)
}

/// `pgtemp_undo_primaryfirst` (Tentacle): pools with EC optimisations list primary-capable
/// shards first in pg_temp; restore shard order. Ceph asserts the sizes agree; when they
/// do not, the set is left as it is.
fn undo_primary_first(p: &PgPool, acting: &[i32]) -> Vec<i32> {
    let size = usize::from(p.size);
    if !p.has_flag(PgPool::FLAG_EC_OPTIMIZATIONS) || acting.len() != size {
        return acting.to_vec();
    }
    let mut primary_idx = 0;
    let mut nonprimary_idx = size.saturating_sub(p.nonprimary_shard_count());
    let mut out = Vec::with_capacity(size);
    for shard in 0..size {
        let idx = if p.is_nonprimary_shard(shard) {
            &mut nonprimary_idx
        } else {
            &mut primary_idx
        };
        out.push(acting.get(*idx).copied().unwrap_or(CRUSH_ITEM_NONE));
        *idx += 1;
    }
    out
}

/// Pool ids are `int64` in maps and `uint64` in `pg_t`; the bits are the same.
#[allow(clippy::cast_sign_loss)]
fn pool_id(pool: i64) -> u64 {
    pool as u64
}

/// The map key of a `pg_t` pool id.
#[allow(clippy::cast_possible_wrap)]
fn pool_key(pool: u64) -> i64 {
    pool as i64
}
