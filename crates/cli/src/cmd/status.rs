//! `rbd-rs status`: the cluster summary (`ceph -s`), with `ceph -s -f json`'s field names
//! in JSON; `rbd-rs status IMAGE` is `rbd status IMAGE` (see `rbd_status.rs`).

use std::process::ExitCode;

use crate::cmd::rbd::ImageSpecArgs;
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output;

/// `status [IMAGE_SPEC]`: without an image, the cluster summary.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    image: ImageSpecArgs,
}

/// Connects, brings the maps up to date and prints the summary (or the image's status).
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    if args.image.spec.is_some() || args.image.image.is_some() {
        let r = super::rbd_status::run(&rados, global.format, &args.image).await;
        rados.shutdown().await;
        return r.map(|()| ExitCode::SUCCESS);
    }
    let status = rados.status().await;
    rados.shutdown().await;
    output::print(global.format, &status?)?;
    Ok(ExitCode::SUCCESS)
}
