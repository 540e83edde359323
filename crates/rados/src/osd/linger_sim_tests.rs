//! A watch through random cluster histories: OSDs restart (new address), go down and come
//! back, the acting set moves (also back and forth within a few epochs), PGs peer behind
//! backoffs, sessions reset and dials fail, the client receives maps one by one or skips
//! epochs, and messages arrive late. The simulated OSDs behave as Ceph's do where it
//! matters here: an op reaching an OSD that is not the acting primary is dropped without
//! a reply; a new PG interval drops every watch connection and lifts the interval's
//! backoffs (UNBLOCK); a peering primary answers an op with a BLOCK and drops it; a
//! RECONNECT re-attaches a watch the object knows; a PING of a watch not attached in the
//! current interval fails with ETIMEDOUT. Once the cluster settles the watch must either
//! have been reported lost (as librados reports it) or be attached at the final primary:
//! never silently unattached, which is how a watch stops receiving notifies for good.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;
use crate::messages::osd_types::watch_op;
use crate::messages::{MOsdBackoff, backoff_op};
use crate::osd::core::linger::PING_INTERVAL;
use crate::watch::WatchEvent;

// the watch on "w" every history registers (linger_tests.rs)
use super::linger::watch;

/// A small deterministic generator (xorshift64*), so that a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const OSDS: i32 = 4;

/// What the simulated cluster is.
struct World {
    h: Harness,
    rng: Rng,
    /// Every map published, by epoch.
    maps: BTreeMap<u32, Arc<OsdMap>>,
    /// The newest map the client was given.
    delivered: u32,
    /// Each OSD's incarnation (the nonce of its address).
    incarnation: [u32; 4],
    /// The PG interval (bumped on every acting change or restart of an acting member).
    interval: u64,
    /// Whether the primary finished peering in this interval.
    active: bool,
    /// Dials under way: conn -> (osd, incarnation dialed).
    dialing: BTreeMap<ConnId, (i32, u32)>,
    /// Established connections: conn -> (osd, incarnation).
    open: BTreeMap<ConnId, (i32, u32)>,
    /// Messages on the wire to OSDs, per connection, in order.
    inbox: BTreeMap<ConnId, VecDeque<MOsdOp>>,
    /// Backoffs the primary holds in this interval: (conn, id).
    backoffs: BTreeSet<(ConnId, u64)>,
    last_backoff: u64,
    /// The object's watchers (object_info_t::watchers): cookies.
    known: BTreeSet<u64>,
    /// Where the watch is attached: (osd, incarnation, interval, conn).
    attached: Option<(i32, u32, u64, ConnId)>,
    /// The PG the watched object is in (learned from the first op).
    pgid: Option<SpgId>,
}

fn addr(osd: i32, incarnation: u32) -> EntityAddrVec {
    EntityAddrVec(vec![
        format!("v2:127.0.0.1:{}/{}", 6800 + osd, incarnation)
            .parse()
            .unwrap(),
    ])
}

impl World {
    fn new(seed: u64) -> World {
        let mut m = map(1, &[0, 1]);
        for osd in 0..OSDS {
            m.client_addrs[osd as usize] = addr(osd, 1);
        }
        let m = Arc::new(m);
        let mut maps = BTreeMap::new();
        maps.insert(1, Arc::clone(&m));
        World {
            h: Harness::new(OsdMap::clone(&m)),
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            maps,
            delivered: 1,
            incarnation: [1; 4],
            interval: 1,
            active: true,
            dialing: BTreeMap::new(),
            open: BTreeMap::new(),
            inbox: BTreeMap::new(),
            backoffs: BTreeSet::new(),
            last_backoff: 0,
            known: BTreeSet::new(),
            attached: None,
            pgid: None,
        }
    }

    fn newest(&self) -> Arc<OsdMap> {
        Arc::clone(self.maps.values().next_back().unwrap())
    }

    fn acting(m: &OsdMap) -> Vec<i32> {
        m.pg_temp.values().next().cloned().unwrap_or_default()
    }

    fn is_up(m: &OsdMap, osd: i32) -> bool {
        m.osd_state[osd as usize] & osd_state::UP != 0
    }

    /// Publishes a map changed by `f`; a changed acting set or a restarted acting member
    /// starts a new interval (the primary peers again unless `quick`).
    fn publish(&mut self, f: impl FnOnce(&mut OsdMap, &mut [u32; 4]), quick: bool) {
        let old = self.newest();
        let mut inc = self.incarnation;
        let m = next(&old, |m| f(m, &mut inc));
        let restarted = (0..OSDS).any(|o| inc[o as usize] != self.incarnation[o as usize]);
        let new_interval = World::acting(&m) != World::acting(&old)
            || World::acting(&old)
                .iter()
                .any(|&o| inc[o as usize] != self.incarnation[o as usize]);
        if restarted {
            // a restarted OSD's connections die with it (the client notices later)
            let dead: Vec<ConnId> = self
                .open
                .iter()
                .filter(|(_, (o, i))| inc[*o as usize] != *i)
                .map(|(c, _)| *c)
                .collect();
            for c in dead {
                self.open.remove(&c);
                self.inbox.remove(&c);
                self.backoffs.retain(|(bc, _)| *bc != c);
                self.h.core.handle_closed(c, self.h.now);
            }
        }
        self.incarnation = inc;
        if new_interval {
            self.new_interval(quick);
        }
        self.maps.insert(m.epoch, m);
    }

    /// The primary leaves its interval: the watch connections go, the backoffs are lifted
    /// (Primary::exit releases them with UNBLOCKs to the sessions still there).
    fn new_interval(&mut self, quick: bool) {
        self.interval += 1;
        self.active = quick;
        for (conn, id) in std::mem::take(&mut self.backoffs) {
            if self.open.contains_key(&conn) {
                self.unblock(conn, id);
            }
        }
    }

    fn unblock(&mut self, conn: ConnId, id: u64) {
        let Some(pgid) = self.pgid else { return };
        self.h.core.handle_backoff(
            conn,
            MOsdBackoff {
                pgid,
                epoch: self.newest().epoch,
                op: backoff_op::UNBLOCK,
                id,
                begin: HObject {
                    pool: POOL,
                    ..HObject::default()
                },
                end: HObject::max(),
            },
        );
    }

    /// One random change of the cluster.
    fn disturb(&mut self) {
        let m = self.newest();
        let up: Vec<i32> = (0..OSDS).filter(|&o| World::is_up(&m, o)).collect();
        match self.rng.below(4) {
            // an OSD restarts: down first, or straight to a new address
            0 => {
                let osd = i32::try_from(self.rng.below(OSDS as u64)).unwrap();
                let via_down = self.rng.chance(60);
                if via_down && up.len() > 2 && World::is_up(&m, osd) {
                    let others: Vec<i32> = up.iter().copied().filter(|&o| o != osd).collect();
                    let acting = self.pick_acting(&others);
                    self.publish(
                        |m, _| {
                            m.osd_state[osd as usize] = osd_state::EXISTS;
                            set_acting(m, &acting);
                        },
                        false,
                    );
                }
                let quick = self.rng.chance(30);
                self.publish(
                    |m, inc| {
                        inc[osd as usize] += 1;
                        m.osd_state[osd as usize] = osd_state::EXISTS | osd_state::UP;
                        m.client_addrs[osd as usize] = addr(osd, inc[osd as usize]);
                    },
                    quick,
                );
            }
            // the acting set moves (pg_temp while the restarted OSD recovers, and back)
            1 | 2 => {
                let acting = self.pick_acting(&up);
                let quick = self.rng.chance(30);
                self.publish(|m, _| set_acting(m, &acting), quick);
            }
            // nothing changes but the epoch
            _ => self.publish(|_, _| {}, true),
        }
    }

    fn pick_acting(&mut self, candidates: &[i32]) -> Vec<i32> {
        let a = candidates[self.rng.index(candidates.len())];
        let mut b = candidates[self.rng.index(candidates.len())];
        if b == a {
            b = *candidates.iter().find(|&&o| o != a).unwrap_or(&a);
        }
        if a == b { vec![a] } else { vec![a, b] }
    }

    /// Gives the client the next map, or jumps to the newest.
    fn deliver(&mut self, jump: bool) {
        let newest = self.newest().epoch;
        if self.delivered >= newest {
            return;
        }
        let e = if jump { newest } else { self.delivered + 1 };
        self.delivered = e;
        let m = Arc::clone(&self.maps[&e]);
        self.h.core.handle_map(m);
    }

    /// Carries out what the client asked for.
    fn pump(&mut self) {
        for action in self.h.actions() {
            match action {
                Action::Connect { conn, osd, addr } => {
                    self.dialing.insert(conn, (osd, addr.nonce));
                }
                Action::Close(conn) => {
                    self.dialing.remove(&conn);
                    self.open.remove(&conn);
                    self.inbox.remove(&conn);
                    self.backoffs.retain(|(c, _)| *c != conn);
                }
                Action::Send(conn, msg) => {
                    if msg.header.msg_type == MOsdOp::TYPE && self.open.contains_key(&conn) {
                        let m = decode_message::<MOsdOp>(&msg).unwrap();
                        self.inbox.entry(conn).or_default().push_back(m);
                    }
                }
                Action::CheckPool { .. } => {}
            }
        }
    }

    /// A dial under way succeeds (the OSD incarnation dialed is alive) or fails.
    fn settle_dial(&mut self, conn: ConnId) {
        let Some((osd, inc)) = self.dialing.remove(&conn) else {
            return;
        };
        let alive = World::is_up(&self.newest(), osd) && self.incarnation[osd as usize] == inc;
        if alive {
            self.open.insert(conn, (osd, inc));
            self.h.core.handle_connected(conn, PACIFIC);
        } else {
            self.h.core.handle_closed(conn, self.h.now);
        }
    }

    /// The OSD at the end of `conn` handles its next message.
    fn osd_handles(&mut self, conn: ConnId) {
        let Some(m) = self.inbox.get_mut(&conn).and_then(VecDeque::pop_front) else {
            return;
        };
        let Some(&(osd, inc)) = self.open.get(&conn) else {
            return;
        };
        self.pgid.get_or_insert(m.pgid);
        let primary = World::acting(&self.newest()).first().copied();
        if primary != Some(osd) || self.incarnation[osd as usize] != inc {
            // not (or no longer) the primary: dropped without a reply
            return;
        }
        if self.backoffs.iter().any(|(c, _)| *c == conn) {
            // Session::check_backoff: dropped, resent after the UNBLOCK
            return;
        }
        if !self.active {
            self.last_backoff += 1;
            let id = self.last_backoff;
            self.backoffs.insert((conn, id));
            self.h.core.handle_backoff(
                conn,
                MOsdBackoff {
                    pgid: m.pgid,
                    epoch: self.newest().epoch,
                    op: backoff_op::BLOCK,
                    id,
                    begin: HObject {
                        pool: POOL,
                        ..HObject::default()
                    },
                    end: HObject::max(),
                },
            );
            return;
        }
        let body = &m.ops[0].body;
        let cookie = u64::from_le_bytes(body[0..8].try_into().unwrap());
        let result = match body[16] {
            watch_op::WATCH => {
                self.known.insert(cookie);
                self.attached = Some((osd, inc, self.interval, conn));
                0
            }
            watch_op::RECONNECT if self.known.contains(&cookie) => {
                self.attached = Some((osd, inc, self.interval, conn));
                0
            }
            watch_op::RECONNECT => Errno::ENOTCONN.as_result(),
            watch_op::PING if self.is_attached() => 0,
            watch_op::PING => Errno::ETIMEDOUT.as_result(),
            _ => 0,
        };
        self.h.core.handle_reply(
            conn,
            m.reqid.tid,
            reply(m.reqid.tid, m.retry_attempt, result, ONDISK),
        );
    }

    /// The watch is attached at the current primary in the current interval.
    fn is_attached(&self) -> bool {
        let primary = World::acting(&self.newest()).first().copied();
        self.attached.is_some_and(|(osd, inc, interval, conn)| {
            Some(osd) == primary
                && inc == self.incarnation[osd as usize]
                && interval == self.interval
                && self.open.contains_key(&conn)
        })
    }

    /// Something random happens on the wire or in time.
    fn step(&mut self) {
        match self.rng.below(10) {
            0 => {
                if let Some(c) = self.pick(self.dialing.keys().copied().collect()) {
                    self.settle_dial(c);
                }
            }
            1..=4 => {
                let busy: Vec<ConnId> = self
                    .inbox
                    .iter()
                    .filter(|(_, q)| !q.is_empty())
                    .map(|(c, _)| *c)
                    .collect();
                if let Some(c) = self.pick(busy) {
                    self.osd_handles(c);
                }
            }
            5 => {
                let jump = self.rng.chance(30);
                self.deliver(jump);
            }
            6 => {
                // a session resets (the OSD side goes too)
                if let Some(c) = self.pick(self.open.keys().copied().collect()) {
                    self.open.remove(&c);
                    self.inbox.remove(&c);
                    self.backoffs.retain(|(bc, _)| *bc != c);
                    self.h.core.handle_closed(c, self.h.now);
                }
            }
            7 => {
                if !self.active {
                    self.active = true;
                    for (conn, id) in std::mem::take(&mut self.backoffs) {
                        self.unblock(conn, id);
                    }
                }
            }
            _ => {
                self.h.now += PING_INTERVAL;
                let now = self.h.now;
                self.h.core.handle_timeout(now);
            }
        }
        self.pump();
    }

    fn pick<T: Copy>(&mut self, v: Vec<T>) -> Option<T> {
        if v.is_empty() {
            return None;
        }
        let i = self.rng.index(v.len());
        v.get(i).copied()
    }

    /// No more changes: every map delivered, dials settled, peering done, messages
    /// handled, timers run, until nothing moves.
    fn settle(&mut self) {
        self.deliver(true);
        self.pump();
        for _ in 0..20 {
            if !self.active {
                self.active = true;
                for (conn, id) in std::mem::take(&mut self.backoffs) {
                    self.unblock(conn, id);
                }
            }
            for c in self.dialing.keys().copied().collect::<Vec<_>>() {
                self.settle_dial(c);
            }
            self.pump();
            for c in self.inbox.keys().copied().collect::<Vec<_>>() {
                while self.inbox.get(&c).is_some_and(|q| !q.is_empty()) {
                    self.osd_handles(c);
                    self.pump();
                }
            }
            self.h.now += PING_INTERVAL;
            let now = self.h.now;
            self.h.core.handle_timeout(now);
            self.pump();
        }
    }
}

/// Runs one history; `Err` describes a watch left silently unattached.
fn run(seed: u64) -> std::result::Result<(), String> {
    let mut w = World::new(seed);
    // half the histories register on a quiet cluster, half in the middle of the changes
    let quiet = seed % 2 == 0;
    let steps = 30 + w.rng.below(120);
    let register_at = if quiet { 0 } else { w.rng.below(steps) };
    let mut watch_state = None;
    if quiet {
        watch_state = Some(watch(&mut w.h, "w"));
        w.pump();
        w.settle();
    }
    for step in 0..steps {
        if watch_state.is_none() && step >= register_at {
            watch_state = Some(watch(&mut w.h, "w"));
            w.pump();
        }
        if w.rng.chance(15) {
            w.disturb();
        }
        w.step();
    }
    let (id, mut events, mut reg) = watch_state.unwrap_or_else(|| watch(&mut w.h, "w"));
    w.pump();
    w.settle();
    match reg.try_recv() {
        Ok(Ok(())) => {}
        // refused: the caller sees the error (ENOTCONN and the like)
        Ok(Err(_)) => return Ok(()),
        Err(_) => return Err(format!("seed {seed}: the registration never completed")),
    }
    if let Ok(WatchEvent::Error(_)) = events.try_recv() {
        // reported lost (a ping that reached the primary before the client knew of the
        // new interval): the user watches again, as with librados
        return Ok(());
    }
    if w.is_attached() && w.h.core.linger_check(id, w.h.now).is_ok() {
        return Ok(());
    }
    Err(format!(
        "seed {seed}: the watch is neither attached at the primary nor reported lost \
         (attached {:?}, interval {}, acting {:?}, client epoch {}, newest {})",
        w.attached,
        w.interval,
        World::acting(&w.newest()),
        w.h.core.map().epoch,
        w.newest().epoch,
    ))
}

#[test]
fn a_watch_is_attached_at_the_primary_or_reported_lost_after_any_history() {
    let failures: Vec<String> = (1..=1000).filter_map(|seed| run(seed).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of 1000 histories: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}
