#![no_main]
//! Ceph's common types (entity addresses and names, pg_t, hobject_t, object_locator_t,
//! SnapContext, ...) and the generic containers, chosen by the first input byte.

libfuzzer_sys::fuzz_target!(|data: &[u8]| denc::fuzzing::fuzz_types(data));
