//! Image copies and sparsify through the `rbd` crate against the real cluster of
//! `CEPH_CONF`, with Ceph's `rbd` as the reference: a copy made here (of the head or of a
//! snapshot, of an image written here or by librbd) exports the same bytes as its source
//! through `rbd export`, keeps the source's features, object size and image metadata,
//! leaves holes unallocated and passes `rbd object-map check`; `rbd cp` of an image of
//! ours gives the same bytes; sparsify removes objects that hold only zeros and punches
//! zero runs without changing a byte.

use interop_tests::{
    assert_object_map_valid, ceph_tool, connect, pattern, rbd_export, rbd_pool as pool,
    rbd_tool as rbd, rbd_tool_json as rbd_json, run, scratch_dir, tool_view, unique_name,
};
use rbd::{CopyOptions, CreateOptions, OpenMode};

const DEFAULT_FEATURES: u64 = 61;
const OBJ: u64 = 1 << 20;

/// The data objects of image `name` in pool `rbd` (as `rados ls` lists them).
fn data_objects(name: &str) -> usize {
    let prefix = rbd_json(&["info", name])["block_name_prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = ceph_tool("rados", &["-p", "rbd", "ls"]);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(&format!("{prefix}.")))
        .count()
}

/// A 6-object image: object 0 full, object 2 with 8 KiB at 64 KiB, objects 1, 3, 4 never
/// written, object 5 written with zeros only; returns its expected bytes.
async fn fill(image: &rbd::Image) -> Vec<u8> {
    let mut want = vec![0u8; 6 * OBJ as usize];
    let a = pattern(OBJ as usize, 7);
    image.write(0, a.clone()).await.unwrap();
    want[..OBJ as usize].copy_from_slice(&a);
    let b = pattern(8192, 8);
    let at = 2 * OBJ + 65536;
    image.write(at, b.clone()).await.unwrap();
    want[at as usize..at as usize + 8192].copy_from_slice(&b);
    image.write(5 * OBJ, vec![0u8; OBJ as usize]).await.unwrap();
    want
}

#[test]
fn copies_made_here_read_the_same_through_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-copy-src");
        let mut opts = CreateOptions::new(6 * OBJ);
        opts.order = Some(20);
        opts.features = Some(DEFAULT_FEATURES);
        pool.create(&name, &opts).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let want = fill(&image).await;
        image.metadata_set("copy.key", b"copy-value").await.unwrap();
        let snap_want = want.clone();
        image.create_snap("s1").await.unwrap();
        // after the snapshot: the head differs from it
        image.write(OBJ, pattern(4096, 9)).await.unwrap();
        let mut head_want = want.clone();
        head_want[OBJ as usize..OBJ as usize + 4096].copy_from_slice(&pattern(4096, 9));

        let copy = unique_name("rbd-copy-dst");
        let sparse = CopyOptions {
            sparse_size: Some(4096),
            ..CopyOptions::default()
        };
        let mut calls = 0;
        image
            .copy_to(&pool, &copy, &sparse, |_, _| calls += 1)
            .await
            .unwrap();
        assert!(calls > 0);
        image.close().await.unwrap();
        assert_eq!(rbd_export(&copy), head_want);
        let (src_info, dst_info) = (rbd_json(&["info", &name]), rbd_json(&["info", &copy]));
        for field in ["size", "order", "features", "object_size"] {
            assert_eq!(src_info[field], dst_info[field], "{field}");
        }
        assert_eq!(
            rbd(&["image-meta", "get", &copy, "copy.key"]).trim_end(),
            "copy-value"
        );
        assert_object_map_valid(&copy);
        // objects 0, 1 and 2 hold data; the zeros of object 5 and the holes were skipped
        assert_eq!(data_objects(&copy), 3);
        assert_eq!(rbd_json(&["snap", "ls", &copy]), serde_json::json!([]));

        // a copy of the snapshot, striped differently, into another object size
        let at_snap = pool.open_at_snap(&name, "s1").await.unwrap();
        let copy2 = unique_name("rbd-copy-snap");
        let other = CopyOptions {
            order: Some(21),
            striping: Some((65536, 4)),
            ..CopyOptions::default()
        };
        at_snap
            .copy_to(&pool, &copy2, &other, |_, _| {})
            .await
            .unwrap();
        at_snap.close().await.unwrap();
        assert_eq!(rbd_export(&copy2), snap_want);
        let info2 = rbd_json(&["info", &copy2]);
        assert_eq!(info2["order"], 21);
        assert_eq!(info2["stripe_unit"], 65536);
        assert_eq!(info2["stripe_count"], 4);
        assert_object_map_valid(&copy2);

        // librbd copies our image: the same bytes
        let copy3 = unique_name("rbd-copy-librbd");
        rbd(&["cp", &name, &copy3, "--no-progress"]);
        assert_eq!(rbd_export(&copy3), head_want);

        rbd(&["snap", "purge", &name, "--no-progress"]);
        for n in [&name, &copy, &copy2, &copy3] {
            rbd(&["rm", n, "--no-progress"]);
        }
    });
}

#[test]
fn images_written_by_librbd_copy_here() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-copy-theirs");
        rbd(&["create", &name, "--size", "8M", "--object-size", "1M"]);
        let dir = scratch_dir("rbd-copy-theirs");
        let file = dir.join(unique_name("in"));
        let mut data = vec![0u8; 8 << 20];
        data[3 << 20..(3 << 20) + 100_000].copy_from_slice(&pattern(100_000, 3));
        std::fs::write(&file, &data).unwrap();
        rbd(&[
            "import",
            &tool_view(&file),
            &format!("{name}-full"),
            "--object-size",
            "1M",
            "--no-progress",
        ]);
        let _ = std::fs::remove_file(&file);
        let full = format!("{name}-full");
        let image = pool.open(&full, OpenMode::ReadOnly).await.unwrap();
        let copy = unique_name("rbd-copy-of-theirs");
        image
            .copy_to(&pool, &copy, &CopyOptions::default(), |_, _| {})
            .await
            .unwrap();
        image.close().await.unwrap();
        assert_eq!(rbd_export(&copy), data);
        assert_object_map_valid(&copy);
        // the default sparse size is the object size: only the object with data
        assert_eq!(data_objects(&copy), 1);
        for n in [&name, &full, &copy] {
            rbd(&["rm", n, "--no-progress"]);
        }
    });
}

#[test]
fn sparsify_drops_zero_objects_and_keeps_bytes() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-sparsify");
        let mut opts = CreateOptions::new(6 * OBJ);
        opts.order = Some(20);
        opts.features = Some(DEFAULT_FEATURES);
        pool.create(&name, &opts).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let mut want = fill(&image).await;
        // object 3: zeros with a little data at its end
        image.write(3 * OBJ, vec![0u8; OBJ as usize]).await.unwrap();
        image.write(4 * OBJ - 4096, pattern(4096, 4)).await.unwrap();
        want[(4 * OBJ - 4096) as usize..4 * OBJ as usize].copy_from_slice(&pattern(4096, 4));
        assert_eq!(data_objects(&name), 4);
        assert!(image.sparsify(1000, |_, _| {}).await.is_err());
        assert!(image.sparsify(2 * OBJ, |_, _| {}).await.is_err());
        image.sparsify(4096, |_, _| {}).await.unwrap();
        image.close().await.unwrap();
        // object 5 held only zeros: gone; objects 0, 2, 3 stay
        assert_eq!(data_objects(&name), 3);
        assert_eq!(rbd_export(&name), want);
        assert_object_map_valid(&name);
        let du = rbd_json(&["du", &name]);
        let used = du["images"][0]["used_size"].as_u64().unwrap();
        assert_eq!(used, 3 * OBJ, "{du}");
        rbd(&["rm", &name, "--no-progress"]);
    });
}
