//! `rbd-rs clone|flatten|children` and the parent lines of `rbd-rs info` against the real
//! cluster of `CEPH_CONF` (fails without one), compared with the host's `rbd`.

use interop_tests::{pattern, rbd_tool as rbd, scratch_dir, serial, tool_view, unique_name};

mod common;
use common::{ok, rbd_rs};

fn json(s: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"));
    // librbd may bump the access time between the two reads
    if let Some(o) = v.as_object_mut() {
        o.remove("access_timestamp");
    }
    v
}

fn without_atime(s: &str) -> String {
    s.lines()
        .filter(|l| !l.contains("access_timestamp"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn export(spec: &str) -> Vec<u8> {
    let dir = scratch_dir("clone-cli");
    let f = dir.join("out");
    rbd(&["export", "--no-progress", spec, &tool_view(&f)]);
    std::fs::read(&f).unwrap()
}

#[test]
fn clone_children_info_flatten_like_rbd() {
    let _serial = serial();
    let parent = unique_name("cli-parent");
    let ns = unique_name("cli-ns");
    rbd(&["namespace", "create", &format!("rbd/{ns}")]);
    let dir = scratch_dir("clone-cli");
    let data = pattern((9 << 20) + 100, 3);
    let f = dir.join("in");
    std::fs::write(&f, &data).unwrap();
    rbd(&["import", "--no-progress", &tool_view(&f), &parent]);
    let psnap = format!("{parent}@s");
    rbd(&["snap", "create", "--no-progress", &psnap]);
    rbd(&["snap", "protect", &psnap]);
    // v2 into a namespace, v1 beside the parent (made here); one by rbd for comparison
    let c2 = format!("rbd/{ns}/{}", unique_name("cli-c2"));
    let c1 = unique_name("cli-c1");
    let cr = unique_name("cli-cr");
    ok(&["clone", "--rbd-default-clone-format", "2", &psnap, &c2]);
    ok(&[
        "clone",
        "--rbd-default-clone-format",
        "1",
        "--image-feature",
        "layering",
        &psnap,
        &c1,
    ]);
    rbd(&["clone", &psnap, &cr]);
    for child in [&c2, &c1, &cr] {
        assert_eq!(
            without_atime(&ok(&["info", child])),
            without_atime(&rbd(&["info", child])),
            "info {child}"
        );
        assert_eq!(
            json(&ok(&["info", child, "--format", "json"])),
            json(&rbd(&["info", child, "--format", "json"])),
            "info json {child}"
        );
        assert!(export(child) == data, "export {child}");
    }
    // a grandchild for --descendants
    let c2snap = format!("{c2}@g");
    rbd(&["snap", "create", "--no-progress", &c2snap]);
    let gc = unique_name("cli-gc");
    rbd(&["clone", "--rbd-default-clone-format", "2", &c2snap, &gc]);
    for extra in [
        &[][..],
        &["--all"],
        &["--descendants"],
        &["-a", "--descendants"],
    ] {
        let mut args = vec!["children", psnap.as_str()];
        args.extend(extra);
        assert_eq!(ok(&args), rbd(&args), "{args:?}");
        args.extend(["--format", "json"]);
        assert_eq!(json(&ok(&args)), json(&rbd(&args)), "{args:?}");
    }
    assert_eq!(ok(&["children", &c2snap]), rbd(&["children", &c2snap]));
    // flatten: here, then rbd agrees there is no parent left and the bytes stayed
    ok(&["flatten", "--no-progress", &gc]);
    ok(&["flatten", "--no-progress", &c1]);
    for child in [&gc, &c1] {
        let j = json(&rbd(&["info", child, "--format", "json"]));
        assert!(j.get("parent").is_none(), "{j}");
        assert_eq!(
            without_atime(&ok(&["info", child])),
            without_atime(&rbd(&["info", child]))
        );
    }
    assert!(export(&c1) == data);
    assert!(export(&gc) == data);
    // flattening an image without a parent: EINVAL, as rbd
    let o = rbd_rs(&["flatten", "--no-progress", &c1]);
    assert_eq!(o.status.code(), Some(22));
    ok(&["rm", "--no-progress", &gc]);
    rbd(&["snap", "rm", "--no-progress", &c2snap]);
    for child in [&c2, &c1, &cr] {
        ok(&["rm", "--no-progress", child]);
    }
    assert_eq!(rbd(&["children", &psnap]), "");
    rbd(&["snap", "unprotect", &psnap]);
    rbd(&["snap", "rm", "--no-progress", &psnap]);
    rbd(&["rm", "--no-progress", &parent]);
    rbd(&["namespace", "remove", &format!("rbd/{ns}")]);
}

#[test]
fn trashed_children_and_clone_diffs_like_rbd() {
    let _serial = serial();
    let parent = unique_name("cli-tparent");
    let dir = scratch_dir("clone-cli");
    let mut data = vec![0u8; 6 << 20];
    data[(2 << 20) + 100..(2 << 20) + 5100].copy_from_slice(&pattern(5000, 4));
    data[5 << 20..].copy_from_slice(&pattern(1 << 20, 5));
    let f = dir.join("tin");
    std::fs::write(&f, &data).unwrap();
    rbd(&[
        "import",
        "--no-progress",
        "--object-size",
        "1M",
        &tool_view(&f),
        &parent,
    ]);
    let psnap = format!("{parent}@s");
    rbd(&["snap", "create", "--no-progress", &psnap]);
    rbd(&["snap", "protect", &psnap]);
    let kept = unique_name("cli-tkept");
    let trashed = unique_name("cli-ttrashed");
    rbd(&["clone", &psnap, &kept]);
    rbd(&["clone", &psnap, &trashed]);
    // the diff of a clone shows its parent's data, with and without fast-diff
    rbd(&[
        "bench",
        "--io-type",
        "write",
        "--io-size",
        "4096",
        "--io-total",
        "8192",
        &kept,
    ]);
    for args in [
        vec!["diff", kept.as_str()],
        vec!["diff", "--whole-object", kept.as_str()],
        vec!["diff", "--format", "json", kept.as_str()],
        vec!["diff", trashed.as_str()],
    ] {
        assert_eq!(ok(&args), rbd(&args), "{args:?}");
    }
    ok(&["trash", "mv", &trashed]);
    // `trash ls -l` names a trashed clone's parent
    let line = |out: String| {
        out.lines()
            .find(|l| l.contains(trashed.as_str()))
            .map(str::to_owned)
    };
    assert_eq!(
        line(ok(&["trash", "ls", "-l"])),
        line(rbd(&["trash", "ls", "-l"]))
    );
    for args in [
        vec!["children", psnap.as_str()],
        vec!["children", "--all", psnap.as_str()],
        vec!["children", "--all", "--format", "json", psnap.as_str()],
        vec!["children", "--format", "json", psnap.as_str()],
    ] {
        assert_eq!(ok(&args), rbd(&args), "{args:?}");
    }
    // the parent in the trash: its clone's info names it, as rbd
    let trash_id = rbd(&["trash", "ls"])
        .lines()
        .find(|l| l.ends_with(&format!(" {trashed}")))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_owned();
    rbd(&["trash", "mv", &parent]);
    assert_eq!(
        without_atime(&ok(&["info", &kept])),
        without_atime(&rbd(&["info", &kept]))
    );
    assert_eq!(ok(&["diff", &kept]), rbd(&["diff", &kept]));
    let parent_id = rbd(&["trash", "ls"])
        .lines()
        .find(|l| l.ends_with(&format!(" {parent}")))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_owned();
    rbd(&["trash", "restore", &parent_id]);
    rbd(&["trash", "restore", &trash_id]);
    ok(&["rm", "--no-progress", &kept]);
    ok(&["rm", "--no-progress", &trashed]);
    rbd(&["snap", "unprotect", &psnap]);
    rbd(&["snap", "rm", "--no-progress", &psnap]);
    rbd(&["rm", "--no-progress", &parent]);
}
