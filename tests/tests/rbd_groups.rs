//! RBD groups and group snapshots against the real cluster of `CEPH_CONF`, both ways with
//! `rbd group ...`: groups, members and group snapshots made by one side are listed,
//! rolled back and removed by the other; `rbd snap ls --all` shows our member snapshots
//! as it shows its own; grouped images refuse removal.

use interop_tests::{
    pattern, rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run, try_ceph_tool,
    unique_name,
};
use rbd::OpenMode;
use rbd::cls::group::{GroupImageState, GroupSnapState};

fn create_image(name: &str) {
    rbd(&["create", "--size", "8M", name]);
}

/// `rbd group snap ls --format json` as (name, complete): Pacific prints
/// `{"snapshot", "state": "ok"}`, Reef and later `{"id", "snapshot", "state": "complete"}`.
fn group_snaps(v: &serde_json::Value) -> Vec<(String, bool)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let state = s["state"].as_str().unwrap();
            (
                s["snapshot"].as_str().unwrap().to_owned(),
                state == "ok" || state == "complete",
            )
        })
        .collect()
}

#[test]
fn groups_made_here_seen_by_rbd() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;
        let group = unique_name("grp-a");
        let (a, b) = (unique_name("ga"), unique_name("gb"));
        create_image(&a);
        let mut opts = rbd::CreateOptions::new(8 << 20);
        opts.features = Some(rbd::features::LAYERING);
        pool.create(&b, &opts).await.unwrap();

        pool.group_create(&group).await.unwrap();
        let e = pool.group_create(&group).await.unwrap_err();
        assert!(e.is(rados::Errno::EEXIST), "{e}");
        assert!(pool.group_list().await.unwrap().contains(&group));
        let listed = rbd_json(&["group", "ls"]);
        assert!(listed.as_array().unwrap().iter().any(|g| g == &group));
        pool.group_image_add(&group, &pool, &a).await.unwrap();
        pool.group_image_add(&group, &pool, &b).await.unwrap();
        let mut want = [a.clone(), b.clone()];
        want.sort();
        let ls = rbd(&["group", "image", "ls", &group]);
        assert_eq!(ls, format!("rbd/{} \nrbd/{} \n", want[0], want[1]));
        let image = pool.open(&a, OpenMode::ReadOnly).await.unwrap();
        let g = image.group_get().await.unwrap().unwrap();
        assert_eq!(
            (g.pool, g.name.as_str()),
            (pool.ioctx().pool_id(), group.as_str())
        );
        // a grouped image refuses removal (EMLINK), here and with rbd
        drop(image);
        let e = pool.remove(&a).await.unwrap_err();
        assert!(e.is(rados::Errno::EMLINK), "{e}");
        let out = try_ceph_tool("rbd", &["rm", &a]);
        assert_eq!(out.status.code(), Some(31), "{out:?}");

        // a group snapshot here: members' snapshots as rbd names and shows them
        let data = pattern(4096, 7);
        let image = pool.open(&a, OpenMode::ReadWrite).await.unwrap();
        image.write(0, data.clone()).await.unwrap();
        pool.group_snap_create(&group, "s1").await.unwrap();
        let snaps = pool.group_snap_list(&group).await.unwrap();
        assert_eq!(snaps.len(), 1);
        assert_eq!(snaps[0].state, GroupSnapState::Complete);
        assert_eq!(snaps[0].snaps.len(), 2);
        assert!(snaps[0].snaps.iter().all(|s| s.snap_id != 0));
        let gs = rbd_json(&["group", "snap", "ls", &group]);
        assert_eq!(group_snaps(&gs), vec![("s1".to_owned(), true)]);
        let all = rbd_json(&["snap", "ls", "--all", &a]);
        let ns = &all[0]["namespace"];
        assert_eq!(ns["type"], "group");
        assert_eq!(ns["pool"], "rbd");
        assert_eq!(ns["group"], group.as_str());
        assert_eq!(ns["group snap"], "s1");
        let plain = rbd(&["snap", "ls", "--all", &a]);
        assert!(
            plain.contains(&format!("group (rbd/{group}@s1)")),
            "{plain}"
        );
        assert!(
            plain.contains(".group.1_") || plain.contains(".group."),
            "{plain}"
        );

        // overwrite, roll back here, rbd reads the old data
        image.write(0, pattern(4096, 8)).await.unwrap();
        image.close().await.unwrap();
        pool.group_snap_rename(&group, "s1", "s2").await.unwrap();
        let gs = rbd_json(&["group", "snap", "ls", &group]);
        assert_eq!(gs[0]["snapshot"], "s2");
        pool.group_snap_rollback(&group, "s2", |_, _| {})
            .await
            .unwrap();
        let image = pool.open(&a, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(&image.read(0, 4096).await.unwrap()[..], &data[..]);
        drop(image);

        // rbd removes our snapshot and a member; we see it
        rbd(&["group", "snap", "rm", &format!("{group}@s2")]);
        assert!(pool.group_snap_list(&group).await.unwrap().is_empty());
        let image = pool.open(&a, OpenMode::ReadOnly).await.unwrap();
        assert!(image.snap_list().await.unwrap().is_empty());
        drop(image);
        rbd(&["group", "image", "rm", &group, &b]);
        let members = pool.group_image_list(&group).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].name, a);
        assert_eq!(members[0].state, GroupImageState::Attached);
        let renamed = unique_name("grp-a2");
        pool.group_rename(&group, &renamed).await.unwrap();
        pool.group_snap_create(&renamed, "last").await.unwrap();
        pool.group_remove(&renamed).await.unwrap();
        assert!(
            !rbd_json(&["group", "ls"])
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == &renamed)
        );
        let image = pool.open(&a, OpenMode::ReadOnly).await.unwrap();
        assert!(image.group_get().await.unwrap().is_none());
        assert!(image.snap_list().await.unwrap().is_empty());
        drop(image);
        pool.remove(&a).await.unwrap();
        pool.remove(&b).await.unwrap();
    });
}

#[test]
fn groups_made_by_rbd_seen_here() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;
        let group = unique_name("grp-b");
        let (a, b) = (unique_name("gc"), unique_name("gd"));
        create_image(&a);
        create_image(&b);
        rbd(&["group", "create", &group]);
        rbd(&["group", "image", "add", &group, &a]);
        rbd(&["group", "image", "add", &group, &format!("rbd/{b}")]);
        assert!(pool.group_list().await.unwrap().contains(&group));
        let mut names: Vec<String> = pool
            .group_image_list(&group)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        names.sort();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(names, want);
        let image = pool.open(&b, OpenMode::ReadWrite).await.unwrap();
        assert_eq!(image.group_get().await.unwrap().unwrap().name, group);
        let data = pattern(8192, 3);
        image.write(4096, data.clone()).await.unwrap();
        image.close().await.unwrap();
        rbd(&["group", "snap", "create", &format!("{group}@r1")]);
        let snaps = pool.group_snap_list(&group).await.unwrap();
        assert_eq!(snaps.len(), 1);
        assert_eq!(snaps[0].name, "r1");
        assert_eq!(snaps[0].state, GroupSnapState::Complete);
        let image = pool.open(&b, OpenMode::ReadWrite).await.unwrap();
        let member = &image.snap_list().await.unwrap()[0];
        let g = image
            .snap_group_namespace(&member.namespace)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (g.group_name.as_str(), g.group_snap_name.as_str()),
            (group.as_str(), "r1")
        );
        image.write(4096, pattern(8192, 4)).await.unwrap();
        image.close().await.unwrap();
        // rolled back here, renamed by rbd, removed here
        pool.group_snap_rollback(&group, "r1", |_, _| {})
            .await
            .unwrap();
        let image = pool.open(&b, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(&image.read(4096, 8192).await.unwrap()[..], &data[..]);
        drop(image);
        rbd(&["group", "snap", "rename", &format!("{group}@r1"), "r2"]);
        pool.group_snap_remove(&group, "r2").await.unwrap();
        assert_eq!(rbd(&["group", "snap", "ls", &group]), "");
        assert_eq!(rbd(&["snap", "ls", "--all", &b]), "");
        // a member removed here; rbd agrees; the group goes with rbd
        pool.group_image_remove(&group, &pool, &a).await.unwrap();
        assert_eq!(
            rbd(&["group", "image", "ls", &group]),
            format!("rbd/{b} \n")
        );
        let info = rbd_json(&["info", &a]);
        assert_eq!(info["op_features"], serde_json::json!([]));
        rbd(&["group", "rm", &group]);
        assert!(!pool.group_list().await.unwrap().contains(&group));
        let e = pool.group_snap_list(&group).await.unwrap_err();
        assert!(matches!(e, rbd::Error::GroupNotFound(_)), "{e}");
        pool.remove(&a).await.unwrap();
        pool.remove(&b).await.unwrap();
    });
}

/// A group in one pool with members in another (librbd allows any pool of the same
/// namespace): members added here are listed by `rbd`, members added by `rbd` here, and
/// a group snapshot made here reaches the other pool's image.
#[test]
fn group_members_in_another_pool() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;
        let other_name = "rbd-rs-data";
        if rados.pool_lookup(other_name).await.is_err() {
            let _ = rados.create_pool(other_name).await;
            let _ = rados.application_enable(other_name, "rbd", false).await;
        }
        let other = rbd::Rbd::new(rados.ioctx(other_name).await.unwrap());
        let group = unique_name("grp-x");
        let (here, there, by_rbd) = (unique_name("gx"), unique_name("gy"), unique_name("gz"));
        create_image(&here);
        create_image(&format!("{other_name}/{there}"));
        create_image(&format!("{other_name}/{by_rbd}"));
        pool.group_create(&group).await.unwrap();
        pool.group_image_add(&group, &pool, &here).await.unwrap();
        pool.group_image_add(&group, &other, &there).await.unwrap();
        let ls = rbd(&["group", "image", "ls", &group]);
        assert!(ls.contains(&format!("rbd/{here} ")), "{ls}");
        assert!(ls.contains(&format!("{other_name}/{there} ")), "{ls}");
        let image = other.open(&there, OpenMode::ReadOnly).await.unwrap();
        let g = image.group_get().await.unwrap().unwrap();
        assert_eq!(g.name, group);
        drop(image);
        // added by rbd, listed here with its pool
        rbd(&[
            "group",
            "image",
            "add",
            &group,
            &format!("{other_name}/{by_rbd}"),
        ]);
        let members = pool.group_image_list(&group).await.unwrap();
        assert_eq!(members.len(), 3, "{members:?}");
        let other_id = rados.pool_lookup(other_name).await.unwrap();
        assert!(
            members.iter().any(|m| m.name == by_rbd
                && m.pool == other_id
                && m.state == GroupImageState::Attached),
            "{members:?}"
        );
        // a group snapshot reaches every member, whatever its pool
        pool.group_snap_create(&group, "gs").await.unwrap();
        for spec in [format!("rbd/{here}"), format!("{other_name}/{there}")] {
            let snaps = rbd_json(&["snap", "ls", "--all", &spec]);
            let snaps = snaps.as_array().unwrap();
            assert_eq!(snaps.len(), 1, "{spec}: {snaps:?}");
            assert_eq!(snaps[0]["namespace"]["type"], "group", "{spec}: {snaps:?}");
        }
        pool.group_snap_remove(&group, "gs").await.unwrap();
        for spec in [format!("rbd/{here}"), format!("{other_name}/{there}")] {
            let snaps = rbd_json(&["snap", "ls", "--all", &spec]);
            assert!(snaps.as_array().unwrap().is_empty(), "{spec}: {snaps}");
        }
        // removal by rbd of a member here, then the group here: members are released
        rbd(&[
            "group",
            "image",
            "rm",
            &group,
            &format!("{other_name}/{there}"),
        ]);
        assert_eq!(pool.group_image_list(&group).await.unwrap().len(), 2);
        pool.group_remove(&group).await.unwrap();
        for spec in [
            format!("rbd/{here}"),
            format!("{other_name}/{there}"),
            format!("{other_name}/{by_rbd}"),
        ] {
            // no longer in a group: rbd removes them
            rbd(&["rm", "--no-progress", &spec]);
        }
        let _ = try_ceph_tool("rbd", &["group", "rm", &group]);
        rados.shutdown().await;
    });
}
