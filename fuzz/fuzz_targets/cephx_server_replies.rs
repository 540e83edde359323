#![no_main]
//! Every CephX decoder the client runs on server input (challenges, AUTH_DONE ticket replies,
//! authorizer challenges and replies, renewal replies), through the handshake state machines.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cephx::fuzzing::fuzz_server_replies(data));
