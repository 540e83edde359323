#![no_main]
//! Msgr2 frame decoding in crc mode (preamble, segments, epilogue, crcs), and compressed
//! frames / segment decompression (snappy, zlib, zstd, lz4) when the first byte says so.

libfuzzer_sys::fuzz_target!(|data: &[u8]| msgr2::fuzzing::fuzz_frame_decoder_crc(data));
