//! `rbd-rs trash mv|ls|rm|restore|purge` against the real cluster of `CEPH_CONF` (fails
//! without one), compared with the host's `rbd`.

use interop_tests::{rbd_tool as rbd, unique_name};

mod common;
use common::{ok, rbd_rs};

/// The lines of a listing that mention `id` (other tests use the trash too).
fn lines_with(out: &str, id: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains(id))
        .map(str::to_owned)
        .collect()
}

fn entry(out: &str, id: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// The id of the trash entry named `name` in a JSON listing.
fn id_of(out: &str, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    let e = v.as_array().unwrap().iter().find(|e| e["name"] == name);
    e.expect("the entry")["id"].as_str().unwrap().to_owned()
}

#[test]
fn trash_commands_match_rbd() {
    let name = unique_name("trash-cli");
    rbd(&[
        "create",
        "--size",
        "8M",
        "--image-feature",
        "layering",
        &name,
    ]);
    ok(&["trash", "mv", &name, "--expires-at", "2035-01-01"]);
    let id = id_of(&rbd(&["trash", "ls", "--format", "json"]), &name);
    for args in [&["trash", "ls"][..], &["trash", "ls", "-l"]] {
        assert_eq!(
            lines_with(&ok(args), &id),
            lines_with(&rbd(args), &id),
            "{args:?}"
        );
        let mut j = args.to_vec();
        j.extend(["--format", "json"]);
        assert_eq!(entry(&ok(&j), &id), entry(&rbd(&j), &id), "{j:?}");
    }
    // deferred: refused with EPERM (exit 1) by both
    assert_eq!(
        rbd_rs(&["trash", "rm", "--no-progress", &id]).status.code(),
        Some(1)
    );
    // restore under a new name, back to the trash (rbd), purge (rbd-rs) keeps it
    let back = format!("{name}-r");
    ok(&["trash", "restore", &id, "--image", &back]);
    assert!(rbd(&["info", &back, "--format", "json"]).contains(&id));
    rbd(&["trash", "mv", &back, "--expires-at", "2035-01-01"]);
    ok(&["trash", "purge", "--no-progress"]);
    assert!(!entry(&rbd(&["trash", "ls", "--format", "json"]), &id).is_null());
    ok(&[
        "trash",
        "purge",
        "--no-progress",
        "--expired-before",
        "2036-01-01",
    ]);
    assert!(entry(&rbd(&["trash", "ls", "--format", "json"]), &id).is_null());
    // forced removal of a fresh, deferred entry
    rbd(&[
        "create",
        "--size",
        "8M",
        "--image-feature",
        "layering",
        &name,
    ]);
    rbd(&["trash", "mv", &name, "--expires-at", "2035-01-01"]);
    let id2 = id_of(&ok(&["trash", "ls", "--format", "json"]), &name);
    ok(&["trash", "rm", "--no-progress", "--force", &id2]);
    assert!(entry(&rbd(&["trash", "ls", "--format", "json"]), &id2).is_null());
}

/// `trash purge --threshold` in a namespace of its own (other tests use the pool's
/// trash): at 1.0 nothing goes; at 0.0 (the pool holds data) entries not yet expired go,
/// earliest deferment end first, until their data covers the pool's usage (which other
/// tests change, so only the first is sure to go), with rbd as with rbd-rs.
#[test]
fn purge_threshold_matches_rbd() {
    for tool in ["rbd", "rbd-rs"] {
        let ns = unique_name("purge-ns");
        let pool_ns = format!("rbd/{ns}");
        rbd(&["namespace", "create", &pool_ns]);
        for (n, expires) in [("first", "2035-01-01"), ("second", "2036-01-01")] {
            let spec = format!("{pool_ns}/{n}");
            rbd(&[
                "create",
                "--size",
                "8M",
                "--image-feature",
                "layering",
                &spec,
            ]);
            rbd(&[
                "bench",
                "--io-type",
                "write",
                "--io-size",
                "1M",
                "--io-total",
                "4M",
                &spec,
            ]);
            rbd(&["trash", "mv", &spec, "--expires-at", expires]);
        }
        let purge = |threshold: &str| {
            let args = [
                "trash",
                "purge",
                "--no-progress",
                "--threshold",
                threshold,
                &pool_ns,
            ];
            if tool == "rbd" {
                rbd(&args);
            } else {
                ok(&args);
            }
        };
        let names = || -> Vec<String> {
            let v: serde_json::Value =
                serde_json::from_str(&rbd(&["trash", "ls", "--format", "json", &pool_ns])).unwrap();
            let mut n: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_owned())
                .collect();
            n.sort();
            n
        };
        purge("1");
        assert_eq!(names(), ["first", "second"], "{tool}: nothing above 1");
        purge("0");
        let left = names();
        assert!(!left.contains(&"first".to_owned()), "{tool}: {left:?}");
        rbd(&[
            "trash",
            "purge",
            "--no-progress",
            "--expired-before",
            "2037-01-01",
            &pool_ns,
        ]);
        rbd(&["namespace", "rm", &pool_ns]);
    }
    // out of range: EINVAL from both
    let o = rbd_rs(&["trash", "purge", "--threshold", "1.5", "rbd"]);
    assert_eq!(o.status.code(), Some(22), "{o:?}");
}
