//! The monitor client state machine, driven by hand: hunting, session setup, resends,
//! refusals, timeouts, maps.

use std::io;

use denc::{AddrType, EntityAddrVec};
use msgr2::ConMode;
use rand::SeedableRng;
use tokio::sync::oneshot;

use super::*;
use crate::messages::{
    MMonCommandAck, MMonGetVersionReply, MMonMap, MOsdMap, MonInfo, decode_message,
};

const SECOND: Duration = Duration::from_secs(1);

struct Harness {
    core: MonCore,
    t0: Instant,
}

fn addr(i: u8) -> EntityAddr {
    format!("v2:10.0.0.{i}:3300/0").parse().unwrap()
}

fn initial(n: u8) -> MonMap {
    MonMap::from_initial((1..=n).map(|i| {
        let v1: EntityAddr = format!("v1:10.0.0.{i}:6789/0").parse().unwrap();
        MonInfo::new(format!("noname-{i}"), EntityAddrVec(vec![addr(i), v1]))
    }))
}

fn real_monmap(epoch: u32, mons: &[u8]) -> MonMap {
    let mut m = MonMap::from_initial(
        mons.iter()
            .map(|&i| MonInfo::new(format!("m{i}"), EntityAddrVec(vec![addr(i)]))),
    );
    m.fsid = Uuid([3; 16]);
    m.epoch = epoch;
    m
}

fn params(op_timeout: Option<Duration>) -> CoreParams {
    CoreParams {
        hunt: HuntParams {
            interval: 3 * SECOND,
            parallel: 2,
            backoff: 1.5,
            min_multiple: 1.0,
            max_multiple: 10.0,
        },
        mount_timeout: 20 * SECOND,
        op_timeout,
        fsid: None,
        hostname: "testhost".into(),
        mon_modes: vec![ConMode::SECURE, ConMode::CRC],
    }
}

impl Harness {
    fn new(mons: u8, op_timeout: Option<Duration>) -> Self {
        let t0 = Instant::now();
        let now = Now {
            mono: t0,
            wall: UTime::new(1_000_000, 0),
        };
        let core = MonCore::new(
            params(op_timeout),
            initial(mons),
            StdRng::seed_from_u64(7),
            now,
        );
        Harness { core, t0 }
    }

    fn at(&self, secs: f64) -> Now {
        Now {
            mono: self.t0 + Duration::from_secs_f64(secs),
            wall: UTime::new(
                1_000_000 + u32::try_from(Duration::from_secs_f64(secs).as_secs()).unwrap(),
                0,
            ),
        }
    }

    fn feed(&mut self, input: Input, secs: f64) -> Vec<Output> {
        let now = self.at(secs);
        self.core.handle(input, now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.core.poll_output()).collect()
    }

    fn connected(&mut self, conn: ConnId, a: EntityAddr, secs: f64) -> Vec<Output> {
        let info = SessionInfo {
            peer_addrs: EntityAddrVec(vec![a]),
            peer_global_id: 0,
            peer_global_seq: 1,
            features: features::ALL,
            global_id: 4242,
            con_mode: ConMode::SECURE,
            lossy: true,
            my_addr: EntityAddr::default(),
            client_cookie: 1,
            server_cookie: 0,
            connect_seq: 0,
            resumed_at: None,
        };
        self.feed(
            Input::Connected {
                conn,
                info,
                auth: None,
            },
            secs,
        )
    }

    fn deliver<M: MessageCodec>(
        &mut self,
        conn: ConnId,
        m: &M,
        tid: u64,
        secs: f64,
    ) -> Vec<Output> {
        let msg = encode_message(m, tid, features::ALL).unwrap();
        self.feed(Input::Message { conn, msg }, secs)
    }

    fn command(
        &mut self,
        secs: f64,
    ) -> (oneshot::Receiver<crate::Result<CommandReply>>, Vec<Output>) {
        let (reply, rx) = oneshot::channel();
        let outs = self.feed(
            Input::Request(Request::Command {
                cmd: vec![r#"{"prefix":"status"}"#.into()],
                data: Bytes::new(),
                reply,
            }),
            secs,
        );
        (rx, outs)
    }

    fn wait_ready(&mut self, secs: f64) -> oneshot::Receiver<crate::Result<()>> {
        let (reply, rx) = oneshot::channel();
        self.feed(Input::Request(Request::WaitReady { reply }), secs);
        rx
    }
}

fn connects(outs: &[Output]) -> Vec<(ConnId, EntityAddr, bool)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Connect {
                conn,
                addr,
                tickets,
                initial,
            } => {
                // every new session asks for the monitor map first
                assert_eq!(initial.len(), 1);
                assert_eq!(
                    initial[0].header.msg_type,
                    crate::messages::msg_type::MON_GET_MAP
                );
                Some((*conn, *addr, tickets.is_some()))
            }
            _ => None,
        })
        .collect()
}

fn sent(outs: &[Output]) -> Vec<(ConnId, &Message)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(c, m) => Some((*c, m)),
            _ => None,
        })
        .collect()
}

fn closed(outs: &[Output]) -> Vec<ConnId> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Close(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn subscription(m: &Message) -> MMonSubscribe {
    decode_message(m).unwrap()
}

fn monmap_msg(map: &MonMap) -> MMonMap {
    MMonMap {
        monmap_bl: Bytes::from(denc::encode_with_features(map, features::ALL).unwrap()),
    }
}

fn osdmap_msg(epoch: u32) -> MOsdMap {
    let map = OsdMap {
        fsid: Uuid([3; 16]),
        epoch,
        ..OsdMap::default()
    };
    let mut m = MOsdMap {
        fsid: map.fsid,
        oldest_map: 1,
        newest_map: epoch,
        ..MOsdMap::default()
    };
    m.maps
        .insert(epoch, Bytes::from(map.to_bytes(features::ALL).unwrap()));
    m
}

fn refused(e: Option<&str>) -> CloseReason {
    match e {
        Some("bad method") => {
            CloseReason::Error(msgr2::Error::Auth(msgr2::AuthError::MethodRejected {
                method: msgr2::AuthMethod::CEPHX,
                result: -13,
                allowed_methods: vec![msgr2::AuthMethod::CEPHX],
                allowed_modes: vec![ConMode::CRC],
            }))
        }
        Some(_) => CloseReason::Error(msgr2::Error::Auth(msgr2::AuthError::Method(Box::new(
            cephx::CephxError::Denied { result: -13 },
        )))),
        None => CloseReason::Io(io::Error::from(io::ErrorKind::ConnectionRefused)),
    }
}

/// Hunts, picks the first to connect, subscribes, and becomes ready with both maps.
fn connect(h: &mut Harness) -> (ConnId, EntityAddr) {
    let outs = h.drain();
    let c = connects(&outs);
    assert_eq!(c.len(), 2, "two monitors at once: {outs:?}");
    let (winner, a, _) = c[1];
    let outs = h.connected(winner, a, 0.1);
    assert_eq!(closed(&outs), [c[0].0], "the other attempt is dropped");
    let subs = sent(&outs);
    assert_eq!(subs.len(), 1);
    let sub = subscription(subs[0].1);
    assert_eq!(subs[0].1.header.version, 3);
    assert_eq!(sub.hostname, "testhost");
    assert_eq!(
        sub.what.keys().collect::<Vec<_>>(),
        ["config", "monmap", "osdmap"]
    );
    assert!(sub.what.values().all(|s| s.start == 0 && s.flags == 0));
    let mut ready = h.wait_ready(0.1);
    let outs = h.deliver(winner, &monmap_msg(&real_monmap(2, &[1, 2, 3])), 0, 0.2);
    assert!(matches!(outs.as_slice(), [Output::MonMap(m)] if m.epoch == 2));
    assert!(ready.try_recv().is_err(), "not ready without an OSD map");
    let outs = h.deliver(winner, &osdmap_msg(10), 0, 0.3);
    assert!(matches!(outs.as_slice(), [Output::OsdMap(m)] if m.epoch == 10));
    assert!(matches!(ready.try_recv(), Ok(Ok(()))));
    (winner, a)
}

#[test]
fn hunts_connects_subscribes_and_gets_ready() {
    let mut h = Harness::new(3, None);
    connect(&mut h);
}

#[test]
fn commands_are_resent_on_a_new_session_and_answered_by_tid() {
    let mut h = Harness::new(3, None);
    let (conn, _) = connect(&mut h);
    let (mut first, outs) = h.command(1.0);
    let s = sent(&outs);
    assert_eq!(s.len(), 1);
    let tid = s[0].1.header.tid;
    assert_eq!(tid, 1);
    let cmd: MMonCommand = decode_message(s[0].1).unwrap();
    assert_eq!(cmd.fsid, Uuid([3; 16]), "commands carry the cluster's fsid");
    // the monitor dies before answering
    let outs = h.feed(
        Input::Closed {
            conn,
            reason: CloseReason::PeerClosed,
        },
        2.0,
    );
    let c = connects(&outs);
    assert_eq!(c.len(), 2);
    // a command issued while hunting waits for the session
    let (mut second, outs) = h.command(2.1);
    assert!(sent(&outs).is_empty());
    let (conn2, a2, _) = c[0];
    let outs = h.connected(conn2, a2, 2.5);
    let s = sent(&outs);
    // resubscription from where we are, then both commands, oldest first
    let sub = subscription(s[0].1);
    assert_eq!(sub.what["osdmap"].start, 11);
    assert_eq!(sub.what["monmap"].start, 3);
    let tids: Vec<u64> = s[1..].iter().map(|(_, m)| m.header.tid).collect();
    assert_eq!(tids, [1, 2]);
    let ack = MMonCommandAck {
        r: -2,
        rs: "nope".into(),
        data: Bytes::from_static(b"out"),
        ..MMonCommandAck::default()
    };
    h.deliver(conn2, &ack, 2, 3.0);
    let reply = second.try_recv().unwrap().unwrap();
    assert_eq!(
        (reply.code, reply.status.as_str(), &reply.data[..]),
        (-2, "nope", &b"out"[..])
    );
    assert!(first.try_recv().is_err());
    // an ack from the old connection is ignored
    h.deliver(conn, &MMonCommandAck::default(), 1, 3.1);
    assert!(first.try_recv().is_err());
    h.deliver(conn2, &MMonCommandAck::default(), 1, 3.2);
    assert_eq!(first.try_recv().unwrap().unwrap().code, 0);
}

#[test]
fn version_queries_survive_reconnects() {
    let mut h = Harness::new(1, None);
    let outs = h.drain();
    let (conn, a, _) = connects(&outs)[0];
    let (reply, mut rx) = oneshot::channel();
    h.feed(
        Input::Request(Request::GetVersion {
            what: "osdmap".into(),
            reply,
        }),
        0.0,
    );
    let outs = h.connected(conn, a, 0.1);
    let q: MMonGetVersion = decode_message(sent(&outs)[1].1).unwrap();
    assert_eq!(q.what, "osdmap");
    let r = MMonGetVersionReply {
        handle: q.handle,
        version: 30,
        oldest_version: 1,
    };
    h.deliver(conn, &r, 0, 0.2);
    assert_eq!(rx.try_recv().unwrap().unwrap(), (30, 1));
}

#[test]
fn a_refused_key_fails_at_once() {
    let mut h = Harness::new(3, None);
    let outs = h.drain();
    let c = connects(&outs);
    let mut ready = h.wait_ready(0.0);
    let (mut cmd, _) = h.command(0.0);
    h.feed(
        Input::Closed {
            conn: c[0].0,
            reason: refused(Some("denied")),
        },
        0.05,
    );
    assert!(
        ready.try_recv().is_err(),
        "the other monitor may still answer"
    );
    let outs = h.feed(
        Input::Closed {
            conn: c[1].0,
            reason: refused(Some("denied")),
        },
        0.06,
    );
    match ready.try_recv() {
        Ok(Err(Error::Auth(f))) => {
            assert!(f.is_denied());
            assert!(f.to_string().contains("wrong key"), "{f}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(cmd.try_recv(), Ok(Err(Error::Auth(_)))));
    assert!(connects(&outs).is_empty());
    // whoever asks later hears the same
    let mut late = h.wait_ready(0.1);
    assert!(matches!(late.try_recv(), Ok(Err(Error::Auth(_)))));
    // and it stays quiet
    assert!(h.core.poll_timeout().is_none());
}

#[test]
fn unreachable_monitors_time_out_naming_the_addresses() {
    let mut h = Harness::new(3, None);
    let mut ready = h.wait_ready(0.0);
    let mut dialed = std::collections::BTreeSet::new();
    let mut t = 0.0;
    let mut outs = h.drain();
    loop {
        let c = connects(&outs);
        for (conn, a, _) in &c {
            dialed.insert(*a);
            outs = h.feed(
                Input::Closed {
                    conn: *conn,
                    reason: refused(None),
                },
                t + 0.01,
            );
            assert!(
                connects(&outs).is_empty(),
                "no redial before the round ends"
            );
        }
        let next = h.core.poll_timeout().expect("a timer");
        t = next.duration_since(h.t0).as_secs_f64();
        outs = h.feed(Input::Timer, t);
        if ready.try_recv().is_ok() || t > 25.0 {
            break;
        }
    }
    assert_eq!(dialed.len(), 3, "every monitor was tried");
    let mut ready = h.wait_ready(t);
    assert!(
        (20.0..20.5).contains(&t),
        "gave up at the mount timeout, not {t}"
    );
    assert!(matches!(
        ready.try_recv(),
        Ok(Err(Error::MonUnreachable { .. }))
    ));
}

#[test]
fn the_timeout_error_lists_every_attempt() {
    let mut h = Harness::new(2, None);
    let outs = h.drain();
    let c = connects(&outs);
    let mut ready = h.wait_ready(0.0);
    h.feed(
        Input::Closed {
            conn: c[0].0,
            reason: refused(None),
        },
        0.01,
    );
    h.feed(Input::Timer, 20.0);
    match ready.try_recv() {
        Ok(Err(Error::MonUnreachable { tried, elapsed })) => {
            assert_eq!(elapsed, 20 * SECOND);
            assert_eq!(tried.len(), 2);
            let text = Error::MonUnreachable { tried, elapsed }.to_string();
            assert!(text.contains("v2:10.0.0.1:3300/0"), "{text}");
            assert!(text.contains("v2:10.0.0.2:3300/0"), "{text}");
            assert!(
                text.contains("refused") || text.contains("socket"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn commands_time_out_with_the_op_timeout() {
    let mut h = Harness::new(1, Some(5 * SECOND));
    let (mut rx, _) = h.command(0.0);
    assert_eq!(h.core.poll_timeout(), Some(h.t0 + 3 * SECOND));
    h.feed(Input::Timer, 3.0);
    assert!(rx.try_recv().is_err());
    h.feed(Input::Timer, 5.0);
    assert!(matches!(rx.try_recv(), Ok(Err(Error::Timeout { .. }))));
}

#[test]
fn gaps_request_a_full_map_and_stray_messages_are_ignored() {
    let mut h = Harness::new(2, None);
    let (conn, _) = connect(&mut h);
    // epoch 12 without 11: ask for a full map (osdmap start 0)
    let mut gap = MOsdMap {
        fsid: Uuid([3; 16]),
        ..MOsdMap::default()
    };
    gap.incremental_maps.insert(12, Bytes::from_static(b"junk"));
    let outs = h.deliver(conn, &gap, 0, 1.0);
    let s = sent(&outs);
    assert_eq!(s.len(), 1);
    assert_eq!(subscription(s[0].1).what["osdmap"].start, 0);
    let outs = h.deliver(conn, &osdmap_msg(12), 0, 1.1);
    assert!(matches!(outs.as_slice(), [Output::OsdMap(m)] if m.epoch == 12));
    // a message on a connection that is not the session
    let outs = h.deliver(conn + 100, &osdmap_msg(13), 0, 1.2);
    assert!(outs.is_empty());
}

#[test]
fn maps_shared_by_an_osd_are_applied_like_the_monitors() {
    let mut h = Harness::new(2, None);
    let (conn, _) = connect(&mut h);
    // an OSD's newer map (the monitors' session has nothing to do with it)
    let outs = h.feed(
        Input::Request(Request::OsdMapFromOsd(Box::new(osdmap_msg(11)))),
        1.0,
    );
    assert!(matches!(outs.as_slice(), [Output::OsdMap(m)] if m.epoch == 11));
    // an older one changes nothing, and the monitors' copy of 11 is not applied twice
    let outs = h.feed(
        Input::Request(Request::OsdMapFromOsd(Box::new(osdmap_msg(10)))),
        1.1,
    );
    assert!(outs.is_empty());
    let outs = h.deliver(conn, &osdmap_msg(11), 0, 1.2);
    assert!(outs.is_empty());
    // a gap in what an OSD shares renews the subscription with the monitors
    let mut gap = MOsdMap {
        fsid: Uuid([3; 16]),
        ..MOsdMap::default()
    };
    gap.incremental_maps.insert(13, Bytes::from_static(b"junk"));
    let outs = h.feed(Input::Request(Request::OsdMapFromOsd(Box::new(gap))), 1.3);
    let s = sent(&outs);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, conn);
    assert_eq!(subscription(s[0].1).what["osdmap"].start, 0);
    // a map of another cluster is ignored
    let mut other = osdmap_msg(20);
    other.fsid = Uuid([9; 16]);
    let outs = h.feed(Input::Request(Request::OsdMapFromOsd(Box::new(other))), 1.4);
    assert!(outs.is_empty());
}

#[test]
fn leaving_the_map_or_a_dead_session_means_hunting_again() {
    let mut h = Harness::new(3, None);
    let (conn, a) = connect(&mut h);
    let ours = (1..=3).find(|i| addr(*i) == a).unwrap();
    let others: Vec<u8> = (1..=3).filter(|i| *i != ours).collect();
    let outs = h.deliver(conn, &monmap_msg(&real_monmap(3, &others)), 0, 1.0);
    assert_eq!(closed(&outs), [conn]);
    let c = connects(&outs);
    assert_eq!(c.len(), 2);
    assert!(
        c.iter().all(|(_, x, _)| *x != a),
        "only monitors of the new map"
    );
}

#[test]
fn a_refused_reclaim_authenticates_afresh() {
    let mut h = Harness::new(1, None);
    let outs = h.drain();
    let (conn, a, reclaim) = connects(&outs)[0];
    assert!(!reclaim, "a first connection has nothing to reclaim");
    let key = cephx::CryptoKey::generate(
        cephx::KeyType::AES,
        UTime::default(),
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    let auth = cephx::MonAuth::new(
        denc::AuthName::client("admin"),
        key,
        cephx::ServiceSet::LIBRADOS,
    )
    .unwrap();
    let shared = Arc::new(Mutex::new(CephxMonState {
        auth,
        outcome: None,
    }));
    let info = SessionInfo {
        peer_addrs: EntityAddrVec(vec![a]),
        peer_global_id: 0,
        peer_global_seq: 1,
        features: features::ALL,
        global_id: 1,
        con_mode: ConMode::CRC,
        lossy: true,
        my_addr: EntityAddr::default(),
        client_cookie: 1,
        server_cookie: 0,
        connect_seq: 0,
        resumed_at: None,
    };
    let outs = h.feed(
        Input::Connected {
            conn,
            info,
            auth: Some(shared),
        },
        0.1,
    );
    assert!(outs.iter().any(|o| matches!(o, Output::Tickets(_))));
    let outs = h.feed(
        Input::Closed {
            conn,
            reason: CloseReason::IdleTimeout,
        },
        1.0,
    );
    let c = connects(&outs);
    assert!(c[0].2, "reconnecting presents the old tickets");
    let outs = h.feed(
        Input::Closed {
            conn: c[0].0,
            reason: refused(Some("denied")),
        },
        1.1,
    );
    let c = connects(&outs);
    assert_eq!(c.len(), 1);
    assert!(!c[0].2, "then tries without them");
    assert_eq!(c[0].1.addr_type, AddrType::MSGR2);
}

#[test]
fn shutdown_fails_everything_and_closes() {
    let mut h = Harness::new(2, None);
    let (conn, _) = connect(&mut h);
    let (mut rx, _) = h.command(1.0);
    let outs = h.feed(Input::Request(Request::Shutdown), 1.1);
    assert_eq!(closed(&outs), [conn]);
    assert!(matches!(rx.try_recv(), Ok(Err(Error::Shutdown))));
    assert!(h.core.is_stopped());
    let (mut rx, _) = h.command(1.2);
    assert!(matches!(rx.try_recv(), Ok(Err(Error::Shutdown))));
}

#[test]
fn auth_bad_method_with_eacces_is_a_wrong_key_unless_modes_differ() {
    let mut h = Harness::new(1, None);
    let outs = h.drain();
    let c = connects(&outs);
    let mut ready = h.wait_ready(0.0);
    h.feed(
        Input::Closed {
            conn: c[0].0,
            reason: refused(Some("bad method")),
        },
        0.05,
    );
    match ready.try_recv() {
        Ok(Err(Error::Auth(f))) => {
            // we offer secure and crc; the monitor allows crc: a key problem
            assert!(f.is_denied(), "{f}");
            let only_secure = AuthFailure {
                mon: f.mon,
                offered_modes: vec![ConMode::SECURE],
                source: msgr2::AuthError::MethodRejected {
                    method: msgr2::AuthMethod::CEPHX,
                    result: -13,
                    allowed_methods: vec![msgr2::AuthMethod::CEPHX],
                    allowed_modes: vec![ConMode::CRC],
                },
            };
            assert!(!only_secure.is_denied());
            assert!(
                only_secure.to_string().contains("connection modes"),
                "{only_secure}"
            );
        }
        other => panic!("{other:?}"),
    }
}
