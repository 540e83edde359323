//! `rbd-rs` commands that open an image read-write and then fail close it on the way
//! out, so that `rbd rm` right after succeeds (a watch left behind would make it answer
//! "image still has watchers" until the OSD's 30 s watch timeout); against the real
//! cluster of `CEPH_CONF` (fails without one). Also `rbd-rs trash mv` of an image whose
//! lock its owner keeps fails as `rbd trash mv` does.

use interop_tests::{PythonSession, rbd_tool as rbd, tool_conf, try_ceph_tool, unique_name};

mod common;
use common::rbd_rs;

/// Runs `rbd-rs ARGS`, which must fail; its exit code and stderr.
fn fails(args: &[&str]) -> (Option<i32>, String) {
    let o = rbd_rs(args);
    assert!(!o.status.success(), "rbd-rs {args:?} succeeded");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The reference `rbd rm` of `name` succeeds at once.
fn removable(name: &str, after: &str) {
    let o = try_ceph_tool("rbd", &["rm", "--no-progress", name]);
    assert!(
        o.status.success(),
        "rbd rm after {after}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn failing_commands_close_the_image() {
    // layering only: the read-write open's own header watch; the default features: the
    // exclusive lock's
    for features in ["layering", "layering,exclusive-lock,object-map,fast-diff"] {
        let cases: [(&str, Vec<&str>); 5] = [
            (
                "object-map check at a missing snapshot",
                vec!["object-map", "check", "@nosuch"],
            ),
            (
                "snap protect of a missing snapshot",
                vec!["snap", "protect", "@nosuch"],
            ),
            (
                "snap rollback to a missing snapshot",
                vec!["snap", "rollback", "--no-progress", "@nosuch"],
            ),
            (
                "a shrink without --allow-shrink",
                vec!["resize", "--size", "1M", ""],
            ),
            (
                "bench with io-size above the size",
                vec!["bench", "--io-type", "write", "--io-size", "16M", ""],
            ),
        ];
        for (what, args) in cases {
            let name = unique_name("close-cli");
            rbd(&["create", "--size", "8M", "--image-feature", features, &name]);
            // the image spec goes where the case left "" or "@snap"
            let args: Vec<String> = args
                .iter()
                .map(|a| match *a {
                    "" => name.clone(),
                    s if s.starts_with('@') => format!("{name}{s}"),
                    s => s.to_owned(),
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, err) = fails(&args);
            assert_ne!(code, Some(0), "{what}: {err}");
            removable(&name, &format!("{what} ({features})"));
        }
    }
}

#[test]
fn trash_mv_refused_like_rbd_while_the_owner_keeps_the_lock() {
    let name = unique_name("close-cli-keep");
    rbd(&["create", "--size", "8M", &name]);
    let py = format!(
        "import rados, rbd, sys\n\
         c = rados.Rados(conffile='{}'); c.connect()\n\
         io = c.open_ioctx('rbd')\n\
         im = rbd.Image(io, '{name}')\n\
         im.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)\n\
         print('locked', flush=True)\n\
         sys.stdin.readline()\n\
         im.close()\n",
        tool_conf()
    );
    let mut s = PythonSession::start(&py);
    assert_eq!(s.line(), "locked");
    let (code, err) = fails(&["trash", "mv", &name]);
    let o = try_ceph_tool("rbd", &["trash", "mv", &name]);
    let theirs = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(code, o.status.code(), "ours: {err}\ntheirs: {theirs}");
    let line = "rbd: deferred delete error: (16) Device or resource busy";
    assert!(theirs.contains(line), "{theirs}");
    assert!(err.contains(line), "{err}");
    s.go_on();
    s.finish();
    removable(&name, "the refused moves");
}

#[test]
fn trash_mv_of_a_grouped_image_refused_as_tentacle() {
    let name = unique_name("close-cli-grp");
    let group = unique_name("close-cli-g");
    rbd(&["create", "--size", "8M", &name]);
    rbd(&["group", "create", &group]);
    rbd(&["group", "image", "add", &group, &name]);
    let (code, err) = fails(&["trash", "mv", &name]);
    let said =
        "rbd: error: image belongs to a group\nRemove the image from the group and try again.";
    assert_eq!(code, Some(31), "{err}");
    assert!(err.contains(said), "{err}");
    let o = try_ceph_tool("rbd", &["trash", "mv", &name]);
    if o.status.success() {
        // Pacific and Reef move it (the group keeps pointing at it)
        let listing = interop_tests::rbd_tool_json(&["trash", "ls"]);
        let id = listing
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name.as_str())
            .expect("moved by rbd")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        rbd(&["group", "rm", &group]);
        rbd(&["trash", "rm", "--no-progress", &id]);
    } else {
        // Tentacle refuses it the same way
        let theirs = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(31), "{theirs}");
        assert!(theirs.contains(said), "{theirs}");
        rbd(&["group", "rm", &group]);
        removable(&name, "the refused moves");
    }
}
