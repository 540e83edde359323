#![no_main]
//! Msgr2 frame decoding in secure mode (AES-128-GCM, fixed key).

libfuzzer_sys::fuzz_target!(|data: &[u8]| msgr2::fuzzing::fuzz_frame_decoder_secure(data));
