//! The subcommands, one module each. To add one: a module with an `Args` struct (clap
//! derive) and `async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode,
//! CliError>`, a variant in [`Action`] and a line in [`run`].

mod crush;
mod mon_command;
mod osd;
mod osdmap;
mod pools;
mod rados;
mod rados_bench;
mod rados_bench_json;
mod rados_bench_stats;
mod rados_cleanup;
mod rados_format;
mod rados_ls;
mod rados_watch;
mod rbd;
mod rbd_admin;
mod rbd_bench;
mod rbd_clone;
mod rbd_config;
mod rbd_copy;
mod rbd_diff;
mod rbd_feature;
mod rbd_format;
mod rbd_group;
mod rbd_io;
mod rbd_lock;
mod rbd_namespace;
mod rbd_open;
mod rbd_progress;
mod rbd_rm;
mod rbd_snap;
mod rbd_status;
mod rbd_trash;
mod status;

use std::process::ExitCode;

use clap::Subcommand;

use crate::error::CliError;
use crate::global::GlobalArgs;

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Cluster summary: fsid, monitors, OSDs, pools (like `ceph -s`); with an image spec,
    /// the image's watchers and migration (like `rbd status`).
    Status(status::Args),
    /// Send a command to the monitors (like `ceph`): status to stderr, output to stdout,
    /// exit status = the command's errno.
    MonCommand(mon_command::Args),
    /// CRUSH placement from a map file (`crush test`, like `crushtool --test`).
    #[command(subcommand)]
    Crush(crush::Args),
    /// OSD placement on the live cluster (`osd map POOL OBJECT [NSPACE]`, like `ceph osd map`).
    #[command(subcommand)]
    Osd(osd::Args),
    /// Placement from an OSDMap file (like `osdmaptool`).
    #[command(subcommand)]
    Osdmap(osdmap::Args),
    /// Objects, xattrs, omap and pool snapshots (like `rados -p POOL ...`).
    Rados(rados::Args),
    /// List pools (like `rados lspools`).
    Lspools,
    /// Create a pool: NAME [AUID [CRUSH_RULE]] (like the old `rados mkpool`).
    Mkpool(pools::MkpoolArgs),
    /// Delete a pool: NAME NAME --yes-i-really-really-mean-it (like the old `rados rmpool`).
    Rmpool(pools::RmpoolArgs),
    /// Create an RBD image (like `rbd create`).
    Create(rbd::CreateArgs),
    /// List RBD images (like `rbd ls [-l]`).
    #[command(alias = "list")]
    Ls(rbd::LsArgs),
    /// Show an image's information (like `rbd info`).
    Info(rbd::SpecArgs),
    /// Delete an image (like `rbd rm`).
    #[command(alias = "remove")]
    Rm(rbd::SpecArgs),
    /// Rename an image (like `rbd rename`).
    #[command(alias = "mv")]
    Rename(rbd::RenameArgs),
    /// Change an image's size (like `rbd resize`).
    Resize(rbd::ResizeArgs),
    /// Import a file (or stdin) into a new image (like `rbd import`).
    Import(rbd_io::ImportArgs),
    /// Export an image to a file (or stdout) (like `rbd export`).
    Export(rbd_io::ExportArgs),
    /// Image metadata (like `rbd image-meta`).
    #[command(subcommand)]
    ImageMeta(rbd::MetaArgs),
    /// Benchmark image I/O (like `rbd bench`).
    Bench(rbd_bench::BenchArgs),
    /// Provisioned and used sizes of images (like `rbd du`).
    #[command(alias = "disk-usage")]
    Du(rbd_admin::DuArgs),
    /// Pool- and image-level configuration overrides (like `rbd config pool|image ...`).
    #[command(subcommand)]
    Config(rbd_config::ConfigArgs),
    /// Enable or disable image features (like `rbd feature enable|disable`).
    #[command(subcommand)]
    Feature(rbd_feature::FeatureArgs),
    /// Rebuild or check object maps (like `rbd object-map rebuild|check`).
    #[command(subcommand)]
    ObjectMap(rbd_feature::ObjectMapArgs),
    /// Copy an image (or a snapshot of it) to a new image (like `rbd cp`).
    #[command(alias = "copy")]
    Cp(rbd_copy::CopyArgs),
    /// Deep copies (like `rbd deep cp`).
    #[command(subcommand)]
    Deep(rbd_copy::DeepArgs),
    /// Deallocate the zero runs of an image's objects (like `rbd sparsify`).
    Sparsify(rbd_copy::SparsifyArgs),
    /// Snapshots (like `rbd snap create|ls|rm|rename|protect|unprotect|rollback|purge|limit`).
    #[command(subcommand)]
    Snap(rbd_snap::SnapArgs),
    /// Extents changed since a snapshot (like `rbd diff`).
    Diff(rbd_diff::DiffArgs),
    /// Export the changes since a snapshot as a diff stream (like `rbd export-diff`).
    ExportDiff(rbd_diff::ExportDiffArgs),
    /// Apply a diff stream to an image (like `rbd import-diff`).
    ImportDiff(rbd_diff::ImportDiffArgs),
    /// Clone a snapshot (like `rbd clone`).
    Clone(rbd_clone::CloneArgs),
    /// Copy a clone's parent data into it and detach it (like `rbd flatten`).
    Flatten(rbd_clone::FlattenArgs),
    /// List a snapshot's clones (like `rbd children`).
    Children(rbd_clone::ChildrenArgs),
    /// Pool commands (like `rbd pool init`).
    #[command(subcommand)]
    Pool(rbd::PoolArgs),
    /// Advisory locks on an image (like `rbd lock add|ls|rm`).
    #[command(subcommand)]
    Lock(rbd_lock::LockArgs),
    /// The pool's trash (like `rbd trash mv|ls|rm|restore|purge`).
    #[command(subcommand)]
    Trash(rbd_trash::TrashArgs),
    /// RBD namespaces of a pool (like `rbd namespace create|ls|rm`).
    #[command(subcommand)]
    Namespace(rbd_namespace::NamespaceArgs),
    /// Groups of images and group snapshots (like `rbd group ...`).
    #[command(subcommand)]
    Group(rbd_group::GroupArgs),
}

/// Runs a subcommand.
pub async fn run(global: &GlobalArgs, command: Action) -> Result<ExitCode, CliError> {
    match command {
        Action::Status(args) => status::run(global, args).await,
        Action::MonCommand(args) => mon_command::run(global, args).await,
        Action::Crush(args) => crush::run(global, args).await,
        Action::Osd(args) => osd::run(global, args).await,
        Action::Osdmap(args) => osdmap::run(global, args).await,
        Action::Rados(args) => rados::run(global, args).await,
        Action::Lspools => pools::run(global, pools::PoolCmd::Lspools).await,
        Action::Mkpool(args) => pools::run(global, pools::PoolCmd::Mkpool(args)).await,
        Action::Rmpool(args) => pools::run(global, pools::PoolCmd::Rmpool(args)).await,
        Action::Create(a) => rbd::run(global, rbd::RbdCmd::Create(a)).await,
        Action::Ls(a) => rbd::run(global, rbd::RbdCmd::Ls(a)).await,
        Action::Info(a) => rbd::run(global, rbd::RbdCmd::Info(a)).await,
        Action::Rm(a) => rbd::run(global, rbd::RbdCmd::Rm(a)).await,
        Action::Rename(a) => rbd::run(global, rbd::RbdCmd::Rename(a)).await,
        Action::Resize(a) => rbd::run(global, rbd::RbdCmd::Resize(a)).await,
        Action::ImageMeta(a) => rbd::run(global, rbd::RbdCmd::Meta(a)).await,
        Action::Pool(a) => rbd::run(global, rbd::RbdCmd::Pool(a)).await,
        Action::Import(a) => rbd_io::run_import(global, a).await,
        Action::Bench(a) => rbd_bench::run(global, a).await,
        Action::Du(a) => rbd_admin::run(global, rbd_admin::AdminCmd::Du(a)).await,
        Action::Config(a) => rbd_config::run(global, a).await,
        Action::Feature(a) => rbd_feature::run_feature(global, a).await,
        Action::ObjectMap(a) => rbd_feature::run_object_map(global, a).await,
        Action::Export(a) => rbd_io::run_export(global, a).await,
        Action::Snap(a) => rbd_snap::run(global, a).await,
        Action::Cp(a) => rbd_copy::run_copy(global, a).await,
        Action::Deep(a) => rbd_copy::run_deep(global, a).await,
        Action::Sparsify(a) => rbd_copy::run_sparsify(global, a).await,
        Action::Lock(a) => rbd_lock::run(global, a).await,
        Action::Trash(a) => rbd_trash::run(global, a).await,
        Action::Namespace(a) => rbd_namespace::run(global, a).await,
        Action::Diff(a) => rbd_diff::run(global, rbd_diff::DiffCmd::Diff(a)).await,
        Action::ExportDiff(a) => rbd_diff::run(global, rbd_diff::DiffCmd::Export(a)).await,
        Action::ImportDiff(a) => rbd_diff::run(global, rbd_diff::DiffCmd::Import(a)).await,
        Action::Clone(a) => rbd_clone::run_clone(global, a).await,
        Action::Flatten(a) => rbd_clone::run_flatten(global, a).await,
        Action::Children(a) => rbd_clone::run_children(global, a).await,
        Action::Group(a) => rbd_group::run(global, a).await,
    }
}
