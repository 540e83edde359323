//! `rbd-rs namespace create|ls|rm` (src/tools/rbd/action/Namespace.cc).

use std::io::Write;
use std::process::ExitCode;

use crate::cmd::rbd::open_pool;
use crate::cmd::rbd_format::table;
use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;
use crate::output::Format;

/// `[pool/]namespace` and its options.
#[derive(Debug, Clone, clap::Args)]
pub struct NamespaceSpec {
    /// `[pool/]namespace` (`pool` alone for `ls`).
    #[arg(value_name = "SPEC")]
    spec: Option<String>,
    /// Pool (default `rbd`).
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Namespace.
    #[arg(long = "namespace")]
    namespace: Option<String>,
}

impl NamespaceSpec {
    /// (pool, namespace); for `ls` a lone word is the pool.
    fn split(&self, lone_is_pool: bool) -> (String, String) {
        let (mut pool, mut ns) = (self.pool.clone(), self.namespace.clone());
        match self.spec.as_deref().map(|s| s.split_once('/')) {
            Some(Some((p, n))) => {
                pool = Some(p.to_owned());
                ns = Some(n.to_owned());
            }
            Some(None) if lone_is_pool => pool = self.spec.clone(),
            Some(None) => ns = self.spec.clone(),
            None => {}
        }
        (pool.unwrap_or_else(|| "rbd".into()), ns.unwrap_or_default())
    }
}

/// `namespace` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum NamespaceArgs {
    /// Create a namespace.
    Create(NamespaceSpec),
    /// List the namespaces of a pool.
    #[command(alias = "list")]
    Ls(NamespaceSpec),
    /// Remove an empty namespace.
    #[command(alias = "remove")]
    Rm(NamespaceSpec),
}

/// Runs one `namespace` subcommand.
pub async fn run(global: &GlobalArgs, args: NamespaceArgs) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = run_on(&rados, global.format, args).await;
    rados.shutdown().await;
    r
}

async fn run_on(
    rados: &rados::Rados,
    format: Format,
    args: NamespaceArgs,
) -> Result<ExitCode, CliError> {
    match args {
        NamespaceArgs::Create(spec) | NamespaceArgs::Rm(spec) if spec.split(false).1.is_empty() => {
            eprintln!("rbd-rs: namespace name was not specified");
            Ok(errno_exit(-22))
        }
        NamespaceArgs::Create(spec) => {
            let (pool, ns) = spec.split(false);
            let pool = open_pool(rados, &pool, "").await?;
            match pool.namespace_create(&ns).await {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("rbd-rs: failed to created namespace: {e}");
                    Ok(errno_exit(e.errno()))
                }
            }
        }
        NamespaceArgs::Rm(spec) => {
            let (pool, ns) = spec.split(false);
            let pool = open_pool(rados, &pool, "").await?;
            match pool.namespace_remove(&ns).await {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    if e.is(rados::Errno::EBUSY) {
                        eprintln!("rbd-rs: namespace contains images which must be deleted first.");
                    } else if e.is(rados::Errno::ENOENT) {
                        eprintln!("rbd-rs: namespace does not exist.");
                    } else {
                        eprintln!("rbd-rs: failed to remove namespace: {e}");
                    }
                    Ok(errno_exit(e.errno()))
                }
            }
        }
        NamespaceArgs::Ls(spec) => {
            let (pool, _) = spec.split(true);
            let pool = open_pool(rados, &pool, "").await?;
            let mut names = pool.namespace_list().await?;
            names.sort();
            let mut out = std::io::stdout().lock();
            if format != Format::Plain {
                let v: Vec<_> = names
                    .iter()
                    .map(|n| serde_json::json!({ "name": n }))
                    .collect();
                if format == Format::JsonPretty {
                    serde_json::to_writer_pretty(&mut out, &v)?;
                } else {
                    serde_json::to_writer(&mut out, &v)?;
                }
                writeln!(out)?;
            } else if !names.is_empty() {
                let rows: Vec<Vec<String>> = names.into_iter().map(|n| vec![n]).collect();
                write!(out, "{}", table(&["NAME"], &[false], &rows))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
