//! A RADOS client: configuration the way librados reads it, the monitor client (hunting,
//! CephX over msgr2, monitor and OSD maps, commands, ticket renewal) and the OSD client
//! (sessions to OSDs with CephX authorizers, compound object operations, resends on map
//! changes, backoffs, throttling), pools and snapshots, and object listing
//! ([`IoCtx::list_objects`]: every PG walked with PGNLS, resumable from a [`ListCursor`]).
//!
//! ```no_run
//! # async fn f() -> Result<(), rados::Error> {
//! use bytes::Bytes;
//! let config = rados::ClientConfig::from_env()?; // CEPH_CONF, CEPH_ARGS, CEPH_KEYRING
//! let rados = rados::Rados::connect(config).await?;
//! let io = rados.ioctx("rbd").await?.with_namespace("demo");
//! io.write_full("greeting", Bytes::from_static(b"hello")).await?;
//! assert_eq!(&io.read("greeting", 0, 100).await?[..], b"hello");
//! // several ops on one object, applied atomically
//! let done = io
//!     .op("greeting")
//!     .assert_exists()
//!     .set_xattr("lang", b"en")
//!     .append(Bytes::from_static(b", world"))
//!     .submit()
//!     .await?;
//! println!("object version {}", done.version);
//! match io.stat("missing").await {
//!     Err(e) if e.is(rados::Errno::ENOENT) => println!("no such object"),
//!     other => println!("{other:?}"),
//! }
//! rados.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Every call is cancel-safe: dropping its future forgets the op (a write may or may not
//! have reached the OSD; the throttle budget is returned exactly once). Calls are bounded
//! by `rados_osd_op_timeout` (none by default, as in librados) or a per-handle/per-op
//! timeout ([`IoCtx::with_timeout`], [`WriteOp::timeout`]).
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod builders;
mod client;
pub mod cls;
pub mod config;
mod errno;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod ioctx;
mod list;
pub mod messages;
mod monc;
mod osd;
mod pool;
mod watch;

pub use builders::{ReadOp, WriteOp};
pub use client::{
    ClusterStatus, MapVersion, MonMapStatus, MonStatus, OsdMapStatus, PoolStatus, Rados,
};
pub use config::{ClientConfig, ConfigBuilder, EnvVars};
pub use denc::{SnapContext, SnapId};
pub use errno::Errno;
pub use error::{AuthFailure, ConfigError, Error, MonAttempt, Result};
pub use ioctx::{IoCtx, OpResults};
pub use list::{ALL_NAMESPACES, ListCursor, ObjectEntry, ObjectLister};
pub use messages::NotifyAck;
pub use messages::PoolStat;
pub use messages::{MonInfo, MonMap};
pub use monc::CommandReply;
pub use osd::core::ObjecterCounters;
pub use osd::ops::{CmpOp, CmpValue, OpOutput, OpResult};
pub use osd::types::{CloneInfo, ObjectStat, OmapKeys, OmapVals, SnapSet, SparseRead, Watcher};
pub use pool::{PoolSnap, PoolSpec};
pub use watch::{Notification, NotifyResult, Watch, WatchEvent};
