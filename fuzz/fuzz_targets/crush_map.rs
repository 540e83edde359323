#![no_main]
//! CRUSH maps: decode, re-encode and decode again, then map a few inputs through every rule
//! (bounded work: maps with huge retry or choose counts are decoded but not mapped).

libfuzzer_sys::fuzz_target!(|data: &[u8]| crush::fuzzing::fuzz_decode_and_map(data));
