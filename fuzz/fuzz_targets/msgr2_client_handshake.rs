#![no_main]
//! The client connection state machine fed arbitrary server bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| msgr2::fuzzing::fuzz_client_handshake(data));
