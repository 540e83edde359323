//! `rbd-rs crush test -i MAP --num-rep N [--rule R] [--min-x A --max-x B | --x X]
//! [--pool-id P] [--weight OSD W]... --show-mappings`: CRUSH placements computed by our mapper,
//! printed exactly as `crushtool -i MAP --test ... --show-mappings` prints them
//! (src/crush/CrushTester.cc): for each rule, for each replica count, one
//! `CRUSH rule R x X [a,b,c]` line per input.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use crush::CrushMap;

use crate::error::CliError;
use crate::global::GlobalArgs;

/// `crush` subcommands.
#[derive(Debug, Subcommand)]
pub enum Args {
    /// Map inputs through the rules of a CRUSH map (like `crushtool --test`).
    Test(TestArgs),
}

/// Arguments of `crush test`, spelled as crushtool's.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The binary CRUSH map (as `ceph osd getcrushmap -o` or `crushtool -c` writes it).
    #[arg(short = 'i', long = "infn", value_name = "MAP")]
    input: PathBuf,
    /// Only this rule (default: every rule).
    #[arg(long)]
    rule: Option<i32>,
    /// Replica count.
    #[arg(long = "num-rep", alias = "num_rep")]
    num_rep: Option<usize>,
    /// Smallest replica count (with --max-rep instead of --num-rep).
    #[arg(long = "min-rep", alias = "min_rep")]
    min_rep: Option<usize>,
    /// Largest replica count.
    #[arg(long = "max-rep", alias = "max_rep")]
    max_rep: Option<usize>,
    /// First input (with --max-x; without both, 0..=1023 as crushtool does).
    #[arg(long = "min-x", alias = "min_x")]
    min_x: Option<u32>,
    /// Last input (with --min-x).
    #[arg(long = "max-x", alias = "max_x")]
    max_x: Option<u32>,
    /// A single input.
    #[arg(long, conflicts_with_all = ["min_x", "max_x"])]
    x: Option<u32>,
    /// Hash inputs with this pool id, as hashpspool pools do.
    #[arg(long = "pool-id", alias = "pool_id")]
    pool_id: Option<i64>,
    /// Override a device's weight (0.0 to 1.0); may be repeated.
    #[arg(long, num_args = 2, value_names = ["OSD", "WEIGHT"], action = clap::ArgAction::Append)]
    weight: Vec<String>,
    /// Print every mapping (the only output rbd-rs produces; required, as with crushtool).
    #[arg(long = "show-mappings", alias = "show_mappings")]
    show_mappings: bool,
}

/// Runs a `crush` subcommand (no cluster needed).
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, CliError> {
    let Args::Test(args) = args;
    if !args.show_mappings {
        return Err(CliError::Usage(
            "crush test prints mappings only: pass --show-mappings",
        ));
    }
    let (min_rep, max_rep) = match (args.num_rep, args.min_rep, args.max_rep) {
        (Some(n), _, _) => (n, n),
        (None, Some(lo), Some(hi)) => (lo, hi),
        _ => {
            return Err(CliError::Usage(
                "must specify --num-rep or both --min-rep and --max-rep",
            ));
        }
    };
    // as crushtool: unless both ends are given, the range is 0..=1023
    let (min_x, max_x) = match (args.x, args.min_x, args.max_x) {
        (Some(x), _, _) => (x, x),
        (None, Some(lo), Some(hi)) => (lo, hi),
        _ => (0, 1023),
    };
    let mut weights = Vec::new();
    for pair in args.weight.chunks(2) {
        let [osd, weight] = pair else {
            return Err(CliError::Usage("--weight takes an OSD id and a weight"));
        };
        let osd: i32 = osd
            .parse()
            .map_err(|_| CliError::Usage("--weight: bad OSD id"))?;
        let weight: f64 = weight
            .parse()
            .map_err(|_| CliError::Usage("--weight: bad weight"))?;
        weights.push((osd, weight));
    }
    let bytes = std::fs::read(&args.input).map_err(|source| CliError::File {
        path: args.input.clone(),
        source,
    })?;
    let map = CrushMap::decode_from(&bytes)?;
    let rules: Vec<i32> = match args.rule {
        Some(r) => vec![r],
        None => map.rules().map(|(id, _)| id).collect(),
    };
    let mut out = std::io::stdout().lock();
    for rule in rules {
        for num_rep in min_rep..=max_rep {
            let lines = crush::crushtool::test_mappings(
                &map,
                rule,
                num_rep,
                min_x,
                max_x,
                args.pool_id,
                &weights,
            )?;
            for line in lines {
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
