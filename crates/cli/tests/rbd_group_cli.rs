//! `rbd-rs group ...` against the real cluster of `CEPH_CONF` (fails without one),
//! compared with the host's `rbd`: the same listings (plain and JSON) for groups, members
//! and group snapshots made by either tool, and `snap ls --all` of member images.

use interop_tests::{rbd_tool as rbd, unique_name};

mod common;
use common::{ok, rbd_rs};

/// `group snap ls`: the same as Pacific's `rbd`; Reef and later print another table (an
/// ID column, "complete" for "ok"), so there only the names are compared.
fn same_snap_ls(group: &str) {
    let args = ["group", "snap", "ls", group];
    let theirs = rbd(&args);
    if !theirs.starts_with("ID") {
        return same(&args);
    }
    let names = |t: &str, col: usize| -> Vec<String> {
        t.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(col).map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&ok(&args), 0), names(&theirs, 1), "{args:?}");
}

/// Both tools print the same, plain and as JSON.
fn same(args: &[&str]) {
    assert_eq!(ok(args), rbd(args), "{args:?}");
    let mut j = args.to_vec();
    j.extend(["--format", "json"]);
    let parse = |s: String| serde_json::from_str::<serde_json::Value>(&s).unwrap();
    assert_eq!(parse(ok(&j)), parse(rbd(&j)), "{j:?}");
}

fn mine(out: &str, name: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains(name))
        .map(str::to_owned)
        .collect()
}

#[test]
fn group_commands_match_rbd() {
    let (g1, g2) = (unique_name("gcli-a"), unique_name("gcli-b"));
    let (i1, i2) = (unique_name("gci1"), unique_name("gci2"));
    rbd(&["create", "--size", "4M", &i1]);
    ok(&["create", "--size", "4M", &i2]);

    // made by rbd-rs
    ok(&["group", "create", &g1]);
    assert_eq!(rbd_rs(&["group", "create", &g1]).status.code(), Some(17));
    assert_eq!(
        mine(&ok(&["group", "ls"]), &g1),
        mine(&rbd(&["group", "ls"]), &g1)
    );
    ok(&["group", "image", "add", &g1, &i1]);
    ok(&[
        "group",
        "image",
        "add",
        &format!("rbd/{g1}"),
        &format!("rbd/{i2}"),
    ]);
    same(&["group", "image", "ls", &g1]);
    ok(&["group", "snap", "create", &format!("{g1}@s1")]);
    ok(&["group", "snap", "create", &g1, "--snap", "s2"]);
    assert_eq!(
        rbd_rs(&["group", "snap", "create", &format!("{g1}@s1")])
            .status
            .code(),
        Some(17)
    );
    same_snap_ls(&g1);
    same(&["snap", "ls", "--all", &i1]);
    ok(&["group", "snap", "rename", &format!("{g1}@s2"), "s3"]);
    same_snap_ls(&g1);
    ok(&[
        "group",
        "snap",
        "rollback",
        "--no-progress",
        &format!("{g1}@s3"),
    ]);
    // a grouped image with group snapshots: both refuse its removal alike
    let (ours, theirs) = (
        rbd_rs(&["rm", &i1]),
        interop_tests::try_ceph_tool("rbd", &["rm", &i1]),
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    ok(&["group", "snap", "rm", &format!("{g1}@s1")]);
    rbd(&["group", "snap", "rm", &format!("{g1}@s3")]);
    same_snap_ls(&g1);
    // no snapshots left: removal refused because of the group (EMLINK)
    let (ours, theirs) = (
        rbd_rs(&["rm", &i1]),
        interop_tests::try_ceph_tool("rbd", &["rm", &i1]),
    );
    assert_eq!(ours.status.code(), Some(31));
    assert_eq!(theirs.status.code(), Some(31));
    ok(&["group", "image", "rm", &g1, &i2]);
    same(&["group", "image", "ls", &g1]);
    ok(&["group", "rename", &g1, &g2]);
    assert_eq!(mine(&rbd(&["group", "ls"]), &g2), vec![g2.clone()]);

    // made by rbd, handled by rbd-rs
    rbd(&["group", "snap", "create", &format!("{g2}@t1")]);
    same_snap_ls(&g2);
    same(&["snap", "ls", "--all", &i1]);
    rbd(&["group", "image", "add", &g2, &i2]);
    same(&["group", "image", "ls", &g2]);
    // the snapshot's members no longer match the group's: both refuse the rollback
    let ours = rbd_rs(&[
        "group",
        "snap",
        "rollback",
        "--no-progress",
        &format!("{g2}@t1"),
    ]);
    assert_eq!(ours.status.code(), Some(22));
    ok(&["group", "rm", &g2]);
    assert!(mine(&rbd(&["group", "ls"]), &g2).is_empty());
    assert_eq!(rbd(&["snap", "ls", "--all", &i1]), "");
    // a missing group: empty listings, removal succeeds, as Pacific's rbd (Reef and later
    // fail the listings with ENOENT; we keep Pacific's answer)
    for args in [["group", "snap", "ls", &g2], ["group", "image", "ls", &g2]] {
        let theirs = interop_tests::try_ceph_tool("rbd", &args);
        if theirs.status.success() {
            same(&args);
        } else {
            assert_eq!(theirs.status.code(), Some(2), "{args:?}");
            assert_eq!(ok(&args), "", "{args:?}");
        }
    }
    ok(&["group", "rm", &g2]);
    ok(&["rm", "--no-progress", &i1]);
    rbd(&["rm", "--no-progress", &i2]);
}
