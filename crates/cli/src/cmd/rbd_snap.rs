//! `rbd-rs snap ...` (src/tools/rbd/action/Snap.cc): create, ls, rm, rename, protect,
//! unprotect, rollback, purge, limit set / clear. Snapshot specs are spelled as `rbd`
//! spells them: `[pool/[namespace/]]image@snap`, or the image spec and `--snap`.

use std::process::ExitCode;

use serde::Serialize;

use crate::cmd::rbd::{ImageSpecArgs, Spec, open_pool, open_pool_to_free, resolve};
use crate::cmd::rbd_format::{byte_u, ctime, table};
use crate::cmd::rbd_open::with_image_rw;
use crate::cmd::rbd_progress::Progress;
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output::Format;

/// Splits `spec@snap` into the image spec and the snapshot name.
pub fn split_snap(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once('@') {
        Some((i, s)) => (i, Some(s)),
        None => (spec, None),
    }
}

/// An image spec with a snapshot (`image@snap` or `--snap`).
#[derive(Debug, Clone, clap::Args)]
pub struct SnapSpecArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// Snapshot name.
    #[arg(long = "snap")]
    snap: Option<String>,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

impl SnapSpecArgs {
    /// `--no-progress` was given.
    pub(crate) fn no_progress(&self) -> bool {
        self.no_progress
    }

    /// The image and the snapshot (`image@snap` or `--snap`); a usage error when
    /// `need_snap` and there is none.
    pub(crate) fn resolve(&self, need_snap: bool) -> Result<(Spec, Option<String>), CliError> {
        let (img, snap) = match self.spec.spec.as_deref() {
            Some(s) => {
                let (i, sn) = split_snap(s);
                (Some(i), sn.map(str::to_owned))
            }
            None => (None, None),
        };
        let spec = resolve(
            img,
            self.spec.pool.as_deref(),
            self.spec.namespace.as_deref(),
            self.spec.image.as_deref(),
        )?;
        let snap = snap.or_else(|| self.snap.clone());
        if need_snap && snap.as_deref().is_none_or(str::is_empty) {
            return Err(CliError::Usage("snapshot name was not specified"));
        }
        Ok((spec, snap))
    }
}

/// `snap create` arguments (at::add_snap_create_options).
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    spec: SnapSpecArgs,
    /// Do not run quiesce hooks.
    #[arg(long = "skip-quiesce")]
    skip_quiesce: bool,
    /// Ignore quiesce hook error.
    #[arg(long = "ignore-quiesce-error")]
    ignore_quiesce_error: bool,
}

/// `RBD_SNAP_CREATE_*` flags of `--skip-quiesce` / `--ignore-quiesce-error`
/// (tools/rbd/Utils.cc `get_snap_create_flags`: not both).
pub(crate) fn snap_create_flags(skip: bool, ignore_error: bool) -> Result<u32, CliError> {
    match (skip, ignore_error) {
        (true, true) => Err(CliError::Rbd(rbd::Error::InvalidArgument(
            "--ignore-quiesce-error cannot be used together with --skip-quiesce",
        ))),
        (true, false) => Ok(rbd::snap_create_flags::SKIP_QUIESCE),
        (false, true) => Ok(rbd::snap_create_flags::IGNORE_QUIESCE_ERROR),
        (false, false) => Ok(0),
    }
}

/// `snap ls` arguments.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// List snapshots of every namespace (with a NAMESPACE column).
    #[arg(short = 'a', long = "all")]
    all: bool,
}

/// `snap rm` arguments.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    #[command(flatten)]
    spec: SnapSpecArgs,
    /// Unprotect a protected snapshot first.
    #[arg(long = "force")]
    force: bool,
}

/// `snap rename` arguments.
#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    /// Source `[pool/[namespace/]]image@snap`.
    src: String,
    /// Destination `[pool/[namespace/]]image@snap`.
    dest: String,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
}

/// `snap limit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LimitArgs {
    /// Set the snapshot limit.
    Set {
        #[command(flatten)]
        spec: ImageSpecArgs,
        /// The most snapshots the image may have.
        #[arg(long = "limit")]
        limit: u64,
    },
    /// Remove the snapshot limit.
    Clear {
        #[command(flatten)]
        spec: ImageSpecArgs,
    },
}

/// `snap` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SnapArgs {
    /// Create a snapshot.
    #[command(alias = "add")]
    Create(CreateArgs),
    /// List snapshots.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove a snapshot.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Rename a snapshot.
    Rename(RenameArgs),
    /// Protect a snapshot from removal (clones need it).
    Protect(SnapSpecArgs),
    /// Unprotect a snapshot.
    Unprotect(SnapSpecArgs),
    /// Roll the image back to a snapshot.
    #[command(alias = "revert")]
    Rollback(SnapSpecArgs),
    /// Remove every unprotected snapshot.
    Purge(SnapSpecArgs),
    /// The snapshot limit.
    #[command(subcommand)]
    Limit(LimitArgs),
}

/// One `snap ls --format json` entry.
#[derive(Debug, Serialize)]
struct SnapJson {
    id: u64,
    name: String,
    size: u64,
    protected: &'static str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<NamespaceJson>,
}

#[derive(Debug, Serialize)]
struct NamespaceJson {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(rename = "group snap", skip_serializing_if = "Option::is_none")]
    group_snap: Option<String>,
}

/// Runs a `snap` subcommand.
pub async fn run(global: &GlobalArgs, args: SnapArgs) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = run_on(&rados, global.format, args).await;
    rados.shutdown().await;
    r.map(|()| ExitCode::SUCCESS)
}

/// Opens `spec` read-write, runs `body` on it and closes it on every path.
async fn with_rw(
    rados: &rados::Rados,
    spec: &Spec,
    body: impl AsyncFnOnce(&mut rbd::Image) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    with_image_rw(&pool, &spec.image, body).await
}

/// [`with_rw`] for commands that free space: through a full pool (rbd's Snap.cc remove,
/// purge and unprotect set `pool_full_try`).
async fn with_rw_to_free(
    rados: &rados::Rados,
    spec: &Spec,
    body: impl AsyncFnOnce(&mut rbd::Image) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let pool = open_pool_to_free(rados, &spec.pool, &spec.namespace).await?;
    with_image_rw(&pool, &spec.image, body).await
}

async fn run_on(rados: &rados::Rados, format: Format, args: SnapArgs) -> Result<(), CliError> {
    match args {
        SnapArgs::Create(a) => {
            let (spec, snap) = a.spec.resolve(true)?;
            let flags = snap_create_flags(a.skip_quiesce, a.ignore_quiesce_error)?;
            with_rw(rados, &spec, async |image| {
                let p = Progress::spinner("Creating snap", a.spec.no_progress);
                image
                    .create_snap2(snap.as_deref().unwrap_or_default(), flags)
                    .await?;
                p.finish();
                Ok(())
            })
            .await?;
        }
        SnapArgs::Ls(a) => {
            let spec = a.spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            let image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
            let snaps = image.snap_list().await?;
            let mut groups = std::collections::BTreeMap::new();
            for s in snaps.iter().filter(|_| a.all) {
                // as `rbd`: a group namespace that cannot be resolved shows as "group"
                if let Ok(Some(g)) = image.snap_group_namespace(&s.namespace).await {
                    groups.insert(s.id, g);
                }
            }
            print_list(format, a.all, snaps, &groups)?;
        }
        SnapArgs::Rm(a) => {
            let (spec, snap) = a.spec.resolve(true)?;
            with_rw_to_free(rados, &spec, async |image| {
                let p = Progress::spinner("Removing snap", a.spec.no_progress);
                let flags = if a.force {
                    rbd::remove_flags::UNPROTECT
                } else {
                    0
                };
                image
                    .remove_snap2(snap.as_deref().unwrap_or_default(), flags)
                    .await?;
                p.finish();
                Ok(())
            })
            .await?;
        }
        SnapArgs::Rename(a) => {
            let (src_img, src_snap) = split_snap(&a.src);
            let (dst_img, dst_snap) = split_snap(&a.dest);
            let src = resolve(Some(src_img), a.pool.as_deref(), None, None)?;
            let dst = resolve(Some(dst_img), Some(&src.pool), Some(&src.namespace), None)?;
            let (Some(src_snap), Some(dst_snap)) = (src_snap, dst_snap) else {
                return Err(CliError::Usage("snapshot name was not specified"));
            };
            if src != dst {
                return Err(CliError::Usage(
                    "source and destination image names must be the same",
                ));
            }
            with_rw(rados, &src, async |image| {
                Ok(image.rename_snap(src_snap, dst_snap).await?)
            })
            .await?;
        }
        SnapArgs::Protect(a) => {
            let (spec, snap) = a.resolve(true)?;
            with_rw(rados, &spec, async |image| {
                Ok(image
                    .protect_snap(snap.as_deref().unwrap_or_default())
                    .await?)
            })
            .await?;
        }
        SnapArgs::Unprotect(a) => {
            let (spec, snap) = a.resolve(true)?;
            with_rw_to_free(rados, &spec, async |image| {
                Ok(image
                    .unprotect_snap(snap.as_deref().unwrap_or_default())
                    .await?)
            })
            .await?;
        }
        SnapArgs::Rollback(a) => {
            let (spec, snap) = a.resolve(true)?;
            with_rw(rados, &spec, async |image| {
                let p = Progress::bar("Rolling back to snapshot", 1, a.no_progress);
                image
                    .rollback_to_snap(snap.as_deref().unwrap_or_default(), |done, total| {
                        p.set(done * 100 / total.max(1));
                    })
                    .await?;
                p.finish();
                Ok(())
            })
            .await?;
        }
        SnapArgs::Purge(a) => {
            let (spec, _) = a.resolve(false)?;
            with_rw_to_free(rados, &spec, async |image| {
                purge(image, a.no_progress).await
            })
            .await?;
        }
        SnapArgs::Limit(LimitArgs::Set { spec, limit }) => {
            with_rw(rados, &spec.resolve()?, async |image| {
                Ok(image.set_snap_limit(limit).await?)
            })
            .await?;
        }
        SnapArgs::Limit(LimitArgs::Clear { spec }) => {
            with_rw(rados, &spec.resolve()?, async |image| {
                Ok(image.remove_snap_limit().await?)
            })
            .await?;
        }
    }
    Ok(())
}

/// `do_purge_snaps`: removes every unprotected user snapshot; protected ones are named on
/// stdout and left (the command still succeeds, as `rbd` 16.2 does).
async fn purge(image: &rbd::Image, no_progress: bool) -> Result<(), CliError> {
    let (protected, snaps): (Vec<rbd::SnapInfo>, Vec<rbd::SnapInfo>) = image
        .snap_list()
        .await?
        .into_iter()
        .filter(|s| s.namespace == rbd::cls::snap::SnapshotNamespace::User)
        .partition(|s| s.is_protected());
    if !protected.is_empty() {
        let names: Vec<&str> = protected.iter().map(|s| s.name.as_str()).collect();
        println!(
            "rbd: error removing snapshot(s) '{}', which {} protected - these must be \
             unprotected with `rbd snap unprotect`.",
            names.join(","),
            if names.len() == 1 { "is" } else { "are" }
        );
    }
    let total = (snaps.len() + protected.len()) as u64;
    let p = Progress::bar("Removing all snapshots", total, no_progress);
    for (i, s) in snaps.iter().enumerate() {
        image.remove_snap_by_id(s.id).await?;
        p.set(i as u64 + 1);
    }
    p.finish();
    Ok(())
}

fn print_list(
    format: Format,
    all: bool,
    snaps: Vec<rbd::SnapInfo>,
    groups: &std::collections::BTreeMap<u64, rbd::group::GroupSnapNamespace>,
) -> Result<(), CliError> {
    let snaps: Vec<rbd::SnapInfo> = snaps
        .into_iter()
        .filter(|s| all || s.namespace == rbd::cls::snap::SnapshotNamespace::User)
        .collect();
    let ts = |s: &rbd::SnapInfo| {
        if s.timestamp.sec == 0 {
            String::new()
        } else {
            ctime(s.timestamp.sec)
        }
    };
    let user = |s: &rbd::SnapInfo| s.namespace == rbd::cls::snap::SnapshotNamespace::User;
    if format != Format::Plain {
        let list: Vec<SnapJson> = snaps
            .iter()
            .map(|s| SnapJson {
                id: s.id,
                name: s.name.clone(),
                size: s.size,
                protected: if user(s) && s.is_protected() {
                    "true"
                } else {
                    "false"
                },
                timestamp: ts(s),
                namespace: all.then(|| NamespaceJson {
                    kind: s.namespace.type_name(),
                    original_name: match &s.namespace {
                        rbd::cls::snap::SnapshotNamespace::Trash { original_name, .. } => {
                            Some(original_name.clone())
                        }
                        _ => None,
                    },
                    pool: groups.get(&s.id).map(|g| g.pool_name.clone()),
                    group: groups.get(&s.id).map(|g| g.group_name.clone()),
                    group_snap: groups.get(&s.id).map(|g| g.group_snap_name.clone()),
                }),
            })
            .collect();
        crate::cmd::rbd::print_json(format, &list)?;
        return Ok(());
    }
    if snaps.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|s| {
            let mut row = vec![
                s.id.to_string(),
                s.name.clone(),
                byte_u(s.size),
                if user(s) && s.is_protected() {
                    "yes".into()
                } else {
                    String::new()
                },
                ts(s),
            ];
            if all {
                row.push(match &s.namespace {
                    rbd::cls::snap::SnapshotNamespace::Trash { original_name, .. } => {
                        format!("trash ({original_name})")
                    }
                    _ if groups.contains_key(&s.id) => {
                        groups.get(&s.id).map_or_else(String::new, |g| {
                            format!(
                                "group ({}/{}@{})",
                                g.pool_name, g.group_name, g.group_snap_name
                            )
                        })
                    }
                    n => n.type_name().to_owned(),
                });
            }
            row
        })
        .collect();
    let mut headers = vec!["SNAPID", "NAME", "SIZE", "PROTECTED", "TIMESTAMP"];
    let mut right = vec![true, false, true, false, true];
    if all {
        headers.push("NAMESPACE");
        right.push(false);
    }
    print!("{}", table(&headers, &right, &rows));
    Ok(())
}
