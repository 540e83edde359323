//! `rbd-rs du` and `pool stats` (src/tools/rbd/action/DiskUsage.cc, Pool.cc).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::cmd::rbd::{open_pool, resolve};
use crate::cmd::rbd_format::{byte_u, table};
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output::Format;

/// `du` arguments.
#[derive(Debug, clap::Args)]
pub struct DuArgs {
    /// `[pool/[namespace/]]image` (every image of the pool without it).
    #[arg(value_name = "IMAGE_SPEC")]
    spec: Option<String>,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
}

/// The commands of this module.
#[derive(Debug)]
pub enum AdminCmd {
    /// `du`.
    Du(DuArgs),
}

/// Runs one command.
pub async fn run(global: &GlobalArgs, cmd: AdminCmd) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = match cmd {
        AdminCmd::Du(a) => du(&rados, global.format, a).await,
    };
    rados.shutdown().await;
    r.map(|()| ExitCode::SUCCESS)
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

// ---- du ----

#[derive(Serialize)]
struct DuImage {
    name: String,
    id: String,
    provisioned_size: u64,
    used_size: u64,
}

#[derive(Serialize)]
struct DuJson {
    images: Vec<DuImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_provisioned_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_used_size: Option<u64>,
}

/// The image bytes object `object_no` holds (a whole object except in the last,
/// partial object set).
fn object_image_bytes(info: &rbd::ImageInfo, object_no: u64) -> u64 {
    let layout = info.layout();
    let set = object_no / layout.stripe_count.max(1);
    let set_start = set.saturating_mul(layout.period());
    if set_start >= info.size {
        return 0;
    }
    if set_start + layout.period() <= info.size {
        return layout.object_size;
    }
    layout
        .file_to_extents(set_start, info.size - set_start)
        .iter()
        .filter(|e| e.object_no == object_no)
        .map(|e| e.length)
        .sum()
}

/// Used bytes of each image, as `rbd du` counts them without fast-diff (whole objects
/// that exist): one listing of each data pool, objects grouped by their prefix.
async fn used_sizes(
    rados: &rados::Rados,
    pool: &rbd::Rbd,
    images: &[rbd::Image],
) -> Result<Vec<u64>, CliError> {
    let mut by_pool: BTreeMap<i64, BTreeMap<String, Vec<u64>>> = BTreeMap::new();
    for img in images {
        by_pool
            .entry(img.info().data_pool_id)
            .or_default()
            .insert(img.info().block_name_prefix, Vec::new());
    }
    for (pool_id, prefixes) in &mut by_pool {
        let io = if *pool_id == pool.ioctx().pool_id() {
            pool.ioctx().clone()
        } else {
            rados
                .ioctx_by_id(*pool_id)
                .await?
                .with_namespace(pool.ioctx().namespace())
        };
        let mut lister = io.list_objects();
        while let Some(page) = lister.next_page().await? {
            for e in page {
                let Some((prefix, hex)) = e.oid.rsplit_once('.') else {
                    continue;
                };
                if let (Some(objs), Ok(n)) =
                    (prefixes.get_mut(prefix), u64::from_str_radix(hex, 16))
                {
                    objs.push(n);
                }
            }
        }
    }
    Ok(images
        .iter()
        .map(|img| {
            let info = img.info();
            by_pool
                .get(&info.data_pool_id)
                .and_then(|p| p.get(info.block_name_prefix.as_str()))
                .map_or(0, |objs| {
                    objs.iter().map(|&o| object_image_bytes(&info, o)).sum()
                })
        })
        .collect())
}

async fn du(rados: &rados::Rados, format: Format, a: DuArgs) -> Result<(), CliError> {
    let (pool_name, ns, one) = match &a.spec {
        Some(s) => {
            let spec = resolve(Some(s), a.pool.as_deref(), None, None)?;
            (spec.pool, spec.namespace, Some(spec.image))
        }
        None => (
            a.pool.clone().unwrap_or_else(|| "rbd".into()),
            String::new(),
            None,
        ),
    };
    let pool = open_pool(rados, &pool_name, &ns).await?;
    let names: Vec<String> = match one {
        Some(n) => vec![n],
        None => pool.list().await?.into_iter().map(|s| s.name).collect(),
    };
    let mut images = Vec::with_capacity(names.len());
    for n in &names {
        let img = pool.open(n, rbd::OpenMode::ReadOnly).await?;
        if img.info().features & rbd::features::FAST_DIFF == 0 {
            eprintln!("warning: fast-diff map is not enabled for {n}. operation may be slow.");
        }
        images.push(img);
    }
    let used = used_sizes(rados, &pool, &images).await?;
    let rows: Vec<DuImage> = images
        .iter()
        .zip(used)
        .map(|(img, used_size)| DuImage {
            name: img.info().name.clone(),
            id: img.info().id.clone(),
            provisioned_size: img.size(),
            used_size,
        })
        .collect();
    let total_p: u64 = rows.iter().map(|r| r.provisioned_size).sum();
    let total_u: u64 = rows.iter().map(|r| r.used_size).sum();
    if format != Format::Plain {
        let many = a.spec.is_none();
        return print_json(
            format,
            &DuJson {
                images: rows,
                total_provisioned_size: many.then_some(total_p),
                total_used_size: many.then_some(total_u),
            },
        );
    }
    let mut lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                byte_u(r.provisioned_size),
                byte_u(r.used_size),
            ]
        })
        .collect();
    if rows.len() > 1 {
        lines.push(vec!["<TOTAL>".into(), byte_u(total_p), byte_u(total_u)]);
    }
    if !lines.is_empty() {
        print!(
            "{}",
            table(
                &["NAME", "PROVISIONED", "USED"],
                &[false, true, true],
                &lines
            )
        );
    }
    Ok(())
}

// ---- pool stats ----

#[derive(Serialize)]
struct StatCounts {
    count: u64,
    provisioned_bytes: u64,
    snap_count: u64,
}

#[derive(Serialize)]
struct PoolStatsJson {
    images: StatCounts,
    trash: StatCounts,
}

/// `pool stats` (`rbd_pool_stats_get`): images, their provisioned bytes, snapshots. The
/// trash is not read yet (reported empty).
pub async fn pool_stats(
    rados: &rados::Rados,
    format: Format,
    pool_name: &str,
    ns: &str,
) -> Result<(), CliError> {
    let pool = open_pool(rados, pool_name, ns).await?;
    let mut images = StatCounts {
        count: 0,
        provisioned_bytes: 0,
        snap_count: 0,
    };
    for spec in pool.list().await? {
        let img = match pool.open_by_id(&spec.id, rbd::OpenMode::ReadOnly).await {
            Ok(i) => i,
            // removed meanwhile
            Err(e) if e.is(rados::Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        images.count += 1;
        images.provisioned_bytes += img.size();
        images.snap_count += img.info().snap_context.snaps.len() as u64;
    }
    let trash = StatCounts {
        count: 0,
        provisioned_bytes: 0,
        snap_count: 0,
    };
    if format != Format::Plain {
        return print_json(format, &PoolStatsJson { images, trash });
    }
    println!("Total Images: {}", images.count);
    println!("Total Snapshots: {}", images.snap_count);
    println!("Provisioned Size: {}", byte_u(images.provisioned_bytes));
    Ok(())
}
