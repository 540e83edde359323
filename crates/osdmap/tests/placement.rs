//! Placement details that the host's Pacific `osdmaptool` cannot check (Quincy's rule ids, Reef's
//! pg_upmap_primaries, Tentacle's EC pg_temp order), and the object -> PG hashing inputs.

use denc::testing::samples;
use denc::{ObjectLocator, PgId};
use osdmap::hash::{str_hash_linux, str_hash_rjenkins};
use osdmap::{CRUSH_ITEM_NONE, OsdMap, OsdMapError, PgPool, osd_state};

/// The 18.2 corpus map at epoch 978: three OSDs up and in, replicated pools and an EC pool.
fn reef_map() -> OsdMap {
    samples("OSDMap")
        .iter()
        .map(|s| OsdMap::from_bytes(&s.bytes).unwrap())
        .find(|m| m.epoch == 978)
        .unwrap()
}

#[test]
fn names_keys_and_namespaces_are_hashed_as_ceph_does() {
    let map = reef_map();
    let seed = |name, key, ns| map.object_to_raw_pg(3, name, key, ns).unwrap().seed;
    assert_eq!(seed("obj", "", ""), str_hash_rjenkins(b"obj"));
    // namespace + 0x1f + name
    assert_eq!(seed("obj", "", "ns"), str_hash_rjenkins(b"ns\x1fobj"));
    // a locator key replaces the name, inside the namespace too
    assert_eq!(seed("obj", "key", ""), str_hash_rjenkins(b"key"));
    assert_eq!(seed("obj", "key", "ns"), str_hash_rjenkins(b"ns\x1fkey"));
    // an explicit hash in the locator wins
    let mut loc = ObjectLocator::new(3);
    loc.hash = 0x1234_5678;
    assert_eq!(
        map.object_locator_to_raw_pg("obj", &loc).unwrap().seed,
        0x1234_5678
    );
    // the PG is the raw hash folded into pg_num (32)
    let raw = map.object_to_raw_pg(3, "obj", "", "").unwrap();
    assert_eq!(
        map.object_to_pg(3, "obj", "", "").unwrap().seed,
        raw.seed & 31
    );
    // the Linux dcache hash, for pools that ask for it
    let mut linux = reef_map();
    linux.pools.get_mut(&3).unwrap().object_hash = 1;
    assert_eq!(
        linux.object_to_raw_pg(3, "obj", "", "").unwrap().seed,
        str_hash_linux(b"obj")
    );
    assert!(matches!(
        map.object_to_pg(9999, "obj", "", ""),
        Err(OsdMapError::NoSuchPool(9999))
    ));
    assert!(map.pg_to_up_acting(PgId::new(9999, 0)).is_err());
}

#[test]
fn mapping_is_consistent_for_every_pg() {
    let map = reef_map();
    for (&id, pool) in &map.pools {
        for seed in 0..pool.pg_num {
            let pg = PgId::new(id as u64, seed);
            let osds = map.pg_to_up_acting(pg).unwrap();
            assert_eq!(osds.up.len(), 3, "{pg}");
            assert_eq!(osds.acting, osds.up);
            assert_eq!(osds.up_primary, osds.up[0]);
            assert_eq!(osds.acting_primary, osds.up_primary);
            let (raw, raw_primary) = map.pg_to_raw_osds(pg).unwrap();
            assert_eq!(raw, osds.up);
            assert_eq!(raw_primary, raw[0]);
            // a raw seed maps like its folded PG
            let raw_pg = PgId::new(id as u64, seed + pool.pg_num * 7);
            if pool.pg_num.is_power_of_two() {
                assert_eq!(map.pg_to_up_acting(raw_pg).unwrap(), osds);
            }
        }
    }
}

#[test]
fn quincy_and_later_maps_use_the_pool_rule_as_a_rule_id() {
    let mut map = reef_map();
    assert_eq!(map.require_osd_release, 18);
    // the EC pool on rule 1; an EC pool on replicated rule 0, and a replicated pool larger
    // than the rule's legacy max_size: Quincy and later map all of them by rule id...
    let mut odd = map.pools[&3].clone();
    odd.pool_type = PgPool::TYPE_ERASURE;
    map.pools.insert(500, odd);
    let mut big = map.pools[&3].clone();
    big.size = 120;
    map.pools.insert(501, big);
    for pool in [314, 500, 501] {
        let osds = map.pg_to_up_acting(PgId::new(pool, 0)).unwrap();
        assert!(!osds.up.is_empty(), "pool {pool}");
    }
    map.require_osd_release = 17;
    assert!(
        !map.pg_to_up_acting(PgId::new(501, 0))
            .unwrap()
            .up
            .is_empty()
    );
    // ...while up to Pacific the rule masks (type, size range) must match
    map.require_osd_release = 16;
    assert!(
        !map.pg_to_up_acting(PgId::new(314, 0))
            .unwrap()
            .up
            .is_empty()
    );
    for pool in [500, 501] {
        let osds = map.pg_to_up_acting(PgId::new(pool, 0)).unwrap();
        assert_eq!((osds.up.len(), osds.up_primary), (0, -1), "pool {pool}");
    }
}

#[test]
fn pg_upmap_primaries_swap_the_primary_in() {
    let mut map = reef_map();
    let pg = PgId::new(3, 5);
    let before = map.pg_to_up_acting(pg).unwrap();
    let second = before.up[1];
    map.pg_upmap_primaries.insert(pg, second);
    let after = map.pg_to_up_acting(pg).unwrap();
    assert_eq!(after.up, vec![second, before.up[0], before.up[2]]);
    assert_eq!((after.up_primary, after.acting_primary), (second, second));
    // ignored when the target is out, not in the set, or already first
    map.osd_weight[second as usize] = 0;
    let out = map.pg_to_up_acting(pg).unwrap();
    assert_eq!(out.up[0], before.up[0]);
    map.osd_weight[second as usize] = 0x10000;
    map.pg_upmap_primaries.insert(pg, 77);
    assert_eq!(map.pg_to_up_acting(pg).unwrap(), before);
    map.pg_upmap_primaries.insert(pg, before.up[0]);
    assert_eq!(map.pg_to_up_acting(pg).unwrap(), before);
    // looked up by the folded PG: a raw seed of the same PG gets it too
    map.pg_upmap_primaries.insert(pg, second);
    let raw = PgId::new(3, 5 + 32 * 3);
    assert_eq!(map.pg_to_up_acting(raw).unwrap().up_primary, second);
}

#[test]
fn ec_pools_keep_positions() {
    let mut map = reef_map();
    let pg = PgId::new(314, 3);
    let before = map.pg_to_up_acting(pg).unwrap();
    assert_eq!(before.up.len(), 3);
    // a down OSD leaves a hole in an EC set; a replicated set closes up
    let victim = before.up[1];
    map.osd_state[victim as usize] &= !osd_state::UP;
    let after = map.pg_to_up_acting(pg).unwrap();
    assert_eq!(after.up, vec![before.up[0], CRUSH_ITEM_NONE, before.up[2]]);
    assert_eq!(after.up_primary, before.up[0]);
    // pg_temp with a down OSD: a hole too, the primary is the first usable one
    map.pg_temp
        .insert(pg, vec![victim, before.up[2], before.up[0]]);
    let temp = map.pg_to_up_acting(pg).unwrap();
    assert_eq!(
        temp.acting,
        vec![CRUSH_ITEM_NONE, before.up[2], before.up[0]]
    );
    assert_eq!(temp.acting_primary, before.up[2]);
    // and primary_temp overrides
    map.primary_temp.insert(pg, before.up[0]);
    assert_eq!(
        map.pg_to_up_acting(pg).unwrap().acting_primary,
        before.up[0]
    );
}

#[test]
fn tentacle_ec_optimised_pg_temp_is_put_back_in_shard_order() {
    let mut map = reef_map();
    let pg = PgId::new(314, 4);
    {
        let pool = map.pools.get_mut(&314).unwrap();
        pool.flags |= PgPool::FLAG_EC_OPTIMIZATIONS;
        pool.nonprimary_shards = [1 << 1, 0]; // shard 1 cannot be primary
    }
    // pg_temp lists primary-capable shards first: shard 0, shard 2, then shard 1
    map.pg_temp.insert(pg, vec![0, 2, 1]);
    let osds = map.pg_to_up_acting(pg).unwrap();
    assert_eq!(osds.acting, vec![0, 1, 2]);
    // the primary comes from pg_temp as listed (before reordering)
    assert_eq!(osds.acting_primary, 0);
}

#[test]
fn primary_affinity_zero_moves_the_primary() {
    let mut map = reef_map();
    let pg = PgId::new(3, 9);
    let before = map.pg_to_up_acting(pg).unwrap();
    let mut aff = vec![0x10000; 3];
    aff[before.up[0] as usize] = 0;
    map.primary_affinity = Some(aff);
    let after = map.pg_to_up_acting(pg).unwrap();
    assert_ne!(after.up_primary, before.up[0]);
    assert_eq!(
        after.up[0], after.up_primary,
        "replicated pools move it to the front"
    );
    let mut sorted = after.up.clone();
    sorted.sort_unstable();
    let mut expected = before.up.clone();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
}
