//! `rbd-rs cp` and `rbd-rs sparsify` against the real cluster of `CEPH_CONF` (fails
//! without one), compared with the host's `rbd`: the same bytes, features and metadata in
//! the copy, the same (empty) output, the same exit status on a taken name.

use interop_tests::{
    ceph_tool, pattern, rbd_du, rbd_snap_sizes, rbd_tool as rbd, rbd_tool_json as rbd_json,
    scratch_dir, tool_view, try_ceph_tool, unique_name,
};

mod common;
use common::rbd_rs;

fn export(spec: &str) -> Vec<u8> {
    let dir = scratch_dir("rbd-cp-cli");
    let file = dir.join(unique_name("exp"));
    ceph_tool("rbd", &["export", spec, &tool_view(&file)]);
    let data = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    data
}

#[test]
fn cp_and_sparsify_match_rbd() {
    let name = unique_name("cp-cli");
    let dir = scratch_dir("rbd-cp-cli");
    let file = dir.join(unique_name("in"));
    let mut data = vec![0u8; 4 << 20];
    data[1 << 20..(1 << 20) + 5000].copy_from_slice(&pattern(5000, 1));
    std::fs::write(&file, &data).unwrap();
    rbd(&[
        "import",
        &tool_view(&file),
        &name,
        "--object-size",
        "1M",
        "--no-progress",
    ]);
    let _ = std::fs::remove_file(&file);
    rbd(&["image-meta", "set", &name, "k", "v"]);
    rbd(&["snap", "create", &format!("{name}@s")]);
    rbd(&["bench", "--io-type", "write", "--io-total", "64K", &name]);

    let ours = format!("{name}-ours");
    let o = rbd_rs(&["cp", &format!("{name}@s"), &ours]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    let theirs = format!("{name}-theirs");
    rbd(&["cp", &format!("{name}@s"), &theirs, "--no-progress"]);
    assert_eq!(export(&ours), data);
    assert_eq!(export(&theirs), data);
    let (a, b) = (rbd_json(&["info", &ours]), rbd_json(&["info", &theirs]));
    for field in ["size", "order", "features", "stripe_unit", "stripe_count"] {
        assert_eq!(a[field], b[field], "{field}");
    }
    assert_eq!(rbd(&["image-meta", "get", &ours, "k"]).trim_end(), "v");
    assert_eq!(
        rbd_json(&["du", &ours])["images"][0]["used_size"],
        rbd_json(&["du", &theirs])["images"][0]["used_size"]
    );

    // a taken name: the same exit status
    let theirs_exit = try_ceph_tool("rbd", &["cp", &name, &ours, "--no-progress"])
        .status
        .code();
    let ours_exit = rbd_rs(&["cp", &name, &ours]).status.code();
    assert_eq!(ours_exit, theirs_exit);

    // sparsify: quiet, bytes unchanged, `rbd` sparsifies the same way
    let o = rbd_rs(&["sparsify", &ours, "--sparse-size", "64K"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    assert_eq!(export(&ours), data);
    let bad_ours = rbd_rs(&["sparsify", &ours, "--sparse-size", "1000"])
        .status
        .code();
    let bad_theirs = try_ceph_tool("rbd", &["sparsify", &ours, "--sparse-size", "1000"])
        .status
        .code();
    assert_eq!(bad_ours, bad_theirs);
    rbd(&["snap", "purge", &name, "--no-progress"]);
    for n in [&name, &ours, &theirs] {
        rbd(&["rm", n, "--no-progress"]);
    }
}

/// A 4 MiB parent of 1 MiB objects, written whole, and its clone (`{parent}-child`),
/// written at its start, snapshotted as `child@first_snap`, then shrunk to 3 MiB: the
/// clone's own objects, a snapshot and an overlap that moved.
fn written_clone(label: &str, first_snap: &str) -> (String, String) {
    let parent = unique_name(label);
    rbd(&["create", &parent, "--size", "4M", "--object-size", "1M"]);
    rbd(&["bench", "--io-type", "write", "--io-total", "4M", &parent]);
    rbd(&["snap", "create", &format!("{parent}@base")]);
    rbd(&["snap", "protect", &format!("{parent}@base")]);
    let child = format!("{parent}-child");
    rbd(&["clone", &format!("{parent}@base"), &child]);
    rbd(&["bench", "--io-type", "write", "--io-total", "64K", &child]);
    rbd(&["snap", "create", &format!("{child}@{first_snap}")]);
    rbd(&[
        "resize",
        &child,
        "--size",
        "3M",
        "--allow-shrink",
        "--no-progress",
    ]);
    (parent, child)
}

#[test]
fn deep_cp_of_a_clone_matches_rbd_with_and_without_flatten() {
    let (parent, child) = written_clone("dcp-cli-parent", "s");
    let want = export(&child);
    let mut made = Vec::new();
    for flatten in [false, true] {
        let extra: &[&str] = if flatten { &["--flatten"] } else { &[] };
        let ours = format!("{child}-ours{}", if flatten { "-flat" } else { "" });
        let mut args = vec!["deep", "cp", &child, &ours];
        args.extend(extra);
        let o = rbd_rs(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let theirs = format!("{child}-theirs{}", if flatten { "-flat" } else { "" });
        let mut args = vec!["deep", "cp", &child, &theirs, "--no-progress"];
        args.extend(extra);
        rbd(&args);
        let (a, b) = (rbd_json(&["info", &ours]), rbd_json(&["info", &theirs]));
        for field in ["size", "order", "features", "parent"] {
            assert_eq!(a[field], b[field], "{field} (flatten {flatten})");
        }
        assert_eq!(a["parent"].is_null(), flatten, "{a}");
        assert_eq!(export(&ours), want);
        assert_eq!(export(&format!("{ours}@s")), export(&format!("{child}@s")));
        made.extend([ours, theirs]);
    }
    for n in made.iter().chain([&child]) {
        rbd(&["snap", "purge", n, "--no-progress"]);
        rbd(&["rm", n, "--no-progress"]);
    }
    rbd(&["snap", "unprotect", &format!("{parent}@base")]);
    rbd(&["snap", "purge", &parent, "--no-progress"]);
    rbd(&["rm", &parent, "--no-progress"]);
}

/// `rbd snap ls` names and sizes, and `rbd du` without the image names.
fn history(spec: &str) -> (interop_tests::SnapSizes, interop_tests::DiskUsage) {
    (rbd_snap_sizes(spec), rbd_du(spec))
}

#[test]
fn deep_cp_at_a_snapshot_and_into_another_layout_matches_rbd() {
    let (parent, child) = written_clone("dcp-at-parent", "a");
    rbd(&["snap", "create", &format!("{child}@b")]);
    rbd(&["resize", &child, "--size", "6M", "--no-progress"]);
    rbd(&[
        "bench",
        "--io-type",
        "write",
        "--io-total",
        "64K",
        "--io-pattern",
        "rand",
        &child,
    ]);
    rbd(&["snap", "create", &format!("{child}@c")]);
    let layout: &[&str] = &[
        "--object-size",
        "512K",
        "--stripe-unit",
        "128K",
        "--stripe-count",
        "2",
    ];
    let mut made = Vec::new();
    for (src, extra) in [
        (format!("{child}@b"), &[][..]),
        (format!("{child}@b"), layout),
        (child.clone(), layout),
    ] {
        let ours = unique_name("dcp-at-ours");
        let theirs = unique_name("dcp-at-theirs");
        let mut args = vec!["deep", "cp", &src, &ours];
        args.extend(extra);
        let o = rbd_rs(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut args = vec!["deep", "cp", &src, &theirs, "--no-progress"];
        args.extend(extra);
        let t = try_ceph_tool("rbd", &args);
        assert!(t.status.success());
        assert!(o.stdout.is_empty() && t.stdout.is_empty());
        let (h, th) = (history(&ours), history(&theirs));
        assert_eq!(h.0, th.0, "{src} {extra:?}");
        // (into another layout, librbd's object maps may call objects it only zeroed
        // or never wrote EXISTS, which `rbd du` counts; ours say what is there)
        if extra.is_empty() {
            assert_eq!(h.1, th.1, "{src} {extra:?}");
        }
        for (snap, _) in
            h.0.iter()
                .map(|(n, s)| (format!("@{n}"), s))
                .chain([(String::new(), &0)])
        {
            let (a, b) = (format!("{ours}{snap}"), format!("{theirs}{snap}"));
            assert_eq!(export(&a), export(&b), "{a}");
            let (ia, ib) = (rbd_json(&["info", &a]), rbd_json(&["info", &b]));
            for field in ["size", "order", "stripe_unit", "stripe_count", "parent"] {
                assert_eq!(ia[field], ib[field], "{field} of {a}");
            }
        }
        assert_eq!(export(&ours), export(&src));
        for (snap, _) in &h.0 {
            interop_tests::assert_object_map_valid(&format!("{ours}@{snap}"));
        }
        made.extend([ours, theirs]);
    }
    for n in made.iter().chain([&child]) {
        rbd(&["snap", "purge", n, "--no-progress"]);
        rbd(&["rm", n, "--no-progress"]);
    }
    rbd(&["snap", "unprotect", &format!("{parent}@base")]);
    rbd(&["snap", "purge", &parent, "--no-progress"]);
    rbd(&["rm", &parent, "--no-progress"]);
}
