//! Clones at their own snapshots, shrinking clones, diffs that include the parent, and
//! clones and parents in the trash, against the real cluster of `CEPH_CONF`: each case
//! done by one tool and judged by the other (`rbd export`, `rbd diff`, `rbd children`,
//! python3-rbd `list_children2`).

use interop_tests::{
    assert_object_map_valid, connect, pattern, rbd_export, rbd_pool as pool, rbd_tool as rbd,
    rbd_tool_json as rbd_json, run, scratch_dir, tool_view, try_ceph_tool, unique_name,
};
use rbd::{OpenMode, Rbd};

const OBJ: usize = 1 << 20;
const SIZE: usize = 8 * OBJ;

/// A parent image of `SIZE` (1 MiB objects) with data in objects 0, 3 (partly: it ends
/// mid-object), 5 and 7, a protected snapshot `s`; returns its content at `s`.
fn make_parent(name: &str) -> Vec<u8> {
    let mut data = vec![0u8; SIZE];
    for (off, len, seed) in [
        (0, OBJ, 1),
        (3 * OBJ + 100, 5000, 2),
        (5 * OBJ + 4096, 70_000, 3),
        (7 * OBJ, OBJ, 4),
    ] {
        data[off..off + len].copy_from_slice(&pattern(len, seed));
    }
    let dir = scratch_dir("clone-gaps");
    let f = dir.join(unique_name("parent"));
    std::fs::write(&f, &data).unwrap();
    rbd(&[
        "import",
        "--no-progress",
        "--object-size",
        "1M",
        &tool_view(&f),
        name,
    ]);
    let _ = std::fs::remove_file(&f);
    rbd(&["snap", "create", "--no-progress", &format!("{name}@s")]);
    rbd(&["snap", "protect", &format!("{name}@s")]);
    data
}

fn drop_parent(name: &str) {
    rbd(&["snap", "unprotect", &format!("{name}@s")]);
    rbd(&["snap", "rm", "--no-progress", &format!("{name}@s")]);
    rbd(&["rm", "--no-progress", name]);
}

fn remove_image(name: &str) {
    rbd(&["snap", "purge", "--no-progress", name]);
    rbd(&["rm", "--no-progress", name]);
}

/// `rbd diff SPEC [--whole-object]` as (offset, length, exists) rows.
fn rbd_diff(spec: &str, whole: bool) -> Vec<(u64, u64, bool)> {
    let mut args = vec!["diff", spec];
    if whole {
        args.push("--whole-object");
    }
    rbd_json(&args)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["offset"].as_u64().unwrap(),
                e["length"].as_u64().unwrap(),
                e["exists"] == "true",
            )
        })
        .collect()
}

/// Our diff of `image` from its creation, including the parent (what `rbd diff` asks).
async fn our_diff(image: &rbd::Image, whole: bool) -> Vec<(u64, u64, bool)> {
    image
        .diff(None, 0, image.size(), true, whole)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.offset, e.length, e.exists))
        .collect()
}

/// Writes `(offset, length, seed)` patterns into `child` through librbd (python3-rbd),
/// mirrored on `want`.
fn write_with_rbd(child: &str, writes: &[(usize, usize, u64)], want: &mut [u8]) {
    let dir = scratch_dir("clone-gaps");
    for &(off, len, seed) in writes {
        let data = pattern(len, seed);
        want[off..off + len].copy_from_slice(&data);
        let f = dir.join(unique_name("w"));
        std::fs::write(&f, &data).unwrap();
        let script = format!(
            "import rados, rbd\n\
             c = rados.Rados(conffile='{}'); c.connect()\n\
             io = c.open_ioctx('rbd')\n\
             im = rbd.Image(io, '{child}')\n\
             im.write(open('{}', 'rb').read(), {off})\n\
             im.close(); io.close(); c.shutdown()\n",
            interop_tests::tool_conf(),
            tool_view(&f)
        );
        let o = interop_tests::python3()
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let _ = std::fs::remove_file(&f);
    }
}

#[test]
fn clone_snapshots_read_through_their_own_parent() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let parent = unique_name("gap-parent");
        let data = make_parent(&parent);
        let psnap = format!("{parent}@s");
        // (features of the clone, how its head loses the parent)
        let cases: &[(&str, &str)] = &[
            (
                "layering,exclusive-lock,object-map,fast-diff,deep-flatten",
                "shrink",
            ),
            (
                "layering,exclusive-lock,object-map,fast-diff",
                "flatten-rbd",
            ),
            (
                "layering,exclusive-lock,object-map,fast-diff",
                "flatten-here",
            ),
            (
                "layering,exclusive-lock,object-map,fast-diff,deep-flatten",
                "flatten-here",
            ),
            ("layering", "flatten-rbd"),
        ];
        for &(features, how) in cases {
            let child = unique_name("gap-child");
            rbd(&["clone", "--image-feature", features, &psnap, &child]);
            let csnap = format!("{child}@cs");
            rbd(&["snap", "create", "--no-progress", &csnap]);
            let mut head = data.clone();
            write_with_rbd(
                &child,
                &[(OBJ + 10, 100, 5), (5 * OBJ + 10, 100, 6)],
                &mut head,
            );
            match how {
                "shrink" => {
                    rbd(&[
                        "resize",
                        "--no-progress",
                        "--allow-shrink",
                        "-s",
                        "2M",
                        &child,
                    ]);
                }
                "flatten-rbd" => {
                    rbd(&["flatten", "--no-progress", &child]);
                }
                _ => {
                    let mut image = pool.open(&child, OpenMode::ReadWrite).await.unwrap();
                    image.flatten(|_, _| {}).await.unwrap();
                    image.close().await.unwrap();
                }
            }
            let case = format!("{features} {how}");
            // the snapshot reads the parent it had, with its overlap: here and by rbd
            let image = pool.open_at_snap(&child, "cs").await.unwrap();
            let got = image.read(0, SIZE as u64).await.unwrap();
            assert!(got[..] == data[..], "{case}: {child}@cs read here");
            let theirs = rbd_export(&csnap);
            assert!(theirs == data, "{case}: rbd export {child}@cs");
            assert_eq!(
                our_diff(&image, false).await,
                rbd_diff(&csnap, false),
                "{case}: diff of {csnap}"
            );
            assert_eq!(
                our_diff(&image, true).await,
                rbd_diff(&csnap, true),
                "{case}: whole-object diff of {csnap}"
            );
            let deep = features.contains("deep-flatten");
            let at_snap_parent = image.parent_overlap();
            if how == "shrink" || !deep {
                assert_eq!(
                    at_snap_parent, SIZE as u64,
                    "{case}: overlap at the snapshot"
                );
            }
            image.close().await.unwrap();
            // the head: no parent after a flatten, a cut overlap after the shrink
            let image = pool.open(&child, OpenMode::ReadOnly).await.unwrap();
            let want_overlap = if how == "shrink" { 2 * OBJ as u64 } else { 0 };
            assert_eq!(image.parent_overlap(), want_overlap, "{case}: head overlap");
            let size = image.size() as usize;
            assert!(
                image.read(0, size as u64).await.unwrap()[..] == head[..size],
                "{case}: head"
            );
            image.close().await.unwrap();
            if features.contains("object-map") {
                assert_object_map_valid(&child);
                assert_object_map_valid(&csnap);
            }
            remove_image(&child);
        }
        drop_parent(&parent);
        rados.shutdown().await;
    });
}

/// `rbd du [--exact] IMAGE`: the used bytes of each snapshot and the head.
fn du(image: &str, exact: bool) -> Vec<u64> {
    let mut args = vec!["du", image];
    if exact {
        args.push("--exact");
    }
    rbd_json(&args)["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["used_size"].as_u64().unwrap())
        .collect()
}

#[test]
fn shrinking_a_clone_copies_up_its_boundary_object() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let parent = unique_name("gap-shrink-parent");
        let data = make_parent(&parent);
        let psnap = format!("{parent}@s");
        // the cut lands in object 3, whose parent data (100..5100) it splits
        let cut = 3 * OBJ + 2000;
        let mut want = data.clone();
        want[cut..].fill(0);
        for with_snap in [false, true] {
            // one twin shrunk and grown here, one by rbd
            let ours = unique_name("gap-shrink-ours");
            let theirs = unique_name("gap-shrink-rbd");
            for c in [&ours, &theirs] {
                rbd(&["clone", &psnap, c]);
                if with_snap {
                    rbd(&["snap", "create", "--no-progress", &format!("{c}@cs")]);
                }
            }
            let mut image = pool.open(&ours, OpenMode::ReadWrite).await.unwrap();
            image.resize(cut as u64, true).await.unwrap();
            assert_eq!(image.parent_overlap(), cut as u64);
            image.resize(SIZE as u64, false).await.unwrap();
            let got = image.read(0, SIZE as u64).await.unwrap();
            assert!(
                got[..] == want[..],
                "snap {with_snap}: read here after the shrink"
            );
            image.close().await.unwrap();
            let cut_s = format!("{cut}B");
            rbd(&[
                "resize",
                "--no-progress",
                "--allow-shrink",
                "-s",
                &cut_s,
                &theirs,
            ]);
            rbd(&["resize", "--no-progress", "-s", "8M", &theirs]);
            // both read the same everywhere, through either tool
            assert!(
                rbd_export(&ours) == want,
                "snap {with_snap}: rbd export of ours"
            );
            let image = pool.open(&theirs, OpenMode::ReadOnly).await.unwrap();
            assert!(
                image.read(0, SIZE as u64).await.unwrap()[..] == want[..],
                "snap {with_snap}: rbd's twin read here"
            );
            image.close().await.unwrap();
            assert_object_map_valid(&ours);
            // the boundary object was copied up (and truncated) as librbd does it, and
            // with snapshots the objects past the cut were copied up before removal:
            // both twins use the same space, at the head and at the snapshot
            for exact in [false, true] {
                assert_eq!(
                    du(&ours, exact),
                    du(&theirs, exact),
                    "snap {with_snap}: du (exact {exact})"
                );
            }
            if with_snap {
                let s = format!("{ours}@cs");
                assert!(rbd_export(&s) == data, "snapshot keeps the parent's data");
                assert_object_map_valid(&s);
            } else {
                assert_eq!(rbd_diff(&ours, false), rbd_diff(&theirs, false));
            }
            remove_image(&ours);
            remove_image(&theirs);
        }
        drop_parent(&parent);
        rados.shutdown().await;
    });
}

#[test]
fn diffs_of_clones_include_their_parents() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let parent = unique_name("gap-diff-parent");
        let data = make_parent(&parent);
        let psnap = format!("{parent}@s");
        let fast = unique_name("gap-diff-fast");
        let slow = unique_name("gap-diff-slow");
        rbd(&["clone", &psnap, &fast]);
        rbd(&["clone", "--image-feature", "layering", &psnap, &slow]);
        // a clone of a clone: the grandparent's data shows through both
        let fsnap = format!("{fast}@g");
        let grand = unique_name("gap-diff-grand");
        let mut head = data.clone();
        write_with_rbd(
            &fast,
            &[(OBJ + 10, 20, 7), (3 * OBJ + OBJ - 10, 10, 8)],
            &mut head,
        );
        rbd(&["snap", "create", "--no-progress", &fsnap]);
        rbd(&["snap", "protect", &fsnap]);
        rbd(&["clone", &fsnap, &grand]);
        write_with_rbd(&slow, &[(6 * OBJ, 10, 9)], &mut head);
        for name in [&fast, &slow, &grand] {
            let image = pool.open(name, OpenMode::ReadOnly).await.unwrap();
            for whole in [false, true] {
                assert_eq!(
                    our_diff(&image, whole).await,
                    rbd_diff(name, whole),
                    "{name} whole-object {whole}"
                );
            }
            // from a snapshot of the clone: its own changes only
            if name == &fast {
                let d = image.diff(Some("g"), 0, image.size(), true, false).await;
                assert_eq!(d.unwrap(), vec![]);
            }
            image.close().await.unwrap();
        }
        rbd(&["rm", "--no-progress", &grand]);
        rbd(&["snap", "unprotect", &fsnap]);
        remove_image(&fast);
        remove_image(&slow);
        drop_parent(&parent);
        rados.shutdown().await;
    });
}

/// python3-rbd `list_children2` of the image with id `id` (it may be in the trash).
fn py_children(id: &str) -> Vec<(String, String, bool)> {
    let script = format!(
        "import rados, rbd, json\n\
         c = rados.Rados(conffile='{}'); c.connect()\n\
         io = c.open_ioctx('rbd')\n\
         im = rbd.Image(io, image_id='{id}', read_only=True)\n\
         im.set_snap('s')\n\
         print(json.dumps([[k['image'], k['id'], k['trash']] for k in im.list_children2()]))\n\
         im.close(); io.close(); c.shutdown()\n",
        interop_tests::tool_conf()
    );
    let o = interop_tests::python3()
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn clones_and_parents_in_the_trash() {
    run(async {
        let rados = connect().await;
        let pool: Rbd = pool(&rados).await;
        let parent = unique_name("gap-trash-parent");
        let data = make_parent(&parent);
        let psnap = format!("{parent}@s");
        let a = unique_name("gap-trash-a");
        let b = unique_name("gap-trash-b");
        rbd(&["clone", &psnap, &a]);
        rbd(&["clone", "--rbd-default-clone-format", "2", &psnap, &b]);
        let parent_id = pool.image_id(&parent).await.unwrap();
        // the parent goes to the trash (rbd): its clones still read and flatten here
        rbd(&["trash", "mv", &parent]);
        let image = pool.open(&a, OpenMode::ReadOnly).await.unwrap();
        assert!(image.read(0, SIZE as u64).await.unwrap()[..] == data[..]);
        let pi = image.parent_info().await.unwrap().unwrap();
        assert!(pi.trash);
        assert_eq!(
            (pi.image_name.as_str(), pi.snap_name.as_str()),
            (parent.as_str(), "s")
        );
        image.close().await.unwrap();
        let j = rbd_json(&["info", &a]);
        assert_eq!(j["parent"]["trash"], true);
        // a child goes to the trash here: listed as trash, with its name, as librbd does
        let b_id = pool.trash_move(&b, 0).await.unwrap();
        let praw = pool
            .open_by_id(&parent_id, OpenMode::ReadOnly)
            .await
            .unwrap();
        let kids: Vec<(String, String, bool)> = praw
            .list_children("s")
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.image_name, c.image_id, c.trash))
            .collect();
        let mut theirs = py_children(&parent_id);
        theirs.sort();
        assert_eq!(kids, theirs);
        assert!(kids.contains(&(b.clone(), b_id.clone(), true)));
        praw.close().await.unwrap();
        // removing the trashed parent is refused while it has its snapshot, by both
        let e = pool.trash_remove(&parent_id, true).await.unwrap_err();
        assert!(e.is(rados::Errno::ENOTEMPTY), "{e}");
        let o = try_ceph_tool("rbd", &["trash", "rm", &parent_id]);
        assert_eq!(o.status.code(), Some(39));
        // flatten here with the parent in the trash
        let mut image = pool.open(&a, OpenMode::ReadWrite).await.unwrap();
        image.flatten(|_, _| {}).await.unwrap();
        image.close().await.unwrap();
        assert!(rbd_json(&["info", &a]).get("parent").is_none());
        assert!(rbd_export(&a) == data);
        rbd(&["rm", "--no-progress", &a]);
        pool.trash_restore(&b_id, "").await.unwrap();
        rbd(&["rm", "--no-progress", &b]);
        rbd(&["trash", "restore", &parent_id]);
        drop_parent(&parent);
        rados.shutdown().await;
    });
}
