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
