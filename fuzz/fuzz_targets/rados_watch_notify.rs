#![no_main]
//! MWatchNotify decoding and the notify replies it carries.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::watch_notify(data));
