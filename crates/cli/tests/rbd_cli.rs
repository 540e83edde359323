//! `rbd-rs create|ls|info|rm|rename|resize|import|export|image-meta|pool init` against the
//! real cluster of `CEPH_CONF` (fails without one), compared with the host's `rbd`.

use std::process::Command;

use interop_tests::{
    ceph_conf, ceph_tool, pattern, rbd_tool as rbd, scratch_dir, serial, try_ceph_tool, unique_name,
};

mod common;
use common::{ok, rbd_rs};

#[test]
fn create_info_ls_match_rbd() {
    let _serial = serial();
    let a = unique_name("cli-a");
    let b = unique_name("cli-b");
    ok(&["create", "--size", "10G", "--image-feature", "layering", &a]);
    ok(&[
        "create",
        "--size",
        "100M",
        "--object-size",
        "1M",
        "--stripe-unit",
        "8K",
        "--stripe-count",
        "3",
        &format!("rbd/{b}"),
    ]);
    for name in [&a, &b] {
        assert_eq!(ok(&["info", name]), rbd(&["info", name]), "info {name}");
        let ours: serde_json::Value =
            serde_json::from_str(&ok(&["info", name, "--format", "json"])).unwrap();
        let theirs: serde_json::Value =
            serde_json::from_str(&rbd(&["info", name, "--format", "json"])).unwrap();
        assert_eq!(ours, theirs, "info --format json {name}");
    }
    // without --image-feature: rbd's default features (striping implied here)
    let jb: serde_json::Value =
        serde_json::from_str(&rbd(&["info", &b, "--format", "json"])).unwrap();
    assert_eq!(
        jb["features"],
        serde_json::json!([
            "layering",
            "striping",
            "exclusive-lock",
            "object-map",
            "fast-diff",
            "deep-flatten"
        ])
    );
    // ls and ls -l: our images' lines are the same (other tests may add images meanwhile)
    let ls = ok(&["ls"]);
    assert!(ls.lines().any(|l| l == a) && ls.lines().any(|l| l == b));
    let ours: serde_json::Value =
        serde_json::from_str(&ok(&["ls", "-l", "--format", "json"])).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&rbd(&["ls", "-l", "--format", "json"])).unwrap();
    for name in [&a, &b] {
        let pick = |v: &serde_json::Value| {
            v.as_array()
                .unwrap()
                .iter()
                .find(|e| e["image"] == name.as_str())
                .cloned()
        };
        assert_eq!(pick(&ours), pick(&theirs));
        assert!(pick(&ours).is_some());
    }
    let row = |t: &str, n: &str| {
        t.lines()
            .find(|l| l.split_whitespace().next() == Some(n))
            .map(str::to_owned)
    };
    // the pool's listing changes while other tests run, and its column widths with it:
    // compare the header's words there, and the exact text in a namespace of our own
    let (ol, tl) = (ok(&["ls", "-l"]), rbd(&["ls", "-l"]));
    let words = |t: &str| {
        t.lines()
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    assert_eq!(words(&ol), words(&tl), "header");
    let ns = unique_name("ls-ns");
    rbd(&["namespace", "create", &format!("rbd/{ns}")]);
    rbd(&["create", "--size", "3M", &format!("rbd/{ns}/{a}")]);
    rbd(&["snap", "create", &format!("rbd/{ns}/{a}@s")]);
    rbd(&["snap", "protect", &format!("rbd/{ns}/{a}@s")]);
    rbd(&["snap", "create", &format!("rbd/{ns}/{a}@t")]);
    rbd(&["lock", "add", &format!("rbd/{ns}/{a}"), "cookie"]);
    let spec = format!("rbd/{ns}");
    assert_eq!(
        ok(&["ls", "-l", &spec]),
        rbd(&["ls", "-l", &spec]),
        "ls -l in a namespace"
    );
    assert_eq!(
        ok(&["ls", "-l", &spec, "--format", "json"]),
        rbd(&["ls", "-l", &spec, "--format", "json"]),
        "ls -l --format json"
    );
    let lockers = rbd(&["lock", "ls", &format!("rbd/{ns}/{a}"), "--format", "json"]);
    let locker: serde_json::Value = serde_json::from_str(&lockers).unwrap();
    let client = locker[0]["locker"].as_str().unwrap().to_owned();
    rbd(&["lock", "rm", &format!("rbd/{ns}/{a}"), "cookie", &client]);
    rbd(&["snap", "unprotect", &format!("rbd/{ns}/{a}@s")]);
    rbd(&["snap", "purge", &format!("rbd/{ns}/{a}"), "--no-progress"]);
    rbd(&["rm", &format!("rbd/{ns}/{a}"), "--no-progress"]);
    rbd(&["namespace", "rm", &spec]);
    assert_eq!(
        row(&ol, &a).map(|r| r.split_whitespace().collect::<Vec<_>>().join(" ")),
        row(&tl, &a).map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
    );
    // errors: exit status is the errno, as rbd's
    let o = rbd_rs(&["create", "--size", "1G", &a]);
    assert_eq!(o.status.code(), Some(17));
    let o = rbd_rs(&["info", "no-such-image-here"]);
    assert_eq!(o.status.code(), Some(2));
    let o = rbd_rs(&["info", "no-such-pool-here/img"]);
    assert_eq!(o.status.code(), Some(2));
    let o = rbd_rs(&[
        "create",
        "--size",
        "1G",
        "--image-feature",
        "journaling,exclusive-lock",
        "x",
    ]);
    assert!(!o.status.success());
    // resize, rename, rm seen by rbd
    let o = rbd_rs(&["resize", "--size", "1G", &a]);
    assert!(!o.status.success(), "shrinking needs --allow-shrink");
    ok(&["resize", "--size", "1G", "--allow-shrink", &a]);
    assert!(rbd(&["info", &a]).contains("size 1 GiB in 256 objects"));
    let a2 = format!("{a}-2");
    ok(&["rename", &a, &a2]);
    assert!(rbd(&["ls"]).lines().any(|l| l == a2));
    ok(&["image-meta", "set", &a2, "k1", "v1"]);
    assert_eq!(rbd(&["image-meta", "get", &a2, "k1"]), "v1\n");
    assert_eq!(
        ok(&["image-meta", "list", &a2]),
        rbd(&["image-meta", "list", &a2])
    );
    ok(&["image-meta", "remove", &a2, "k1"]);
    assert_eq!(
        ok(&["image-meta", "list", &a2]),
        "There are 0 metadata on this image.\n"
    );
    ok(&["rm", &a2]);
    ok(&["rm", &b]);
    let ls = rbd(&["ls"]);
    assert!(!ls.lines().any(|l| l == a2 || l == b));
}

#[test]
fn import_export_round_trip() {
    let _serial = serial();
    let dir = scratch_dir("rbd-cli");
    let mut data = pattern(5_000_003, 42);
    data[1 << 20..3 << 20].fill(0);
    let src = dir.join("import-src");
    std::fs::write(&src, &data).unwrap();
    let name = unique_name("cli-imp");
    ok(&[
        "import",
        src.to_str().unwrap(),
        &name,
        "--object-size",
        "64K",
        "--stripe-unit",
        "4K",
        "--stripe-count",
        "5",
    ]);
    let out = dir.join("by-rbd");
    let _ = std::fs::remove_file(&out);
    rbd(&["export", &name, &interop_tests::tool_view(&out)]);
    assert!(std::fs::read(&out).unwrap() == data);
    // imported with the default features: the lock was released at exit, the object map
    // is right
    assert!(!rbd(&["lock", "ls", &name]).contains("auto"));
    rbd(&["object-map", "check", &name]);
    assert!(rbd(&["info", &name]).contains("\tflags: \n"));
    let ours = dir.join("by-rbd-rs");
    let _ = std::fs::remove_file(&ours);
    ok(&["export", &name, ours.to_str().unwrap()]);
    assert!(std::fs::read(&ours).unwrap() == data);
    // stdin / stdout
    let name2 = unique_name("cli-stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(ceph_conf())
        .args(["import", "-", &name2])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&data).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let o = rbd_rs(&["export", &name2, "-"]);
    assert!(o.status.success());
    assert!(o.stdout == data);
    // an image written by rbd, exported by us
    let name3 = unique_name("cli-ref");
    rbd(&[
        "import",
        "--image-feature",
        "layering",
        &interop_tests::tool_view(&src),
        &name3,
    ]);
    assert!(rbd_rs(&["export", &name3, "-"]).stdout == data);
    for n in [&name, &name2, &name3] {
        assert!(try_ceph_tool("rbd", &["rm", n]).status.success());
    }
}

#[test]
fn pool_init_like_rbd() {
    let _serial = serial();
    let pool = unique_name("cli-pool");
    ceph_tool("ceph", &["osd", "pool", "create", &pool, "8"]);
    ok(&["pool", "init", &pool]);
    let info = ceph_tool("rados", &["-p", &pool, "get", "rbd_info", "-"]).stdout;
    assert_eq!(info, b"overwrite validated");
    let apps =
        String::from_utf8(ceph_tool("ceph", &["osd", "pool", "application", "get", &pool]).stdout)
            .unwrap();
    assert!(apps.contains("\"rbd\""), "{apps}");
    // usable by rbd at once
    rbd(&[
        "create",
        "--size",
        "1M",
        "--image-feature",
        "layering",
        &format!("{pool}/img"),
    ]);
    assert_eq!(ok(&["ls", &pool]), "img\n");
    ceph_tool(
        "ceph",
        &[
            "osd",
            "pool",
            "rm",
            &pool,
            &pool,
            "--yes-i-really-really-mean-it",
        ],
    );
}
