//! Mirroring on the way out, against the real cluster of `CEPH_CONF` with Ceph's `rbd` as
//! the judge. Each test works in a namespace of its own with image-mode mirroring (no
//! peer needed): an image with snapshot-based mirroring (a primary mirror snapshot, a
//! user snapshot, some data) moved to the trash or removed here ends as after `rbd`'s
//! (its `rbd_mirroring` entries, mirror snapshots and their image-state objects gone,
//! `rbd mirror image status` says it is not enabled, the user snapshot kept); a demoted
//! (non-primary) image is refused with EINVAL by both and keeps its mirroring. An image
//! with journal-based mirroring removed here, as by `rbd rm`, leaves neither its
//! mirroring record nor its journal (header and data objects). A journaling image, with
//! and without journal-based mirroring, moved to the trash here ends as after `rbd trash
//! mv` (mirroring disabled, the journal's objects kept as they were; restored by `rbd`,
//! librbd opens and writes it through its journal). Mirror peer clients registered
//! with the journal (as rbd-mirror does) are unregistered on the way out, with the
//! snapshots their syncs hold, as by `rbd`.
//! (Journal-based mirroring's primary flag: rbd_status.rs.)

use interop_tests::{
    ceph_tool, connect, rbd_tool as rbd, rbd_tool_json as rbd_json, run, try_ceph_tool, unique_name,
};
use rbd::{OpenMode, Rbd};

/// A namespace with image-mode mirroring, and our pool handle in it.
async fn mirrored_namespace(label: &str) -> (String, Rbd) {
    let ns = unique_name(label);
    rbd(&["namespace", "create", &format!("rbd/{ns}")]);
    // Reef and later need the default namespace mirrored too (left on, as
    // rbd_status_cli.rs does: it mirrors nothing by itself)
    rbd(&["mirror", "pool", "enable", "rbd", "image"]);
    rbd(&["mirror", "pool", "enable", &format!("rbd/{ns}"), "image"]);
    let rados = connect().await;
    let io = rados.ioctx("rbd").await.unwrap().with_namespace(ns.clone());
    (ns, Rbd::new(io))
}

fn drop_namespace(ns: &str) {
    rbd(&["mirror", "pool", "disable", &format!("rbd/{ns}")]);
    rbd(&["namespace", "rm", &format!("rbd/{ns}")]);
}

/// The keys of the namespace's `rbd_mirroring` object, and its objects named after
/// image `id`'s mirror snapshots' image state.
fn mirroring_leftovers(ns: &str, id: &str) -> (Vec<String>, Vec<String>) {
    let keys = String::from_utf8(
        ceph_tool(
            "rados",
            &[
                "-p",
                "rbd",
                "--namespace",
                ns,
                "listomapkeys",
                "rbd_mirroring",
            ],
        )
        .stdout,
    )
    .unwrap();
    let objects =
        String::from_utf8(ceph_tool("rados", &["-p", "rbd", "--namespace", ns, "ls"]).stdout)
            .unwrap();
    let state_prefix = format!("rbd_mirror_snapshot.{id}.");
    (
        keys.lines()
            .filter(|k| k.starts_with("image_") || k.starts_with("global_"))
            .map(str::to_owned)
            .collect(),
        objects
            .lines()
            .filter(|o| o.starts_with(&state_prefix))
            .map(str::to_owned)
            .collect(),
    )
}

/// An image with snapshot-based mirroring (its first mirror snapshot), data and a user
/// snapshot `keep`; returns its id.
fn snapshot_mirrored_image(spec: &str) -> String {
    rbd(&["create", spec, "--size", "8M", "--object-size", "1M"]);
    rbd(&["mirror", "image", "enable", spec, "snapshot"]);
    rbd(&["bench", "--io-type", "write", "--io-total", "2M", spec]);
    rbd(&["snap", "create", &format!("{spec}@keep")]);
    rbd_json(&["info", spec])["id"].as_str().unwrap().to_owned()
}

/// The names and namespaces of image `id`'s snapshots (`rbd snap ls --all`).
fn all_snaps(ns: &str, id: &str) -> Vec<(String, String)> {
    rbd_json(&[
        "snap",
        "ls",
        "--all",
        "--pool",
        "rbd",
        "--namespace",
        ns,
        "--image-id",
        id,
    ])
    .as_array()
    .unwrap()
    .iter()
    .map(|s| {
        (
            s["name"].as_str().unwrap().to_owned(),
            s["namespace"]["type"].as_str().unwrap_or("").to_owned(),
        )
    })
    .collect()
}

fn mirror_status_enabled(spec: &str) -> bool {
    try_ceph_tool("rbd", &["mirror", "image", "status", spec])
        .status
        .success()
}

/// A journaling image (journal-mirrored if `mirrored`) in namespace `ns` of pool rbd,
/// made and written by librbd: (name, spec, id).
fn written_journaling_image(ns: &str, label: &str, mirrored: bool) -> (String, String, String) {
    let name = unique_name(label);
    let spec = format!("rbd/{ns}/{name}");
    rbd(&["create", &spec, "--size", "8M"]);
    rbd(&["feature", "enable", &spec, "journaling"]);
    if mirrored {
        rbd(&["mirror", "image", "enable", &spec, "journal"]);
    }
    rbd(&["bench", "--io-type", "write", "--io-total", "1M", &spec]);
    let id = rbd_json(&["info", &spec])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (name, spec, id)
}

#[test]
fn snapshot_mirroring_is_disabled_on_trash_move_and_removal_as_rbd() {
    run(async {
        let (ns, pool) = mirrored_namespace("rbd-mirrm").await;
        let mut trashed = Vec::new();
        for ours in [true, false] {
            // trash move: the user snapshot stays, the mirror snapshots go
            let name = unique_name("rbd-mirrm-mv");
            let spec = format!("rbd/{ns}/{name}");
            let id = snapshot_mirrored_image(&spec);
            let before = all_snaps(&ns, &id);
            assert!(before.iter().any(|s| s.1 == "mirror"), "{before:?}");
            assert!(!mirroring_leftovers(&ns, &id).0.is_empty());
            assert!(mirror_status_enabled(&spec));
            if ours {
                assert_eq!(pool.trash_move(&name, 0).await.unwrap(), id);
            } else {
                rbd(&["trash", "mv", &spec]);
            }
            assert_eq!(
                all_snaps(&ns, &id),
                vec![("keep".to_owned(), "user".to_owned())],
                "ours {ours}"
            );
            assert_eq!(
                mirroring_leftovers(&ns, &id),
                (vec![], vec![]),
                "ours {ours}"
            );
            trashed.push(id);

            // removal
            let name = unique_name("rbd-mirrm-rm");
            let spec = format!("rbd/{ns}/{name}");
            let id = snapshot_mirrored_image(&spec);
            rbd(&["snap", "rm", &format!("{spec}@keep")]);
            if ours {
                pool.remove(&name).await.unwrap();
            } else {
                rbd(&["rm", &spec, "--no-progress"]);
            }
            assert!(!mirror_status_enabled(&spec));
            assert_eq!(
                mirroring_leftovers(&ns, &id),
                (vec![], vec![]),
                "ours {ours}"
            );
            let objects = ceph_tool("rados", &["-p", "rbd", "--namespace", &ns, "ls"]).stdout;
            assert!(
                !String::from_utf8(objects).unwrap().contains(&id),
                "objects of {id} left (ours {ours})"
            );
        }

        // a demoted image: EINVAL from both, its mirroring untouched
        let name = unique_name("rbd-mirrm-demoted");
        let spec = format!("rbd/{ns}/{name}");
        let id = snapshot_mirrored_image(&spec);
        rbd(&["snap", "rm", &format!("{spec}@keep")]);
        rbd(&["mirror", "image", "demote", &spec]);
        let image = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
        let info = image.mirror_image_get_info().await.unwrap();
        image.close().await.unwrap();
        assert!(!info.primary);
        assert_eq!(rbd_json(&["info", &spec])["mirroring"]["primary"], false);
        let e = pool.trash_move(&name, 0).await.unwrap_err();
        assert!(e.is(rados::Errno::EINVAL), "{e}");
        let e = pool.remove(&name).await.unwrap_err();
        assert!(e.is(rados::Errno::EINVAL), "{e}");
        for args in [
            vec!["trash", "mv", &spec],
            vec!["rm", &spec, "--no-progress"],
        ] {
            assert_eq!(
                try_ceph_tool("rbd", &args).status.code(),
                Some(22),
                "{args:?}"
            );
        }
        assert!(mirror_status_enabled(&spec));
        assert_eq!(mirroring_leftovers(&ns, &id).0.len(), 2);
        rbd(&["mirror", "image", "promote", &spec]);
        pool.remove(&name).await.unwrap();

        for id in trashed {
            rbd(&[
                "snap",
                "purge",
                "--pool",
                "rbd",
                "--namespace",
                &ns,
                "--image-id",
                &id,
            ]);
            rbd(&[
                "trash",
                "rm",
                "--pool",
                "rbd",
                "--namespace",
                &ns,
                &id,
                "--no-progress",
            ]);
        }
        drop_namespace(&ns);
    });
}

/// The namespace's objects named after image `id`.
fn objects_of(ns: &str, id: &str) -> Vec<String> {
    String::from_utf8(ceph_tool("rados", &["-p", "rbd", "--namespace", ns, "ls"]).stdout)
        .unwrap()
        .lines()
        .filter(|o| o.contains(id))
        .map(str::to_owned)
        .collect()
}

/// Removes image `name` (`spec`, id `id`) of namespace `ns` here (`ours`) or by `rbd rm`,
/// and checks that neither its mirroring entries nor any object named after it is left.
async fn remove_leaving_nothing(
    pool: &Rbd,
    ours: bool,
    ns: &str,
    name: &str,
    spec: &str,
    id: &str,
) {
    if ours {
        pool.remove(name).await.unwrap();
    } else {
        rbd(&["rm", spec, "--no-progress"]);
    }
    assert_eq!(mirroring_leftovers(ns, id), (vec![], vec![]), "ours {ours}");
    assert_eq!(objects_of(ns, id), Vec::<String>::new(), "ours {ours}");
}

#[test]
fn journal_mirrored_images_leave_mirroring_and_journal_on_removal() {
    run(async {
        let (ns, pool) = mirrored_namespace("rbd-mirjr").await;
        for ours in [true, false] {
            // librbd's writes go through the journal: data objects of its own
            let (name, spec, id) = written_journaling_image(&ns, "rbd-mirjr", true);
            let objects = objects_of(&ns, &id);
            assert!(
                objects.iter().any(|o| o.starts_with("journal_data.")),
                "{objects:?}"
            );
            assert_eq!(mirroring_leftovers(&ns, &id).0.len(), 2);
            remove_leaving_nothing(&pool, ours, &ns, &name, &spec, &id).await;
        }
        // moved by rbd (which disables the mirroring), removed from the trash here
        let name = unique_name("rbd-mirjr-trash");
        let spec = format!("rbd/{ns}/{name}");
        rbd(&["create", &spec, "--size", "8M"]);
        rbd(&["feature", "enable", &spec, "journaling"]);
        rbd(&["bench", "--io-type", "write", "--io-total", "1M", &spec]);
        let id = rbd_json(&["info", &spec])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        rbd(&["trash", "mv", &spec]);
        pool.trash_remove(&id, true).await.unwrap();
        assert_eq!(objects_of(&ns, &id), Vec::<String>::new());
        drop_namespace(&ns);
    });
}

/// The namespace's objects named after image `id`, the id replaced by `ID`.
fn objects_named(ns: &str, id: &str) -> Vec<String> {
    let mut v: Vec<String> = objects_of(ns, id)
        .iter()
        .map(|o| o.replace(id, "ID"))
        .collect();
    v.sort();
    v
}

#[test]
fn journaling_images_move_to_the_trash_as_with_rbd() {
    run(async {
        let (ns, pool) = mirrored_namespace("rbd-mirjt").await;
        for mirrored in [true, false] {
            let mut seen = Vec::new();
            for ours in [true, false] {
                let (name, spec, id) = written_journaling_image(&ns, "rbd-mirjt", mirrored);
                let before = objects_named(&ns, &id);
                if ours {
                    assert_eq!(pool.trash_move(&name, 0).await.unwrap(), id);
                } else {
                    rbd(&["trash", "mv", &spec]);
                }
                let after = objects_named(&ns, &id);
                // the journal is left as it was (the header object and the id object go
                // with the move only in name: the header stays)
                let journal = |v: &[String]| -> Vec<String> {
                    v.iter()
                        .filter(|o| o.starts_with("journal"))
                        .cloned()
                        .collect()
                };
                assert_eq!(journal(&after), journal(&before), "ours {ours}");
                assert!(!journal(&after).is_empty());
                let trash = rbd_json(&["trash", "ls", "--long", &format!("rbd/{ns}")]);
                let entry = trash
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["id"] == id.as_str())
                    .unwrap_or_else(|| panic!("{id} not in {trash}"))
                    .clone();
                assert_eq!(entry["name"], name.as_str());
                assert_eq!(entry["source"], "USER");
                seen.push((after, mirroring_leftovers(&ns, &id)));
                // restored by rbd: librbd opens it, replays and writes through the journal
                rbd(&["trash", "restore", &format!("rbd/{ns}/{id}")]);
                let features = rbd_json(&["info", &spec])["features"].clone();
                assert!(
                    features
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f == "journaling"),
                    "{features}"
                );
                rbd(&["bench", "--io-type", "write", "--io-total", "64K", &spec]);
                rbd(&["rm", &spec, "--no-progress"]);
                assert_eq!(objects_of(&ns, &id), Vec::<String>::new());
            }
            assert_eq!(seen[0], seen[1], "mirrored {mirrored}: ours, then rbd's");
        }
        drop_namespace(&ns);
    });
}

/// The ids of the clients registered with image `id`'s journal.
async fn journal_client_ids(pool: &Rbd, id: &str) -> Vec<String> {
    rbd::journal::client_list(pool.ioctx(), id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Registers mirror peer clients with image `id`'s journal as rbd-mirror would: each
/// `(client id, its sync point's snapshot name)`.
async fn register_mirror_peers(pool: &Rbd, id: &str, peers: &[(&str, &str)]) {
    for (client, snap) in peers {
        let point = rbd::journal::MirrorPeerSyncPoint {
            snap_name: (*snap).to_owned(),
            namespace: rbd::cls::snap::SnapshotNamespace::User,
        };
        let data = rbd::journal::encode_mirror_peer_client_data(id, &[point]);
        rbd::journal::client_register(pool.ioctx(), id, client, &data)
            .await
            .unwrap();
    }
    let mut clients = journal_client_ids(pool, id).await;
    clients.sort();
    let mut want: Vec<&str> = peers.iter().map(|(c, _)| *c).collect();
    want.push("");
    want.sort();
    assert_eq!(clients, want);
}

#[test]
fn journal_mirror_peers_and_their_sync_snapshots_go_when_mirroring_is_disabled_as_with_rbd() {
    run(async {
        let (ns, pool) = mirrored_namespace("rbd-mirpeer").await;
        // moved to the trash: the sync point's snapshot goes with its peer (an image
        // with snapshots can be moved, not removed)
        let mut seen = Vec::new();
        for ours in [true, false] {
            let (name, spec, id) = written_journaling_image(&ns, "rbd-mirpeer", true);
            let sync_snap = ".rbd-mirror.peer-a.sync";
            rbd(&["snap", "create", &format!("{spec}@{sync_snap}")]);
            rbd(&["snap", "create", &format!("{spec}@users")]);
            register_mirror_peers(&pool, &id, &[("peer-a", sync_snap), ("peer-b", "gone")]).await;
            if ours {
                pool.trash_move(&name, 0).await.unwrap();
            } else {
                rbd(&["trash", "mv", &spec]);
            }
            let snaps: Vec<String> = all_snaps(&ns, &id).into_iter().map(|s| s.0).collect();
            assert_eq!(snaps, ["users"], "ours {ours}");
            seen.push((
                snaps,
                journal_client_ids(&pool, &id).await,
                mirroring_leftovers(&ns, &id),
            ));
            rbd(&["trash", "restore", &format!("rbd/{ns}/{id}")]);
            rbd(&["snap", "purge", &spec, "--no-progress"]);
            rbd(&["rm", &spec, "--no-progress"]);
            assert_eq!(objects_of(&ns, &id), Vec::<String>::new(), "ours {ours}");
        }
        assert_eq!(seen[0], seen[1], "ours, then rbd's");
        assert_eq!(seen[0].1, [""]);
        // removed: peers whose sync snapshots are gone (with one, both tools refuse:
        // "image has snapshots")
        for ours in [true, false] {
            let (name, spec, id) = written_journaling_image(&ns, "rbd-mirpeer", true);
            register_mirror_peers(&pool, &id, &[("peer-a", "gone"), ("peer-b", "gone")]).await;
            remove_leaving_nothing(&pool, ours, &ns, &name, &spec, &id).await;
        }
        drop_namespace(&ns);
    });
}
