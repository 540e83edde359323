//! Ceph OSD maps: full maps and incrementals of every release, and the placement pipeline
//! from an object name to its PG and OSDs.
//!
//! * [`OsdMap`]: the full map (`OSDMap`), decoded with its crc32c verified
//!   ([`OsdMap::from_bytes`]) and re-encoded byte for byte ([`OsdMap::to_bytes`]).
//! * [`Incremental`]: a map delta (`OSDMap::Incremental`), applied with
//!   [`OsdMap::apply_incremental`].
//! * [`PgPool`]: a pool (`pg_pool_t`), every version up to Tentacle's.
//! * Placement: [`OsdMap::object_to_pg`], [`OsdMap::pg_to_up_acting`],
//!   [`OsdMap::map_object`], exactly as Ceph's `OSDMap` computes them;
//!   [`OsdMap::pg_to_up_acting_cached`] computes each PG's sets once per map.
//! * [`tool_output`]: the lines and fields `osdmaptool` and `ceph osd map` print.
//!
//! Encodings follow the peer's features as Ceph's encoders do; [`OsdMap::encoding_features`]
//! gives the ones monitors use, so [`OsdMap::canonical_crc`] reproduces an incremental's
//! `full_crc` ([`OsdMap::full_crc_matches`]). The CRUSH map is kept as received and
//! re-emitted byte for byte.
//!
//! Limits where Ceph trusts its input: per-OSD vectors must have `max_osd` entries (as the
//! kernel client requires), an incremental may not raise `max_osd` above
//! [`MAX_OSD_LIMIT`], and OSD ids outside `0..max_osd` refuse the whole incremental (which
//! leaves the map untouched). Pre-Firefly ("classic", wrapper version < 7) encodings are
//! refused.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod apply;
mod codec;
mod crush_adapter;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
mod incremental;
mod osd_info;
mod osdmap;
mod placement;
mod placement_cache;
mod pool;
#[doc(hidden)]
pub mod testutil;
pub mod tool_output;

pub use codec::{AddrTimeMap, SnapIntervalSet};
pub use crush_adapter::{CRUSH_ITEM_NONE, CrushMapData};
pub use error::{OsdMapError, Result};
pub use incremental::Incremental;
pub use osd_info::{OsdInfo, OsdXInfo};
pub use osdmap::{
    DEFAULT_PRIMARY_AFFINITY, MAX_OSD_LIMIT, OSD_IN, OsdMap, SIGNIFICANT_FEATURES, map_flags,
    osd_state,
};
pub use placement::{ObjectMapping, UpActing};
pub use placement_cache::PlacementCache;
pub use pool::{PgMergeMeta, PgPool, PoolOptValue, PoolOpts, PoolSnapInfo};
