//! What `rados bench` writes, keeps and prints (src/common/obj_bencher.cc): the object
//! contents the runs write and check, the metadata object, the per-operation latency
//! figures, the once-a-second progress line and its interval statistics, the summaries,
//! and the C++ stream's way of printing a double.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::rados_bench_json::JsonOut;
use super::rados_format::utime;

const MIB: f64 = 1024.0 * 1024.0;

/// A double as `std::ostream` prints it with the default precision of 6 (printf's `%g`):
/// six significant digits, trailing zeros dropped, exponent form below 1e-4 and from 1e6.
pub fn g6(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // the exponent %g decides on is the one of the value rounded to 6 digits
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exp.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim_fraction(&format!("{x:.decimals$}")).to_owned()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// What `snprintf(buf, op_size, "I'm the %16dth op!", index)` leaves at the start of an
/// operation's buffer (the rest is `z`): the text and its NUL, cut to the buffer's size.
pub fn op_header(index: i64, op_size: usize) -> Vec<u8> {
    let mut text = format!("I'm the {index:>16}th op!").into_bytes();
    let Some(room) = op_size.checked_sub(1) else {
        return Vec::new();
    };
    text.truncate(room);
    text.push(0);
    text
}

/// The buffer of operation `index`: its header over `op_size` bytes of `z`.
pub fn op_contents(index: i64, op_size: usize) -> Vec<u8> {
    let mut buf = vec![b'z'; op_size];
    stamp(&mut buf, index);
    buf
}

/// Rewrites the header of a buffer made by [`op_contents`] for operation `index`.
pub fn stamp(buf: &mut [u8], index: i64) {
    let header = op_header(index, buf.len());
    if let Some(start) = buf.get_mut(..header.len()) {
        start.copy_from_slice(&header);
    }
}

/// Whether `data` is what operation `index` wrote; `z` is `op_size` bytes of `z`.
pub fn contents_match(data: &[u8], index: i64, z: &[u8]) -> bool {
    if data.len() != z.len() {
        return false;
    }
    let header = op_header(index, z.len());
    let (head, rest) = data.split_at(header.len().min(data.len()));
    head == header.as_slice() && z.get(header.len()..) == Some(rest)
}

/// `utime_t::localtime`'s form of the current time (printed in UTC, as the rest of
/// `rbd-rs rados` does).
fn now_stamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    utime(
        u32::try_from(now.as_secs()).unwrap_or(u32::MAX),
        now.subsec_micros(),
    )
}

/// `rados bench --show-time`'s line prefix: the time and a space, or nothing.
pub fn prefix(show_time: bool) -> String {
    if show_time {
        format!("{} ", now_stamp())
    } else {
        String::new()
    }
}

/// Running mean and squared deviations (Welford), with the extremes.
#[derive(Debug, Clone, Copy)]
struct Spread<T> {
    min: T,
    max: T,
    mean: f64,
    samples: u64,
    squares: f64,
}

impl<T: Copy + PartialOrd + Into<f64>> Spread<T> {
    fn new(min: T, max: T) -> Self {
        Spread {
            min,
            max,
            mean: 0.0,
            samples: 0,
            squares: 0.0,
        }
    }

    fn add(&mut self, v: T) {
        if v > self.max {
            self.max = v;
        }
        if v < self.min {
            self.min = v;
        }
        self.samples += 1;
        let x: f64 = v.into();
        let delta = x - self.mean;
        self.mean += delta / self.samples as f64;
        self.squares += delta * (x - self.mean);
    }

    /// The sample standard deviation (0 below two samples).
    fn stddev(&self) -> f64 {
        if self.samples > 1 {
            (self.squares / (self.samples - 1) as f64).sqrt()
        } else {
            0.0
        }
    }
}

/// The counters of one run (`bench_data`) and the status printer's state.
#[derive(Debug)]
pub struct Progress {
    op_size: u64,
    show_time: bool,
    /// When the run's clock started.
    pub start: Instant,
    /// Operations sent and not completed.
    pub in_flight: i64,
    /// Operations sent.
    pub started: i64,
    /// Operations completed.
    pub finished: i64,
    cur_latency: f64,
    total_latency: f64,
    avg_latency: f64,
    min_latency: f64,
    max_latency: f64,
    latency_squares: f64,
    // the status printer's
    ticks: i64,
    previous_finished: i64,
    cycles_since_change: i64,
    last_iops: i64,
    bandwidth: Spread<f64>,
    iops: Spread<i32>,
    /// With `--format json`: the records go here instead of the table.
    pub json: Option<JsonOut>,
}

impl Progress {
    /// A run of `op_size`-byte operations whose clock starts now.
    pub fn new(op_size: u64, show_time: bool) -> Self {
        Progress {
            op_size,
            show_time,
            start: Instant::now(),
            in_flight: 0,
            started: 0,
            finished: 0,
            cur_latency: 0.0,
            total_latency: 0.0,
            avg_latency: 0.0,
            // "this better be higher than initial latency!"
            min_latency: 9999.0,
            max_latency: 0.0,
            latency_squares: 0.0,
            ticks: 0,
            previous_finished: 0,
            cycles_since_change: 0,
            last_iops: -1,
            bandwidth: Spread::new(f64::MAX, 0.0),
            iops: Spread::new(i32::MAX, 0),
            json: None,
        }
    }

    /// An operation was sent.
    pub fn sent(&mut self) {
        self.started += 1;
        self.in_flight += 1;
    }

    /// An operation completed after `latency` seconds.
    pub fn completed(&mut self, latency: f64) {
        self.cur_latency = latency;
        self.total_latency += latency;
        if latency > self.max_latency {
            self.max_latency = latency;
        }
        if latency < self.min_latency {
            self.min_latency = latency;
        }
        self.finished += 1;
        let delta = latency - self.avg_latency;
        self.avg_latency = self.total_latency / self.finished as f64;
        self.latency_squares += delta * (latency - self.avg_latency);
        self.in_flight -= 1;
    }

    /// One pass of `status_printer`: every 20 lines the latency extremes and the header,
    /// then the line for this second, and the interval statistics.
    pub fn tick(&mut self) -> std::io::Result<()> {
        let mut out = String::new();
        if self.ticks % 20 == 0 && self.json.is_none() {
            if self.ticks > 0 {
                let _ = writeln!(
                    out,
                    "{} min lat: {} max lat: {} avg lat: {}",
                    now_stamp(),
                    g6(self.min_latency),
                    g6(self.max_latency),
                    g6(self.avg_latency)
                );
            }
            let _ = writeln!(
                out,
                "{}{:>5}{:>8}{:>10}{:>10}{:>10}{:>10}{:>12}{:>12}",
                prefix(self.show_time),
                "sec",
                "Cur ops",
                "started",
                "finished",
                "avg MB/s",
                "cur MB/s",
                "last lat(s)",
                "avg lat(s)"
            );
        }
        let done = (self.finished - self.previous_finished) as f64;
        let cycles = self.cycles_since_change as f64;
        let bandwidth = if self.cycles_since_change > 0 {
            done * self.op_size as f64 / MIB / cycles
        } else {
            -1.0
        };
        if bandwidth > -1.0 {
            self.bandwidth.add(bandwidth);
        }
        // an int in rados: the fraction is cut off
        self.last_iops = if self.cycles_since_change > 0 {
            (done / cycles) as i64
        } else {
            -1
        };
        if self.last_iops > -1 {
            self.iops
                .add(i32::try_from(self.last_iops).unwrap_or(i32::MAX));
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let avg_bandwidth = self.op_size as f64 * self.finished as f64 / elapsed / MIB;
        if let Some(j) = self.json.as_mut() {
            let changed = self.previous_finished != self.finished;
            if self.ticks == 0 {
                j.open_array(Some("datas"));
            }
            j.open_object(None);
            j.int("sec", self.ticks);
            j.int("cur_ops", self.in_flight);
            j.int("started", self.started);
            j.int("finished", self.finished);
            j.float("avg_bw", avg_bandwidth);
            j.float("cur_bw", if changed { bandwidth } else { 0.0 });
            j.float("last_lat", if changed { self.cur_latency } else { 0.0 });
            j.float("avg_lat", self.avg_latency);
            j.close();
            if changed {
                self.previous_finished = self.finished;
                self.cycles_since_change = 0;
            }
            self.ticks += 1;
            self.cycles_since_change += 1;
            return j.flush();
        }
        let head = format!(
            "{}{:>5} {:>7} {:>9} {:>9} {:>9}",
            prefix(self.show_time),
            self.ticks,
            self.in_flight,
            self.started,
            self.finished,
            g6(avg_bandwidth)
        );
        if self.previous_finished != self.finished {
            self.previous_finished = self.finished;
            self.cycles_since_change = 0;
            let _ = writeln!(
                out,
                "{head} {:>9} {:>11} {:>11}",
                g6(bandwidth),
                g6(self.cur_latency),
                g6(self.avg_latency)
            );
        } else {
            let _ = writeln!(
                out,
                "{head} {:>9} {:>11} {:>11}",
                '0',
                '-',
                g6(self.avg_latency)
            );
        }
        self.ticks += 1;
        self.cycles_since_change += 1;
        std::io::stdout().write_all(out.as_bytes())
    }

    /// The printer stops: a run over before its first full second takes its IOPS
    /// extremes from the whole run, as rados does when its printer wakes a second in.
    pub fn stop(&mut self) {
        if self.last_iops < 0 {
            let runtime = self.ticks.max(1) as f64;
            let iops = (self.finished as f64 / runtime) as i64;
            let iops = i32::try_from(iops).unwrap_or(i32::MAX);
            self.iops.min = iops;
            self.iops.max = iops;
        }
    }

    /// `write_bench`'s summary for a run of `seconds` (wall time).
    pub fn write_summary(&self, seconds: f64, object_size: u64) -> String {
        let bandwidth = self.finished as f64 * self.op_size as f64 / seconds / MIB;
        let mut s = prefix(self.show_time);
        let lines = [
            ("Total time run:         ", g6(seconds)),
            ("Total writes made:      ", self.finished.to_string()),
            ("Write size:             ", self.op_size.to_string()),
            ("Object size:            ", object_size.to_string()),
            ("Bandwidth (MB/sec):     ", g6(bandwidth)),
            ("Stddev Bandwidth:       ", g6(self.bandwidth.stddev())),
            ("Max bandwidth (MB/sec): ", g6(self.bandwidth.max)),
            ("Min bandwidth (MB/sec): ", g6(self.bandwidth.min)),
            ("Average IOPS:           ", self.average_iops(seconds)),
            ("Stddev IOPS:            ", g6(self.iops.stddev())),
            ("Max IOPS:               ", self.iops.max.to_string()),
            ("Min IOPS:               ", self.iops.min.to_string()),
            ("Average Latency(s):     ", g6(self.avg_latency)),
            ("Stddev Latency(s):      ", g6(self.latency_stddev())),
            ("Max latency(s):         ", g6(self.max_latency)),
            ("Min latency(s):         ", g6(self.min_latency)),
        ];
        for (label, value) in lines {
            let _ = writeln!(s, "{label}{value}");
        }
        s
    }

    /// The summary of `seq_read_bench` and `rand_read_bench`.
    pub fn read_summary(&self, seconds: f64, object_size: u64) -> String {
        let bandwidth = self.finished as f64 * self.op_size as f64 / seconds / MIB;
        let mut s = prefix(self.show_time);
        let lines = [
            ("Total time run:       ", g6(seconds)),
            ("Total reads made:     ", self.finished.to_string()),
            ("Read size:            ", self.op_size.to_string()),
            ("Object size:          ", object_size.to_string()),
            ("Bandwidth (MB/sec):   ", g6(bandwidth)),
            ("Average IOPS:         ", self.average_iops(seconds)),
            ("Stddev IOPS:          ", g6(self.iops.stddev())),
            ("Max IOPS:             ", self.iops.max.to_string()),
            ("Min IOPS:             ", self.iops.min.to_string()),
            ("Average Latency(s):   ", g6(self.avg_latency)),
            ("Max latency(s):       ", g6(self.max_latency)),
            ("Min latency(s):       ", g6(self.min_latency)),
        ];
        for (label, value) in lines {
            let _ = writeln!(s, "{label}{value}");
        }
        s
    }

    /// `write_bench`'s summary as JSON fields (after the progress records).
    pub fn write_summary_json(&self, j: &mut JsonOut, seconds: f64, object_size: u64) {
        j.close();
        j.float("total_time_run", seconds);
        j.int("total_writes_made", self.finished);
        j.int("write_size", self.op_size as i64);
        j.int("object_size", object_size as i64);
        j.float("bandwidth", self.bandwidth_over(seconds));
        j.float("stddev_bandwidth", self.bandwidth.stddev());
        j.float("max_bandwidth", self.bandwidth.max);
        j.float("min_bandwidth", self.bandwidth.min);
        j.int("average_iops", (self.finished as f64 / seconds) as i64);
        // rados hands a double to "%d" here, which prints junk; the value cut to an int
        j.int("stddev_iops", self.iops.stddev() as i64);
        j.int("max_iops", i64::from(self.iops.max));
        j.int("min_iops", i64::from(self.iops.min));
        j.float("average_latency", self.avg_latency);
        j.float("stddev_latency", self.latency_stddev());
        j.float("max_latency", self.max_latency);
        j.float("min_latency", self.min_latency);
    }

    /// The read benchmarks' summary as JSON fields.
    pub fn read_summary_json(&self, j: &mut JsonOut, seconds: f64, object_size: u64) {
        j.close();
        j.float("total_time_run", seconds);
        j.int("total_reads_made", self.finished);
        j.int("read_size", self.op_size as i64);
        j.int("object_size", object_size as i64);
        j.float("bandwidth", self.bandwidth_over(seconds));
        j.int("average_iops", (self.finished as f64 / seconds) as i64);
        j.float("stddev_iops", self.iops.stddev());
        j.int("max_iops", i64::from(self.iops.max));
        j.int("min_iops", i64::from(self.iops.min));
        j.float("average_latency", self.avg_latency);
        j.float("max_latency", self.max_latency);
        j.float("min_latency", self.min_latency);
    }

    fn bandwidth_over(&self, seconds: f64) -> f64 {
        self.finished as f64 * self.op_size as f64 / seconds / MIB
    }

    fn average_iops(&self, seconds: f64) -> String {
        // `(int)(finished / time)`
        ((self.finished as f64 / seconds) as i64).to_string()
    }

    fn latency_stddev(&self) -> f64 {
        if self.finished > 1 {
            (self.latency_squares / (self.finished - 1) as f64).sqrt()
        } else {
            0.0
        }
    }
}

/// What a write run leaves in its metadata object (`fetch_bench_metadata`).
#[derive(Debug, Clone, Copy)]
pub struct Metadata {
    /// Object size.
    pub object_size: u64,
    /// Operations the run completed.
    pub num_ops: i64,
    /// The writer's pid (part of the object names).
    pub pid: i32,
    /// Op size.
    pub op_size: u64,
    /// Objects those operations made.
    pub num_objects: i64,
}

/// The bytes of the metadata object: le64 object size, le32 writes, le32 pid, le64 op size
/// (`write_bench`: `encode(object_size) encode(finished) encode(pid) encode(op_size)`).
pub fn encode_metadata(object_size: u64, finished: i64, pid: i32, op_size: u64) -> Bytes {
    let mut b = Vec::with_capacity(24);
    b.extend_from_slice(&object_size.to_le_bytes());
    b.extend_from_slice(&i32::try_from(finished).unwrap_or(i32::MAX).to_le_bytes());
    b.extend_from_slice(&pid.to_le_bytes());
    b.extend_from_slice(&op_size.to_le_bytes());
    Bytes::from(b)
}

/// Decodes the metadata object; older runs have no op size (then it is the object size).
pub fn decode_metadata(bytes: &[u8]) -> Result<Metadata, denc::DecodeError> {
    let mut r = denc::Reader::new(bytes);
    let object_size = r.u64()?;
    let num_ops = i64::from(r.i32()?);
    let pid = r.i32()?;
    let op_size = if r.is_empty() { object_size } else { r.u64()? };
    let ops_per_object = if op_size > 0 && object_size > op_size {
        i64::try_from(object_size / op_size).unwrap_or(1)
    } else {
        1
    };
    Ok(Metadata {
        object_size,
        num_ops,
        pid,
        op_size,
        num_objects: (num_ops + ops_per_object - 1) / ops_per_object,
    })
}

/// `gethostname` as `rados bench` keeps it: at most 29 bytes.
pub fn hostname() -> String {
    let mut name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim_end_matches('\n').to_owned())
        .unwrap_or_else(|_| "localhost".into());
    while name.len() > 29 {
        name.pop();
    }
    name
}

/// The benchmark's pid: ours, as a C `int`.
pub fn own_pid() -> i32 {
    i32::try_from(std::process::id()).unwrap_or(i32::MAX)
}

/// xorshift64*, seeded from the clock (rados uses `srand(time(NULL))` and `rand()`).
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Rng((t.as_nanos() as u64) | 1)
    }

    /// A number in `0..n` (0 if `n` is not positive).
    pub fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        match u64::try_from(n) {
            Ok(n) if n > 0 => i64::try_from(x % n).unwrap_or(0),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        // `rados bench 2 write -b 4096 -t 4 --no-cleanup` on Pacific: 4091 writes by pid 10711
        let theirs = [
            0x00, 0x10, 0, 0, 0, 0, 0, 0, 0xfb, 0x0f, 0, 0, 0xd7, 0x29, 0, 0, 0x00, 0x10, 0, 0, 0,
            0, 0, 0,
        ];
        let m = decode_metadata(&theirs).unwrap();
        assert_eq!(
            (m.object_size, m.num_ops, m.pid, m.op_size, m.num_objects),
            (4096, 4091, 10711, 4096, 4091)
        );
        assert_eq!(&encode_metadata(4096, 4091, 10711, 4096)[..], &theirs);
        // no op size: the object size; four ops per object
        let old = decode_metadata(&theirs[..16]).unwrap();
        assert_eq!(old.op_size, 4096);
        let m = decode_metadata(&encode_metadata(1 << 22, 9, 1, 1 << 20)).unwrap();
        assert_eq!(m.num_objects, 3);
        assert!(decode_metadata(&theirs[..10]).is_err());
    }

    #[test]
    fn rng_stays_in_range() {
        let mut r = Rng::seeded();
        for _ in 0..1000 {
            assert!((0..7).contains(&r.below(7)));
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn doubles_print_like_ostream() {
        // values from `rados bench` output (Pacific)
        assert_eq!(g6(2.0014), "2.0014");
        assert_eq!(g6(7.984_644), "7.98464");
        assert_eq!(g6(0.000_734_599_1), "0.000734599");
        assert_eq!(g6(7.9387e-05), "7.9387e-05");
        assert_eq!(g6(f64::MAX), "1.79769e+308");
        assert_eq!(g6(300.520_01), "300.52");
        assert_eq!(g6(0.0), "0");
        assert_eq!(g6(-1.0), "-1");
        assert_eq!(g6(123_456.7), "123457");
        assert_eq!(g6(1_234_567.0), "1.23457e+06");
        assert_eq!(g6(999_999.7), "1e+06");
        assert_eq!(g6(0.0001), "0.0001");
        assert_eq!(g6(9999.0), "9999");
        assert_eq!(g6(f64::NAN), "nan");
    }

    #[test]
    fn contents_are_rados_benchs() {
        // `rados bench write -b 4096` object 2997, first 32 bytes
        let c = op_contents(2997, 4096);
        assert_eq!(&c[..32], b"I'm the             2997th op!\0z");
        assert!(c[31..].iter().all(|&b| b == b'z'));
        let z = vec![b'z'; 4096];
        assert!(contents_match(&c, 2997, &z));
        assert!(!contents_match(&c, 2996, &z));
        assert!(!contents_match(&c[..4095], 2997, &z));
        // smaller than the text: cut, NUL last
        assert_eq!(op_contents(5, 4), b"I'm\0");
        assert_eq!(op_contents(5, 0), b"");
        let mut buf = op_contents(1, 64);
        stamp(&mut buf, 123);
        assert_eq!(buf, op_contents(123, 64));
    }

    #[test]
    fn summaries_use_rados_labels() {
        let mut p = Progress::new(4096, false);
        p.sent();
        p.completed(0.5);
        p.stop();
        let w = p.write_summary(1.0, 4096);
        assert!(w.starts_with("Total time run:         1\nTotal writes made:      1\n"));
        assert!(w.contains("Min bandwidth (MB/sec): 1.79769e+308\n"));
        assert!(w.contains("Max IOPS:               1\nMin IOPS:               1\n"));
        let r = p.read_summary(2.0, 4096);
        assert!(r.contains("Average IOPS:         0\n"));
        assert!(r.ends_with("Min latency(s):       0.5\n"));
    }
}
