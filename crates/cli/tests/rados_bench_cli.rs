//! `rbd-rs rados bench` and `rbd-rs rados cleanup` against the real cluster of `CEPH_CONF`,
//! next to Ceph's own `rados bench`: objects written by one are read (and checked) and
//! removed by the other, the output has the same lines and labels, errors the same words
//! and exit status. Each test works in a namespace of its own, runs of 1-2 seconds.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use interop_tests::{ceph_conf, ceph_json, ceph_tool, try_ceph_tool, unique_name};

fn rbd_rs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(ceph_conf())
        .args(args)
        .env_remove("CEPH_ARGS")
        .output()
        .expect("running rbd-rs")
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "failed ({}): {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A pool for these tests, made with Ceph's tool.
fn pool() -> String {
    let name = "rbd-rs-cli-bench";
    let pools = ceph_json(&["osd", "pool", "ls"]);
    if !pools.as_array().unwrap().iter().any(|p| p == name) {
        let _ = try_ceph_tool("ceph", &["osd", "pool", "create", name, "8"]);
        let _ = try_ceph_tool(
            "ceph",
            &["osd", "pool", "application", "enable", name, "rados"],
        );
    }
    name.to_string()
}

/// `rbd-rs rados -p POOL -N NS ARGS`, and the same with Ceph's `rados`.
struct Both {
    pool: String,
    ns: String,
}

impl Both {
    fn new(label: &str) -> Self {
        Both {
            pool: pool(),
            ns: unique_name(label),
        }
    }

    fn ours(&self, args: &[&str]) -> Output {
        let mut all = vec!["rados", "-p", &self.pool, "-N", &self.ns];
        all.extend(args);
        rbd_rs(&all)
    }

    fn theirs(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p", self.pool.as_str(), "-N", self.ns.as_str()];
        all.extend(args);
        try_ceph_tool("rados", &all)
    }

    fn ls(&self) -> BTreeSet<String> {
        let out = ceph_tool("rados", &["-p", &self.pool, "-N", &self.ns, "ls"]);
        text(&out.stdout).lines().map(str::to_owned).collect()
    }
}

/// The value after `label` in a summary.
fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{out}"))
        .trim()
        .to_owned()
}

/// The summary's lines with the values cut off: label and padding only.
fn labels(out: &str) -> Vec<String> {
    let start = out
        .lines()
        .position(|l| l.starts_with("Total time run:"))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    out.lines()
        .skip(start)
        .take_while(|l| !l.starts_with("Cleaning up"))
        .map(|l| {
            let colon = l.find(':').unwrap();
            let value_at = colon + 1 + l[colon + 1..].len() - l[colon + 1..].trim_start().len();
            l[..value_at].to_owned()
        })
        .collect()
}

/// The lines before the progress table and the table's header.
fn preamble(out: &str) -> Vec<String> {
    out.lines()
        .take_while(|l| !l.starts_with("    0 "))
        .map(str::to_owned)
        .collect()
}

/// The objects a write run with this prefix and count leaves, and its metadata object.
fn expected_objects(prefix: &str, n: u64, meta: &str) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = (0..n).map(|i| format!("{prefix}_object{i}")).collect();
    all.insert(meta.to_owned());
    all
}

#[test]
fn our_objects_read_and_checked_by_rados_bench() {
    let b = Both::new("bench-ours");
    let out =
        text(&ok(b.ours(&["bench", "2", "write", "-b", "4K", "-t", "4", "--no-cleanup"])).stdout);
    let writes: u64 = field(&out, "Total writes made:").parse().unwrap();
    assert!(writes > 0);
    assert_eq!(field(&out, "Write size:"), "4096");
    let prefix = field(&out, "Object prefix:");
    assert!(prefix.starts_with("benchmark_data_"), "{prefix}");
    assert!(prefix.ends_with(&format!("_{}", field_pid(&prefix))));
    assert_eq!(
        b.ls(),
        expected_objects(&prefix, writes, "benchmark_last_metadata")
    );
    // rados reads every object in order and checks its contents, then at random
    let seq = ok(b.theirs(&["bench", SEQ_LIMIT, "seq", "-t", "4"]));
    assert!(seq.stderr.is_empty(), "{}", text(&seq.stderr));
    let seq = text(&seq.stdout);
    assert_eq!(field(&seq, "Total reads made:"), writes.to_string());
    assert_eq!(field(&seq, "Object size:"), "4096");
    let rand = ok(b.theirs(&["bench", "1", "rand", "-t", "4"]));
    assert!(rand.stderr.is_empty(), "{}", text(&rand.stderr));
    // ours reads them too; rados removes them
    let ours = ok(b.ours(&["bench", "1", "seq", "-t", "4"]));
    assert!(ours.stderr.is_empty(), "{}", text(&ours.stderr));
    let out = text(&ok(b.theirs(&["cleanup"])).stdout);
    assert_eq!(out, format!("Removed {writes} objects\n"));
    assert!(b.ls().is_empty());
}

/// A seq bench stops once it has read every object or at its time limit, whichever comes
/// first: the limit must be far beyond any loaded machine's need, or "Total reads made"
/// falls short of the writes (it did, under a load average of 13).
const SEQ_LIMIT: &str = "600";

/// The time limit of a read bench: seq ends by itself, rand runs until the limit.
fn seconds(mode: &str) -> &'static str {
    if mode == "seq" { SEQ_LIMIT } else { "3" }
}

/// The pid part of `benchmark_data_HOST_PID`.
fn field_pid(prefix: &str) -> String {
    prefix.rsplit('_').next().unwrap().to_owned()
}

#[test]
fn rados_bench_objects_read_and_removed_by_ours() {
    let b = Both::new("bench-theirs");
    let out =
        text(&ok(b.theirs(&["bench", "2", "write", "-b", "4K", "-t", "4", "--no-cleanup"])).stdout);
    let writes: u64 = field(&out, "Total writes made:").parse().unwrap();
    let prefix = field(&out, "Object prefix:");
    for mode in ["seq", "rand"] {
        let ours = ok(b.ours(&["bench", seconds(mode), mode, "-t", "4"]));
        assert!(ours.stderr.is_empty(), "{mode}: {}", text(&ours.stderr));
        let ours = text(&ours.stdout);
        let reads: u64 = field(&ours, "Total reads made:").parse().unwrap();
        if mode == "seq" {
            assert_eq!(reads, writes);
        } else {
            assert!(reads > 0);
        }
        assert_eq!(field(&ours, "Read size:"), "4096");
        let theirs = text(&ok(b.theirs(&["bench", "1", mode, "-t", "4"])).stdout);
        assert_eq!(labels(&ours), labels(&theirs), "{mode}");
        assert_eq!(preamble(&ours), preamble(&theirs), "{mode}");
    }
    assert_eq!(
        b.ls(),
        expected_objects(&prefix, writes, "benchmark_last_metadata")
    );
    let out = text(&ok(b.ours(&["cleanup"])).stdout);
    assert_eq!(out, format!("Removed {writes} objects\n"));
    assert!(b.ls().is_empty());
}

#[test]
fn several_ops_per_object_and_run_names_agree() {
    // 64 KiB writes into 256 KiB objects: four writes per object, at their offsets
    let b = Both::new("bench-multi");
    let args = [
        "bench",
        "1",
        "write",
        "-b",
        "64K",
        "-O",
        "256K",
        "-t",
        "3",
        "--no-cleanup",
        "--run-name",
        "multi_meta",
    ];
    let ours = text(&ok(b.ours(&args)).stdout);
    assert_eq!(field(&ours, "Object size:"), "262144");
    let writes: u64 = field(&ours, "Total writes made:").parse().unwrap();
    let prefix = field(&ours, "Object prefix:");
    assert_eq!(
        b.ls(),
        expected_objects(&prefix, writes.div_ceil(4), "multi_meta")
    );
    let seq = ok(b.theirs(&["bench", SEQ_LIMIT, "seq", "--run-name", "multi_meta"]));
    assert!(seq.stderr.is_empty(), "{}", text(&seq.stderr));
    assert_eq!(
        field(&text(&seq.stdout), "Total reads made:"),
        writes.to_string()
    );
    ok(b.ours(&["cleanup", "--run-name", "multi_meta"]));
    assert!(b.ls().is_empty());
    // and the other way round, the run cleaned up by the writer itself
    let theirs = text(&ok(b.theirs(&args)).stdout);
    let writes: u64 = field(&theirs, "Total writes made:").parse().unwrap();
    for mode in ["seq", "rand"] {
        let r = ok(b.ours(&[
            "bench",
            seconds(mode),
            mode,
            "--run-name",
            "multi_meta",
            "-t",
            "3",
        ]));
        assert!(r.stderr.is_empty(), "{}", text(&r.stderr));
        if mode == "seq" {
            assert_eq!(
                field(&text(&r.stdout), "Total reads made:"),
                writes.to_string()
            );
        }
    }
    ok(b.theirs(&["cleanup", "--run-name", "multi_meta"]));
    assert!(b.ls().is_empty());
}

#[test]
fn write_output_and_cleanup_look_like_rados() {
    let b = Both::new("bench-look");
    let args = ["bench", "1", "write", "-b", "4096", "-t", "2"];
    let ours = text(&ok(b.ours(&args)).stdout);
    let theirs = text(&ok(b.theirs(&args)).stdout);
    assert_eq!(labels(&ours), labels(&theirs));
    // hints, "Maintaining ...", the object prefix up to the pid, the table's header
    let (p1, p2) = (preamble(&ours), preamble(&theirs));
    assert_eq!(p1.len(), p2.len(), "{p1:?} {p2:?}");
    assert_eq!(p1[..2], p2[..2]);
    let cut = |l: &str| l.rsplit_once('_').unwrap().0.to_owned();
    assert_eq!(cut(&p1[2]), cut(&p2[2]));
    assert_eq!(p1[3..], p2[3..]);
    // the progress lines have the same columns
    let widths = |out: &str| -> Vec<usize> {
        out.lines()
            .skip_while(|l| !l.starts_with("  sec"))
            .skip(1)
            .take_while(|l| !l.starts_with("Total"))
            .map(|l| l.split_whitespace().count())
            .collect()
    };
    assert!(widths(&ours).iter().all(|&n| n == 8), "{ours}");
    assert!(widths(&theirs).iter().all(|&n| n == 8));
    // the clean-up lines
    let tail = |out: &str| -> Vec<String> {
        out.lines()
            .skip_while(|l| !l.starts_with("Cleaning up"))
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(tail(&ours).len(), 3, "{ours}");
    assert_eq!(tail(&ours)[0], tail(&theirs)[0]);
    assert!(tail(&ours)[1].starts_with("Removed "));
    assert_eq!(tail(&ours)[2], tail(&theirs)[2]);
    assert!(b.ls().is_empty());
}

#[test]
fn errors_like_rados_bench() {
    let b = Both::new("bench-errors");
    for args in [
        vec!["bench", "1", "seq"],
        vec!["bench", "1", "rand", "--run-name", "nothing_here"],
        vec!["bench", "1", "seq", "-b", "4096"],
        vec!["bench", "x", "write"],
        vec!["bench", "1", "write", "--reuse-bench"],
    ] {
        let (ours, theirs) = (b.ours(&args), b.theirs(&args));
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{args:?}");
        assert_eq!(text(&ours.stderr), text(&theirs.stderr), "{args:?}");
    }
    // an unknown mode: rados prints its usage, ours a line of it; both exit 1
    let ours = b.ours(&["bench", "1", "sideways"]);
    assert_eq!(ours.status.code(), Some(1));
    assert!(text(&ours.stderr).contains("bench SECONDS write|seq|rand"));
    assert_eq!(b.theirs(&["bench", "1", "sideways"]).status.code(), Some(1));
    // a metadata object naming objects that are gone: seq fails as rados's does
    ok(b.ours(&["bench", "1", "write", "-b", "4K", "-t", "2", "--no-cleanup"]));
    let objects = b.ls();
    for o in objects.iter().filter(|o| o.ends_with("_object0")) {
        ceph_tool("rados", &["-p", &b.pool, "-N", &b.ns, "rm", o]);
    }
    let (ours, theirs) = (
        b.ours(&["bench", "1", "seq", "-t", "1"]),
        b.theirs(&["bench", "1", "seq", "-t", "1"]),
    );
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(text(&ours.stderr), text(&theirs.stderr));
    ok(b.ours(&["cleanup"]));
    assert!(b.ls().is_empty());
}
