//! `rbd-rs snap ...`, `info image@snap` and `export image@snap` against the real cluster
//! of `CEPH_CONF` (fails without one), compared with the host's `rbd`: the same listings
//! (plain and JSON), and changes made by one seen by the other.

use interop_tests::{pattern, rbd_tool as rbd, scratch_dir, serial, unique_name};

mod common;
use common::{ok, rbd_rs};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Both tools print the same, plain and JSON.
fn same(args: &[&str]) {
    assert_eq!(ok(args), rbd(args), "{args:?}");
    let mut j = args.to_vec();
    j.extend(["--format", "json"]);
    assert_eq!(json(&ok(&j)), json(&rbd(&j)), "{j:?}");
}

#[test]
fn snap_commands_match_rbd() {
    let _serial = serial();
    let name = unique_name("snap-cli");
    let dir = scratch_dir("snap-cli");
    let data = pattern(3 << 20, 9);
    let f = dir.join("in");
    std::fs::write(&f, &data).unwrap();
    let fv = interop_tests::tool_view(&f);
    rbd(&["import", "--no-progress", &fv, &name]);
    let at = |s: &str| format!("{name}@{s}");
    ok(&["snap", "create", "--no-progress", &at("a")]);
    rbd(&["snap", "create", "--no-progress", &at("b")]);
    // change the head: the snapshots keep the imported data
    rbd(&["bench", "--io-type", "write", "--io-total", "1M", &name]);
    same(&["snap", "ls", &name]);
    same(&["snap", "ls", "--all", &name]);
    ok(&["snap", "protect", &at("a")]);
    same(&["snap", "ls", &name]);
    same(&["info", &at("a")]);
    same(&["info", &at("b")]);
    let o = rbd_rs(&["snap", "rm", &at("a")]);
    assert_eq!(o.status.code(), Some(16), "rm of a protected snapshot");
    ok(&["snap", "limit", "set", &name, "--limit", "9"]);
    same(&["info", &name]);
    ok(&["snap", "limit", "clear", &name]);
    same(&["info", &name]);
    for s in ["a", "b"] {
        let mine = dir.join(format!("mine-{s}"));
        ok(&["export", "--no-progress", &at(s), mine.to_str().unwrap()]);
        assert!(std::fs::read(&mine).unwrap() == data, "export @{s}");
    }
    // purge leaves the protected one and names it on stdout, as rbd does
    let out = ok(&["snap", "purge", "--no-progress", &name]);
    assert_eq!(
        out,
        "rbd: error removing snapshot(s) 'a', which is protected - these must be unprotected \
         with `rbd snap unprotect`.\n"
    );
    let ls = json(&rbd(&["snap", "ls", &name, "--format", "json"]));
    assert_eq!(ls.as_array().unwrap().len(), 1);
    ok(&["snap", "unprotect", &at("a")]);
    ok(&["snap", "rename", &at("a"), &at("c")]);
    assert_eq!(
        json(&rbd(&["snap", "ls", &name, "--format", "json"]))[0]["name"],
        "c"
    );
    ok(&["snap", "rollback", "--no-progress", &at("c")]);
    let back = dir.join("back");
    rbd(&[
        "export",
        "--no-progress",
        &name,
        &interop_tests::tool_view(&back),
    ]);
    assert!(std::fs::read(&back).unwrap() == data, "rolled back");
    ok(&["snap", "rm", "--no-progress", &at("c")]);
    assert_eq!(rbd(&["snap", "ls", &name]), "");
    rbd(&["rm", "--no-progress", &name]);
}

/// `snap create --skip-quiesce | --ignore-quiesce-error` (not both: EINVAL, as rbd).
#[test]
fn snap_create_quiesce_options() {
    let _serial = serial();
    let name = unique_name("snap-cli-q");
    rbd(&["create", "--size", "4M", &name]);
    let at = |s: &str| format!("{name}@{s}");
    ok(&[
        "snap",
        "create",
        "--no-progress",
        "--skip-quiesce",
        &at("a"),
    ]);
    ok(&[
        "snap",
        "create",
        "--no-progress",
        "--ignore-quiesce-error",
        &at("b"),
    ]);
    let both = ["snap", "create", "--skip-quiesce", "--ignore-quiesce-error"];
    let o = rbd_rs(&[&both[..], &[at("c").as_str()]].concat());
    let theirs = interop_tests::try_ceph_tool("rbd", &[&both[..], &[at("c").as_str()]].concat());
    assert_eq!(o.status.code(), Some(22));
    assert_eq!(theirs.status.code(), Some(22));
    same(&["snap", "ls", &name]);
    rbd(&["snap", "purge", "--no-progress", &name]);
    rbd(&["rm", "--no-progress", &name]);
}
