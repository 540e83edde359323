//! Watch/notify against a real cluster: between two rbd-rs clients, between rbd-rs and
//! Ceph's `rados watch` / `rados notify`, notifies that time out, a watch that survives a
//! restart of its primary OSD (re-attached, still notified), and a watch lost when its
//! object is deleted (reported as ENOTCONN).

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{
    ceph_json, ceph_tool, restart_daemon, tool_command, try_ceph_tool, unique_name,
};
use rados::{ClientConfig, Errno, IoCtx, Rados, Watch, WatchEvent};

const POOL: &str = "rbd";

fn runtime() -> tokio::runtime::Runtime {
    interop_tests::init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn client() -> (Rados, IoCtx) {
    let config = ClientConfig::builder()
        .conf_file(interop_tests::ceph_conf())
        .build()
        .unwrap();
    let rados = Rados::connect(config).await.unwrap();
    let io = rados
        .ioctx(POOL)
        .await
        .unwrap()
        .with_timeout(Some(Duration::from_secs(60)));
    (rados, io)
}

/// Answers every notification on `watch` with `reply`, until told to stop; returns the
/// notifications seen and any error event.
fn answer_all(
    mut watch: Watch,
    reply: &'static [u8],
) -> tokio::task::JoinHandle<(Watch, Vec<rados::Notification>, Vec<Errno>)> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut errors = Vec::new();
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_secs(3), watch.next_event()).await
        {
            match event {
                WatchEvent::Notify(n) => {
                    watch.ack(&n, reply).await.unwrap();
                    seen.push(n);
                }
                WatchEvent::Error(e) => errors.push(e),
            }
        }
        (watch, seen, errors)
    })
}

#[test]
fn two_clients_notify_and_acknowledge() {
    runtime().block_on(async {
        let (ra, a) = client().await;
        let (rb, b) = client().await;
        let oid = unique_name("watched");
        a.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        let watch = a.watch(&oid).await.unwrap();
        let cookie = watch.cookie();

        // listwatchers shows it, ours and rados's alike
        let ours = b.list_watchers(&oid).await.unwrap();
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].cookie, cookie);
        assert_eq!(ours[0].name.num as u64, ra.global_id());
        let listed = ceph_tool("rados", &["-p", POOL, "listwatchers", &oid]);
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(
            listed.contains(&format!("client.{} cookie={cookie}", ra.global_id())),
            "{listed}"
        );

        let answering = answer_all(watch, b"pong");
        let started = Instant::now();
        let result = b
            .notify(&oid, &b"ping"[..], Duration::from_secs(10))
            .await
            .unwrap();
        eprintln!("notify round trip: {:?}", started.elapsed());
        assert!(!result.timed_out(), "{result:?}");
        assert_eq!(result.acks.len(), 1);
        assert_eq!(result.acks[0].gid, ra.global_id());
        assert_eq!(result.acks[0].cookie, cookie);
        assert_eq!(&result.acks[0].reply[..], b"pong");

        let (watch, seen, errors) = answering.await.unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(seen.len(), 1);
        assert_eq!(&seen[0].payload[..], b"ping");
        assert_eq!(seen[0].notifier_gid, rb.global_id());
        assert!(watch.check().unwrap() < Duration::from_secs(10));
        watch.unwatch().await.unwrap();
        assert!(b.list_watchers(&oid).await.unwrap().is_empty());

        // nobody watches: the notify completes at once with no replies
        let empty = b
            .notify(&oid, Bytes::new(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(empty.acks.is_empty() && empty.missed.is_empty());
        a.remove(&oid).await.unwrap();
        ra.shutdown().await;
        rb.shutdown().await;
    });
}

#[test]
fn a_silent_watcher_times_the_notify_out() {
    runtime().block_on(async {
        let (ra, a) = client().await;
        let (rb, b) = client().await;
        let oid = unique_name("silent");
        a.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        let mut watch = a.watch(&oid).await.unwrap();
        let started = Instant::now();
        let result = b
            .notify(&oid, &b"anyone?"[..], Duration::from_secs(2))
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(result.timed_out());
        assert_eq!(result.missed, [(ra.global_id(), watch.cookie())]);
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(10),
            "{took:?}"
        );
        // the notification did arrive; it was just never acknowledged
        assert!(matches!(
            watch.try_next_event(),
            Some(WatchEvent::Notify(_))
        ));
        watch.unwatch().await.unwrap();
        a.remove(&oid).await.unwrap();
        ra.shutdown().await;
        rb.shutdown().await;
    });
}

#[test]
fn rados_notify_reaches_an_rbd_rs_watch() {
    runtime().block_on(async {
        let (ra, a) = client().await;
        let oid = unique_name("by-rados");
        a.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        let watch = a.watch(&oid).await.unwrap();
        let cookie = watch.cookie();
        let answering = answer_all(watch, b"from rbd-rs");
        let out = tokio::task::spawn_blocking({
            let oid = oid.clone();
            move || ceph_tool("rados", &["-p", POOL, "notify", &oid, "hello"])
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // rados prints each reply: "reply client.<gid> cookie <cookie> : <n> bytes"
        let line = format!("reply client.{} cookie {cookie} : 11 bytes", ra.global_id());
        assert!(text.contains(&line), "{text}");
        let (watch, seen, errors) = answering.await.unwrap();
        assert!(errors.is_empty());
        // rados sends its message as an encoded string
        assert_eq!(&seen[0].payload[..], b"\x05\0\0\0hello");
        watch.unwatch().await.unwrap();
        a.remove(&oid).await.unwrap();
        ra.shutdown().await;
    });
}

#[test]
fn an_rbd_rs_notify_reaches_rados_watch() {
    runtime().block_on(async {
        let (rb, b) = client().await;
        let oid = unique_name("rados-watches");
        b.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        let mut child = tool_command("rados")
            .args(["-p", POOL, "watch", &oid])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(first.contains("press enter to exit"), "{first}");
        let watchers = b.list_watchers(&oid).await.unwrap();
        assert_eq!(watchers.len(), 1);

        let result = b
            .notify(&oid, &b"hi rados"[..], Duration::from_secs(10))
            .await
            .unwrap();
        assert!(!result.timed_out(), "{result:?}");
        assert_eq!(result.acks.len(), 1);
        assert_eq!(result.acks[0].cookie, watchers[0].cookie);
        // `rados watch` acknowledges with the payload it received
        assert_eq!(&result.acks[0].reply[..], b"hi rados");
        let notify_line = lines.recv_timeout(Duration::from_secs(10)).unwrap();
        let expected = format!("from {}", rb.global_id());
        assert!(
            notify_line.starts_with("NOTIFY cookie") && notify_line.ends_with(&expected),
            "{notify_line}"
        );
        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success());
        b.remove(&oid).await.unwrap();
        rb.shutdown().await;
    });
}

#[test]
fn deleting_the_object_ends_the_watch_with_enotconn() {
    runtime().block_on(async {
        let (ra, a) = client().await;
        let (rb, b) = client().await;
        let oid = unique_name("doomed");
        a.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        let mut watch = a.watch(&oid).await.unwrap();
        b.remove(&oid).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(30), watch.next_event())
            .await
            .unwrap();
        assert_eq!(event, Some(WatchEvent::Error(Errno::ENOTCONN)));
        assert!(watch.check().unwrap_err().is(Errno::ENOTCONN));
        // watching a missing object fails outright
        let err = a.watch(&oid).await.unwrap_err();
        assert!(err.is(Errno::ENOENT), "{err}");
        drop(watch);
        ra.shutdown().await;
        rb.shutdown().await;
    });
}

/// The acting primary of `oid` in the test pool.
fn primary_of(oid: &str) -> i64 {
    let m = ceph_json(&["osd", "map", POOL, oid]);
    m["acting_primary"].as_i64().unwrap()
}

/// The PG that holds `oid` in the test pool ("1.7").
fn pg_of(oid: &str) -> String {
    let m = ceph_json(&["osd", "map", POOL, oid]);
    m["pgid"].as_str().unwrap().to_owned()
}

/// Puts `pg` first in its OSDs' recovery and backfill queues (a no-op unless it waits for
/// one of them): a restarted memstore OSD comes back empty and serves a PG again only once
/// backfill refilled it, and on a cluster that earlier tests filled, the PGs ahead of it in
/// the queue took minutes (CI, Pacific).
fn hurry_recovery_of(pg: &str) {
    for how in ["force-recovery", "force-backfill"] {
        // "doesn't require recovery" is no failure worth stopping for
        try_ceph_tool("ceph", &["pg", how, pg]);
    }
}

/// What the cluster says about `pg`, for a failure message.
fn pg_state(pg: &str) -> String {
    let out = try_ceph_tool("ceph", &["pg", "map", pg]);
    let stat = try_ceph_tool("ceph", &["pg", "stat"]);
    format!(
        "{} / {}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&stat.stdout).trim()
    )
}

#[test]
fn a_watch_survives_a_restart_of_its_primary_osd() {
    runtime().block_on(async {
        let (ra, a) = client().await;
        let (rb, b) = client().await;
        let oid = unique_name("sturdy");
        a.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
        let mut watch = a.watch(&oid).await.unwrap();
        let primary = primary_of(&oid);
        let pg = pg_of(&oid);
        eprintln!("restarting osd.{primary}, the primary of {oid} (pg {pg})");
        tokio::task::spawn_blocking(move || restart_daemon(&format!("osd.{primary}")))
            .await
            .unwrap();
        // the watch is re-attached wherever the object's PG is served now, and again when
        // the restarted OSD takes its PGs back; notifies keep arriving
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut delivered = 0;
        let mut missed = Vec::new();
        let mut watched_again = false;
        while delivered < 3 {
            assert!(
                Instant::now() < deadline,
                "notifies stopped arriving after {delivered}: {missed:?}; pg {}",
                pg_state(&pg)
            );
            let notifier = {
                let b = b.clone();
                let oid = oid.clone();
                tokio::spawn(async move {
                    b.notify(&oid, &b"still there?"[..], Duration::from_secs(5))
                        .await
                })
            };
            let event = tokio::time::timeout(Duration::from_secs(8), watch.next_event()).await;
            let acked = match event {
                Ok(Some(WatchEvent::Notify(n))) => {
                    watch.ack(&n, &b"yes"[..]).await.unwrap();
                    true
                }
                // a ping that reaches the new primary before the client has its map is
                // answered ETIMEDOUT and the watch is reported lost, by librados too:
                // the application watches again (once is luck, twice is a bug)
                Ok(Some(WatchEvent::Error(e))) if e == Errno::ETIMEDOUT && !watched_again => {
                    eprintln!("the watch was lost ({e}) while the PG moved; watching again");
                    watched_again = true;
                    watch = a.watch(&oid).await.unwrap();
                    false
                }
                Ok(Some(WatchEvent::Error(e))) => panic!("the watch was lost: {e}"),
                Ok(None) => panic!("the client shut down"),
                Err(_) => false,
            };
            let result = notifier.await.unwrap().unwrap();
            if acked && result.acks.len() == 1 {
                delivered += 1;
            } else {
                // kept for the failure message: which side missed it
                missed.push((acked, result.acks.len(), result.missed.len()));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        // once the restarted OSD (which came back empty: memstore) serves the object
        // again, it knows the watch only because the client re-attached it; backfill can
        // take minutes on a loaded machine (its own deadline)
        let deadline = Instant::now() + Duration::from_secs(420);
        let mut waited = 0u32;
        while primary_of(&oid) != primary {
            if Instant::now() >= deadline {
                panic!(
                    "osd.{primary} never became primary again: pg {}",
                    pg_state(&pg)
                );
            }
            if waited % 10 == 0 {
                // again and again: the PG must be waiting for backfill for this to count
                hurry_recovery_of(&pg);
            }
            waited += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let answering = answer_all(watch, b"yes");
        let result = b
            .notify(&oid, &b"and now?"[..], Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(result.acks.len(), 1, "{result:?}");
        let (watch, _, errors) = answering.await.unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(watch.check().is_ok());
        let watchers = b.list_watchers(&oid).await.unwrap();
        assert_eq!(watchers.len(), 1, "{watchers:?}");
        assert_eq!(watchers[0].cookie, watch.cookie());
        watch.unwatch().await.unwrap();
        a.remove(&oid).await.unwrap();
        ra.shutdown().await;
        rb.shutdown().await;
    });
}
