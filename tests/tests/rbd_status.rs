//! Image status against the real cluster of `CEPH_CONF`: live-migration state
//! (`migration_status`, from the headers' migration records) and snapshot-based mirroring
//! state (`mirror_mode_get`, `mirror_image_get_info`), compared with python3-rbd
//! (librbd) while `rbd migration ...` / `rbd mirror ...` change them; journal-based
//! mirroring too (its primary flag from the journal's tag owner, `journal.rs`).

use interop_tests::{
    connect, python3, rbd_pool as pool, rbd_tool as rbd, run, tool_conf, try_ceph_tool, unique_name,
};
use rbd::cls::mirror::{MigrationState, MirrorImageMode, MirrorMode};
use rbd::{CreateOptions, Error, OpenMode, Rbd};

/// Runs a python3-rbd snippet with `io` open on pool rbd (namespace `ns`) and returns
/// its stdout parsed as JSON.
fn py_json(ns: &str, body: &str) -> serde_json::Value {
    let py = format!(
        "import rados, rbd, json\n\
         c = rados.Rados(conffile='{}'); c.connect()\n\
         io = c.open_ioctx('rbd'); io.set_namespace('{ns}')\n\
         {body}\n",
        tool_conf()
    );
    let o = python3().args(["-c", &py]).output().unwrap();
    assert!(
        o.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn py_migration_status(ns: &str, name: &str) -> serde_json::Value {
    py_json(
        ns,
        &format!("print(json.dumps(rbd.RBD().migration_status(io, '{name}')))"),
    )
}

fn status_json(s: &rbd::MigrationStatus) -> serde_json::Value {
    serde_json::json!({
        "source_pool_id": s.source_pool_id,
        "source_pool_namespace": s.source_pool_namespace,
        "source_image_name": s.source_image_name,
        "source_image_id": s.source_image_id,
        "dest_pool_id": s.dest_pool_id,
        "dest_pool_namespace": s.dest_pool_namespace,
        "dest_image_name": s.dest_image_name,
        "dest_image_id": s.dest_image_id,
        "state": s.state.librbd_code(),
        "state_description": s.state_description,
    })
}

/// Our status of `name` equals librbd's.
async fn same_migration_status(pool: &Rbd, ns: &str, name: &str) -> rbd::MigrationStatus {
    let ours = pool.migration_status(name).await.unwrap();
    assert_eq!(status_json(&ours), py_migration_status(ns, name), "{name}");
    ours
}

/// Removes what a test made even when it fails: runs the `rbd` commands, ignoring errors.
struct Cleanup(Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in &self.0 {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = try_ceph_tool("rbd", &args);
        }
    }
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn migration_prepare_execute_commit_match_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let (src, dst) = (unique_name("mig-src"), unique_name("mig-dst"));
        let _cleanup = Cleanup(vec![
            cmd(&["migration", "abort", &dst]),
            cmd(&["rm", &src]),
            cmd(&["rm", &dst]),
        ]);
        // the source is made by this client, the migration by rbd
        pool.create(&src, &CreateOptions::new(12 << 20))
            .await
            .unwrap();
        assert!(matches!(
            pool.migration_status(&src).await,
            Err(Error::NotMigrating(_))
        ));
        rbd(&["migration", "prepare", &src, &dst]);
        let s = same_migration_status(&pool, "", &dst).await;
        assert_eq!(s.state, MigrationState::Prepared);
        assert_eq!(
            (s.source_image_name.as_str(), s.dest_image_name.as_str()),
            (src.as_str(), dst.as_str())
        );
        // by the source's name too (it is in the trash now)
        same_migration_status(&pool, "", &src).await;
        let image = pool.open(&dst, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(image.migration_status().await.unwrap(), Some(s.clone()));
        let spec = image.migration_spec().await.unwrap().unwrap();
        assert_eq!(spec.image_id, s.source_image_id);
        assert_eq!(spec.overlap, 12 << 20);
        rbd(&["migration", "execute", &dst]);
        let s = same_migration_status(&pool, "", &dst).await;
        assert_eq!(s.state, MigrationState::Executed);
        rbd(&["migration", "commit", &dst]);
        assert!(matches!(
            pool.migration_status(&dst).await,
            Err(Error::NotMigrating(_))
        ));
        let image = pool.open(&dst, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(image.migration_status().await.unwrap(), None);
        assert_eq!(image.migration_spec().await.unwrap(), None);
        rbd(&["rm", &dst]);
    });
}

#[test]
fn migration_into_namespace_then_abort_matches_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let ns = unique_name("mig-ns");
        let (src, dst) = (unique_name("mig-src"), unique_name("mig-dst"));
        let dst_spec = format!("rbd/{ns}/{dst}");
        let _cleanup = Cleanup(vec![
            cmd(&["migration", "abort", &dst_spec]),
            cmd(&["rm", &src]),
            cmd(&["namespace", "rm", &format!("rbd/{ns}")]),
        ]);
        rbd(&["namespace", "create", &format!("rbd/{ns}")]);
        rbd(&["create", "--size", "8M", &src]);
        rbd(&["migration", "prepare", &src, &dst_spec]);
        let ns_pool = Rbd::new(pool.ioctx().clone().with_namespace(ns.clone()));
        let s = same_migration_status(&ns_pool, &ns, &dst).await;
        assert_eq!(s.dest_pool_namespace, ns);
        assert_eq!(s.source_pool_namespace, "");
        // the source's record leads to the destination in the namespace
        same_migration_status(&pool, "", &src).await;
        rbd(&["migration", "abort", &dst_spec]);
        assert!(matches!(
            pool.migration_status(&src).await,
            Err(Error::NotMigrating(_))
        ));
        assert!(matches!(
            ns_pool.migration_status(&dst).await,
            Err(Error::ImageNotFound(_))
        ));
        rbd(&["rm", &src]);
    });
}

fn py_mirror_info(ns: &str, name: &str) -> serde_json::Value {
    py_json(
        ns,
        &format!(
            "im = rbd.Image(io, '{name}', read_only=True)\n\
             i = im.mirror_image_get_info()\n\
             i['mode'] = im.mirror_image_get_mode() if i['state'] != 2 else None\n\
             i['pool_mode'] = rbd.RBD().mirror_mode_get(io)\n\
             im.close()\n\
             print(json.dumps(i))"
        ),
    )
}

/// Our mirroring info of `name` equals librbd's.
async fn same_mirror_info(pool: &Rbd, ns: &str, name: &str) -> rbd::MirrorImageInfo {
    let image = pool.open(name, OpenMode::ReadOnly).await.unwrap();
    let info = image.mirror_image_get_info().await.unwrap();
    let disabled = info.state == rbd::cls::mirror::MirrorImageState::Disabled;
    let mode = if disabled {
        assert!(image.mirror_image_get_mode().await.is_err());
        None
    } else {
        Some(image.mirror_image_get_mode().await.unwrap().code())
    };
    let ours = serde_json::json!({
        "global_id": info.global_id,
        "state": info.state.code(),
        "primary": info.primary,
        "mode": mode,
        "pool_mode": pool.mirror_mode_get().await.unwrap().code(),
    });
    assert_eq!(ours, py_mirror_info(ns, name), "{name}");
    info
}

/// A mirroring test's own namespace (its mirroring mode is its own: `rbd_mirroring` per
/// namespace), an image name in it (`ns`, `img`, `pool/ns/img`), a handle on the namespace,
/// and what disables and removes them whatever happens.
fn mirror_sandbox(base: &Rbd, label: &str) -> (String, String, String, Rbd, Cleanup) {
    let ns = unique_name(&format!("{label}-ns"));
    let img = unique_name(&format!("{label}-img"));
    let spec = format!("rbd/{ns}/{img}");
    let cleanup = Cleanup(vec![
        cmd(&["mirror", "image", "disable", "--force", &spec]),
        cmd(&["rm", &spec]),
        cmd(&["mirror", "pool", "disable", &format!("rbd/{ns}")]),
        cmd(&["namespace", "rm", &format!("rbd/{ns}")]),
    ]);
    rbd(&["namespace", "create", &format!("rbd/{ns}")]);
    let pool = Rbd::new(base.ioctx().clone().with_namespace(ns.clone()));
    (ns, img, spec, pool, cleanup)
}

#[test]
fn snapshot_mirroring_matches_librbd() {
    run(async {
        let rados = connect().await;
        let base = pool(&rados).await;
        let (ns, img, spec, pool, _cleanup) = mirror_sandbox(&base, "mirror");
        assert_eq!(pool.mirror_mode_get().await.unwrap(), MirrorMode::Disabled);
        pool.create(&img, &CreateOptions::new(8 << 20))
            .await
            .unwrap();
        let off = same_mirror_info(&pool, &ns, &img).await;
        assert_eq!((off.global_id.as_str(), off.primary), ("", false));
        // Reef and later read the mirror peers of the pool's default namespace: mirroring
        // must be on there too. Image mode mirrors nothing by itself; it is left on, as
        // other tests may rely on it at the same time.
        rbd(&["mirror", "pool", "enable", "rbd", "image"]);
        rbd(&["mirror", "pool", "enable", &format!("rbd/{ns}"), "image"]);
        assert_eq!(pool.mirror_mode_get().await.unwrap(), MirrorMode::Image);
        assert_eq!(base.mirror_mode_get().await.unwrap(), MirrorMode::Image);
        rbd(&["mirror", "image", "enable", &spec, "snapshot"]);
        let on = same_mirror_info(&pool, &ns, &img).await;
        assert!(on.primary && on.global_id.len() == 36);
        assert_eq!(on.mode, MirrorImageMode::Snapshot);
        // demoted: the newest mirror snapshot is primary-demoted
        rbd(&["mirror", "image", "demote", &spec]);
        let demoted = same_mirror_info(&pool, &ns, &img).await;
        assert!(!demoted.primary);
        assert_eq!(demoted.global_id, on.global_id);
        rbd(&["mirror", "image", "promote", &spec]);
        assert!(same_mirror_info(&pool, &ns, &img).await.primary);
        rbd(&["mirror", "image", "disable", &spec]);
        let off = same_mirror_info(&pool, &ns, &img).await;
        assert_eq!(off.state, rbd::cls::mirror::MirrorImageState::Disabled);
        rbd(&["mirror", "pool", "disable", &format!("rbd/{ns}")]);
        assert_eq!(pool.mirror_mode_get().await.unwrap(), MirrorMode::Disabled);
        pool.remove(&img).await.unwrap();
        rbd(&["namespace", "rm", &format!("rbd/{ns}")]);
    });
}

#[test]
fn journal_mirroring_matches_librbd() {
    run(async {
        let rados = connect().await;
        let base = pool(&rados).await;
        let (ns, img, spec, pool, _cleanup) = mirror_sandbox(&base, "jmirror");
        rbd(&["mirror", "pool", "enable", "rbd", "image"]);
        rbd(&["mirror", "pool", "enable", &format!("rbd/{ns}"), "image"]);
        rbd(&["create", &spec, "--size", "8M"]);
        rbd(&["feature", "enable", &spec, "journaling"]);
        rbd(&["mirror", "image", "enable", &spec, "journal"]);
        // primary: the newest tag of the image client's class is owned locally
        let on = same_mirror_info(&pool, &ns, &img).await;
        assert!(on.primary && on.global_id.len() == 36);
        assert_eq!(on.mode, MirrorImageMode::Journal);
        // demoted: a new tag owned by nobody ("<orphan>")
        rbd(&["mirror", "image", "demote", &spec]);
        assert!(!same_mirror_info(&pool, &ns, &img).await.primary);
        rbd(&["mirror", "image", "promote", &spec]);
        assert!(same_mirror_info(&pool, &ns, &img).await.primary);
        rbd(&["mirror", "image", "disable", &spec]);
        rbd(&["rm", &spec]);
        rbd(&["mirror", "pool", "disable", &format!("rbd/{ns}")]);
        rbd(&["namespace", "rm", &format!("rbd/{ns}")]);
    });
}
