//! The OSD client through an OSD failure: four writers stream checksummed objects while an
//! OSD is killed (SIGKILL) and started again; every write the client acknowledged must read
//! back exactly, and no operation may outlive its timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{ceph_json, kill_daemon, restart_daemon};
use rados::{ClientConfig, Errno, PoolSpec, Rados};

const OP_TIMEOUT: Duration = Duration::from_secs(120);

/// What an object may hold: its last acknowledged content, and the contents of later
/// writes that timed out (which may or may not have landed).
type Expected = (Option<Vec<u8>>, Vec<Vec<u8>>);

fn checksummed(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect();
    // the last 8 bytes: a sum of the rest, so a torn object is obvious
    let sum: u64 = v.iter().map(|b| u64::from(*b)).sum();
    let n = v.len();
    v[n - 8..].copy_from_slice(&sum.to_le_bytes());
    v
}

/// Waits until every PG is active+clean (recovery after the restart), up to `limit`.
fn wait_clean(limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        let s = ceph_json(&["pg", "stat"]);
        let summary = if s["pg_summary"].is_object() {
            &s["pg_summary"]
        } else {
            &s
        };
        let total = summary["num_pgs"].as_u64().unwrap_or(0);
        let clean = summary["num_pg_by_state"]
            .as_array()
            .map(|states| {
                states
                    .iter()
                    .filter(|st| st["name"] == "active+clean")
                    .filter_map(|st| st["num"].as_u64())
                    .sum::<u64>()
            })
            .unwrap_or(0);
        if total > 0 && clean == total {
            return true;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    false
}

#[test]
fn writes_survive_an_osd_kill_and_restart() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let config = ClientConfig::builder()
                .conf_file(interop_tests::ceph_conf())
                .build()
                .unwrap();
            let rados = Rados::connect(config).await.unwrap();
            let pool = "rbd-rs-faults";
            if rados.pool_lookup(pool).await.is_err() {
                let spec = PoolSpec {
                    pg_num: Some(16),
                    application: Some("rados".into()),
                    ..PoolSpec::default()
                };
                rados.create_pool_with(pool, &spec).await.unwrap();
            }
            let io = rados
                .ioctx(pool)
                .await
                .unwrap()
                .with_timeout(Some(OP_TIMEOUT));
            let stop = Arc::new(AtomicBool::new(false));
            let mut writers = Vec::new();
            for w in 0..4u64 {
                let io = io.clone();
                let stop = Arc::clone(&stop);
                writers.push(tokio::spawn(async move {
                    // each writer overwrites its 16 objects in turn (a few objects keep the
                    // cluster's recovery after the restart short); per object: the last
                    // acknowledged content and the contents of later timed-out writes,
                    // which may or may not have landed
                    let mut objects: HashMap<String, Expected> = HashMap::new();
                    let mut acked = 0usize;
                    let mut timed_out = 0usize;
                    let mut slowest = Duration::ZERO;
                    let mut k = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let oid = format!("fault-{}-{w}-{}", std::process::id(), k % 16);
                        let data = checksummed(4096 + (k as usize % 7) * 1500, w * 1_000_000 + k);
                        let started = Instant::now();
                        let r = io.write_full(&oid, Bytes::from(data.clone())).await;
                        let took = started.elapsed();
                        slowest = slowest.max(took);
                        assert!(
                            took < OP_TIMEOUT + Duration::from_secs(5),
                            "{oid} took {took:?}"
                        );
                        let entry = objects.entry(oid.clone()).or_default();
                        match r {
                            Ok(()) => {
                                acked += 1;
                                *entry = (Some(data), Vec::new());
                            }
                            Err(e) if e.is(Errno::ETIMEDOUT) => {
                                timed_out += 1;
                                entry.1.push(data);
                            }
                            Err(e) => panic!("{oid}: {e}"),
                        }
                        k += 1;
                    }
                    (objects, acked, timed_out, slowest)
                }));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            eprintln!("killing osd.1");
            tokio::task::spawn_blocking(|| kill_daemon("osd.1")).await.unwrap();
            tokio::time::sleep(Duration::from_secs(8)).await;
            eprintln!("restarting osd.1");
            tokio::task::spawn_blocking(|| restart_daemon("osd.1")).await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            stop.store(true, Ordering::Relaxed);
            let mut all = HashMap::new();
            let mut total = 0;
            for (w, t) in writers.into_iter().enumerate() {
                let (objects, acked, timed_out, slowest) = t.await.unwrap();
                eprintln!(
                    "writer {w}: {acked} writes acknowledged, {timed_out} timed out, slowest {slowest:?}"
                );
                total += acked;
                all.extend(objects);
            }
            assert!(total > 40, "too few writes went through: {total}");
            for (oid, (last, maybe)) in &all {
                let back = io.read(oid, 0, 1 << 20).await;
                let ok = match (&back, last) {
                    (Ok(b), Some(d)) => b[..] == d[..] || maybe.iter().any(|m| b[..] == m[..]),
                    (Ok(b), None) => maybe.iter().any(|m| b[..] == m[..]),
                    (Err(e), None) => e.is(Errno::ENOENT),
                    (Err(_), Some(_)) => false,
                };
                assert!(ok, "{oid} does not hold its last acknowledged write");
            }
            eprintln!(
                "{total} acknowledged writes; the last of each of {} objects reads back exactly",
                all.len()
            );
            assert_eq!(rados.osd_stats().1, 0, "ops left in flight");
            for oid in all.keys() {
                let _ = io.remove(oid).await;
            }
            rados.shutdown().await;
        });
    assert!(
        wait_clean(Duration::from_secs(120)),
        "the cluster did not recover"
    );
}
