//! Clones against the real cluster of `CEPH_CONF`, both directions: clones made by `rbd
//! clone` (v1 and v2, other striping than the parent's, chains) are read byte-identically
//! and written here (copyup), then `rbd export` and `rbd object-map check` judge the
//! result; clones made here (other namespace, v1 and v2) are read and written by librbd
//! (python3-rbd) and listed by `rbd children`; flatten through either tool.

use interop_tests::{
    ceph_tool, connect, pattern, rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run,
    scratch_dir, tool_view, unique_name,
};
use rbd::{CloneOptions, OpenMode, Rbd};

/// Parent content: data with a hole of two objects in the middle (sparse parent).
fn parent_content(size: usize, obj: usize, seed: u64) -> Vec<u8> {
    let mut d = pattern(size, seed);
    for b in &mut d[obj..3 * obj] {
        *b = 0;
    }
    d
}

fn export(image: &str, dir: &std::path::Path, tag: &str) -> Vec<u8> {
    let out = dir.join(tag);
    let _ = std::fs::remove_file(&out);
    ceph_tool("rbd", &["export", image, &tool_view(&out)]);
    std::fs::read(&out).unwrap()
}

fn import(image: &str, dir: &std::path::Path, data: &[u8], extra: &[&str]) {
    let file = dir.join(format!("in-{image}"));
    std::fs::write(&file, data).unwrap();
    let f = tool_view(&file);
    let mut args = vec!["import"];
    args.extend(extra);
    args.extend([f.as_str(), image]);
    ceph_tool("rbd", &args);
}

/// Runs python3-rbd `code` with `io` (pool rbd, namespace `ns`) open; returns stdout.
fn py(ns: &str, code: &str) -> Vec<u8> {
    let script = format!(
        "import rados, rbd, sys\n\
         c = rados.Rados(conffile='{}'); c.connect()\n\
         io = c.open_ioctx('rbd'); io.set_namespace('{ns}')\n\
         {code}\n\
         io.close(); c.shutdown()\n",
        interop_tests::tool_conf()
    );
    let o = interop_tests::python3()
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn snap_and_protect(parent: &str, protect: bool) {
    rbd(&["snap", "create", &format!("{parent}@s")]);
    if protect {
        rbd(&["snap", "protect", &format!("{parent}@s")]);
    }
}

fn drop_parent(parent: &str, protected: bool) {
    if protected {
        rbd(&["snap", "unprotect", &format!("{parent}@s")]);
    }
    rbd(&["snap", "rm", &format!("{parent}@s")]);
    rbd(&["rm", parent]);
}

/// Writes done to a clone here and mirrored on `want`: a partial object (copyup of the
/// rest), a whole object, a discard of part of an object, a write-zeroes of a whole
/// object the parent backs (must not show the parent), a write at the end.
async fn write_clone(image: &rbd::Image, want: &mut [u8], obj: usize) {
    let at = want.len() - 300;
    // compare-and-write on an object only the parent has: compared with the parent's bytes
    let at_cw = 5 * obj + 10;
    let old = want[at_cw..at_cw + 16].to_vec();
    let new = pattern(16, 80);
    let n = image
        .compare_and_write(at_cw as u64, old, new.clone())
        .await
        .unwrap();
    assert_eq!(n, 16);
    want[at_cw..at_cw + 16].copy_from_slice(&new);
    let mut put = |off: usize, data: &[u8]| {
        want[off..off + data.len()].copy_from_slice(data);
    };
    let a = pattern(1000, 77);
    image.write((obj + 100) as u64, a.clone()).await.unwrap();
    put(obj + 100, &a);
    let whole = pattern(obj, 78);
    image.write(3 * obj as u64, whole.clone()).await.unwrap();
    put(3 * obj, &whole);
    image.discard(10, 5000).await.unwrap();
    put(10, &vec![0; 5000]);
    image
        .write_zeroes(4 * obj as u64, obj as u64)
        .await
        .unwrap();
    put(4 * obj, &vec![0; obj]);
    let tail = pattern(300, 79);
    image.write(at as u64, tail.clone()).await.unwrap();
    put(at, &tail);
}

#[test]
fn clones_made_by_rbd_read_and_written_here() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("rbd-clones");
        let obj = 1usize << 20;
        let size = 6 * obj + 5000;
        // (clone format, parent import args, clone args)
        let cases: &[(u8, &[&str], &[&str])] = &[
            (1, &["--order", "20"], &[]),
            (
                2,
                &["--order", "20"],
                &[
                    "--order",
                    "20",
                    "--stripe-unit",
                    "65536",
                    "--stripe-count",
                    "3",
                ],
            ),
            (
                2,
                &["--order", "20", "--image-feature", "layering"],
                &["--image-feature", "layering"],
            ),
        ];
        for (i, &(format, pargs, cargs)) in cases.iter().enumerate() {
            let parent = unique_name("clone-parent");
            let child = unique_name("clone-child");
            let data = parent_content(size, obj, i as u64 + 1);
            import(&parent, &dir, &data, pargs);
            snap_and_protect(&parent, format == 1);
            let fmt = format.to_string();
            let mut args = vec!["clone", "--rbd-default-clone-format", &fmt];
            args.extend(cargs);
            let spec = format!("{parent}@s");
            args.extend([spec.as_str(), child.as_str()]);
            rbd(&args);

            // a snapshot of the child before the writes: copyups must keep the parent's
            // bytes in it (deep copyup), and flatten too (deep-flatten)
            let with_snap = i < 2;
            let csnap = format!("{child}@cs");
            if with_snap {
                rbd(&["snap", "create", &csnap]);
            }
            let image = pool.open(&child, OpenMode::ReadWrite).await.unwrap();
            let pi = image.info().parent.clone().expect("a parent");
            assert_eq!(pi.overlap, size as u64);
            assert_eq!(image.parent_overlap(), size as u64);
            let got = image.read(0, size as u64).await.unwrap();
            assert!(
                got[..] == data[..],
                "case {i}: clone reads differ from the parent"
            );
            let mut want = data.clone();
            write_clone(&image, &mut want, obj).await;
            let got = image.read(0, size as u64).await.unwrap();
            assert!(got[..] == want[..], "case {i}: reads after writes");
            image.close().await.unwrap();
            assert!(
                export(&child, &dir, "x1") == want,
                "case {i}: rbd export after writes"
            );
            let j = rbd_json(&["info", &child]);
            let has_map = j["features"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "object-map");
            if has_map {
                rbd(&["object-map", "check", &child]);
            }
            if with_snap {
                assert!(
                    export(&csnap, &dir, "xs") == data,
                    "case {i}: child snapshot"
                );
                if has_map {
                    rbd(&["object-map", "check", &csnap]);
                }
            }
            // a second clone of the same snapshot stays the parent's
            let child2 = unique_name("clone-child2");
            rbd(&["clone", "--rbd-default-clone-format", &fmt, &spec, &child2]);
            assert!(
                export(&child2, &dir, "x2") == data,
                "case {i}: untouched clone"
            );
            // flatten: here for v2, by rbd for v1
            if format == 2 {
                let mut image = pool.open(&child, OpenMode::ReadWrite).await.unwrap();
                let mut calls = 0;
                image.flatten(|_, _| calls += 1).await.unwrap();
                assert!(calls > 0);
                assert!(image.info().parent.is_none());
                image.close().await.unwrap();
                if has_map {
                    rbd(&["object-map", "check", &child]);
                }
            } else {
                rbd(&["flatten", &child]);
            }
            let j = rbd_json(&["info", &child]);
            assert!(j.get("parent").is_none(), "case {i}: still a parent: {j}");
            assert!(
                export(&child, &dir, "x3") == want,
                "case {i}: after flatten"
            );
            let image = pool.open(&child, OpenMode::ReadOnly).await.unwrap();
            assert!(image.read(0, size as u64).await.unwrap()[..] == want[..]);
            image.close().await.unwrap();
            if with_snap {
                assert!(
                    export(&csnap, &dir, "xs2") == data,
                    "case {i}: snapshot after flatten"
                );
                rbd(&["snap", "rm", &csnap]);
            }
            rbd(&["rm", &child]);
            // removed here: off the parent's children list (else the snapshot stays busy)
            pool.remove(&child2).await.unwrap();
            drop_parent(&parent, format == 1);
        }
        rados.shutdown().await;
    });
}

#[test]
fn clone_chains_read_through() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("rbd-chain");
        let obj = 1usize << 16;
        let size = 10 * obj;
        let base = unique_name("chain-base");
        let mid = unique_name("chain-mid");
        let top = unique_name("chain-top");
        let data = parent_content(size, obj, 9);
        import(&base, &dir, &data, &["--order", "16"]);
        snap_and_protect(&base, false);
        rbd(&[
            "clone",
            "--rbd-default-clone-format",
            "2",
            &format!("{base}@s"),
            &mid,
        ]);
        // the middle layer: some objects of its own (written by librbd), then shrunk
        let own = pattern(3 * obj, 10);
        let own_file = dir.join("own");
        std::fs::write(&own_file, &own).unwrap();
        py(
            "",
            &format!(
                "with rbd.Image(io, '{mid}') as im:\n    im.write(open('{}', 'rb').read(), {})\n    im.resize({})",
                tool_view(&own_file),
                4 * obj + 17,
                8 * obj + 3
            ),
        );
        let mut want = data.clone();
        want[4 * obj + 17..7 * obj + 17].copy_from_slice(&own);
        want.truncate(8 * obj + 3);
        snap_and_protect(&mid, false);
        rbd(&[
            "clone",
            "--rbd-default-clone-format",
            "2",
            "--order",
            "17",
            &format!("{mid}@s"),
            &top,
        ]);
        rbd(&["resize", "--size", &format!("{}B", size + 3 * obj), &top]);
        want.resize(size + 3 * obj, 0);
        let image = pool.open(&top, OpenMode::ReadWrite).await.unwrap();
        let got = image.read(0, want.len() as u64).await.unwrap();
        assert!(got[..] == want[..], "chain reads differ");
        // writes on both sides of the overlap (8 objects + 3 bytes of the middle image)
        for (at, seed) in [(8 * obj - 100, 31u64), (size + obj, 32), (2 * obj + 5, 33)] {
            let d = pattern(300, seed);
            image.write(at as u64, d.clone()).await.unwrap();
            want[at..at + 300].copy_from_slice(&d);
        }
        assert!(image.read(0, want.len() as u64).await.unwrap()[..] == want[..]);
        image.close().await.unwrap();
        rbd(&["object-map", "check", &top]);
        assert!(export(&top, &dir, "top") == want);
        rbd(&["rm", &top]);
        rbd(&["snap", "rm", &format!("{mid}@s")]);
        rbd(&["rm", &mid]);
        drop_parent(&base, false);
        rados.shutdown().await;
    });
}

#[test]
fn clones_made_here_seen_by_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("rbd-clones-here");
        let ns = unique_name("ns");
        rbd(&["namespace", "create", &format!("rbd/{ns}")]);
        let ns_pool = Rbd::new(rados.ioctx("rbd").await.unwrap().with_namespace(ns.clone()));
        let obj = 1usize << 22;
        let size = 3 * obj + 4096;
        let parent = unique_name("here-parent");
        let data = parent_content(size, obj / 4, 21);
        import(&parent, &dir, &data, &[]);
        snap_and_protect(&parent, true);
        // v1 beside the parent, v2 in another namespace
        let c1 = unique_name("here-v1");
        let c2 = unique_name("here-v2");
        let v1 = CloneOptions {
            format: Some(1),
            ..CloneOptions::default()
        };
        let v2 = CloneOptions {
            format: Some(2),
            ..CloneOptions::default()
        };
        pool.clone_image(&pool, &parent, "s", &c1, &v1)
            .await
            .unwrap();
        ns_pool
            .clone_image(&pool, &parent, "s", &c2, &v2)
            .await
            .unwrap();
        let j = rbd_json(&["info", &c1]);
        assert_eq!(j["parent"]["image"], parent.as_str());
        assert_eq!(j["parent"]["snapshot"], "s");
        assert_eq!(j["parent"]["overlap"], size as u64);
        assert!(j["op_features"].as_array().unwrap().is_empty(), "{j}");
        let j = rbd_json(&["info", &format!("rbd/{ns}/{c2}")]);
        assert_eq!(j["parent"]["image"], parent.as_str());
        assert_eq!(j["parent"]["pool_namespace"], "");
        assert_eq!(j["op_features"], serde_json::json!(["clone-child"]));
        let j = rbd_json(&["info", &parent]);
        assert_eq!(j["op_features"], serde_json::json!(["clone-parent"]));
        // rbd children (both formats) and ours agree
        let kids = rbd_json(&["children", &format!("{parent}@s")]);
        let mut theirs: Vec<(String, String)> = kids
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["pool_namespace"].as_str().unwrap_or("").to_owned(),
                    k["image"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        theirs.sort();
        let p = pool.open(&parent, OpenMode::ReadOnly).await.unwrap();
        let mut ours: Vec<(String, String)> = p
            .list_children("s")
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.pool_namespace, c.image_name))
            .collect();
        ours.sort();
        assert_eq!(ours, theirs);
        p.close().await.unwrap();
        // librbd reads what the parent had, writes; we read its writes
        for (ns_of, name) in [("", &c1), (ns.as_str(), &c2)] {
            let read = py(
                ns_of,
                &format!(
                    "with rbd.Image(io, '{name}', read_only=True) as im:\n    sys.stdout.buffer.write(im.read(0, {size}))"
                ),
            );
            assert!(read == data, "librbd reads of {name}");
            py(
                ns_of,
                &format!(
                    "with rbd.Image(io, '{name}') as im:\n    im.write(b'librbd was here', {})",
                    obj + 5
                ),
            );
            let rbd_of = if ns_of.is_empty() {
                pool.clone()
            } else {
                ns_pool.clone()
            };
            let image = rbd_of.open(name, OpenMode::ReadWrite).await.unwrap();
            let mut want = data.clone();
            want[obj + 5..obj + 20].copy_from_slice(b"librbd was here");
            assert!(image.read(0, size as u64).await.unwrap()[..] == want[..]);
            image.write(7, &b"rbd-rs"[..]).await.unwrap();
            want[7..13].copy_from_slice(b"rbd-rs");
            image.close().await.unwrap();
            let spec = if ns_of.is_empty() {
                name.to_string()
            } else {
                format!("rbd/{ns}/{name}")
            };
            assert!(export(&spec, &dir, "e") == want, "export of {spec}");
            rbd(&["object-map", "check", &spec]);
            // flatten by rbd
            rbd(&["flatten", &spec]);
            assert!(rbd_json(&["info", &spec]).get("parent").is_none());
            let mut image = rbd_of.open(name, OpenMode::ReadOnly).await.unwrap();
            image.refresh().await.unwrap();
            assert!(image.info().parent.is_none());
            assert!(image.read(0, size as u64).await.unwrap()[..] == want[..]);
            image.close().await.unwrap();
            rbd(&["rm", &spec]);
        }
        // a clone of the default format, removed here
        let c3 = unique_name("here-auto");
        pool.clone_image(&pool, &parent, "s", &c3, &CloneOptions::default())
            .await
            .unwrap();
        assert!(rbd(&["children", &format!("{parent}@s")]).contains(&c3));
        pool.remove(&c3).await.unwrap();
        assert!(!rbd(&["children", &format!("{parent}@s")]).contains(&c3));
        let p = pool.open(&parent, OpenMode::ReadOnly).await.unwrap();
        assert!(p.list_children("s").await.unwrap().is_empty());
        p.close().await.unwrap();
        drop_parent(&parent, true);
        rbd(&["namespace", "remove", &format!("rbd/{ns}")]);
        rados.shutdown().await;
    });
}
