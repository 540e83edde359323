//! `rbd-rs rados -p POOL bench SECONDS write|seq|rand` and `rbd-rs rados -p POOL cleanup`:
//! Ceph's object benchmark (src/common/obj_bencher.cc as src/tools/rados/rados.cc drives
//! it) with the same object names, contents and metadata object, so that either tool reads
//! or removes what the other wrote, and the same progress lines, summaries and errors.
//!
//! `-t N` operations are in flight at once, as tasks on the one client; the loop that
//! collects their completions also prints the progress line once a second, which `rados`
//! does from a thread of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rados::{Errno, IoCtx};
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};

use super::rados_bench_json::JsonOut;
use super::rados_bench_stats::{
    Metadata, Progress, Rng, contents_match, decode_metadata, encode_metadata, g6, hostname,
    op_contents, own_pid, prefix, stamp,
};
use super::rados_cleanup;
use crate::error::CliError;
use crate::output::Format;

/// The metadata object a write run leaves for later reads and clean-ups, by default.
const DEFAULT_RUN_NAME: &str = "benchmark_last_metadata";
/// Every benchmark object's name starts with this.
const OBJECT_PREFIX: &str = "benchmark_data";
/// `rados`'s default op size (4 MiB).
const DEFAULT_OP_SIZE: u64 = 1 << 22;
/// The hint `rados bench` puts on each write: `SEQUENTIAL_WRITE | SEQUENTIAL_READ |
/// APPEND_ONLY | IMMUTABLE` (`CEPH_OSD_ALLOC_HINT_FLAG_*`, src/include/rados.h).
const BENCH_HINT_FLAGS: u32 = 1 | 4 | 16 | 32;
/// What `rados` prints (with its whole usage) for a bench command it cannot parse.
const BENCH_USAGE: &str = "usage: rados -p POOL bench SECONDS write|seq|rand [-t concurrent_operations] \
     [--no-cleanup] [--run-name run_name] [--no-hints] [--reuse-bench]";

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// How long to run, in seconds (0: one round of operations).
    #[arg(value_name = "SECONDS", allow_hyphen_values = true)]
    seconds: String,
    /// What to do: write new objects, or read those of the last write run in order (seq)
    /// or at random (rand).
    #[arg(value_name = "write|seq|rand")]
    mode: String,
    /// Operations in flight at once.
    #[arg(short = 't', long = "concurrent-ios", value_name = "N", default_value = "16",
          value_parser = parse_size)]
    concurrent_ios: u64,
    /// Keep the objects of a write run (for seq and rand runs).
    #[arg(long = "no-cleanup")]
    no_cleanup: bool,
    /// The metadata object of the run (default benchmark_last_metadata).
    #[arg(long = "run-name", value_name = "NAME")]
    run_name: Option<String>,
    /// No allocation hint on the writes.
    #[arg(long = "no-hints")]
    no_hints: bool,
    /// Write over the objects of the last write run.
    #[arg(long = "reuse-bench")]
    reuse_bench: bool,
    /// Do not check the contents of what is read.
    #[arg(long = "no-verify")]
    no_verify: bool,
    /// Prefix lines with the date and time.
    #[arg(long = "show-time")]
    show_time: bool,
    /// Object size for write runs (default: the op size, -b).
    #[arg(short = 'O', long = "object-size", value_name = "BYTES", value_parser = parse_size)]
    object_size: Option<u64>,
    /// Stop a write run after this many objects.
    #[arg(long = "max-objects", value_name = "N", value_parser = parse_size)]
    max_objects: Option<u64>,
    /// Write the data to the objects (the default).
    #[arg(long = "write-object")]
    write_object: bool,
    /// Write the data as an omap value.
    #[arg(long = "write-omap")]
    write_omap: bool,
    /// Write the data as an xattr.
    #[arg(long = "write-xattr")]
    write_xattr: bool,
}

/// Arguments of `cleanup`.
#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    /// The metadata object of the run (default benchmark_last_metadata).
    #[arg(long = "run-name", value_name = "NAME")]
    run_name: Option<String>,
    /// Object name prefix (must start with benchmark_data).
    #[arg(long = "prefix", value_name = "PREFIX")]
    prefix: Option<String>,
    /// Removals in flight at once.
    #[arg(short = 't', long = "concurrent-ios", value_name = "N", default_value = "16",
          value_parser = parse_size)]
    concurrent_ios: u64,
}

/// A size as `rados` reads `-b`, `-O`, `-t` (`strict_iecstrtoll`): digits, then an optional
/// unit K, M, G, T, P or E (powers of 1024; `Ki`, `KB`... too) or B.
pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("strict_iecstrtoll: value not specified".into());
    }
    let split = s
        .find(|c: char| !matches!(c, '0'..='9' | '+' | '-'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = match unit.as_bytes() {
        [] | [b'B'] => 0,
        [b'B', b'i'] => return Err("strict_iecstrtoll: illegal prefix \"Bi\"".into()),
        [u] | [u, _] => match u {
            b'K' => 10,
            b'M' => 20,
            b'G' => 30,
            b'T' => 40,
            b'P' => 50,
            b'E' => 60,
            b'B' => 0,
            _ => return Err("strict_iecstrtoll: unit prefix not recognized".into()),
        },
        _ => return Err("strict_iecstrtoll: illegal prefix (length > 2)".into()),
    };
    let value: u64 = number
        .strip_prefix('+')
        .unwrap_or(number)
        .parse()
        .map_err(|_| format!("Expected option value to be integer, got '{number}'"))?;
    if value > u64::MAX >> shift {
        return Err("strict_iecstrtoll: value seems to be too large".into());
    }
    Ok(value << shift)
}

/// `strtol(s, &end, 10)` with `*end` required to be the end: leading blanks and a sign
/// allowed, an empty string is 0. `None` if anything else follows the number.
fn parse_seconds(s: &str) -> Option<i64> {
    let t = s.trim_start();
    if t.is_empty() {
        return s.is_empty().then_some(0);
    }
    let v: i64 = t.parse().ok()?;
    Some(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
}

/// Why a run stopped early.
enum Stop {
    /// The benchmark failed with this error (what `rados` prints on the way is printed).
    Failed(Errno),
    /// Standard output failed.
    Output(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Output(e)
    }
}

impl From<&rados::Error> for Stop {
    fn from(e: &rados::Error) -> Self {
        Stop::Failed(e.kind())
    }
}

type Step<T> = Result<T, Stop>;

/// A line to stdout (with the `--show-time` prefix when asked for).
fn say(show_time: bool, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}{line}", prefix(show_time))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Seq,
    Rand,
}

/// Where a write run puts its data (`--write-object/omap/xattr`).
#[derive(Debug, Clone, Copy)]
struct Destinations {
    object: bool,
    omap: bool,
    xattr: bool,
}

/// A read in flight: when it was sent, its operation number, its object.
struct ReadSlot {
    sent_at: Instant,
    index: i64,
    name: String,
}

/// One run's settings and the objects' names.
struct Bencher {
    io: Arc<IoCtx>,
    host: String,
    show_time: bool,
    concurrency: usize,
    op_size: u64,
    object_size: u64,
    hints: bool,
    dest: Destinations,
    verify: bool,
    /// `--format json|json-pretty`: the document being written (`Some(pretty)` asked for).
    json: Option<bool>,
    json_out: std::sync::Mutex<Option<JsonOut>>,
}

/// Runs `bench`; `op_size` is the global `-b`.
pub async fn bench(
    io: &IoCtx,
    op_size: Option<u64>,
    a: BenchArgs,
    format: Format,
) -> Result<Result<(), ()>, CliError> {
    let Some(seconds) = parse_seconds(&a.seconds) else {
        eprintln!("Invalid value for seconds: '{}'", a.seconds);
        return Ok(Err(()));
    };
    let mode = match a.mode.as_str() {
        "write" => Mode::Write,
        "seq" => Mode::Seq,
        "rand" => Mode::Rand,
        _ => {
            eprintln!("{BENCH_USAGE}");
            return Ok(Err(()));
        }
    };
    let any_dest = a.write_object || a.write_omap || a.write_xattr;
    if mode != Mode::Write {
        if op_size.is_some() || a.object_size.is_some() {
            eprintln!("-b|--block_size option can be used only with 'write' bench test");
            return Ok(Err(()));
        }
        if any_dest {
            eprintln!(
                "--write-object, --write-omap and --write-xattr options can only be used with the 'write' bench test"
            );
            return Ok(Err(()));
        }
    }
    let dest = Destinations {
        object: a.write_object || !any_dest,
        omap: a.write_omap,
        xattr: a.write_xattr,
    };
    let mut op_size = op_size.unwrap_or(DEFAULT_OP_SIZE);
    let mut object_size = a.object_size.unwrap_or(0);
    if object_size == 0 {
        object_size = op_size;
    } else if object_size < op_size {
        op_size = object_size;
    }
    // rados keeps both in a C `unsigned`
    if u32::try_from(op_size).is_err() || u32::try_from(object_size).is_err() {
        eprintln!("Invalid value for block-size: strict_iecstrtoll: value seems to be too large");
        return Ok(Err(()));
    }
    let hints = !a.no_hints;
    println!("hints = {}", u8::from(hints));
    let mut b = Bencher {
        io: Arc::new(io.clone()),
        host: hostname(),
        show_time: a.show_time,
        concurrency: usize::try_from(a.concurrent_ios).unwrap_or(usize::MAX),
        op_size,
        object_size,
        hints,
        dest,
        verify: !a.no_verify,
        json: match format {
            Format::Plain => None,
            Format::Json => Some(false),
            Format::JsonPretty => Some(true),
        },
        json_out: std::sync::Mutex::new(None),
    };
    let run_name = a
        .run_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_RUN_NAME.into());
    let cleanup = !a.no_cleanup;
    let max_objects = a.max_objects.unwrap_or(0);
    let outcome = b
        .run(
            mode,
            seconds,
            &run_name,
            max_objects,
            cleanup,
            a.reuse_bench,
        )
        .await;
    finish("error during benchmark", outcome)
}

/// Runs `cleanup`; `all_namespaces` for `--all`.
pub async fn cleanup(
    io: &IoCtx,
    a: CleanupArgs,
    all_namespaces: bool,
) -> Result<Result<(), ()>, CliError> {
    let b = Bencher {
        io: Arc::new(io.clone()),
        host: hostname(),
        show_time: false,
        concurrency: usize::try_from(a.concurrent_ios).unwrap_or(usize::MAX),
        op_size: DEFAULT_OP_SIZE,
        object_size: DEFAULT_OP_SIZE,
        hints: true,
        dest: Destinations {
            object: true,
            omap: false,
            xattr: false,
        },
        verify: true,
        json: None,
        json_out: std::sync::Mutex::new(None),
    };
    let run_name = a
        .run_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_RUN_NAME.into());
    let outcome = b
        .cleanup_command(&run_name, a.prefix.as_deref(), all_namespaces)
        .await;
    finish("error during cleanup", outcome)
}

/// `rados`'s last words on a failed run: the command's line, then `main`'s.
fn finish(what: &str, outcome: Step<()>) -> Result<Result<(), ()>, CliError> {
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(Stop::Failed(errno)) => {
            eprintln!("{what}: {}", errno.cpp_strerror());
            eprintln!("error {}: {}", errno.0, errno.cpp_strerror());
            Ok(Err(()))
        }
        Err(Stop::Output(e)) => Err(CliError::Output(e)),
    }
}

/// Waits for the next completed operation, printing the progress line whenever a second
/// has passed; `None` once nothing is in flight.
async fn next_done<T: 'static>(
    tasks: &mut JoinSet<(usize, T)>,
    ticker: &mut Interval,
    progress: &mut Progress,
) -> Step<Option<(usize, T)>> {
    loop {
        tokio::select! {
            joined = tasks.join_next() => {
                return match joined {
                    None => Ok(None),
                    Some(Ok(done)) => Ok(Some(done)),
                    // a task panicked or was aborted: nothing rados could report better
                    Some(Err(_)) => Err(Stop::Failed(Errno::EIO)),
                };
            }
            _ = ticker.tick() => progress.tick()?,
        }
    }
}

/// The once-a-second clock of the progress line, its first tick a second after `start`.
fn ticker(start: Instant) -> Interval {
    let first = tokio::time::Instant::from_std(start) + Duration::from_secs(1);
    let mut t = tokio::time::interval_at(first, Duration::from_secs(1));
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

impl Bencher {
    fn object_name(&self, pid: i32, n: i64) -> String {
        format!("{OBJECT_PREFIX}_{}_{pid}_object{n}", self.host)
    }

    fn op_len(&self) -> usize {
        usize::try_from(self.op_size).unwrap_or(usize::MAX)
    }

    /// Operations per object (`object_size / op_size`, at least 1).
    fn per_object(&self) -> i64 {
        if self.op_size == 0 {
            return 1;
        }
        i64::try_from(self.object_size / self.op_size)
            .unwrap_or(1)
            .max(1)
    }

    /// The object and offset of operation `n`.
    fn place(&self, pid: i32, n: i64) -> (String, u64) {
        let per = self.per_object();
        let offset = self.op_size * u64::try_from(n % per).unwrap_or(0);
        (self.object_name(pid, n / per), offset)
    }

    async fn fetch_metadata(&self, run_name: &str) -> Result<Metadata, Errno> {
        match self.io.read(run_name, 0, 24).await {
            // an empty metadata object counts as none
            Ok(b) if b.is_empty() => Err(Errno::ENOENT),
            Ok(b) => decode_metadata(&b).map_err(|_| Errno::EINVAL),
            Err(e) => Err(e.kind()),
        }
    }

    /// `aio_bench`.
    async fn run(
        &mut self,
        mode: Mode,
        seconds: i64,
        run_name: &str,
        max_objects: u64,
        cleanup: bool,
        reuse: bool,
    ) -> Step<()> {
        if self.concurrency == 0 {
            return Err(Stop::Failed(Errno::EINVAL));
        }
        let mut previous = None;
        if mode != Mode::Write || reuse {
            let meta = match self.fetch_metadata(run_name).await {
                Ok(m) => m,
                Err(e) => {
                    if e == Errno::ENOENT {
                        if reuse {
                            eprintln!(
                                "Must write data before using reuse_bench for a write benchmark!"
                            );
                        } else {
                            eprintln!("Must write data before running a read benchmark!");
                        }
                    }
                    return Err(Stop::Failed(e));
                }
            };
            self.object_size = meta.object_size;
            self.op_size = meta.op_size;
            previous = Some(meta);
        }
        if let Some(pretty) = self.json {
            let mut j = JsonOut::new(pretty);
            j.open_object(None);
            self.set_json(Some(j));
        }
        let outcome = self
            .run_phases(mode, seconds, run_name, max_objects, cleanup, previous)
            .await;
        // rados closes its document whatever happened (what was lost in a failed run stays lost)
        if let Some(mut j) = self.set_json(None) {
            j.finish()?;
        }
        outcome
    }

    fn set_json(&self, j: Option<JsonOut>) -> Option<JsonOut> {
        let mut slot = self
            .json_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::replace(&mut *slot, j)
    }

    async fn run_phases(
        &self,
        mode: Mode,
        seconds: i64,
        run_name: &str,
        max_objects: u64,
        cleanup: bool,
        previous: Option<Metadata>,
    ) -> Step<()> {
        match (mode, previous) {
            (Mode::Write, _) => {
                self.write(seconds, run_name, max_objects, previous.map(|m| m.pid))
                    .await?
            }
            (Mode::Seq, Some(m)) => self.read(seconds, m, false).await?,
            (Mode::Rand, Some(m)) => self.read(seconds, m, true).await?,
            (_, None) => return Err(Stop::Failed(Errno::ENOENT)),
        }
        if mode == Mode::Write && cleanup {
            let meta = match self.fetch_metadata(run_name).await {
                Ok(m) => m,
                Err(e) => {
                    if e == Errno::ENOENT {
                        eprintln!("Should never happen: bench metadata missing for current run!");
                    }
                    return Err(Stop::Failed(e));
                }
            };
            let started = Instant::now();
            say(self.show_time, "Cleaning up (deleting benchmark objects)")?;
            self.remove_objects(meta.num_objects, meta.pid).await?;
            say(
                self.show_time,
                &format!(
                    "Clean up completed and total clean up time :{}",
                    g6(started.elapsed().as_secs_f64())
                ),
            )?;
            self.io.remove(run_name).await.map_err(|e| Stop::from(&e))?;
        }
        Ok(())
    }

    /// One write of operation `n` (and its hint, omap value or xattr), spawned.
    fn spawn_write(
        &self,
        tasks: &mut JoinSet<(usize, Result<(), rados::Error>)>,
        slot: usize,
        pid: i32,
        n: i64,
        data: Bytes,
    ) {
        let (name, offset) = self.place(pid, n);
        let mut op = self.io.op(name);
        if self.dest.object {
            if self.hints {
                op = op.set_alloc_hint(self.object_size, self.op_size, BENCH_HINT_FLAGS);
            }
            op = op.write(offset, data.clone());
        }
        if self.dest.omap {
            let entries = [(format!("bench-omap-key-{offset}"), data.clone())].into();
            op = op.omap_set(&entries);
        }
        if self.dest.xattr {
            op = op.set_xattr(&format!("bench-xattr-key-{offset}"), &data);
        }
        tasks.spawn(async move { (slot, op.submit().await.map(|_| ())) });
    }

    /// `write_bench`.
    async fn write(
        &self,
        seconds: i64,
        run_name: &str,
        max_objects: u64,
        previous_pid: Option<i32>,
    ) -> Step<()> {
        let t = self.concurrency;
        let pid = previous_pid.unwrap_or_else(own_pid);
        let mut json = self.set_json(None);
        if let Some(j) = json.as_mut() {
            j.int("concurrent_ios", i64::try_from(t).unwrap_or(i64::MAX));
            j.int("object_size", self.object_size as i64);
            j.int("op_size", self.op_size as i64);
            j.int("seconds_to_run", seconds);
            // a C `unsigned` printed with "%d"
            j.int("max_objects", i64::from(max_objects as u32 as i32));
            j.field(
                "object_prefix",
                &format!("{OBJECT_PREFIX}_{}_{pid}", self.host),
            );
        } else {
            say(
                self.show_time,
                &format!(
                    "Maintaining {t} concurrent writes of {} bytes to objects of size {} for up to {seconds} seconds or {max_objects} objects",
                    self.op_size, self.object_size
                ),
            )?;
            say(
                self.show_time,
                &format!("Object prefix: {OBJECT_PREFIX}_{}_{pid}", self.host),
            )?;
        }
        let op_len = self.op_len();
        let mut buffers: Vec<Bytes> = (0..t)
            .map(|i| Bytes::from(op_contents(i64::try_from(i).unwrap_or(0), op_len)))
            .collect();
        let op_limit = (self.op_size > 0 && max_objects > 0).then(|| {
            let ops = (self.object_size * max_objects).div_ceil(self.op_size);
            i64::try_from(ops).unwrap_or(i64::MAX)
        });
        let mut progress = Progress::new(self.op_size, self.show_time);
        progress.json = json;
        progress.tick()?;
        let start = progress.start;
        let mut ticker = ticker(start);
        let stop_at = start + Duration::from_secs(seconds.max(0).unsigned_abs());
        let mut tasks = JoinSet::new();
        let mut sent_at = vec![start; t];
        for (slot, buf) in buffers.iter().enumerate() {
            sent_at[slot] = Instant::now();
            self.spawn_write(&mut tasks, slot, pid, progress.started, buf.clone());
            progress.sent();
        }
        while let Some((slot, result)) = next_done(&mut tasks, &mut ticker, &mut progress).await? {
            result.map_err(|e| Stop::from(&e))?;
            progress.completed(sent_at[slot].elapsed().as_secs_f64());
            if seconds == 0 || Instant::now() >= stop_at {
                continue;
            }
            if op_limit.is_some_and(|limit| progress.started >= limit) {
                continue;
            }
            let n = progress.started;
            // the slot's buffer again, its header rewritten (copied if still referenced)
            let old = std::mem::take(&mut buffers[slot]);
            let mut buf = old
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            stamp(&mut buf, n);
            buffers[slot] = buf.freeze();
            sent_at[slot] = Instant::now();
            self.spawn_write(&mut tasks, slot, pid, n, buffers[slot].clone());
            progress.sent();
        }
        let elapsed = start.elapsed().as_secs_f64();
        progress.stop();
        if let Some(mut j) = progress.json.take() {
            progress.write_summary_json(&mut j, elapsed, self.object_size);
            self.set_json(Some(j));
        } else {
            print_block(&progress.write_summary(elapsed, self.object_size))?;
        }
        // rados does not check this write either
        let meta = encode_metadata(self.object_size, progress.finished, pid, self.op_size);
        if let Err(e) = self.io.write_full(run_name, meta).await {
            tracing::warn!("writing {run_name}: {e}");
        }
        Ok(())
    }

    /// `seq_read_bench` (`random` false) and `rand_read_bench`.
    async fn read(&self, seconds: i64, meta: Metadata, random: bool) -> Step<()> {
        let op_len = self.op_len();
        let z = vec![b'z'; op_len];
        let mut progress = Progress::new(self.op_size, self.show_time);
        progress.json = self.set_json(None);
        progress.tick()?;
        let start = progress.start;
        let mut ticker = ticker(start);
        let finish_at = start + Duration::from_secs(seconds.max(0).unsigned_abs());
        let mut rng = Rng::seeded();
        let mut tasks = JoinSet::new();
        // rados starts T reads even with fewer objects (and fails on the missing ones)
        let initial = i64::try_from(self.concurrency)
            .unwrap_or(i64::MAX)
            .min(meta.num_ops);
        let mut slots: Vec<ReadSlot> = Vec::new();
        for n in 0..initial {
            let mut slot = ReadSlot {
                sent_at: start,
                index: 0,
                name: String::new(),
            };
            self.spawn_read(&mut tasks, slots.len(), &mut slot, meta.pid, n);
            slots.push(slot);
            progress.sent();
        }
        let mut errors = 0u64;
        while let Some((i, result)) = next_done(&mut tasks, &mut ticker, &mut progress).await? {
            let Some(slot) = slots.get_mut(i) else {
                continue;
            };
            let latency = slot.sent_at.elapsed().as_secs_f64();
            let empty = Bytes::new();
            let data = result.as_ref().unwrap_or(&empty);
            let mismatch = self.verify && !contents_match(data, slot.index, &z);
            // seq checks the contents before the return code, rand after
            if mismatch && !random {
                eprintln!("{} is not correct!", slot.name);
                errors += 1;
            }
            if let Err(e) = &result {
                eprintln!("read got {}", e.errno());
                return Err(Stop::from(e));
            }
            if mismatch && random {
                eprintln!("{} is not correct!", slot.name);
                errors += 1;
            }
            progress.completed(latency);
            let more_time = seconds != 0 && Instant::now() < finish_at;
            let next = if random {
                more_time.then(|| rng.below(meta.num_ops))
            } else {
                (more_time && meta.num_ops > progress.started).then_some(progress.started)
            };
            if let Some(n) = next {
                self.spawn_read(&mut tasks, i, slot, meta.pid, n);
                progress.sent();
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        progress.stop();
        if let Some(mut j) = progress.json.take() {
            progress.read_summary_json(&mut j, elapsed, self.object_size);
            self.set_json(Some(j));
        } else {
            print_block(&progress.read_summary(elapsed, self.object_size))?;
        }
        if errors > 0 {
            return Err(Stop::Failed(Errno::EIO));
        }
        Ok(())
    }

    /// Sends the read of operation `n` for `slot` (number `i`).
    fn spawn_read(
        &self,
        tasks: &mut JoinSet<(usize, Result<Bytes, rados::Error>)>,
        i: usize,
        slot: &mut ReadSlot,
        pid: i32,
        n: i64,
    ) {
        let (name, offset) = self.place(pid, n);
        slot.index = n;
        slot.name.clone_from(&name);
        slot.sent_at = Instant::now();
        let io = Arc::clone(&self.io);
        let len = self.op_size;
        tasks.spawn(async move { (i, io.read(&name, offset, len).await) });
    }

    /// `clean_up(num_objects, pid, T)`: removes objects `0..num_objects` of `pid`, `T` at
    /// a time; missing ones are fine.
    async fn remove_objects(&self, num_objects: i64, pid: i32) -> Step<()> {
        if num_objects <= 0 {
            return Ok(());
        }
        let t = i64::try_from(self.concurrency)
            .unwrap_or(i64::MAX)
            .min(num_objects);
        let mut tasks = JoinSet::new();
        let spawn = |tasks: &mut JoinSet<Result<(), rados::Error>>, n: i64| {
            let io = Arc::clone(&self.io);
            let name = self.object_name(pid, n);
            tasks.spawn(async move { io.remove(&name).await });
        };
        let mut started = 0i64;
        while started < t {
            spawn(&mut tasks, started);
            started += 1;
        }
        let mut finished = 0i64;
        while let Some(joined) = tasks.join_next().await {
            let Ok(result) = joined else {
                return Err(Stop::Failed(Errno::EIO));
            };
            if let Err(e) = result
                && !e.is(Errno::ENOENT)
            {
                eprintln!("remove got {}", e.errno());
                return Err(Stop::from(&e));
            }
            finished += 1;
            if started < num_objects {
                spawn(&mut tasks, started);
                started += 1;
            }
        }
        let s = if finished != 1 { "s" } else { "" };
        say(self.show_time, &format!("Removed {finished} object{s}"))?;
        Ok(())
    }

    /// `rados cleanup` (`ObjBencher::clean_up(prefix, T, run_name)`): see
    /// [`rados_cleanup`](super::rados_cleanup).
    async fn cleanup_command(
        &self,
        run_name: &str,
        object_prefix: Option<&str>,
        all_namespaces: bool,
    ) -> Step<()> {
        let default_prefix = format!("{OBJECT_PREFIX}_{}", self.host);
        let prefix = object_prefix
            .filter(|p| !p.is_empty())
            .unwrap_or(&default_prefix);
        if !prefix.starts_with(OBJECT_PREFIX) {
            eprintln!("Specified --prefix invalid, it must begin with \"{OBJECT_PREFIX}\"");
            return Err(Stop::Failed(Errno::EINVAL));
        }
        let found = rados_cleanup::survey(&self.io, all_namespaces, prefix, run_name)
            .await
            .map_err(|e| Stop::from(&e))?;
        for ns in &found.with_objects {
            let io = Arc::new(self.io.as_ref().clone().with_namespace(ns.clone()));
            if self.concurrency == 0 {
                return Err(Stop::Failed(Errno::EINVAL));
            }
            if !found.with_metadata.contains(ns) {
                say(self.show_time, "Warning: using slow linear search")?;
                let removed =
                    match rados_cleanup::remove_matching(&io, prefix, self.concurrency).await {
                        Ok(n) => n,
                        Err(e) => {
                            eprintln!("clean_up_slow error r= -{}", e.0);
                            return Err(Stop::Failed(e));
                        }
                    };
                let s = if removed != 1 { "s" } else { "" };
                say(self.show_time, &format!("Removed {removed} object{s}"))?;
                continue;
            }
            let here = Bencher {
                io: Arc::clone(&io),
                host: self.host.clone(),
                json: None,
                json_out: std::sync::Mutex::new(None),
                ..*self
            };
            let meta = here.fetch_metadata(run_name).await.map_err(Stop::Failed)?;
            here.remove_objects(meta.num_objects, meta.pid).await?;
            io.remove(run_name).await.map_err(|e| Stop::from(&e))?;
        }
        Ok(())
    }
}

fn print_block(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_strict_iecstrtoll() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4Ki"), Ok(4096));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("7B"), Ok(7));
        assert!(parse_size("4Bi").is_err());
        assert!(parse_size("4Q").is_err());
        assert!(parse_size("4KiB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn seconds_parse_like_strtol() {
        assert_eq!(parse_seconds("10"), Some(10));
        assert_eq!(parse_seconds(" 3"), Some(3));
        assert_eq!(parse_seconds("-2"), Some(-2));
        assert_eq!(parse_seconds(""), Some(0));
        assert_eq!(parse_seconds("1s"), None);
        assert_eq!(parse_seconds(" "), None);
    }
}
