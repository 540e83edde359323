//! `rbd-rs group ...` (src/tools/rbd/action/Group.cc): create, ls, rm, rename,
//! image add|rm|ls, snap create|ls|rm|rename|rollback. Group specs are spelled as `rbd`
//! spells them: `[pool/[namespace/]]group[@snap]`.

use std::process::ExitCode;

use rbd::cls::group::{GroupImageState, GroupSnapState};
use serde::Serialize;

use crate::cmd::rbd::{Spec, open_pool, print_json, resolve};
use crate::cmd::rbd_format::table;
use crate::cmd::rbd_progress::Progress;
use crate::cmd::rbd_snap::split_snap;
use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;
use crate::output::Format;

/// `[pool/[namespace/]]group` and its options.
#[derive(Debug, Clone, clap::Args)]
pub struct GroupSpecArgs {
    /// `[pool/[namespace/]]group` (`[pool/[namespace/]]group@snap` for snapshots).
    #[arg(value_name = "GROUP_SPEC")]
    spec: Option<String>,
    /// Pool (default `rbd`).
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Namespace.
    #[arg(long = "namespace")]
    namespace: Option<String>,
    /// Group name.
    #[arg(long = "group")]
    group: Option<String>,
    /// Snapshot name (snapshot commands).
    #[arg(long = "snap")]
    snap: Option<String>,
}

impl GroupSpecArgs {
    /// The group spec (its `image` is the group name) and the snapshot name.
    fn resolve(&self) -> Result<(Spec, Option<String>), CliError> {
        let (g, snap) = match self.spec.as_deref().map(split_snap) {
            Some((g, s)) => (Some(g), s.map(str::to_owned)),
            None => (None, None),
        };
        let spec = resolve(
            g,
            self.pool.as_deref(),
            self.namespace.as_deref(),
            self.group.as_deref(),
        )
        .map_err(|_| CliError::Usage("group name was not specified"))?;
        Ok((spec, snap.or_else(|| self.snap.clone())))
    }

    fn resolve_snap(&self) -> Result<(Spec, String), CliError> {
        match self.resolve()? {
            (spec, Some(s)) if !s.is_empty() => Ok((spec, s)),
            _ => Err(CliError::Usage("snapshot name was not specified")),
        }
    }
}

/// `group ls` arguments: `[pool[/namespace]]`.
#[derive(Debug, Clone, clap::Args)]
pub struct PoolSpecArgs {
    /// `[pool[/namespace]]`.
    #[arg(value_name = "POOL_SPEC")]
    spec: Option<String>,
    /// Pool (default `rbd`).
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Namespace.
    #[arg(long = "namespace")]
    namespace: Option<String>,
}

/// `group rename` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RenameArgs {
    #[command(flatten)]
    src: GroupSpecArgs,
    /// Destination `[pool/[namespace/]]group`.
    #[arg(value_name = "DEST_GROUP_SPEC")]
    dest: Option<String>,
    /// Destination group name.
    #[arg(long = "dest-group")]
    dest_group: Option<String>,
}

/// `group image add|rm` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// `[pool/[namespace/]]group`.
    #[arg(value_name = "GROUP_SPEC")]
    group_spec: Option<String>,
    /// `[pool/[namespace/]]image`.
    #[arg(value_name = "IMAGE_SPEC")]
    image_spec: Option<String>,
    /// Pool of both (unless overridden).
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Namespace of both.
    #[arg(long = "namespace")]
    namespace: Option<String>,
    /// The group's pool.
    #[arg(long = "group-pool")]
    group_pool: Option<String>,
    /// The group's namespace.
    #[arg(long = "group-namespace")]
    group_namespace: Option<String>,
    /// The group's name.
    #[arg(long = "group")]
    group: Option<String>,
    /// The image's pool.
    #[arg(long = "image-pool")]
    image_pool: Option<String>,
    /// The image's namespace.
    #[arg(long = "image-namespace")]
    image_namespace: Option<String>,
    /// The image's name.
    #[arg(long = "image")]
    image: Option<String>,
    /// The image's id (`rm` only).
    #[arg(long = "image-id")]
    image_id: Option<String>,
}

impl ImageArgs {
    fn resolve(&self) -> Result<(Spec, Spec), CliError> {
        let group = resolve(
            self.group_spec.as_deref(),
            self.group_pool.as_deref().or(self.pool.as_deref()),
            self.group_namespace
                .as_deref()
                .or(self.namespace.as_deref()),
            self.group.as_deref(),
        )
        .map_err(|_| CliError::Usage("group name was not specified"))?;
        let image = if self.image_id.is_some() && self.image_spec.is_none() {
            Spec {
                pool: self
                    .image_pool
                    .clone()
                    .or(self.pool.clone())
                    .unwrap_or_else(|| "rbd".into()),
                namespace: self
                    .image_namespace
                    .clone()
                    .or(self.namespace.clone())
                    .unwrap_or_default(),
                image: String::new(),
            }
        } else {
            resolve(
                self.image_spec.as_deref(),
                self.image_pool.as_deref().or(self.pool.as_deref()),
                self.image_namespace
                    .as_deref()
                    .or(self.namespace.as_deref()),
                self.image.as_deref(),
            )?
        };
        Ok((group, image))
    }
}

/// `group snap rename` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SnapRenameArgs {
    #[command(flatten)]
    src: GroupSpecArgs,
    /// The new snapshot name.
    #[arg(value_name = "DEST_SNAP")]
    dest: Option<String>,
    /// The new snapshot name.
    #[arg(long = "dest-snap")]
    dest_snap: Option<String>,
}

/// `group snap create|rm|rollback` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SnapArgs {
    #[command(flatten)]
    spec: GroupSpecArgs,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
    /// Do not run quiesce hooks (create).
    #[arg(long = "skip-quiesce")]
    skip_quiesce: bool,
    /// Ignore quiesce hook error (create).
    #[arg(long = "ignore-quiesce-error")]
    ignore_quiesce_error: bool,
}

/// `group image` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GroupImageArgs {
    /// Add an image to a group.
    Add(ImageArgs),
    /// Remove an image from a group.
    #[command(alias = "remove")]
    Rm(ImageArgs),
    /// List a group's images.
    #[command(alias = "list")]
    Ls(GroupSpecArgs),
}

/// `group snap` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GroupSnapArgs {
    /// Take a group snapshot.
    Create(SnapArgs),
    /// List a group's snapshots.
    #[command(alias = "list")]
    Ls(GroupSpecArgs),
    /// Remove a group snapshot.
    #[command(alias = "remove")]
    Rm(SnapArgs),
    /// Rename a group snapshot.
    Rename(SnapRenameArgs),
    /// Roll every member back to a group snapshot.
    Rollback(SnapArgs),
}

/// `group` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GroupArgs {
    /// Create a group.
    Create(GroupSpecArgs),
    /// List the groups of a pool.
    #[command(alias = "list")]
    Ls(PoolSpecArgs),
    /// Remove a group (its snapshots and memberships first).
    #[command(alias = "remove")]
    Rm(GroupSpecArgs),
    /// Rename a group.
    Rename(RenameArgs),
    /// The images of a group.
    #[command(subcommand)]
    Image(GroupImageArgs),
    /// Group snapshots.
    #[command(subcommand)]
    Snap(GroupSnapArgs),
}

/// One `group image ls --format json` entry.
#[derive(Debug, Serialize)]
struct ImageJson {
    image: String,
    pool: String,
    namespace: String,
    state: u8,
}

/// One `group snap ls --format json` entry.
#[derive(Debug, Serialize)]
struct SnapJson {
    snapshot: String,
    state: &'static str,
}

/// Runs a `group` subcommand.
pub async fn run(global: &GlobalArgs, args: GroupArgs) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = run_on(&rados, global.format, args).await;
    rados.shutdown().await;
    r
}

/// `rbd: <what>: (errno) message` on stderr, the errno as the status.
fn fail(what: &str, e: &rbd::Error) -> ExitCode {
    eprintln!("rbd-rs: {what}: {e}");
    errno_exit(e.errno())
}

fn not_found(e: &rbd::Error) -> bool {
    matches!(e, rbd::Error::GroupNotFound(_))
}

async fn run_on(
    rados: &rados::Rados,
    format: Format,
    args: GroupArgs,
) -> Result<ExitCode, CliError> {
    match args {
        GroupArgs::Create(a) => {
            let (spec, _) = a.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            if let Err(e) = pool.group_create(&spec.image).await {
                return Ok(fail("create error", &e));
            }
        }
        GroupArgs::Ls(a) => {
            let (mut p, mut ns) = (a.pool.clone(), a.namespace.clone());
            match a.spec.as_deref().map(|s| s.split_once('/')) {
                Some(Some((pl, n))) => {
                    p = Some(pl.to_owned());
                    ns = Some(n.to_owned());
                }
                Some(None) => p = a.spec.clone(),
                None => {}
            }
            let pool = open_pool(
                rados,
                p.as_deref().unwrap_or("rbd"),
                ns.as_deref().unwrap_or(""),
            )
            .await?;
            let names = pool.group_list().await?;
            if format != Format::Plain {
                print_json(format, &names)?;
            } else {
                for n in names {
                    println!("{n}");
                }
            }
        }
        GroupArgs::Rm(a) => {
            let (spec, _) = a.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            match pool.group_remove(&spec.image).await {
                Ok(()) => {}
                // as librbd: removing a missing group succeeds
                Err(e) if not_found(&e) => {}
                Err(e) => return Ok(fail("remove error", &e)),
            }
        }
        GroupArgs::Rename(a) => {
            let (src, _) = a.src.resolve()?;
            let dest = resolve(
                a.dest.as_deref(),
                Some(&src.pool),
                Some(&src.namespace),
                a.dest_group.as_deref(),
            )
            .map_err(|_| CliError::Usage("destination group name was not specified"))?;
            if dest.pool != src.pool {
                eprintln!(
                    "rbd-rs: group rename across pools not supported\nsource pool: {}, dest pool: {}",
                    src.pool, dest.pool
                );
                return Ok(errno_exit(-22));
            }
            if dest.namespace != src.namespace {
                eprintln!(
                    "rbd-rs: group rename across namespaces not supported\nsource namespace: {}, dest namespace: {}",
                    src.namespace, dest.namespace
                );
                return Ok(errno_exit(-22));
            }
            let pool = open_pool(rados, &src.pool, &src.namespace).await?;
            if let Err(e) = pool.group_rename(&src.image, &dest.image).await {
                return Ok(fail("failed to rename group", &e));
            }
        }
        GroupArgs::Image(cmd) => return run_image(rados, format, cmd).await,
        GroupArgs::Snap(cmd) => return run_snap(rados, format, cmd).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_image(
    rados: &rados::Rados,
    format: Format,
    cmd: GroupImageArgs,
) -> Result<ExitCode, CliError> {
    match cmd {
        GroupImageArgs::Add(a) | GroupImageArgs::Rm(a)
            if {
                let (g, i) = a.resolve()?;
                g.namespace != i.namespace
            } =>
        {
            eprintln!("rbd-rs: group and image namespace must match.");
            Ok(errno_exit(-22))
        }
        GroupImageArgs::Add(a) => {
            let (g, i) = a.resolve()?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            let images = open_pool(rados, &i.pool, &i.namespace).await?;
            match groups.group_image_add(&g.image, &images, &i.image).await {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => Ok(fail("add image error", &e)),
            }
        }
        GroupImageArgs::Rm(a) => {
            let (g, i) = a.resolve()?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            let images = open_pool(rados, &i.pool, &i.namespace).await?;
            let r = match &a.image_id {
                Some(id) if a.image_spec.is_none() && a.image.is_none() => {
                    groups.group_image_remove_by_id(&g.image, &images, id).await
                }
                Some(_) => {
                    eprintln!(
                        "rbd-rs: trying to access image using both name and id. Remove image from group failed."
                    );
                    return Ok(errno_exit(-22));
                }
                None => groups.group_image_remove(&g.image, &images, &i.image).await,
            };
            match r {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => Ok(fail("remove image error", &e)),
            }
        }
        GroupImageArgs::Ls(a) => {
            let (g, _) = a.resolve()?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            let mut images = match groups.group_image_list(&g.image).await {
                Ok(v) => v,
                Err(e) if not_found(&e) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            images.sort_by(|a, b| a.pool.cmp(&b.pool).then_with(|| a.name.cmp(&b.name)));
            let pool_name = |id: i64| {
                rados
                    .pool_list()
                    .into_iter()
                    .find(|(p, _)| *p == id)
                    .map_or_else(|| format!("<missing image pool {id}>"), |(_, n)| n)
            };
            if format != Format::Plain {
                let list: Vec<ImageJson> = images
                    .iter()
                    .map(|i| ImageJson {
                        image: i.name.clone(),
                        pool: pool_name(i.pool),
                        namespace: g.namespace.clone(),
                        state: i.state.code(),
                    })
                    .collect();
                print_json(format, &list)?;
            } else {
                for i in &images {
                    let ns = if g.namespace.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", g.namespace)
                    };
                    let state = if i.state == GroupImageState::Incomplete {
                        "incomplete"
                    } else {
                        ""
                    };
                    println!("{}/{ns}{} {state}", pool_name(i.pool), i.name);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_snap(
    rados: &rados::Rados,
    format: Format,
    cmd: GroupSnapArgs,
) -> Result<ExitCode, CliError> {
    match cmd {
        GroupSnapArgs::Create(a) => {
            let (g, snap) = a.spec.resolve_snap()?;
            let flags =
                crate::cmd::rbd_snap::snap_create_flags(a.skip_quiesce, a.ignore_quiesce_error)?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            if let Err(e) = groups.group_snap_create2(&g.image, &snap, flags).await {
                return Ok(fail("failed to create group snapshot", &e));
            }
        }
        GroupSnapArgs::Rm(a) => {
            let (g, snap) = a.spec.resolve_snap()?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            if let Err(e) = groups.group_snap_remove(&g.image, &snap).await {
                return Ok(fail("failed to remove group snapshot", &e));
            }
        }
        GroupSnapArgs::Rename(a) => {
            let (g, src) = a.src.resolve_snap()?;
            let Some(dest) = a.dest.or(a.dest_snap).filter(|d| !d.is_empty()) else {
                eprintln!("rbd-rs: destination snapshot name was not specified");
                return Ok(errno_exit(-22));
            };
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            if let Err(e) = groups.group_snap_rename(&g.image, &src, &dest).await {
                return Ok(fail("failed to rename group snapshot", &e));
            }
        }
        GroupSnapArgs::Rollback(a) => {
            let (g, snap) = a.spec.resolve_snap()?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            let p = Progress::bar("Rolling back to group snapshot", 100, a.no_progress);
            let r = groups
                .group_snap_rollback(&g.image, &snap, |done, total| {
                    p.set(done * 100 / total.max(1));
                })
                .await;
            if let Err(e) = r {
                return Ok(fail("rollback group to snapshot failed", &e));
            }
            p.finish();
        }
        GroupSnapArgs::Ls(a) => {
            let (g, _) = a.resolve()?;
            let groups = open_pool(rados, &g.pool, &g.namespace).await?;
            let snaps = match groups.group_snap_list(&g.image).await {
                Ok(v) => v,
                Err(e) if not_found(&e) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let state = |s: GroupSnapState| {
                if s == GroupSnapState::Incomplete {
                    "incomplete"
                } else {
                    "ok"
                }
            };
            if format != Format::Plain {
                let list: Vec<SnapJson> = snaps
                    .iter()
                    .map(|s| SnapJson {
                        snapshot: s.name.clone(),
                        state: state(s.state),
                    })
                    .collect();
                print_json(format, &list)?;
            } else if !snaps.is_empty() {
                let rows: Vec<Vec<String>> = snaps
                    .iter()
                    .map(|s| vec![s.name.clone(), state(s.state).to_owned()])
                    .collect();
                print!("{}", table(&["NAME", "STATUS"], &[false, true], &rows));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
