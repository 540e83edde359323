//! A per-map cache of each PG's up and acting sets. Clients map every op's object to a PG
//! (a hash of its name: cheap) and the PG to its OSDs (CRUSH, upmaps, temp mappings:
//! thousands of instructions). A map never changes once published, so the second step is
//! worth doing once per PG and map; Ceph's OSDs keep a similar table (`OSDMapMapping`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use denc::PgId;

use crate::error::Result;
use crate::osdmap::OsdMap;
use crate::placement::UpActing;

/// The up and acting sets of the PGs looked up so far in one map (see
/// [`OsdMap::pg_to_up_acting_cached`]). At most one entry per PG of the map's pools (keys are
/// folded PGs of existing pools), so its size is bounded by the sum of the pools' `pg_num`.
///
/// Cloning gives an empty cache and two caches always compare equal: the cache is a copy of
/// what the map already says, not part of the map.
#[derive(Default)]
pub struct PlacementCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// The epoch the entries were computed at: a map whose epoch was changed in place
    /// starts afresh.
    epoch: u32,
    by_pg: HashMap<PgId, Arc<UpActing>>,
}

impl PlacementCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // the entries are plain values, valid whatever a panicking holder was doing
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of PGs cached.
    pub fn len(&self) -> usize {
        self.lock().by_pg.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        let entries = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        entries.by_pg.clear();
    }
}

impl Clone for PlacementCache {
    fn clone(&self) -> Self {
        PlacementCache::default()
    }
}

impl PartialEq for PlacementCache {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl fmt::Debug for PlacementCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // opaque: a map's Debug form must not depend on what was looked up in it
        f.debug_struct("PlacementCache").finish_non_exhaustive()
    }
}

impl OsdMap {
    /// [`OsdMap::pg_to_up_acting`] of the PG `pg` falls in (a raw seed is folded into the
    /// pool's `pg_num` first, as the Objecter does before mapping), computed once per PG
    /// and kept in this map's [`PlacementCache`]. Errors are not cached.
    ///
    /// The cache trusts the map not to change under it: [`OsdMap::apply_incremental`]
    /// empties it, and so does a change of `epoch`; code that edits other fields of a map
    /// in place after looking PGs up must call [`OsdMap::clear_placement_cache`].
    pub fn pg_to_up_acting_cached(&self, pg: PgId) -> Result<Arc<UpActing>> {
        let seed = self.raw_pg_to_pg(pg)?.seed;
        let pg = PgId::new(pg.pool, seed);
        let mut entries = self.placement_cache.lock();
        if entries.epoch != self.epoch {
            entries.by_pg.clear();
            entries.epoch = self.epoch;
        }
        if let Some(found) = entries.by_pg.get(&pg) {
            return Ok(found.clone());
        }
        let computed = Arc::new(self.pg_to_up_acting(pg)?);
        entries.by_pg.insert(pg, computed.clone());
        Ok(computed)
    }

    /// Empties the placement cache (after editing the map's fields in place).
    pub fn clear_placement_cache(&mut self) {
        self.placement_cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osdmap::osd_state;

    fn sample_maps() -> Vec<OsdMap> {
        denc::testing::samples("OSDMap")
            .iter()
            .filter_map(|s| OsdMap::from_bytes(&s.bytes).ok())
            .collect()
    }

    #[test]
    fn cached_equals_uncached_for_every_pg_of_the_corpus_maps() {
        let maps = sample_maps();
        assert!(!maps.is_empty(), "no OSDMap samples in the corpus");
        let mut compared = 0;
        for map in &maps {
            let total_pgs: usize = map.pools.values().map(|p| p.pg_num as usize).sum();
            for _pass in 0..2 {
                for (&id, pool) in &map.pools {
                    for seed in 0..pool.pg_num {
                        let pg = PgId::new(id as u64, seed);
                        let uncached = map.pg_to_up_acting(pg);
                        let cached = map.pg_to_up_acting_cached(pg);
                        match (uncached, cached) {
                            (Ok(u), Ok(c)) => assert_eq!(u, *c, "epoch {} pg {pg}", map.epoch),
                            (Err(_), Err(_)) => {}
                            (u, c) => panic!("epoch {} pg {pg}: {u:?} vs {c:?}", map.epoch),
                        }
                        // a raw seed shares its folded PG's entry
                        let raw = PgId::new(id as u64, seed.wrapping_mul(0x9e37_79b9));
                        if let Ok(c) = map.pg_to_up_acting_cached(raw) {
                            let folded = map.raw_pg_to_pg(raw).unwrap();
                            assert_eq!(*c, map.pg_to_up_acting(folded).unwrap());
                        }
                        compared += 1;
                    }
                }
                assert!(map.placement_cache.len() <= total_pgs);
            }
        }
        assert!(compared > 0);
    }

    #[test]
    fn a_new_epoch_or_a_clone_starts_afresh() {
        let map = sample_maps()
            .into_iter()
            .find(|m| m.pools.values().any(|p| p.pg_num > 0) && m.max_osd > 0)
            .unwrap();
        let (&pool, _) = map.pools.iter().find(|(_, p)| p.pg_num > 0).unwrap();
        let pg = PgId::new(pool as u64, 0);
        let before = map.pg_to_up_acting_cached(pg).unwrap();
        assert_eq!(map.placement_cache.len(), 1);
        // the same Arc while the map stays as it is
        assert!(Arc::ptr_eq(
            &before,
            &map.pg_to_up_acting_cached(pg).unwrap()
        ));
        // a clone does not inherit entries
        let mut next = map.clone();
        assert!(next.placement_cache.is_empty());
        assert_eq!(next, map);
        // every OSD down, epoch bumped in place: the cache notices the epoch
        next.pg_to_up_acting_cached(pg).unwrap();
        for s in &mut next.osd_state {
            *s &= !osd_state::UP;
        }
        next.epoch += 1;
        let after = next.pg_to_up_acting_cached(pg).unwrap();
        assert_eq!(*after, next.pg_to_up_acting(pg).unwrap());
        assert!(after.up.is_empty() || after.up.iter().all(|&o| o == crate::CRUSH_ITEM_NONE));
        assert_ne!(*after, *before);
        // a change within the epoch needs the explicit clear
        for s in &mut next.osd_state {
            *s |= osd_state::UP;
        }
        next.clear_placement_cache();
        assert!(next.placement_cache.is_empty());
        assert_eq!(*next.pg_to_up_acting_cached(pg).unwrap(), *before);
        // unknown pools are errors, and not cached
        assert!(next.pg_to_up_acting_cached(PgId::new(9999, 0)).is_err());
        assert_eq!(next.placement_cache.len(), 1);
    }
}
