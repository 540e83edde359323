//! Runs the fuzz-target body over real samples and many deterministic mutations of them, so
//! that every test run exercises the decoders on hostile input (cargo-fuzz explores further;
//! see fuzz/README.md).

use denc::fuzzing::fuzz_types;
use denc::testing::{TestRng, mutate, samples};

/// The corpus folder of each selector value of `fuzz_types`.
const TYPES: &[(u8, &str)] = &[
    (0, "entity_name_t"),
    (1, "EntityName"),
    (2, "entity_addr_t"),
    (3, "entity_addrvec_t"),
    (4, "entity_inst_t"),
    (5, "pg_t"),
    (6, "object_locator_t"),
    (7, "hobject_t"),
    (8, "eversion_t"),
    (9, "osd_reqid_t"),
    (10, "SnapContext"),
];

#[test]
fn decoders_survive_mutated_samples() {
    let mut rng = TestRng::new(0x5eed_cafe_f00d_d00d);
    let mut runs = 0;
    for &(selector, name) in TYPES {
        for sample in samples(name) {
            let mut input = vec![selector];
            input.extend_from_slice(&sample.bytes);
            fuzz_types(&input);
            for _ in 0..200 {
                let mut mutated = input.clone();
                for _ in 0..=rng.below(3) {
                    mutate(&mut rng, &mut mutated);
                }
                match mutated.first_mut() {
                    Some(first) => *first = selector,
                    None => mutated.push(selector),
                }
                fuzz_types(&mutated);
                runs += 1;
            }
        }
    }
    assert!(runs > 10_000, "{runs} runs");
}

#[test]
fn decoders_survive_random_bytes() {
    let mut rng = TestRng::new(42);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let input: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        fuzz_types(&input);
    }
}
