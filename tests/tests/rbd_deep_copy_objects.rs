//! Deep copies written object by object (one write op per object and stage, as librbd's
//! ObjectCopyRequest) against the real cluster of `CEPH_CONF`, with Ceph's `rbd` as the
//! judge: an image whose snapshots hold different bytes (many small writes per object,
//! more than one op's worth in one object, zeros written over data, discards of whole
//! objects and of ranges), plain and striped (the striped one takes the range-by-range
//! path), deep-copied here exports the same bytes at each snapshot and the head, diffs
//! the same and passes `rbd object-map check`. An image that grows between snapshots
//! (copied in one pass over the objects, deep_copy_pass.rs), with fast-diff, an object
//! map only or none, copied whole or up to a snapshot, matches `rbd deep cp`'s copy
//! (bytes, diffs, sizes, `rbd du`).

use interop_tests::{
    assert_object_map_valid, connect, pattern, rbd_du, rbd_export, rbd_pool as pool,
    rbd_snap_sizes, rbd_tool as rbd, rbd_tool_json as rbd_json, run, unique_name,
};
use rbd::{CopyOptions, CreateOptions, OpenMode};

const OBJ: u64 = 1 << 20;
const SIZE: u64 = 6 * OBJ;

/// Writes a history: data everywhere, snapshot `a`; 300 scattered 512-byte writes in
/// object 1 (more ranges than one op takes), 4 KiB writes elsewhere, zeros over data, a
/// whole-object discard, snapshot `b`; more writes and a range discard at the head.
async fn write_history(pool: &rbd::Rbd, name: &str) {
    let image = pool.open(name, OpenMode::ReadWrite).await.unwrap();
    image.write(0, pattern(SIZE as usize, 7)).await.unwrap();
    image.create_snap("a").await.unwrap();
    for i in 0..300u64 {
        let off = OBJ + i * 3000;
        image.write(off, pattern(512, 100 + i)).await.unwrap();
    }
    for i in 0..20u64 {
        image
            .write(3 * OBJ + i * 40_000, pattern(4096, 500 + i))
            .await
            .unwrap();
    }
    image.write(2 * OBJ + 8192, vec![0u8; 16384]).await.unwrap();
    image.discard(4 * OBJ, OBJ).await.unwrap();
    image.create_snap("b").await.unwrap();
    image
        .write(5 * OBJ + 123, pattern(70_000, 9))
        .await
        .unwrap();
    image
        .write(4 * OBJ + 4096, pattern(4096, 10))
        .await
        .unwrap();
    image.discard(OBJ / 2, 200_000).await.unwrap();
    image.close().await.unwrap();
}

fn diff(spec: &str, from: Option<&str>) -> serde_json::Value {
    match from {
        Some(f) => rbd_json(&["diff", spec, "--from-snap", f]),
        None => rbd_json(&["diff", spec]),
    }
}

fn remove(name: &str) {
    rbd(&["snap", "purge", name, "--no-progress"]);
    rbd(&["rm", name, "--no-progress"]);
}

async fn copy_and_compare(stripes: Option<(u64, u64)>) {
    let rados = connect().await;
    let pool = pool(&rados).await;
    let name = unique_name("rbd-dcobj-src");
    let mut opts = CreateOptions::new(SIZE);
    opts.order = Some(20);
    if let Some((unit, count)) = stripes {
        opts.stripe_unit = unit;
        opts.stripe_count = count;
    }
    pool.create(&name, &opts).await.unwrap();
    write_history(&pool, &name).await;
    let copy = unique_name("rbd-dcobj-copy");
    let image = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
    image
        .deep_copy_to(&pool, &copy, &CopyOptions::default(), |_, _| {})
        .await
        .unwrap();
    image.close().await.unwrap();
    for snap in ["@a", "@b", ""] {
        let (a, b) = (format!("{name}{snap}"), format!("{copy}{snap}"));
        assert!(rbd_export(&a) == rbd_export(&b), "bytes of {snap}");
        assert_eq!(diff(&a, None), diff(&b, None), "diff of {snap}");
        assert_object_map_valid(&b);
    }
    assert_eq!(diff(&name, Some("a")), diff(&copy, Some("a")));
    assert_eq!(diff(&name, Some("b")), diff(&copy, Some("b")));
    remove(&copy);
    remove(&name);
}

#[test]
fn deep_copies_write_each_object_once_per_stage() {
    run(copy_and_compare(None));
}

#[test]
fn deep_copies_of_striped_images_copy_range_by_range() {
    run(copy_and_compare(Some((65536, 4))));
}

/// `rbd snap ls` (name, size) per snapshot and `rbd du` of `spec`.
fn snaps_and_du(spec: &str) -> (interop_tests::SnapSizes, interop_tests::DiskUsage) {
    (rbd_snap_sizes(spec), rbd_du(spec))
}

/// A history the one-pass copy (deep_copy_pass.rs) must keep: the image grows between
/// snapshots, an object is removed and written again, one is written only at the head.
async fn write_growing_history(pool: &rbd::Rbd, name: &str) {
    let mut image = pool.open(name, OpenMode::ReadWrite).await.unwrap();
    image.write(0, pattern(4 * OBJ as usize, 21)).await.unwrap();
    image.create_snap("a").await.unwrap();
    image.resize(SIZE, false).await.unwrap();
    image
        .write(5 * OBJ + 4096, pattern(8192, 22))
        .await
        .unwrap();
    image.discard(OBJ, OBJ).await.unwrap();
    image.write(2 * OBJ + 100, vec![0u8; 5000]).await.unwrap();
    image.create_snap("b").await.unwrap();
    image.write(OBJ + 512, pattern(4096, 23)).await.unwrap();
    image.write(4 * OBJ, pattern(4096, 24)).await.unwrap();
    image.discard(3 * OBJ + OBJ / 2, OBJ / 2).await.unwrap();
    image.close().await.unwrap();
}

/// Our deep copy of a growing image, and rbd's, look alike at every snapshot and the
/// head (bytes, whole-object and from-snapshot diffs, sizes, `rbd du`, valid maps), with
/// fast-diff, with an object map only and without one; and so does a copy ending at `b`.
#[test]
fn one_pass_deep_copies_match_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        for features in [
            None,
            Some("layering,exclusive-lock,object-map"),
            Some("layering"),
        ] {
            let name = unique_name("rbd-dcobj-grow");
            let mut args = vec![
                "create",
                name.as_str(),
                "--size",
                "4M",
                "--object-size",
                "1M",
            ];
            if let Some(f) = features {
                args.extend(["--image-feature", f]);
            }
            rbd(&args);
            write_growing_history(&pool, &name).await;
            for at in [None, Some("b")] {
                let (ours, theirs) = (unique_name("rbd-dcobj-ours"), unique_name("rbd-dcobj-t"));
                let image = match at {
                    Some(s) => pool.open_at_snap(&name, s).await.unwrap(),
                    None => pool.open(&name, OpenMode::ReadOnly).await.unwrap(),
                };
                image
                    .deep_copy_to(&pool, &ours, &CopyOptions::default(), |_, _| {})
                    .await
                    .unwrap();
                image.close().await.unwrap();
                let src = at.map_or(name.clone(), |s| format!("{name}@{s}"));
                rbd(&["deep", "cp", &src, &theirs, "--no-progress"]);
                let what = format!("{features:?} at {at:?}");
                assert_eq!(snaps_and_du(&ours), snaps_and_du(&theirs), "{what}");
                for snap in ["@a", "@b", ""] {
                    let (a, b) = (format!("{ours}{snap}"), format!("{theirs}{snap}"));
                    assert!(rbd_export(&a) == rbd_export(&b), "bytes of {a} ({what})");
                    assert_eq!(diff(&a, None), diff(&b, None), "diff of {a} ({what})");
                    let whole = |s: &str| rbd_json(&["diff", s, "--whole-object"]);
                    assert_eq!(whole(&a), whole(&b), "whole-object diff of {a} ({what})");
                    if features != Some("layering") && !(snap.is_empty() && at.is_some()) {
                        assert_object_map_valid(&a);
                    }
                }
                assert_eq!(diff(&ours, Some("a")), diff(&theirs, Some("a")), "{what}");
                remove(&ours);
                remove(&theirs);
            }
            remove(&name);
        }
    });
}
