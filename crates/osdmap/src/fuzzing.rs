//! Bodies of the fuzz targets (the `fuzz/` crate wires them to cargo-fuzz). Each must never
//! panic, whatever the input; the assertions inside check properties that hold for every
//! input this crate accepts.
#![allow(clippy::panic, clippy::expect_used)]

use crush::{CrushMap, RuleOp};
use denc::features;
use denc::{EntityAddrVec, PgId, UTime, Uuid};

use crate::incremental::Incremental;
use crate::osd_info::{OsdInfo, OsdXInfo};
use crate::osdmap::OsdMap;
use crate::pool::PgPool;

/// CRUSH retry settings above this make one mapping slow (Ceph would grind through them
/// too); maps with such settings are decoded but not mapped.
const MAX_FUZZ_TRIES: u32 = 1000;

/// Replica counts in `choose` steps above this make one mapping slow: when no attempt
/// succeeds, the mapper (Ceph's too) walks every replica slot.
const MAX_FUZZ_NUMREP: u32 = 256;

/// Maps with more OSDs than this are decoded and mapped but not re-encoded (encoding tens
/// of thousands of OSD records several times per input is too slow for a fuzzer).
const MAX_FUZZ_ROUND_TRIP_OSDS: i32 = 4096;

/// True if mapping with `crush` stays cheap enough for a fuzzer.
fn mappable_quickly(crush: Option<&CrushMap>) -> bool {
    let Some(map) = crush else { return true };
    let t = map.tunables();
    let small = |v: u32| v <= MAX_FUZZ_TRIES;
    small(t.choose_total_tries)
        && small(t.choose_local_tries)
        && small(t.choose_local_fallback_tries)
        && small(t.msr_descents)
        && small(t.msr_collision_tries)
        && map.buckets().map(|b| b.items.len()).sum::<usize>() <= 100_000
        && map.rules().all(|(_, rule)| {
            rule.steps.len() <= 64
                && rule.steps.iter().all(|s| match s.op {
                    RuleOp::SetChooseTries
                    | RuleOp::SetChooseLeafTries
                    | RuleOp::SetChooseLocalTries
                    | RuleOp::SetChooseLocalFallbackTries
                    | RuleOp::SetMsrDescents
                    | RuleOp::SetMsrCollisionTries => small(s.arg1.unsigned_abs()),
                    RuleOp::ChooseFirstN
                    | RuleOp::ChooseIndep
                    | RuleOp::ChooseLeafFirstN
                    | RuleOp::ChooseLeafIndep
                    | RuleOp::ChooseMsr => s.arg1.unsigned_abs() <= MAX_FUZZ_NUMREP,
                    _ => true,
                })
        })
}

/// Maps a few PGs and objects of every pool (errors are fine, panics are not).
fn map_some(map: &OsdMap) {
    if !mappable_quickly(map.crush.map()) {
        return;
    }
    for (&id, pool) in map.pools.iter().take(4) {
        #[allow(clippy::cast_sign_loss)]
        let pool_id = id as u64;
        for seed in 0..pool.pg_num.min(4) {
            let _ = map.pg_to_up_acting(PgId::new(pool_id, seed));
            let _ = map.pg_to_raw_osds(PgId::new(pool_id, seed));
        }
        let _ = map.map_object(id, "fuzz-object", "", "");
        let _ = map.map_object(id, "fuzz-object", "key", "ns");
    }
}

/// Encodes and decodes again: our encoding of a map must decode, and after one such round
/// (decoding normalises a few fields as Ceph's decoder does, e.g. the flags implied by
/// `require_osd_release`) the bytes must be a fixed point.
fn check_round_trip(map: &OsdMap) {
    if map.max_osd > MAX_FUZZ_ROUND_TRIP_OSDS {
        return;
    }
    for f in [features::ALL, crate::testutil::release_features(16)] {
        let Ok(bytes) = map.to_bytes(f) else { return };
        let decode = |b: &[u8]| {
            OsdMap::from_bytes(b)
                .unwrap_or_else(|e| panic!("our own encoding does not decode: {e}"))
        };
        let normalised = decode(&bytes);
        let bytes1 = normalised.to_bytes(f).expect("encoded once already");
        let again = decode(&bytes1);
        let bytes2 = again.to_bytes(f).expect("encoded once already");
        if bytes1 != bytes2 {
            let diff = crate::testutil::first_difference(&normalised, &again);
            panic!("encoding is not a fixed point: {diff:?}");
        }
    }
}

/// Decodes `data` as a full map; if that works, maps some PGs and objects and checks that
/// encoding round-trips.
pub fn fuzz_osdmap(data: &[u8]) {
    // The crc would stop almost every mutation at the door: judge it for odd-length inputs
    // only, so that the rest reach the decoders behind it.
    let map = if data.len() % 2 == 1 {
        OsdMap::from_bytes(data).ok()
    } else {
        let mut r = denc::Reader::new(data);
        OsdMap::decode_unchecked(&mut r).ok().map(|(map, _)| map)
    };
    let Some(map) = map else {
        return;
    };
    map_some(&map);
    check_round_trip(&map);
}

/// A small map built in code: four OSDs (0-2 up and in, 3 down and out), one replicated
/// and one erasure-coded pool, no CRUSH map (an incremental may bring one).
pub fn small_map() -> OsdMap {
    let n = 4;
    let mut map = OsdMap {
        fsid: Uuid([7; 16]),
        epoch: 10,
        max_osd: 4,
        osd_state: vec![3, 3, 3, 1],
        osd_weight: vec![0x10000, 0x10000, 0x10000, 0],
        client_addrs: vec![EntityAddrVec::default(); n],
        hb_back_addrs: vec![EntityAddrVec::default(); n],
        hb_front_addrs: vec![EntityAddrVec::default(); n],
        cluster_addrs: vec![EntityAddrVec::default(); n],
        osd_info: vec![OsdInfo::default(); n],
        osd_xinfo: vec![OsdXInfo::default(); n],
        osd_uuid: vec![Uuid::default(); n],
        require_osd_release: 16,
        flags: crate::osdmap::map_flags::RECOVERY_DELETES
            | crate::osdmap::map_flags::PGLOG_HARDLIMIT,
        modified: UTime::new(1_700_000_000, 0),
        ..OsdMap::default()
    };
    let pool = |pool_type, size, rule| PgPool {
        pool_type,
        size,
        min_size: 1,
        crush_rule: rule,
        object_hash: 2,
        pg_num: 8,
        pgp_num: 8,
        flags: PgPool::FLAG_HASHPSPOOL,
        ..PgPool::default()
    };
    map.pools.insert(1, pool(PgPool::TYPE_REPLICATED, 3, 0));
    map.pools.insert(2, pool(PgPool::TYPE_ERASURE, 3, 1));
    map.pool_names.insert(1, "rbd".into());
    map.pool_names.insert(2, "ec".into());
    map.pool_max = 2;
    map
}

/// Decodes `data` as an incremental and applies it to [`small_map`] (with the epoch and
/// fsid patched in, so that most inputs get past the first checks); then maps some PGs and
/// checks that the result round-trips.
pub fn fuzz_incremental(data: &[u8]) {
    // as for full maps, the crc is judged for odd-length inputs only
    let inc = if data.len() % 2 == 1 {
        Incremental::from_bytes(data).ok()
    } else {
        let mut r = denc::Reader::new(data);
        Incremental::decode_unchecked(&mut r)
            .ok()
            .map(|(inc, _)| inc)
    };
    let Some(mut inc) = inc else {
        return;
    };
    let mut map = small_map();
    let before = map.clone();
    inc.epoch = map.epoch + 1;
    inc.fsid = map.fsid;
    match map.apply_incremental(&inc) {
        Ok(()) => {
            map_some(&map);
            check_round_trip(&map);
        }
        // a refused incremental leaves the map untouched
        Err(_) => assert!(map == before, "a failed apply changed the map"),
    }
}
