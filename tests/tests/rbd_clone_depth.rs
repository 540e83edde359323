//! `Rbd::clone_bounded` (the Cinder-style clone-depth policy) against the real cluster of
//! `CEPH_CONF`, checked with Ceph's own `rbd`: a clone that keeps the chain within the
//! maximum depth stays a clone; one that would pass it is flattened, and `rbd info` /
//! `rbd export` agree.

use interop_tests::{
    assert_object_map_valid, connect, rbd_export, rbd_pool as pool, rbd_tool as rbd,
    rbd_tool_json as rbd_json, run, unique_name,
};
use rbd::CloneOptions;

#[test]
fn clone_depth_is_bounded() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let base = unique_name("depth-base");
        let mid = unique_name("depth-mid");
        let top = unique_name("depth-top");
        rbd(&["create", "--size", "16M", &base]);
        rbd(&[
            "bench",
            "--io-type",
            "write",
            "--io-size",
            "1M",
            "--io-total",
            "6M",
            "--io-pattern",
            "rand",
            &base,
        ]);
        rbd(&["snap", "create", &format!("{base}@s")]);
        // v1 clones need a protected parent snapshot; protecting suits both formats
        rbd(&["snap", "protect", &format!("{base}@s")]);
        let opts = CloneOptions::default();
        // the base has no parent: a chain of 2 is within a maximum of 2
        let (_, flattened) = pool
            .clone_bounded(&pool, &base, "s", &mid, &opts, 2)
            .await
            .unwrap();
        assert!(!flattened);
        assert_eq!(rbd_json(&["info", &mid])["parent"]["image"], base.as_str());
        rbd(&[
            "bench",
            "--io-type",
            "write",
            "--io-size",
            "4K",
            "--io-total",
            "64K",
            &mid,
        ]);
        rbd(&["snap", "create", &format!("{mid}@s")]);
        rbd(&["snap", "protect", &format!("{mid}@s")]);
        // a clone of the clone would make 3: it is flattened
        let (_, flattened) = pool
            .clone_bounded(&pool, &mid, "s", &top, &opts, 2)
            .await
            .unwrap();
        assert!(flattened);
        let info = rbd_json(&["info", &top]);
        assert!(info.get("parent").is_none(), "{info}");
        assert!(rbd_export(&top) == rbd_export(&format!("{mid}@s")));
        assert_object_map_valid(&top);
        // a flattened clone no longer holds its parent's snapshot
        assert!(rbd(&["children", &format!("{mid}@s")]).trim().is_empty());
        rbd(&["rm", "--no-progress", &top]);
        rbd(&["snap", "unprotect", &format!("{mid}@s")]);
        rbd(&["snap", "rm", &format!("{mid}@s")]);
        rbd(&["rm", "--no-progress", &mid]);
        rbd(&["snap", "unprotect", &format!("{base}@s")]);
        rbd(&["snap", "rm", &format!("{base}@s")]);
        rbd(&["rm", "--no-progress", &base]);
        rados.shutdown().await;
    });
}
