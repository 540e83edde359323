//! `rbd-rs trash mv|ls|rm|restore|purge` (src/tools/rbd/action/Trash.cc).

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use rbd::cls::trash::TrashSource;

use crate::cmd::rbd::{open_pool, open_pool_to_free};
use crate::cmd::rbd_format::{ctime, table};
use crate::cmd::rbd_lock::Positional;
use crate::cmd::rbd_progress::Progress;
use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;
use crate::output::Format;

/// `trash` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TrashArgs {
    /// Move an image to the trash.
    #[command(alias = "move")]
    Mv {
        #[command(flatten)]
        spec: Positional,
        /// When it may be purged (any `date -d` text; default now).
        #[arg(long = "expires-at", default_value = "now")]
        expires_at: String,
    },
    /// List the trash of a pool.
    #[command(alias = "list")]
    Ls {
        /// `pool[/namespace]`.
        #[arg(value_name = "POOL_SPEC")]
        pool_spec: Option<String>,
        /// Pool.
        #[arg(short = 'p', long = "pool")]
        pool: Option<String>,
        /// Namespace.
        #[arg(long = "namespace")]
        namespace: Option<String>,
        /// Also images not moved by a user.
        #[arg(short = 'a', long = "all")]
        all: bool,
        /// Long listing.
        #[arg(short = 'l', long = "long")]
        long: bool,
    },
    /// Remove an image from the trash, with its data.
    #[command(alias = "remove")]
    Rm {
        /// `[pool/[namespace/]]image-id`.
        #[command(flatten)]
        spec: Positional,
        /// Even before its deferment ends.
        #[arg(long = "force")]
        force: bool,
        /// No progress output.
        #[arg(long = "no-progress")]
        no_progress: bool,
    },
    /// Restore an image from the trash.
    Restore {
        /// `[pool/[namespace/]]image-id`.
        #[command(flatten)]
        spec: Positional,
        /// A new name (default: its old one).
        #[arg(long = "image")]
        image: Option<String>,
    },
    /// Remove every expired image from the trash.
    Purge {
        /// `pool[/namespace]`.
        #[arg(value_name = "POOL_SPEC")]
        pool_spec: Option<String>,
        /// Pool.
        #[arg(short = 'p', long = "pool")]
        pool: Option<String>,
        /// Namespace.
        #[arg(long = "namespace")]
        namespace: Option<String>,
        /// Those expired before this (any `date -d` text).
        #[arg(long = "expired-before")]
        expired_before: Option<String>,
        /// Also purge images until the pool's data usage is down to this (0.0-1.0).
        #[arg(long = "threshold")]
        threshold: Option<f32>,
        /// No progress output.
        #[arg(long = "no-progress")]
        no_progress: bool,
    },
}

/// Runs one `trash` subcommand.
pub async fn run(global: &GlobalArgs, args: TrashArgs) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = run_on(&rados, global.format, args).await;
    rados.shutdown().await;
    r
}

/// `utime_t::invoke_date`: what `/bin/date -d TEXT +%s.%N` says, in nanoseconds.
fn invoke_date(text: &str) -> Result<i128, CliError> {
    let out = std::process::Command::new("date")
        .args(["-d", text, "+%s.%N"])
        .output()
        .map_err(|e| CliError::File {
            path: "date".into(),
            source: e,
        })?;
    let s = String::from_utf8_lossy(&out.stdout);
    let (sec, nsec) = s.trim().split_once('.').unwrap_or((s.trim(), "0"));
    match (sec.parse::<i128>(), nsec.parse::<i128>()) {
        (Ok(a), Ok(b)) if out.status.success() => Ok(a * 1_000_000_000 + b),
        _ => Err(CliError::Usage(
            "rbd: error calling /bin/date: invalid date",
        )),
    }
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0))
}

fn pool_of(spec: Option<String>, pool: Option<String>, ns: Option<String>) -> (String, String) {
    match spec.as_deref().map(|s| s.split_once('/')) {
        Some(Some((p, n))) => (p.to_owned(), n.to_owned()),
        Some(None) => (spec.unwrap_or_default(), ns.unwrap_or_default()),
        None => (pool.unwrap_or_else(|| "rbd".into()), ns.unwrap_or_default()),
    }
}

fn source_name(s: TrashSource) -> String {
    s.name().to_uppercase()
}

fn status(end: u64) -> String {
    let now = u64::try_from(now_nanos() / 1_000_000_000).unwrap_or(0);
    let t = ctime(u32::try_from(end).unwrap_or(u32::MAX));
    if now < end {
        format!("protected until {t}")
    } else {
        format!("expired at {t}")
    }
}

/// Our reason, then `rbd: <msg>(errno) text` as `rbd` prints it.
fn fail(msg: &str, e: &rbd::Error) -> ExitCode {
    let errno = e.errno();
    eprintln!("rbd-rs: {e}");
    eprintln!(
        "rbd: {msg}{}",
        rados::Errno(errno.saturating_neg()).cpp_strerror()
    );
    errno_exit(errno)
}

async fn run_on(
    rados: &rados::Rados,
    format: Format,
    args: TrashArgs,
) -> Result<ExitCode, CliError> {
    match args {
        TrashArgs::Mv { spec, expires_at } => {
            let spec = spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            let now = now_nanos();
            let exp = invoke_date(&expires_at)?;
            // (exp_time - now).sec(): whole seconds, rounded down
            let dt = (exp - now).div_euclid(1_000_000_000);
            if dt < 0 {
                eprintln!("rbd-rs: cannot use a date in the past as an expiration date");
                return Ok(errno_exit(-22));
            }
            if let Err(e) = pool
                .trash_move(&spec.image, u64::try_from(dt).unwrap_or(0))
                .await
            {
                // Tentacle's rbd names the group case (action/Trash.cc execute_move)
                if let rbd::Error::ImageInGroup(_) = e {
                    eprintln!("rbd: error: image belongs to a group");
                    eprintln!("Remove the image from the group and try again.");
                    return Ok(errno_exit(e.errno()));
                }
                return Ok(fail("deferred delete error: ", &e));
            }
        }
        TrashArgs::Ls {
            pool_spec,
            pool,
            namespace,
            all,
            long,
        } => {
            let (p, ns) = pool_of(pool_spec, pool, namespace);
            let pool = open_pool(rados, &p, &ns).await?;
            let mut entries = pool.trash_list().await?;
            if !all {
                entries.retain(|e| matches!(e.source, TrashSource::User | TrashSource::UserParent));
            }
            // trash/list: the parent of each (a clone's), for -l
            let mut parents = Vec::with_capacity(entries.len());
            for e in entries.iter().filter(|_| long) {
                let parent = match pool.open_by_id(&e.id, rbd::OpenMode::ReadOnly).await {
                    Ok(image) => {
                        let p = image.parent_info().await;
                        image.close().await?;
                        p?
                    }
                    // removed meanwhile
                    Err(_) => None,
                };
                parents.push(parent);
            }
            ls(&entries, &parents, format, long)?;
        }
        TrashArgs::Rm {
            spec,
            force,
            no_progress,
        } => {
            let spec = spec.resolve()?;
            let pool = open_pool_to_free(rados, &spec.pool, &spec.namespace).await?;
            let progress = Progress::bar("Removing image", 0, no_progress);
            let removed = pool
                .trash_remove_with_progress(&spec.image, force, |done, total| {
                    progress.update(done, total)
                })
                .await;
            if let Err(e) = removed {
                drop(progress);
                if e.is(rados::Errno::EPERM) {
                    eprintln!(
                        "\nDeferment time has not expired, please use --force if you really \
                         want to remove the image"
                    );
                    return Ok(errno_exit(e.errno()));
                }
                return Ok(fail("remove error: ", &e));
            }
            progress.finish();
        }
        TrashArgs::Restore { spec, image } => {
            let spec = spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            if let Err(e) = pool
                .trash_restore(&spec.image, image.as_deref().unwrap_or(""))
                .await
            {
                if e.is(rados::Errno::ENOENT) {
                    eprintln!("rbd-rs: error: image does not exist in trash");
                    return Ok(errno_exit(e.errno()));
                }
                if e.is(rados::Errno::EEXIST) {
                    eprintln!(
                        "rbd-rs: error: an image with the same name already exists, \
                         try again with a different name"
                    );
                    return Ok(errno_exit(e.errno()));
                }
                return Ok(fail("restore error: ", &e));
            }
        }
        TrashArgs::Purge {
            pool_spec,
            pool,
            namespace,
            expired_before,
            threshold,
            no_progress,
        } => {
            let (p, ns) = pool_of(pool_spec, pool, namespace);
            let pool = open_pool_to_free(rados, &p, &ns).await?;
            // as rbd: a threshold makes --expired-before ignored
            let before = match expired_before.filter(|_| threshold.is_none()) {
                Some(t) => {
                    Some(u64::try_from(invoke_date(&t)?.div_euclid(1_000_000_000)).unwrap_or(0))
                }
                None => None,
            };
            let progress = Progress::bar("Removing images", 0, no_progress);
            let purged = pool
                .trash_purge_with_progress(before, threshold.map(f64::from), |done, total| {
                    progress.update(done, total)
                })
                .await;
            if let Err(e) = purged {
                drop(progress);
                if [
                    rados::Errno::ENOTEMPTY,
                    rados::Errno::EBUSY,
                    rados::Errno::EMLINK,
                    rados::Errno(117),
                ]
                .iter()
                .any(|&n| e.is(n))
                {
                    eprintln!(
                        "rbd: some expired images could not be removed\nEnsure that they are \
                         closed/unmapped, do not have snapshots (including trashed snapshots \
                         with linked clones), are not in a group and were moved to the trash \
                         successfully."
                    );
                } else {
                    eprintln!("rbd: {e}");
                }
                return Ok(errno_exit(e.errno()));
            }
            progress.finish();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A `trash ls -l` entry, fields in rbd's order.
#[derive(serde::Serialize)]
struct LongJson<'a> {
    id: &'a str,
    name: &'a str,
    source: String,
    deleted_at: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<ParentJson<'a>>,
}

/// A trashed clone's parent in `rbd trash ls -l --format json`.
#[derive(serde::Serialize)]
struct ParentJson<'a> {
    pool: &'a str,
    pool_namespace: &'a str,
    image: &'a str,
    snapshot: &'a str,
}

fn print_json<T: serde::Serialize>(format: Format, v: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if format == Format::JsonPretty {
        serde_json::to_writer_pretty(&mut out, v)?;
    } else {
        serde_json::to_writer(&mut out, v)?;
    }
    writeln!(out)?;
    Ok(())
}

/// `rbd trash ls [-l]`: `id name` lines, or a table with each clone's parent
/// (`parents`, one per entry with `long`).
fn ls(
    entries: &[rbd::TrashEntry],
    parents: &[Option<rbd::ParentImage>],
    format: Format,
    long: bool,
) -> Result<(), CliError> {
    if !long {
        if format == Format::Plain {
            let mut out = std::io::stdout().lock();
            for e in entries {
                writeln!(out, "{} {}", e.id, e.name)?;
            }
            return Ok(());
        }
        let v: Vec<_> = entries
            .iter()
            .map(|e| serde_json::json!({"id": e.id, "name": e.name}))
            .collect();
        return print_json(format, &v);
    }
    let deleted = |e: &rbd::TrashEntry| ctime(u32::try_from(e.deletion_time).unwrap_or(u32::MAX));
    if format != Format::Plain {
        let v: Vec<_> = entries
            .iter()
            .zip(parents)
            .map(|(e, p)| LongJson {
                id: &e.id,
                name: &e.name,
                source: source_name(e.source),
                deleted_at: deleted(e),
                status: status(e.deferment_end_time),
                parent: p.as_ref().map(|p| ParentJson {
                    pool: &p.pool_name,
                    pool_namespace: &p.pool_namespace,
                    image: &p.image_name,
                    snapshot: &p.snap_name,
                }),
            })
            .collect();
        return print_json(format, &v);
    }
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .zip(parents)
        .map(|(e, p)| {
            let parent = p.as_ref().map_or(String::new(), |p| {
                let ns = if p.pool_namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", p.pool_namespace)
                };
                format!("{}/{ns}{}@{}", p.pool_name, p.image_name, p.snap_name)
            });
            vec![
                e.id.clone(),
                e.name.clone(),
                source_name(e.source),
                deleted(e),
                status(e.deferment_end_time),
                parent,
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["ID", "NAME", "SOURCE", "DELETED_AT", "STATUS", "PARENT"],
            &[false; 6],
            &rows
        )
    );
    Ok(())
}
