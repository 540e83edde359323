//! `rbd-rs feature enable|disable` and `rbd-rs object-map rebuild|check` against the real
//! cluster of `CEPH_CONF` (fails without one), compared with the host's `rbd`: the same
//! features and clear flags in `rbd info`, `rbd object-map check` passing, and refusals
//! with rbd's exit status and message.

use interop_tests::{rbd_tool as rbd, serial, try_ceph_tool, unique_name};

mod common;
use common::{ok, rbd_rs};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn info(spec: &str) -> serde_json::Value {
    json(&rbd(&["info", spec, "--format", "json"]))
}

/// A layering image of 8 MiB with 1 MiB objects, 3 MiB written by `rbd bench`, and a
/// snapshot after the first 2 MiB.
fn make_image(label: &str) -> String {
    let name = unique_name(label);
    rbd(&[
        "create",
        "--size",
        "8M",
        "--object-size",
        "1M",
        "--image-feature",
        "layering",
        &name,
    ]);
    let write = |total: &str| {
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
            total,
            &name,
        ])
    };
    write("2M");
    rbd(&["snap", "create", "--no-progress", &format!("{name}@s1")]);
    write("3M");
    name
}

fn assert_valid(spec: &str) {
    let o = try_ceph_tool("rbd", &["object-map", "check", "--no-progress", spec]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(info(spec)["flags"], serde_json::json!([]), "{spec}");
}

#[test]
fn enable_and_disable_like_rbd() {
    let _serial = serial();
    let name = make_image("feat-cli");
    ok(&[
        "feature",
        "enable",
        &name,
        "exclusive-lock",
        "object-map",
        "fast-diff",
    ]);
    let i = info(&name);
    assert_eq!(
        i["features"],
        serde_json::json!(["layering", "exclusive-lock", "object-map", "fast-diff"])
    );
    assert_eq!(i["flags"], serde_json::json!([]));
    let mine = json(&ok(&["info", &name, "--format", "json"]));
    assert_eq!(
        (&mine["features"], &mine["flags"]),
        (&i["features"], &i["flags"])
    );
    assert_valid(&name);
    assert_valid(&format!("{name}@s1"));
    ok(&["object-map", "check", "--no-progress", &name]);
    ok(&[
        "object-map",
        "check",
        "--no-progress",
        &format!("{name}@s1"),
    ]);
    // one call, all three, in the right order
    ok(&[
        "feature",
        "disable",
        &name,
        "object-map",
        "fast-diff",
        "exclusive-lock",
    ]);
    assert_eq!(info(&name)["features"], serde_json::json!(["layering"]));
    let mine = json(&ok(&["info", &name, "--format", "json"]));
    assert_eq!(mine["features"], serde_json::json!(["layering"]));

    // librbd's enable leaves the maps invalid; rbd-rs rebuilds them
    rbd(&["feature", "enable", &name, "exclusive-lock,object-map"]);
    assert_eq!(
        info(&name)["flags"],
        serde_json::json!(["object map invalid", "fast diff invalid"])
    );
    let mine = json(&ok(&["info", &name, "--format", "json"]));
    assert_eq!(
        mine["flags"],
        serde_json::json!(["object map invalid", "fast diff invalid"])
    );
    ok(&["object-map", "rebuild", "--no-progress", &name]);
    ok(&[
        "object-map",
        "rebuild",
        "--no-progress",
        &format!("{name}@s1"),
    ]);
    assert_valid(&name);
    assert_valid(&format!("{name}@s1"));
    rbd(&["snap", "purge", "--no-progress", &name]);
    rbd(&["rm", "--no-progress", &name]);
}

/// The reason librbd logged (the text after `librbd::<Request>: `), if any.
fn librbd_reason(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.split_once("librbd::").map(|(_, r)| r.to_owned()))
        .and_then(|r| r.split_once(": ").map(|(_, why)| why.trim().to_owned()))
}

#[test]
fn refusals_like_rbd() {
    let _serial = serial();
    let name = make_image("feat-cli-err");
    let cases: &[&[&str]] = &[
        &["enable", "layering"],
        &["enable", "striping"],
        &["enable", "deep-flatten"],
        &["enable", "object-map"],
        &["enable", "journaling"],
        &["disable", "exclusive-lock"],
        &["disable", "layering"],
    ];
    for case in cases {
        let mut args = vec!["feature", case[0], &name];
        args.extend(&case[1..]);
        let theirs = try_ceph_tool("rbd", &args);
        let ours = rbd_rs(&args);
        let (t_err, o_err) = (
            String::from_utf8_lossy(&theirs.stderr).into_owned(),
            String::from_utf8_lossy(&ours.stderr).into_owned(),
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{args:?}: rbd said {t_err}, rbd-rs said {o_err}"
        );
        assert!(
            o_err.contains("rbd: failed to update image features: (22) Invalid argument"),
            "{args:?}: {o_err}"
        );
        if let Some(why) = librbd_reason(&t_err) {
            assert!(o_err.contains(&why), "{args:?}: want {why:?} in {o_err}");
        }
    }
    // no state changed
    assert_eq!(info(&name)["features"], serde_json::json!(["layering"]));
    // an unknown name: rbd's usage error
    let o = rbd_rs(&["feature", "enable", &name, "bogus"]);
    assert_eq!(o.status.code(), Some(1));
    // rebuilding needs the feature (EINVAL)
    let o = rbd_rs(&["object-map", "rebuild", "--no-progress", &name]);
    let t = try_ceph_tool("rbd", &["object-map", "rebuild", "--no-progress", &name]);
    assert_eq!(o.status.code(), t.status.code());
    assert!(String::from_utf8_lossy(&o.stderr).contains("rebuilding object map failed"));
    rbd(&["snap", "purge", "--no-progress", &name]);
    rbd(&["rm", "--no-progress", &name]);
}
