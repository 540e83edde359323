//! The monitor client (`rados::Rados`) against the real cluster of `CEPH_CONF`, with Ceph's
//! own `ceph` tool as the reference: status, commands, following OSD map changes, a monitor
//! restart mid-session, a wrong key and an unreachable monitor.
//!
//! The tests of this file run one at a time: one of them restarts the monitor.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{ceph_json, ceph_tool};
use rados::{ClientConfig, ConfigBuilder, Error, Rados};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs one test body on its own runtime, after the tests before it.
fn run(body: impl std::future::Future<Output = ()>) {
    let _serial = serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(body);
}

/// The cluster's configuration, as librados would read it.
fn builder() -> ConfigBuilder {
    ClientConfig::builder().conf_file(interop_tests::ceph_conf())
}

async fn connect() -> Rados {
    let config = builder().build().expect("the configuration of CEPH_CONF");
    let started = Instant::now();
    let rados = Rados::connect(config).await.expect("connecting");
    eprintln!(
        "connected in {:?} as client.{} to {}",
        started.elapsed(),
        rados.global_id(),
        rados.fsid()
    );
    rados
}

fn u64_of(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn status_matches_ceph_s() {
    run(async {
        let rados = connect().await;
        // compare against a `ceph -s` taken between two of ours (maps may move meanwhile)
        for attempt in 0.. {
            let before = rados.status().await.unwrap();
            let reference = ceph_json(&["-s"]);
            let ours = rados.status().await.unwrap();
            assert_eq!(ours.fsid, reference["fsid"].as_str().unwrap());
            let same = before.osdmap.epoch == ours.osdmap.epoch
                && before.monmap.epoch == ours.monmap.epoch;
            if !same && attempt < 5 {
                continue;
            }
            assert_eq!(
                u64::from(ours.monmap.epoch),
                u64_of(&reference["monmap"]["epoch"])
            );
            assert_eq!(
                ours.monmap.num_mons as u64,
                u64_of(&reference["monmap"]["num_mons"])
            );
            let osdmap = &reference["osdmap"];
            assert_eq!(u64::from(ours.osdmap.epoch), u64_of(&osdmap["epoch"]));
            assert_eq!(ours.osdmap.num_osds as u64, u64_of(&osdmap["num_osds"]));
            assert_eq!(
                ours.osdmap.num_up_osds as u64,
                u64_of(&osdmap["num_up_osds"])
            );
            assert_eq!(
                ours.osdmap.num_in_osds as u64,
                u64_of(&osdmap["num_in_osds"])
            );
            let pools = ceph_json(&["osd", "pool", "ls"]);
            let names: Vec<&str> = ours.pools.iter().map(|p| p.name.as_str()).collect();
            let theirs: Vec<&str> = pools
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            assert_eq!(names, theirs);
            break;
        }
        // the version query agrees with the map we hold
        let v = rados.get_version("osdmap").await.unwrap();
        assert!(v.newest >= u64::from(rados.osdmap().epoch));
        assert!(v.oldest >= 1 && v.oldest <= v.newest);
        let monmap = rados.monmap();
        let dump = ceph_json(&["mon", "dump"]);
        let names: Vec<&str> = dump["mons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        let ours: Vec<&str> = monmap.by_rank().map(|(_, m)| m.name.as_str()).collect();
        assert_eq!(ours, names);
        // the session's tickets are there for the OSD client
        let tickets = rados.tickets();
        assert!(tickets.global_id() > 0);
        for service in [
            denc::EntityType::AUTH,
            denc::EntityType::MON,
            denc::EntityType::OSD,
        ] {
            assert!(tickets.get(service).is_some(), "no {service} ticket");
        }
        rados.shutdown().await;
    });
}

#[test]
fn mon_commands_create_and_delete_a_pool() {
    run(async {
        let rados = connect().await;
        let pool = format!("rados-rs-test-{}", std::process::id());
        let create = serde_json::json!({"prefix": "osd pool create", "pool": pool, "pg_num": 8});
        let reply = rados
            .mon_command(&create.to_string(), Bytes::new())
            .await
            .unwrap();
        eprintln!("create: {:?}", reply.status);
        let listed = String::from_utf8(ceph_tool("ceph", &["osd", "pool", "ls"]).stdout).unwrap();
        assert!(listed.lines().any(|l| l == pool), "{listed}");
        // the new pool shows up in our map
        let epoch = u32::try_from(rados.get_version("osdmap").await.unwrap().newest).unwrap();
        let map = tokio::time::timeout(Duration::from_secs(5), rados.wait_for_osdmap(epoch))
            .await
            .unwrap()
            .unwrap();
        assert!(map.pool_names.values().any(|n| *n == pool));
        // JSON output in the data segment
        let reply = rados
            .mon_command(
                r#"{"prefix": "osd pool ls", "format": "json"}"#,
                Bytes::new(),
            )
            .await
            .unwrap();
        let names: Vec<String> = serde_json::from_slice(&reply.data).unwrap();
        assert!(names.contains(&pool));
        // a failing command is a typed error with the monitor's errno and text
        let missing = r#"{"prefix": "osd pool get", "pool": "no-such-pool", "var": "size"}"#;
        match rados.mon_command(missing, Bytes::new()).await {
            Err(Error::Command { code, status }) => {
                assert_eq!(code, -2);
                assert!(status.contains("no-such-pool"), "{status}");
            }
            other => panic!("{other:?}"),
        }
        let delete = serde_json::json!({
            "prefix": "osd pool delete", "pool": pool, "pool2": pool,
            "yes_i_really_really_mean_it": true
        });
        rados
            .mon_command(&delete.to_string(), Bytes::new())
            .await
            .unwrap();
        let listed = String::from_utf8(ceph_tool("ceph", &["osd", "pool", "ls"]).stdout).unwrap();
        assert!(!listed.lines().any(|l| l == pool), "{listed}");
        rados.shutdown().await;
    });
}

/// `ceph osd out 1` (then `in`): our map follows within a second.
async fn out_and_in(rados: &Rados) {
    for (verb, weight) in [("out", 0), ("in", osdmap::OSD_IN)] {
        let before = rados.osdmap().epoch;
        ceph_tool("ceph", &["osd", verb, "1"]);
        let returned = Instant::now();
        let map = tokio::time::timeout(Duration::from_secs(1), rados.wait_for_osdmap(before + 1))
            .await
            .unwrap_or_else(|_| panic!("`ceph osd {verb} 1`: no new OSD map within a second"))
            .unwrap();
        eprintln!(
            "osd {verb}: epoch {before} -> {} seen {:?} after `ceph` returned",
            map.epoch,
            returned.elapsed()
        );
        // the epoch that carries the change may be a later one
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let map = rados.osdmap();
            if map.osd_weight.get(1) == Some(&weight) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "osd.1 weight never became {weight:#x}"
            );
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                rados.wait_for_osdmap(map.epoch + 1),
            )
            .await;
        }
    }
}

#[test]
fn follows_osdmap_changes() {
    run(async {
        let rados = connect().await;
        out_and_in(&rados).await;
        rados.shutdown().await;
    });
}

#[test]
fn survives_a_monitor_restart() {
    run(async {
        let rados = connect().await;
        let global_id = rados.global_id();
        let epoch = rados.osdmap().epoch;
        interop_tests::restart_daemon("mon.a");
        let restarted = Instant::now();
        // a command issued right away is resent on the new session
        let reply = tokio::time::timeout(
            Duration::from_secs(60),
            rados.mon_command(
                r#"{"prefix": "osd pool ls", "format": "json"}"#,
                Bytes::new(),
            ),
        )
        .await
        .expect("the command completes after the restart")
        .unwrap();
        eprintln!(
            "first command answered {:?} after the restart",
            restarted.elapsed()
        );
        let names: Vec<String> = serde_json::from_slice(&reply.data).unwrap();
        assert!(!names.is_empty());
        assert_eq!(rados.global_id(), global_id, "global_id reclaimed");
        assert!(rados.osdmap().epoch >= epoch);
        // and the map keeps following
        out_and_in(&rados).await;
        rados.shutdown().await;
    });
}

/// With service tickets of a few seconds (the monitors' `auth_service_ticket_ttl`), the
/// client renews them over `MAuth` before they expire and the session goes on.
#[test]
fn renews_tickets_before_they_expire() {
    run(async {
        ceph_tool(
            "ceph",
            &["config", "set", "mon", "auth_service_ticket_ttl", "8"],
        );
        let outcome = catch_panic(async {
            let rados = connect().await;
            let first = rados.tickets();
            let osd = first
                .get(denc::EntityType::OSD)
                .expect("an OSD ticket")
                .clone();
            assert_eq!(osd.validity.sec, 8, "the monitor honours the short ttl");
            let mut watch = rados.tickets_watch();
            tokio::time::timeout(
                Duration::from_secs(10),
                watch.wait_for(|t| {
                    t.get(denc::EntityType::OSD)
                        .is_some_and(|t| t.expires > osd.expires)
                }),
            )
            .await
            .expect("tickets renewed before they expired")
            .unwrap();
            let renewed = rados.tickets();
            assert_eq!(renewed.global_id(), first.global_id());
            let ticket = renewed.get(denc::EntityType::OSD).unwrap();
            assert!(ticket.expires > osd.expires);
            assert!(
                osd.is_valid(denc::UTime::now()),
                "renewed while the old one was valid"
            );
            rados
                .mon_command(r#"{"prefix": "osd pool ls"}"#, Bytes::new())
                .await
                .unwrap();
            rados.shutdown().await;
        })
        .await;
        ceph_tool("ceph", &["config", "rm", "mon", "auth_service_ticket_ttl"]);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Runs `f`, catching a panic (so that the caller can restore the cluster first).
async fn catch_panic<F: std::future::Future<Output = ()> + Send + 'static>(
    f: F,
) -> std::thread::Result<()> {
    tokio::spawn(f).await.map_err(|e| {
        if e.is_panic() {
            e.into_panic()
        } else {
            Box::new("task cancelled")
        }
    })
}

#[test]
fn a_wrong_key_is_refused_quickly() {
    run(async {
        let dir = std::env::temp_dir().join(format!("rados-wrong-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // a random key of the type the cluster's admin key has
        let real = builder().build().unwrap();
        let mut rng = rand::rng();
        let wrong = cephx::CryptoKey::generate(real.key().key_type(), denc::UTime::now(), &mut rng)
            .unwrap();
        let keyring = dir.join("keyring");
        std::fs::write(
            &keyring,
            format!("[client.admin]\n\tkey = {}\n", wrong.to_base64().as_str()),
        )
        .unwrap();
        let config = builder()
            .keyring(&keyring)
            .set("client_mount_timeout", "20")
            .build()
            .unwrap();
        let started = Instant::now();
        let result = Rados::connect(config).await;
        let elapsed = started.elapsed();
        std::fs::remove_dir_all(&dir).unwrap();
        match result {
            Err(Error::Auth(failure)) => {
                eprintln!("refused in {elapsed:?}: {failure}");
                assert!(failure.is_denied(), "{failure}");
            }
            Err(other) => panic!("expected Error::Auth, got {other}"),
            Ok(_) => panic!("a random key was accepted"),
        }
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    });
}

#[test]
fn an_unreachable_monitor_times_out_naming_it() {
    run(async {
        // a port nobody listens on
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mon = format!("v2:127.0.0.1:{port}");
        let config = builder()
            .mon_host(mon.clone())
            .set("client_mount_timeout", "2")
            .set("mon_client_hunt_interval", "0.5")
            .build()
            .unwrap();
        let started = Instant::now();
        let result = Rados::connect(config).await;
        let elapsed = started.elapsed();
        match result {
            Err(e @ Error::MonUnreachable { .. }) => {
                let text = e.to_string();
                eprintln!("after {elapsed:?}: {text}");
                assert!(text.contains(&format!("{mon}/0")), "{text}");
            }
            Err(other) => panic!("expected Error::MonUnreachable, got {other}"),
            Ok(_) => panic!("connected to nothing"),
        }
        assert!(
            elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(3),
            "took {elapsed:?}"
        );
    });
}
