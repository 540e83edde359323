//! The msgr2 state machine and CephX against the real cluster of `CEPH_CONF` (its `mon_host`
//! and client.admin `keyring`): handshakes with a monitor and an OSD in each mode the cluster
//! allows, and the first messages.
//!
//! The sans-IO connection is driven here over a blocking `std::net::TcpStream`, so these
//! tests also run without the `tokio` feature; one test goes through the tokio driver.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use denc::{AddrType, AuthName, EntityAddr, EntityType, UTime};
use msgr2::cephx_auth::CephxMonClient;
use msgr2::connection::{CloseReason, Connection, ConnectionConfig, Event};
use msgr2::{AuthClient, AuthError, AuthMethod, AuthNone, ConMode, Error, Message};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `CEPH_MSG_MON_GET_MAP` / `CEPH_MSG_MON_MAP`.
const MSG_MON_GET_MAP: u16 = 5;
const MSG_MON_MAP: u16 = 4;

struct Cluster {
    mon: SocketAddr,
    keyring: Option<String>,
    /// `ms_mon_client_mode` if the conf pins it.
    mon_modes: Option<Vec<ConMode>>,
}

/// Reads the few settings we need from `CEPH_CONF` (a flat `key = value` scan); fails the test
/// with instructions when there is no cluster.
fn cluster() -> Option<Cluster> {
    let path = interop_tests::ceph_conf();
    let text = std::fs::read_to_string(&path).ok()?;
    let mut mon = None;
    let mut keyring = None;
    let mut mon_modes = None;
    let mut section = String::from("global");
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !matches!(section.as_str(), "global" | "client" | "client.admin") {
            continue;
        }
        let (k, v) = (k.trim().replace(' ', "_"), v.trim());
        match k.as_str() {
            "mon_host" => {
                // "[v2:127.0.0.1:3350]" or "v2:127.0.0.1:3350,..." or "127.0.0.1:3300"
                let first = v
                    .trim_matches(|c| c == '[' || c == ']')
                    .split([',', ' '])
                    .find(|s| !s.starts_with("v1:"))?;
                let addr = first.trim_start_matches("v2:").trim_end_matches(']');
                mon = addr.parse().ok();
            }
            "keyring" => keyring = Some(v.to_owned()),
            "ms_mon_client_mode" => mon_modes = Some(ConMode::parse_list(v)),
            _ => {}
        }
    }
    Some(Cluster {
        mon: mon?,
        keyring,
        mon_modes,
    })
}

macro_rules! require_cluster {
    () => {
        match cluster() {
            Some(c) => c,
            None => panic!("CEPH_CONF has no usable mon_host"),
        }
    };
}

fn mon_config(c: &Cluster, pipeline: bool) -> ConnectionConfig {
    let addr = EntityAddr::new(AddrType::MSGR2, c.mon, 0);
    let mut cfg = ConnectionConfig::new(
        addr,
        Some(EntityType::MON),
        rand::random::<u32>() | 1,
        rand::random::<u64>() | 1,
    );
    cfg.pipeline = pipeline;
    cfg
}

/// Drives `conn` over a blocking socket until `done` says so, the connection closes, or
/// `limit` passes. Returns the events seen.
fn drive(
    conn: &mut Connection,
    stream: &mut TcpStream,
    limit: Duration,
    mut done: impl FnMut(&Event, &mut Connection) -> bool,
) -> Vec<Event> {
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let start = Instant::now();
    let mut events = Vec::new();
    while start.elapsed() < limit {
        while let Some(chunk) = conn.poll_transmit() {
            stream.write_all(&chunk).unwrap();
        }
        let mut finished = false;
        while let Some(e) = conn.poll_event() {
            finished |= matches!(e, Event::Closed(_)) || done(&e, conn);
            events.push(e);
        }
        if finished {
            // flush what the last events produced
            while let Some(chunk) = conn.poll_transmit() {
                stream.write_all(&chunk).unwrap();
            }
            return events;
        }
        let mut buf = [0u8; 65536];
        match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => conn.handle_input(&buf[..n], Instant::now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("socket: {e}"),
        }
        conn.handle_timeout(Instant::now());
    }
    panic!("timed out; events so far: {events:?}");
}

/// Moves bytes until `pred` holds (no events expected meanwhile).
fn pump_until(
    conn: &mut Connection,
    stream: &mut TcpStream,
    limit: Duration,
    pred: impl Fn(&Connection) -> bool,
) {
    let start = Instant::now();
    while !pred(conn) {
        assert!(
            start.elapsed() < limit,
            "condition not reached in {limit:?}"
        );
        while let Some(chunk) = conn.poll_transmit() {
            stream.write_all(&chunk).unwrap();
        }
        if let Some(e) = conn.poll_event() {
            panic!("unexpected event {e:?}");
        }
        let mut buf = [0u8; 65536];
        match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => conn.handle_input(&buf[..n], Instant::now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("socket: {e}"),
        }
    }
}

#[test]
fn auth_none_is_refused_and_cephx_listed() {
    let c = require_cluster!();
    for pipeline in [true, false] {
        let mut stream = TcpStream::connect(c.mon).unwrap();
        let mut conn = Connection::new(
            mon_config(&c, pipeline),
            Box::new(AuthNone::for_monitor(AuthName::client("admin"))),
            Instant::now(),
        );
        let events = drive(&mut conn, &mut stream, Duration::from_secs(10), |_, _| {
            false
        });
        match events.last() {
            Some(Event::Closed(CloseReason::Error(Error::Auth(AuthError::MethodRejected {
                method,
                allowed_methods,
                allowed_modes,
                ..
            })))) => {
                eprintln!(
                    "mon refused {method:?}; allows {allowed_methods:?}, modes {allowed_modes:?}"
                );
                assert_eq!(*method, AuthMethod::NONE);
                assert!(allowed_methods.contains(&AuthMethod::CEPHX));
                // the modes listed vary: Tentacle in secure mode lists none for this request
                let _ = allowed_modes;
            }
            other => panic!("expected AUTH_BAD_METHOD, got {other:?}"),
        }
    }
}

fn cephx_client(c: &Cluster, modes: Vec<ConMode>) -> Option<Box<dyn AuthClient>> {
    let path = c.keyring.as_ref()?;
    let keyring = cephx::KeyRing::load(path).ok()?;
    let name = AuthName::client("admin");
    let key = keyring.key(&name).ok()?.clone();
    let auth = cephx::MonAuth::new(name, key, cephx::ServiceSet::LIBRADOS).ok()?;
    let rng = StdRng::from_rng(&mut rand::rng());
    let (client, _state) = CephxMonClient::new(auth, modes, rng, UTime::now);
    Some(Box::new(client))
}

/// Authenticates with CephX in every mode the cluster allows, asks for the monmap and gets
/// it, exchanges a keepalive; with the other mode alone, the monitor refuses.
#[test]
fn cephx_handshake_and_first_message() {
    let c = require_cluster!();
    let allowed = c
        .mon_modes
        .clone()
        .unwrap_or_else(|| vec![ConMode::SECURE, ConMode::CRC]);
    for mode in [ConMode::CRC, ConMode::SECURE] {
        for pipeline in [true, false] {
            let auth = cephx_client(&c, vec![mode])
                .expect("a client.admin key in the keyring of CEPH_CONF");
            let mut stream = TcpStream::connect(c.mon).unwrap();
            let started = Instant::now();
            let mut cfg = mon_config(&c, pipeline);
            // offering compression is harmless: Pacific does not support it and the phase is
            // skipped; Quincy+ monitors answer COMPRESSION_DONE(false)
            cfg.negotiate_compression = !pipeline;
            let mut conn = Connection::new(cfg, auth, started);
            let events = drive(&mut conn, &mut stream, Duration::from_secs(10), |e, _| {
                matches!(e, Event::Connected(_))
            });
            if !allowed.contains(&mode) {
                assert!(
                    matches!(
                        events.last(),
                        Some(Event::Closed(CloseReason::Error(Error::Auth(
                            AuthError::MethodRejected { .. }
                        ))))
                    ),
                    "{mode}: {events:?}"
                );
                continue;
            }
            let Some(Event::Connected(info)) = events.last() else {
                panic!("{mode} pipeline={pipeline}: {events:?}");
            };
            eprintln!(
                "{mode} pipeline={pipeline}: READY in {:?}: global_id {} peer {} features {:#x} lossy {}",
                started.elapsed(),
                info.global_id,
                info.peer_addrs,
                info.features,
                info.lossy
            );
            assert_eq!(info.con_mode, mode);
            assert!(info.lossy, "mon sessions of clients are lossy");
            assert!(info.global_id > 0);

            conn.send_message(Message::new(MSG_MON_GET_MAP, 1, 1, Bytes::new()))
                .unwrap();
            let events = drive(
                &mut conn,
                &mut stream,
                Duration::from_secs(10),
                |e, _| matches!(e, Event::Message(m) if m.header.msg_type == MSG_MON_MAP),
            );
            let Some(Event::Message(m)) = events.last() else {
                panic!("{events:?}");
            };
            eprintln!(
                "got MMonMap: seq {} front {} bytes, version {}",
                m.header.seq,
                m.front.len(),
                m.header.version
            );
            assert!(m.front.len() > 50);

            conn.send_keepalive(Instant::now());
            pump_until(&mut conn, &mut stream, Duration::from_secs(5), |conn| {
                conn.last_keepalive_ack().is_some()
            });
            assert!(!conn.is_closed());
            conn.close();
        }
    }
}

/// A client asking for on-wire compression (as `ms_osd_compress_mode = force` does) in each
/// mode the cluster allows: Quincy+ servers answer COMPRESSION_DONE(false) to clients
/// (compressor_registry.cc compresses with OSD peers only), Pacific skips the phase; either
/// way the session works uncompressed.
#[test]
fn compression_asked_of_a_real_server_is_declined() {
    let c = require_cluster!();
    let allowed = c
        .mon_modes
        .clone()
        .unwrap_or_else(|| vec![ConMode::SECURE, ConMode::CRC]);
    for mode in allowed {
        for pipeline in [true, false] {
            let auth = cephx_client(&c, vec![mode])
                .expect("a client.admin key in the keyring of CEPH_CONF");
            let mut stream = TcpStream::connect(c.mon).unwrap();
            let mut cfg = mon_config(&c, pipeline);
            cfg.compression = msgr2::CompressionSettings {
                mode: msgr2::CompressionMode::Force,
                methods: msgr2::CompressionAlgorithm::ALL.to_vec(),
                min_size: 0,
                allow_secure: true,
            };
            let mut conn = Connection::new(cfg, auth, Instant::now());
            let events = drive(&mut conn, &mut stream, Duration::from_secs(10), |e, _| {
                matches!(e, Event::Connected(_))
            });
            assert!(
                matches!(events.last(), Some(Event::Connected(_))),
                "{mode} pipeline={pipeline}: {events:?}"
            );
            assert_eq!(conn.compression(), None, "{mode}: a server compressed");
            conn.send_message(Message::new(MSG_MON_GET_MAP, 1, 1, Bytes::new()))
                .unwrap();
            let events = drive(
                &mut conn,
                &mut stream,
                Duration::from_secs(10),
                |e, _| matches!(e, Event::Message(m) if m.header.msg_type == MSG_MON_MAP),
            );
            assert!(
                matches!(events.last(), Some(Event::Message(m)) if m.front.len() > 50),
                "{mode}: {events:?}"
            );
            conn.close();
        }
    }
}

#[tokio::test]
async fn cephx_through_the_tokio_driver() {
    let c = require_cluster!();
    let mode = c
        .mon_modes
        .as_ref()
        .and_then(|m| m.first().copied())
        .unwrap_or(ConMode::SECURE);
    let auth =
        cephx_client(&c, vec![mode]).expect("a client.admin key in the keyring of CEPH_CONF");
    let (handle, mut events) = msgr2::driver::spawn(mon_config(&c, true), auth, Default::default());
    handle
        .send(Message::new(MSG_MON_GET_MAP, 1, 1, Bytes::new()))
        .await
        .unwrap();
    let mut connected = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("timed out")
            .expect("events ended");
        match event {
            Event::Connected(info) => {
                assert_eq!(info.con_mode, mode);
                connected = true;
            }
            Event::Message(m) if m.header.msg_type == MSG_MON_MAP => break,
            Event::Message(_) => {}
            Event::Closed(r) => panic!("closed: {r}"),
        }
    }
    assert!(connected);
    drop(handle);
    match events.recv().await {
        Some(Event::Closed(CloseReason::Local)) => {}
        other => panic!("{other:?}"),
    }
    assert!(events.recv().await.is_none());
}

/// osd.0's public msgr2 address (with its nonce), from `ceph osd dump -f json`.
fn osd0_addr() -> Option<EntityAddr> {
    let dump = interop_tests::ceph_json(&["osd", "dump"]);
    let osd0 = dump["osds"].as_array()?.iter().find(|o| o["osd"] == 0)?;
    let v2 = osd0["public_addrs"]["addrvec"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "v2")?;
    let addr: SocketAddr = v2["addr"].as_str()?.parse().ok()?;
    let nonce = u32::try_from(v2["nonce"].as_u64()?).ok()?;
    Some(EntityAddr::new(AddrType::MSGR2, addr, nonce))
}

/// Monitor auth for tickets, then an authorizer to osd.0 (challenge round, service session
/// key for the signatures, the OSD's connection secret in secure mode) up to READY.
#[test]
fn cephx_authorizer_to_an_osd() {
    let c = require_cluster!();
    let osd = osd0_addr().expect("osd.0's v2 address from `ceph osd dump`");
    let modes = c
        .mon_modes
        .clone()
        .unwrap_or_else(|| vec![ConMode::SECURE, ConMode::CRC]);
    let Some(path) = c.keyring.as_ref() else {
        return;
    };
    let keyring = cephx::KeyRing::load(path).unwrap();
    let name = AuthName::client("admin");
    let key = keyring.key(&name).unwrap().clone();
    let auth = cephx::MonAuth::new(name, key, cephx::ServiceSet::LIBRADOS).unwrap();
    let rng = StdRng::from_rng(&mut rand::rng());
    let (client, state) = CephxMonClient::new(auth, modes.clone(), rng, UTime::now);
    let mut stream = TcpStream::connect(c.mon).unwrap();
    let mut conn = Connection::new(mon_config(&c, true), Box::new(client), Instant::now());
    let events = drive(&mut conn, &mut stream, Duration::from_secs(10), |e, _| {
        matches!(e, Event::Connected(_))
    });
    assert!(
        matches!(events.last(), Some(Event::Connected(_))),
        "{events:?}"
    );
    let (global_id, ticket) = {
        let s = state.lock().unwrap();
        let t = s
            .auth
            .tickets()
            .get(EntityType::OSD)
            .expect("an OSD ticket")
            .clone();
        (s.auth.global_id(), t)
    };
    conn.close();

    for mode in modes {
        for pipeline in [true, false] {
            let rng = StdRng::from_rng(&mut rand::rng());
            let client = msgr2::cephx_auth::CephxServiceClient::new(
                global_id,
                ticket.clone(),
                vec![mode],
                rng,
            );
            let mut cfg = ConnectionConfig::new(
                osd,
                Some(EntityType::OSD),
                rand::random::<u32>() | 1,
                rand::random::<u64>() | 1,
            );
            cfg.pipeline = pipeline;
            let mut stream = TcpStream::connect(osd.socket_addr().unwrap()).unwrap();
            let started = Instant::now();
            let mut conn = Connection::new(cfg, Box::new(client), started);
            let events = drive(&mut conn, &mut stream, Duration::from_secs(10), |e, _| {
                matches!(e, Event::Connected(_))
            });
            let Some(Event::Connected(info)) = events.last() else {
                panic!("{mode} pipeline={pipeline}: {events:?}");
            };
            eprintln!(
                "osd {mode} pipeline={pipeline}: READY in {:?}, peer {} gid {}",
                started.elapsed(),
                info.peer_addrs,
                info.peer_global_id
            );
            assert_eq!(info.con_mode, mode);
            assert_eq!(info.global_id, global_id);
            conn.send_keepalive(Instant::now());
            pump_until(&mut conn, &mut stream, Duration::from_secs(5), |conn| {
                conn.last_keepalive_ack().is_some()
            });
            conn.close();
        }
    }
}
