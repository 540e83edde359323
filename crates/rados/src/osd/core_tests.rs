//! The objecter against simulated maps and sessions: targeting, resends with the same tid
//! (RETRY, retry_attempt), session resets, reconnect delays, backoffs, pool checks,
//! pauses, forced resends, splits, cancellation and stray replies.

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::{EntityAddrVec, HObject, ObjectLocator, PgId, SnapContext, SnapId, UTime};
use osdmap::{PgPool, map_flags, osd_state};

use super::*;
use crate::messages::osd_types::opcode;
use crate::messages::{MOsdOp, MessageCodec, SpgId, decode_message};

const PACIFIC: u64 = 0x3f01_cfbd_fffd_ffff;
const TENTACLE: u64 = 0x3f07_ffff_fffd_ffff;
const POOL: i64 = 1;

/// A map of 4 up OSDs with pool 1 (8 PGs, size 2) whose every PG is on `acting`
/// (through pg_temp; the CRUSH map is empty).
fn map(epoch: u32, acting: &[i32]) -> OsdMap {
    let mut m = OsdMap {
        epoch,
        max_osd: 4,
        osd_state: vec![osd_state::EXISTS | osd_state::UP; 4],
        osd_weight: vec![0x10000; 4],
        client_addrs: (0..4)
            .map(|i| {
                EntityAddrVec(vec![
                    format!("v2:127.0.0.1:{}/0", 6800 + i).parse().unwrap(),
                ])
            })
            .collect(),
        ..OsdMap::default()
    };
    m.pools.insert(
        POOL,
        PgPool {
            pool_type: PgPool::TYPE_REPLICATED,
            size: 2,
            min_size: 1,
            object_hash: 2,
            pg_num: 8,
            pgp_num: 8,
            flags: PgPool::FLAG_HASHPSPOOL,
            ..PgPool::default()
        },
    );
    m.pool_names.insert(POOL, "data".into());
    set_acting(&mut m, acting);
    m
}

fn set_acting(m: &mut OsdMap, acting: &[i32]) {
    m.pg_temp.clear();
    let pg_num = m.pools.get(&POOL).map_or(0, |p| p.pg_num);
    for seed in 0..pg_num {
        m.pg_temp
            .insert(PgId::new(POOL as u64, seed), acting.to_vec());
    }
}

fn next(m: &OsdMap, f: impl FnOnce(&mut OsdMap)) -> Arc<OsdMap> {
    let mut n = m.clone();
    n.epoch += 1;
    f(&mut n);
    Arc::new(n)
}

struct Harness {
    core: ObjecterCore,
    now: Instant,
}

type Rx = oneshot::Receiver<Result<MOsdOpReply>>;

impl Harness {
    fn new(m: OsdMap) -> Self {
        Harness {
            core: ObjecterCore::new(Arc::new(m), 4123, denc::features::ALL),
            now: Instant::now(),
        }
    }

    fn submit(&mut self, oid: &str, flags: u32) -> (u64, Rx) {
        let mut op = RawOsdOp::extent(opcode::WRITE, 0, 3, 0, 0);
        op.payload_len = 3;
        self.submit_op(oid, flags, op, Bytes::from_static(b"abc"))
    }

    /// Submits the single op `op` with input `data` to `oid`.
    pub(super) fn submit_op(
        &mut self,
        oid: &str,
        flags: u32,
        op: RawOsdOp,
        data: Bytes,
    ) -> (u64, Rx) {
        let (tx, rx) = oneshot::channel();
        let tid = self.core.submit(OpRequest {
            target: Target::new(oid.into(), ObjectLocator::new(POOL), flags),
            ops: vec![op],
            data,
            data_tail: Vec::new(),
            snapid: SnapId::NOSNAP,
            snapc: SnapContext::default(),
            mtime: UTime::new(1, 0),
            reply: tx.into(),
        });
        (tid, rx)
    }

    fn write(&mut self, oid: &str) -> (u64, Rx) {
        self.submit(oid, flag::WRITE)
    }

    fn actions(&mut self) -> Vec<Action> {
        self.core.take_actions()
    }

    /// Connects every dial in `actions` with `features`; returns what was sent then.
    fn connect(&mut self, actions: Vec<Action>, features: u64) -> Vec<(ConnId, MOsdOp)> {
        for a in actions {
            if let Action::Connect { conn, .. } = a {
                self.core.handle_connected(conn, features);
            }
        }
        sent(self.actions())
    }

    fn conn_of(&self, osd: i32) -> ConnId {
        self.core.sessions.get(&osd).map(|s| s.conn).unwrap()
    }
}

fn sent(actions: Vec<Action>) -> Vec<(ConnId, MOsdOp)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(conn, msg) if msg.header.msg_type == MOsdOp::TYPE => {
                Some((conn, decode_message::<MOsdOp>(&msg).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn connects(actions: &[Action]) -> Vec<i32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { osd, .. } => Some(*osd),
            _ => None,
        })
        .collect()
}

fn reply(tid: u64, attempt: i32, result: i32, flags: i64) -> MOsdOpReply {
    let _ = tid;
    MOsdOpReply {
        oid: b"o".to_vec(),
        pgid: PgId::new(1, 0),
        flags,
        result,
        retry_attempt: attempt,
        ops: vec![RawOsdOp::new(opcode::WRITE)],
        rvals: vec![result],
        ..MOsdOpReply::default()
    }
}

const ONDISK: i64 = (flag::ONDISK | flag::ACK) as i64;

#[test]
fn sends_to_the_acting_primary_once_connected() {
    let mut h = Harness::new(map(10, &[2, 1]));
    let (tid, mut rx) = h.write("obj");
    let actions = h.actions();
    assert_eq!(connects(&actions), [2]);
    assert!(sent(Vec::new()).is_empty());
    let msgs = h.connect(actions, PACIFIC);
    assert_eq!(msgs.len(), 1);
    let (conn, m) = &msgs[0];
    assert_eq!(*conn, h.conn_of(2));
    assert_eq!(m.epoch, 10);
    assert_eq!(m.retry_attempt, 0);
    assert_eq!(m.flags & flag::RETRY, 0);
    assert_eq!(
        m.flags & (flag::WRITE | flag::ONDISK | flag::KNOWN_REDIR),
        flag::WRITE | flag::ONDISK | flag::KNOWN_REDIR
    );
    assert_eq!((m.reqid.tid, m.reqid.name.num), (tid, 4123));
    assert_eq!(m.pgid.shard, SpgId::NO_SHARD);
    let raw = h
        .core
        .map()
        .object_locator_to_raw_pg("obj", &ObjectLocator::new(POOL))
        .unwrap();
    assert_eq!(m.hash, raw.seed);
    assert_eq!(m.pgid.pgid.seed, raw.seed % 8);
    assert_eq!(&m.data[..], b"abc");
    // a write's early ack does not complete it; the commit does
    h.core
        .handle_reply(*conn, tid, reply(tid, 0, 0, i64::from(flag::ACK)));
    assert!(rx.try_recv().is_err());
    h.core.handle_reply(*conn, tid, reply(tid, 0, 0, ONDISK));
    assert!(rx.try_recv().unwrap().is_ok());
    assert_eq!(h.core.in_flight(), 0);
}

#[test]
fn message_version_follows_the_session_features() {
    let mut h = Harness::new(map(3, &[0, 1]));
    h.write("a");
    let a = h.actions();
    for a in a {
        if let Action::Connect { conn, .. } = a {
            h.core.handle_connected(conn, TENTACLE);
        }
    }
    let versions: Vec<u16> = h
        .actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(_, m) => Some(m.header.version),
            _ => None,
        })
        .collect();
    assert_eq!(versions, [9]);
}

#[test]
fn a_moved_primary_gets_a_retry_with_the_same_tid() {
    let mut h = Harness::new(map(10, &[0, 1]));
    let (tid, mut rx) = h.write("obj");
    let a = h.actions();
    let first = h.connect(a, PACIFIC);
    assert_eq!(first.len(), 1);
    let old_conn = first[0].0;
    // replicas change only: no resend
    let m11 = next(h.core.map(), |m| set_acting(m, &[0, 3]));
    h.core.handle_map(Arc::clone(&m11));
    assert!(sent(h.actions()).is_empty());
    // the primary moves to osd.1
    let m12 = next(&m11, |m| set_acting(m, &[1, 3]));
    h.core.handle_map(m12);
    let a = h.actions();
    assert_eq!(connects(&a), [1]);
    let again = h.connect(a, PACIFIC);
    assert_eq!(again.len(), 1);
    let (new_conn, m) = &again[0];
    assert_eq!(m.reqid.tid, tid);
    assert_eq!(m.retry_attempt, 1);
    assert_ne!(m.flags & flag::RETRY, 0);
    assert_eq!(m.epoch, 12);
    // the old OSD's late reply is ignored
    h.core.handle_reply(old_conn, tid, reply(tid, 0, 0, ONDISK));
    assert!(rx.try_recv().is_err());
    // a reply to the wrong attempt too
    h.core
        .handle_reply(*new_conn, tid, reply(tid, 0, 0, ONDISK));
    assert!(rx.try_recv().is_err());
    h.core
        .handle_reply(*new_conn, tid, reply(tid, 1, 0, ONDISK));
    assert!(rx.try_recv().unwrap().is_ok());
}

#[test]
fn a_session_reset_reconnects_and_resends() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, _rx) = h.write("obj");
    let a = h.actions();
    h.connect(a, PACIFIC);
    let conn = h.conn_of(0);
    h.core.handle_closed(conn, h.now);
    let a = h.actions();
    assert_eq!(connects(&a), [0], "a session that was up redials at once");
    let again = h.connect(a, PACIFIC);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].1.reqid.tid, again[0].1.retry_attempt), (tid, 1));
}

#[test]
fn failed_dials_back_off() {
    let mut h = Harness::new(map(5, &[0, 1]));
    h.write("obj");
    h.actions();
    let mut delays = Vec::new();
    for _ in 0..8 {
        let conn = h.conn_of(0);
        h.core.handle_closed(conn, h.now);
        assert!(h.actions().is_empty());
        let due = h.core.poll_timeout().unwrap();
        delays.push(due - h.now);
        h.now = due;
        h.core.handle_timeout(h.now);
        assert_eq!(connects(&h.actions()), [0]);
    }
    assert_eq!(delays[0], Duration::from_millis(100));
    assert_eq!(delays[1], Duration::from_millis(200));
    assert_eq!(*delays.last().unwrap(), Duration::from_secs(5));
    // a map marking the OSD down ends the attempts; the op waits for a target
    let down = next(h.core.map(), |m| {
        m.osd_state[0] = osd_state::EXISTS;
        set_acting(m, &[]);
    });
    h.core.handle_map(down);
    let a = h.actions();
    assert!(a.iter().any(|a| matches!(a, Action::Close(_))));
    assert!(h.core.poll_timeout().is_none());
    assert_eq!(h.core.in_flight(), 1);
}

#[test]
fn a_down_osd_parks_ops_until_a_map_gives_a_primary() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, _rx) = h.write("obj");
    let a = h.actions();
    h.connect(a, PACIFIC);
    let m6 = next(h.core.map(), |m| {
        m.osd_state[0] = osd_state::EXISTS;
        set_acting(m, &[]);
    });
    h.core.handle_map(Arc::clone(&m6));
    assert!(sent(h.actions()).is_empty());
    let m7 = next(&m6, |m| set_acting(m, &[1]));
    h.core.handle_map(m7);
    let a = h.actions();
    assert_eq!(connects(&a), [1]);
    let msgs = h.connect(a, PACIFIC);
    assert_eq!((msgs[0].1.reqid.tid, msgs[0].1.retry_attempt), (tid, 1));
}

#[test]
fn backoffs_hold_ops_and_unblock_resends() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, _rx) = h.write("obj");
    let a = h.actions();
    let msgs = h.connect(a, PACIFIC);
    let (conn, m) = &msgs[0];
    let pgid = m.pgid;
    let block = MOsdBackoff {
        pgid,
        epoch: 5,
        op: backoff_op::BLOCK,
        id: 9,
        begin: HObject {
            pool: POOL,
            ..HObject::default()
        },
        end: HObject::max(),
    };
    h.core.handle_backoff(*conn, block.clone());
    let acks: Vec<MOsdBackoff> = h
        .actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(_, m) => decode_message::<MOsdBackoff>(&m).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!((acks[0].op, acks[0].id), (backoff_op::ACK_BLOCK, 9));
    // another op to the same PG is held
    let (tid2, _rx2) = h.write("obj");
    assert!(sent(h.actions()).is_empty());
    // unblock: both go (again)
    let unblock = MOsdBackoff {
        op: backoff_op::UNBLOCK,
        ..block
    };
    h.core.handle_backoff(*conn, unblock);
    let resent: Vec<(u64, i32)> = sent(h.actions())
        .iter()
        .map(|(_, m)| (m.reqid.tid, m.retry_attempt))
        .collect();
    assert_eq!(resent, [(tid, 1), (tid2, 0)]);
    let c = h.core.counters();
    assert_eq!((c.backoffs_received, c.backoffs_lifted), (1, 1));
    assert_eq!((c.ops_sent, c.ops_resent), (3, 1));
}

#[test]
fn a_missing_pool_is_checked_with_the_monitors() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tx, mut rx) = oneshot::channel();
    let tid = h.core.submit(OpRequest {
        target: Target::new("o".into(), ObjectLocator::new(7), flag::READ),
        ops: vec![RawOsdOp::new(opcode::STAT)],
        data: Bytes::new(),
        data_tail: Vec::new(),
        snapid: SnapId::NOSNAP,
        snapc: SnapContext::default(),
        mtime: UTime::default(),
        reply: tx.into(),
    });
    let a = h.actions();
    assert!(matches!(a[..], [Action::CheckPool { tid: t }] if t == tid));
    // the monitors are at epoch 7: wait for it
    h.core.handle_pool_bound(tid, 7);
    assert!(rx.try_recv().is_err());
    let m6 = next(h.core.map(), |_| {});
    h.core.handle_map(Arc::clone(&m6));
    assert!(rx.try_recv().is_err());
    let m7 = next(&m6, |_| {});
    h.core.handle_map(m7);
    let err = rx.try_recv().unwrap().unwrap_err();
    assert!(err.is(Errno::ENOENT), "{err}");
    // a pool created meanwhile is found
    let (tx, mut rx) = oneshot::channel();
    let tid = h.core.submit(OpRequest {
        target: Target::new("o".into(), ObjectLocator::new(8), flag::READ),
        ops: vec![RawOsdOp::new(opcode::STAT)],
        data: Bytes::new(),
        data_tail: Vec::new(),
        snapid: SnapId::NOSNAP,
        snapc: SnapContext::default(),
        mtime: UTime::default(),
        reply: tx.into(),
    });
    h.actions();
    h.core.handle_pool_bound(tid, 9);
    let with_pool = next(h.core.map(), |m| {
        let p = m.pools.get(&POOL).cloned().unwrap();
        m.pools.insert(8, p);
        m.pool_names.insert(8, "new".into());
        for seed in 0..8 {
            m.pg_temp.insert(PgId::new(8, seed), vec![2, 3]);
        }
    });
    h.core.handle_map(with_pool);
    assert_eq!(connects(&h.actions()), [2]);
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_deleted_pool_fails_its_ops_at_once() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (_tid, mut rx) = h.write("obj");
    h.actions();
    let gone = next(h.core.map(), |m| {
        m.pools.clear();
        m.pool_names.clear();
        m.pg_temp.clear();
    });
    h.core.handle_map(gone);
    assert!(rx.try_recv().unwrap().unwrap_err().is(Errno::ENOENT));
    assert!(
        !h.actions()
            .iter()
            .any(|a| matches!(a, Action::CheckPool { .. }))
    );
}

#[test]
fn pauses_hold_writes_until_the_flag_lifts() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let paused = next(h.core.map(), |m| m.flags |= map_flags::PAUSEWR);
    h.core.handle_map(Arc::clone(&paused));
    let (tid, _rx) = h.write("w");
    let (_r, _rrx) = h.submit("r", flag::READ);
    let a = h.actions();
    let msgs = h.connect(a, PACIFIC);
    // only the read went out
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1.flags & flag::READ, flag::READ);
    let lifted = next(&paused, |m| m.flags &= !map_flags::PAUSEWR);
    h.core.handle_map(lifted);
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].1.reqid.tid, msgs[0].1.retry_attempt), (tid, 0));
    // a full pool pauses writes too, unless they try anyway
    let full = next(h.core.map(), |m| {
        if let Some(p) = m.pools.get_mut(&POOL) {
            p.flags |= PgPool::FLAG_FULL;
        }
    });
    h.core.handle_map(full);
    h.actions();
    h.write("w2");
    assert!(sent(h.actions()).is_empty());
    h.submit("w3", flag::WRITE | flag::FULL_TRY);
    assert_eq!(sent(h.actions()).len(), 1);
}

#[test]
fn last_force_op_resend_and_splits_resend() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, _rx) = h.write("obj");
    let a = h.actions();
    h.connect(a, PACIFIC);
    let forced = next(h.core.map(), |m| {
        let e = m.epoch;
        if let Some(p) = m.pools.get_mut(&POOL) {
            p.last_force_op_resend = e;
        }
    });
    h.core.handle_map(Arc::clone(&forced));
    let msgs = sent(h.actions());
    assert_eq!((msgs[0].1.reqid.tid, msgs[0].1.retry_attempt), (tid, 1));
    // the same epoch again changes nothing; a quiet map neither
    let quiet = next(&forced, |_| {});
    h.core.handle_map(Arc::clone(&quiet));
    assert!(sent(h.actions()).is_empty());
    // find a PG count change that splits the op's PG
    let raw = quiet
        .object_locator_to_raw_pg("obj", &ObjectLocator::new(POOL))
        .unwrap();
    let split = next(&quiet, |m| {
        if let Some(p) = m.pools.get_mut(&POOL) {
            p.pg_num = 16;
            p.pgp_num = 16;
        }
        for seed in 0..16 {
            m.pg_temp.insert(PgId::new(POOL as u64, seed), vec![0, 1]);
        }
    });
    h.core.handle_map(split);
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1, "a split always resends");
    assert_eq!(msgs[0].1.pgid.pgid.seed, raw.seed % 16);
    assert_eq!(msgs[0].1.retry_attempt, 2);
}

#[test]
fn cancelled_and_stray_replies_are_ignored() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, rx) = h.write("obj");
    let a = h.actions();
    let msgs = h.connect(a, PACIFIC);
    let conn = msgs[0].0;
    drop(rx);
    h.core.cancel(tid);
    assert_eq!(h.core.in_flight(), 0);
    h.core.handle_reply(conn, tid, reply(tid, 0, 0, ONDISK));
    h.core.handle_reply(conn, 999, reply(999, 0, 0, ONDISK));
    h.core.handle_reply(12345, tid, reply(tid, 0, 0, ONDISK));
    assert_eq!(h.core.in_flight(), 0);
}

#[test]
fn ops_to_one_osd_go_out_in_submission_order_after_a_reset() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let tids: Vec<u64> = (0..20).map(|i| h.write(&format!("o{i}")).0).collect();
    let a = h.actions();
    h.connect(a, PACIFIC);
    h.core.handle_closed(h.conn_of(0), h.now);
    let a = h.actions();
    let resent: Vec<u64> = h
        .connect(a, PACIFIC)
        .iter()
        .map(|(_, m)| m.reqid.tid)
        .collect();
    assert_eq!(resent, tids);
}

#[test]
fn shutdown_fails_everything() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (_tid, mut rx) = h.write("obj");
    h.actions();
    h.core.shutdown();
    assert!(matches!(rx.try_recv().unwrap(), Err(Error::Shutdown)));
    let (_t, mut rx) = h.write("later");
    assert!(matches!(rx.try_recv().unwrap(), Err(Error::Shutdown)));
    let _unused: BTreeMap<u8, u8> = BTreeMap::new();
}

#[test]
fn cache_tier_overlays_redirect_reads_and_writes() {
    let mut m = map(5, &[0, 1]);
    let mut tier = m.pools.get(&POOL).cloned().unwrap();
    tier.tier_of = POOL;
    m.pools.insert(2, tier);
    m.pool_names.insert(2, "cache".into());
    for seed in 0..8 {
        m.pg_temp.insert(PgId::new(2, seed), vec![3, 2]);
    }
    if let Some(p) = m.pools.get_mut(&POOL) {
        p.read_tier = 2;
    }
    let mut h = Harness::new(m);
    h.submit("r", flag::READ);
    h.write("w");
    let a = h.actions();
    assert_eq!(connects(&a), [3, 0]);
    let msgs = h.connect(a, PACIFIC);
    let by_flag = |f: u32| {
        msgs.iter()
            .find(|(_, m)| m.flags & f != 0)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let read = by_flag(flag::READ);
    assert_eq!((read.oloc.pool, read.pgid.pgid.pool), (2, 2));
    let write = by_flag(flag::WRITE);
    assert_eq!((write.oloc.pool, write.pgid.pgid.pool), (POOL, POOL as u64));
    // ops that ignore the overlay stay on the base pool
    h.submit("r2", flag::READ | flag::IGNORE_OVERLAY);
    let sent = sent(h.actions());
    assert_eq!(sent[0].1.oloc.pool, POOL);
}

#[path = "linger_tests.rs"]
mod linger;

#[test]
fn a_skipped_epoch_resends_everything() {
    // epochs 6 and 7 moved the PG away and back (the OSD dropped the op); the objecter
    // sees only epoch 8, whose placement equals epoch 5's
    let m5 = map(5, &[0, 1]);
    let mut h = Harness::new(m5.clone());
    let (tid, _rx) = h.write("obj");
    let a = h.actions();
    h.connect(a, PACIFIC);
    let mut m8 = m5.clone();
    m8.epoch = 8;
    h.core.handle_map(Arc::new(m8.clone()));
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].1.reqid.tid, msgs[0].1.retry_attempt), (tid, 1));
    assert_ne!(msgs[0].1.flags & flag::RETRY, 0);
    // the next epoch in sequence, unchanged: nothing to resend
    h.core.handle_map(next(&m8, |_| {}));
    assert!(sent(h.actions()).is_empty());
}

#[test]
fn pg_ops_go_to_the_pg_of_their_hash_and_follow_splits() {
    // Objecter::pg_read: no object, the raw hash given; IGNORE_OVERLAY; the MOSDOp carries
    // the hash (the OSD checks its PG contains it)
    let mut m = map(5, &[0, 1]);
    if let Some(p) = m.pools.get_mut(&POOL) {
        p.read_tier = 9; // an overlay a PG op must ignore
    }
    let mut h = Harness::new(m);
    let hash = 0x8000_000d_u32; // PG 5 of 8, PG 13 of 16
    let (tx, _rx) = oneshot::channel();
    let mut op = RawOsdOp::pgls(opcode::PGNLS, 10, 5);
    op.payload_len = 3;
    h.core.submit(OpRequest {
        target: Target::for_pg(
            ObjectLocator::new(POOL).in_namespace("\u{1}"),
            hash,
            flag::READ,
        ),
        ops: vec![op],
        data: Bytes::from_static(b"abc"),
        data_tail: Vec::new(),
        snapid: SnapId::NOSNAP,
        snapc: SnapContext::default(),
        mtime: UTime::default(),
        reply: tx.into(),
    });
    let a = h.actions();
    let msgs = h.connect(a, PACIFIC);
    let m = &msgs[0].1;
    assert_eq!(m.oid, "");
    assert_eq!((m.hash, m.pgid.pgid.seed, m.oloc.pool), (hash, 5, POOL));
    assert_eq!(m.oloc.nspace, "\u{1}");
    assert_eq!(m.oloc.hash, -1);
    assert_ne!(m.flags & flag::IGNORE_OVERLAY, 0);
    assert_eq!(
        m.flags & flag::PGOP,
        0,
        "librados lists without the PGOP flag"
    );
    assert_eq!(m.ops[0].op, 0x1505);
    // a split moves the op to the child that holds the hash
    let split = next(h.core.map(), |m| {
        if let Some(p) = m.pools.get_mut(&POOL) {
            p.pg_num = 16;
            p.pgp_num = 16;
        }
        for seed in 0..16 {
            m.pg_temp.insert(PgId::new(POOL as u64, seed), vec![0, 1]);
        }
    });
    h.core.handle_map(split);
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].1.pgid.pgid.seed, msgs[0].1.hash), (13, hash));
    assert_eq!(msgs[0].1.retry_attempt, 1);
}

#[test]
fn ops_unanswered_for_30_s_are_reported_once() {
    let mut h = Harness::new(map(10, &[1, 2]));
    let (_, _rx) = h.write("slow");
    // the session never comes up, and a second op is answered in time
    let _ = h.actions();
    let t0 = h.now;
    h.core.handle_timeout(t0);
    let (tid, _rx2) = h.write("quick");
    h.core.handle_timeout(t0 + Duration::from_secs(6));
    h.core.cancel(tid);
    assert_eq!(h.core.counters().laggy_ops, 0);
    h.core.handle_timeout(t0 + Duration::from_secs(29));
    assert_eq!(h.core.counters().laggy_ops, 0, "not yet 30 s");
    // (checked every 5 s: the next check after 29 s is at 34 s)
    h.core.handle_timeout(t0 + Duration::from_secs(34));
    assert_eq!(h.core.counters().laggy_ops, 1);
    h.core.handle_timeout(t0 + Duration::from_secs(90));
    assert_eq!(h.core.counters().laggy_ops, 1, "reported once");
}

#[path = "linger_sim_tests.rs"]
mod linger_sim;

#[path = "core_full_tests.rs"]
mod full;
