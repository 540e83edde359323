//! What the CLI tests share: running the `rbd-rs` under test against the cluster of
//! `CEPH_CONF`. (Each test file uses a part of it.)
#![allow(dead_code)]

use std::process::{Command, Output};

use interop_tests::ceph_conf;

/// Runs `rbd-rs -c $CEPH_CONF ARGS` (without any `CEPH_ARGS` of the caller's).
pub fn rbd_rs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(ceph_conf())
        .args(args)
        .env_remove("CEPH_ARGS")
        .output()
        .expect("running rbd-rs")
}

/// Runs `rbd-rs ARGS`, which must succeed; its stdout as text.
pub fn ok(args: &[&str]) -> String {
    let o = rbd_rs(args);
    assert!(
        o.status.success(),
        "rbd-rs {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}
