//! `rbd-rs rados ...`, `lspools`, `mkpool` and `rmpool` against the real cluster of
//! `CEPH_CONF`, next to Ceph's own `rados`: the same output byte for byte where `rados`
//! prints something, data written by one read back by the other, the same exit status.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use interop_tests::{ceph_conf, ceph_json, ceph_tool, scratch_dir, tool_view, try_ceph_tool};

/// `rbd-rs ARGS` with `-c CEPH_CONF`, `stdin` fed in.
fn rbd_rs_in(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(ceph_conf())
        .args(args)
        .env_remove("CEPH_ARGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running rbd-rs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn rbd_rs(args: &[&str]) -> Output {
    rbd_rs_in(args, b"")
}

fn ok(o: &Output) -> &Output {
    assert!(
        o.status.success(),
        "failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A pool for these tests, made with Ceph's tool.
fn pool() -> String {
    let name = "rbd-rs-cli-objects";
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

fn unique(label: &str) -> String {
    format!("{label}-{}-{:x}", std::process::id(), rand_u32())
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ (t.as_secs() as u32)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn put_get_append_stat_rm_agree_with_rados() {
    let pool = pool();
    let dir = scratch_dir("cli-objects");
    for ns in ["", "cli-ns"] {
        let mut base = vec!["rados", "-p", pool.as_str()];
        let mut theirs_base = vec!["-p", pool.as_str()];
        if !ns.is_empty() {
            base.extend(["-N", ns]);
            theirs_base.extend(["-N", ns]);
        }
        let with = |extra: &[&str]| -> Vec<String> {
            base.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let theirs = |extra: &[&str]| -> Output {
            let all: Vec<&str> = theirs_base.iter().chain(extra).copied().collect();
            ceph_tool("rados", &all)
        };
        for size in [0usize, 1, 4096, (4 << 20) + 5, 9 << 20] {
            let obj = unique(&format!("cli-{size}"));
            let content = data(size);
            let src = dir.join(format!("{obj}.in"));
            std::fs::write(&src, &content).unwrap();
            // ours puts (from a file), rados gets
            let args = with(&["put", &obj, src.to_str().unwrap()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ok(&rbd_rs(&args));
            let out = dir.join(format!("{obj}.theirs"));
            theirs(&["get", &obj, &tool_view(&out)]);
            assert!(std::fs::read(&out).unwrap() == content, "{size} bytes");
            // rados stat and ours print the same
            let a = with(&["stat", &obj]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let ours = ok(&rbd_rs(&a)).stdout.clone();
            assert_eq!(ours, theirs(&["stat", &obj]).stdout);
            // ours gets to stdout
            let a = with(&["get", &obj, "-"]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            assert!(ok(&rbd_rs(&a)).stdout == content);
            // rados puts, ours gets to a file; ours appends from stdin
            let obj2 = unique(&format!("cli2-{size}"));
            theirs(&["put", &obj2, &tool_view(&src)]);
            let got = dir.join(format!("{obj2}.ours"));
            let a = with(&["get", &obj2, got.to_str().unwrap()]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            ok(&rbd_rs(&a));
            assert!(std::fs::read(&got).unwrap() == content);
            let a = with(&["append", &obj2, "-"]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            ok(&rbd_rs_in(&a, b"tail"));
            let out = dir.join(format!("{obj2}.appended"));
            theirs(&["get", &obj2, &tool_view(&out)]);
            let mut want = content.clone();
            want.extend_from_slice(b"tail");
            assert!(std::fs::read(&out).unwrap() == want);
            let a = with(&["truncate", &obj2, "3"]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            ok(&rbd_rs(&a));
            let st = String::from_utf8(theirs(&["stat", &obj2]).stdout).unwrap();
            assert!(st.ends_with(", size 3\n"), "{st}");
            let a = with(&["rm", &obj, &obj2]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            ok(&rbd_rs(&a));
        }
        // errors: the same words and status as rados
        let missing = unique("missing");
        let a = with(&["stat", &missing]);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let ours = rbd_rs(&a);
        let all: Vec<&str> = theirs_base
            .iter()
            .chain(&["stat", missing.as_str()])
            .copied()
            .collect();
        let reference = try_ceph_tool("rados", &all);
        assert_eq!(ours.status.code(), reference.status.code());
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&reference.stderr)
        );
        let a = with(&["rm", &missing]);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let ours = rbd_rs(&a);
        let all: Vec<&str> = theirs_base
            .iter()
            .chain(&["rm", missing.as_str()])
            .copied()
            .collect();
        let reference = try_ceph_tool("rados", &all);
        assert_eq!(ours.status.code(), reference.status.code());
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&reference.stderr)
        );
    }
}

#[test]
fn xattrs_and_omap_print_like_rados() {
    let pool = pool();
    let obj = unique("cli-attrs");
    let r = |args: &[&str]| -> Output {
        let mut all = vec!["rados", "-p", pool.as_str()];
        all.extend(args);
        rbd_rs(&all)
    };
    let t = |args: &[&str]| -> Output {
        let mut all = vec!["-p", pool.as_str()];
        all.extend(args);
        try_ceph_tool("rados", &all)
    };
    ok(&r(&["create", &obj]));
    ok(&r(&["setxattr", &obj, "a", "value of a"]));
    ok(&rbd_rs_in(
        &["rados", "-p", &pool, "setxattr", &obj, "b"],
        b"from\0stdin",
    ));
    t(&["setxattr", &obj, "c", "by rados"]);
    for args in [
        vec!["getxattr", obj.as_str(), "a"],
        vec!["getxattr", obj.as_str(), "b"],
        vec!["getxattr", obj.as_str(), "c"],
        vec!["listxattr", obj.as_str()],
        vec!["getxattr", obj.as_str(), "nope"],
    ] {
        let (ours, theirs) = (r(&args), t(&args));
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr),
            "{args:?}"
        );
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
    }
    ok(&r(&["rmxattr", &obj, "c"]));
    assert_eq!(r(&["listxattr", &obj]).stdout, b"a\nb\n");
    // omap
    ok(&r(&["setomapval", &obj, "k1", "value 1"]));
    ok(&rbd_rs_in(
        &["rados", "-p", &pool, "setomapval", &obj, "k2"],
        &[b'x'; 40],
    ));
    let bin = scratch_dir("cli-omap").join("val");
    std::fs::write(&bin, (0u8..=255).collect::<Vec<_>>()).unwrap();
    ok(&r(&[
        "setomapval",
        &obj,
        "k3",
        "--input-file",
        bin.to_str().unwrap(),
    ]));
    t(&["setomapval", &obj, "k\u{1}binary", "v"]);
    // more entries than one listing page (1024) holds, set through the library
    let entries: std::collections::BTreeMap<String, bytes::Bytes> = (0..1100)
        .map(|i| (format!("many{i:04}"), bytes::Bytes::from(format!("{i}"))))
        .collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let config = rados::ClientConfig::builder()
                .conf_file(ceph_conf())
                .build()
                .unwrap();
            let client = rados::Rados::connect(config).await.unwrap();
            let io = client.ioctx(&pool).await.unwrap();
            io.omap_set(&obj, &entries).await.unwrap();
            client.shutdown().await;
        });
    ok(&r(&["setomapheader", &obj, "the header"]));
    for args in [
        vec!["getomapval", obj.as_str(), "k1"],
        vec!["getomapval", obj.as_str(), "k2"],
        vec!["getomapval", obj.as_str(), "k3"],
        vec!["getomapval", obj.as_str(), "absent"],
        vec!["listomapkeys", obj.as_str()],
        vec!["listomapvals", obj.as_str()],
        vec!["getomapheader", obj.as_str()],
    ] {
        let (ours, theirs) = (r(&args), t(&args));
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
    }
    ok(&r(&["rmomapkey", &obj, "k1"]));
    assert!(
        !String::from_utf8(t(&["listomapkeys", &obj]).stdout)
            .unwrap()
            .contains("k1\n")
    );
    ok(&r(&["clearomap", &obj]));
    assert!(t(&["listomapkeys", &obj]).stdout.is_empty());
    ok(&r(&["rm", &obj]));
}

#[test]
fn pool_snapshots_and_pools_like_rados() {
    let pool = unique("rbd-rs-cli-pool");
    let out = ok(&rbd_rs(&["mkpool", &pool])).stdout.clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("successfully created pool {pool}\n")
    );
    let listed = ceph_json(&["osd", "pool", "ls"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == pool.as_str())
    );
    // other tests of this file create and delete pools meanwhile: compare until two
    // listings taken back to back agree (a few tries)
    let mut tries = 0;
    let ours = loop {
        let ours = ok(&rbd_rs(&["lspools"])).stdout.clone();
        let theirs = ceph_tool("rados", &["lspools"]).stdout;
        tries += 1;
        if ours == theirs || tries == 5 {
            assert_eq!(ours, theirs);
            break ours;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(
        String::from_utf8_lossy(&ours)
            .lines()
            .any(|p| p == pool.as_str())
    );
    let again = ok(&rbd_rs(&["rados", "lspools"])).stdout.clone();
    assert!(
        String::from_utf8_lossy(&again)
            .lines()
            .any(|p| p == pool.as_str())
    );
    // snapshots
    let out = ok(&rbd_rs(&["rados", "-p", &pool, "mksnap", "one"]))
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("created pool {pool} snap one\n")
    );
    ceph_tool("rados", &["-p", &pool, "mksnap", "two"]);
    let ours = rbd_rs(&["rados", "-p", &pool, "lssnap"]);
    assert_eq!(
        ok(&ours).stdout,
        ceph_tool("rados", &["-p", &pool, "lssnap"]).stdout
    );
    assert!(String::from_utf8_lossy(&ours.stdout).ends_with("2 snaps\n"));
    let again = rbd_rs(&["rados", "-p", &pool, "mksnap", "one"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        format!("error creating pool {pool} snapshot one: (17) File exists\n")
    );
    let out = ok(&rbd_rs(&["rados", "-p", &pool, "rmsnap", "one"]))
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("removed pool {pool} snap one\n")
    );
    assert!(
        String::from_utf8(ceph_tool("rados", &["-p", &pool, "lssnap"]).stdout)
            .unwrap()
            .ends_with("1 snaps\n")
    );
    // reading at a pool snapshot
    let dir = scratch_dir("cli-snap");
    let f = dir.join("v1");
    std::fs::write(&f, b"version 1").unwrap();
    ok(&rbd_rs(&[
        "rados",
        "-p",
        &pool,
        "put",
        "o",
        f.to_str().unwrap(),
    ]));
    ok(&rbd_rs(&["rados", "-p", &pool, "mksnap", "three"]));
    ok(&rbd_rs_in(
        &["rados", "-p", &pool, "put", "o", "-"],
        b"version 2",
    ));
    let at = rbd_rs(&["rados", "-p", &pool, "-s", "three", "get", "o", "-"]);
    assert!(String::from_utf8_lossy(&ok(&at).stdout).ends_with("version 1"));
    // rmpool wants the name twice and the flag
    let refused = rbd_rs(&["rmpool", &pool]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .starts_with("WARNING:\n  This will PERMANENTLY DESTROY")
    );
    let out = ok(&rbd_rs(&[
        "rmpool",
        &pool,
        &pool,
        "--yes-i-really-really-mean-it",
    ]))
    .stdout
    .clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("successfully deleted pool {pool}\n")
    );
    let listed = ceph_json(&["osd", "pool", "ls"]);
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == pool.as_str())
    );
    // a missing pool
    let missing = rbd_rs(&["rados", "-p", &pool, "stat", "x"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        format!("error opening pool {pool}: (2) No such file or directory\n")
    );
}

#[test]
fn ls_prints_like_rados() {
    let pool = unique("rbd-rs-cli-ls");
    ceph_tool("ceph", &["osd", "pool", "create", &pool, "16"]);
    ceph_tool(
        "ceph",
        &["osd", "pool", "application", "enable", &pool, "rados"],
    );
    let r = |args: &[&str]| -> Output {
        let mut all = vec!["rados", "-p", pool.as_str()];
        all.extend(args);
        rbd_rs(&all)
    };
    let t = |args: &[&str]| -> Output {
        let mut all = vec!["-p", pool.as_str()];
        all.extend(args);
        try_ceph_tool("rados", &all)
    };
    let same = |args: &[&str]| {
        let (ours, theirs) = (r(args), t(args));
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr),
            "{args:?}"
        );
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        ours
    };
    // an empty pool
    for args in [&["ls"][..], &["ls", "--all"], &["ls", "--format", "json"]] {
        assert!(ok(&same(args)).stdout.len() <= 2);
    }
    same(&["ls", "--format", "json-pretty"]);
    // objects from both tools, in namespaces, some with locator keys ("quoted" names too)
    let dir = scratch_dir("cli-ls");
    let src = dir.join("in");
    std::fs::write(&src, b"x").unwrap();
    for i in 0..40 {
        let name = if i % 13 == 0 {
            format!("odd \"name\"\t{i}")
        } else {
            format!("obj-{i}")
        };
        let mut args = Vec::new();
        if i % 3 == 1 {
            args.extend(["-N", "ns-a"]);
        }
        if i % 4 == 0 {
            args.extend(["--object-locator", "loc"]);
        }
        let view = tool_view(&src);
        if i % 2 == 0 {
            args.extend(["put", name.as_str(), view.as_str()]);
            t(&args);
        } else {
            args.extend(["put", name.as_str(), "-"]);
            ok(&rbd_rs_in(
                &[&["rados", "-p", pool.as_str()][..], &args].concat(),
                b"y",
            ));
        }
    }
    for args in [
        &["ls"][..],
        &["ls", "-"],
        &["ls", "--all"],
        &["ls", "--all", "--default"],
        &["ls", "--all", "-N", "ns-a"],
        &["-N", "ns-a", "ls"],
        &["-N", "nothing-here", "ls"],
        &["ls", "--format", "json"],
        &["ls", "--all", "--format", "json"],
        &["ls", "--all", "--format", "json-pretty"],
        &["ls", "some-file"],
    ] {
        same(args);
    }
    let listed = ok(&r(&["ls", "--all"])).stdout.clone();
    assert_eq!(String::from_utf8_lossy(&listed).lines().count(), 40);
    // --output FILE
    let ours = dir.join("ours.txt");
    let theirs = dir.join("theirs.txt");
    ok(&r(&["ls", "--all", "--output", ours.to_str().unwrap()]));
    ok(&t(&["ls", "--all", "--output", &tool_view(&theirs)]));
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap()
    );
    assert_eq!(std::fs::read(&ours).unwrap(), listed);
    ok(&rbd_rs(&[
        "rmpool",
        &pool,
        &pool,
        "--yes-i-really-really-mean-it",
    ]));
    // a missing pool
    let missing = r(&["ls"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        String::from_utf8_lossy(&t(&["ls"]).stderr)
    );
}
