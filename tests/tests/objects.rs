//! The OSD client (`rados::IoCtx`) against the real cluster of `CEPH_CONF`, with Ceph's own
//! `rados` tool as the reference: objects of every size written by one and read by the
//! other, in namespaces, with xattrs and omap; compound operations and their atomicity;
//! typed errors; class calls (the `lock` class against `rados lock`); pauses, timeouts
//! and many ops in flight. Pools and snapshots are in pools.rs.
//!
//! The tests of this file run one at a time (one of them pauses the whole cluster).

use std::collections::{BTreeMap, BTreeSet};

use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{ceph_tool, connect, pattern, run, scratch_dir, tool_view, try_ceph_tool};
use rados::{CmpOp, CmpValue, Errno, IoCtx, PoolSpec, Rados};

/// A pool for these tests (created once, shared by the tests of a run).
const POOL: &str = "rbd-rs-objects";

async fn test_pool(rados: &Rados) -> IoCtx {
    if rados.pool_lookup(POOL).await.is_err() {
        let spec = PoolSpec {
            pg_num: Some(8),
            application: Some("rados".into()),
            ..PoolSpec::default()
        };
        match rados.create_pool_with(POOL, &spec).await {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => {}
            Err(e) => panic!("creating {POOL}: {e}"),
        }
    }
    rados.ioctx(POOL).await.unwrap()
}

fn name(label: &str) -> String {
    interop_tests::unique_name(label)
}

/// `rados -p POOL [-N NS] ARGS`.
fn rados_tool(nspace: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["-p", POOL];
    if !nspace.is_empty() {
        all.extend(["-N", nspace]);
    }
    all.extend(args);
    ceph_tool("rados", &all)
}

#[test]
fn objects_of_every_size_read_back_both_ways() {
    run(async {
        let rados = connect().await;
        let pool = test_pool(&rados).await;
        let dir = scratch_dir("objects");
        for nspace in ["", "ns-one"] {
            let io = pool.clone().with_namespace(nspace);
            for (i, size) in [0usize, 1, 4096, 4 << 20, 64 << 20].into_iter().enumerate() {
                let data = pattern(size, i as u64 + 7);
                // ours -> rados get
                let oid = name(&format!("ours-{size}"));
                let started = Instant::now();
                io.write_full(&oid, Bytes::from(data.clone()))
                    .await
                    .unwrap();
                let wrote = started.elapsed();
                let file = dir.join(format!("{oid}.out"));
                rados_tool(nspace, &["get", &oid, &tool_view(&file)]);
                let theirs = std::fs::read(&file).unwrap();
                assert!(
                    theirs == data,
                    "{size} bytes in {nspace:?}: rados get differs"
                );
                let st = io.stat(&oid).await.unwrap();
                assert_eq!(st.size, size as u64);
                let back = io.read(&oid, 0, size as u64 + 10).await.unwrap();
                assert!(back[..] == data[..], "{size} bytes: our read differs");
                eprintln!("{size} bytes in {nspace:?}: written in {wrote:?}");
                // rados put -> ours
                let oid2 = name(&format!("theirs-{size}"));
                let src = dir.join(format!("{oid2}.in"));
                let data2 = pattern(size, i as u64 + 99);
                std::fs::write(&src, &data2).unwrap();
                rados_tool(nspace, &["put", &oid2, &tool_view(&src)]);
                let back = io.read(&oid2, 0, u64::MAX >> 1).await.unwrap();
                assert!(back[..] == data2[..], "{size} bytes put by rados differ");
                // the object is not visible from another namespace
                let other = pool.clone().with_namespace("elsewhere");
                assert!(other.stat(&oid2).await.unwrap_err().is(Errno::ENOENT));
                io.remove(&oid).await.unwrap();
                io.remove(&oid2).await.unwrap();
            }
        }
        // a 64 MiB object written in pieces, read in one
        let oid = name("pieces");
        let data = pattern(64 << 20, 3);
        for (k, chunk) in data.chunks(4 << 20).enumerate() {
            pool.write(&oid, (k as u64) << 22, Bytes::copy_from_slice(chunk))
                .await
                .unwrap();
        }
        assert!(pool.read(&oid, 0, 64 << 20).await.unwrap()[..] == data[..]);
        pool.remove(&oid).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn xattrs_and_omap_agree_with_rados() {
    run(async {
        let rados = connect().await;
        for nspace in ["", "ns-attrs"] {
            let io = test_pool(&rados).await.with_namespace(nspace);
            let oid = name("attrs");
            io.write_full(&oid, Bytes::from_static(b"body"))
                .await
                .unwrap();
            io.set_xattr(&oid, "user.ours", b"value one").await.unwrap();
            io.set_xattr(&oid, "empty", b"").await.unwrap();
            let out = rados_tool(nspace, &["getxattr", &oid, "user.ours"]);
            assert_eq!(out.stdout, b"value one");
            rados_tool(nspace, &["setxattr", &oid, "theirs", "from rados"]);
            assert_eq!(
                &io.get_xattr(&oid, "theirs").await.unwrap()[..],
                b"from rados"
            );
            let all = io.get_xattrs(&oid).await.unwrap();
            let names: Vec<&str> = all.keys().map(String::as_str).collect();
            let listed = rados_tool(nspace, &["listxattr", &oid]);
            let theirs: Vec<&str> = std::str::from_utf8(&listed.stdout)
                .unwrap()
                .lines()
                .collect();
            assert_eq!(names, theirs);
            assert_eq!(names, ["empty", "theirs", "user.ours"]);
            io.rm_xattr(&oid, "theirs").await.unwrap();
            let err = io.get_xattr(&oid, "theirs").await.unwrap_err();
            assert!(err.is(Errno::ENODATA), "{err}");
            // omap
            let mut entries = BTreeMap::new();
            for i in 0..1500 {
                entries.insert(format!("key{i:05}"), Bytes::from(format!("value {i}")));
            }
            io.omap_set(&oid, &entries).await.unwrap();
            io.omap_set_header(&oid, Bytes::from_static(b"hdr"))
                .await
                .unwrap();
            let keys = rados_tool(nspace, &["listomapkeys", &oid]);
            let keys: Vec<String> = String::from_utf8(keys.stdout)
                .unwrap()
                .lines()
                .map(String::from)
                .collect();
            assert_eq!(keys, entries.keys().cloned().collect::<Vec<_>>());
            let val = rados_tool(nspace, &["getomapval", &oid, "key00007"]);
            let text = String::from_utf8(val.stdout).unwrap();
            assert!(text.starts_with("value (7 bytes) :\n"), "{text}");
            assert!(text.contains("|value 7|"), "{text}");
            rados_tool(nspace, &["setomapval", &oid, "zzz", "set by rados"]);
            // paging through everything with our calls
            let mut seen = Vec::new();
            let mut after = String::new();
            loop {
                let page = io.omap_get_vals(&oid, &after, "", 512).await.unwrap();
                after = page.vals.keys().next_back().cloned().unwrap_or_default();
                seen.extend(page.vals);
                if !page.more {
                    break;
                }
            }
            assert_eq!(seen.len(), 1501);
            assert_eq!(
                seen.last().unwrap(),
                &("zzz".to_string(), Bytes::from_static(b"set by rados"))
            );
            let k = io.omap_get_keys(&oid, "key01495", 100).await.unwrap();
            assert_eq!(
                k.keys,
                ["key01496", "key01497", "key01498", "key01499", "zzz"]
            );
            assert!(!k.more);
            let want: BTreeSet<String> = ["key00001".to_string(), "nope".to_string()].into();
            let got = io.omap_get_vals_by_keys(&oid, &want).await.unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(&got["key00001"][..], b"value 1");
            let p = io.omap_get_vals(&oid, "", "key001", 1000).await.unwrap();
            assert_eq!(p.vals.len(), 100);
            assert_eq!(&io.omap_get_header(&oid).await.unwrap()[..], b"hdr");
            io.omap_rm_keys(&oid, &["zzz".to_string()].into())
                .await
                .unwrap();
            rados_tool(nspace, &["rmomapkey", &oid, "key00000"]);
            let k = io.omap_get_keys(&oid, "", 2).await.unwrap();
            assert_eq!(k.keys, ["key00001", "key00002"]);
            assert!(k.more);
            io.omap_clear(&oid).await.unwrap();
            let k = io.omap_get_keys(&oid, "", 10).await.unwrap();
            assert!(k.keys.is_empty());
            io.remove(&oid).await.unwrap();
        }
        rados.shutdown().await;
    });
}

#[test]
fn compound_operations_are_atomic() {
    run(async {
        let rados = connect().await;
        let io = test_pool(&rados).await;
        let oid = name("compound");
        // create + xattr + write + omap in one go
        let r = io
            .op(&oid)
            .create(true)
            .set_xattr("kind", b"compound")
            .write(0, Bytes::from_static(b"hello world"))
            .omap_set(&[("k".to_string(), Bytes::from_static(b"v"))].into())
            .submit()
            .await
            .unwrap();
        assert_eq!(r.results.len(), 4);
        assert!(r.version > 0);
        // a failing assert aborts the whole operation
        let missing = name("missing");
        let err = io
            .op(&missing)
            .assert_exists()
            .write(0, Bytes::from_static(b"must not land"))
            .submit()
            .await
            .unwrap_err();
        assert!(err.is(Errno::ENOENT), "{err}");
        assert!(io.stat(&missing).await.unwrap_err().is(Errno::ENOENT));
        // ... also the ops before the failing one
        let err = io
            .op(&oid)
            .write_full(Bytes::from_static(b"must not land"))
            .set_xattr("a", b"b")
            .cmp_xattr(
                "kind",
                CmpOp::Eq,
                CmpValue::String(Bytes::from_static(b"x")),
            )
            .submit()
            .await
            .unwrap_err();
        assert!(err.is(Errno::ECANCELED), "{err}");
        if let rados::Error::Osd { failed_op, .. } = &err {
            assert_eq!(*failed_op, Some(2));
        }
        assert_eq!(&io.read(&oid, 0, 100).await.unwrap()[..], b"hello world");
        assert!(
            io.get_xattr(&oid, "a")
                .await
                .unwrap_err()
                .is(Errno::ENODATA)
        );
        // exclusive create of an existing object
        let err = io.op(&oid).create(true).submit().await.unwrap_err();
        assert!(err.is(Errno::EEXIST), "{err}");
        // cmpxattr guards a write
        let err = io
            .op(&oid)
            .cmp_xattr(
                "kind",
                CmpOp::Eq,
                CmpValue::String(Bytes::from_static(b"other")),
            )
            .write_full(Bytes::from_static(b"replaced"))
            .submit()
            .await
            .unwrap_err();
        assert!(err.is(Errno::ECANCELED), "{err}");
        if let rados::Error::Osd { failed_op, .. } = &err {
            assert_eq!(*failed_op, Some(0));
        }
        assert_eq!(&io.read(&oid, 0, 100).await.unwrap()[..], b"hello world");
        io.op(&oid)
            .cmp_xattr(
                "kind",
                CmpOp::Eq,
                CmpValue::String(Bytes::from_static(b"compound")),
            )
            .write_full(Bytes::from_static(b"replaced"))
            .submit()
            .await
            .unwrap();
        assert_eq!(&io.read(&oid, 0, 100).await.unwrap()[..], b"replaced");
        io.set_xattr(&oid, "count", b"42").await.unwrap();
        // the comparison is "our value OP the stored value"
        io.cmp_xattr(&oid, "count", CmpOp::Gt, CmpValue::U64(43))
            .await
            .unwrap();
        io.cmp_xattr(&oid, "count", CmpOp::Eq, CmpValue::U64(42))
            .await
            .unwrap();
        let err = io
            .cmp_xattr(&oid, "count", CmpOp::Lt, CmpValue::U64(43))
            .await
            .unwrap_err();
        assert!(err.is(Errno::ECANCELED));
        // versions
        let v = io.read_op(&oid).stat().submit().await.unwrap().version;
        io.op(&oid)
            .assert_version(v)
            .append(Bytes::from_static(b"!"))
            .submit()
            .await
            .unwrap();
        let err = io
            .op(&oid)
            .assert_version(v)
            .append(Bytes::from_static(b"?"))
            .submit()
            .await
            .unwrap_err();
        assert!(err.is(Errno::ERANGE), "{err}");
        let err = io
            .op(&oid)
            .assert_version(v + 100)
            .submit()
            .await
            .unwrap_err();
        assert!(err.is(Errno::EOVERFLOW), "{err}");
        // a compound read: data, stat, xattrs, omap in one reply
        let r = io
            .read_op(&oid)
            .read(0, 4)
            .stat()
            .get_xattr("kind")
            .get_xattrs()
            .omap_get_vals_by_keys(&["k".to_string()].into())
            .omap_get_header()
            .submit()
            .await
            .unwrap();
        assert_eq!(&r.results[0].data().unwrap()[..], b"repl");
        assert_eq!(r.results[1].stat().unwrap().size, 9);
        assert_eq!(&r.results[2].data().unwrap()[..], b"compound");
        assert!(matches!(&r.results[3].output, rados::OpOutput::Xattrs(x) if x.len() == 2));
        assert!(
            matches!(&r.results[4].output, rados::OpOutput::OmapVals(v) if &v.vals["k"][..] == b"v")
        );
        // zero, truncate, sparse read, alloc hint
        io.write_full(&oid, Bytes::from(vec![7u8; 8192]))
            .await
            .unwrap();
        io.zero(&oid, 0, 4096).await.unwrap();
        io.truncate(&oid, 6000).await.unwrap();
        io.set_alloc_hint(&oid, 4 << 20, 4096, 0).await.unwrap();
        let s = io.sparse_read(&oid, 0, 10000).await.unwrap();
        let dense = s.to_dense(0);
        assert_eq!(dense.len(), 6000);
        assert!(dense[..4096].iter().all(|b| *b == 0) && dense[4096..].iter().all(|b| *b == 7));
        assert_eq!(io.stat(&oid).await.unwrap().size, 6000);
        // errors are kinds
        assert!(
            io.read(&name("nothing"), 0, 1)
                .await
                .unwrap_err()
                .is(Errno::ENOENT)
        );
        assert!(
            io.remove(&name("nothing"))
                .await
                .unwrap_err()
                .is(Errno::ENOENT)
        );
        let err = io.exec(&oid, "no_such_class", "m", b"").await.unwrap_err();
        // Pacific refuses classes it may not load with EPERM, others say EOPNOTSUPP
        assert!(
            [Errno::EOPNOTSUPP, Errno::EPERM, Errno::ENOENT].contains(&err.kind()),
            "{err}"
        );
        let err = io
            .exec(&oid, "lock", "no_such_method", b"")
            .await
            .unwrap_err();
        assert!(
            [Errno::EOPNOTSUPP, Errno::ENOSYS, Errno::EIO].contains(&err.kind()),
            "{err}"
        );
        io.remove(&oid).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn lock_class_calls_agree_with_rados_lock() {
    use rados::cls::lock::{FLAG_MAY_RENEW, LockType};
    run(async {
        let rados = connect().await;
        let io = test_pool(&rados).await;
        let oid = name("locked");
        io.create(&oid, false).await.unwrap();
        io.lock(
            &oid,
            "mylock",
            LockType::Exclusive,
            "cookie-1",
            "",
            "held by rbd-rs",
            None,
            0,
        )
        .await
        .unwrap();
        // again: we hold it already
        let err = io
            .lock(
                &oid,
                "mylock",
                LockType::Exclusive,
                "cookie-1",
                "",
                "",
                None,
                0,
            )
            .await
            .unwrap_err();
        assert!(err.is(Errno::EEXIST), "{err}");
        io.lock(
            &oid,
            "mylock",
            LockType::Exclusive,
            "cookie-1",
            "",
            "held by rbd-rs",
            None,
            FLAG_MAY_RENEW,
        )
        .await
        .unwrap();
        let info = io.lock_info(&oid, "mylock").await.unwrap();
        assert_eq!(info.lock_type, LockType::Exclusive);
        assert_eq!(info.lockers.len(), 1);
        let (id, li) = info.lockers.iter().next().unwrap();
        assert_eq!(id.locker.num as u64, rados.global_id());
        assert_eq!(id.cookie, "cookie-1");
        let theirs = rados_tool("", &["lock", "info", &oid, "mylock"]);
        let j: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
        assert_eq!(j["type"], "exclusive");
        assert_eq!(
            j["lockers"][0]["name"],
            format!("client.{}", rados.global_id())
        );
        assert_eq!(j["lockers"][0]["cookie"], "cookie-1");
        assert_eq!(j["lockers"][0]["description"], li.description.as_str());
        let list = rados_tool("", &["lock", "list", &oid]);
        let j: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
        assert_eq!(j["locks"][0]["name"], "mylock");
        assert_eq!(io.list_locks(&oid).await.unwrap(), ["mylock"]);
        // someone else (rados) cannot take it
        let out = try_ceph_tool(
            "rados",
            &[
                "-p",
                POOL,
                "lock",
                "get",
                &oid,
                "mylock",
                "--lock-cookie",
                "x",
            ],
        );
        assert!(!out.status.success());
        io.unlock(&oid, "mylock", "cookie-1").await.unwrap();
        let info = io.lock_info(&oid, "mylock").await.unwrap();
        assert!(info.lockers.is_empty());
        let err = io.unlock(&oid, "mylock", "cookie-1").await.unwrap_err();
        assert!(err.is(Errno::ENOENT), "{err}");
        // rados takes it, we see and break it
        rados_tool(
            "",
            &[
                "lock",
                "get",
                &oid,
                "theirs",
                "--lock-cookie",
                "rc",
                "--lock-type",
                "shared",
                "--lock-tag",
                "t",
            ],
        );
        let info = io.lock_info(&oid, "theirs").await.unwrap();
        assert_eq!((info.lock_type, info.tag.as_str()), (LockType::Shared, "t"));
        let (id, _) = info.lockers.into_iter().next().unwrap();
        io.break_lock(&oid, "theirs", id.locker, &id.cookie)
            .await
            .unwrap();
        assert!(
            io.lock_info(&oid, "theirs")
                .await
                .unwrap()
                .lockers
                .is_empty()
        );
        io.remove(&oid).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn paused_ops_time_out_or_resume() {
    run(async {
        let rados = connect().await;
        let io = test_pool(&rados).await;
        let oid = name("paused");
        io.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        ceph_tool("ceph", &["osd", "pause"]);
        let newest = rados.get_version("osdmap").await.unwrap().newest as u32;
        rados.wait_for_osdmap(newest).await.unwrap();
        let started = Instant::now();
        let err = io
            .clone()
            .with_timeout(Some(Duration::from_secs(2)))
            .write_full(&oid, Bytes::from_static(b"never"))
            .await
            .unwrap_err();
        assert!(err.is(Errno::ETIMEDOUT), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4));
        // a read without a limit waits for the unpause and then completes
        let io2 = io.clone().with_timeout(None);
        let oid2 = oid.clone();
        let waiting = tokio::spawn(async move { io2.read(&oid2, 0, 10).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished());
        ceph_tool("ceph", &["osd", "unpause"]);
        let got = tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got.unwrap()[..], b"x");
        // the timed-out write was not applied, nothing is left in flight
        assert_eq!(&io.read(&oid, 0, 10).await.unwrap()[..], b"x");
        assert_eq!(rados.osd_stats().1, 0);
        io.remove(&oid).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn many_ops_in_flight_and_dropped_futures() {
    run(async {
        let rados = connect().await;
        let io = test_pool(&rados).await;
        let base = name("many");
        let mut tasks = Vec::new();
        for i in 0..200u64 {
            let io = io.clone();
            let oid = format!("{base}-{}", i % 20);
            tasks.push(tokio::spawn(async move {
                io.write(&oid, i * 8, Bytes::from(i.to_le_bytes().to_vec()))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        for k in 0..20u64 {
            let data = io.read(&format!("{base}-{k}"), 0, 4096).await.unwrap();
            for i in (k..200).step_by(20) {
                let at = (i * 8) as usize;
                assert_eq!(&data[at..at + 8], &i.to_le_bytes());
            }
        }
        // futures dropped mid-flight leave nothing behind
        let dropped = format!("{base}-dropped");
        for _ in 0..50 {
            let f = io.write(&dropped, 0, Bytes::from(vec![1u8; 65536]));
            let _ = tokio::time::timeout(Duration::from_micros(200), f).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rados.osd_stats().1, 0);
        for k in 0..20u64 {
            io.remove(&format!("{base}-{k}")).await.unwrap();
        }
        let _ = io.remove(&format!("{base}-dropped")).await;
        rados.shutdown().await;
    });
}
