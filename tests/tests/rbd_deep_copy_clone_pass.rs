//! Deep copies of clones in one pass over the objects (crates/rbd/src/
//! deep_copy_clone_pass.rs), against the real cluster of `CEPH_CONF` with Ceph's `rbd` as
//! the judge: clones made by `rbd clone` whose history makes the per-object pass risky (an
//! object copied up after a snapshot, the overlap shrunk by a resize between snapshots,
//! a parent with data past the overlap, a whole-object discard inside the overlap) are
//! deep-copied here kept a clone and flattened; each snapshot and the head of the copy
//! must read as the source's (`rbd export`), with the same size and parent overlap, pass
//! `rbd object-map check`, diff the same by whole objects, use the same space as
//! librbd's own deep copy (`rbd du`), and (kept a clone) hold the same RADOS clones per
//! object as the source (`rados listsnaps`: an object the clone did not have at a
//! snapshot is absent there in the copy too, so the parent shows through).

use interop_tests::{
    assert_object_map_valid, connect, pattern, protected_parent, rbd_du, rbd_export,
    rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run, unique_name,
};
use rbd::{CopyOptions, OpenMode};

const OBJ: u64 = 1 << 20;
const SIZE: u64 = 8 * OBJ;

/// A parent of 8 objects, data in all of them; snapshot `base`, protected.
async fn make_parent(pool: &rbd::Rbd, name: &str) {
    protected_parent(pool, name, "8M", "1M", pattern(SIZE as usize, 77)).await;
}

/// A clone of `parent@base` (by `rbd clone`) with this history: snapshot `s0` before it
/// wrote anything; object 2 copied up; `s1`; shrunk to 2.5 objects and grown back (the
/// overlap stays 2.5 objects, the parent has data past it), a write past the overlap;
/// `s2`; object 1 copied up, object 0 discarded whole (inside the overlap: the object
/// stays, empty, hiding the parent).
async fn make_child(pool: &rbd::Rbd, parent: &str, child: &str) {
    rbd(&["clone", &format!("{parent}@base"), child]);
    rbd(&["snap", "create", &format!("{child}@s0")]);
    let mut image = pool.open(child, OpenMode::ReadWrite).await.unwrap();
    image.write(2 * OBJ + 100, pattern(4096, 1)).await.unwrap();
    image.create_snap("s1").await.unwrap();
    image.resize(2 * OBJ + OBJ / 2, true).await.unwrap();
    image.resize(SIZE, false).await.unwrap();
    image.write(6 * OBJ + 10, pattern(8192, 2)).await.unwrap();
    image.create_snap("s2").await.unwrap();
    image.write(OBJ, pattern(4096, 3)).await.unwrap();
    image.discard(0, OBJ).await.unwrap();
    image.close().await.unwrap();
}

/// The data objects' names of image `name` (pool rbd), objects `0..n`.
fn object_names(name: &str, n: u64) -> Vec<String> {
    let prefix = rbd_json(&["info", name])["block_name_prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    (0..n).map(|o| format!("{prefix}.{o:016x}")).collect()
}

/// `rados listsnaps` of an object: per clone (then the head) its size, the snapshot
/// ids left out (they differ between images); empty when the object does not exist.
fn clone_sizes(oid: &str) -> Vec<String> {
    let out = interop_tests::try_ceph_tool("rados", &["-p", "rbd", "listsnaps", oid]);
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let kind = if cols.first() == Some(&"head") {
                "head"
            } else {
                "clone"
            };
            format!("{kind} {}", cols.get(2).copied().unwrap_or(""))
        })
        .collect()
}

/// `spec` (image or image@snap) and its copy read the same and look alike.
fn assert_same_image(src: &str, copy: &str, kept_clone: bool) {
    let (ia, ib) = (rbd_json(&["info", src]), rbd_json(&["info", copy]));
    assert_eq!(ia["size"], ib["size"], "size of {copy}");
    if kept_clone {
        for key in ["pool", "image", "snapshot", "overlap"] {
            assert_eq!(
                ia["parent"][key], ib["parent"][key],
                "parent {key} of {copy}"
            );
        }
        let whole = |s: &str| rbd_json(&["diff", s, "--whole-object"]);
        assert_eq!(whole(src), whole(copy), "whole-object diff of {copy}");
    } else {
        assert!(ib.get("parent").is_none(), "{copy}: {ib}");
    }
    assert_eq!(rbd_export(src), rbd_export(copy), "bytes of {copy}");
    assert_object_map_valid(copy);
}

async fn deep_copy(pool: &rbd::Rbd, src: &str, dest: &str, flatten: bool) {
    let image = pool.open(src, OpenMode::ReadOnly).await.unwrap();
    let opts = CopyOptions {
        flatten,
        ..CopyOptions::default()
    };
    image
        .deep_copy_to(pool, dest, &opts, |_, _| {})
        .await
        .unwrap();
    image.close().await.unwrap();
}

/// Detaches from `parent`'s snapshots the clone v2 children whose image is gone. Reef's
/// librbd leaves one behind when it removes its own deep copy of a clone whose overlap was
/// shrunk (seen 2026-11-22 with `rbd` alone: `rbd deep cp` of such a clone, `rbd snap
/// purge` and `rbd rm` of the copy, then `rbd children --all` of the parent fails with
/// ENOENT); without this the parent could not be removed.
async fn detach_stale_children(pool: &rbd::Rbd, parent: &str) {
    let io = pool.ioctx();
    let header = rbd::names::header_object(rbd_json(&["info", parent])["id"].as_str().unwrap());
    let snaps = rbd_json(&["snap", "ls", "--all", parent]);
    for snap in snaps.as_array().unwrap() {
        let id = snap["id"].as_u64().unwrap();
        let list = rbd::cls::parent::children_list(id).unwrap();
        let Ok(reply) = io
            .exec(&header, rbd::cls::CLASS, list.name, &list.input)
            .await
        else {
            continue;
        };
        for child in rbd::cls::parent::decode_children(&reply).unwrap() {
            let child_io = io.clone().with_namespace(child.pool_namespace.clone());
            let child_header = rbd::names::header_object(&child.image_id);
            if child_io.stat(&child_header).await.is_err() {
                let detach = rbd::cls::parent::child_detach(id, &child).unwrap();
                io.exec(&header, rbd::cls::CLASS, detach.name, &detach.input)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Deep copies of `child` made here and by `rbd deep cp` (with `--flatten` if
/// `flatten`), under fresh names from `label`: (ours, theirs).
async fn both_copies(pool: &rbd::Rbd, child: &str, label: &str, flatten: bool) -> (String, String) {
    let ours = unique_name(&format!("{label}-ours"));
    let theirs = unique_name(&format!("{label}-theirs"));
    deep_copy(pool, child, &ours, flatten).await;
    let mut args = vec!["deep", "cp", child, &theirs, "--no-progress"];
    if flatten {
        args.push("--flatten");
    }
    rbd(&args);
    (ours, theirs)
}

fn remove(images: &[&str]) {
    for n in images {
        rbd(&["snap", "purge", n, "--no-progress"]);
        rbd(&["rm", n, "--no-progress"]);
    }
}

#[test]
fn one_pass_deep_copies_of_clones_read_as_the_source() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let parent = unique_name("rbd-dcp-parent");
        let child = unique_name("rbd-dcp-child");
        make_parent(&pool, &parent).await;
        make_child(&pool, &parent, &child).await;
        let snaps = ["@s0", "@s1", "@s2", ""];
        for flatten in [false, true] {
            let (ours, theirs) = both_copies(&pool, &child, "rbd-dcp", flatten).await;
            for snap in snaps {
                let (src, copy) = (format!("{child}{snap}"), format!("{ours}{snap}"));
                assert_same_image(&src, &copy, !flatten);
                assert_eq!(rbd_export(&copy), rbd_export(&format!("{theirs}{snap}")));
            }
            assert_eq!(rbd_du(&ours), rbd_du(&theirs), "rbd du of {ours}");
            if !flatten {
                let (a, b) = (object_names(&child, 8), object_names(&ours, 8));
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(clone_sizes(x), clone_sizes(y), "clones of {y} ({x})");
                }
                // object 2, copied up after s0, is absent at s0: the copy reads the
                // parent's bytes there
                let at = (2 * OBJ) as usize..(3 * OBJ) as usize;
                let base = rbd_export(&format!("{parent}@base"));
                assert_eq!(rbd_export(&format!("{ours}@s0"))[at.clone()], base[at]);
            }
            remove(&[&ours, &theirs]);
        }
        remove(&[&child]);
        detach_stale_children(&pool, &parent).await;
        rbd(&["snap", "unprotect", &format!("{parent}@base")]);
        remove(&[&parent]);
    });
}

#[test]
fn flattened_copies_leave_out_the_parent_past_the_overlap() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let parent = unique_name("rbd-dcp-ov-parent");
        let child = unique_name("rbd-dcp-ov-child");
        make_parent(&pool, &parent).await;
        // the overlap cut to 3.5 objects before any snapshot; a copyup across its end
        rbd(&["clone", &format!("{parent}@base"), &child]);
        rbd(&[
            "resize",
            &child,
            "--size",
            "3584K",
            "--allow-shrink",
            "--no-progress",
        ]);
        rbd(&["resize", &child, "--size", "8M", "--no-progress"]);
        rbd(&["snap", "create", &format!("{child}@s1")]);
        let image = pool.open(&child, OpenMode::ReadWrite).await.unwrap();
        image.write(3 * OBJ + 4096, pattern(4096, 4)).await.unwrap();
        image.close().await.unwrap();
        for flatten in [true, false] {
            let (ours, theirs) = both_copies(&pool, &child, "rbd-dcp-ov", flatten).await;
            for snap in ["@s1", ""] {
                let copy = format!("{ours}{snap}");
                assert_same_image(&format!("{child}{snap}"), &copy, !flatten);
                // past the overlap: zeros, not the parent's data
                let data = rbd_export(&copy);
                assert!(data[(3 * OBJ + OBJ / 2) as usize..].iter().all(|&b| b == 0));
            }
            assert_eq!(rbd_du(&ours), rbd_du(&theirs), "rbd du of {ours}");
            remove(&[&ours, &theirs]);
        }
        remove(&[&child]);
        detach_stale_children(&pool, &parent).await;
        rbd(&["snap", "unprotect", &format!("{parent}@base")]);
        remove(&[&parent]);
    });
}
