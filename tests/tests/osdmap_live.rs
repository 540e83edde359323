//! Our OSDMap decoding and placement against the live cluster's own maps: after a sequence of
//! changes (an erasure-coded pool, OSDs out and reweighted, primary affinity, upmaps, pg_temp,
//! primary_temp, a pg_num change), the full map fetched with `ceph osd getmap` places every PG
//! of every pool exactly as the release's own `osdmaptool` does, and objects (with namespaces)
//! exactly as `ceph osd map` does.
//!
//! Meanwhile our monitor client follows every change through incremental maps; at the end the
//! map it built places every PG as `osdmaptool` does with the monitor's full map of the same
//! epoch.
//!
//! One test, in sequence: the changes would disturb other tests of this binary.

use interop_tests::{
    ceph_json, ceph_mon_command_json, ceph_tool, reference_tool, scratch_dir, tool_view,
    try_ceph_tool,
};
use osdmap::OsdMap;

fn ceph(args: &[&str]) {
    ceph_tool("ceph", args);
}

/// Fetches the current full map into the scratch directory; returns its path and the decoded map.
fn fetch_map(dir: &std::path::Path, label: &str) -> (std::path::PathBuf, OsdMap) {
    fetch_map_at(dir, label, None)
}

/// Fetches the full map of `epoch` (or the current one).
fn fetch_map_at(
    dir: &std::path::Path,
    label: &str,
    epoch: Option<u64>,
) -> (std::path::PathBuf, OsdMap) {
    let path = dir.join(format!("osdmap-{label}"));
    let epoch = epoch.map(|e| e.to_string());
    let mut args = vec!["osd", "getmap"];
    args.extend(epoch.as_deref());
    let out = tool_view(&path);
    args.extend(["-o", out.as_str()]);
    ceph(&args);
    let bytes = std::fs::read(&path).unwrap();
    let map = OsdMap::from_bytes(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    (path, map)
}

fn compare_all_pgs(path: &std::path::Path, label: &str) -> usize {
    let tool = reference_tool("osdmaptool");
    let comparison = osdmap::testutil::compare_map_file(&tool, path)
        .and_then(|c| c.into_result())
        .unwrap_or_else(|e| panic!("{label}: our placement differs from osdmaptool's: {e}"));
    comparison.pgs
}

#[test]
fn live_maps_place_every_pg_and_object_like_ceph() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = rados::ClientConfig::builder()
        .conf_file(interop_tests::ceph_conf())
        .build()
        .unwrap();
    let rados = runtime.block_on(rados::Rados::connect(config)).unwrap();
    let first_epoch = rados.osdmap().epoch;
    let dir = scratch_dir("osdmap-live");
    let mut compared = 0;
    let (path, _) = fetch_map(&dir, "initial");
    compared += compare_all_pgs(&path, "initial");

    // an erasure-coded pool next to the replicated one
    ceph(&[
        "osd",
        "erasure-code-profile",
        "set",
        "rbdrs-ec21",
        "k=2",
        "m=1",
        "crush-failure-domain=osd",
    ]);
    ceph(&[
        "osd",
        "pool",
        "create",
        "rbdrs-ec",
        "8",
        "8",
        "erasure",
        "rbdrs-ec21",
    ]);
    ceph(&[
        "osd",
        "pool",
        "create",
        "rbdrs-grow",
        "8",
        "8",
        "replicated",
    ]);
    // OSD weights and primary affinity
    ceph(&["osd", "reweight", "1", "0.8"]);
    ceph(&["osd", "primary-affinity", "2", "0.5"]);
    let (path, map) = fetch_map(&dir, "weights");
    compared += compare_all_pgs(&path, "weights");
    let rbd = map.lookup_pool("rbd").expect("pool rbd");

    // explicit mappings
    ceph(&["osd", "pg-upmap-items", &format!("{rbd}.0"), "0", "2"]);
    ceph(&["osd", "pg-upmap", &format!("{rbd}.1"), "2", "1", "0"]);
    ceph(&["osd", "primary-temp", &format!("{rbd}.2"), "1"]);
    ceph(&["osd", "pg-temp", &format!("{rbd}.3"), "2", "0", "1"]);
    ceph(&["osd", "pool", "set", "rbdrs-grow", "pg_num", "16"]);
    let (path, _) = fetch_map(&dir, "explicit");
    compared += compare_all_pgs(&path, "explicit");

    // Reef and later: a primary chosen by pg_upmap_primaries (needs clients of Reef or later)
    let pg4 = format!("{rbd}.4");
    let upmap_primary = try_ceph_tool(
        "ceph",
        &[
            "osd",
            "set-require-min-compat-client",
            "reef",
            "--yes-i-really-mean-it",
        ],
    )
    .status
    .success();
    eprintln!("pg_upmap_primaries exercised: {upmap_primary}");
    if upmap_primary {
        let up = map
            .pg_to_up_acting(denc::PgId::new(rbd as u64, 4))
            .unwrap()
            .up;
        let second = up[1].to_string();
        ceph(&["osd", "pg-upmap-primary", &pg4, &second]);
        let (path, map) = fetch_map(&dir, "upmap-primary");
        compared += compare_all_pgs(&path, "upmap-primary");
        let acting = map.pg_to_up_acting(denc::PgId::new(rbd as u64, 4)).unwrap();
        assert_eq!(
            acting.up_primary.to_string(),
            second,
            "pg_upmap_primaries applied"
        );
    }

    // an OSD marked down comes back up by itself
    ceph(&["osd", "down", "2"]);
    // an OSD out, then objects: ours against `ceph osd map`, with and without namespaces
    ceph(&["osd", "out", "0"]);
    let (path, _) = fetch_map(&dir, "out");
    compared += compare_all_pgs(&path, "out");
    // the map keeps moving while PGs peer: compare each answer with the map of its epoch
    let mut maps = std::collections::BTreeMap::new();
    let mut objects = 0;
    for pool in ["rbd", "rbdrs-ec", "rbdrs-grow"] {
        for (name, nspace) in [
            ("rbd_directory", ""),
            ("rbd_data.1234abcd.0000000000000007", ""),
            ("benchmark_data_object_17", "ns1"),
            ("ünïcödé name", "other namespace"),
            ("x", "ns1"),
        ] {
            let mut args = vec!["osd", "map", pool, name];
            if !nspace.is_empty() {
                args.push(nspace);
            }
            let theirs = ceph_json(&args);
            let epoch = theirs["epoch"].as_u64().unwrap();
            let map = maps
                .entry(epoch)
                .or_insert_with(|| fetch_map_at(&dir, &format!("e{epoch}"), Some(epoch)).1);
            let ours = map.osd_map_command(pool, name, nspace).unwrap();
            let ours_json = serde_json::json!({
                "epoch": ours.epoch, "pool": ours.pool, "pool_id": ours.pool_id,
                "objname": ours.objname, "raw_pgid": ours.raw_pgid, "pgid": ours.pgid,
                "up": ours.up, "up_primary": ours.up_primary,
                "acting": ours.acting, "acting_primary": ours.acting_primary,
            });
            for field in ours_json.as_object().unwrap().keys() {
                assert_eq!(
                    theirs[field], ours_json[field],
                    "{pool}/{nspace}/{name}: field {field}\n ceph: {theirs}\n ours: {ours_json}"
                );
            }
            objects += 1;
        }
    }

    // put the cluster back
    if upmap_primary {
        ceph(&["osd", "rm-pg-upmap-primary", &pg4]);
    }
    ceph(&["osd", "in", "0"]);
    ceph(&["osd", "reweight", "1", "1"]);
    ceph(&["osd", "primary-affinity", "2", "1"]);
    ceph(&["osd", "rm-pg-upmap-items", &format!("{rbd}.0")]);
    ceph(&["osd", "rm-pg-upmap", &format!("{rbd}.1")]);
    // Reef and later have a command to remove it; Pacific's CLI refuses the -1 that removes
    // it, its JSON command does not
    let pg2 = format!("{rbd}.2");
    if !try_ceph_tool("ceph", &["osd", "rm-primary-temp", &pg2])
        .status
        .success()
    {
        ceph_mon_command_json(&format!(
            r#"{{"prefix": "osd primary-temp", "pgid": "{pg2}", "id": -1}}"#
        ));
    }
    for pool in ["rbdrs-ec", "rbdrs-grow"] {
        ceph(&[
            "osd",
            "pool",
            "rm",
            pool,
            pool,
            "--yes-i-really-really-mean-it",
        ]);
    }
    let (path, map) = fetch_map(&dir, "restored");
    compared += compare_all_pgs(&path, "restored");

    // our client followed all of it through incrementals: its map of the same epoch places
    // every PG of every pool as osdmaptool does with the monitor's full map
    let ours = runtime
        .block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                rados.wait_for_osdmap(map.epoch),
            )
            .await
        })
        .expect("our client reached the epoch within 10 s")
        .unwrap();
    assert!(
        ours.epoch > first_epoch + 10,
        "{} -> {}",
        first_epoch,
        ours.epoch
    );
    let (path, _) = fetch_map_at(&dir, "ours", Some(u64::from(ours.epoch)));
    let tool = reference_tool("osdmaptool");
    let mut followed = osdmap::testutil::Comparison::default();
    for &pool in ours.pools.keys() {
        followed.merge(osdmap::testutil::compare_pool_pgs(&tool, &ours, &path, pool).unwrap());
    }
    let followed = followed
        .into_result()
        .unwrap_or_else(|e| panic!("the map our client followed differs: {e}"));
    assert!(followed.pgs >= 32, "{} PGs", followed.pgs);
    runtime.block_on(rados.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(compared > 200, "only {compared} PG lines compared");
    assert_eq!(objects, 15);
}
