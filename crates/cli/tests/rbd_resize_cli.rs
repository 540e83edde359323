//! `rbd-rs resize` against the real cluster of `CEPH_CONF` (fails without one), checked
//! with the host's `rbd` and `rados`: a shrink with `--allow-shrink` trims the data past
//! the new end (the progress it draws only shows on a terminal: none here), a grow keeps
//! the data, and both are seen by `rbd info` / `rbd export`.

use interop_tests::{pattern, rbd_tool as rbd, scratch_dir, serial, try_ceph_tool, unique_name};

mod common;
use common::{ok, rbd_rs};

const OBJ: usize = 1 << 20;

fn object_exists(prefix: &str, n: usize) -> bool {
    let oid = format!("{prefix}.{n:016x}");
    try_ceph_tool("rados", &["-p", "rbd", "stat", &oid])
        .status
        .success()
}

fn export(name: &str, dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join(unique_name("exp"));
    rbd(&[
        "export",
        name,
        &interop_tests::tool_view(&out),
        "--no-progress",
    ]);
    let data = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    data
}

#[test]
fn shrink_and_grow() {
    let _serial = serial();
    let dir = scratch_dir("rbd-resize-cli");
    for features in ["layering", "layering,exclusive-lock,object-map,fast-diff"] {
        let data = pattern(8 * OBJ, 7);
        let src = dir.join("resize-src");
        std::fs::write(&src, &data).unwrap();
        let name = unique_name("cli-resize");
        rbd(&[
            "import",
            &interop_tests::tool_view(&src),
            &name,
            "--object-size",
            "1M",
            "--image-feature",
            features,
            "--no-progress",
        ]);
        let info: serde_json::Value =
            serde_json::from_str(&rbd(&["info", &name, "--format", "json"])).unwrap();
        let prefix = info["block_name_prefix"].as_str().unwrap().to_owned();

        let o = rbd_rs(&["resize", "--size", "2M", &name]);
        assert!(!o.status.success(), "shrinking needs --allow-shrink");
        let o = rbd_rs(&["resize", "--size", "2560K", "--allow-shrink", &name]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // stderr is no terminal: no progress drawn
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("Resizing image"), "{err}");
        assert!(rbd(&["info", &name]).contains("size 2.5 MiB in 3 objects"));
        for n in 3..8 {
            assert!(
                !object_exists(&prefix, n),
                "object {n} past the end ({features})"
            );
        }
        assert!(object_exists(&prefix, 2));
        let keep = 2 * OBJ + OBJ / 2;
        assert!(export(&name, &dir) == data[..keep]);

        ok(&["resize", "--size", "4M", &name]);
        let mut want = data[..keep].to_vec();
        want.resize(4 * OBJ, 0);
        assert!(export(&name, &dir) == want, "grown back ({features})");
        if features.contains("object-map") {
            rbd(&["object-map", "check", &name]);
        }
        ok(&["rm", "--no-progress", &name]);
    }
}
