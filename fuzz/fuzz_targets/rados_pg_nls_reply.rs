#![no_main]
//! PGNLS replies (`pg_nls_response_t`) driving a listing, and listing cursors.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::pg_nls_reply(data));
