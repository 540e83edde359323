//! Deep copies of clones against the real cluster of `CEPH_CONF`, with Ceph's `rbd` as
//! the judge: a clone made by `rbd clone` (format 2 and format 1), written, with a
//! snapshot taken before a shrink and one after, deep-copied here stays a clone of the
//! same parent snapshot (`rbd info` parent and overlap at the head and at each snapshot,
//! `rbd children` lists it, `rbd rm` unlists it), exports the same bytes at the head and
//! at each snapshot, diffs the same and passes `rbd object-map check`; with flatten the
//! copy is standalone with the same bytes. The other way: `rbd deep cp` of a clone made
//! and written here reads the same here.

use interop_tests::{
    assert_object_map_valid, connect, pattern, protected_parent, rbd_du, rbd_export,
    rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run, unique_name,
};
use rbd::{CloneOptions, CopyOptions, OpenMode};

const OBJ: u64 = 1 << 20;
const SIZE: u64 = 8 * OBJ;

/// A parent of 8 objects: data everywhere but object 3; snapshot `base`, protected: a
/// deep copy makes its copy in the cluster's default clone format (as librbd), which is
/// 1 unless the cluster requires Mimic clients, and format 1 needs the protection.
async fn make_parent(pool: &rbd::Rbd, name: &str) {
    let mut data = pattern(SIZE as usize, 41);
    data[3 * OBJ as usize..4 * OBJ as usize].fill(0);
    protected_parent(pool, name, "8M", "1M", data).await;
}

/// The child's history: writes, snapshot `s1`, more writes, a shrink to 5.5 objects,
/// snapshot `s2`, a grow back to 8 objects and writes past the overlap.
async fn write_child(pool: &rbd::Rbd, name: &str) {
    let mut image = pool.open(name, OpenMode::ReadWrite).await.unwrap();
    image.write(OBJ / 2, pattern(65536, 1)).await.unwrap();
    image.write(5 * OBJ + 100, pattern(10000, 2)).await.unwrap();
    image.discard(6 * OBJ, OBJ).await.unwrap();
    image.create_snap("s1").await.unwrap();
    image.write(2 * OBJ, pattern(4096, 3)).await.unwrap();
    image.write(OBJ / 2 + 4096, pattern(4096, 4)).await.unwrap();
    image.resize(5 * OBJ + OBJ / 2, true).await.unwrap();
    image.create_snap("s2").await.unwrap();
    image.resize(SIZE, false).await.unwrap();
    image.write(7 * OBJ, pattern(8192, 5)).await.unwrap();
    image.write(OBJ, pattern(4096, 6)).await.unwrap();
    image.close().await.unwrap();
}

/// `rbd diff` of `spec` (JSON), optionally from a snapshot.
fn diff(spec: &str, from: Option<&str>) -> serde_json::Value {
    match from {
        Some(f) => rbd_json(&["diff", spec, "--from-snap", f]),
        None => rbd_json(&["diff", spec]),
    }
}

fn children(parent: &str) -> Vec<String> {
    rbd_json(&["children", &format!("{parent}@base")])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image"].as_str().unwrap().to_owned())
        .collect()
}

/// The copy is a clone of the same parent snapshot with the same bytes, overlaps, diffs
/// and a valid object map at the head and each snapshot.
fn assert_same_clone(src: &str, copy: &str, parent: &str) {
    for snap in ["", "@s1", "@s2"] {
        let (a, b) = (format!("{src}{snap}"), format!("{copy}{snap}"));
        let (ia, ib) = (rbd_json(&["info", &a]), rbd_json(&["info", &b]));
        assert_eq!(ia["size"], ib["size"], "{b}");
        let (pa, pb) = (&ia["parent"], &ib["parent"]);
        for key in [
            "pool",
            "pool_namespace",
            "image",
            "id",
            "snapshot",
            "overlap",
        ] {
            assert_eq!(pa[key], pb[key], "parent {key} of {b}: {ib}");
        }
        assert_eq!(rbd_export(&a), rbd_export(&b), "bytes of {b}");
        assert_eq!(diff(&a, None), diff(&b, None), "diff of {b}");
        assert_object_map_valid(&b);
    }
    assert_eq!(
        diff(src, Some("s1")),
        diff(copy, Some("s1")),
        "diff from s1"
    );
    // whole objects: through the object maps (fast-diff), their states as the source's
    for from in ["s1", "s2"] {
        let args = |spec| rbd_json(&["diff", spec, "--from-snap", from, "--whole-object"]);
        assert_eq!(args(src), args(copy), "whole-object diff from {from}");
    }
    assert!(children(parent).contains(&copy.to_owned()));
}

fn remove_all(images: &[&str], parent: &str) {
    for n in images {
        rbd(&["snap", "purge", n, "--no-progress"]);
        rbd(&["rm", n, "--no-progress"]);
    }
    rbd(&["snap", "unprotect", &format!("{parent}@base")]);
    rbd(&["snap", "rm", &format!("{parent}@base")]);
    rbd(&["rm", parent, "--no-progress"]);
}

async fn deep_copy_librbd_clone(format: &str) {
    let rados = connect().await;
    let pool = pool(&rados).await;
    let parent = unique_name(&format!("rbd-dcc{format}-parent"));
    let child = unique_name(&format!("rbd-dcc{format}-child"));
    make_parent(&pool, &parent).await;
    rbd(&[
        "clone",
        &format!("{parent}@base"),
        &child,
        "--rbd-default-clone-format",
        format,
    ]);
    write_child(&pool, &child).await;

    let src = pool.open(&child, OpenMode::ReadOnly).await.unwrap();
    let copy = unique_name(&format!("rbd-dcc{format}-copy"));
    src.deep_copy_to(&pool, &copy, &CopyOptions::default(), |_, _| {})
        .await
        .unwrap();
    assert_same_clone(&child, &copy, &parent);
    // rbd rm of the copy unlinks it from the parent snapshot
    rbd(&["snap", "purge", &copy, "--no-progress"]);
    rbd(&["rm", &copy, "--no-progress"]);
    assert!(!children(&parent).contains(&copy));

    // flatten: standalone, the same bytes
    let flat = unique_name(&format!("rbd-dcc{format}-flat"));
    let opts = CopyOptions {
        flatten: true,
        ..CopyOptions::default()
    };
    src.deep_copy_to(&pool, &flat, &opts, |_, _| {})
        .await
        .unwrap();
    src.close().await.unwrap();
    for snap in ["", "@s1", "@s2"] {
        let b = format!("{flat}{snap}");
        assert!(rbd_json(&["info", &b]).get("parent").is_none(), "{b}");
        assert_eq!(rbd_export(&format!("{child}{snap}")), rbd_export(&b), "{b}");
        assert_object_map_valid(&b);
    }
    assert!(!children(&parent).contains(&flat));
    remove_all(&[&flat, &child], &parent);
}

#[test]
fn deep_copies_of_v2_clones_stay_clones() {
    run(deep_copy_librbd_clone("2"));
}

#[test]
fn deep_copies_of_v1_clones_stay_clones() {
    run(deep_copy_librbd_clone("1"));
}

#[test]
fn librbd_deep_copies_clones_made_here() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let parent = unique_name("rbd-dcc-ours-parent");
        let child = unique_name("rbd-dcc-ours-child");
        make_parent(&pool, &parent).await;
        let opts = CloneOptions {
            format: Some(2),
            ..CloneOptions::default()
        };
        pool.clone_image(&pool, &parent, "base", &child, &opts)
            .await
            .unwrap();
        write_child(&pool, &child).await;
        let copy = unique_name("rbd-dcc-ours-copy");
        rbd(&["deep", "cp", &child, &copy, "--no-progress"]);
        for snap in [None, Some("s1"), Some("s2")] {
            let open = |n: String| {
                let pool = &pool;
                async move {
                    match snap {
                        Some(s) => pool.open_at_snap(&n, s).await.unwrap(),
                        None => pool.open(&n, OpenMode::ReadOnly).await.unwrap(),
                    }
                }
            };
            let (a, b) = (open(child.clone()).await, open(copy.clone()).await);
            assert_eq!(a.size(), b.size(), "{snap:?}");
            assert_eq!(a.parent_overlap(), b.parent_overlap(), "{snap:?}");
            assert_eq!(a.parent_spec(), b.parent_spec(), "{snap:?}");
            let (da, db) = (a.read(0, a.size()).await, b.read(0, b.size()).await);
            assert_eq!(da.unwrap(), db.unwrap(), "{snap:?}");
            a.close().await.unwrap();
            b.close().await.unwrap();
        }
        remove_all(&[&copy, &child], &parent);
    });
}

/// `rbd snap ls` of `spec`: (name, size) pairs, oldest first.
fn snaps(spec: &str) -> Vec<(String, u64)> {
    rbd_json(&["snap", "ls", spec])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `rbd object-map check` of `spec`, then its flags (the check flags a map it finds
/// wrong as invalid).
fn checked_flags(spec: &str) -> serde_json::Value {
    rbd(&["object-map", "check", spec, "--no-progress"]);
    rbd_json(&["info", spec])["flags"].clone()
}

/// Our copy and rbd's copy of the same source look alike: snapshots, sizes, parents,
/// bytes, whole-object diffs, `rbd du`, and what `rbd object-map check` says of the
/// snapshots (valid) and, with `same_head_check`, of the head (a copy that ends at a
/// snapshot: librbd gives the head that snapshot's map, whose EXISTS states the check
/// wants EXISTS_CLEAN, for both; else ours must be valid: librbd's copy into another
/// layout keeps emptied objects truncated to 0 bytes where its map says they do not
/// exist, which its own check flags).
fn assert_same_copies(ours: &str, theirs: &str, same_head_check: bool) {
    let names = snaps(theirs);
    assert_eq!(snaps(ours), names, "snapshots");
    assert_eq!(rbd_du(ours), rbd_du(theirs), "rbd du");
    let specs = names
        .iter()
        .map(|(n, _)| format!("@{n}"))
        .chain([String::new()]);
    for snap in specs {
        let (a, b) = (format!("{ours}{snap}"), format!("{theirs}{snap}"));
        let (ia, ib) = (rbd_json(&["info", &a]), rbd_json(&["info", &b]));
        for key in [
            "size",
            "order",
            "stripe_unit",
            "stripe_count",
            "parent",
            "flags",
        ] {
            assert_eq!(ia[key], ib[key], "{key} of {a}");
        }
        assert_eq!(rbd_export(&a), rbd_export(&b), "bytes of {a}");
        let whole = |s: &str| rbd_json(&["diff", s, "--whole-object"]);
        assert_eq!(whole(&a), whole(&b), "whole-object diff of {a}");
        if snap.is_empty() && same_head_check {
            assert_eq!(checked_flags(&a), checked_flags(&b), "checked {a}");
        } else {
            assert_object_map_valid(&a);
        }
    }
}

/// A clone made by `rbd clone` with its history (`write_child`), and a plain image with
/// the same history.
async fn make_sources(pool: &rbd::Rbd, label: &str) -> (String, String, String) {
    let parent = unique_name(&format!("rbd-dcc{label}-parent"));
    let child = unique_name(&format!("rbd-dcc{label}-child"));
    let plain = unique_name(&format!("rbd-dcc{label}-plain"));
    make_parent(pool, &parent).await;
    rbd(&["clone", &format!("{parent}@base"), &child]);
    write_child(pool, &child).await;
    rbd(&["create", &plain, "--size", "8M", "--object-size", "1M"]);
    write_child(pool, &plain).await;
    (parent, child, plain)
}

#[test]
fn deep_copies_at_a_snapshot_end_there_as_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let (parent, child, plain) = make_sources(&pool, "at").await;
        let mut made = Vec::new();
        for (src, snap) in [
            (&child, "s1"),
            (&child, "s2"),
            (&plain, "s1"),
            (&plain, "s2"),
        ] {
            let ours = unique_name("rbd-dcc-at-ours");
            let theirs = unique_name("rbd-dcc-at-theirs");
            let image = pool.open_at_snap(src, snap).await.unwrap();
            image
                .deep_copy_to(&pool, &ours, &CopyOptions::default(), |_, _| {})
                .await
                .unwrap();
            image.close().await.unwrap();
            rbd(&[
                "deep",
                "cp",
                &format!("{src}@{snap}"),
                &theirs,
                "--no-progress",
            ]);
            // the snapshots up to that one, and a head holding its data
            let want: Vec<_> = if snap == "s1" {
                vec!["s1"]
            } else {
                vec!["s1", "s2"]
            };
            let got: Vec<_> = snaps(&ours).into_iter().map(|s| s.0).collect();
            assert_eq!(got, want, "{src}@{snap}");
            assert_eq!(rbd_export(&ours), rbd_export(&format!("{src}@{snap}")));
            assert_same_copies(&ours, &theirs, true);
            made.extend([ours, theirs]);
        }
        for n in &made {
            rbd(&["snap", "purge", n, "--no-progress"]);
            rbd(&["rm", n, "--no-progress"]);
        }
        rbd(&["snap", "purge", &plain, "--no-progress"]);
        rbd(&["rm", &plain, "--no-progress"]);
        remove_all(&[&child], &parent);
    });
}

#[test]
fn deep_copies_of_clones_into_other_layouts_match_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let (parent, child, plain) = make_sources(&pool, "lay").await;
        let mut made = Vec::new();
        // (object order, stripe unit, stripe count): smaller striped objects, larger
        // objects, smaller plain objects
        for (order, su, sc) in [(19u8, 65536u64, 3u64), (22, 4 << 20, 1), (18, 1 << 18, 1)] {
            for snap in [None, Some("s2")] {
                let spec = snap.map_or(child.clone(), |s| format!("{child}@{s}"));
                let ours = unique_name("rbd-dcc-lay-ours");
                let theirs = unique_name("rbd-dcc-lay-theirs");
                let image = match snap {
                    Some(s) => pool.open_at_snap(&child, s).await.unwrap(),
                    None => pool.open(&child, OpenMode::ReadOnly).await.unwrap(),
                };
                let opts = CopyOptions {
                    order: Some(order),
                    striping: Some((su, sc)),
                    ..CopyOptions::default()
                };
                image
                    .deep_copy_to(&pool, &ours, &opts, |_, _| {})
                    .await
                    .unwrap();
                image.close().await.unwrap();
                let (os, sus, scs) = ((1u64 << order).to_string(), su.to_string(), sc.to_string());
                rbd(&[
                    "deep",
                    "cp",
                    &spec,
                    &theirs,
                    "--object-size",
                    &os,
                    "--stripe-unit",
                    &sus,
                    "--stripe-count",
                    &scs,
                    "--no-progress",
                ]);
                assert_eq!(rbd_json(&["info", &ours])["order"], order, "{ours}");
                assert_same_copies(&ours, &theirs, false);
                assert!(children(&parent).contains(&ours));
                made.extend([ours, theirs]);
            }
        }
        for n in &made {
            rbd(&["snap", "purge", n, "--no-progress"]);
            rbd(&["rm", n, "--no-progress"]);
        }
        rbd(&["snap", "purge", &plain, "--no-progress"]);
        rbd(&["rm", &plain, "--no-progress"]);
        remove_all(&[&child], &parent);
    });
}
