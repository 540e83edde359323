#![no_main]
//! MOSDOpReply decoding.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rados::fuzzing::osd_op_reply(data));
