//! `rbd-rs rados -p POOL [-N NS] COMMAND ...`: Ceph's `rados` tool for objects, xattrs,
//! omap and pool snapshots, with its spelling, output and exit status
//! (src/tools/rados/rados.cc): errors go to stderr as `rados` words them, with exit status
//! 1; `-` names stdin or stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use rados::{Errno, IoCtx, Rados};

use super::rados_format::{hexdump, prettify, snap_stamp, utime};
use super::{pools, rados_bench, rados_ls, rados_watch};
use crate::error::CliError;
use crate::global::GlobalArgs;
use crate::output::Format;

/// `rados`'s default op size for put/get (`default_op_size`, 4 MiB).
const DEFAULT_OP_SIZE: u64 = 1 << 22;
/// Omap entries per request when listing (`MAX_OMAP_BYTES_PER_REQUEST`).
const OMAP_PAGE: u64 = 1 << 10;

/// Options of `rados` (accepted before or after the command).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pool.
    #[arg(short = 'p', long = "pool", global = true, value_name = "POOL")]
    pub pool: Option<String>,
    /// Namespace.
    #[arg(short = 'N', long = "namespace", global = true, value_name = "NS")]
    pub nspace: Option<String>,
    /// Read from this pool snapshot.
    #[arg(short = 's', long = "snap", global = true, value_name = "SNAP")]
    pub snap: Option<String>,
    /// Object locator key.
    #[arg(long = "object-locator", global = true, value_name = "KEY")]
    pub locator: Option<String>,
    /// Op size for put/get and write benchmarks (default 4 MiB; K, M, G suffixes).
    #[arg(short = 'b', global = true, value_name = "BYTES", value_parser = rados_bench::parse_size)]
    pub op_size: Option<u64>,
    /// Offset for put.
    #[arg(long = "offset", global = true, value_name = "OFFSET")]
    pub offset: Option<u64>,
    /// Value from this file (setomapval).
    #[arg(long = "input-file", global = true, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// ls: list every namespace (unless -N or --default is given).
    #[arg(long = "all", global = true)]
    pub all: bool,
    /// ls: list the default namespace even with --all.
    #[arg(long = "default", global = true)]
    pub default_ns: bool,
    /// ls: write the listing to this file.
    #[arg(short = 'o', long = "output", global = true, value_name = "FILE")]
    pub output: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// `rados` commands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Write an object from a file ("-" = stdin).
    Put { obj: String, infile: String },
    /// Read an object into a file ("-" = stdout).
    Get { obj: String, outfile: String },
    /// Append a file ("-" = stdin) to an object.
    Append { obj: String, infile: String },
    /// Size and mtime.
    Stat { obj: String },
    /// Remove objects.
    Rm {
        #[arg(required = true)]
        objs: Vec<String>,
    },
    /// Set an object's size.
    Truncate { obj: String, length: i64 },
    /// Create an object (exclusive).
    Create { obj: String },
    /// Set an xattr (value from stdin if not given).
    Setxattr {
        obj: String,
        attr: String,
        val: Option<String>,
    },
    /// Print an xattr's raw value.
    Getxattr { obj: String, attr: String },
    /// Remove an xattr.
    Rmxattr { obj: String, attr: String },
    /// List xattr names.
    Listxattr { obj: String },
    /// Set an omap value (value from --input-file or stdin if not given).
    Setomapval {
        obj: String,
        key: String,
        val: Option<String>,
    },
    /// Print an omap value as a hex dump (or write it to a file).
    Getomapval {
        obj: String,
        key: String,
        outfile: Option<String>,
    },
    /// List omap keys.
    Listomapkeys { obj: String },
    /// List omap keys and values.
    Listomapvals { obj: String },
    /// Remove an omap key.
    Rmomapkey { obj: String, key: String },
    /// Remove all omap entries of objects.
    Clearomap {
        #[arg(required = true)]
        objs: Vec<String>,
    },
    /// Print the omap header as a hex dump (or write it to a file).
    Getomapheader {
        obj: String,
        outfile: Option<String>,
    },
    /// Set the omap header.
    Setomapheader { obj: String, val: String },
    /// Take a pool snapshot.
    Mksnap {
        #[arg(value_name = "SNAP-NAME")]
        snap_name: String,
    },
    /// Remove a pool snapshot.
    Rmsnap {
        #[arg(value_name = "SNAP-NAME")]
        snap_name: String,
    },
    /// List pool snapshots.
    Lssnap,
    /// Watch an object, printing and acknowledging notifies, until enter is pressed.
    Watch { obj: String },
    /// Notify an object's watchers with a message and print their replies.
    Notify { obj: String, message: String },
    /// List an object's watchers.
    Listwatchers { obj: String },
    /// List objects ("-" or nothing: to stdout; a file needs --output).
    Ls { outfile: Option<String> },
    /// List pools.
    Lspools,
    /// Create a pool (old `rados mkpool`).
    Mkpool(pools::MkpoolArgs),
    /// Delete a pool (old `rados rmpool POOL POOL --yes-i-really-really-mean-it`).
    Rmpool(pools::RmpoolArgs),
    /// Benchmark: SECONDS write|seq|rand [-b SIZE] [-t N] [--no-cleanup] [--run-name NAME].
    Bench(rados_bench::BenchArgs),
    /// Remove the objects of a write benchmark run and its metadata object.
    Cleanup(rados_bench::CleanupArgs),
}

/// A failure `rados` reports as a message and exit status 1.
pub(super) struct Failed;

pub(super) type Outcome = Result<(), Failed>;

pub(super) fn fail(msg: String) -> Outcome {
    eprintln!("{msg}");
    Err(Failed)
}

/// The `cpp_strerror` text of a client error.
pub(super) fn strerror(e: &rados::Error) -> String {
    e.kind().cpp_strerror()
}

/// Runs a `rados` command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, CliError> {
    let rados = global.connect().await?;
    let outcome = dispatch(&rados, args, global.format).await;
    rados.shutdown().await;
    Ok(match outcome? {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::FAILURE,
    })
}

async fn dispatch(rados: &Rados, args: Args, format: Format) -> Result<Outcome, CliError> {
    match args.cmd {
        Cmd::Lspools => return pools::print_pools(rados).map(Ok),
        Cmd::Mkpool(a) => return Ok(pools::mkpool(rados, a).await?.map_err(|()| Failed)),
        Cmd::Rmpool(a) => return Ok(pools::rmpool(rados, a).await?.map_err(|()| Failed)),
        _ => {}
    }
    let Some(pool) = args.pool.clone() else {
        eprintln!("rados: this command needs a pool: -p POOL");
        return Ok(Err(Failed));
    };
    let mut io = match rados.ioctx(&pool).await {
        Ok(io) => io,
        Err(e) => {
            return Ok(fail(format!("error opening pool {pool}: {}", strerror(&e))));
        }
    };
    if let Some(ns) = &args.nspace {
        io.set_namespace(ns.clone());
    }
    if let Some(key) = &args.locator {
        io.set_locator_key(key.clone());
    }
    if let Some(snap) = &args.snap {
        match io.lookup_pool_snap(snap) {
            Ok(id) => {
                io.set_read_snap(id);
                println!("selected snap {} '{snap}'", id.0);
            }
            Err(e) => {
                return Ok(fail(format!(
                    "error looking up snap '{snap}': {}",
                    strerror(&e)
                )));
            }
        }
    }
    if let Cmd::Ls { outfile } = &args.cmd {
        let req = rados_ls::LsRequest {
            // -N wins over --all, --default over --all
            wildcard: args.all && !args.default_ns && args.nspace.is_none(),
            outfile: outfile.as_deref(),
            output: args.output.as_deref(),
            format,
        };
        return Ok(rados_ls::ls(&io, &req).await?.map_err(|()| Failed));
    }
    let cmd = match args.cmd {
        Cmd::Bench(a) => {
            return Ok(rados_bench::bench(&io, args.op_size, a, format)
                .await?
                .map_err(|()| Failed));
        }
        Cmd::Cleanup(a) => {
            let all = args.all && !args.default_ns && args.nspace.is_none();
            return Ok(rados_bench::cleanup(&io, a, all)
                .await?
                .map_err(|()| Failed));
        }
        cmd => cmd,
    };
    let op_size = args.op_size.unwrap_or(DEFAULT_OP_SIZE).max(1);
    let c = Ctx {
        io,
        pool,
        op_size,
        offset: args.offset,
        input_file: args.input_file,
    };
    c.object_command(cmd).await
}

/// What the object commands share.
struct Ctx {
    io: IoCtx,
    pool: String,
    op_size: u64,
    offset: Option<u64>,
    input_file: Option<PathBuf>,
}

fn read_all(mut r: impl Read) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)?;
    Ok(buf)
}

impl Ctx {
    fn path(&self, obj: &str) -> String {
        format!("{}/{}", self.pool, prettify(obj))
    }

    async fn object_command(&self, cmd: Cmd) -> Result<Outcome, CliError> {
        let io = &self.io;
        Ok(match cmd {
            Cmd::Put { obj, infile } => self.put(&obj, &infile).await?,
            Cmd::Watch { obj } => rados_watch::watch(io, &obj).await?,
            Cmd::Notify { obj, message } => rados_watch::notify(io, &obj, &message).await?,
            Cmd::Listwatchers { obj } => rados_watch::listwatchers(io, &self.pool, &obj).await?,
            Cmd::Get { obj, outfile } => self.get(&obj, &outfile).await?,
            Cmd::Append { obj, infile } => self.append(&obj, &infile).await?,
            Cmd::Stat { obj } => match io.stat(&obj).await {
                Ok(st) => {
                    println!(
                        "{} mtime {}, size {}",
                        self.path(&obj),
                        utime(st.mtime.sec, 0),
                        st.size
                    );
                    Ok(())
                }
                Err(e) => fail(format!(
                    " error stat-ing {}: {}",
                    self.path(&obj),
                    strerror(&e)
                )),
            },
            Cmd::Rm { objs } => {
                for obj in objs {
                    if let Err(e) = io.remove(&obj).await {
                        let ns = io.namespace();
                        let name = if ns.is_empty() {
                            prettify(&obj)
                        } else {
                            format!("{ns}/{}", prettify(&obj))
                        };
                        return Ok(fail(format!(
                            "error removing {}>{name}: {}",
                            self.pool,
                            strerror(&e)
                        )));
                    }
                }
                Ok(())
            }
            Cmd::Truncate { obj, length } => {
                let Ok(size) = u64::try_from(length) else {
                    return Ok(fail("error, cannot truncate to negative value".into()));
                };
                match io.truncate(&obj, size).await {
                    Ok(()) => Ok(()),
                    Err(e) => fail(format!(
                        "error truncating oid {} to {size}: {}",
                        prettify(&obj),
                        strerror(&e)
                    )),
                }
            }
            Cmd::Create { obj } => match io.create(&obj, true).await {
                Ok(()) => Ok(()),
                Err(e) => fail(format!(
                    "error creating {}: {}",
                    self.path(&obj),
                    strerror(&e)
                )),
            },
            Cmd::Setxattr { obj, attr, val } => {
                let value = match val {
                    Some(v) => v.into_bytes(),
                    None => read_all(std::io::stdin())?,
                };
                match io.set_xattr(&obj, &attr, &value).await {
                    Ok(()) => Ok(()),
                    Err(e) => fail(format!(
                        "error setting xattr {}/{attr}: {}",
                        self.path(&obj),
                        strerror(&e)
                    )),
                }
            }
            Cmd::Getxattr { obj, attr } => match io.get_xattr(&obj, &attr).await {
                Ok(v) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&v)?;
                    out.flush()?;
                    Ok(())
                }
                Err(e) => fail(format!(
                    "error getting xattr {}/{attr}: {}",
                    self.path(&obj),
                    strerror(&e)
                )),
            },
            Cmd::Rmxattr { obj, attr } => match io.rm_xattr(&obj, &attr).await {
                Ok(()) => Ok(()),
                Err(e) => fail(format!(
                    "error removing xattr {}/{attr}: {}",
                    self.path(&obj),
                    strerror(&e)
                )),
            },
            Cmd::Listxattr { obj } => match io.get_xattrs(&obj).await {
                Ok(all) => {
                    let mut out = std::io::stdout().lock();
                    for name in all.keys() {
                        writeln!(out, "{name}")?;
                    }
                    Ok(())
                }
                Err(e) => fail(format!(
                    "error getting xattr set {}: {}",
                    self.path(&obj),
                    strerror(&e)
                )),
            },
            Cmd::Setomapval { obj, key, val } => {
                let value = match (&self.input_file, val) {
                    (Some(f), _) => match std::fs::read(f) {
                        Ok(v) => v,
                        Err(e) => {
                            return Ok(fail(format!("error reading file {}: {e}", f.display())));
                        }
                    },
                    (None, Some(v)) => v.into_bytes(),
                    (None, None) => read_all(std::io::stdin())?,
                };
                let entries: BTreeMap<String, Bytes> = [(key.clone(), Bytes::from(value))].into();
                match io.omap_set(&obj, &entries).await {
                    Ok(()) => Ok(()),
                    Err(e) => fail(format!(
                        "error setting omap value {}/{obj}/{}: {}",
                        self.pool,
                        prettify(&key),
                        strerror(&e)
                    )),
                }
            }
            Cmd::Getomapval { obj, key, outfile } => {
                let keys: BTreeSet<String> = [key.clone()].into();
                match io.omap_get_vals_by_keys(&obj, &keys).await {
                    Err(e) => fail(format!(
                        "error getting omap value {}/{}: {}",
                        self.path(&obj),
                        prettify(&key),
                        strerror(&e)
                    )),
                    Ok(vals) => match vals.get(&key) {
                        Some(v) => dump_value("value", v, outfile.as_deref())?,
                        None => {
                            println!("No such key: {}/{}", self.path(&obj), prettify(&key));
                            Err(Failed)
                        }
                    },
                }
            }
            Cmd::Listomapkeys { obj } => self.list_omap(&obj, false).await?,
            Cmd::Listomapvals { obj } => self.list_omap(&obj, true).await?,
            Cmd::Rmomapkey { obj, key } => {
                match io.omap_rm_keys(&obj, &[key.clone()].into()).await {
                    Ok(()) => Ok(()),
                    Err(e) => fail(format!(
                        "error removing omap key {}/{}: {}",
                        self.path(&obj),
                        prettify(&key),
                        strerror(&e)
                    )),
                }
            }
            Cmd::Clearomap { objs } => {
                for obj in objs {
                    if let Err(e) = io.omap_clear(&obj).await {
                        return Ok(fail(format!(
                            "error clearing omap keys {}/{}",
                            self.path(&obj),
                            strerror(&e)
                        )));
                    }
                }
                Ok(())
            }
            Cmd::Getomapheader { obj, outfile } => match io.omap_get_header(&obj).await {
                Ok(h) => dump_value("header", &h, outfile.as_deref())?,
                Err(e) => fail(format!(
                    "error getting omap header {}: {}",
                    self.path(&obj),
                    strerror(&e)
                )),
            },
            Cmd::Setomapheader { obj, val } => {
                match io
                    .omap_set_header(&obj, Bytes::from(val.into_bytes()))
                    .await
                {
                    Ok(()) => Ok(()),
                    Err(e) => fail(format!(
                        "error setting omap value {}: {}",
                        self.path(&obj),
                        strerror(&e)
                    )),
                }
            }
            Cmd::Mksnap { snap_name: name } => {
                if io.is_selfmanaged_snaps_mode() {
                    return Ok(fail(format!(
                        "can't create snapshot: pool {} is in selfmanaged snaps mode",
                        self.pool
                    )));
                }
                match io.create_pool_snap(&name).await {
                    Ok(()) => {
                        println!("created pool {} snap {name}", self.pool);
                        Ok(())
                    }
                    Err(e) => fail(format!(
                        "error creating pool {} snapshot {name}: {}",
                        self.pool,
                        strerror(&e)
                    )),
                }
            }
            Cmd::Rmsnap { snap_name: name } => match io.remove_pool_snap(&name).await {
                Ok(()) => {
                    println!("removed pool {} snap {name}", self.pool);
                    Ok(())
                }
                Err(e) => fail(format!(
                    "error removing pool {} snapshot {name}: {}",
                    self.pool,
                    strerror(&e)
                )),
            },
            Cmd::Lssnap => {
                let snaps = io.pool_snaps();
                let mut out = std::io::stdout().lock();
                for s in &snaps {
                    writeln!(out, "{}\t{}\t{}", s.id.0, s.name, snap_stamp(s.stamp.sec))?;
                }
                writeln!(out, "{} snaps", snaps.len())?;
                Ok(())
            }
            Cmd::Lspools
            | Cmd::Mkpool(_)
            | Cmd::Rmpool(_)
            | Cmd::Ls { .. }
            | Cmd::Bench(_)
            | Cmd::Cleanup(_) => Ok(()),
        })
    }

    /// `do_put`: the first piece with write_full (unless --offset), the rest as writes; an
    /// empty input makes an empty object.
    async fn put(&self, obj: &str, infile: &str) -> Result<Outcome, CliError> {
        let data = if infile == "-" {
            read_all(std::io::stdin())?
        } else {
            match std::fs::read(infile) {
                Ok(d) => d,
                Err(e) => {
                    let errno = e.raw_os_error().map(Errno).unwrap_or(Errno::EIO);
                    return Ok(fail(format!(
                        "error reading input file {infile}: {}",
                        errno.cpp_strerror()
                    )));
                }
            }
        };
        let data = Bytes::from(data);
        let base = self.offset.unwrap_or(0);
        let create = self.offset.is_none();
        let piece = usize::try_from(self.op_size).unwrap_or(usize::MAX);
        let result = async {
            if data.is_empty() {
                self.io.write_full(obj, Bytes::new()).await?;
                if base > 0 {
                    self.io.truncate(obj, base).await?;
                }
                return Ok(());
            }
            let mut at = 0usize;
            while at < data.len() {
                let end = at.saturating_add(piece).min(data.len());
                let chunk = data.slice(at..end);
                let off = base + at as u64;
                if off == 0 && create {
                    self.io.write_full(obj, chunk).await?;
                } else {
                    self.io.write(obj, off, chunk).await?;
                }
                at = end;
            }
            Ok::<(), rados::Error>(())
        }
        .await;
        Ok(match result {
            Ok(()) => Ok(()),
            Err(e) => fail(format!(
                "error putting {}: {}",
                self.path(obj),
                strerror(&e)
            )),
        })
    }

    /// `do_get`: reads op-size pieces until a short one.
    async fn get(&self, obj: &str, outfile: &str) -> Result<Outcome, CliError> {
        let mut pieces = Vec::new();
        let mut off = 0u64;
        loop {
            match self.io.read(obj, off, self.op_size).await {
                Ok(b) => {
                    let n = b.len() as u64;
                    if n > 0 {
                        pieces.push(b);
                    }
                    if n < self.op_size {
                        break;
                    }
                    off += n;
                }
                Err(e) => {
                    return Ok(fail(format!(
                        "error getting {}: {}",
                        self.path(obj),
                        strerror(&e)
                    )));
                }
            }
        }
        if outfile == "-" {
            let mut out = std::io::stdout().lock();
            for p in &pieces {
                out.write_all(p)?;
            }
            out.flush()?;
        } else {
            let mut f = std::fs::File::create(outfile).map_err(|source| CliError::File {
                path: outfile.into(),
                source,
            })?;
            for p in &pieces {
                f.write_all(p).map_err(|source| CliError::File {
                    path: outfile.into(),
                    source,
                })?;
            }
        }
        Ok(Ok(()))
    }

    /// `do_append`: op-size pieces appended in order.
    async fn append(&self, obj: &str, infile: &str) -> Result<Outcome, CliError> {
        let data = if infile == "-" {
            read_all(std::io::stdin())?
        } else {
            match std::fs::read(infile) {
                Ok(d) => d,
                Err(e) => {
                    let errno = e.raw_os_error().map(Errno).unwrap_or(Errno::EIO);
                    return Ok(fail(format!(
                        "error reading input file {infile}: {}",
                        errno.cpp_strerror()
                    )));
                }
            }
        };
        let data = Bytes::from(data);
        let piece = usize::try_from(self.op_size).unwrap_or(usize::MAX);
        let mut at = 0usize;
        loop {
            let end = at.saturating_add(piece).min(data.len());
            if let Err(e) = self.io.append(obj, data.slice(at..end)).await {
                return Ok(fail(format!(
                    "error appending {}: {}",
                    self.path(obj),
                    strerror(&e)
                )));
            }
            at = end;
            if at >= data.len() {
                break;
            }
        }
        Ok(Ok(()))
    }

    /// `listomapkeys` / `listomapvals`, page by page.
    async fn list_omap(&self, obj: &str, values: bool) -> Result<Outcome, CliError> {
        let mut after = String::new();
        let mut out = std::io::stdout().lock();
        loop {
            let page = if values {
                self.io.omap_get_vals(obj, &after, "", OMAP_PAGE).await
            } else {
                self.io
                    .omap_get_keys(obj, &after, OMAP_PAGE)
                    .await
                    .map(|k| rados::OmapVals {
                        more: k.more,
                        vals: k.keys.into_iter().map(|k| (k, Bytes::new())).collect(),
                    })
            };
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let what = if values { "keys" } else { "key set" };
                    drop(out);
                    return Ok(fail(format!(
                        "error getting omap {what} {}: {}",
                        self.path(obj),
                        strerror(&e)
                    )));
                }
            };
            for (k, v) in &page.vals {
                if !values {
                    writeln!(out, "{k}")?;
                    continue;
                }
                if k.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                    writeln!(out, "{k}")?;
                } else {
                    write!(
                        out,
                        "key ({} bytes):\n{}",
                        k.len(),
                        hexdump(k.as_bytes(), true)
                    )?;
                    writeln!(out)?;
                }
                write!(out, "value ({} bytes) :\n{}", v.len(), hexdump(v, true))?;
                writeln!(out)?;
            }
            match page.vals.keys().next_back() {
                Some(last) if page.more => after.clone_from(last),
                _ => break,
            }
        }
        Ok(Ok(()))
    }
}

/// Prints `what (N bytes) :` and a hex dump, or writes the bytes to `outfile`.
fn dump_value(what: &str, v: &[u8], outfile: Option<&str>) -> Result<Outcome, CliError> {
    match outfile {
        Some(path) => {
            eprintln!("Writing to {path}");
            std::fs::write(path, v).map_err(|source| CliError::File {
                path: path.into(),
                source,
            })?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            write!(out, "{what} ({} bytes) :\n{}", v.len(), hexdump(v, true))?;
            writeln!(out)?;
        }
    }
    Ok(Ok(()))
}
