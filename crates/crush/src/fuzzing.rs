//! Fuzz target bodies (wired to cargo-fuzz by the fuzz/ crate).

use denc::{Decode, Reader};

use crate::map::CrushMap;
use crate::mapper::Mapper;
use crate::model::RuleOp;

/// Tunables or rule settings above this make a single mapping take too long to fuzz
/// (Ceph would grind through them too); such maps are decoded but not mapped.
const MAX_FUZZ_TRIES: u32 = 100;

/// Decodes `data` as a CRUSH map; if that works, checks that encoding and decoding again
/// gives the same map and bytes, then maps a few inputs with every rule. Must never panic.
pub fn fuzz_decode_and_map(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(map) = CrushMap::decode(&mut r) else {
        return;
    };
    let Ok(bytes) = denc::encode_to_vec(&map) else {
        return;
    };
    let again = denc::decode_exact::<CrushMap>(&bytes);
    assert_eq!(
        again.as_ref(),
        Ok(&map),
        "re-decoding the encoding changed the map"
    );
    assert_eq!(
        denc::encode_to_vec(&map).ok(),
        Some(bytes),
        "encoding is not deterministic"
    );

    if !mappable_quickly(&map) {
        return;
    }
    let max_devices = usize::try_from(map.max_devices()).unwrap_or(0).min(4096);
    let mut weights = vec![0x10000_u32; max_devices];
    // a few partially weighted and out devices
    for (i, w) in weights.iter_mut().enumerate().step_by(7) {
        *w = if i % 2 == 0 { 0 } else { 0x8000 };
    }
    let ids: Vec<i32> = map.rules().map(|(id, _)| id).take(16).collect();
    let mut mapper = Mapper::new();
    let mut out = Vec::new();
    for id in ids {
        for x in 0..8_u32 {
            for result_max in [0_usize, 1, 3, 10] {
                let choose_args = map.choose_args(i64::from(x % 3) - 1);
                if mapper
                    .do_rule_into(&map, id, x, result_max, &weights, choose_args, &mut out)
                    .is_ok()
                {
                    assert!(out.len() <= result_max, "more results than asked for");
                }
            }
        }
    }
}

/// False when the map's retry counts would make each mapping very slow.
fn mappable_quickly(map: &CrushMap) -> bool {
    let t = map.tunables();
    let small = |v: u32| v <= MAX_FUZZ_TRIES;
    if !(small(t.choose_total_tries)
        && small(t.choose_local_tries)
        && small(t.choose_local_fallback_tries)
        && small(t.msr_descents)
        && small(t.msr_collision_tries))
    {
        return false;
    }
    if map.buckets().map(|b| b.items.len()).sum::<usize>() > 100_000 {
        return false;
    }
    map.rules().all(|(_, rule)| {
        rule.steps.len() <= 64
            && rule.steps.iter().all(|s| match s.op {
                RuleOp::SetChooseTries
                | RuleOp::SetChooseLeafTries
                | RuleOp::SetChooseLocalTries
                | RuleOp::SetChooseLocalFallbackTries
                | RuleOp::SetMsrDescents
                | RuleOp::SetMsrCollisionTries => small(s.arg1.unsigned_abs()),
                // firstn tries every one of `n` replicas even when none can be placed
                RuleOp::ChooseFirstN
                | RuleOp::ChooseLeafFirstN
                | RuleOp::ChooseIndep
                | RuleOp::ChooseLeafIndep
                | RuleOp::ChooseMsr => s.arg1 <= 64,
                _ => true,
            })
    })
}
