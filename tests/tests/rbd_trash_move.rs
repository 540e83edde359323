//! `Rbd::trash_move` against the real cluster of `CEPH_CONF` as librbd's
//! `Trash<I>::move`: it takes the exclusive lock from a python3-rbd owner that gives it up
//! (and is refused, EBUSY, by one that keeps it, as `rbd trash mv` is), refuses migrating
//! images (EBUSY, as `rbd`) and grouped images (EMLINK, as Tentacle), disables
//! snapshot-based mirroring first (rbd_mirror_removal.rs has more); an image dropped
//! without close stops watching.

use std::time::{Duration, Instant};

use interop_tests::{
    FEATURES_NO_LOCK, FEATURES_WITH_LOCK, PythonSession, connect, image_options, new_image,
    rbd_pool as pool, rbd_tool as rbd, run, tool_conf, try_ceph_tool, unique_name,
};
use rbd::{Error, OpenMode};

/// The reference `rbd ARGS`, expected to fail: its exit code and stderr.
fn rbd_fails(args: &[&str]) -> (Option<i32>, String) {
    let o = try_ceph_tool("rbd", args);
    assert!(!o.status.success(), "rbd {args:?} succeeded");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A python3-rbd client holding `name` open: it writes (taking the lock), or with
/// `keep` takes the lock explicitly (`rbd_lock_acquire`, which refuses to hand it over),
/// then prints whether it owns the lock each time the test says go.
fn python_owner(name: &str, keep: bool, rounds: usize) -> PythonSession {
    let take = if keep {
        "im.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)"
    } else {
        "im.write(b'x' * 4096, 0)"
    };
    let py = format!(
        "import rados, rbd, sys\n\
         c = rados.Rados(conffile='{conf}'); c.connect()\n\
         io = c.open_ioctx('rbd')\n\
         im = rbd.Image(io, '{name}')\n\
         {take}\n\
         print(im.is_exclusive_lock_owner(), flush=True)\n\
         for _ in range({rounds}):\n\
         \x20   sys.stdin.readline()\n\
         \x20   print(im.is_exclusive_lock_owner(), flush=True)\n\
         \x20   im.write(b'y' * 4096, 4096) if not {keep} else None\n\
         \x20   print(im.is_exclusive_lock_owner(), flush=True)\n\
         im.close()\n",
        conf = tool_conf(),
        keep = if keep { "True" } else { "False" },
    );
    PythonSession::start(&py)
}

#[test]
fn trash_move_requests_the_lock_from_its_owner() {
    run(async {
        let (rados, pool, name) =
            new_image("trashmv-owner", 8 << 20, FEATURES_WITH_LOCK, None).await;
        let mut py = python_owner(&name, false, 2);
        assert_eq!(py.line(), "True", "python3-rbd owns the lock");

        // we ask the owner for the lock, it releases it, the move goes ahead
        let id = pool.trash_move(&name, 0).await.unwrap();
        assert!(pool.trash_get(&id).await.is_ok());
        py.go_on();
        assert_eq!(py.line(), "False", "the owner gave the lock up");
        assert_eq!(py.line(), "True", "and took it back to write");

        // rbd does the same with the same owner
        pool.trash_restore(&id, "").await.unwrap();
        rbd(&["trash", "mv", &name]);
        assert!(pool.trash_get(&id).await.is_ok());
        py.go_on();
        assert_eq!(py.line(), "False", "the owner gave the lock up to rbd");
        assert_eq!(py.line(), "True");
        py.finish();
        pool.trash_remove(&id, true).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn trash_move_refused_while_the_owner_keeps_the_lock() {
    run(async {
        let (rados, pool, name) =
            new_image("trashmv-keep", 8 << 20, FEATURES_WITH_LOCK, None).await;
        let mut py = python_owner(&name, true, 1);
        assert_eq!(py.line(), "True", "python3-rbd took the lock");

        let e = pool.trash_move(&name, 0).await.unwrap_err();
        assert!(matches!(e, Error::LockBusy(_)), "{e:?}");
        assert_eq!(e.errno(), -16);
        let (code, err) = rbd_fails(&["trash", "mv", &name]);
        assert_eq!(code, Some(16), "{err}");
        assert!(err.contains("(16) Device or resource busy"), "{err}");
        // neither moved it
        assert!(pool.list().await.unwrap().iter().any(|i| i.name == name));
        assert!(
            pool.trash_list()
                .await
                .unwrap()
                .iter()
                .all(|e| e.name != name)
        );
        py.go_on();
        assert_eq!(py.line(), "True", "the owner still holds the lock");
        assert_eq!(py.line(), "True");
        py.finish();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn trash_move_refuses_migrating_and_grouped_images() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let src = unique_name("trashmv-msrc");
        let dst = unique_name("trashmv-mdst");
        pool.create(&src, &image_options(8 << 20, FEATURES_WITH_LOCK, None))
            .await
            .unwrap();
        rbd(&["migration", "prepare", &src, &dst]);
        // the target of the migration: EBUSY from both
        let e = pool.trash_move(&dst, 0).await.unwrap_err();
        assert!(matches!(e, Error::ImageMigrating(_)), "{e:?}");
        assert_eq!(e.errno(), -16);
        let (code, err) = rbd_fails(&["trash", "mv", &dst]);
        assert_eq!(code, Some(16), "{err}");
        rbd(&["migration", "abort", &dst]);
        // and it moves once the migration is over
        let id = pool.trash_move(&src, 0).await.unwrap();
        pool.trash_remove(&id, false).await.unwrap();

        // grouped: EMLINK, as Tentacle (Pacific and Reef move it)
        let group = unique_name("trashmv-grp");
        let img = unique_name("trashmv-gimg");
        pool.create(&img, &image_options(8 << 20, FEATURES_NO_LOCK, None))
            .await
            .unwrap();
        pool.group_create(&group).await.unwrap();
        pool.group_image_add(&group, &pool, &img).await.unwrap();
        let e = pool.trash_move(&img, 0).await.unwrap_err();
        assert!(matches!(e, Error::ImageInGroup(_)), "{e:?}");
        assert_eq!(e.errno(), -31);
        pool.group_remove(&group).await.unwrap();
        let id = pool.trash_move(&img, 0).await.unwrap();
        pool.trash_remove(&id, false).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn trash_move_of_a_mirrored_image() {
    run(async {
        let (rados, pool, name) =
            new_image("trashmv-mirror", 8 << 20, FEATURES_WITH_LOCK, None).await;
        // image mode mirrors nothing by itself; left on, as rbd_status.rs does
        rbd(&["mirror", "pool", "enable", "rbd", "image"]);
        rbd(&["mirror", "image", "enable", &name, "snapshot"]);
        // as librbd: mirroring disabled (its snapshots removed), then moved
        let id = pool.trash_move(&name, 0).await.unwrap();
        assert!(!pool.list().await.unwrap().iter().any(|i| i.name == name));
        let image = pool.open_by_id(&id, OpenMode::ReadOnly).await.unwrap();
        let info = image.mirror_image_get_info().await.unwrap();
        assert_eq!(info.state, rbd::cls::mirror::MirrorImageState::Disabled);
        assert!(image.snap_list().await.unwrap().is_empty());
        image.close().await.unwrap();
        pool.trash_remove(&id, false).await.unwrap();
        rados.shutdown().await;
    });
}

/// An image open read-write (without the lock: the header watch of its own) and dropped
/// without close stops watching at once, not after the OSD's 30 s watch timeout.
#[test]
fn dropped_image_unwatches_in_the_background() {
    run(async {
        let (rados, pool, name) = new_image("trashmv-drop", 8 << 20, FEATURES_NO_LOCK, None).await;
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let header = rbd::names::header_object(&image.info().id);
        assert_eq!(pool.ioctx().list_watchers(&header).await.unwrap().len(), 1);
        let dropped = Instant::now();
        drop(image);
        // well below osd_client_watch_timeout (30 s), generous for a loaded machine
        while !pool
            .ioctx()
            .list_watchers(&header)
            .await
            .unwrap()
            .is_empty()
        {
            assert!(
                dropped.elapsed() < Duration::from_secs(20),
                "the watch outlived the dropped image"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}
