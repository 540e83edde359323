#![no_main]
//! OSDMap incrementals: decode, then apply to a small map built in code.

libfuzzer_sys::fuzz_target!(|data: &[u8]| osdmap::fuzzing::fuzz_incremental(data));
