//! `rbd-rs`: Ceph's `rbd` and `rados` tools, spelled the same, in pure Rust.
//!
//! `main` parses the command line (global options like Ceph's tools, then a subcommand from
//! [`cmd`]), sets up logging, runs the subcommand on a tokio runtime and exits with its
//! code (for cluster errors, the errno, as `ceph` does).

mod cmd;
mod error;
mod global;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cmd::Action;
use crate::error::CliError;
use crate::global::GlobalArgs;

/// Ceph's rbd and rados tools in pure Rust.
#[derive(Debug, Parser)]
#[command(name = "rbd-rs", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Action,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.global.init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rbd-rs: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(&cli.global, cli.command)) {
        Ok(code) => code,
        // the reader went away (`rbd-rs ... | head`): nothing left to say
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rbd-rs: {e}");
            e.exit_code()
        }
    }
}
