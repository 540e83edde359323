//! `rbd-rs osdmap map-object|map-pgs -i OSDMAP --pool ID`: placement from an OSDMap file (as
//! written by `ceph osd getmap -o FILE`), printing the mapping lines `osdmaptool` prints for
//! `--test-map-object NAME --pool ID` and `--test-map-pgs-dump-all --pool ID`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use osdmap::OsdMap;

use crate::error::CliError;
use crate::global::GlobalArgs;

/// `osdmap` subcommands.
#[derive(Debug, Subcommand)]
pub enum Args {
    /// The PG and acting set of an object (`osdmaptool --test-map-object`).
    MapObject {
        /// The OSDMap file.
        #[arg(short = 'i', long = "input", value_name = "OSDMAP")]
        input: PathBuf,
        /// Pool id.
        #[arg(long)]
        pool: i64,
        /// Object name.
        name: String,
    },
    /// Every PG of a pool: raw, up and acting sets (`osdmaptool --test-map-pgs-dump-all`).
    MapPgs {
        /// The OSDMap file.
        #[arg(short = 'i', long = "input", value_name = "OSDMAP")]
        input: PathBuf,
        /// Pool id.
        #[arg(long)]
        pool: i64,
    },
}

fn load(path: &PathBuf) -> Result<OsdMap, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::File {
        path: path.clone(),
        source,
    })?;
    Ok(OsdMap::from_bytes(&bytes)?)
}

/// Runs an `osdmap` subcommand (no cluster needed).
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, CliError> {
    let mut out = std::io::stdout().lock();
    match args {
        Args::MapObject { input, pool, name } => {
            let map = load(&input)?;
            writeln!(out, "{}", map.test_map_object_line(pool, &name)?)?;
        }
        Args::MapPgs { input, pool } => {
            let map = load(&input)?;
            for line in map.pg_dump_all(pool)? {
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
