//! RBD snapshots through the `rbd` crate against the real cluster of `CEPH_CONF`, with
//! Ceph's `rbd` and python3-rbd as the reference, both directions: snapshots made here
//! show in `rbd snap ls` with the same id, size, timestamp and protection and read (in
//! `rbd export img@snap`) the data of their moment; snapshots made by `rbd` read the same
//! here; writes after a snapshot leave it unchanged; protect / rename / rollback / remove /
//! limit by either are seen by the other; `rbd object-map check` passes for the head and
//! each snapshot; the exclusive lock held by librbd or by us does not get in the way.

use interop_tests::{
    assert_object_map_valid, connect, pattern, rbd_export, rbd_pool as pool, rbd_tool as rbd,
    rbd_tool_json as rbd_json, run, try_ceph_tool, unique_name,
};
use rados::Errno;
use rbd::{CreateOptions, Error, OpenMode};

/// librbd's default features: layering, exclusive-lock, object-map, fast-diff, deep-flatten.
const DEFAULT_FEATURES: u64 = 61;
const OBJ: u64 = 1 << 20;

fn create_opts(size: u64) -> CreateOptions {
    let mut o = CreateOptions::new(size);
    o.order = Some(20);
    o.features = Some(DEFAULT_FEATURES);
    o
}

fn snap_ls(name: &str) -> Vec<serde_json::Value> {
    rbd_json(&["snap", "ls", name])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `ctime()` of a Unix time in the local zone, as `rbd snap ls` prints timestamps.
fn ctime(secs: u32) -> String {
    let o = std::process::Command::new("date")
        .args(["-d", &format!("@{secs}"), "+%a %b %e %H:%M:%S %Y"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

#[test]
fn snapshots_made_here_are_seen_by_rbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-snap-here");
        let size = 6 * OBJ;
        pool.create(&name, &create_opts(size)).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let a = pattern(size as usize, 1);
        image.write(0, a.clone()).await.unwrap();
        image.discard(4 * OBJ, OBJ).await.unwrap();
        let mut want_a = a.clone();
        want_a[4 * OBJ as usize..5 * OBJ as usize].fill(0);
        let id = image.create_snap("s1").await.unwrap();
        // written after the snapshot: the snapshot must not change
        let b = pattern(OBJ as usize + 100, 2);
        image.write(OBJ - 50, b.clone()).await.unwrap();
        image.write(4 * OBJ + 7, b[..10].to_vec()).await.unwrap();
        let mut want_b = want_a.clone();
        want_b[OBJ as usize - 50..2 * OBJ as usize + 50].copy_from_slice(&b);
        want_b[4 * OBJ as usize + 7..4 * OBJ as usize + 17].copy_from_slice(&b[..10]);

        let ls = snap_ls(&name);
        assert_eq!(ls.len(), 1, "{ls:?}");
        let info = image.snap_info("s1").await.unwrap();
        assert_eq!(ls[0]["id"], id);
        assert_eq!(ls[0]["name"], "s1");
        assert_eq!(ls[0]["size"], size);
        assert_eq!(ls[0]["protected"], "false");
        assert_eq!(ls[0]["timestamp"], ctime(info.timestamp.sec));
        assert!(
            rbd_export(&format!("{name}@s1")) == want_a,
            "rbd export @s1"
        );
        assert!(rbd_export(&name) == want_b, "rbd export head");
        let at = pool.open_at_snap(&name, "s1").await.unwrap();
        assert!(
            at.read(0, size).await.unwrap()[..] == want_a[..],
            "read @s1 here"
        );
        let e = at.write(0, &b"x"[..]).await.unwrap_err();
        assert!(e.is(Errno::EROFS), "{e}");
        image.release_lock().await.unwrap();
        assert_object_map_valid(&name);
        assert_object_map_valid(&format!("{name}@s1"));

        // protect here: rbd sees it and refuses removal
        image.protect_snap("s1").await.unwrap();
        assert_eq!(snap_ls(&name)[0]["protected"], "true");
        let o = try_ceph_tool("rbd", &["snap", "rm", &format!("{name}@s1")]);
        assert!(!o.status.success());
        let e = image.remove_snap("s1").await.unwrap_err();
        assert!(e.is(Errno::EBUSY), "{e}");
        image.unprotect_snap("s1").await.unwrap();
        assert_eq!(snap_ls(&name)[0]["protected"], "false");
        image.rename_snap("s1", "s1b").await.unwrap();
        assert_eq!(snap_ls(&name)[0]["name"], "s1b");
        assert!(matches!(
            image.rename_snap("nope", "x").await.unwrap_err(),
            Error::SnapshotNotFound(_)
        ));

        // limit here, seen by rbd: one more snapshot is refused by both
        image.set_snap_limit(2).await.unwrap();
        assert_eq!(image.snap_limit().await.unwrap(), 2);
        image.create_snap("s2").await.unwrap();
        let e = image.create_snap("s3").await.unwrap_err();
        assert!(matches!(e, Error::SnapshotLimit), "{e}");
        let o = try_ceph_tool("rbd", &["snap", "create", &format!("{name}@s3")]);
        assert!(!o.status.success(), "rbd went over the limit");
        image.remove_snap_limit().await.unwrap();
        assert_eq!(image.snap_limit().await.unwrap(), u64::MAX);
        assert!(matches!(
            image.create_snap("s2").await.unwrap_err(),
            Error::SnapshotExists(_)
        ));

        // rollback here to s1b: the head reads the old data again
        let mut image = image;
        let mut calls = 0;
        image
            .rollback_to_snap("s1b", |done, total| {
                calls += 1;
                assert!(done <= total);
            })
            .await
            .unwrap();
        assert!(calls > 0);
        assert!(
            image.read(0, size).await.unwrap()[..] == want_a[..],
            "rolled back"
        );
        image.release_lock().await.unwrap();
        assert!(rbd_export(&name) == want_a, "rbd export after rollback");
        assert_object_map_valid(&name);
        assert_object_map_valid(&format!("{name}@s2"));

        // remove here: gone for rbd, the image can be removed after
        image.remove_snap("s1b").await.unwrap();
        image.remove_snap("s2").await.unwrap();
        assert!(snap_ls(&name).is_empty());
        assert_object_map_valid(&name);
        image.close().await.unwrap();
        at.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn snapshots_made_by_rbd_are_seen_here() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-snap-ref");
        let size = 5 * OBJ;
        pool.create(&name, &create_opts(size)).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let a = pattern(size as usize, 3);
        image.write(0, a.clone()).await.unwrap();
        // rbd snap create while we hold the lock: librbd asks for it, we hand it over
        assert!(image.is_lock_owner());
        rbd(&["snap", "create", &format!("{name}@r1")]);
        // our next write must carry the new snap context (refreshed on HEADER_UPDATE /
        // lock reacquisition), or r1 would change
        let b = pattern(2 * OBJ as usize, 4);
        image.write(OBJ / 2, b.clone()).await.unwrap();
        let mut want_b = a.clone();
        want_b[OBJ as usize / 2..OBJ as usize / 2 + b.len()].copy_from_slice(&b);
        assert!(
            rbd_export(&format!("{name}@r1")) == a,
            "r1 changed by a later write"
        );
        assert!(rbd_export(&name) == want_b);

        let ls = snap_ls(&name);
        let list = image.snap_list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(ls[0]["id"], list[0].id);
        assert_eq!(list[0].name, "r1");
        assert_eq!(list[0].size, size);
        assert_eq!(ls[0]["timestamp"], ctime(list[0].timestamp.sec));
        assert!(image.snap_exists("r1").await.unwrap());
        assert_eq!(image.snap_id("r1").await.unwrap(), list[0].id);
        assert_eq!(image.snap_name(list[0].id).await.unwrap(), "r1");
        let at = pool.open_at_snap_id(&name, list[0].id).await.unwrap();
        assert!(at.read(0, size).await.unwrap()[..] == a[..], "read r1 here");

        rbd(&["snap", "protect", &format!("{name}@r1")]);
        assert!(image.is_protected_snap("r1").await.unwrap());
        rbd(&["snap", "unprotect", &format!("{name}@r1")]);
        assert!(!image.is_protected_snap("r1").await.unwrap());
        rbd(&[
            "snap",
            "rename",
            &format!("{name}@r1"),
            &format!("{name}@r2"),
        ]);
        assert!(!image.snap_exists("r1").await.unwrap());
        rbd(&["snap", "limit", "set", &name, "--limit", "7"]);
        assert_eq!(image.snap_limit().await.unwrap(), 7);
        rbd(&["snap", "limit", "clear", &name]);
        assert_eq!(image.snap_limit().await.unwrap(), u64::MAX);

        // rbd rolls back (it takes the lock from us), we read the old data
        image.release_lock().await.unwrap();
        rbd(&["snap", "rollback", &format!("{name}@r2")]);
        assert!(image.read(0, size).await.unwrap()[..] == a[..]);
        assert_object_map_valid(&name);
        assert_object_map_valid(&format!("{name}@r2"));
        rbd(&["snap", "rm", &format!("{name}@r2")]);
        assert!(image.snap_list().await.unwrap().is_empty());
        image.close().await.unwrap();
        at.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn snapshot_while_librbd_holds_the_lock() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-snap-lock");
        let size = 4 * OBJ;
        pool.create(&name, &create_opts(size)).await.unwrap();
        // python3-rbd writes (taking the lock), then waits; on a line it writes again
        let py = format!(
            "import rados, rbd, sys\n\
             c = rados.Rados(conffile='{}'); c.connect()\n\
             io = c.open_ioctx('rbd')\n\
             im = rbd.Image(io, '{name}')\n\
             im.write(b'\\x11' * {OBJ}, 0)\n\
             print('owner', im.is_exclusive_lock_owner(), flush=True)\n\
             sys.stdin.readline()\n\
             im.write(b'\\x22' * {OBJ}, 0)\n\
             print('snaps', [s['name'] for s in im.list_snaps()], flush=True)\n\
             im.close()\n",
            interop_tests::tool_conf()
        );
        let mut script = interop_tests::PythonSession::start(&py);
        assert_eq!(script.line(), "owner True");
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        image.create_snap("while-locked").await.unwrap();
        script.go_on();
        let line = script.line();
        assert_eq!(line, "snaps ['while-locked']");
        script.finish();
        let at = rbd_export(&format!("{name}@while-locked"));
        assert!(at[..OBJ as usize].iter().all(|&b| b == 0x11));
        assert!(rbd_export(&name)[..OBJ as usize].iter().all(|&b| b == 0x22));
        assert_object_map_valid(&name);
        assert_object_map_valid(&format!("{name}@while-locked"));
        image.remove_snap("while-locked").await.unwrap();
        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

/// Closing right after a snapshot releases the exclusive lock every time (the header watch
/// may still be answering our own HEADER_UPDATE when close runs; a close that skipped the
/// release left a dead owner behind for the next client to blocklist).
#[test]
fn close_after_snapshot_always_releases_the_lock() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-snap-close");
        pool.create(&name, &create_opts(4 * OBJ)).await.unwrap();
        for i in 0..8 {
            let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
            image.create_snap(&format!("s{i}")).await.unwrap();
            image.close().await.unwrap();
            let lockers = rbd_json(&["lock", "ls", &name]);
            assert_eq!(lockers, serde_json::json!([]), "after snapshot {i}");
        }
        rbd(&["snap", "purge", &name, "--no-progress"]);
        rbd(&["rm", &name, "--no-progress"]);
    });
}
