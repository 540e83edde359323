//! Deep copies written object by object (one write op per object and stage, as librbd's
//! ObjectCopyRequest) against the real cluster of `CEPH_CONF`, with Ceph's `rbd` as the
//! judge: an image whose snapshots hold different bytes (many small writes per object,
//! more than one op's worth in one object, zeros written over data, discards of whole
//! objects and of ranges), plain and striped (the striped one takes the range-by-range
//! path), deep-copied here exports the same bytes at each snapshot and the head, diffs
//! the same and passes `rbd object-map check`.

use interop_tests::{
    assert_object_map_valid, connect, pattern, rbd_export, rbd_pool as pool, rbd_tool as rbd,
    rbd_tool_json as rbd_json, run, unique_name,
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
