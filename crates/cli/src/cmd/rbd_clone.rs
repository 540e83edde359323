//! Clone commands: `clone`, `flatten`, `children` (src/tools/rbd/action/Clone.cc,
//! Flatten.cc, Children.cc), spelled and printed as `rbd` does.

use serde::Serialize;

use crate::cmd::rbd::{CreateOpts, ImageSpecArgs, open_pool, resolve};
use crate::cmd::rbd_open::with_image_rw;
use crate::cmd::rbd_progress::Progress;
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output::Format;

/// `clone` arguments.
#[derive(Debug, clap::Args)]
pub struct CloneArgs {
    /// Parent snapshot `[pool/[namespace/]]image@snapshot`.
    #[arg(value_name = "SOURCE_SNAP_SPEC")]
    src: String,
    /// New image `[pool/[namespace/]]image`.
    #[arg(value_name = "DEST_IMAGE_SPEC")]
    dest: String,
    #[command(flatten)]
    opts: CreateOpts,
    /// Clone format: 1, 2 or auto (librbd's `rbd_default_clone_format`).
    #[arg(long = "rbd-default-clone-format", alias = "rbd_default_clone_format")]
    clone_format: Option<String>,
}

/// `flatten` arguments.
#[derive(Debug, clap::Args)]
pub struct FlattenArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// `children` arguments.
#[derive(Debug, clap::Args)]
pub struct ChildrenArgs {
    /// `[pool/[namespace/]]image@snapshot`.
    #[arg(value_name = "SNAP_SPEC")]
    spec: String,
    /// Snapshot name (instead of `@snapshot`).
    #[arg(long = "snap")]
    snap: Option<String>,
    /// Include clones in the trash.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Include the clones of the clones' snapshots, recursively.
    #[arg(long = "descendants")]
    descendants: bool,
}

/// `[pool/[ns/]]image@snap` -> (image spec, snapshot).
fn split_snap(spec: &str, snap: Option<&str>) -> Result<(String, String), CliError> {
    match (spec.split_once('@'), snap) {
        (Some((i, s)), _) if !s.is_empty() => Ok((i.to_owned(), s.to_owned())),
        (None, Some(s)) => Ok((spec.to_owned(), s.to_owned())),
        _ => Err(CliError::Usage("snapshot name was not specified")),
    }
}

#[derive(Debug, Serialize)]
struct ChildJson {
    pool: String,
    pool_namespace: String,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trash: Option<bool>,
}

/// Runs `clone`.
pub async fn run_clone(
    global: &GlobalArgs,
    a: CloneArgs,
) -> Result<std::process::ExitCode, CliError> {
    let (src, snap) = split_snap(&a.src, None)?;
    let src = resolve(Some(&src), None, None, None)?;
    let dest = resolve(Some(&a.dest), None, None, None)?;
    let mut opts = rbd::CloneOptions {
        create: a.opts.to_options(0)?,
        format: None,
    };
    opts.format = match a.clone_format.as_deref() {
        None | Some("auto") => None,
        Some("1") => Some(1),
        Some("2") => Some(2),
        Some(_) => return Err(CliError::Usage("clone format must be 1, 2 or auto")),
    };
    let rados = global.connect().await?;
    let r = async {
        let parent = open_pool(&rados, &src.pool, &src.namespace).await?;
        let child = open_pool(&rados, &dest.pool, &dest.namespace).await?;
        child
            .clone_image(&parent, &src.image, &snap, &dest.image, &opts)
            .await?;
        Ok(())
    }
    .await;
    rados.shutdown().await;
    r.map(|()| std::process::ExitCode::SUCCESS)
}

/// Runs `flatten`.
pub async fn run_flatten(
    global: &GlobalArgs,
    a: FlattenArgs,
) -> Result<std::process::ExitCode, CliError> {
    let spec = a.spec.resolve()?;
    let rados = global.connect().await?;
    let r = async {
        let pool = open_pool(&rados, &spec.pool, &spec.namespace).await?;
        let mut progress: Option<Progress> = None;
        let no_progress = a.no_progress;
        with_image_rw(&pool, &spec.image, async |image| {
            Ok(image
                .flatten(|done, total| {
                    progress
                        .get_or_insert_with(|| Progress::bar("Image flatten", total, no_progress))
                        .set(done);
                })
                .await?)
        })
        .await?;
        if let Some(p) = progress {
            p.finish();
        }
        Ok(())
    }
    .await;
    rados.shutdown().await;
    r.map(|()| std::process::ExitCode::SUCCESS)
}

/// Runs `children`.
pub async fn run_children(
    global: &GlobalArgs,
    a: ChildrenArgs,
) -> Result<std::process::ExitCode, CliError> {
    let (image, snap) = split_snap(&a.spec, a.snap.as_deref())?;
    let spec = resolve(Some(&image), None, None, None)?;
    let rados = global.connect().await?;
    let r = async {
        let pool = open_pool(&rados, &spec.pool, &spec.namespace).await?;
        let image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
        let kids = if a.descendants {
            image.list_descendants(&snap).await?
        } else {
            image.list_children(&snap).await?
        };
        image.close().await?;
        Ok::<_, CliError>(kids)
    }
    .await;
    rados.shutdown().await;
    let kids = r?;
    // children in the trash are shown with --all only (Children.cc)
    let shown = kids.iter().filter(|c| a.all || !c.trash);
    match global.format {
        Format::Plain => {
            for c in shown {
                let mut line = format!("{}/", c.pool_name);
                if !c.pool_namespace.is_empty() {
                    line.push_str(&c.pool_namespace);
                    line.push('/');
                }
                line.push_str(&c.image_name);
                if c.trash {
                    line.push_str(&format!(" (trash {})", c.image_id));
                }
                println!("{line}");
            }
        }
        format => {
            let list: Vec<ChildJson> = shown
                .map(|c| ChildJson {
                    pool: c.pool_name.clone(),
                    pool_namespace: c.pool_namespace.clone(),
                    image: c.image_name.clone(),
                    id: a.all.then(|| c.image_id.clone()),
                    trash: a.all.then_some(c.trash),
                })
                .collect();
            let out = if format == Format::JsonPretty {
                serde_json::to_string_pretty(&list)?
            } else {
                serde_json::to_string(&list)?
            };
            println!("{out}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
