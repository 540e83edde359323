//! A RADOS client: configuration the way librados reads it, and the monitor client
//! (hunting, CephX over msgr2, monitor and OSD maps, commands, ticket renewal). The OSD
//! client and object operations come next and reuse its connections and tickets.
//!
//! ```no_run
//! # async fn f() -> Result<(), rados::Error> {
//! let config = rados::ClientConfig::from_env()?; // CEPH_CONF, CEPH_ARGS, CEPH_KEYRING
//! let rados = rados::Rados::connect(config).await?;
//! println!("{}", rados.status().await?);
//! let reply = rados
//!     .mon_command(r#"{"prefix": "osd pool ls", "format": "json"}"#, bytes::Bytes::new())
//!     .await?;
//! println!("{}", String::from_utf8_lossy(&reply.data));
//! rados.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod client;
pub mod config;
mod error;
pub mod messages;
mod monc;

pub use client::{
    ClusterStatus, MapVersion, MonMapStatus, MonStatus, OsdMapStatus, PoolStatus, Rados,
};
pub use config::{ClientConfig, ConfigBuilder, EnvVars};
pub use error::{AuthFailure, ConfigError, Error, MonAttempt, Result};
pub use messages::{MonInfo, MonMap};
pub use monc::CommandReply;
