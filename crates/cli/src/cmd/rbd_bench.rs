//! `rbd-rs bench` (src/tools/rbd/action/Bench.cc): `--io-threads` requests in flight over
//! `--io-total` bytes, issued in rounds as `rbd bench` issues them (each round starts up to
//! one request per "thread", then moves every thread's offset: random, sequential chunks
//! per thread, or full-sequential), with its per-second lines (a rolling sum over 5
//! seconds) and its summary.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinSet;

use crate::cmd::rbd::{open_pool, resolve};
use crate::cmd::rbd_format::{byte_u, parse_size};
use crate::error::CliError;

/// `--io-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoType {
    /// Reads.
    Read,
    /// Writes.
    Write,
    /// A mix (`--rw-mix-read` percent reads).
    #[value(alias = "rw")]
    Readwrite,
}

/// `--io-pattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoPattern {
    /// Random offsets.
    Rand,
    /// Each thread walks its own chunk of the image.
    Seq,
    /// The threads walk the image together.
    FullSeq,
}

/// `bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// `[pool/[namespace/]]image`.
    #[arg(value_name = "IMAGE_SPEC")]
    spec: String,
    /// Pool.
    #[arg(short = 'p', long = "pool")]
    pool: Option<String>,
    /// IO type.
    #[arg(long = "io-type", value_enum)]
    io_type: IoType,
    /// IO size (in B/K/M/G) (< 4G).
    #[arg(long = "io-size", default_value = "4K")]
    io_size: String,
    /// IOs in flight.
    #[arg(long = "io-threads", default_value_t = 16)]
    io_threads: u64,
    /// Total size for IO (in B/K/M/G/T).
    #[arg(long = "io-total", default_value = "1G")]
    io_total: String,
    /// IO pattern.
    #[arg(long = "io-pattern", value_enum, default_value = "seq")]
    io_pattern: IoPattern,
    /// Read proportion in readwrite (<= 100).
    #[arg(long = "rw-mix-read", default_value_t = 50)]
    rw_mix_read: u64,
}

/// A C++ `ostream` double with the default precision (6 significant digits, `%g`).
pub fn fmt_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else {
            format!("{x}")
        };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exp.abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    trim(&format!("{x:.decimals$}"))
}

/// `rand()`: a small xorshift, seeded from the clock.
struct Rand(u64);

impl Rand {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 >> 1
    }
}

/// The rolling sums over the last 5 one-second windows.
#[derive(Default)]
struct Window {
    samples: std::collections::VecDeque<(f64, f64, f64)>,
}

impl Window {
    fn push(&mut self, time: f64, ios: f64, bytes: f64) -> (f64, f64, f64) {
        if self.samples.len() == 5 {
            self.samples.pop_front();
        }
        self.samples.push_back((time, ios, bytes));
        self.samples
            .iter()
            .fold((0.0, 0.0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1, a.2 + s.2))
    }
}

fn usage(msg: &'static str) -> CliError {
    CliError::Usage(msg)
}

/// Waits for requests until at most `max` are in flight; a failed request ends the run
/// with the message `rbd bench` prints.
async fn wait_for(set: &mut JoinSet<Result<(), String>>, max: usize) -> Result<(), CliError> {
    while set.len() > max {
        match set.join_next().await {
            Some(Ok(Ok(()))) | None => {}
            Some(Ok(Err(msg))) => {
                println!("{msg}");
                return Err(usage("bench I/O failed"));
            }
            Some(Err(_)) => return Err(usage("bench task failed")),
        }
    }
    Ok(())
}

/// `bench`.
pub async fn bench(rados: &rados::Rados, a: BenchArgs) -> Result<(), CliError> {
    let io_size = parse_size(&a.io_size, false)
        .filter(|&s| s > 0)
        .ok_or_else(|| usage("--io-size should be greater than zero."))?;
    let io_total =
        parse_size(&a.io_total, false).ok_or_else(|| usage("invalid --io-total value"))?;
    if a.io_threads == 0 {
        return Err(usage("--io-threads should be greater than zero."));
    }
    if a.rw_mix_read > 100 {
        return Err(usage("--rw-mix-read should not be larger than 100."));
    }
    let read_proportion = match a.io_type {
        IoType::Read => 100,
        IoType::Write => 0,
        IoType::Readwrite => a.rw_mix_read,
    };
    let spec = resolve(Some(&a.spec), a.pool.as_deref(), None, None)?;
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    let mode = if a.io_type == IoType::Read {
        rbd::OpenMode::ReadOnly
    } else {
        rbd::OpenMode::ReadWrite
    };
    let image = Arc::new(pool.open(&spec.image, mode).await?);
    // a read-write open watches the header until closed (a dropped one leaves its watch
    // to time out at the OSD when the process exits first): closed on every path
    let mut set = JoinSet::new();
    let r = run_on(&image, &mut set, &a, io_size, io_total, read_proportion).await;
    // the I/O tasks hold the image: after a failure some still run
    set.shutdown().await;
    close(image).await;
    r
}

/// `bench` on the open image; the I/O tasks run in `set`.
#[allow(clippy::cast_precision_loss)]
async fn run_on(
    image: &Arc<rbd::Image>,
    set: &mut JoinSet<Result<(), String>>,
    a: &BenchArgs,
    io_size: u64,
    io_total: u64,
    read_proportion: u64,
) -> Result<(), CliError> {
    let size = image.size();
    let refused = if io_size > size {
        eprintln!(
            "rbd: io-size {} larger than image size {}",
            byte_u(io_size),
            byte_u(size)
        );
        Some(usage("io-size larger than the image"))
    } else if io_size > u64::from(u32::MAX) {
        Some(usage("io-size should be less than 4G"))
    } else {
        None
    };
    if let Some(e) = refused {
        return Err(e);
    }
    image.flush().await?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rand = Rand(seed);
    let len = usize::try_from(io_size).map_err(|_| usage("io-size too large"))?;
    let write_data = Bytes::from(vec![(rand.next() & 0xff) as u8; len]);
    let threads = a.io_threads;

    let mut out = std::io::stdout().lock();
    let type_name = match a.io_type {
        IoType::Read => "read".to_owned(),
        IoType::Write => "write".to_owned(),
        IoType::Readwrite => format!(
            "readwrite read:write={}:{}",
            a.rw_mix_read,
            100 - a.rw_mix_read
        ),
    };
    let pattern = match a.io_pattern {
        IoPattern::Rand => "random",
        IoPattern::Seq => "sequential",
        IoPattern::FullSeq => "full sequential",
    };
    writeln!(
        out,
        "bench  type {type_name} io_size {io_size} io_threads {threads} bytes {io_total} pattern {pattern}"
    )?;
    let start = Instant::now();
    let mut last = Duration::ZERO;
    let mut ios = 0u64;
    let blocks = size / io_size;
    let seq_chunk = size / io_size / threads * io_size;
    let mut offsets: Vec<u64> = (0..threads)
        .map(|i| match a.io_pattern {
            IoPattern::Rand => rand.next() % blocks * io_size,
            IoPattern::Seq => seq_chunk * i,
            IoPattern::FullSeq => i * io_size,
        })
        .collect();
    writeln!(out, "  SEC       OPS   OPS/SEC   BYTES/SEC")?;
    out.flush()?;
    let mut window = Window::default();
    let (mut cur_ios, mut cur_off) = (0u64, 0u64);
    let (mut read_ops, mut write_ops) = (0u64, 0u64);
    let max_in_flight = usize::try_from(threads).unwrap_or(usize::MAX);
    let mut off = 0u64;
    while off < io_total {
        for &at in offsets.iter() {
            if off >= io_total {
                break;
            }
            let read = rand.next() % 100 < read_proportion;
            wait_for(set, max_in_flight - 1).await?;
            let image = image.clone();
            if read {
                set.spawn(async move {
                    match image.read(at, io_size).await {
                        Ok(b) if b.len() as u64 == io_size => Ok(()),
                        Ok(b) => Err(format!("read error: short read ({} bytes)", b.len())),
                        Err(e) => Err(format!("read error: {e}")),
                    }
                });
                read_ops += 1;
            } else {
                let data = write_data.clone();
                set.spawn(async move {
                    match image.write(at, data).await {
                        Ok(_) => Ok(()),
                        Err(e) => Err(format!("write error: {e}")),
                    }
                });
                write_ops += 1;
            }
            ios += 1;
            off += io_size;
            cur_ios += 1;
            cur_off += io_size;
        }
        for (i, o) in (0u64..).zip(offsets.iter_mut()) {
            match a.io_pattern {
                IoPattern::Rand => *o = rand.next() % blocks * io_size,
                IoPattern::Seq => {
                    if off < seq_chunk * threads {
                        *o += io_size;
                    } else {
                        *o = off + i * io_size;
                    }
                    if *o + io_size > size {
                        *o = seq_chunk * i;
                    }
                }
                IoPattern::FullSeq => {
                    *o += io_size * threads;
                    if *o >= size {
                        *o = i * io_size;
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        if last.is_zero() {
            last = elapsed;
        } else if elapsed.as_secs() != last.as_secs() {
            let (t, n, b) = window.push(
                (elapsed - last).as_secs_f64(),
                cur_ios as f64,
                cur_off as f64,
            );
            cur_ios = 0;
            cur_off = 0;
            writeln!(
                out,
                "{:>5}{:>10}{:>10}{:>10}/s",
                elapsed.as_secs(),
                ios.saturating_sub(threads),
                fmt_g(n / t),
                byte_u((b / t) as u64)
            )?;
            out.flush()?;
            last = elapsed;
        }
    }
    wait_for(set, 0).await?;
    if a.io_type != IoType::Read {
        if let Err(e) = image.flush().await {
            eprintln!("rbd: failed to flush at the end: {e}");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    writeln!(
        out,
        "elapsed: {}   ops: {ios}   ops/sec: {}   bytes/sec: {}/s",
        secs as u64,
        fmt_g(ios as f64 / secs),
        byte_u((off as f64 / secs) as u64)
    )?;
    if a.io_type == IoType::Readwrite {
        for (name, n) in [("read", read_ops), ("write", write_ops)] {
            writeln!(
                out,
                "{name}_ops: {n}   {name}_ops/sec: {}   {name}_bytes/sec: {}/s",
                fmt_g(n as f64 / secs),
                byte_u((n as f64 * io_size as f64 / secs) as u64)
            )?;
        }
    }
    Ok(())
}

/// Closes the image once the I/O tasks let go of it.
async fn close(image: Arc<rbd::Image>) {
    if let Ok(image) = Arc::try_unwrap(image) {
        if let Err(e) = image.close().await {
            eprintln!("rbd: failed to close the image: {e}");
        }
    }
}

/// Runs `bench`.
pub async fn run(
    global: &crate::global::GlobalArgs,
    a: BenchArgs,
) -> Result<std::process::ExitCode, CliError> {
    let rados = global.connect().await?;
    let r = bench(&rados, a).await;
    rados.shutdown().await;
    r.map(|()| std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_ostream() {
        assert_eq!(fmt_g(3482.99123), "3482.99");
        assert_eq!(fmt_g(2048.0), "2048");
        assert_eq!(fmt_g(0.5), "0.5");
        assert_eq!(fmt_g(123456.7), "123457");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(999999.7), "1e+06");
        assert_eq!(fmt_g(0.0001234), "0.0001234");
        assert_eq!(fmt_g(0.00001234), "1.234e-05");
        assert_eq!(fmt_g(0.0), "0");
    }
}
