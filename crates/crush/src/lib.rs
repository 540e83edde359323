//! CRUSH maps: decoding and encoding Ceph's binary CRUSH map, and the placement algorithm
//! (`crush_do_rule`) with exactly Ceph's results.
//!
//! * [`CrushMap`]: the map (Ceph's `CrushWrapper`), [`denc::Decode`] + [`denc::Encode`];
//!   [`CrushMap::decode_from`] decodes a whole CRUSH bufferlist.
//! * [`CrushMap::do_rule`] / [`Mapper`]: map an input to devices with a rule, including
//!   Squid's multi-step-retry (MSR) rules.
//! * [`hash32_2`] and friends: CRUSH's rjenkins1 hash, which the OSDMap uses too.
//! * [`crushtool`]: `crushtool --test --show-mappings` output, line for line.
//!
//! An OSDMap maps a placement seed `pps` of pool `pool` with
//! `crush.do_rule(rule, pps, pool_size, &osd_weights, crush.choose_args(pool))`, where
//! `rule` is the pool's rule id (Quincy and later) or [`CrushMap::find_rule`] of it
//! (Pacific) and `osd_weights` are the OSDMap's 16.16 in/out weights.
//!
//! Results are checked against Ceph itself: the tests compare tens of millions of mappings
//! with Pacific's `crushtool --test`, and MSR rules (which Pacific lacks) with Ceph 20's
//! crushtool in the project's Tentacle chroot.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod bucket;
mod codec;
pub mod crushtool;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod hash;
mod ln;
mod ln_table;
mod map;
mod mapper;
mod model;
mod msr;
#[cfg(test)]
mod tests;

pub use error::CrushError;
pub use hash::{HASH_RJENKINS1, hash32, hash32_2, hash32_3, hash32_4, hash32_5};
pub use map::CrushMap;
pub use mapper::{MAX_RESULT, Mapper};
pub use model::{
    Bucket, BucketKind, CRUSH_ITEM_NONE, CRUSH_MAGIC, ChooseArg, ChooseArgs, DEFAULT_CHOOSE_ARGS,
    Rule, RuleOp, RuleStep, Tunables, WEIGHT_IN, bucket_alg, rule_type,
};
