//! Time to decode a full OSDMap file (median of 20 decodes), for scripts/bench-crush.
//!
//! `cargo run --release -p osdmap --example decode_time -- OSDMAP`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: decode_time OSDMAP");
    let bytes = std::fs::read(&path).expect("reading the map");
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let map = osdmap::OsdMap::from_bytes(&bytes).expect("decoding");
            let elapsed = started.elapsed().as_secs_f64();
            std::hint::black_box(map);
            elapsed
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{:.3} ms (median of 20)", times[10] * 1000.0);
}
