//! A `rados bench`-like measurement of small ops through the API: `T` ops in flight,
//! 4 KiB writes (one new object each, as `rados bench write` does) for `SECS` seconds,
//! then random 4 KiB reads of those objects for `SECS` seconds; ops/s, latency and the
//! process's CPU time per op.
//!
//!     CEPH_CONF=... cargo run --release -p rados --example bench4k -- POOL [SECS] [T] [SIZE]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// User + system CPU seconds of this process (/proc/self/stat, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // fields after the command: state is 0, utime is 11, stime is 12
    (ticks(11) + ticks(12)) / 100.0
}

async fn phase(
    name: &str,
    io: &rados::IoCtx,
    secs: u64,
    inflight: usize,
    size: usize,
    objects: Arc<AtomicU64>,
    write: bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let ops = Arc::new(AtomicU64::new(0));
    let lat_ns = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let data = Bytes::from(vec![0x5au8; size]);
    let mut tasks = Vec::new();
    for w in 0..inflight as u64 {
        let (io, ops, lat_ns, objects, data) = (
            io.clone(),
            Arc::clone(&ops),
            Arc::clone(&lat_ns),
            Arc::clone(&objects),
            data.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut x = w.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            while Instant::now() < deadline {
                let t = Instant::now();
                if write {
                    let n = objects.fetch_add(1, Ordering::Relaxed);
                    io.write_full(&format!("bench4k-object{n}"), data.clone())
                        .await
                        .expect("write");
                } else {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let n = x % objects.load(Ordering::Relaxed).max(1);
                    io.read(&format!("bench4k-object{n}"), 0, size as u64)
                        .await
                        .expect("read");
                }
                lat_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let n = ops.load(Ordering::Relaxed);
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{name}: {n} ops in {secs:.1} s = {:.0} ops/s, avg latency {:.3} ms, CPU {:.1} us/op",
        n as f64 / secs,
        lat_ns.load(Ordering::Relaxed) as f64 / n.max(1) as f64 / 1e6,
        cpu * 1e6 / n.max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pool = args.get(1).cloned().unwrap_or_else(|| "rbd".into());
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let inflight: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let size: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = rados::ClientConfig::from_env().expect("configuration");
        let rados = rados::Rados::connect(config).await.expect("connect");
        let io = rados.ioctx(&pool).await.expect("pool");
        let objects = Arc::new(AtomicU64::new(0));
        phase(
            "write",
            &io,
            secs,
            inflight,
            size,
            Arc::clone(&objects),
            true,
        )
        .await;
        phase(
            "rand read",
            &io,
            secs,
            inflight,
            size,
            Arc::clone(&objects),
            false,
        )
        .await;
        let n = objects.load(Ordering::Relaxed);
        let mut removals = Vec::new();
        for i in 0..n {
            let io = io.clone();
            removals.push(tokio::spawn(async move {
                let _ = io.remove(&format!("bench4k-object{i}")).await;
            }));
            if removals.len() >= 64 {
                for r in removals.drain(..) {
                    let _ = r.await;
                }
            }
        }
        for r in removals {
            let _ = r.await;
        }
        rados.shutdown().await;
    });
}
