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
mod rados_bench_stats;
mod rados_format;
mod status;

use std::process::ExitCode;

use clap::Subcommand;

use crate::error::CliError;
use crate::global::GlobalArgs;

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Cluster summary: fsid, monitors, OSDs, pools (like `ceph -s`).
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
    }
}
