//! `rbd-rs namespace create|ls|rm` against the real cluster of `CEPH_CONF` (fails without
//! one), compared with the host's `rbd`.

use interop_tests::{rbd_tool as rbd, unique_name};

mod common;
use common::{ok, rbd_rs};

/// Our namespace's line(s) in a listing (other tests create namespaces too).
fn mine(out: &str, ns: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains(ns))
        .map(str::to_owned)
        .collect()
}

#[test]
fn namespace_commands_match_rbd() {
    let ns = unique_name("ns-cli");
    let spec = format!("rbd/{ns}");
    ok(&["namespace", "create", &spec]);
    assert_eq!(
        rbd_rs(&["namespace", "create", &spec]).status.code(),
        Some(17)
    );
    let (ours, theirs) = (ok(&["namespace", "ls"]), rbd(&["namespace", "ls"]));
    assert_eq!(mine(&ours, &ns), mine(&theirs, &ns));
    assert_eq!(ours.lines().next(), theirs.lines().next(), "header");
    let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(
        j(&ok(&["namespace", "ls", "rbd", "--format", "json"])),
        j(&rbd(&["namespace", "ls", "rbd", "--format", "json"]))
    );
    let img = format!("{spec}/img");
    ok(&[
        "create",
        "--size",
        "1M",
        "--image-feature",
        "layering",
        &img,
    ]);
    assert_eq!(rbd(&["ls", &spec]), "img\n");
    assert_eq!(rbd_rs(&["namespace", "rm", &spec]).status.code(), Some(16));
    rbd(&["rm", "--no-progress", &img]);
    ok(&["namespace", "rm", "--pool", "rbd", "--namespace", &ns]);
    assert!(mine(&rbd(&["namespace", "ls"]), &ns).is_empty());
    assert_eq!(rbd_rs(&["namespace", "rm", &spec]).status.code(), Some(2));
}
