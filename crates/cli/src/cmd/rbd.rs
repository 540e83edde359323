//! The `rbd` subcommands: `create`, `ls`, `info`, `rm`, `rename`, `resize`,
//! `image-meta`, `pool init` (src/tools/rbd/action/*.cc). Image specs are spelled as
//! `rbd` spells them: `[pool/[namespace/]]image`, or `-p/--pool`, `--namespace`,
//! `--image`. `import` and `export` are in `rbd_io.rs`.

use std::io::Write;
use std::process::ExitCode;

use crate::cmd::rbd_format::{InfoJson, byte_u, parse_size, table};
use crate::cmd::rbd_open::{with_image, with_image_rw};
use crate::cmd::rbd_progress::Progress;
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output::Format;

/// Where an image is.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageSpecArgs {
    /// `[pool/[namespace/]]image`.
    #[arg(value_name = "IMAGE_SPEC")]
    pub spec: Option<String>,
    /// Pool (default `rbd`).
    #[arg(short = 'p', long = "pool")]
    pub pool: Option<String>,
    /// Namespace.
    #[arg(long = "namespace")]
    pub namespace: Option<String>,
    /// Image name.
    #[arg(long = "image")]
    pub image: Option<String>,
}

/// A resolved `pool/namespace/image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Pool.
    pub pool: String,
    /// Namespace ("" for none).
    pub namespace: String,
    /// Image.
    pub image: String,
}

/// Splits `[pool/[namespace/]]name`, filling the gaps from the options.
pub fn resolve(
    spec: Option<&str>,
    pool: Option<&str>,
    namespace: Option<&str>,
    image: Option<&str>,
) -> Result<Spec, CliError> {
    let (mut p, mut ns, mut name) = (None, None, image.map(str::to_owned));
    if let Some(s) = spec {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [i] => name = Some((*i).to_owned()),
            [pl, i] => {
                p = Some((*pl).to_owned());
                name = Some((*i).to_owned());
            }
            [pl, n, i] => {
                p = Some((*pl).to_owned());
                ns = Some((*n).to_owned());
                name = Some((*i).to_owned());
            }
            _ => {
                return Err(CliError::Usage(
                    "image spec must be [pool/[namespace/]]image",
                ));
            }
        }
    }
    let image = name
        .filter(|n| !n.is_empty())
        .ok_or(CliError::Usage("image name was not specified"))?;
    Ok(Spec {
        pool: p
            .or(pool.map(str::to_owned))
            .unwrap_or_else(|| "rbd".to_owned()),
        namespace: ns.or(namespace.map(str::to_owned)).unwrap_or_default(),
        image,
    })
}

impl ImageSpecArgs {
    /// The resolved spec.
    pub fn resolve(&self) -> Result<Spec, CliError> {
        resolve(
            self.spec.as_deref(),
            self.pool.as_deref(),
            self.namespace.as_deref(),
            self.image.as_deref(),
        )
    }
}

/// Options of new images (`create`, `import`).
#[derive(Debug, Clone, clap::Args)]
pub struct CreateOpts {
    /// Object size order, 12..=25.
    #[arg(long = "order")]
    pub order: Option<u8>,
    /// Object size (`4M`...): a power of two, 4 KiB..32 MiB.
    #[arg(long = "object-size")]
    pub object_size: Option<String>,
    /// Image features (repeat or comma-separate): layering, striping, exclusive-lock,
    /// object-map, fast-diff, deep-flatten, data-pool (journaling: not yet). Default:
    /// layering, exclusive-lock, object-map, fast-diff, deep-flatten (as `rbd`).
    #[arg(long = "image-feature")]
    pub image_feature: Vec<String>,
    /// Stripe unit (bytes, or with a suffix).
    #[arg(long = "stripe-unit")]
    pub stripe_unit: Option<String>,
    /// Stripe count.
    #[arg(long = "stripe-count")]
    pub stripe_count: Option<u64>,
    /// Pool for the data objects.
    #[arg(long = "data-pool")]
    pub data_pool: Option<String>,
    /// Image format (only 2).
    #[arg(long = "image-format")]
    pub image_format: Option<u8>,
}

impl CreateOpts {
    /// The library's options for an image of `size` bytes.
    pub fn to_options(&self, size: u64) -> Result<rbd::CreateOptions, CliError> {
        let mut o = rbd::CreateOptions::new(size);
        if self.image_format.is_some_and(|f| f != 2) {
            return Err(CliError::Usage("only image format 2 is supported"));
        }
        o.order = self.order;
        if let Some(s) = &self.object_size {
            let size = parse_size(s, false).ok_or(CliError::Usage("invalid --object-size"))?;
            if !size.is_power_of_two() {
                return Err(CliError::Usage("object size must be a power of two"));
            }
            let order = u8::try_from(size.trailing_zeros()).unwrap_or(u8::MAX);
            if !(12..=25).contains(&order) {
                return Err(CliError::Usage("object size must be between 4K and 32M"));
            }
            o.order = Some(order);
        }
        if !self.image_feature.is_empty() {
            let mut bits = 0;
            for name in self.image_feature.iter().flat_map(|f| f.split(',')) {
                bits |= rbd::features::from_name(name.trim())
                    .ok_or(CliError::Usage("unknown image feature"))?;
            }
            o.features = Some(bits);
        }
        if let Some(su) = &self.stripe_unit {
            o.stripe_unit =
                parse_size(su, false).ok_or(CliError::Usage("invalid --stripe-unit"))?;
        }
        o.stripe_count = self.stripe_count.unwrap_or(0);
        if o.stripe_unit != 0 && o.stripe_count == 0 {
            o.stripe_count = 1;
        }
        if o.stripe_count != 0 && o.stripe_unit == 0 {
            o.stripe_unit = 1 << o.order.unwrap_or(22);
        }
        o.data_pool.clone_from(&self.data_pool);
        Ok(o)
    }
}

/// Parses `--size`.
pub fn size_arg(s: &str) -> Result<u64, CliError> {
    parse_size(s, true).ok_or(CliError::Usage(
        "the argument for option '--size' is invalid",
    ))
}

/// `create` arguments.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// Image size (`10G`; a bare number is MiB).
    #[arg(short = 's', long = "size")]
    size: String,
    #[command(flatten)]
    opts: CreateOpts,
}

/// `ls` arguments.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// `pool[/namespace]`.
    #[arg(value_name = "POOL_SPEC")]
    pool_spec: Option<String>,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// Namespace.
    #[arg(long = "namespace")]
    namespace: Option<String>,
    /// Long listing: size, parent, format, lock.
    #[arg(short = 'l', long = "long")]
    long: bool,
}

/// `info`, `rm` arguments.
#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// `rename` arguments.
#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    /// Source `[pool/[namespace/]]image`.
    src: String,
    /// Destination `[pool/[namespace/]]image` (same pool).
    dest: String,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
}

/// `resize` arguments.
#[derive(Debug, clap::Args)]
pub struct ResizeArgs {
    #[command(flatten)]
    spec: ImageSpecArgs,
    /// New size.
    #[arg(short = 's', long = "size")]
    size: String,
    /// Allow shrinking.
    #[arg(long = "allow-shrink")]
    allow_shrink: bool,
    /// No progress output.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

/// `image-meta` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MetaArgs {
    /// Print a value.
    Get {
        /// Image spec.
        spec: String,
        /// Key.
        key: String,
    },
    /// Set a value.
    Set {
        /// Image spec.
        spec: String,
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// List every entry.
    #[command(alias = "ls")]
    List {
        /// Image spec.
        spec: String,
    },
    /// Remove a key.
    #[command(alias = "rm")]
    Remove {
        /// Image spec.
        spec: String,
        /// Key.
        key: String,
    },
}

/// `pool` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PoolArgs {
    /// Prepare a pool for RBD.
    Init {
        /// Pool (default `rbd`).
        pool: Option<String>,
        /// Allow a pool that has another application.
        #[arg(long = "force")]
        force: bool,
    },
    /// Image count, provisioned bytes and snapshots of a pool (like `rbd pool stats`).
    Stats {
        /// Pool (default `rbd`).
        pool: Option<String>,
        /// Namespace.
        #[arg(long = "namespace")]
        namespace: Option<String>,
    },
}

/// The `rbd` commands handled here.
#[derive(Debug)]
pub enum RbdCmd {
    /// `create`.
    Create(CreateArgs),
    /// `ls`.
    Ls(LsArgs),
    /// `info`.
    Info(SpecArgs),
    /// `rm`.
    Rm(SpecArgs),
    /// `rename`.
    Rename(RenameArgs),
    /// `resize`.
    Resize(ResizeArgs),
    /// `image-meta`.
    Meta(MetaArgs),
    /// `pool`.
    Pool(PoolArgs),
}

/// The pool handle of `spec`.
pub async fn open_pool(rados: &rados::Rados, pool: &str, ns: &str) -> Result<rbd::Rbd, CliError> {
    let io = rados.ioctx(pool).await?.with_namespace(ns);
    Ok(rbd::Rbd::new(io))
}

/// The pool handle for commands that free space (rm, snap rm / purge / unprotect, trash rm
/// / purge): their ops go through a full pool instead of waiting for room, as rbd's
/// `io_ctx.set_pool_full_try()` in tools/rbd/action/{Remove,Snap,Trash}.cc.
pub async fn open_pool_to_free(
    rados: &rados::Rados,
    pool: &str,
    ns: &str,
) -> Result<rbd::Rbd, CliError> {
    let mut io = rados.ioctx(pool).await?.with_namespace(ns);
    io.set_pool_full_try(true);
    Ok(rbd::Rbd::new(io))
}

/// Runs one command.
pub async fn run(global: &GlobalArgs, cmd: RbdCmd) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = run_on(&rados, global.format, cmd).await;
    rados.shutdown().await;
    r.map(|()| ExitCode::SUCCESS)
}

pub(crate) fn print_json<T: serde::Serialize>(format: Format, v: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if format == Format::JsonPretty {
        serde_json::to_writer_pretty(&mut out, v)?;
    } else {
        serde_json::to_writer(&mut out, v)?;
    }
    writeln!(out)?;
    Ok(())
}

async fn run_on(rados: &rados::Rados, format: Format, cmd: RbdCmd) -> Result<(), CliError> {
    match cmd {
        RbdCmd::Create(a) => {
            let spec = a.spec.resolve()?;
            let opts = a.opts.to_options(size_arg(&a.size)?)?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            pool.create(&spec.image, &opts).await?;
        }
        RbdCmd::Ls(a) => {
            let (pool, ns) = match a.pool_spec.as_deref().map(|s| s.split_once('/')) {
                Some(Some((p, n))) => (p.to_owned(), n.to_owned()),
                Some(None) => (a.pool_spec.clone().unwrap_or_default(), String::new()),
                None => (
                    a.pool.clone().unwrap_or_else(|| "rbd".into()),
                    a.namespace.clone().unwrap_or_default(),
                ),
            };
            ls(&open_pool(rados, &pool, &ns).await?, format, a.long).await?;
        }
        RbdCmd::Info(a) => {
            let spec = a.spec.resolve()?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            let (img, snap) = crate::cmd::rbd_snap::split_snap(&spec.image);
            let mut image = pool.open(img, rbd::OpenMode::ReadOnly).await?;
            let protected = match snap {
                Some(s) => {
                    image.set_snap(Some(s)).await?;
                    Some(image.is_protected_snap(s).await?)
                }
                None => None,
            };
            let info = image.info();
            let data_pool = (info.data_pool_id != pool.ioctx().pool_id()).then(|| {
                rados
                    .pool_list()
                    .into_iter()
                    .find(|(id, _)| *id == info.data_pool_id)
                    .map_or_else(
                        || format!("<missing data pool {}>", info.data_pool_id),
                        |(_, n)| n,
                    )
            });
            let mut j = InfoJson::new(&info, data_pool);
            j.protected = protected.map(|p| if p { "true" } else { "false" });
            j.snapshot_limit = Some(image.snap_limit().await?).filter(|&l| l != u64::MAX);
            j.parent = image.parent_info().await?.map(Into::into);
            j.mirroring = crate::cmd::rbd_format::mirroring_of(&image).await;
            match format {
                Format::Plain => print!("{}", j.plain()),
                _ => print_json(format, &j)?,
            }
        }
        RbdCmd::Rm(a) => {
            let spec = a.spec.resolve()?;
            let pool = open_pool_to_free(rados, &spec.pool, &spec.namespace).await?;
            let progress = Progress::bar("Removing image", 0, a.no_progress);
            let r = pool
                .remove_with_progress(&spec.image, |done, total| progress.update(done, total))
                .await;
            if let Err(e) = r {
                drop(progress);
                let text = super::rbd_rm::refusal_text(rados, &pool, &spec.image, &e).await;
                eprintln!("{text}");
                return Err(e.into());
            }
            progress.finish();
        }
        RbdCmd::Rename(a) => {
            let src = resolve(Some(&a.src), a.pool.as_deref(), None, None)?;
            let dest = resolve(Some(&a.dest), Some(&src.pool), Some(&src.namespace), None)?;
            if src.pool != dest.pool || src.namespace != dest.namespace {
                return Err(CliError::Usage(
                    "mv/rename across pools or namespaces is not supported",
                ));
            }
            let pool = open_pool(rados, &src.pool, &src.namespace).await?;
            pool.rename(&src.image, &dest.image).await?;
        }
        RbdCmd::Resize(a) => {
            let spec = a.spec.resolve()?;
            let size = size_arg(&a.size)?;
            let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
            with_image_rw(&pool, &spec.image, async |image| {
                if size < image.size() && !a.allow_shrink {
                    return Err(CliError::Usage(
                        "shrinking an image is only allowed with the --allow-shrink flag",
                    ));
                }
                // a shrink reports the objects it trims, as librbd's TrimRequest does
                let progress =
                    Progress::bar("Resizing image", 0, a.no_progress || size >= image.size());
                image
                    .resize_with_progress(size, a.allow_shrink, |done, total| {
                        progress.update(done, total)
                    })
                    .await?;
                progress.finish();
                Ok(())
            })
            .await?;
        }
        RbdCmd::Meta(a) => meta(rados, format, a).await?,
        RbdCmd::Pool(PoolArgs::Stats { pool, namespace }) => {
            let pool = pool.unwrap_or_else(|| "rbd".into());
            crate::cmd::rbd_admin::pool_stats(
                rados,
                format,
                &pool,
                namespace.as_deref().unwrap_or(""),
            )
            .await?;
        }
        RbdCmd::Pool(PoolArgs::Init { pool, force }) => {
            let pool = open_pool(rados, pool.as_deref().unwrap_or("rbd"), "").await?;
            pool.pool_init(force).await?;
        }
    }
    Ok(())
}

/// A parent in `ls -l --format json`.
#[derive(Debug, Clone, serde::Serialize)]
struct LsParent {
    pool: String,
    pool_namespace: String,
    image: String,
    snapshot: String,
}

/// An image or snapshot row of `ls -l --format json`, fields in `rbd`'s order.
#[derive(Debug, serde::Serialize)]
struct LsEntry {
    image: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_id: Option<u64>,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<LsParent>,
    format: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protected: Option<&'static str>,
}

async fn ls(pool: &rbd::Rbd, format: Format, long: bool) -> Result<(), CliError> {
    let images = pool.list().await?;
    if !long {
        if format == Format::Plain {
            let mut out = std::io::stdout().lock();
            for i in &images {
                writeln!(out, "{}", i.name)?;
            }
            return Ok(());
        }
        let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
        return print_json(format, &names);
    }
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for i in &images {
        let image = match pool.open_by_id(&i.id, rbd::OpenMode::ReadOnly).await {
            Ok(img) => img,
            // removed meanwhile, or half-created: `rbd ls -l` skips it too
            Err(e) if e.is(rados::Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let size = image.size();
        // the parent (clones) and the advisory or exclusive lock, as `rbd ls -l`
        let parent = image.parent_info().await?;
        let parent_text = parent.as_ref().map_or(String::new(), |p| {
            let ns = if p.pool_namespace.is_empty() {
                String::new()
            } else {
                format!("{}/", p.pool_namespace)
            };
            format!("{}/{ns}{}@{}", p.pool_name, p.image_name, p.snap_name)
        });
        let parent_json = parent.as_ref().map(|p| LsParent {
            pool: p.pool_name.clone(),
            pool_namespace: p.pool_namespace.clone(),
            image: p.image_name.clone(),
            snapshot: p.snap_name.clone(),
        });
        let lockers = image.list_lockers().await?;
        let lock = match (lockers.lockers.is_empty(), lockers.exclusive) {
            (true, _) => "",
            (false, true) => "excl",
            (false, false) => "shr",
        };
        rows.push(vec![
            i.name.clone(),
            byte_u(size),
            parent_text.clone(),
            "2".to_owned(),
            String::new(),
            lock.to_owned(),
        ]);
        json.push(LsEntry {
            image: i.name.clone(),
            id: i.id.clone(),
            snapshot: None,
            snapshot_id: None,
            size,
            parent: parent_json.clone(),
            format: 2,
            lock_type: (!lock.is_empty()).then_some(if lockers.exclusive {
                "exclusive"
            } else {
                "shared"
            }),
            protected: None,
        });
        // user snapshots follow their image (a snapshot's parent shown as the head's)
        for snap in image.snap_list().await? {
            if snap.namespace != rbd::cls::snap::SnapshotNamespace::User {
                continue;
            }
            rows.push(vec![
                format!("{}@{}", i.name, snap.name),
                byte_u(snap.size),
                parent_text.clone(),
                "2".to_owned(),
                if snap.is_protected() { "yes" } else { "" }.to_owned(),
                String::new(),
            ]);
            json.push(LsEntry {
                image: i.name.clone(),
                id: i.id.clone(),
                snapshot: Some(snap.name.clone()),
                snapshot_id: Some(snap.id),
                size: snap.size,
                parent: parent_json.clone(),
                format: 2,
                lock_type: None,
                protected: Some(if snap.is_protected() { "true" } else { "false" }),
            });
        }
    }
    if format == Format::Plain {
        if !rows.is_empty() {
            print!(
                "{}",
                table(
                    &["NAME", "SIZE", "PARENT", "FMT", "PROT", "LOCK"],
                    &[false, true, false, true, false, false],
                    &rows
                )
            );
        }
        Ok(())
    } else {
        print_json(format, &json)
    }
}

async fn meta(rados: &rados::Rados, format: Format, a: MetaArgs) -> Result<(), CliError> {
    let spec_of = |s: &str| resolve(Some(s), None, None, None);
    let open = |spec: Spec, mode| async move {
        let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
        Ok::<_, CliError>(pool.open(&spec.image, mode).await?)
    };
    match a {
        MetaArgs::Get { spec, key } => {
            let image = open(spec_of(&spec)?, rbd::OpenMode::ReadOnly).await?;
            let v = image.metadata_get(&key).await?;
            println!("{}", String::from_utf8_lossy(&v));
        }
        MetaArgs::Set { spec, key, value } => {
            let image = open(spec_of(&spec)?, rbd::OpenMode::ReadWrite).await?;
            with_image(image, async |i| {
                Ok(i.metadata_set(&key, value.as_bytes()).await?)
            })
            .await?;
        }
        MetaArgs::Remove { spec, key } => {
            let image = open(spec_of(&spec)?, rbd::OpenMode::ReadWrite).await?;
            with_image(image, async |i| Ok(i.metadata_remove(&key).await?)).await?;
        }
        MetaArgs::List { spec } => {
            let image = open(spec_of(&spec)?, rbd::OpenMode::ReadOnly).await?;
            let all = image.metadata_list().await?;
            if format != Format::Plain {
                let m: serde_json::Map<String, serde_json::Value> = all
                    .iter()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned().into()))
                    .collect();
                return print_json(format, &m);
            }
            if all.is_empty() {
                println!("There are 0 metadata on this image.");
                return Ok(());
            }
            // image_meta.cc: "There is 1 metadatum" / "There are N metadata"
            if all.len() == 1 {
                println!("There is 1 metadatum on this image:\n");
            } else {
                println!("There are {} metadata on this image:\n", all.len());
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|(k, v)| vec![k.clone(), String::from_utf8_lossy(v).into_owned()])
                .collect();
            print!("{}", table(&["Key", "Value"], &[false, false], &rows));
        }
    }
    Ok(())
}
