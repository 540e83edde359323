//! `rbd-rs lock add|ls|rm` (src/tools/rbd/action/Lock.cc): advisory locks on an image.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::cmd::rbd::{ImageSpecArgs, Spec, open_pool, resolve};
use crate::cmd::rbd_format::table;
use crate::cmd::rbd_open::with_image_rw;
use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;
use crate::output::Format;

/// `lock` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LockArgs {
    /// Take a lock on an image (exclusive, or shared with `--shared TAG`).
    Add {
        #[command(flatten)]
        spec: Positional,
        /// Unique lock id.
        lock_id: String,
        /// Shared lock tag.
        #[arg(long = "shared", value_name = "TAG")]
        shared: Option<String>,
    },
    /// Show the locks held on an image.
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        spec: ImageSpecArgs,
    },
    /// Release (break) a lock on an image.
    #[command(alias = "remove")]
    Rm {
        #[command(flatten)]
        spec: Positional,
        /// Lock id.
        lock_id: String,
        /// Locker client (`client.N`).
        locker: String,
    },
}

/// An image spec that comes before other positional arguments (so it is required).
#[derive(Debug, Clone, clap::Args)]
pub struct Positional {
    /// `[pool/[namespace/]]image`.
    #[arg(value_name = "IMAGE_SPEC")]
    pub spec: String,
    /// Pool (default `rbd`).
    #[arg(short = 'p', long = "pool")]
    pub pool: Option<String>,
    /// Namespace.
    #[arg(long = "namespace")]
    pub namespace: Option<String>,
}

impl Positional {
    /// The spec with the options filled in.
    pub fn resolve(&self) -> Result<Spec, CliError> {
        resolve(
            Some(&self.spec),
            self.pool.as_deref(),
            self.namespace.as_deref(),
            None,
        )
    }
}

#[derive(Serialize)]
struct LockJson<'a> {
    id: &'a str,
    locker: &'a str,
    address: &'a str,
}

/// Runs one `lock` subcommand.
pub async fn run(global: &GlobalArgs, args: LockArgs) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = run_on(&rados, global.format, args).await;
    rados.shutdown().await;
    r
}

fn print_json<T: Serialize>(format: Format, v: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if format == Format::JsonPretty {
        serde_json::to_writer_pretty(&mut out, v)?;
    } else {
        serde_json::to_writer(&mut out, v)?;
    }
    writeln!(out)?;
    Ok(())
}

/// rbd's message for a failed command, and its errno as the exit status.
fn failed(what: &str, e: &rbd::Error) -> ExitCode {
    let errno = e.errno();
    eprintln!("rbd-rs: {what}: {e}");
    errno_exit(errno)
}

async fn run_on(
    rados: &rados::Rados,
    format: Format,
    args: LockArgs,
) -> Result<ExitCode, CliError> {
    match args {
        LockArgs::Ls { spec } => {
            let spec = spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            let image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
            let l = match image.list_lockers().await {
                Ok(l) => l,
                Err(e) => return Ok(failed("listing locks failed", &e)),
            };
            if format != Format::Plain {
                let json: Vec<LockJson<'_>> = l
                    .lockers
                    .iter()
                    .map(|x| LockJson {
                        id: &x.cookie,
                        locker: &x.client,
                        address: &x.address,
                    })
                    .collect();
                print_json(format, &json)?;
            } else if !l.lockers.is_empty() {
                print!("{}", lock_listing(&l));
            }
            Ok(ExitCode::SUCCESS)
        }
        LockArgs::Add {
            spec,
            lock_id,
            shared,
        } => {
            let spec = spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            let r = with_image_rw(&pool, &spec.image, async |image| {
                Ok(match &shared {
                    Some(tag) => image.lock_shared(&lock_id, tag).await,
                    None => image.lock_exclusive(&lock_id).await,
                })
            })
            .await?;
            match r {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) if e.is(rados::Errno::EBUSY) || e.is(rados::Errno::EEXIST) => {
                    if shared.is_some() {
                        eprintln!(
                            "rbd-rs: lock is already held by someone else with a different tag"
                        );
                    } else {
                        eprintln!("rbd-rs: lock is already held by someone else");
                    }
                    Ok(errno_exit(e.errno()))
                }
                Err(e) => Ok(failed("taking lock failed", &e)),
            }
        }
        LockArgs::Rm {
            spec,
            lock_id,
            locker,
        } => {
            let spec = spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            let r = with_image_rw(&pool, &spec.image, async |image| {
                Ok(image.break_lock(&locker, &lock_id).await)
            })
            .await?;
            match r {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => Ok(failed("releasing lock failed", &e)),
            }
        }
    }
}

/// `rbd lock ls` in plain text: a sentence, the tag of shared locks, a table.
pub fn lock_listing(l: &rbd::advisory_lock::Lockers) -> String {
    let n = l.lockers.len();
    let one = n == 1;
    let mut out = format!(
        "There {} {n} {} lock{} on this image.\n",
        if one { "is" } else { "are" },
        if l.exclusive { "exclusive" } else { "shared" },
        if one { "" } else { "s" },
    );
    if !l.exclusive {
        out.push_str(&format!("Lock tag: {}\n", l.tag));
    }
    let rows: Vec<Vec<String>> = l
        .lockers
        .iter()
        .map(|x| vec![x.client.clone(), x.cookie.clone(), x.address.clone()])
        .collect();
    out.push_str(&table(
        &["Locker", "ID", "Address"],
        &[false, false, false],
        &rows,
    ));
    out
}
