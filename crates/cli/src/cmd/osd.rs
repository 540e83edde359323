//! `rbd-rs osd map POOL OBJECT [NSPACE]`: where an object lives, computed by our own
//! placement from the cluster's current OSDMap, printed as `ceph osd map` prints it.

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;

use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output;

/// `osd` subcommands.
#[derive(Debug, Subcommand)]
pub enum Args {
    /// The PG and OSDs of an object (like `ceph osd map`).
    Map {
        /// Pool name.
        pool: String,
        /// Object name.
        object: String,
        /// Namespace.
        nspace: Option<String>,
    },
}

/// `ceph osd map`'s fields, in its order.
#[derive(Debug, Serialize)]
struct OsdMapView {
    epoch: u32,
    pool: String,
    pool_id: i64,
    objname: String,
    raw_pgid: String,
    pgid: String,
    up: Vec<i32>,
    up_primary: i32,
    acting: Vec<i32>,
    acting_primary: i32,
    #[serde(skip)]
    plain: String,
}

impl std::fmt::Display for OsdMapView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.plain)
    }
}

/// Runs an `osd` subcommand.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, CliError> {
    let Args::Map {
        pool,
        object,
        nspace,
    } = args;
    let rados = global.connect().await?;
    let map = rados.osdmap();
    rados.shutdown().await;
    let out = map.osd_map_command(&pool, &object, nspace.as_deref().unwrap_or(""))?;
    let view = OsdMapView {
        plain: out.plain(),
        epoch: out.epoch,
        pool: out.pool,
        pool_id: out.pool_id,
        objname: out.objname,
        raw_pgid: out.raw_pgid,
        pgid: out.pgid,
        up: out.up,
        up_primary: out.up_primary,
        acting: out.acting,
        acting_primary: out.acting_primary,
    };
    output::print(global.format, &view)?;
    Ok(ExitCode::SUCCESS)
}
