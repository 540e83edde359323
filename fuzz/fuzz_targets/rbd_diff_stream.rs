#![no_main]
//! The `rbd export-diff` stream reader (formats 1 and 2) over untrusted files.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rbd::fuzzing::diff_stream(data));
