//! `rbd-rs import` and `export` (src/tools/rbd/action/Import.cc, Export.cc): a file (or
//! `-` for stdin/stdout) to or from an image, a chunk at a time. Import skips 4 KiB blocks
//! of zeros (rbd's default `--sparse-size`), leaving holes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::cmd::rbd::{CreateOpts, open_pool, resolve};
use crate::cmd::rbd_open::with_image;
use crate::cmd::rbd_progress::Progress;
use crate::error::CliError;

/// Bytes read or written per step.
const CHUNK: usize = 8 << 20;
/// Blocks of this many zero bytes are not written.
const SPARSE_SIZE: usize = 4096;

/// `import` arguments.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// File to import (`-` for stdin).
    path: String,
    /// Destination `[pool/[namespace/]]image` (default: the file's name).
    #[arg(value_name = "IMAGE_SPEC")]
    dest: Option<String>,
    /// Pool.
    #[arg(short = 'p', long = "pool", alias = "dest-pool")]
    pool: Option<String>,
    /// Destination image name.
    #[arg(long = "image", alias = "dest")]
    image: Option<String>,
    #[command(flatten)]
    opts: CreateOpts,
    /// 1: a raw image; 2: `rbd export --export-format 2`'s file (snapshots, metadata).
    #[arg(long = "export-format", default_value_t = 1)]
    export_format: u8,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// `export` arguments.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Source `[pool/[namespace/]]image`.
    #[arg(value_name = "IMAGE_SPEC")]
    spec: String,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Destination file (`-` for stdout).
    #[arg(value_name = "PATH")]
    path: String,
    /// 1: the raw bytes; 2: with snapshots and metadata (`rbd export --export-format 2`).
    #[arg(long = "export-format", default_value_t = 1)]
    export_format: u8,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

fn file_err(path: &str) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::File {
        path: PathBuf::from(path),
        source,
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn check_format(f: u8) -> Result<(), CliError> {
    match f {
        1 | 2 => Ok(()),
        _ => Err(CliError::Usage("--export-format must be 1 or 2")),
    }
}

/// `import`.
pub async fn import(rados: &rados::Rados, a: ImportArgs) -> Result<(), CliError> {
    check_format(a.export_format)?;
    let default_name = Path::new(&a.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|_| a.path != "-");
    let spec = resolve(
        a.dest.as_deref(),
        a.pool.as_deref(),
        None,
        a.image.as_deref().or(default_name.as_deref()),
    )?;
    let (mut input, size): (Box<dyn Read>, Option<u64>) = if a.path == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = std::fs::File::open(&a.path).map_err(file_err(&a.path))?;
        let len = f.metadata().map_err(file_err(&a.path))?.len();
        (Box::new(f), Some(len))
    };
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    match a.export_format {
        1 => {}
        _ => return import_v2(&pool, &spec.image, input, &a).await,
    }
    pool.create(&spec.image, &a.opts.to_options(size.unwrap_or(0))?)
        .await?;
    let image = pool.open(&spec.image, rbd::OpenMode::ReadWrite).await?;
    // closed on every path: releases the exclusive lock before the process exits
    with_image(image, async |image| {
        let mut buf = vec![0u8; CHUNK];
        let mut pos = 0u64;
        let progress = Progress::bar("Importing image", size.unwrap_or(0), a.no_progress);
        loop {
            let n = fill(&mut input, &mut buf).map_err(file_err(&a.path))?;
            if n == 0 {
                break;
            }
            let end = pos + n as u64;
            if size.is_none() {
                image.resize(end, false).await?;
            }
            let chunk = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
            write_sparse(image, pos, &chunk).await?;
            pos = end;
            progress.set(pos);
        }
        progress.finish();
        Ok(())
    })
    .await
}

/// `import --export-format 2`: the file's properties unless options override them.
async fn import_v2(
    pool: &rbd::Rbd,
    name: &str,
    input: Box<dyn Read>,
    a: &ImportArgs,
) -> Result<(), CliError> {
    let create = a.opts.to_options(0)?;
    let opts = rbd::CopyOptions {
        features: create.features,
        order: create.order,
        striping: (create.stripe_unit != 0).then_some((create.stripe_unit, create.stripe_count)),
        data_pool: create.data_pool,
        sparse_size: None,
        flatten: false,
    };
    let progress = Progress::bar("Importing image", 100, a.no_progress);
    let input = std::io::BufReader::new(input);
    pool.import_v2(name, input, &opts, |done, total| {
        progress.set(done * 100 / total.max(1));
    })
    .await?;
    progress.finish();
    Ok(())
}

/// Writes the runs of `chunk` that are not whole zero blocks.
async fn write_sparse(image: &rbd::Image, pos: u64, chunk: &Bytes) -> Result<(), CliError> {
    let mut start: Option<usize> = None;
    let mut off = 0usize;
    while off < chunk.len() {
        let end = (off + SPARSE_SIZE).min(chunk.len());
        let zero = chunk
            .get(off..end)
            .is_some_and(|b| b.iter().all(|&x| x == 0));
        match (zero, start) {
            (false, None) => start = Some(off),
            (true, Some(s)) => {
                image.write(pos + s as u64, chunk.slice(s..off)).await?;
                start = None;
            }
            _ => {}
        }
        off = end;
    }
    if let Some(s) = start {
        image.write(pos + s as u64, chunk.slice(s..)).await?;
    }
    Ok(())
}

/// `export`.
pub async fn export(rados: &rados::Rados, a: ExportArgs) -> Result<(), CliError> {
    check_format(a.export_format)?;
    let (img, snap) = crate::cmd::rbd_snap::split_snap(&a.spec);
    let spec = resolve(Some(img), a.pool.as_deref(), None, None)?;
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    let mut image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
    image.set_snap(snap).await?;
    let mut out: Box<dyn Write> = if a.path == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&a.path)
            .map_err(file_err(&a.path))?;
        Box::new(std::io::BufWriter::new(f))
    };
    match a.export_format {
        1 => {}
        _ => {
            let progress = Progress::bar("Exporting image", 100, a.no_progress || a.path == "-");
            let mut out = image
                .export_v2(out, |done, total| progress.set(done * 100 / total.max(1)))
                .await?;
            out.flush().map_err(file_err(&a.path))?;
            progress.finish();
            return Ok(());
        }
    }
    let size = image.size();
    let mut pos = 0u64;
    let progress = Progress::bar("Exporting image", size, a.no_progress || a.path == "-");
    while pos < size {
        let len = (CHUNK as u64).min(size - pos);
        let data = image.read(pos, len).await?;
        out.write_all(&data).map_err(file_err(&a.path))?;
        pos += len;
        progress.set(pos);
    }
    out.flush().map_err(file_err(&a.path))?;
    progress.finish();
    Ok(())
}

/// Runs `import`.
pub async fn run_import(
    global: &crate::global::GlobalArgs,
    a: ImportArgs,
) -> Result<std::process::ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = import(&rados, a).await;
    rados.shutdown().await;
    r.map(|()| std::process::ExitCode::SUCCESS)
}

/// Runs `export`.
pub async fn run_export(
    global: &crate::global::GlobalArgs,
    a: ExportArgs,
) -> Result<std::process::ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = export(&rados, a).await;
    rados.shutdown().await;
    r.map(|()| std::process::ExitCode::SUCCESS)
}
