//! Pools and snapshots through `rados::Rados` / `rados::IoCtx` against the real cluster
//! of `CEPH_CONF`, with Ceph's own tools as the reference: pools made and deleted (the
//! librados way and the `ceph osd pool create` way) agree with `ceph osd pool ls`; pool
//! snapshots agree with `rados lssnap`; self-managed snapshots keep old data; erasure-coded
//! pools are reached through their primary shard.

use std::collections::BTreeMap;

use std::time::Duration;

use bytes::Bytes;
use interop_tests::{
    ceph_json, ceph_tool, connect, pattern, run, scratch_dir, tool_view, unique_name as name,
};
use rados::{Errno, PoolSpec, SnapId};

#[test]
fn selfmanaged_snapshots_keep_old_data() {
    run(async {
        let rados = connect().await;
        let pool = name("rbd-rs-snaps");
        let spec = PoolSpec {
            pg_num: Some(8),
            application: Some("rados".into()),
            ..PoolSpec::default()
        };
        rados.create_pool_with(&pool, &spec).await.unwrap();
        let mut io = rados.ioctx(&pool).await.unwrap();
        let oid = name("snapped");
        io.write_full(&oid, Bytes::from_static(b"old data"))
            .await
            .unwrap();
        let s1 = io.create_selfmanaged_snap().await.unwrap();
        assert!(s1.0 > 0);
        io.set_write_snap_context(s1, vec![s1]).unwrap();
        io.write_full(&oid, Bytes::from_static(b"new data!"))
            .await
            .unwrap();
        assert_eq!(&io.read(&oid, 0, 100).await.unwrap()[..], b"new data!");
        let at_s1 = io.clone().with_read_snap(s1);
        assert_eq!(&at_s1.read(&oid, 0, 100).await.unwrap()[..], b"old data");
        assert_eq!(at_s1.stat(&oid).await.unwrap().size, 8);
        let snaps = io.list_snaps(&oid).await.unwrap();
        assert_eq!(snaps.clones.len(), 2, "{snaps:?}");
        assert_eq!(snaps.clones[0].cloneid, s1);
        assert_eq!(snaps.clones[0].snaps, [s1]);
        assert_eq!(snaps.clones[1].cloneid, SnapId::NOSNAP);
        // a second snapshot
        let s2 = io.create_selfmanaged_snap().await.unwrap();
        assert!(s2 > s1);
        io.set_write_snap_context(s2, vec![s2, s1]).unwrap();
        io.write(&oid, 0, Bytes::from_static(b"N")).await.unwrap();
        assert_eq!(
            &io.clone()
                .with_read_snap(s2)
                .read(&oid, 0, 100)
                .await
                .unwrap()[..],
            b"new data!"
        );
        assert_eq!(&io.read(&oid, 0, 100).await.unwrap()[..], b"New data!");
        assert!(io.set_write_snap_context(s1, vec![s1, s2]).is_err());
        io.remove_selfmanaged_snap(s1).await.unwrap();
        io.remove_selfmanaged_snap(s2).await.unwrap();
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn pool_snapshots_and_pools_agree_with_ceph() {
    run(async {
        let rados = connect().await;
        // a pool made with the librados call (MPoolOp), listed by ceph
        let pool = name("rbd-rs-pool");
        let id = rados.create_pool(&pool).await.unwrap();
        let listed = ceph_json(&["osd", "pool", "ls"]);
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == pool.as_str())
        );
        assert!(rados.pool_list().contains(&(id, pool.clone())));
        let err = rados.create_pool(&pool).await.unwrap_err();
        assert!(err.is(Errno::EEXIST), "{err}");
        let io = rados.ioctx(&pool).await.unwrap();
        assert_eq!(rados.ioctx_by_id(id).await.unwrap().pool_name(), pool);
        io.write_full("o", Bytes::from_static(b"before"))
            .await
            .unwrap();
        io.create_pool_snap("snap-a").await.unwrap();
        let snaps = io.pool_snaps();
        assert_eq!(snaps.len(), 1);
        let out = ceph_tool("rados", &["-p", &pool, "lssnap"]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("{}\tsnap-a\t", snaps[0].id.0)),
            "{text}"
        );
        assert!(text.ends_with("1 snaps\n"), "{text}");
        assert!(
            io.create_pool_snap("snap-a")
                .await
                .unwrap_err()
                .is(Errno::EEXIST)
        );
        io.write_full("o", Bytes::from_static(b"after"))
            .await
            .unwrap();
        let at = io
            .clone()
            .with_read_snap(io.lookup_pool_snap("snap-a").unwrap());
        assert_eq!(&at.read("o", 0, 10).await.unwrap()[..], b"before");
        // a pool snapshot made by rados
        ceph_tool("rados", &["-p", &pool, "mksnap", "snap-b"]);
        rados
            .wait_for_osdmap(rados.get_version("osdmap").await.unwrap().newest as u32)
            .await
            .unwrap();
        assert!(io.lookup_pool_snap("snap-b").is_ok());
        io.remove_pool_snap("snap-a").await.unwrap();
        assert!(io.lookup_pool_snap("snap-a").unwrap_err().is(Errno::ENOENT));
        let out = ceph_tool("rados", &["-p", &pool, "lssnap"]);
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .ends_with("1 snaps\n")
        );
        // stats (the managers report new pools within seconds)
        let mut stats = BTreeMap::new();
        for _ in 0..30 {
            stats = rados.pool_stats(&[&pool]).await.unwrap();
            if stats.get(&pool).is_some_and(|s| s.num_objects == 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(
            stats.get(&pool).map(|s| s.num_objects),
            Some(1),
            "{stats:?}"
        );
        rados.delete_pool(&pool).await.unwrap();
        let listed = ceph_json(&["osd", "pool", "ls"]);
        assert!(
            !listed
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == pool.as_str())
        );
        assert!(matches!(
            rados.ioctx(&pool).await,
            Err(rados::Error::NoSuchPool(_))
        ));
        // ops on a deleted pool fail with ENOENT
        let err = io.read("o", 0, 1).await.unwrap_err();
        assert!(err.is(Errno::ENOENT), "{err}");
        assert!(matches!(
            rados.ioctx_by_id(1 << 40).await,
            Err(rados::Error::NoSuchPool(_))
        ));
        rados.shutdown().await;
    });
}

#[test]
fn erasure_coded_pools_get_the_primary_shard() {
    run(async {
        let rados = connect().await;
        let pool = name("rbd-rs-ec");
        ceph_tool(
            "ceph",
            &[
                "osd",
                "erasure-code-profile",
                "set",
                "rbd-rs-k2m1",
                "k=2",
                "m=1",
                "crush-failure-domain=osd",
            ],
        );
        ceph_tool(
            "ceph",
            &[
                "osd",
                "pool",
                "create",
                &pool,
                "8",
                "8",
                "erasure",
                "rbd-rs-k2m1",
            ],
        );
        let io = rados.ioctx(&pool).await.unwrap();
        let dir = scratch_dir("ec");
        for i in 0..12u64 {
            let oid = format!("ec-{i}");
            let data = pattern(10_000 + i as usize * 777, i);
            io.write_full(&oid, Bytes::from(data.clone()))
                .await
                .unwrap();
            io.set_xattr(&oid, "i", i.to_string().as_bytes())
                .await
                .unwrap();
            let file = dir.join(&oid);
            ceph_tool("rados", &["-p", &pool, "get", &oid, &tool_view(&file)]);
            assert!(std::fs::read(&file).unwrap() == data, "{oid}");
            assert!(io.read(&oid, 0, 1 << 20).await.unwrap()[..] == data[..]);
            assert_eq!(
                &io.get_xattr(&oid, "i").await.unwrap()[..],
                i.to_string().as_bytes()
            );
        }
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}
