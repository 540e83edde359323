//! Commands that free space go through a pool whose quota is reached, as rbd's do (its
//! `rm`, `snap rm` / `purge` / `unprotect` and `trash rm` / `purge` set
//! `pool_full_try`): against the real cluster of `CEPH_CONF` (fails without one),
//! side by side with the host's `rbd`.

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use interop_tests::{ceph_conf, ceph_tool, pool_flagged_full, rbd_tool as rbd, unique_name};

mod common;
use common::ok;

/// Runs `rbd-rs ARGS`, which must succeed within `limit` (a command that waits for room
/// in a full pool would wait forever).
fn ok_within(args: &[&str], limit: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(ceph_conf())
        .args(args)
        .env_remove("CEPH_ARGS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "rbd-rs {args:?}: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rbd-rs {args:?} still waiting after {limit:?} on a full pool");
        }
        sleep(Duration::from_millis(200));
    }
}

/// `rbd-rs bench` writes `total` into `spec` in 4 MiB writes.
fn write(spec: &str, total: &str) {
    ok(&[
        "bench",
        "--io-type",
        "write",
        "--io-size",
        "4M",
        "--io-total",
        total,
        spec,
    ]);
}

fn wait_full(pool: &str, full: bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while pool_flagged_full(pool) != full {
        assert!(Instant::now() < deadline, "{pool} never turned full={full}");
        sleep(Duration::from_secs(1));
    }
}

/// Drops the pool (quota lifted first) however the test ends.
struct Pool(String);

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = interop_tests::try_ceph_tool(
            "ceph",
            &["osd", "pool", "set-quota", &self.0, "max_bytes", "0"],
        );
        let _ = interop_tests::try_ceph_tool(
            "ceph",
            &[
                "osd",
                "pool",
                "rm",
                &self.0,
                &self.0,
                "--yes-i-really-really-mean-it",
            ],
        );
    }
}

#[test]
fn removals_go_through_a_full_pool_like_rbd() {
    let pool = Pool(unique_name("full-rm"));
    let p = pool.0.as_str();
    ceph_tool("ceph", &["osd", "pool", "create", p, "8"]);
    rbd(&["pool", "init", p]);
    let (ours, theirs) = (format!("{p}/ours"), format!("{p}/theirs"));
    for spec in [&ours, &theirs] {
        rbd(&["create", "--size", "16M", spec]);
        write(spec, "16M");
        rbd(&["snap", "create", &format!("{spec}@s1")]);
        rbd(&["snap", "create", &format!("{spec}@s2")]);
        rbd(&["snap", "protect", &format!("{spec}@s2")]);
        write(spec, "8M");
    }
    rbd(&["create", "--size", "8M", &format!("{p}/trashed-ours")]);
    rbd(&["create", "--size", "8M", &format!("{p}/trashed-theirs")]);
    rbd(&["trash", "mv", &format!("{p}/trashed-ours")]);
    rbd(&["trash", "mv", &format!("{p}/trashed-theirs")]);
    ceph_tool(
        "ceph",
        &["osd", "pool", "set-quota", p, "max_bytes", "4096"],
    );
    wait_full(p, true);

    let limit = Duration::from_secs(120);
    // a snapshot removed, a protected one unprotected, the rest purged, the image removed
    ok_within(&["snap", "rm", &format!("{ours}@s1")], limit);
    rbd(&["snap", "rm", &format!("{theirs}@s1")]);
    ok_within(&["snap", "unprotect", &format!("{ours}@s2")], limit);
    rbd(&["snap", "unprotect", &format!("{theirs}@s2")]);
    ok_within(&["snap", "purge", &ours], limit);
    rbd(&["snap", "purge", &theirs]);
    ok_within(&["rm", &ours], limit);
    rbd(&["rm", &theirs]);
    // trash entries by id
    let ids = rbd(&["trash", "ls", p]);
    for line in ids.lines() {
        let (id, name) = line.split_once(' ').unwrap();
        let spec = format!("{p}/{id}");
        if name == "trashed-ours" {
            ok_within(&["trash", "rm", &spec], limit);
        } else {
            rbd(&["trash", "rm", &spec]);
        }
    }
    assert_eq!(rbd(&["ls", p]), "");
    assert_eq!(rbd(&["trash", "ls", p]), "");
    assert!(pool_flagged_full(p), "the pool stayed full throughout");
}
