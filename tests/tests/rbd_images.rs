//! RBD images through the `rbd` crate against the real cluster of `CEPH_CONF`, with Ceph's
//! own `rbd` and python3-rbd as the reference: images they write read byte-identically
//! here, images written here read the same there, lifecycle changes show in `rbd ls` /
//! `rbd info`, bad input gives typed errors and leaves images unchanged.

use bytes::Bytes;
use interop_tests::{
    assert_object_map_valid, ceph_tool, connect, pattern, rbd_pool as pool, rbd_tool as rbd,
    rbd_tool_json as rbd_json, run, scratch_dir, tool_view, try_ceph_tool, unique_name,
};
use rados::Errno;
use rbd::{CreateOptions, Error, OpenMode};

/// An image content with holes: pattern, a zero run of two objects' worth, pattern.
fn content(len: usize, hole: usize, seed: u64) -> Vec<u8> {
    let mut data = pattern(len, seed);
    let start = len / 3;
    let end = (start + hole).min(len);
    data[start..end].fill(0);
    data
}

#[test]
fn images_written_by_rbd_read_identically() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("rbd-images");
        // (order, stripe unit, stripe count, size)
        let layouts: &[(u8, u64, u64, usize)] = &[
            (12, 0, 0, 100_000),
            (22, 0, 0, 9 << 20),
            (25, 0, 0, (40 << 20) + 12345),
            (16, 4096, 3, 1_000_000),
            (12, 512, 7, 300_001),
            (20, 65536, 16, 5 << 20),
        ];
        for (i, &(order, su, sc, size)) in layouts.iter().enumerate() {
            let name = unique_name("rbd-ref");
            let file = dir.join(format!("in-{i}"));
            let data = content(size, 2 << order, i as u64 + 1);
            std::fs::write(&file, &data).unwrap();
            let order_s = order.to_string();
            let (su_s, sc_s) = (su.to_string(), sc.to_string());
            let mut args = vec!["import", "--image-feature", "layering", "--order", &order_s];
            if su != 0 {
                args.extend(["--stripe-unit", &su_s, "--stripe-count", &sc_s]);
            }
            let file_s = tool_view(&file);
            args.extend([file_s.as_str(), name.as_str()]);
            ceph_tool("rbd", &args);
            let image = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
            assert_eq!(image.size(), size as u64);
            let info = image.info();
            assert_eq!(info.order, order);
            if su != 0 {
                assert_eq!((info.stripe_unit, info.stripe_count), (su, sc));
            }
            let all = image.read(0, size as u64).await.unwrap();
            assert!(all[..] == data[..], "layout {i}: whole image differs");
            // odd ranges, and one running past the end (cut short, as librbd does)
            for (off, len) in [
                (1usize, 10000usize),
                (size / 2 - 7, 70001),
                (size - 100, 5000),
            ] {
                let got = image.read(off as u64, len as u64).await.unwrap();
                let end = (off + len).min(size);
                assert!(got[..] == data[off..end], "layout {i}: range {off}+{len}");
            }
            let err = image.read(size as u64, 1).await.unwrap_err();
            assert!(matches!(err, Error::PastEnd { .. }), "{err}");
            assert!(err.is(Errno::EINVAL));
            pool.remove(&name).await.unwrap();
        }
        rados.shutdown().await;
    });
}

#[test]
fn images_written_here_read_identically_by_rbd_and_python() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("rbd-images");
        for (i, (order, su, sc)) in [(22u8, 0u64, 0u64), (16, 8192, 5), (13, 512, 3)]
            .into_iter()
            .enumerate()
        {
            let name = unique_name("rbd-rs");
            let size = 3 * (1u64 << order) * sc.max(1) + 4321;
            let mut opts = CreateOptions::new(size);
            // layering only: default-feature images are covered by rbd_lock.rs
            opts.features = Some(rbd::features::LAYERING);
            opts.order = Some(order);
            opts.stripe_unit = su;
            opts.stripe_count = sc;
            let id = pool.create(&name, &opts).await.unwrap();
            let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
            let mut want = vec![0u8; size as usize];
            // concurrent writes at scattered offsets
            let writes: Vec<(u64, Vec<u8>)> = (0..6u64)
                .map(|k| {
                    let off = (size / 7) * k + 333 * k;
                    let len = ((size / 9) as usize).min((size - off) as usize);
                    (off, pattern(len, 100 + k + i as u64))
                })
                .collect();
            let futs: Vec<_> = writes
                .iter()
                .map(|(off, d)| image.write(*off, Bytes::from(d.clone())))
                .collect();
            for (f, (off, d)) in futs.into_iter().zip(&writes) {
                assert_eq!(f.await.unwrap(), d.len() as u64);
                want[*off as usize..*off as usize + d.len()].copy_from_slice(d);
            }
            // discard a range crossing objects, zero a small one
            let (doff, dlen) = (size / 4, size / 5);
            image.discard(doff, dlen).await.unwrap();
            want[doff as usize..(doff + dlen) as usize].fill(0);
            image.write_zeroes(10, 100).await.unwrap();
            want[10..110].fill(0);
            image.flush().await.unwrap();
            assert!(image.read(0, size).await.unwrap()[..] == want[..]);

            let j = rbd_json(&["info", &name]);
            assert_eq!(j["id"], id.as_str());
            assert_eq!(j["size"], size);
            assert_eq!(j["order"], order);
            assert_eq!(j["objects"], image.info().num_objs);
            assert_eq!(j["block_name_prefix"], format!("rbd_data.{id}"));
            if su != 0 {
                assert_eq!(j["stripe_unit"], su);
                assert_eq!(j["stripe_count"], sc);
                assert_eq!(j["features"], serde_json::json!(["layering", "striping"]));
            } else {
                assert_eq!(j["features"], serde_json::json!(["layering"]));
            }
            let out = dir.join(format!("export-{i}"));
            let _ = std::fs::remove_file(&out);
            ceph_tool("rbd", &["export", &name, &tool_view(&out)]);
            assert!(std::fs::read(&out).unwrap() == want, "rbd export differs");
            let py = format!(
                "import rados, rbd, sys\n\
                 c = rados.Rados(conffile='{}'); c.connect()\n\
                 io = c.open_ioctx('rbd')\n\
                 with rbd.Image(io, '{name}', read_only=True) as im:\n    \
                 sys.stdout.buffer.write(im.read({}, {}))\n",
                interop_tests::tool_conf(),
                size / 3,
                size / 3
            );
            let o = interop_tests::python3().args(["-c", &py]).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(o.stdout[..] == want[(size / 3) as usize..(2 * (size / 3)) as usize]);
            // a read-write open watches the header (as librbd's): closed before the removal
            image.close().await.unwrap();
            pool.remove(&name).await.unwrap();
        }
        rados.shutdown().await;
    });
}

#[test]
fn data_pool_images() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let data_pool = "rbd-rs-data";
        if rados.pool_lookup(data_pool).await.is_err() {
            rados.create_pool(data_pool).await.unwrap();
            rados
                .application_enable(data_pool, "rbd", false)
                .await
                .unwrap();
        }
        let data_id = rados.pool_lookup(data_pool).await.unwrap();
        // by rbd, read here
        let dir = scratch_dir("rbd-images");
        let name = unique_name("rbd-dp");
        let data = content(3_000_000, 1 << 20, 9);
        let file = dir.join("dp-in");
        std::fs::write(&file, &data).unwrap();
        ceph_tool(
            "rbd",
            &[
                "import",
                "--image-feature",
                "layering",
                "--data-pool",
                data_pool,
                "--object-size",
                "1M",
                &tool_view(&file),
                &name,
            ],
        );
        let image = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(image.info().data_pool_id, data_id);
        assert!(
            image
                .info()
                .block_name_prefix
                .starts_with(&format!("rbd_data.{}.", pool.ioctx().pool_id()))
        );
        assert!(image.read(0, data.len() as u64).await.unwrap()[..] == data[..]);
        pool.remove(&name).await.unwrap();
        // here, read by rbd
        let name = unique_name("rbd-dp");
        let mut opts = CreateOptions::new(data.len() as u64);
        opts.features = Some(rbd::features::LAYERING);
        opts.data_pool = Some(data_pool.into());
        pool.create(&name, &opts).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        image.write(0, data.clone()).await.unwrap();
        let j = rbd_json(&["info", &name]);
        assert_eq!(j["data_pool"], data_pool);
        assert_eq!(j["features"], serde_json::json!(["layering", "data-pool"]));
        let out = dir.join("dp-out");
        let _ = std::fs::remove_file(&out);
        ceph_tool("rbd", &["export", &name, &tool_view(&out)]);
        assert!(std::fs::read(&out).unwrap() == data);
        let prefix = image.info().block_name_prefix;
        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        let left = String::from_utf8(ceph_tool("rados", &["-p", data_pool, "ls"]).stdout).unwrap();
        assert!(!left.contains(&prefix), "data objects left: {left}");
        rados.shutdown().await;
    });
}

#[test]
fn lifecycle_seen_by_rbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-life");
        let renamed = format!("{name}-new");
        let size = 10u64 << 20;
        let mut opts = CreateOptions::new(size);
        opts.features = Some(rbd::features::LAYERING);
        let id = pool.create(&name, &opts).await.unwrap();
        let listed = pool.list().await.unwrap();
        assert!(listed.iter().any(|s| s.name == name && s.id == id));
        assert!(rbd(&["ls"]).lines().any(|l| l == name));
        // a taken name
        let err = pool
            .create(&name, &CreateOptions::new(1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ImageExists(_)) && err.is(Errno::EEXIST),
            "{err}"
        );
        // rename
        pool.rename(&name, &renamed).await.unwrap();
        let ls = rbd(&["ls"]);
        assert!(ls.lines().any(|l| l == renamed) && !ls.lines().any(|l| l == name));
        assert_eq!(rbd_json(&["info", &renamed])["id"], id.as_str());
        assert!(matches!(
            pool.open(&name, OpenMode::ReadOnly).await,
            Err(Error::ImageNotFound(_))
        ));
        // resize: shrink refused without allow_shrink, then shrink and grow (trimmed data
        // reads back as zeros)
        let mut image = pool.open(&renamed, OpenMode::ReadWrite).await.unwrap();
        let data = pattern(size as usize, 5);
        image.write(0, data.clone()).await.unwrap();
        let err = image.resize(size / 3, false).await.unwrap_err();
        assert!(matches!(err, Error::ShrinkNotAllowed { .. }), "{err}");
        assert_eq!(rbd_json(&["info", &renamed])["size"], size);
        image.resize(size / 3 + 5, true).await.unwrap();
        assert_eq!(rbd_json(&["info", &renamed])["size"], size / 3 + 5);
        image.resize(size, false).await.unwrap();
        let got = image.read(0, size).await.unwrap();
        let cut = (size / 3 + 5) as usize;
        assert!(got[..cut] == data[..cut]);
        assert!(got[cut..].iter().all(|&b| b == 0));
        // metadata both ways
        image
            .metadata_set("conf_rbd_cache", b"false")
            .await
            .unwrap();
        assert_eq!(
            rbd(&["image-meta", "get", &renamed, "conf_rbd_cache"]).trim(),
            "false"
        );
        rbd(&["image-meta", "set", &renamed, "owner", "tests"]);
        assert_eq!(&image.metadata_get("owner").await.unwrap()[..], b"tests");
        assert_eq!(image.metadata_list().await.unwrap().len(), 2);
        image.metadata_remove("owner").await.unwrap();
        assert!(matches!(
            image.metadata_get("owner").await,
            Err(Error::MetadataNotFound(_))
        ));
        // watched: remove refused; with a snapshot: refused
        image.close().await.unwrap();
        let header = format!("rbd_header.{id}");
        let watch = pool.ioctx().watch(&header).await.unwrap();
        let err = pool.remove(&renamed).await.unwrap_err();
        assert!(
            matches!(err, Error::HasWatchers(1)) && err.is(Errno::EBUSY),
            "{err}"
        );
        watch.unwatch().await.unwrap();
        rbd(&["snap", "create", &format!("{renamed}@s1")]);
        let err = pool.remove(&renamed).await.unwrap_err();
        assert!(
            matches!(err, Error::HasSnapshots(1)) && err.is(Errno::ENOTEMPTY),
            "{err}"
        );
        rbd(&["snap", "rm", &format!("{renamed}@s1")]);
        pool.remove(&renamed).await.unwrap();
        assert!(!rbd(&["ls"]).lines().any(|l| l == renamed));
        let objs = String::from_utf8(ceph_tool("rados", &["-p", "rbd", "ls"]).stdout).unwrap();
        assert!(
            !objs.contains(&id),
            "objects of the removed image left: {objs}"
        );
        assert!(matches!(
            pool.remove(&renamed).await,
            Err(Error::ImageNotFound(_))
        ));
        rados.shutdown().await;
    });
}

#[test]
fn bad_input_is_refused_cleanly() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        assert!(rados.ioctx("no-such-pool-rbd-rs").await.is_err());
        let name = unique_name("rbd-bad");
        let mut o = CreateOptions::new(u64::MAX);
        assert!(matches!(
            pool.create(&name, &o).await,
            Err(Error::SizeTooLarge { .. })
        ));
        o.size = 1 << 20;
        o.order = Some(26);
        assert!(matches!(
            pool.create(&name, &o).await,
            Err(Error::BadOrder(26))
        ));
        o.order = None;
        o.features = Some(rbd::features::DEFAULT | rbd::features::JOURNALING);
        let err = pool.create(&name, &o).await.unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        o.features = None;
        o.stripe_unit = 3000;
        o.stripe_count = 2;
        assert!(matches!(
            pool.create(&name, &o).await,
            Err(Error::InvalidArgument(_))
        ));
        o.data_pool = Some("no-such-pool-rbd-rs".into());
        o.stripe_unit = 0;
        o.stripe_count = 0;
        assert!(pool.create(&name, &o).await.is_err());
        assert!(!rbd(&["ls"]).lines().any(|l| l == name), "nothing created");
        assert!(matches!(
            pool.open(&name, OpenMode::ReadOnly).await,
            Err(Error::ImageNotFound(_))
        ));

        // an image with librbd's default features and journaling: readable, never written
        ceph_tool(
            "rbd",
            &[
                "create",
                "--size",
                "8M",
                "--image-feature",
                "layering,exclusive-lock,journaling",
                &name,
            ],
        );
        let ro = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
        assert!(ro.read(0, 4096).await.unwrap().iter().all(|&b| b == 0));
        assert!(matches!(
            ro.write(0, vec![1u8; 10]).await,
            Err(Error::ReadOnly)
        ));
        let rw = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let err = rw.write(0, vec![1u8; 10]).await.unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(rw.read(0, 10).await.unwrap().iter().all(|&b| b == 0));
        // a read-write open watches the header (as librbd's): closed before rbd rm
        rw.close().await.unwrap();
        let out = try_ceph_tool("rbd", &["rm", &name]);
        assert!(out.status.success());
        rados.shutdown().await;
    });
}

#[test]
fn listing_one_at_a_time_and_removal_with_progress() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-rmprog");
        // default features: object map on, so only the written objects are removed
        let size = 64u64 << 20;
        let id = pool.create(&name, &CreateOptions::new(size)).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        image.write(0, pattern(4096, 1)).await.unwrap();
        image.write(5 << 22, pattern(4096, 2)).await.unwrap();
        image.close().await.unwrap();
        assert_object_map_valid(&name);

        // the iterator gives what the list and `rbd ls` give, in the same order
        let mut iter = pool.images();
        let mut one_by_one = Vec::new();
        while let Some(spec) = iter.next().await.unwrap() {
            one_by_one.push(spec);
        }
        assert_eq!(one_by_one, pool.list().await.unwrap());
        assert!(one_by_one.iter().any(|s| s.name == name && s.id == id));
        // (other tests of this binary create and remove images meanwhile, so only ours
        // is compared with `rbd ls`)
        assert!(rbd(&["ls"]).lines().any(|l| l == name));

        let mut calls = Vec::new();
        pool.remove_with_progress(&name, |done, total| calls.push((done, total)))
            .await
            .unwrap();
        assert_eq!(calls.len(), 16, "{calls:?}");
        assert_eq!(calls.last(), Some(&(16, 16)));
        assert!(calls.windows(2).all(|w| w[0].0 < w[1].0));
        let objs = String::from_utf8(ceph_tool("rados", &["-p", "rbd", "ls"]).stdout).unwrap();
        assert!(
            !objs.contains(&id),
            "objects of the removed image left: {objs}"
        );
        assert!(!rbd(&["ls"]).lines().any(|l| l == name));
        rados.shutdown().await;
    });
}
