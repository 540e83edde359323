//! Turning image features on and off through the `rbd` crate against the real cluster of
//! `CEPH_CONF`, with Ceph's `rbd` as the reference, both directions: images made and
//! written by `rbd` get exclusive-lock, object-map and fast-diff here, and `rbd info`,
//! `rbd object-map check` (head and every snapshot) and `rbd du` agree with what librbd's
//! own enable + rebuild gives; turned off here, no object map object is left; turned on
//! and off by `rbd`, this client sees the same features and keeps the map valid when it
//! writes.

use interop_tests::{
    ceph_tool, connect, pattern, rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run,
    try_ceph_tool, unique_name,
};
use rbd::OpenMode;
use rbd::features::{EXCLUSIVE_LOCK, FAST_DIFF, LAYERING, OBJECT_MAP};

const MIB: u64 = 1 << 20;

/// `rbd create` with layering only and 1 MiB objects.
fn rbd_create(name: &str, size_mib: u64) {
    rbd(&[
        "create",
        "--size",
        &format!("{size_mib}M"),
        "--object-size",
        "1M",
        "--image-feature",
        "layering",
        name,
    ]);
}

/// `rbd bench` writes of `total_mib` MiB from offset 0 (one thread: with more, the
/// sequential pattern spreads the writes over the image).
fn rbd_write(name: &str, total_mib: u64) {
    rbd(&[
        "bench",
        "--io-type",
        "write",
        "--io-size",
        "1M",
        "--io-pattern",
        "seq",
        "--io-threads",
        "1",
        "--io-total",
        &format!("{total_mib}M"),
        name,
    ]);
}

fn info_features(spec: &str) -> Vec<String> {
    let v = rbd_json(&["info", spec]);
    serde_json::from_value(v["features"].clone()).unwrap()
}

fn info_flags(spec: &str) -> Vec<String> {
    let v = rbd_json(&["info", spec]);
    serde_json::from_value(v["flags"].clone()).unwrap()
}

/// `rbd object-map check SPEC` (which exits 0 either way) found nothing: the map's
/// flags stay clear.
fn assert_map_checks(spec: &str) {
    let o = try_ceph_tool("rbd", &["object-map", "check", "--no-progress", spec]);
    assert!(
        o.status.success(),
        "{spec}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(info_flags(spec), Vec::<String>::new(), "{spec} after check");
}

fn du(name: &str) -> serde_json::Value {
    rbd_json(&["du", name])
}

/// The pool's object map objects of image id `id`.
fn map_objects(id: &str) -> Vec<String> {
    let out = String::from_utf8(ceph_tool("rados", &["-p", "rbd", "ls"]).stdout).unwrap();
    let prefix = format!("rbd_object_map.{id}");
    out.lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn enabled_here_on_an_image_rbd_wrote() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("feat-here");
        rbd_create(&name, 12);
        rbd_write(&name, 5);
        let mut img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        img.enable_features(EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF, |_, _| {})
            .await
            .unwrap();
        assert_eq!(
            img.info().features,
            LAYERING | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF
        );
        assert_eq!(img.info().flags, 0);
        // the same handle keeps the map it just got: a write to a new object shows
        img.write(8 * MIB, pattern(MIB as usize, 3)).await.unwrap();
        img.close().await.unwrap();
        assert_eq!(
            info_features(&name),
            ["layering", "exclusive-lock", "object-map", "fast-diff"]
        );
        assert_eq!(info_flags(&name), Vec::<String>::new());
        assert_map_checks(&name);
        let d = du(&name);
        assert_eq!(d["images"][0]["used_size"], 6 * MIB, "{d}");
        let id = rbd_json(&["info", &name])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(map_objects(&id).len(), 1);

        // off again, all at once in dependency order
        let mut img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        img.disable_features(OBJECT_MAP | FAST_DIFF | EXCLUSIVE_LOCK)
            .await
            .unwrap();
        assert_eq!(img.info().features, LAYERING);
        // no lock any more: writes go straight out
        img.write(9 * MIB, pattern(MIB as usize, 4)).await.unwrap();
        img.close().await.unwrap();
        assert_eq!(info_features(&name), ["layering"]);
        assert_eq!(info_flags(&name), Vec::<String>::new());
        assert!(map_objects(&id).is_empty(), "{:?}", map_objects(&id));
        assert!(rbd(&["lock", "ls", &name]).trim().is_empty());
        rbd(&["rm", "--no-progress", &name]);
    });
}

#[test]
fn snapshots_get_maps_like_librbd_rebuilds_them() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("feat-snaps");
        rbd_create(&name, 10);
        rbd_write(&name, 6);
        rbd(&["snap", "create", "--no-progress", &format!("{name}@s1")]);
        rbd_write(&name, 2);
        rbd(&["snap", "create", "--no-progress", &format!("{name}@s2")]);
        rbd(&["snap", "create", "--no-progress", &format!("{name}@s3")]);
        rbd_write(&name, 1);
        let specs: Vec<String> = ["", "@s1", "@s2", "@s3"]
            .iter()
            .map(|s| format!("{name}{s}"))
            .collect();

        // librbd: enable leaves the maps invalid; rebuild each
        rbd(&[
            "feature",
            "enable",
            &name,
            "exclusive-lock",
            "object-map",
            "fast-diff",
        ]);
        assert_eq!(
            info_flags(&name),
            ["object map invalid", "fast diff invalid"]
        );
        for s in &specs {
            rbd(&["object-map", "rebuild", "--no-progress", s]);
        }
        let want = du(&name);
        let id = rbd_json(&["info", &name])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(map_objects(&id).len(), 4);
        // this client sees librbd's features
        let img = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(
            img.info().features,
            LAYERING | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF
        );
        img.close().await.unwrap();

        // off and on here: the same maps, all valid
        let mut img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        img.disable_features(OBJECT_MAP).await.unwrap();
        assert_eq!(img.info().features, LAYERING | EXCLUSIVE_LOCK);
        assert!(map_objects(&id).is_empty());
        assert_eq!(info_features(&name), ["layering", "exclusive-lock"]);
        let mut calls = 0;
        img.enable_features(FAST_DIFF, |done, total| {
            assert!(done <= total);
            calls += 1;
        })
        .await
        .unwrap();
        assert_eq!(calls, 10);
        img.close().await.unwrap();
        assert_eq!(map_objects(&id).len(), 4);
        for s in &specs {
            assert_eq!(info_flags(s), Vec::<String>::new(), "{s}");
            assert_map_checks(s);
        }
        assert_eq!(du(&name), want);

        // librbd turns them off; this client follows
        rbd(&["feature", "disable", &name, "object-map"]);
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        assert_eq!(img.info().features, LAYERING | EXCLUSIVE_LOCK);
        img.close().await.unwrap();
        rbd(&["feature", "disable", &name, "exclusive-lock"]);
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        assert_eq!(img.info().features, LAYERING);
        img.close().await.unwrap();
        rbd(&["snap", "purge", "--no-progress", &name]);
        rbd(&["rm", "--no-progress", &name]);
    });
}

#[test]
fn writes_here_keep_the_map_rbd_enabled() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("feat-rbd");
        rbd_create(&name, 8);
        rbd_write(&name, 2);
        rbd(&["feature", "enable", &name, "exclusive-lock"]);
        // open (and holding the lock) before the image has an object map
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        img.write(5 * MIB, pattern(2 * MIB as usize, 7))
            .await
            .unwrap();
        assert!(img.is_lock_owner());
        // rbd takes the lock from us to turn the map on
        rbd(&["feature", "enable", &name, "object-map,fast-diff"]);
        rbd(&["object-map", "rebuild", "--no-progress", &name]);
        // the next write takes the lock back and keeps the new map
        img.write(7 * MIB, pattern(MIB as usize, 8)).await.unwrap();
        img.close().await.unwrap();
        assert_map_checks(&name);
        assert_eq!(du(&name)["images"][0]["used_size"], 5 * MIB);
        // and off again by rbd, on again by rbd, with the handle open throughout
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        img.write(0, pattern(MIB as usize, 9)).await.unwrap();
        rbd(&["feature", "disable", &name, "object-map"]);
        img.write(3 * MIB, pattern(MIB as usize, 10)).await.unwrap();
        img.close().await.unwrap();
        rbd(&["feature", "enable", &name, "object-map"]);
        rbd(&["object-map", "rebuild", "--no-progress", &name]);
        assert_map_checks(&name);
        assert_eq!(du(&name)["images"][0]["used_size"], 6 * MIB);
        rbd(&["rm", "--no-progress", &name]);
    });
}

#[test]
fn refusals_match_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("feat-err");
        rbd_create(&name, 4);
        let mut img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let einval = |r: rbd::Result<()>| r.unwrap_err().errno();
        // immutable, already on, missing dependency, unsupported
        assert_eq!(einval(img.enable_features(LAYERING, |_, _| {}).await), -22);
        assert_eq!(
            einval(
                img.enable_features(rbd::features::STRIPINGV2, |_, _| {})
                    .await
            ),
            -22
        );
        assert_eq!(
            einval(img.enable_features(OBJECT_MAP, |_, _| {}).await),
            -22
        );
        assert_eq!(einval(img.disable_features(EXCLUSIVE_LOCK).await), -22);
        assert_eq!(
            einval(
                img.enable_features(rbd::features::JOURNALING, |_, _| {})
                    .await
            ),
            -22
        );
        img.enable_features(EXCLUSIVE_LOCK, |_, _| {})
            .await
            .unwrap();
        assert_eq!(
            einval(
                img.enable_features(rbd::features::JOURNALING, |_, _| {})
                    .await
            ),
            -95
        );
        assert_eq!(
            einval(img.enable_features(EXCLUSIVE_LOCK, |_, _| {}).await),
            -22
        );
        img.enable_features(OBJECT_MAP, |_, _| {}).await.unwrap();
        assert_eq!(einval(img.disable_features(EXCLUSIVE_LOCK).await), -22);
        // rebuilding and checking a valid map changes nothing
        img.rebuild_object_map(|_, _| {}).await.unwrap();
        let check = img.check_object_map(|_, _| {}).await.unwrap();
        assert!(check.mismatches.is_empty());
        img.close().await.unwrap();
        assert_eq!(
            info_features(&name),
            ["layering", "exclusive-lock", "object-map", "fast-diff"]
        );
        assert_map_checks(&name);
        rbd(&["rm", "--no-progress", &name]);
    });
}

/// A librbd client holding the lock hands it over for the update, refreshes on our
/// HEADER_UPDATE, and then keeps the new map itself.
#[test]
fn open_librbd_handle_follows_an_update_here() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("feat-py");
        rbd_create(&name, 8);
        rbd(&["feature", "enable", &name, "exclusive-lock"]);
        let py = format!(
            "import rados, rbd, sys\n\
             c = rados.Rados(conffile='{}'); c.connect()\n\
             io = c.open_ioctx('rbd')\n\
             im = rbd.Image(io, '{name}')\n\
             im.write(b'\\x11' * {MIB}, 0)\n\
             print('owner', im.is_exclusive_lock_owner(), flush=True)\n\
             sys.stdin.readline()\n\
             im.write(b'\\x22' * {MIB}, 3 * {MIB})\n\
             print('features', im.features(), im.flags(), flush=True)\n\
             im.close()\n",
            interop_tests::tool_conf()
        );
        let mut script = interop_tests::PythonSession::start(&py);
        assert_eq!(script.line(), "owner True");
        let mut img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        img.enable_features(OBJECT_MAP, |_, _| {}).await.unwrap();
        img.close().await.unwrap();
        script.go_on();
        let line = script.line();
        let all = LAYERING | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF;
        assert_eq!(line, format!("features {all} 0"));
        script.finish();
        assert_map_checks(&name);
        assert_eq!(du(&name)["images"][0]["used_size"], 2 * MIB);
        rbd(&["rm", "--no-progress", &name]);
    });
}
