#![no_main]
//! Keyring files (Ceph's INI format and the old binary form) and base64 keys.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cephx::fuzzing::fuzz_keyring(data));
