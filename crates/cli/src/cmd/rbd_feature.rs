//! `rbd feature enable|disable` and `rbd object-map rebuild|check`
//! (src/tools/rbd/action/Feature.cc, ObjectMap.cc). Errors print as `rbd` prints them:
//! librbd's reason, then `rbd: failed to update image features: (22) Invalid argument`,
//! the errno as the exit status.

use std::process::ExitCode;

use crate::cmd::rbd::{open_pool, resolve};
use crate::cmd::rbd_open::{with_image, with_image_rw};
use crate::cmd::rbd_progress::Progress;
use crate::cmd::rbd_snap::SnapSpecArgs;
use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;

/// `feature` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FeatureArgs {
    /// Enables features (exclusive-lock, object-map, fast-diff).
    Enable {
        /// `[pool/[namespace/]]image`.
        spec: String,
        /// Feature names.
        #[arg(required = true)]
        features: Vec<String>,
    },
    /// Disables features (exclusive-lock, object-map, fast-diff, deep-flatten).
    Disable {
        /// `[pool/[namespace/]]image`.
        spec: String,
        /// Feature names.
        #[arg(required = true)]
        features: Vec<String>,
    },
}

/// `object-map` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ObjectMapArgs {
    /// Rebuilds an invalid object map (of the head or `image@snap`).
    Rebuild(SnapSpecArgs),
    /// Verifies the object map (a wrong one is flagged invalid).
    Check(SnapSpecArgs),
}

/// Runs a `feature` subcommand.
pub async fn run_feature(global: &GlobalArgs, args: FeatureArgs) -> Result<ExitCode, CliError> {
    let (spec, names, enable) = match args {
        FeatureArgs::Enable { spec, features } => (spec, features, true),
        FeatureArgs::Disable { spec, features } => (spec, features, false),
    };
    let mut mask = 0u64;
    for n in names.iter().flat_map(|n| n.split(',')) {
        match rbd::features::from_name(n) {
            Some(bit) if rbd::features::names(bit).len() == 1 => mask |= bit,
            _ => {
                eprintln!("rbd: the argument for option is invalid");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let spec = resolve(Some(&spec), None, None, None)?;
    let rados = global.connect().await?;
    let r = async {
        let pool = open_pool(&rados, &spec.pool, &spec.namespace).await?;
        // rbd prints no progress here (librbd does not rebuild the maps it creates)
        with_image_rw(&pool, &spec.image, async |img| {
            if enable {
                img.enable_features(mask, |_, _| {}).await?;
            } else {
                img.disable_features(mask).await?;
            }
            Ok(())
        })
        .await
    }
    .await;
    rados.shutdown().await;
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(CliError::Rbd(e)) => Ok(fail("failed to update image features", &e)),
        Err(e) => Err(e),
    }
}

/// Runs an `object-map` subcommand.
pub async fn run_object_map(
    global: &GlobalArgs,
    args: ObjectMapArgs,
) -> Result<ExitCode, CliError> {
    let (a, rebuild) = match args {
        ObjectMapArgs::Rebuild(a) => (a, true),
        ObjectMapArgs::Check(a) => (a, false),
    };
    let (spec, snap) = a.resolve(false)?;
    let rados = global.connect().await?;
    let r = async {
        let pool = open_pool(&rados, &spec.pool, &spec.namespace).await?;
        let img = pool.open(&spec.image, rbd::OpenMode::ReadWrite).await?;
        with_image(img, async |img| {
            if let Some(s) = snap.as_deref() {
                img.set_snap(Some(s)).await?;
            }
            let label = if rebuild {
                "Object Map Rebuild"
            } else {
                "Object Map Check"
            };
            let progress = Progress::bar(label, img.info().num_objs, a.no_progress());
            if rebuild {
                img.rebuild_object_map(|done, _| progress.set(done)).await?;
            } else {
                let check = img.check_object_map(|done, _| progress.set(done)).await?;
                for (o, is, should) in check.mismatches {
                    eprintln!(
                        "rbd-rs: object map error: object {}.{o:016x} marked as {is}, \
                         but should be {should}",
                        img.info().block_name_prefix
                    );
                }
            }
            progress.finish();
            Ok(())
        })
        .await
    }
    .await;
    rados.shutdown().await;
    let what = if rebuild {
        "rebuilding object map failed"
    } else {
        "checking object map failed"
    };
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(CliError::Rbd(e)) => Ok(fail(what, &e)),
        Err(e) => Err(e),
    }
}

/// librbd's reason, then `rbd: <what>: (errno) text`, as `rbd` prints them.
fn fail(what: &str, e: &rbd::Error) -> ExitCode {
    let errno = e.errno();
    let text = rados::Errno(errno.saturating_neg()).cpp_strerror();
    eprintln!("rbd-rs: {e}");
    eprintln!("rbd: {what}: {text}");
    errno_exit(errno)
}
