//! `rbd-rs rm` refusals against the real cluster of `CEPH_CONF` (fails without one): the
//! same exit status and the same lines on stderr as the host's `rbd` (src/tools/rbd/
//! action/Remove.cc) for a missing image, an image with snapshots, one whose only
//! snapshot is kept for a clone (trash namespace), one still open elsewhere (watchers)
//! and one in a group. (rbd's progress line and our own `rbd-rs:` line are left out.)

use std::io::Write;
use std::process::{Output, Stdio};

use interop_tests::{python3, rbd_tool as rbd, try_ceph_tool, unique_name};

mod common;
use common::rbd_rs;

/// The stderr lines both tools share.
fn refusal(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.contains("Removing image") && !l.starts_with("rbd-rs: "))
        .map(str::to_owned)
        .collect()
}

/// Both tools refuse to remove `spec` alike.
fn same_refusal(spec: &str) {
    let ours = rbd_rs(&["rm", spec]);
    let theirs = try_ceph_tool("rbd", &["rm", spec]);
    assert!(!theirs.status.success(), "rbd removed {spec}");
    assert_eq!(ours.status.code(), theirs.status.code(), "{spec}");
    let want = refusal(&theirs);
    assert!(!want.is_empty(), "{spec}");
    assert_eq!(refusal(&ours), want, "{spec}");
}

#[test]
fn rm_refusals_print_what_rbd_prints() {
    // no such image
    same_refusal(&unique_name("rbd-rm-missing"));
    // snapshots
    let img = unique_name("rbd-rm-snaps");
    rbd(&["create", &img, "--size", "4M"]);
    rbd(&["snap", "create", &format!("{img}@s")]);
    same_refusal(&img);
    // its only snapshot removed while a clone uses it: kept in the trash namespace
    let child = unique_name("rbd-rm-child");
    rbd(&[
        "clone",
        &format!("{img}@s"),
        &child,
        "--rbd-default-clone-format",
        "2",
    ]);
    rbd(&["snap", "rm", &format!("{img}@s"), "--no-progress"]);
    same_refusal(&img);
    // open elsewhere: a watcher on the header
    let mut holder = python3()
        .args([
            "-c",
            "import rados, rbd, sys\n\
             c = rados.Rados(conffile=sys.argv[1]); c.connect()\n\
             io = c.open_ioctx('rbd'); im = rbd.Image(io, sys.argv[2])\n\
             print('open', flush=True); sys.stdin.read()\n\
             im.close(); io.close(); c.shutdown()",
            &interop_tests::tool_conf(),
            &child,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "open");
    same_refusal(&child);
    holder.stdin.take().unwrap().write_all(b"").unwrap();
    assert!(holder.wait().unwrap().success());
    // in a group
    let group = unique_name("rbd-rm-group");
    rbd(&["group", "create", &group]);
    rbd(&["group", "image", "add", &group, &child]);
    same_refusal(&child);
    rbd(&["group", "image", "rm", &group, &child]);
    rbd(&["group", "rm", &group]);
    rbd(&["rm", &child, "--no-progress"]);
    rbd(&["rm", &img, "--no-progress"]);
}
