#![no_main]
//! MOSDMap messages (the map blobs inside are the osdmap targets' business).

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::osd_map(data));
