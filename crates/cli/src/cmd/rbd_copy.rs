//! `rbd-rs cp` and `rbd-rs sparsify` (src/tools/rbd/action/Copy.cc, Sparsify.cc).

use std::process::ExitCode;

use crate::cmd::rbd::{CreateOpts, ImageSpecArgs, Spec, open_pool, resolve};
use crate::cmd::rbd_format::parse_size;
use crate::cmd::rbd_open::with_image_rw;
use crate::cmd::rbd_progress::Progress;
use crate::cmd::rbd_snap::split_snap;
use crate::error::CliError;
use crate::global::GlobalArgs;

/// `rbd`'s default `--sparse-size` (`RBD_DEFAULT_SPARSE_SIZE`).
const DEFAULT_SPARSE_SIZE: u64 = 4096;

/// `cp` arguments.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Source `[pool/[namespace/]]image[@snap]`.
    src: String,
    /// Destination `[pool/[namespace/]]image`.
    dest: String,
    /// Source pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Source namespace.
    #[arg(long = "namespace")]
    namespace: Option<String>,
    /// Source snapshot.
    #[arg(long = "snap")]
    snap: Option<String>,
    /// Destination pool.
    #[arg(long = "dest-pool")]
    dest_pool: Option<String>,
    /// Destination namespace.
    #[arg(long = "dest-namespace")]
    dest_namespace: Option<String>,
    #[command(flatten)]
    opts: CreateOpts,
    /// Holes of at least this size stay holes (`4K`...).
    #[arg(long = "sparse-size")]
    sparse_size: Option<String>,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// `deep ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DeepArgs {
    /// Copy an image with all its snapshots (like `rbd deep cp`).
    #[command(alias = "copy")]
    Cp(DeepCopyArgs),
}

/// `deep cp` arguments: those of `cp` and `--flatten`.
#[derive(Debug, clap::Args)]
pub struct DeepCopyArgs {
    #[command(flatten)]
    copy: CopyArgs,
    /// A clone's copy is standalone, its parent's data merged in (else it is a clone of
    /// the same parent snapshot).
    #[arg(long = "flatten")]
    flatten: bool,
}

/// `sparsify` arguments.
#[derive(Debug, clap::Args)]
pub struct SparsifyArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// Granularity of the holes punched (`4K`...; a power of two up to the object size).
    #[arg(long = "sparse-size")]
    sparse_size: Option<String>,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

fn sparse_size(arg: Option<&str>) -> Result<u64, CliError> {
    match arg {
        None => Ok(DEFAULT_SPARSE_SIZE),
        Some(s) => parse_size(s, false).ok_or(CliError::Usage("invalid --sparse-size")),
    }
}

/// `rbd deep cp`.
pub async fn run_deep(global: &GlobalArgs, a: DeepArgs) -> Result<ExitCode, CliError> {
    let DeepArgs::Cp(a) = a;
    run_copy_as(global, a.copy, Some(a.flatten)).await
}

/// `rbd cp`.
pub async fn run_copy(global: &GlobalArgs, a: CopyArgs) -> Result<ExitCode, CliError> {
    run_copy_as(global, a, None).await
}

/// `deep`: `Some(flatten)` for a deep copy.
async fn run_copy_as(
    global: &GlobalArgs,
    a: CopyArgs,
    deep: Option<bool>,
) -> Result<ExitCode, CliError> {
    let (src_img, src_snap) = split_snap(&a.src);
    let src = resolve(
        Some(src_img),
        a.pool.as_deref(),
        a.namespace.as_deref(),
        None,
    )?;
    let snap = src_snap.map(str::to_owned).or(a.snap.clone());
    let dest = resolve(
        Some(&a.dest),
        a.dest_pool.as_deref().or(Some(src.pool.as_str())),
        a.dest_namespace.as_deref().or(Some(src.namespace.as_str())),
        None,
    )?;
    let create = a.opts.to_options(0)?;
    let opts = rbd::CopyOptions {
        features: create.features,
        order: create.order,
        striping: (create.stripe_unit != 0).then_some((create.stripe_unit, create.stripe_count)),
        data_pool: create.data_pool,
        sparse_size: Some(sparse_size(a.sparse_size.as_deref())?),
        flatten: deep == Some(true),
    };
    let rados = global.connect().await?;
    let r = copy(
        &rados,
        &src,
        snap.as_deref(),
        &dest,
        &opts,
        a.no_progress,
        deep.is_some(),
    )
    .await;
    rados.shutdown().await;
    r.map(|()| ExitCode::SUCCESS)
}

async fn copy(
    rados: &rados::Rados,
    src: &Spec,
    snap: Option<&str>,
    dest: &Spec,
    opts: &rbd::CopyOptions,
    no_progress: bool,
    deep: bool,
) -> Result<(), CliError> {
    let src_pool = open_pool(rados, &src.pool, &src.namespace).await?;
    let dest_pool = open_pool(rados, &dest.pool, &dest.namespace).await?;
    let image = match snap {
        Some(s) => src_pool.open_at_snap(&src.image, s).await?,
        None => src_pool.open(&src.image, rbd::OpenMode::ReadOnly).await?,
    };
    let label = if deep {
        "Image deep copy"
    } else {
        "Image copy"
    };
    let p = Progress::bar(label, 100, no_progress);
    let report = |done: u64, total: u64| p.set(done * 100 / total.max(1));
    let r = if deep {
        image
            .deep_copy_to(&dest_pool, &dest.image, opts, report)
            .await
    } else {
        image.copy_to(&dest_pool, &dest.image, opts, report).await
    };
    image.close().await?;
    r?;
    p.finish();
    Ok(())
}

/// `rbd sparsify`.
pub async fn run_sparsify(global: &GlobalArgs, a: SparsifyArgs) -> Result<ExitCode, CliError> {
    let spec = a.spec.resolve()?;
    let size = sparse_size(a.sparse_size.as_deref())?;
    let rados = global.connect().await?;
    let r = async {
        let pool = open_pool(&rados, &spec.pool, &spec.namespace).await?;
        let p = Progress::bar("Image sparsify", 100, a.no_progress);
        with_image_rw(&pool, &spec.image, async |image| {
            Ok(image
                .sparsify(size, |done, total| p.set(done * 100 / total.max(1)))
                .await?)
        })
        .await?;
        p.finish();
        Ok::<(), CliError>(())
    }
    .await;
    rados.shutdown().await;
    r.map(|()| ExitCode::SUCCESS)
}
