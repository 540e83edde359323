#![no_main]
//! Full OSDMaps: decode (crc checked), map a few PGs, re-encode and decode again.

libfuzzer_sys::fuzz_target!(|data: &[u8]| osdmap::fuzzing::fuzz_osdmap(data));
