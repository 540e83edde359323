//! A client starved of CPU for longer than the OSDs' watch timeout (a process stopped
//! with SIGSTOP, or starved on an overloaded host: the open "pause stall" of issue 5).
//! The OSD drops its header watch meanwhile (no pings for `osd_client_watch_timeout`,
//! 30 s). Afterwards the client must notice, watch the header again, keep writing, hold
//! the exclusive lock under a cookie that names its live watch (a lock naming a dead
//! watch is broken, and its holder blocklisted, by the next client that wants it), and
//! close; every step within a generous bound instead of hanging.

use std::time::Duration;

use bytes::Bytes;
use interop_tests::{ceph_tool, connect, init_tracing, pattern, rbd_pool, unique_name};
use rbd::exclusive_lock::{LOCK_NAME, decode_cookie};
use rbd::{CreateOptions, OpenMode};

/// Far beyond what any step needs even on a loaded machine: reaching it means a hang.
const BOUND: Duration = Duration::from_secs(150);

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {BOUND:?}"))
}

#[test]
fn a_client_starved_past_its_watch_timeout_recovers_its_watch_and_lock() {
    init_tracing();
    // one thread: blocking it stops the client entirely (pings, timers, sockets), as a
    // stopped process is stopped
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let rados = connect().await;
        let pool = rbd_pool(&rados).await;
        let name = unique_name("starved");
        pool.create(
            &name,
            &CreateOptions {
                size: 64 << 20,
                ..CreateOptions::default()
            },
        )
        .await
        .unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let io = image.ioctx().clone();
        let header = rbd::names::header_object(&image.info().id);
        let object = 4 << 20;
        image
            .write(0, Bytes::from(pattern(object, 1)))
            .await
            .unwrap();
        assert!(image.is_lock_owner());
        let watchers = io.list_watchers(&header).await.unwrap();
        assert_eq!(watchers.len(), 1, "{watchers:?}");
        let first_watch = watchers[0].cookie;

        // starved (the thread of the client's runtime blocked) until the OSD dropped the
        // header watch for want of pings, as `rados listwatchers` shows
        let starved = std::time::Instant::now();
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let listed = ceph_tool("rados", &["-p", "rbd", "listwatchers", &header]);
            let text = String::from_utf8_lossy(&listed.stdout).into_owned();
            if !text.contains(&format!("cookie={first_watch}")) {
                break;
            }
            assert!(
                starved.elapsed() < Duration::from_secs(120),
                "the OSD kept the watch of a silent client: {text}"
            );
        }

        // writes go on (through the loss of the watch and of the lock taken under it)
        for i in 1..=8u64 {
            bounded(
                "a write after the starvation",
                image.write(i * object as u64, Bytes::from(pattern(object, i + 1))),
            )
            .await
            .unwrap();
        }
        // the header is watched again, and the lock ends up held under the new watch's
        // cookie (the next write takes it again if it was given up)
        let deadline = tokio::time::Instant::now() + BOUND;
        let live = loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the lock never came back under a live watch"
            );
            bounded("a write", image.write(0, Bytes::from(pattern(object, 1))))
                .await
                .unwrap();
            let info = io.lock_info(&header, LOCK_NAME).await.unwrap();
            let watchers = io.list_watchers(&header).await.unwrap();
            let holder = info.lockers.keys().next().map(|id| id.cookie.clone());
            let handle = holder.as_deref().and_then(decode_cookie);
            if let Some(h) = handle.filter(|h| watchers.iter().any(|w| w.cookie == *h)) {
                break (h, watchers);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let (handle, watchers) = live;
        assert_ne!(handle, first_watch, "the first watch is gone: {watchers:?}");
        assert_eq!(
            watchers.len(),
            1,
            "the lost watch is not left behind: {watchers:?}"
        );
        assert!(image.is_lock_owner());
        for i in 0..=8u64 {
            let seed = if i == 0 { 1 } else { i + 1 };
            let data = bounded("a read", image.read(i * object as u64, object as u64))
                .await
                .unwrap();
            assert!(data[..] == pattern(object, seed)[..], "object {i}");
        }
        bounded("the close", image.close()).await.unwrap();
        assert!(io.list_watchers(&header).await.unwrap().is_empty());
        let info = io.lock_info(&header, LOCK_NAME).await.unwrap();
        assert!(info.lockers.is_empty(), "{info:?}");
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}
