//! A pool that turns full (its quota reached) on a real cluster: writes wait while the map
//! flags the pool full and are sent again once the flag lifts (Objecter's pause and
//! unpause), a write that asks to try anyway gets EDQUOT at once, and reads go on; a
//! class method that writes, called as a read (not paused), is dropped by the OSD while
//! the pool is full and sent again once it is not.

use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{ceph_tool, connect, pool_flagged_full, run, unique_name};
use rados::Errno;

/// Waits (generously: the monitors see the pool's usage through the manager's stats) until
/// the map's full flag of `pool` is `full`.
async fn wait_flag(pool: &str, full: bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while pool_flagged_full(pool) != full {
        assert!(
            Instant::now() < deadline,
            "{pool} never turned {}",
            if full { "full" } else { "writable" }
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Creates `pool`, writes 1 MiB into it and sets a 4 KiB quota; returns once the map the
/// client holds flags it full. The handle's ops time out after 300 s (a hang fails).
async fn fill_past_quota(rados: &rados::Rados, pool: &str) -> rados::IoCtx {
    rados.create_pool(pool).await.unwrap();
    ceph_tool(
        "ceph",
        &["osd", "pool", "application", "enable", pool, "rados"],
    );
    let io = rados
        .ioctx(pool)
        .await
        .unwrap()
        .with_timeout(Some(Duration::from_secs(300)));
    io.write_full("filler", Bytes::from(vec![7u8; 1 << 20]))
        .await
        .unwrap();
    ceph_tool(
        "ceph",
        &["osd", "pool", "set-quota", pool, "max_bytes", "4096"],
    );
    wait_flag(pool, true).await;
    let newest = rados.get_version("osdmap").await.unwrap().newest as u32;
    rados.wait_for_osdmap(newest).await.unwrap();
    io
}

/// Removes the quota of `pool` and waits until the map no longer flags it full.
async fn lift_quota(pool: &str) {
    ceph_tool(
        "ceph",
        &["osd", "pool", "set-quota", pool, "max_bytes", "0"],
    );
    wait_flag(pool, false).await;
}

#[test]
fn writes_wait_for_a_full_pool_and_resume_when_it_lifts() {
    run(async {
        let rados = connect().await;
        let pool = unique_name("quota");
        let io = fill_past_quota(&rados, &pool).await;

        // trying anyway: the OSD refuses at once with the quota's errno
        let mut trying = io.clone();
        trying.set_pool_full_try(true);
        let err = trying
            .write_full("tried", Bytes::from_static(b"no room"))
            .await
            .unwrap_err();
        assert!(err.is(Errno::EDQUOT), "{err}");

        // an ordinary write waits for room; reads are not held
        let writer = {
            let io = io.clone();
            tokio::spawn(async move {
                io.write_full("waited", Bytes::from_static(b"made it"))
                    .await
            })
        };
        assert_eq!(io.read("filler", 0, 4).await.unwrap()[..], [7u8; 4]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!writer.is_finished(), "a write went through a full pool");

        lift_quota(&pool).await;
        writer.await.unwrap().unwrap();
        assert_eq!(&io.read("waited", 0, 16).await.unwrap()[..], b"made it");
        assert_eq!(rados.osd_stats().1, 0, "ops left in flight");
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}

/// The OSD drops, without a reply, a write-ordered op that would add bytes to a full pool
/// (src/osd/PrimaryLogPG.cc prepare_transaction: "full, dropping request (bad client)"),
/// as it drops every write-ordered op while past its failsafe ratio. A class method that
/// writes, called as a read, is not paused by the client, so it reaches the OSD and is
/// dropped; it must be sent again when the pool is no longer full (the stall of a
/// flatten whose object_map_update an OSD at failsafe-full dropped).
#[test]
fn a_writing_class_call_dropped_while_full_is_resent_when_it_lifts() {
    run(async {
        let rados = connect().await;
        let pool = unique_name("quota-call");
        let io = fill_past_quota(&rados, &pool).await;

        // cls_hello's record_hello (RD|WR) writes "Hello, <input>!" into a new object
        let caller = {
            let io = io.clone();
            tokio::spawn(async move { io.exec("hello", "hello", "record_hello", b"full").await })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!caller.is_finished(), "a write went through a full pool");

        lift_quota(&pool).await;
        caller.await.unwrap().unwrap();
        assert_eq!(&io.read("hello", 0, 64).await.unwrap()[..], b"Hello, full!");
        assert!(rados.objecter_counters().ops_resent > 0);
        assert_eq!(rados.osd_stats().1, 0, "ops left in flight");
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}
