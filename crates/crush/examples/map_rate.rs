//! Mappings per second of our mapper on a binary CRUSH map, for comparison with
//! `crushtool -i MAP --test --rule R --num-rep N --min-x 0 --max-x COUNT-1` in the same run
//! (scripts/bench-crush). Prints `mappings seconds` on one line.
//!
//! `cargo run --release -p crush --example map_rate -- MAP RULE NUM_REP COUNT`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use crush::{CrushMap, Mapper};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, rule, num_rep, count] = args.as_slice() else {
        eprintln!("usage: map_rate MAP RULE NUM_REP COUNT");
        std::process::exit(2);
    };
    let map =
        CrushMap::decode_from(&std::fs::read(path).expect("reading the map")).expect("decoding");
    let rule: i32 = rule.parse().unwrap();
    let num_rep: usize = num_rep.parse().unwrap();
    let count: u32 = count.parse().unwrap();
    // every device in, as crushtool --test weights devices that buckets hold
    let weights = crush::crushtool::tester_weights(&map, &[]).unwrap();
    let mut mapper = Mapper::new();
    let mut out = Vec::with_capacity(num_rep);
    let mut checksum = 0u64;
    let started = Instant::now();
    for x in 0..count {
        mapper
            .do_rule_into(&map, rule, x, num_rep, &weights, None, &mut out)
            .unwrap();
        checksum = checksum.wrapping_add(out.iter().map(|&o| o as u64).sum::<u64>());
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{count} {secs:.6} {checksum}");
}
