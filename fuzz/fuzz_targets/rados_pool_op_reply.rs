#![no_main]
//! MPoolOpReply and MGetPoolStatsReply decoding.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::pool_op_reply(data));
