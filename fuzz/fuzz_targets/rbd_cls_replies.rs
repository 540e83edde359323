#![no_main]
//! Every `cls_rbd` reply decoder of the rbd crate (sizes, features, snap contexts,
//! directory listings, metadata, parents, snapshots).

libfuzzer_sys::fuzz_target!(|data: &[u8]| rbd::fuzzing::cls_replies(data));
