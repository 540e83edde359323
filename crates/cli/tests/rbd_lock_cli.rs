//! `rbd-rs lock add|ls|rm` against the real cluster of `CEPH_CONF` (fails without one),
//! compared with the host's `rbd`.

use interop_tests::{rbd_tool as rbd, try_ceph_tool, unique_name};

mod common;
use common::{ok, rbd_rs};

fn same_listing(name: &str) {
    assert_eq!(ok(&["lock", "ls", name]), rbd(&["lock", "ls", name]));
    assert_eq!(
        ok(&["lock", "ls", name, "--format", "json"]),
        rbd(&["lock", "ls", name, "--format", "json"])
    );
}

#[test]
fn lock_add_ls_rm_match_rbd() {
    let name = unique_name("lock-cli");
    rbd(&[
        "create",
        "--size",
        "8M",
        "--image-feature",
        "layering",
        &name,
    ]);
    same_listing(&name);
    // exclusive, taken by rbd-rs, refused to rbd (EBUSY, exit 16), both ways
    ok(&["lock", "add", &name, "c1"]);
    same_listing(&name);
    assert_eq!(
        try_ceph_tool("rbd", &["lock", "add", &name, "c2"])
            .status
            .code(),
        Some(16)
    );
    assert_eq!(
        rbd_rs(&["lock", "add", &name, "c2"]).status.code(),
        Some(16)
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["lock", "ls", &name, "--format", "json"])).unwrap();
    let client = j[0]["locker"].as_str().unwrap().to_owned();
    // rbd removes what rbd-rs added (the dead holder's address is blocklisted)
    rbd(&["lock", "rm", &name, "c1", &client]);
    same_listing(&name);
    // shared locks of two holders, then rbd-rs removes rbd's
    rbd(&["lock", "add", "--shared", "tg", &name, "s1"]);
    ok(&["lock", "add", "--shared", "tg", &name, "s2"]);
    assert_eq!(
        rbd_rs(&["lock", "add", "--shared", "zz", &name, "s3"])
            .status
            .code(),
        Some(16)
    );
    same_listing(&name);
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["lock", "ls", &name, "--format", "json"])).unwrap();
    for l in j.as_array().unwrap() {
        let (id, locker) = (l["id"].as_str().unwrap(), l["locker"].as_str().unwrap());
        ok(&["lock", "rm", &name, id, locker]);
    }
    assert_eq!(
        rbd_rs(&["lock", "rm", &name, "s1", "client.bad"])
            .status
            .code(),
        Some(22)
    );
    assert_eq!(
        rbd_rs(&["lock", "rm", &name, "s1", "client.1"])
            .status
            .code(),
        Some(2)
    );
    same_listing(&name);
    assert_eq!(ok(&["lock", "ls", &name]), "");
    rbd(&["rm", "--no-progress", &name]);
}
