//! `rbd-rs status`: the cluster summary (`ceph -s`), with `ceph -s -f json`'s field names
//! in JSON.

use std::process::ExitCode;

use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output;

/// `status` takes no arguments of its own.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Connects, brings the maps up to date and prints the summary.
pub async fn run(global: &GlobalArgs, _args: Args) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let status = rados.status().await;
    rados.shutdown().await;
    output::print(global.format, &status?)?;
    Ok(ExitCode::SUCCESS)
}
