//! `rbd-rs lspools`, `mkpool` and `rmpool`, as `rados lspools` prints pools and as the
//! `rados mkpool` / `rmpool` of earlier releases took their arguments and answered
//! (src/tools/rados/rados.cc): `mkpool NAME [AUID [CRUSH_RULE]]` prints `successfully
//! created pool NAME`; `rmpool NAME NAME --yes-i-really-really-mean-it` prints
//! `successfully deleted pool NAME` and refuses with a warning otherwise.

use std::io::Write;
use std::process::ExitCode;

use rados::Rados;

use crate::error::CliError;
use crate::global::GlobalArgs;

/// `mkpool` arguments.
#[derive(Debug, clap::Args)]
pub struct MkpoolArgs {
    /// The new pool's name.
    #[arg(value_name = "POOL-NAME")]
    pub pool_name: String,
    /// Owner id (ignored since Nautilus; accepted for compatibility).
    pub auid: Option<i64>,
    /// CRUSH rule id.
    pub crush_rule: Option<i16>,
}

/// `rmpool` arguments.
#[derive(Debug, clap::Args)]
pub struct RmpoolArgs {
    /// The pool.
    #[arg(value_name = "POOL-NAME")]
    pub pool_name: String,
    /// The pool again, to confirm.
    #[arg(value_name = "POOL-NAME")]
    pub confirm: Option<String>,
    /// Confirms that the pool and all its objects are to be destroyed.
    #[arg(long = "yes-i-really-really-mean-it")]
    pub really: bool,
}

/// `lspools`: one pool name per line.
pub fn print_pools(rados: &Rados) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for (_, name) in rados.pool_list() {
        writeln!(out, "{name}")?;
    }
    out.flush()?;
    Ok(())
}

/// `mkpool`.
pub async fn mkpool(rados: &Rados, a: MkpoolArgs) -> Result<Result<(), ()>, CliError> {
    if let Some(auid) = a.auid {
        eprintln!("setting auid:{auid}");
    }
    let created = match a.crush_rule {
        Some(rule) => {
            eprintln!("using crush rule {rule}");
            rados.create_pool_with_rule(&a.pool_name, rule).await
        }
        None => rados.create_pool(&a.pool_name).await,
    };
    match created {
        Ok(_) => {
            println!("successfully created pool {}", a.pool_name);
            Ok(Ok(()))
        }
        Err(e) => {
            eprintln!(
                "error creating pool {}: {}",
                a.pool_name,
                e.kind().cpp_strerror()
            );
            Ok(Err(()))
        }
    }
}

/// `rmpool`.
pub async fn rmpool(rados: &Rados, a: RmpoolArgs) -> Result<Result<(), ()>, CliError> {
    if a.confirm.as_deref() != Some(a.pool_name.as_str()) || !a.really {
        eprintln!(
            "WARNING:\n  This will PERMANENTLY DESTROY an entire pool of objects with no way back.\n  To confirm, pass the pool to remove twice, followed by\n  --yes-i-really-really-mean-it"
        );
        return Ok(Err(()));
    }
    match rados.delete_pool(&a.pool_name).await {
        Ok(()) => {
            println!("successfully deleted pool {}", a.pool_name);
            Ok(Ok(()))
        }
        Err(_) => {
            eprintln!("pool {} could not be removed", a.pool_name);
            Ok(Err(()))
        }
    }
}

/// Runs one of the three as a top-level command.
pub async fn run(global: &GlobalArgs, cmd: PoolCmd) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let outcome = match cmd {
        PoolCmd::Lspools => print_pools(&rados).map(Ok),
        PoolCmd::Mkpool(a) => mkpool(&rados, a).await,
        PoolCmd::Rmpool(a) => rmpool(&rados, a).await,
    };
    rados.shutdown().await;
    Ok(match outcome? {
        Ok(()) => ExitCode::SUCCESS,
        Err(()) => ExitCode::FAILURE,
    })
}

/// The pool commands.
#[derive(Debug)]
pub enum PoolCmd {
    /// `lspools`.
    Lspools,
    /// `mkpool`.
    Mkpool(MkpoolArgs),
    /// `rmpool`.
    Rmpool(RmpoolArgs),
}
