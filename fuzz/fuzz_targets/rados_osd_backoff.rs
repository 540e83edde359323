#![no_main]
//! MOSDBackoff decoding.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::osd_backoff(data));
