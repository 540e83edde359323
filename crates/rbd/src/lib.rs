//! RBD format-2 images over RADOS, as librbd lays them out: pool directories, id objects,
//! headers kept by the `rbd` object class, data objects striped by
//! [`Layout`](striper::Layout).
//!
//! ```no_run
//! # async fn f() -> Result<(), rbd::Error> {
//! let rados = rados::Rados::connect(rados::ClientConfig::from_env()?).await?;
//! let rbd = rbd::Rbd::new(rados.ioctx("rbd").await?);
//! rbd.create("disk", &rbd::CreateOptions::new(1 << 30)).await?;
//! let image = rbd.open("disk", rbd::OpenMode::ReadWrite).await?;
//! image.write(4096, &b"hello"[..]).await?;
//! assert_eq!(&image.read(4096, 5).await?[..], b"hello");
//! # Ok(()) }
//! ```
//!
//! Images with the exclusive-lock feature take the lock before their first write and hand
//! it over when another client (librbd or this one) asks; the object map and fast-diff
//! are kept up to date. Snapshots (create, list, remove, rename, protect, rollback, limit,
//! reads at a snapshot) are in `snapshot.rs`; clones read through to their parents and
//! copy up on write, and can be made, listed and flattened. Not yet: journaling (opened
//! read-only, not written), caches.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

pub mod advisory_lock;
mod async_file;
mod clone;
pub mod cls;
mod compare_write;
pub mod config;
mod copy;
mod copy_clone;
mod copy_clone_layout;
mod copyup;
mod create;
mod deep_copy_clone_pass;
mod deep_copy_objects;
mod deep_copy_pass;
mod detach_child;
mod diff;
pub mod diff_stream;
mod error;
pub mod exclusive_lock;
mod export_diff;
pub mod export_image;
mod feature_update;
pub mod features;
mod file;
#[doc(hidden)]
pub mod fuzzing;
pub mod group;
mod header_state;
mod image;
mod io;
pub mod journal;
mod migration;
mod mirror;
mod mirror_disable;
pub mod names;
pub mod namespace;
pub mod object_map;
pub mod object_map_build;
mod parent;
mod parent_diff;
mod pool;
mod pre_remove;
mod quiesce;
pub mod snap_set_diff;
mod snapshot;
pub mod striper;
mod trash;
mod trash_purge;
pub mod watch_notify;

pub use async_file::AsyncImageFile;
pub use clone::{ChildImage, CloneOptions, ParentImage};
pub use cls::parent::{ChildSpec, ParentSpec};
pub use cls::rbd::ParentInfo;
pub use config::{CONF_PREFIX, ConfigOption, ConfigSource};
pub use copy::CopyOptions;
pub use create::{CreateOptions, MAX_IMAGE_SIZE};
pub use diff::DiffExtent;
pub use error::{Error, Result};
pub use feature_update::{
    DISABLE_SUPPORTED, ENABLE_SUPPORTED, FeatureUpdate, OP_FEATURES_KNOWN, plan_update,
};
pub use file::ImageFile;
pub use image::{Image, ImageInfo, OpenMode};
pub use migration::MigrationStatus;
pub use mirror::{MirrorImageInfo, PromotionState};
pub use object_map_build::ObjectMapCheck;
pub use pool::{ImageIter, ImageSpec, Rbd};
pub use quiesce::{HookFuture, QuiesceHandler, snap_create_flags};
pub use snapshot::{SnapInfo, remove_flags, snap_object_map_object};
pub use trash::TrashEntry;
