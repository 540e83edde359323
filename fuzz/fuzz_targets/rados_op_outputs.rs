#![no_main]
//! The typed outputs of every OSD op (stat, xattrs, omap, snaps, watchers, sparse reads).

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::op_outputs(data));
