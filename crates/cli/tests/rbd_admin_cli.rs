//! `rbd-rs bench|du|config pool|image|feature|pool stats` against the real cluster of
//! `CEPH_CONF` (fails without one), compared with the host's `rbd`.

use interop_tests::{
    ceph_tool, pattern, rbd_tool as rbd, scratch_dir, serial, try_ceph_tool, unique_name,
};

mod common;
use common::{ok, rbd_rs};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Imports `len` bytes with a hole in the middle into a new image.
fn import(name: &str, len: usize, extra: &[&str]) {
    let dir = scratch_dir("admin-cli");
    let mut data = pattern(len, 5);
    data[len / 4..len / 2].fill(0);
    let f = dir.join("in");
    std::fs::write(&f, &data).unwrap();
    let mut args = vec!["import", "--no-progress", "--image-feature", "layering"];
    args.extend(extra);
    let f = interop_tests::tool_view(&f);
    args.extend([f.as_str(), name]);
    rbd(&args);
}

#[test]
fn du_matches_rbd() {
    let _serial = serial();
    let a = unique_name("du-a");
    let b = unique_name("du-b");
    let c = unique_name("du-c");
    import(&a, 9 << 20, &[]);
    import(
        &b,
        (3 << 20) + 5000,
        &[
            "--object-size",
            "1M",
            "--stripe-unit",
            "64K",
            "--stripe-count",
            "3",
        ],
    );
    rbd(&["create", "--size", "1G", "--image-feature", "layering", &c]);
    for name in [&a, &b, &c] {
        assert_eq!(ok(&["du", name]), rbd(&["du", name]), "du {name}");
        assert_eq!(
            json(&ok(&["du", name, "--format", "json"])),
            json(&rbd(&["du", name, "--format", "json"])),
            "du --format json {name}"
        );
    }
    // the whole pool: our images' rows agree (others may come and go)
    let ours = json(&ok(&["du", "--format", "json"]));
    let theirs = json(&rbd(&["du", "--format", "json"]));
    for name in [&a, &b, &c] {
        let pick = |v: &serde_json::Value| {
            v["images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name.as_str())
                .cloned()
        };
        assert_eq!(pick(&ours), pick(&theirs));
        assert!(pick(&ours).is_some());
    }
    assert!(ok(&["du"]).lines().any(|l| l.starts_with("<TOTAL>")));
    // pool stats
    let ours = json(&ok(&["pool", "stats", "--format", "json"]));
    let theirs = json(&rbd(&["pool", "stats", "--format", "json"]));
    assert_eq!(ours, theirs);
    assert_eq!(ok(&["pool", "stats"]), rbd(&["pool", "stats"]));
    for name in [&a, &b, &c] {
        rbd(&["rm", "--no-progress", name]);
    }
}

/// Listings of ours and rbd's agree on every option both list (Pacific's rbd lacks
/// `rbd_qos_exclude_ops`), value and source.
fn same_listing(ours: &str, theirs: &str) {
    let (ours, theirs) = (json(ours), json(theirs));
    let theirs = theirs.as_array().unwrap();
    let mut compared = 0;
    for e in ours.as_array().unwrap() {
        if let Some(t) = theirs.iter().find(|t| t["name"] == e["name"]) {
            assert_eq!(e, t);
            compared += 1;
        }
    }
    assert!(
        compared + 1 >= theirs.len(),
        "{compared} of {}",
        theirs.len()
    );
}

fn pool_override_stamp() -> u64 {
    let out = ceph_tool(
        "ceph",
        &[
            "config",
            "get",
            "client.admin",
            "rbd_config_pool_override_update_timestamp",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn config_like_rbd() {
    let _serial = serial();
    let name = unique_name("conf");
    rbd(&[
        "create",
        "--size",
        "8M",
        "--image-feature",
        "layering",
        &name,
    ]);
    // image level, both ways
    ok(&["config", "image", "set", &name, "rbd_cache", "false"]);
    assert_eq!(
        rbd(&["config", "image", "get", &name, "rbd_cache"]),
        "false\n"
    );
    rbd(&[
        "config",
        "image",
        "set",
        &name,
        "rbd_mtime_update_interval",
        "61",
    ]);
    assert_eq!(
        ok(&["config", "image", "get", &name, "rbd_mtime_update_interval"]),
        "61\n"
    );
    // pool level (an option no other test minds), both ways; librbd clients are told
    let stamp = pool_override_stamp();
    ok(&[
        "config",
        "pool",
        "set",
        "rbd",
        "rbd_readahead_trigger_requests",
        "11",
    ]);
    assert_eq!(
        rbd(&[
            "config",
            "pool",
            "get",
            "rbd",
            "rbd_readahead_trigger_requests"
        ]),
        "11\n"
    );
    assert!(pool_override_stamp() >= stamp.max(1));
    rbd(&[
        "config",
        "pool",
        "set",
        "rbd",
        "rbd_atime_update_interval",
        "59",
    ]);
    assert_eq!(
        ok(&["config", "pool", "get", "rbd", "rbd_atime_update_interval"]),
        "59\n"
    );
    // the monitors' configuration database counts as "config", as for librbd
    ceph_tool(
        "ceph",
        &[
            "config",
            "set",
            "client",
            "rbd_readahead_trigger_requests",
            "12",
        ],
    );
    ceph_tool(
        "ceph",
        &["config", "set", "client", "rbd_qos_schedule_tick_min", "51"],
    );
    // every option, with its value and source, as rbd lists them
    for args in [
        &["config", "pool", "list", "rbd"][..],
        &["config", "image", "list", &name],
    ] {
        let mut j = args.to_vec();
        j.extend(["--format", "json"]);
        same_listing(&ok(&j), &rbd(&j));
        let plain = ok(args);
        assert!(
            plain.lines().any(|l| l.split_whitespace().eq([
                "rbd_readahead_trigger_requests",
                "11",
                "pool"
            ])),
            "{plain}"
        );
    }
    let plain = ok(&["config", "image", "list", &name]);
    assert!(plain.starts_with("There are "), "{plain}");
    assert!(
        plain.lines().any(|l| l.split_whitespace().eq([
            "rbd_qos_schedule_tick_min",
            "51",
            "config"
        ])),
        "{plain}"
    );
    for option in [
        "rbd_readahead_trigger_requests",
        "rbd_qos_schedule_tick_min",
    ] {
        ceph_tool("ceph", &["config", "rm", "client", option]);
    }
    assert!(
        plain
            .lines()
            .any(|l| l.split_whitespace().eq(["rbd_cache", "false", "image"]))
    );
    // removal, both ways; then what is not set
    ok(&[
        "config",
        "pool",
        "remove",
        "rbd",
        "rbd_readahead_trigger_requests",
    ]);
    rbd(&[
        "config",
        "pool",
        "remove",
        "rbd",
        "rbd_atime_update_interval",
    ]);
    ok(&[
        "config",
        "image",
        "remove",
        &name,
        "rbd_mtime_update_interval",
    ]);
    let o = rbd_rs(&["config", "image", "get", &name, "rbd_mtime_update_interval"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rbd_mtime_update_interval is not set"));
    let o = rbd_rs(&[
        "config",
        "pool",
        "remove",
        "rbd",
        "rbd_atime_update_interval",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // refused as rbd refuses them, nothing stored
    for args in [
        &["config", "image", "set", &name, "bogus", "1"][..],
        &["config", "image", "set", &name, "rbd_bogus", "1"],
        &["config", "image", "set", &name, "rbd_cache", "maybe"],
        &["config", "image", "set", &name, "rbd_default_features", "1"],
        &["config", "pool", "set", "rbd", "rbd_default_pool", "x"],
        &["config", "pool", "set", "rbd", "rbd_qos_iops_limit", "five"],
    ] {
        assert_eq!(rbd_rs(args).status.code(), Some(22), "{args:?}");
        let rbd_code = try_ceph_tool("rbd", args).status.code();
        assert_eq!(rbd_code, Some(22), "rbd {args:?}");
    }
    let meta = rbd(&["image-meta", "list", &name]);
    assert!(
        meta.contains("conf_rbd_cache") && !meta.contains("rbd_default_features"),
        "{meta}"
    );
    let list = ok(&["config", "pool", "list", "rbd", "--format", "json"]);
    assert!(!list.contains("\"source\":\"pool\""), "{list}");
    rbd(&["rm", "--no-progress", &name]);
}

#[test]
fn feature_disable_deep_flatten() {
    let _serial = serial();
    let name = unique_name("feat");
    rbd(&[
        "create",
        "--size",
        "8M",
        "--image-feature",
        "layering,deep-flatten",
        &name,
    ]);
    ok(&["feature", "disable", &name, "deep-flatten"]);
    let info = json(&rbd(&["info", &name, "--format", "json"]));
    assert_eq!(info["features"], serde_json::json!(["layering"]));
    // already off, not toggleable, not supported yet
    assert_eq!(
        rbd_rs(&["feature", "disable", &name, "deep-flatten"])
            .status
            .code(),
        Some(22)
    );
    assert_eq!(
        rbd_rs(&["feature", "enable", &name, "layering"])
            .status
            .code(),
        Some(22)
    );
    // journaling needs exclusive-lock first (EINVAL, as rbd)
    let o = rbd_rs(&["feature", "enable", &name, "journaling"]);
    assert_eq!(o.status.code(), Some(22));
    let info = json(&rbd(&["info", &name, "--format", "json"]));
    assert_eq!(info["features"], serde_json::json!(["layering"]));
    rbd(&["rm", "--no-progress", &name]);
}

#[test]
fn bench_prints_like_rbd_bench() {
    let _serial = serial();
    let name = unique_name("bench");
    rbd(&[
        "create",
        "--size",
        "64M",
        "--image-feature",
        "layering",
        &name,
    ]);
    let re_summary = |s: &str, ops: u64| {
        let last = s
            .lines()
            .find(|l| l.starts_with("elapsed: "))
            .unwrap_or_else(|| panic!("no summary in {s}"));
        let f: Vec<&str> = last.split_whitespace().collect();
        assert_eq!(f[0], "elapsed:");
        assert_eq!((f[2], f[3]), ("ops:", ops.to_string().as_str()));
        assert_eq!(f[4], "ops/sec:");
        assert!(f[5].parse::<f64>().unwrap() > 0.0);
        assert_eq!(f[6], "bytes/sec:");
        assert!(f[8].ends_with("/s"));
    };
    let out = ok(&[
        "bench",
        "--io-type",
        "write",
        "--io-size",
        "64K",
        "--io-threads",
        "8",
        "--io-total",
        "64M",
        "--io-pattern",
        "seq",
        &name,
    ]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("bench  type write io_size 65536 io_threads 8 bytes 67108864 pattern sequential")
    );
    assert_eq!(lines.next(), Some("  SEC       OPS   OPS/SEC   BYTES/SEC"));
    re_summary(&out, 1024);
    // the sequential pattern covered the whole image: nothing reads as a hole
    let du = json(&rbd(&["du", &name, "--format", "json"]));
    assert_eq!(du["images"][0]["used_size"], 64 << 20);
    let out = ok(&[
        "bench",
        "--io-type",
        "read",
        "--io-total",
        "4M",
        "--io-pattern",
        "rand",
        &name,
    ]);
    assert!(
        out.starts_with(
            "bench  type read io_size 4096 io_threads 16 bytes 4194304 pattern random\n"
        )
    );
    re_summary(&out, 1024);
    let out = ok(&[
        "bench",
        "--io-type",
        "rw",
        "--rw-mix-read",
        "70",
        "--io-total",
        "1M",
        "--io-pattern",
        "full-seq",
        &name,
    ]);
    assert!(out.starts_with("bench  type readwrite read:write=70:30 io_size 4096"));
    assert!(out.contains("pattern full sequential\n"));
    let reads = out.lines().find(|l| l.starts_with("read_ops: ")).unwrap();
    let writes = out.lines().find(|l| l.starts_with("write_ops: ")).unwrap();
    let n = |l: &str| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
    assert_eq!(n(reads) + n(writes), 256);
    // bad arguments as rbd refuses them
    assert!(
        !rbd_rs(&["bench", "--io-type", "write", "--io-size", "128M", &name])
            .status
            .success()
    );
    assert!(
        !rbd_rs(&["bench", "--io-type", "read", "--io-threads", "0", &name])
            .status
            .success()
    );
    rbd(&["rm", "--no-progress", &name]);
}
