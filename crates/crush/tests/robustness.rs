//! Hostile input: truncated, corrupted and random encodings must fail cleanly or decode to a
//! map that re-encodes consistently and maps without panicking (the fuzz target's body).

mod support;

use crush::CrushMap;
use denc::Reader;
use denc::testing::TestRng;
use support::{MapText, compile, level, rule};

/// Real maps to corrupt: the corpus samples and a few crushtool-built maps covering every
/// bucket algorithm, device classes and choose_args.
fn seed_maps(test: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = denc::testing::samples("CrushWrapper")
        .into_iter()
        .map(|s| (s.path.display().to_string(), s.bytes))
        .collect();
    support::require_crushtool();
    let dir = support::scratch(&format!("robustness-{test}"));
    for alg in ["uniform", "list", "tree", "straw", "straw2"] {
        let mut text = MapText::new(vec![level("host", alg, 3), level("root", alg, 3)]);
        text.class = &|d| Some(if d % 2 == 0 { "ssd" } else { "hdd" });
        text.rules = vec![
            rule(
                "r",
                0,
                "replicated",
                &["take default", "chooseleaf firstn 0 type host", "emit"],
            ),
            // crushtool cannot build class shadow trees of uniform buckets
            if alg == "uniform" {
                rule(
                    "e",
                    1,
                    "erasure",
                    &["take default", "chooseleaf indep 0 type host", "emit"],
                )
            } else {
                rule(
                    "e",
                    1,
                    "erasure",
                    &[
                        "take default class ssd",
                        "chooseleaf indep 0 type host",
                        "emit",
                    ],
                )
            },
        ];
        if alg == "straw2" {
            text.choose_args = "choose_args 0 {\n  {\n    bucket_id -4\n    weight_set [\n      \
                                [ 1.0 2.0 3.0 ]\n      [ 2.0 1.0 1.0 ]\n    ]\n    ids [ -7 -8 -9 ]\n  }\n}\n"
                .to_string();
        }
        let bin = compile(&dir, alg, &text.render());
        out.push((bin.display().to_string(), std::fs::read(&bin).unwrap()));
    }
    out
}

#[test]
fn truncations_fail_or_stop_at_a_section_boundary() {
    for (name, bytes) in seed_maps("truncations") {
        let full: CrushMap = denc::decode_exact(&bytes).unwrap();
        assert_eq!(denc::encode_to_vec(&full).unwrap(), bytes, "{name}");
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            if let Ok(map) = denc::decode_exact::<CrushMap>(prefix) {
                assert_eq!(
                    denc::encode_to_vec(&map).unwrap(),
                    prefix,
                    "{name} cut {cut}"
                );
            }
        }
    }
}

#[test]
fn corrupted_maps_never_panic() {
    let rounds = if cfg!(debug_assertions) { 150 } else { 1500 };
    let mut rng = TestRng::new(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    let mut total = 0;
    for (_, bytes) in seed_maps("corruption") {
        for _ in 0..rounds {
            let mut data = bytes.clone();
            match rng.below(4) {
                // flip a few bytes
                0 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(data.len());
                        data[i] ^= 1 << rng.below(8);
                    }
                }
                // overwrite a le32 with a small or huge value
                1 => {
                    let i = rng.below(data.len().saturating_sub(4));
                    let v: u32 = match rng.below(3) {
                        0 => rng.below(16) as u32,
                        1 => u32::MAX - rng.below(4) as u32,
                        _ => rng.next_u64() as u32,
                    };
                    data[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                // cut and splice
                2 => {
                    let a = rng.below(data.len());
                    let b = rng.below(data.len());
                    let (a, b) = (a.min(b), a.max(b));
                    data.drain(a..b);
                }
                // duplicate a chunk
                _ => {
                    let a = rng.below(data.len());
                    let len = rng.below(64).min(data.len() - a);
                    let chunk = data[a..a + len].to_vec();
                    let at = rng.below(data.len());
                    data.splice(at..at, chunk);
                }
            }
            total += 1;
            if CrushMap::decode_from(&data).is_ok() {
                decoded += 1;
            }
            crush::fuzzing::fuzz_decode_and_map(&data);
        }
    }
    println!("{total} corrupted maps, {decoded} still decoded");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = TestRng::new(42);
    for len in [0_usize, 1, 4, 15, 16, 17, 32, 100, 1000] {
        for _ in 0..200 {
            let mut data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if len >= 4 && rng.below(2) == 0 {
                data[..4].copy_from_slice(&crush::CRUSH_MAGIC.to_le_bytes());
            }
            crush::fuzzing::fuzz_decode_and_map(&data);
            let mut r = Reader::new(&data);
            let _ = <CrushMap as denc::Decode>::decode(&mut r);
        }
    }
}

/// Counts that cannot fit in the input are refused before anything is allocated.
#[test]
fn absurd_counts_are_refused() {
    let mut data = crush::CRUSH_MAGIC.to_le_bytes().to_vec();
    data.extend_from_slice(&0x7fff_ffff_u32.to_le_bytes()); // max_buckets
    data.extend_from_slice(&0_u32.to_le_bytes());
    data.extend_from_slice(&0_u32.to_le_bytes());
    assert!(CrushMap::decode_from(&data).is_err());

    // one straw2 bucket claiming 2^32 - 1 items
    let mut data = crush::CRUSH_MAGIC.to_le_bytes().to_vec();
    for v in [1_u32, 0, 0, 5] {
        data.extend_from_slice(&v.to_le_bytes());
    }
    data.extend_from_slice(&(-1_i32).to_le_bytes());
    data.extend_from_slice(&[1, 0, 5, 0]);
    data.extend_from_slice(&0_u32.to_le_bytes());
    data.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(CrushMap::decode_from(&data).is_err());
}
