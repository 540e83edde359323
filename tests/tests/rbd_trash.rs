//! The pool's trash against the real cluster of `CEPH_CONF`, both ways with `rbd trash`
//! and python3-rbd: images moved by one side are listed, restored and removed by the
//! other; the deferment end is honoured; data survives a trip through the trash.

use bytes::Bytes;
use interop_tests::{
    ceph_tool, pattern, rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run,
    try_ceph_tool, unique_name,
};
use rbd::OpenMode;
use rbd::cls::trash::TrashSource;

fn trash_ids(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn trash_both_ways() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;

        // moved here (deferred), seen and refused by rbd, restored by rbd
        let a = unique_name("trash-a");
        let mut opts = rbd::CreateOptions::new(8 << 20);
        opts.features = Some(rbd::features::LAYERING);
        pool.create(&a, &opts).await.unwrap();
        let data = Bytes::from(pattern(100_000, 3));
        let img = pool.open(&a, OpenMode::ReadWrite).await.unwrap();
        img.write(4096, data.clone()).await.unwrap();
        img.close().await.unwrap();
        let id = pool.trash_move(&a, 3600).await.unwrap();
        assert!(!pool.list().await.unwrap().iter().any(|i| i.name == a));
        assert!(trash_ids(&rbd_json(&["trash", "ls"])).contains(&(id.clone(), a.clone())));
        let long = rbd_json(&["trash", "ls", "-l"]);
        let mine = long
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap();
        assert_eq!(mine["source"], "USER");
        assert!(
            mine["status"]
                .as_str()
                .unwrap()
                .starts_with("protected until")
        );
        let entry = pool.trash_get(&id).await.unwrap();
        assert_eq!(entry.deferment_end_time, entry.deletion_time + 3600);
        assert_eq!(entry.source, TrashSource::User);
        let o = try_ceph_tool("rbd", &["trash", "rm", &id]);
        assert_eq!(o.status.code(), Some(1), "EPERM before the deferment end");
        let e = pool.trash_remove(&id, false).await.unwrap_err();
        assert!(e.is(rados::Errno::EPERM), "{e}");
        let b = format!("{a}-back");
        rbd(&["trash", "restore", &id, "--image", &b]);
        let img = pool.open(&b, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(img.info().id, id);
        assert_eq!(img.read(4096, data.len() as u64).await.unwrap(), data);
        drop(img);

        // moved by rbd, restored here under its old name, moved again and removed by rbd
        rbd(&["trash", "mv", &b]);
        let found = pool
            .trash_list()
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.id == id)
            .expect("rbd's trash entry");
        assert_eq!(found.name, b);
        let e = pool.trash_restore(&id, &a).await;
        e.unwrap();
        let img = pool.open(&a, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(img.read(4096, data.len() as u64).await.unwrap(), data);
        drop(img);
        // restoring onto an existing name is refused
        pool.trash_move(&a, 0).await.unwrap();
        pool.create(&a, &opts).await.unwrap();
        let e = pool.trash_restore(&id, "").await.unwrap_err();
        assert!(e.is(rados::Errno::EEXIST), "{e}");
        assert_eq!(
            pool.trash_get(&id).await.unwrap().name,
            a,
            "still in the trash"
        );
        rbd(&["trash", "rm", "--no-progress", &id]);
        assert!(
            pool.trash_get(&id)
                .await
                .unwrap_err()
                .is(rados::Errno::ENOENT)
        );

        // moved by rbd, removed here: data objects, header and entry are gone
        let c = unique_name("trash-c");
        rbd(&["create", "--size", "8M", &c]);
        rbd(&["bench", "--io-type", "write", "--io-total", "4M", &c]);
        let c_id = pool.image_id(&c).await.unwrap();
        rbd(&["trash", "mv", &c]);
        pool.trash_remove(&c_id, false).await.unwrap();
        assert!(
            !trash_ids(&rbd_json(&["trash", "ls"]))
                .iter()
                .any(|(i, _)| *i == c_id)
        );
        let objects = ceph_tool("rados", &["-p", "rbd", "ls"]);
        let objects = String::from_utf8_lossy(&objects.stdout);
        assert!(
            !objects.contains(&c_id),
            "objects of {c_id} left: {objects}"
        );

        // purge: only what expired goes
        let d = unique_name("trash-d");
        let e = unique_name("trash-e");
        pool.create(&d, &opts).await.unwrap();
        pool.create(&e, &opts).await.unwrap();
        let d_id = pool.trash_move(&d, 0).await.unwrap();
        let e_id = pool.trash_move(&e, 3600).await.unwrap();
        pool.trash_purge(None).await.unwrap();
        assert!(pool.trash_get(&d_id).await.is_err(), "expired entry purged");
        pool.trash_get(&e_id).await.unwrap();
        let later = (pool.trash_get(&e_id).await.unwrap().deferment_end_time + 10).to_string();
        pool.trash_purge(Some(later.parse().unwrap()))
            .await
            .unwrap();
        assert!(
            pool.trash_get(&e_id).await.is_err(),
            "purged with a later expiry"
        );

        pool.remove(&a).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn trash_with_python() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("trash-py");
        let mut opts = rbd::CreateOptions::new(4 << 20);
        opts.features = Some(rbd::features::LAYERING);
        pool.create(&name, &opts).await.unwrap();
        let id = pool.trash_move(&name, 600).await.unwrap();
        let script = format!(
            "import rados, rbd\n\
             c = rados.Rados(conffile='{}'); c.connect(); io = c.open_ioctx('rbd')\n\
             e = rbd.RBD().trash_get(io, '{id}')\n\
             print(e['name'], e['source'], int((e['deferment_end_time'] - e['deletion_time']).total_seconds()))\n\
             rbd.RBD().trash_restore(io, '{id}', '{name}')\n\
             rbd.RBD().trash_move(io, '{name}', 0)\n",
            interop_tests::tool_conf()
        );
        let o = interop_tests::python3()
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let printed = String::from_utf8_lossy(&o.stdout);
        assert_eq!(printed.trim(), format!("{name} USER 600"));
        let entry = pool.trash_get(&id).await.unwrap();
        assert_eq!(entry.deferment_end_time, entry.deletion_time);
        pool.trash_remove(&id, false).await.unwrap();
        rados.shutdown().await;
    });
}

/// A trashed parent with two trash-namespace snapshots: `s`, still used by a clone (whose
/// name is returned), and `t`, whose clone is gone (removed here: this client leaves the
/// parent's trash snapshot behind, as librbd releases before Octopus did). Returns
/// (parent id, clone of `s`).
async fn trashed_parent(pool: &rbd::Rbd, tag: &str) -> (String, String) {
    let parent = unique_name(&format!("trash-parent-{tag}"));
    let (c1, c2) = (
        unique_name(&format!("trash-c1-{tag}")),
        unique_name(&format!("trash-c2-{tag}")),
    );
    let mut opts = rbd::CreateOptions::new(4 << 20);
    opts.features = Some(rbd::features::LAYERING);
    pool.create(&parent, &opts).await.unwrap();
    let img = pool.open(&parent, OpenMode::ReadWrite).await.unwrap();
    img.write(0, pattern(8192, 4)).await.unwrap();
    img.create_snap("s").await.unwrap();
    img.create_snap("t").await.unwrap();
    img.close().await.unwrap();
    let clone = rbd::CloneOptions {
        format: Some(2),
        ..Default::default()
    };
    pool.clone_image(pool, &parent, "s", &c1, &clone)
        .await
        .unwrap();
    pool.clone_image(pool, &parent, "t", &c2, &clone)
        .await
        .unwrap();
    // removed with clones attached: both go to the trash namespace
    rbd(&["snap", "rm", &format!("{parent}@s")]);
    rbd(&["snap", "rm", &format!("{parent}@t")]);
    let id = pool.image_id(&parent).await.unwrap();
    assert_eq!(trash_snaps(&id), 2);
    // the last clone of `t` goes (here, or with rbd): DetachChildRequest removes `t`
    if tag == "us" {
        pool.remove(&c2).await.unwrap();
    } else {
        rbd(&["rm", &c2]);
    }
    assert_eq!(trash_snaps(&id), 1, "the unused trash snapshot is pruned");
    let moved = pool.trash_move(&parent, 0).await.unwrap();
    assert_eq!(moved, id);
    (id, c1)
}

/// The trash-namespace snapshots of image `id` as `rbd snap ls --all` lists them: their
/// count.
fn trash_snaps(id: &str) -> usize {
    let v = rbd_json(&["snap", "ls", "--all", "--image-id", id]);
    v.as_array()
        .unwrap()
        .iter()
        .filter(|s| s["namespace"]["type"] == "trash")
        .count()
}

/// `trash rm` of a parent whose snapshots are all in the trash namespace (librbd's
/// PreRemoveRequest): it fails with ENOTEMPTY while a clone still uses one, and succeeds
/// once it is gone; the same here as with `rbd`. (A trash snapshot loses its last clone
/// through DetachChildRequest, which removes it: see `trashed_parent`.)
#[test]
fn trash_rm_prunes_unused_trash_snapshots() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;

        // removed here
        let (id, child) = trashed_parent(&pool, "us").await;
        let e = pool.trash_remove(&id, false).await.unwrap_err();
        assert!(e.is(rados::Errno::ENOTEMPTY), "{e}");
        assert_eq!(trash_snaps(&id), 1);
        let out = try_ceph_tool("rbd", &["trash", "rm", &id]);
        assert_eq!(out.status.code(), Some(39), "rbd trash rm: ENOTEMPTY");
        pool.remove(&child).await.unwrap();
        pool.trash_remove(&id, false).await.unwrap();
        assert!(pool.trash_get(&id).await.is_err());

        // removed by rbd: the same steps
        let (id, child) = trashed_parent(&pool, "rbd").await;
        let out = try_ceph_tool("rbd", &["trash", "rm", &id]);
        assert_eq!(out.status.code(), Some(39), "rbd trash rm: ENOTEMPTY");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("image has snapshots"), "{err}");
        assert_eq!(trash_snaps(&id), 1);
        let e = pool.trash_remove(&id, false).await.unwrap_err();
        assert!(e.is(rados::Errno::ENOTEMPTY), "{e}");
        pool.remove(&child).await.unwrap();
        ceph_tool("rbd", &["trash", "rm", &id]);
        assert!(pool.trash_get(&id).await.is_err());
        rados.shutdown().await;
    });
}

/// `rbd rm` of a parent with clones, with `rbd_move_parent_to_trash_on_remove`, moves it to
/// the trash (source `user_parent`); when the last clone goes, DetachChildRequest removes
/// the parent's trash snapshot and then the parent itself. Our removal of the clone does
/// what `rbd rm` of it does.
#[test]
fn last_clone_gone_removes_a_parent_waiting_in_the_trash() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;
        for who in ["us", "rbd"] {
            let parent = unique_name(&format!("trash-waiting-{who}"));
            let child = unique_name(&format!("trash-waiting-child-{who}"));
            let mut opts = rbd::CreateOptions::new(4 << 20);
            opts.features = Some(rbd::features::LAYERING);
            pool.create(&parent, &opts).await.unwrap();
            let img = pool.open(&parent, OpenMode::ReadWrite).await.unwrap();
            img.write(0, pattern(8192, 5)).await.unwrap();
            img.create_snap("s").await.unwrap();
            img.close().await.unwrap();
            let clone = rbd::CloneOptions {
                format: Some(2),
                ..Default::default()
            };
            pool.clone_image(&pool, &parent, "s", &child, &clone)
                .await
                .unwrap();
            let id = pool.image_id(&parent).await.unwrap();
            rbd(&["snap", "rm", &format!("{parent}@s")]);
            rbd(&["--rbd-move-parent-to-trash-on-remove=true", "rm", &parent]);
            let entry = pool.trash_get(&id).await.unwrap();
            assert_eq!(entry.source, TrashSource::UserParent, "{who}");
            if who == "us" {
                pool.remove(&child).await.unwrap();
            } else {
                rbd(&["rm", &child]);
            }
            assert!(
                pool.trash_get(&id).await.is_err(),
                "{who}: the parent left the trash with its last clone"
            );
        }
        rados.shutdown().await;
    });
}
