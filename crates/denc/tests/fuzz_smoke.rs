//! Runs the fuzz-target body over real samples and many deterministic mutations of them, so
//! that every test run exercises the decoders on hostile input (cargo-fuzz explores further;
//! see fuzz/README.md).

use denc::fuzzing::fuzz_types;
use denc::testing::samples;

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

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    match rng.below(4) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = [0, 0xff, 0x7f, 0x80][rng.below(4)];
        }
        2 => {
            let i = rng.below(input.len() + 1);
            input.insert(i, rng.next() as u8);
        }
        _ if !input.is_empty() => {
            let i = rng.below(input.len());
            input.remove(i);
        }
        _ => input.push(rng.next() as u8),
    }
}

#[test]
fn decoders_survive_mutated_samples() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
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
                mutated[0] = selector;
                fuzz_types(&mutated);
                runs += 1;
            }
        }
    }
    assert!(runs > 10_000, "{runs} runs");
}

#[test]
fn decoders_survive_random_bytes() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        fuzz_types(&input);
    }
}
