//! `rbd-rs config pool|image get|set|remove|list` (src/tools/rbd/action/Config.cc):
//! pool- and image-level overrides of librbd options, with rbd's messages and exit
//! statuses.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::cmd::rbd::{open_pool, resolve};
use crate::cmd::rbd_format::table;
use crate::cmd::rbd_open::with_image;
use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;
use crate::output::Format;

/// `config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigArgs {
    /// Pool-level overrides.
    #[command(subcommand)]
    Pool(ConfigPoolArgs),
    /// Image-level overrides.
    #[command(subcommand)]
    Image(ConfigImageArgs),
}

/// `config pool get|set|remove|list`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigPoolArgs {
    /// The pool's override of an option.
    Get {
        /// Pool.
        pool: String,
        /// Option (`rbd_*`).
        key: String,
    },
    /// Sets a pool-level override.
    Set {
        /// Pool.
        pool: String,
        /// Option (`rbd_*`).
        key: String,
        /// Value.
        value: String,
    },
    /// Removes a pool-level override.
    #[command(alias = "rm")]
    Remove {
        /// Pool.
        pool: String,
        /// Option (`rbd_*`).
        key: String,
    },
    /// Every librbd option with its value for the pool and where it comes from.
    #[command(alias = "ls")]
    List {
        /// Pool.
        pool: String,
    },
}

/// `config image get|set|remove|list`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigImageArgs {
    /// The image's override of an option.
    Get {
        /// `[pool/[namespace/]]image`.
        spec: String,
        /// Option (`rbd_*`).
        key: String,
    },
    /// Sets an image-level override.
    Set {
        /// `[pool/[namespace/]]image`.
        spec: String,
        /// Option (`rbd_*`).
        key: String,
        /// Value.
        value: String,
    },
    /// Removes an image-level override.
    #[command(alias = "rm")]
    Remove {
        /// `[pool/[namespace/]]image`.
        spec: String,
        /// Option (`rbd_*`).
        key: String,
    },
    /// Every option images may override, its value for the image and where it comes from.
    #[command(alias = "ls")]
    List {
        /// `[pool/[namespace/]]image`.
        spec: String,
    },
}

/// Runs one `config` subcommand.
pub async fn run(global: &GlobalArgs, args: ConfigArgs) -> Result<ExitCode, CliError> {
    // rbd checks the key before it connects
    let key = match &args {
        ConfigArgs::Pool(
            ConfigPoolArgs::Get { key, .. }
            | ConfigPoolArgs::Set { key, .. }
            | ConfigPoolArgs::Remove { key, .. },
        )
        | ConfigArgs::Image(
            ConfigImageArgs::Get { key, .. }
            | ConfigImageArgs::Set { key, .. }
            | ConfigImageArgs::Remove { key, .. },
        ) => Some(key.as_str()),
        _ => None,
    };
    if let Some(key) = key {
        if !key.starts_with("rbd_") {
            eprintln!("rbd: not rbd option: {key}");
            return Ok(errno_exit(-22));
        }
        if !rbd::config::is_option_name(key) {
            eprintln!("rbd: invalid config key: {key}");
            return Ok(errno_exit(-22));
        }
    }
    let rados = global.connect().await?;
    let r = match args {
        ConfigArgs::Pool(a) => pool(&rados, global.format, a).await,
        ConfigArgs::Image(a) => image(&rados, global.format, a).await,
    };
    rados.shutdown().await;
    r
}

async fn pool(
    rados: &rados::Rados,
    format: Format,
    a: ConfigPoolArgs,
) -> Result<ExitCode, CliError> {
    match a {
        ConfigPoolArgs::Get { pool, key } => {
            let r = open_pool(rados, &pool, "").await?.config_get(&key).await;
            got(&key, r)
        }
        ConfigPoolArgs::Set { pool, key, value } => {
            let r = open_pool(rados, &pool, "")
                .await?
                .config_set(&key, &value)
                .await;
            done("set", &key, r)
        }
        ConfigPoolArgs::Remove { pool, key } => {
            let r = open_pool(rados, &pool, "").await?.config_remove(&key).await;
            done("remove", &key, r)
        }
        ConfigPoolArgs::List { pool } => {
            let list = open_pool(rados, &pool, "").await?.config_list().await;
            listing(list, format, false)
        }
    }
}

async fn image(
    rados: &rados::Rados,
    format: Format,
    a: ConfigImageArgs,
) -> Result<ExitCode, CliError> {
    let open = |spec: String, mode| async move {
        let s = resolve(Some(&spec), None, None, None)?;
        let pool = open_pool(rados, &s.pool, &s.namespace).await?;
        Ok::<_, CliError>(pool.open(&s.image, mode).await?)
    };
    match a {
        ConfigImageArgs::Get { spec, key } => {
            let img = open(spec, rbd::OpenMode::ReadOnly).await?;
            got(&key, img.config_get(&key).await)
        }
        ConfigImageArgs::Set { spec, key, value } => {
            let img = open(spec, rbd::OpenMode::ReadWrite).await?;
            let r = with_image(img, async |img| Ok(img.config_set(&key, &value).await)).await?;
            done("set", &key, r)
        }
        ConfigImageArgs::Remove { spec, key } => {
            let img = open(spec, rbd::OpenMode::ReadWrite).await?;
            let r = with_image(img, async |img| Ok(img.config_remove(&key).await)).await?;
            done("remove", &key, r)
        }
        ConfigImageArgs::List { spec } => {
            let img = open(spec, rbd::OpenMode::ReadOnly).await?;
            listing(img.config_list().await, format, true)
        }
    }
}

/// `get`: the value, or rbd's "is not set" / "failed to get" message.
fn got(key: &str, r: rbd::Result<String>) -> Result<ExitCode, CliError> {
    match r {
        Ok(v) => {
            println!("{v}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if e.is(rados::Errno::ENOENT) {
                eprintln!("rbd: {key} is not set");
            } else {
                eprintln!("rbd: failed to get {key}: {e}");
            }
            Ok(errno_exit(e.errno()))
        }
    }
}

/// `set` / `remove`: rbd's "failed to <what> <key>: (errno) text" on failure.
fn done(what: &str, key: &str, r: rbd::Result<()>) -> Result<ExitCode, CliError> {
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            let text = match e.errno() {
                -2 => "No such file or directory",
                -22 => "Invalid argument",
                _ => "",
            };
            if text.is_empty() {
                eprintln!("rbd: failed to {what} {key}: {e}");
            } else {
                eprintln!("rbd: failed to {what} {key}: ({}) {text}", -e.errno());
            }
            Ok(errno_exit(e.errno()))
        }
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    value: &'a str,
    source: &'static str,
}

fn listing(
    list: rbd::Result<Vec<rbd::ConfigOption>>,
    format: Format,
    count_line: bool,
) -> Result<ExitCode, CliError> {
    let list = match list {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rbd: failed to list config: {e}");
            return Ok(errno_exit(e.errno()));
        }
    };
    let entries: Vec<Entry<'_>> = list
        .iter()
        .map(|o| Entry {
            name: &o.name,
            value: &o.value,
            source: o.source.as_str(),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        Format::Plain => {
            if count_line {
                writeln!(out, "There are {} values:", entries.len())?;
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| vec![e.name.to_owned(), e.value.to_owned(), e.source.to_owned()])
                .collect();
            write!(
                out,
                "{}",
                table(&["Name", "Value", "Source"], &[false, false, false], &rows)
            )?;
        }
        Format::JsonPretty => {
            serde_json::to_writer_pretty(&mut out, &entries)?;
            writeln!(out)?;
        }
        _ => {
            serde_json::to_writer(&mut out, &entries)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
