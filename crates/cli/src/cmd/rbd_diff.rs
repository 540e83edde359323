//! `rbd-rs diff`, `export-diff` and `import-diff` (src/tools/rbd/action/Diff.cc,
//! Export.cc, Import.cc): changed extents since a snapshot, and the diff streams that
//! carry them between images.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::cmd::rbd::{ImageSpecArgs, Spec, open_pool, print_json, resolve};
use crate::cmd::rbd_format::table;
use crate::cmd::rbd_open::with_image_rw;
use crate::cmd::rbd_progress::Progress;
use crate::cmd::rbd_snap::split_snap;
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output::Format;

/// `diff` arguments.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// Snapshot name (the end of the diff).
    #[arg(long = "snap")]
    snap: Option<String>,
    /// Snapshot starting point.
    #[arg(long = "from-snap")]
    from_snap: Option<String>,
    /// Compare whole objects.
    #[arg(long = "whole-object")]
    whole_object: bool,
}

/// `export-diff` arguments.
#[derive(Debug, clap::Args)]
pub struct ExportDiffArgs {
    /// Source `[pool/[namespace/]]image[@snap]`.
    #[arg(value_name = "IMAGE_SPEC")]
    spec: String,
    /// Export file (`-` for stdout).
    #[arg(value_name = "PATH")]
    path: String,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Snapshot starting point.
    #[arg(long = "from-snap")]
    from_snap: Option<String>,
    /// Compare whole objects.
    #[arg(long = "whole-object")]
    whole_object: bool,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// `import-diff` arguments.
#[derive(Debug, clap::Args)]
pub struct ImportDiffArgs {
    /// Import file (`-` for stdin).
    #[arg(value_name = "PATH")]
    path: String,
    /// Destination `[pool/[namespace/]]image`.
    #[arg(value_name = "IMAGE_SPEC")]
    spec: String,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Sparse size (accepted; 4 KiB blocks of zeros are zeroed, not written).
    #[arg(long = "sparse-size")]
    sparse_size: Option<String>,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// The diff commands.
#[derive(Debug)]
pub enum DiffCmd {
    /// `diff`.
    Diff(DiffArgs),
    /// `export-diff`.
    Export(ExportDiffArgs),
    /// `import-diff`.
    Import(ImportDiffArgs),
}

#[derive(Serialize)]
struct ExtentJson {
    offset: u64,
    length: u64,
    exists: &'static str,
}

fn spec_and_snap(spec: &str, pool: Option<&str>) -> Result<(Spec, Option<String>), CliError> {
    let (img, snap) = split_snap(spec);
    Ok((
        resolve(Some(img), pool, None, None)?,
        snap.map(str::to_owned),
    ))
}

fn file_err(path: &str) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::File {
        path: PathBuf::from(path),
        source,
    }
}

async fn diff(rados: &rados::Rados, format: Format, a: DiffArgs) -> Result<(), CliError> {
    let (img, snap) = match a.spec.spec.as_deref() {
        Some(s) => {
            let (i, sn) = split_snap(s);
            (Some(i), sn.map(str::to_owned))
        }
        None => (None, None),
    };
    let spec = resolve(
        img,
        a.spec.pool.as_deref(),
        a.spec.namespace.as_deref(),
        a.spec.image.as_deref(),
    )?;
    let snap = snap.or(a.snap);
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    let mut image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
    image.set_snap(snap.as_deref()).await?;
    let extents = match image
        .diff(
            a.from_snap.as_deref(),
            0,
            image.size(),
            true,
            a.whole_object,
        )
        .await
    {
        Ok(e) => e,
        Err(e) => {
            // rbd has opened (and closes) the JSON array before it fails
            if format != Format::Plain {
                print_json(format, &Vec::<ExtentJson>::new())?;
            }
            return Err(e.into());
        }
    };
    if format == Format::Plain {
        if !extents.is_empty() {
            let rows: Vec<Vec<String>> = extents
                .iter()
                .map(|e| {
                    vec![
                        e.offset.to_string(),
                        e.length.to_string(),
                        if e.exists { "data" } else { "zero" }.to_owned(),
                    ]
                })
                .collect();
            print!("{}", table(&["Offset", "Length", "Type"], &[], &rows));
        }
    } else {
        let v: Vec<ExtentJson> = extents
            .iter()
            .map(|e| ExtentJson {
                offset: e.offset,
                length: e.length,
                exists: if e.exists { "true" } else { "false" },
            })
            .collect();
        print_json(format, &v)?;
    }
    Ok(())
}

async fn export_diff(rados: &rados::Rados, a: ExportDiffArgs) -> Result<(), CliError> {
    let (spec, snap) = spec_and_snap(&a.spec, a.pool.as_deref())?;
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    let mut image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
    image.set_snap(snap.as_deref()).await?;
    let progress = Progress::bar("Exporting image", image.size(), a.no_progress);
    let to_stdout = a.path == "-";
    let out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&a.path)
            .map_err(file_err(&a.path))?;
        Box::new(std::io::BufWriter::new(f))
    };
    let r = image
        .export_diff(a.from_snap.as_deref(), a.whole_object, 1, out, |d, _| {
            progress.set(d)
        })
        .await;
    match r {
        Ok(_) => {
            progress.finish();
            Ok(())
        }
        Err(e) => {
            if !to_stdout {
                let _ = std::fs::remove_file(&a.path);
            }
            Err(e.into())
        }
    }
}

async fn import_diff(rados: &rados::Rados, a: ImportDiffArgs) -> Result<(), CliError> {
    let spec = resolve(Some(&a.spec), a.pool.as_deref(), None, None)?;
    let (input, size): (Box<dyn Read>, u64) = if a.path == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = std::fs::File::open(&a.path).map_err(file_err(&a.path))?;
        let len = f.metadata().map_err(file_err(&a.path))?.len();
        (Box::new(std::io::BufReader::new(f)), len)
    };
    let _ = size;
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    let progress = with_image_rw(&pool, &spec.image, async |image| {
        let progress = Progress::bar("Importing image diff", image.size(), a.no_progress);
        image
            .import_diff(input, 1, |d, total| {
                let _ = total;
                progress.set(d)
            })
            .await?;
        Ok(progress)
    })
    .await?;
    progress.finish();
    Ok(())
}

/// Runs one of the diff commands.
pub async fn run(global: &GlobalArgs, cmd: DiffCmd) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = match cmd {
        DiffCmd::Diff(a) => diff(&rados, global.format, a).await,
        DiffCmd::Export(a) => export_diff(&rados, a).await,
        DiffCmd::Import(a) => import_diff(&rados, a).await,
    };
    rados.shutdown().await;
    r.map(|()| ExitCode::SUCCESS)
}
