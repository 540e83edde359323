//! Applying incrementals: Ceph's semantics field by field, refusals that leave the map
//! untouched, and the monitors' `full_crc` as an oracle for the canonical encoding.

use std::collections::BTreeMap;

use denc::testing::samples;
use denc::{EntityAddr, EntityAddrVec, PgId, UTime, Uuid};
use osdmap::fuzzing::small_map;
use osdmap::{
    DEFAULT_PRIMARY_AFFINITY, Incremental, OSD_IN, OsdMap, OsdMapError, OsdXInfo, PgPool,
    map_flags, osd_state,
};

fn next(map: &OsdMap) -> Incremental {
    let mut inc = Incremental::new(map.epoch + 1);
    inc.fsid = map.fsid;
    inc.modified = UTime::new(1_800_000_000, 5);
    inc
}

fn addrs(s: &str) -> EntityAddrVec {
    EntityAddrVec(vec![s.parse().unwrap()])
}

#[test]
fn monitors_full_crc_matches_our_canonical_encoding() {
    // corpus maps and incrementals of the same cluster and epoch: the incremental's full_crc
    // is the crc of the map the monitor encoded
    let maps: Vec<OsdMap> = samples("OSDMap")
        .iter()
        .map(|s| OsdMap::from_bytes(&s.bytes).unwrap())
        .collect();
    let mut pairs = 0;
    for s in samples("OSDMap::Incremental") {
        let inc = Incremental::from_bytes(&s.bytes).unwrap();
        if !inc.have_crc || inc.epoch == 0 {
            continue;
        }
        for map in maps
            .iter()
            .filter(|m| m.fsid == inc.fsid && m.epoch == inc.epoch)
        {
            assert_eq!(map.canonical_crc(), inc.full_crc, "{}", s.path.display());
            assert_eq!(map.full_crc_matches(&inc), Some(true));
            pairs += 1;
        }
    }
    // 16.2 e347, 19.2 e347, 20.3 e348 (twice: two samples of that map)
    assert!(pairs >= 3, "{pairs}");
}

#[test]
fn epoch_and_fsid_are_checked_and_refusals_change_nothing() {
    let mut map = small_map();
    let before = map.clone();
    let mut inc = next(&map);
    inc.epoch += 1;
    assert!(matches!(
        map.apply_incremental(&inc),
        Err(OsdMapError::WrongEpoch {
            current: 10,
            incremental: 12
        })
    ));
    let mut inc = next(&map);
    inc.fsid = Uuid([1; 16]);
    assert!(matches!(
        map.apply_incremental(&inc),
        Err(OsdMapError::FsidMismatch)
    ));
    // an OSD beyond max_osd anywhere refuses the whole incremental
    let mut inc = next(&map);
    inc.new_weight.insert(0, 0);
    inc.new_up_thru.insert(4, 9);
    assert!(matches!(
        map.apply_incremental(&inc),
        Err(OsdMapError::OsdOutOfRange {
            osd: 4,
            what: "new_up_thru",
            ..
        })
    ));
    // a crush map that does not decode
    let mut inc = next(&map);
    inc.crush = bytes::Bytes::from_static(b"nonsense");
    assert!(matches!(
        map.apply_incremental(&inc),
        Err(OsdMapError::Decode(_))
    ));
    // purged snaps of a pool with no queue
    let mut inc = next(&map);
    inc.new_purged_snaps.insert(1, [(1, 1)].into());
    assert!(matches!(
        map.apply_incremental(&inc),
        Err(OsdMapError::PurgedSnapsWithoutQueue(1))
    ));
    assert_eq!(map, before);
}

#[test]
fn osd_state_weight_and_addresses() {
    let mut map = small_map();
    map.osd_state[2] |= osd_state::AUTOOUT | osd_state::NEW | osd_state::STOP;
    map.osd_xinfo[2].old_weight = 0x1234;
    map.osd_uuid[1] = Uuid([9; 16]);

    let mut inc = next(&map);
    // weights first: marking in clears AUTOOUT and NEW and the saved old weight
    inc.new_weight.insert(2, OSD_IN);
    inc.new_weight.insert(3, 0x8000);
    // 0 means UP: osd.0 goes down, recording when
    inc.new_state.insert(0, 0);
    // clearing EXISTS destroys osd.1
    inc.new_state.insert(1, osd_state::EXISTS);
    // osd.3 (exists, down) comes up with addresses
    inc.new_up_client.insert(3, addrs("v2:10.0.0.3:6800/7"));
    inc.new_hb_back_up.insert(3, addrs("v2:10.1.0.3:6802/7"));
    inc.new_hb_front_up.insert(3, addrs("v2:10.0.0.3:6803/7"));
    inc.new_up_cluster.insert(3, addrs("v2:10.1.0.3:6801/7"));
    inc.new_up_thru.insert(2, 11);
    inc.new_last_clean_interval.insert(2, (3, 9));
    inc.new_lost.insert(0, 8);
    inc.new_uuid.insert(3, Uuid([3; 16]));
    inc.new_xinfo.insert(
        0,
        OsdXInfo {
            laggy_interval: 5,
            ..OsdXInfo::default()
        },
    );
    map.apply_incremental(&inc).unwrap();

    assert_eq!(map.epoch, 11);
    assert_eq!(map.modified, inc.modified);
    assert_eq!(map.osd_state[0], osd_state::EXISTS);
    assert_eq!(map.osd_info[0].down_at, 11);
    assert_eq!(map.osd_info[0].lost_at, 8);
    assert_eq!(map.osd_xinfo[0].laggy_interval, 5);
    // new_xinfo comes after the state change and replaces the record wholesale
    assert_eq!(map.osd_xinfo[0].down_stamp, UTime::default());
    assert_eq!(map.osd_state[1], 0);
    assert_eq!(map.osd_uuid[1], Uuid::default());
    assert_eq!(
        map.primary_affinity.as_deref(),
        Some(&[DEFAULT_PRIMARY_AFFINITY; 4][..]),
        "wiping an OSD sets its primary affinity, creating the vector as Ceph does"
    );
    assert_eq!(
        map.osd_state[2],
        osd_state::EXISTS | osd_state::UP | osd_state::STOP
    );
    assert_eq!(map.osd_xinfo[2].old_weight, 0);
    assert_eq!(map.osd_info[2].up_thru, 11);
    assert_eq!(
        (
            map.osd_info[2].last_clean_begin,
            map.osd_info[2].last_clean_end
        ),
        (3, 9)
    );
    assert_eq!(map.osd_weight[3], 0x8000);
    assert_eq!(map.osd_state[3], osd_state::EXISTS | osd_state::UP);
    assert_eq!(map.osd_info[3].up_from, 11);
    assert_eq!(map.client_addrs[3], addrs("v2:10.0.0.3:6800/7"));
    assert_eq!(map.hb_back_addrs[3], addrs("v2:10.1.0.3:6802/7"));
    assert_eq!(map.hb_front_addrs[3], addrs("v2:10.0.0.3:6803/7"));
    assert_eq!(map.cluster_addrs[3], addrs("v2:10.1.0.3:6801/7"));
    assert_eq!(map.osd_uuid[3], Uuid([3; 16]));
    assert!(map.is_up(3) && !map.is_up(0) && !map.exists(1));
}

#[test]
fn max_osd_pools_and_profiles() {
    let mut map = small_map();
    let mut inc = next(&map);
    inc.new_max_osd = 6;
    inc.new_pool_max = 7;
    let mut pool = map.pools[&1].clone();
    pool.pg_num = 16;
    inc.new_pools.insert(7, pool);
    inc.new_pool_names.insert(7, "seven".into());
    inc.old_pools.insert(2);
    inc.new_erasure_code_profiles.insert(
        "k2m1".into(),
        BTreeMap::from([("k".into(), "2".into()), ("m".into(), "1".into())]),
    );
    // (a Nautilus+ map always carries RECOVERY_DELETES and PGLOG_HARDLIMIT: decoding adds them)
    let flags = map_flags::PAUSEWR | map_flags::RECOVERY_DELETES | map_flags::PGLOG_HARDLIMIT;
    inc.new_flags = flags as i32;
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.max_osd, 6);
    assert_eq!(map.osd_state, vec![3, 3, 3, 1, 0, 0]);
    assert_eq!(map.osd_weight[4..], [0, 0]);
    assert_eq!(map.client_addrs.len(), 6);
    assert_eq!(map.osd_xinfo.len(), 6);
    assert_eq!(map.pool_max, 7);
    assert_eq!(map.pools[&7].last_change, 11);
    assert_eq!(map.lookup_pool("seven"), Some(7));
    assert!(map.pool(2).is_none() && map.lookup_pool("ec").is_none());
    assert_eq!(map.erasure_code_profiles["k2m1"]["k"], "2");
    assert_eq!(map.flags, flags);

    let mut inc = next(&map);
    inc.new_max_osd = 2;
    inc.old_erasure_code_profiles.push("k2m1".into());
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.osd_state.len(), 2);
    assert!(map.erasure_code_profiles.is_empty());
    // the result still encodes and decodes
    let again = OsdMap::from_bytes(&map.to_bytes(map.encoding_features()).unwrap()).unwrap();
    assert_eq!(again, map);
}

#[test]
fn temporary_mappings_and_upmaps() {
    let mut map = small_map();
    let pg = |s| PgId::new(1, s);
    let mut inc = next(&map);
    inc.new_pg_temp.insert(pg(0), vec![2, 1]);
    inc.new_pg_temp.insert(pg(1), vec![0]);
    inc.new_primary_temp.insert(pg(0), 1);
    inc.new_primary_temp.insert(pg(2), 0);
    inc.new_pg_upmap.insert(pg(3), vec![0, 1, 2]);
    inc.new_pg_upmap_items.insert(pg(4), vec![(0, 2)]);
    inc.new_pg_upmap_primary.insert(pg(5), 2);
    inc.new_primary_affinity.insert(2, 0x8000);
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.pg_temp.len(), 2);
    assert_eq!(map.primary_temp.len(), 2);
    assert_eq!(
        map.primary_affinity.as_deref(),
        Some(&[0x10000, 0x10000, 0x8000, 0x10000][..])
    );

    let mut inc = next(&map);
    inc.new_pg_temp.insert(pg(1), vec![]); // empty = remove
    inc.new_primary_temp.insert(pg(2), -1); // -1 = remove
    inc.old_pg_upmap.insert(pg(3));
    inc.old_pg_upmap_items.insert(pg(4));
    inc.old_pg_upmap_primary.insert(pg(5));
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.pg_temp.keys().collect::<Vec<_>>(), [&pg(0)]);
    assert_eq!(map.primary_temp.keys().collect::<Vec<_>>(), [&pg(0)]);
    assert!(map.pg_upmap.is_empty() && map.pg_upmap_items.is_empty());
    assert!(map.pg_upmap_primaries.is_empty());
}

#[test]
fn blocklists_snaps_and_osd_only_settings() {
    let mut map = small_map();
    let a: EntityAddr = "v2:10.0.0.9:0/256".parse().unwrap();
    let b: EntityAddr = "v2:10.0.0.9:0/1".parse().unwrap();
    let mut inc = next(&map);
    inc.new_blocklist = vec![(a, UTime::new(5, 0)), (b, UTime::new(6, 0))];
    inc.new_removed_snaps.insert(1, [(1, 3), (10, 2)].into());
    inc.cluster_snapshot = "snap".into();
    inc.new_full_ratio = 0.95;
    inc.new_require_osd_release = 18;
    inc.new_require_min_compat_client = 16;
    inc.new_crush_node_flags.insert(-1, 4);
    map.apply_incremental(&inc).unwrap();
    // memcmp order of entity_addr_t: nonce 256 (00 01 ..) before nonce 1 (01 00 ..)
    assert_eq!(
        map.blocklist,
        vec![(a, UTime::new(5, 0)), (b, UTime::new(6, 0))]
    );
    assert_eq!(map.removed_snaps_queue[&1], [(1, 3), (10, 2)].into());
    assert_eq!(map.new_removed_snaps[&1], [(1, 3), (10, 2)].into());
    assert_eq!(
        (map.cluster_snapshot.as_str(), map.cluster_snapshot_epoch),
        ("snap", 11)
    );
    assert_eq!(map.full_ratio, 0.95);
    assert_eq!(
        (map.require_osd_release, map.require_min_compat_client),
        (18, 16)
    );
    assert_eq!(map.crush_node_flags[&-1], 4);

    let mut inc = next(&map);
    // re-adding keeps the old expiry (Ceph inserts without replacing)
    inc.new_blocklist = vec![(a, UTime::new(99, 0))];
    inc.old_blocklist = vec![b];
    inc.new_purged_snaps.insert(1, [(1, 3), (10, 1)].into());
    inc.new_crush_node_flags.insert(-1, 0);
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.blocklist, vec![(a, UTime::new(5, 0))]);
    assert_eq!(map.removed_snaps_queue[&1], [(11, 1)].into());
    assert!(map.new_removed_snaps.is_empty());
    assert!(map.cluster_snapshot.is_empty() && map.cluster_snapshot_epoch == 0);
    assert!(map.crush_node_flags.is_empty());
    // unchanged when not given
    assert_eq!(map.require_osd_release, 18);

    let mut inc = next(&map);
    inc.new_purged_snaps.insert(1, [(11, 1)].into());
    map.apply_incremental(&inc).unwrap();
    assert!(map.removed_snaps_queue.is_empty());
}

#[test]
fn full_map_and_crush_replacement() {
    let sample = samples("OSDMap")
        .into_iter()
        .find(|s| s.version.starts_with("18.") && OsdMap::from_bytes(&s.bytes).unwrap().epoch == 75)
        .unwrap();
    let full = OsdMap::from_bytes(&sample.bytes).unwrap();

    // a full map replaces everything
    let mut map = full.clone();
    map.epoch = 74;
    let mut inc = next(&map);
    inc.fullmap = sample.bytes.clone().into();
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map, full);

    // a new crush map bumps crush_version (luminous and later)
    let mut map = full.clone();
    let version = map.crush_version;
    let mut inc = next(&map);
    inc.crush = map.crush.bytes().clone();
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.crush_version, version + 1);
    assert!(map.crush.map().is_some());
}

#[test]
fn new_pools_replace_whole_pools() {
    let mut map = small_map();
    let mut inc = next(&map);
    let mut p = PgPool {
        pool_type: PgPool::TYPE_REPLICATED,
        size: 2,
        ..PgPool::default()
    };
    p.last_change = 3;
    inc.new_pools.insert(1, p);
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.pools[&1].size, 2);
    assert_eq!(map.pools[&1].pg_num, 0);
    assert_eq!(map.pools[&1].last_change, 11);
}
