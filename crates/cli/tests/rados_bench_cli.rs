//! `rbd-rs rados bench` and `rbd-rs rados cleanup` against the real cluster of `CEPH_CONF`,
//! next to Ceph's own `rados bench`: objects written by one are read (and checked) and
//! removed by the other, the output has the same lines and labels, errors the same words
//! and exit status. Each test works in a namespace of its own, runs of 1-2 seconds.

use std::collections::BTreeSet;
use std::process::Output;

use interop_tests::{ceph_json, ceph_tool, try_ceph_tool, unique_name};

mod common;
use common::rbd_rs;

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

/// The host part of the default object prefix (`gethostname`, at most 29 bytes).
fn host() -> String {
    let mut h = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim_end()
        .to_owned();
    h.truncate(29);
    h
}

/// Creates empty objects in `ns` of `b`'s pool with Ceph's tool.
fn create(b: &Both, ns: &str, names: &[String]) {
    for n in names {
        ceph_tool("rados", &["-p", &b.pool, "-N", ns, "create", n]);
    }
}

fn ls_ns(b: &Both, ns: &str) -> BTreeSet<String> {
    let out = ceph_tool("rados", &["-p", &b.pool, "-N", ns, "ls"]);
    text(&out.stdout).lines().map(str::to_owned).collect()
}

/// Benchmark-looking objects of pid `pid` (default prefix), and two that must stay.
fn leftovers(pid: u32, n: u32) -> (Vec<String>, Vec<String>) {
    let doomed = (0..n)
        .map(|i| format!("benchmark_data_{}_{pid}_object{i}", host()))
        .collect();
    let kept = vec![
        "keep-me".to_owned(),
        "benchmark_data_not-this-host_1_object0".to_owned(),
    ];
    (doomed, kept)
}

#[test]
fn cleanup_without_metadata_searches_by_prefix_like_rados() {
    let b = Both::new("cleanup-slow");
    for tool in ["rados", "rbd-rs"] {
        let (doomed, kept) = leftovers(4242, 5);
        create(&b, &b.ns, &doomed);
        create(&b, &b.ns, &kept);
        let out = match tool {
            "rados" => b.theirs(&["cleanup"]),
            _ => b.ours(&["cleanup", "-t", "2"]),
        };
        let out = ok(out);
        assert_eq!(
            text(&out.stdout),
            "Warning: using slow linear search\nRemoved 5 objects\n",
            "{tool}"
        );
        assert_eq!(b.ls(), kept.iter().cloned().collect(), "{tool}");
        for k in &kept {
            ceph_tool("rados", &["-p", &b.pool, "-N", &b.ns, "rm", k]);
        }
    }
    // a run with metadata next to objects without: the metadata's run goes the fast way
    ok(b.ours(&["bench", "1", "write", "-b", "4K", "-t", "2", "--no-cleanup"]));
    let out = text(&ok(b.ours(&["cleanup"])).stdout);
    assert!(out.starts_with("Removed "), "{out}");
    assert!(b.ls().is_empty(), "{:?}", b.ls());
}

#[test]
fn cleanup_prefix_and_all_namespaces_like_rados() {
    let b = Both::new("cleanup-prefix");
    let other_ns = format!("{}-2", b.ns);
    // a prefix unique to this test, so that --all touches nothing of other tests
    let pid = std::process::id() % 100_000 + 700_000;
    let prefix = format!("benchmark_data_{}_{pid}", host());
    for tool in ["rados", "rbd-rs"] {
        let (doomed, kept) = leftovers(pid, 3);
        let (other_pid, _) = leftovers(pid + 1, 2);
        create(&b, &b.ns, &doomed);
        create(&b, &b.ns, &other_pid);
        create(&b, &other_ns, &doomed);
        create(&b, &other_ns, &kept);
        // --prefix in one namespace: the other pid's objects stay
        let out = match tool {
            "rados" => b.theirs(&["cleanup", "--prefix", &prefix]),
            _ => b.ours(&["cleanup", "--prefix", &prefix]),
        };
        assert_eq!(
            text(&ok(out).stdout),
            "Warning: using slow linear search\nRemoved 3 objects\n",
            "{tool}"
        );
        assert_eq!(b.ls(), other_pid.iter().cloned().collect(), "{tool}");
        // --all: every namespace with matching objects, one pass each
        let all = [
            "-p",
            b.pool.as_str(),
            "--all",
            "cleanup",
            "--prefix",
            &prefix,
        ];
        let out = match tool {
            "rados" => try_ceph_tool("rados", &all),
            _ => {
                let mut args = vec!["rados"];
                args.extend(all);
                rbd_rs(&args)
            }
        };
        assert_eq!(
            text(&ok(out).stdout),
            "Warning: using slow linear search\nRemoved 3 objects\n",
            "{tool}"
        );
        assert_eq!(
            ls_ns(&b, &other_ns),
            kept.iter().cloned().collect(),
            "{tool}"
        );
        for (ns, names) in [(&b.ns, &other_pid), (&other_ns, &kept)] {
            for n in names {
                ceph_tool("rados", &["-p", &b.pool, "-N", ns, "rm", n]);
            }
        }
    }
    // a prefix that is not a benchmark's
    let (ours, theirs) = (
        b.ours(&["cleanup", "--prefix", "nope"]),
        b.theirs(&["cleanup", "--prefix", "nope"]),
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(text(&ours.stderr), text(&theirs.stderr));
}

/// The keys of a JSON text in order of appearance (every string followed by a colon).
fn json_keys(json: &str) -> Vec<String> {
    let parts: Vec<&str> = json.split('"').collect();
    (1..parts.len())
        .step_by(2)
        .filter(|&i| {
            parts
                .get(i + 1)
                .is_some_and(|p| p.trim_start().starts_with(':'))
        })
        .map(|i| parts[i].to_owned())
        .collect()
}

/// The per-second records cut down to one, so that runs of different lengths compare.
fn one_record(keys: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_datas = false;
    for k in keys {
        if k == "datas" {
            in_datas = true;
            out.push(k);
            continue;
        }
        if in_datas && k == "sec" && out.iter().any(|o| o == "sec") {
            continue;
        }
        if in_datas
            && [
                "cur_ops", "started", "finished", "avg_bw", "cur_bw", "last_lat", "avg_lat",
            ]
            .contains(&k.as_str())
            && out.iter().filter(|o| **o == k).count() > 0
        {
            continue;
        }
        if k.starts_with("total_") {
            in_datas = false;
        }
        out.push(k);
    }
    out
}

#[test]
fn json_output_has_rados_benchs_shape() {
    let b = Both::new("bench-json");
    let theirs_ns = Both {
        pool: b.pool.clone(),
        ns: format!("{}-rados", b.ns),
    };
    for (phase, extra) in [
        ("write", vec!["-b", "4K", "-t", "2", "--no-cleanup"]),
        ("seq", vec!["-t", "2"]),
        ("rand", vec!["-t", "2"]),
    ] {
        for format in ["json", "json-pretty"] {
            let mut args = vec!["--format", format, "bench", "1", phase];
            args.extend(&extra);
            let ours = text(&ok(b.ours(&args)).stdout);
            let theirs = text(&ok(theirs_ns.theirs(&args)).stdout);
            for out in [&ours, &theirs] {
                let body = out.strip_prefix("hints = 1\n").unwrap();
                let v: serde_json::Value = serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("{phase} {format}: {e}\n{out}"));
                assert!(v["datas"].as_array().is_some_and(|d| !d.is_empty()));
                let end = if format == "json" { "}\n" } else { "}\n\n" };
                assert!(body.ends_with(end), "{phase} {format}: {out:?}");
            }
            assert_eq!(
                one_record(json_keys(&ours)),
                one_record(json_keys(&theirs)),
                "{phase} {format}"
            );
            if format == "json-pretty" {
                // same layout: the lines with their values blanked
                let shape = |s: &str| -> Vec<String> {
                    s.lines()
                        .filter(|l| !l.contains("\"sec\"") || l.contains("\"0\""))
                        .map(|l| l.split(": ").next().unwrap().to_owned())
                        .collect()
                };
                let (o, t) = (shape(&ours), shape(&theirs));
                assert_eq!(o.first(), t.first());
                assert_eq!(o.last(), t.last());
            }
        }
    }
    // two write runs: the metadata names the second; the first is found by its prefix
    for _ in 0..2 {
        ok(b.ours(&["cleanup"]));
        ok(theirs_ns.theirs(&["cleanup"]));
    }
    assert!(b.ls().is_empty() && theirs_ns.ls().is_empty());
}
