//! The objecter as a sans-IO state machine (the logic of src/osdc/Objecter.cc for plain
//! ops): one session per OSD, ops targeted from the current OSD map and resent with the
//! same tid (RETRY flag, next `retry_attempt`) whenever their target moves, a pause
//! lifts, the session resets or a backoff is lifted; pool-existence checks against the
//! monitors; replies matched by tid and attempt.
//!
//! It is fed inputs with the time and says what to do through [`Action`]s; the tokio
//! shell in `client.rs` carries them out under the same lock (so sends to a connection
//! keep the order the core decided).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use denc::{EntityAddr, SnapContext, SnapId, UTime};
use msgr2::Message;
use osdmap::{OsdMap, PgPool, map_flags};
use tokio::sync::oneshot;

use super::backoff::{Backoff, Backoffs};
use super::target::{Recalc, Target};
use crate::errno::Errno;
use crate::error::{Error, Result};
use crate::messages::osd_types::{flag, opcode};
use crate::messages::{
    MOsdBackoff, MOsdOp, MOsdOpReply, RawOsdOp, backoff_op, client_reqid, encode_message,
};

/// Identifies one connection attempt.
pub(crate) type ConnId = u64;

/// `osd_client_op_priority`: the message priority librados gives client ops.
const CLIENT_OP_PRIORITY: u16 = 63;
/// First reconnect delay after a failed connection attempt; doubled per failure.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// An op unanswered this long is reported (once) with where it waits: the objecter's
/// `objecter_timeout` (10 s) marks sessions laggy; we warn later, when it is unusual.
const LAGGY_AFTER: Duration = Duration::from_secs(30);
/// How often ops are checked for that.
const LAGGY_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Where a finished op's reply goes.
pub(crate) type ReplyTx = oneshot::Sender<Result<MOsdOpReply>>;

/// Who gets an op's outcome.
#[derive(Debug)]
pub(crate) enum ReplyTo {
    /// The caller that submitted it.
    Caller(ReplyTx),
    /// The objecter itself: an op it sent for a watch or notify registration
    /// (registration, reconnect, ping). Such ops are never resent: when their target moves
    /// or their session resets they are dropped and the registration is sent again.
    Linger { id: u64, role: LingerRole },
}

impl From<ReplyTx> for ReplyTo {
    fn from(tx: ReplyTx) -> Self {
        ReplyTo::Caller(tx)
    }
}

/// An op handed to the objecter.
#[derive(Debug)]
pub(crate) struct OpRequest {
    pub(crate) target: Target,
    /// The ops, `payload_len` filled in.
    pub(crate) ops: Vec<RawOsdOp>,
    /// Their in-data, concatenated.
    pub(crate) data: Bytes,
    /// More in-data after `data` (sent without copying it into `data`).
    pub(crate) data_tail: Vec<Bytes>,
    pub(crate) snapid: SnapId,
    pub(crate) snapc: SnapContext,
    pub(crate) mtime: UTime,
    pub(crate) reply: ReplyTo,
}

#[derive(Debug)]
struct Op {
    req: OpRequest,
    /// Sends so far (the next send's `retry_attempt`).
    attempts: i32,
    /// The OSD whose session holds the op (`None`: waiting for a usable target).
    session: Option<i32>,
    /// The map epoch from which a missing pool means ENOENT (0: not asked yet).
    map_dne_bound: u32,
    pool_check_sent: bool,
    /// When a laggy check first saw the op (the core is not told the time at submit).
    seen: Option<Instant>,
    /// Reported as laggy already.
    laggy: bool,
}

impl Op {
    /// Resent when its target moves or its session resets (every op but a linger's).
    fn resends(&self) -> bool {
        matches!(self.req.reply, ReplyTo::Caller(_))
    }

    /// An OSD may drop this op without a reply while it or the op's pool is full: the
    /// OSD discards write-ordered ops sent before the map that marked the pool full
    /// ("discarding op sent before full") and every write-ordered op while its own
    /// store is past `osd_failsafe_full_ratio` (src/osd/PrimaryLogPG.cc `do_op`). Write
    /// ordering is decided by the OSD: besides writes and RWORDERED ops (Objecter's
    /// `respects_full`), a class method call sent as a read is write-ordered when the
    /// method writes (`rbd.object_map_update` through `IoCtx::exec`), which the client
    /// cannot tell; such calls are resent too (a resend is harmless: the OSD answers a
    /// write it already applied from its log, by reqid).
    fn dropped_when_full(&self) -> bool {
        let t = &self.req.target;
        t.respects_full()
            || (t.flags & (flag::FULL_TRY | flag::FULL_FORCE) == 0
                && self.req.ops.iter().any(|o| o.op == opcode::CALL))
    }
}

/// The pool is full in `map` (the pool's FULL flag, or the cluster-wide one of maps
/// before Mimic): `Objecter::_osdmap_pool_full` / `_osdmap_full_flag`.
fn pool_full(map: &OsdMap, pool: i64) -> bool {
    map.flags & map_flags::FULL != 0
        || map
            .pool(pool)
            .is_some_and(|p| p.has_flag(PgPool::FLAG_FULL))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionState {
    Connecting,
    Ready {
        features: u64,
    },
    /// Waiting to dial again after failed attempts.
    Waiting {
        until: Instant,
    },
}

#[derive(Debug)]
struct Session {
    addr: EntityAddr,
    conn: ConnId,
    state: SessionState,
    ops: BTreeSet<u64>,
    backoffs: Backoffs,
    failures: u32,
}

/// What the shell must do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Dial `osd` at `addr` as connection `conn` (CephX authorizer, ms_client_mode).
    Connect {
        conn: ConnId,
        osd: i32,
        addr: EntityAddr,
    },
    /// Drop a connection.
    Close(ConnId),
    /// Send on a connection.
    Send(ConnId, Message),
    /// Ask the monitors for their newest OSD map epoch and report it with
    /// [`ObjecterCore::handle_pool_bound`] (the pool of op `tid` is missing).
    CheckPool { tid: u64 },
}

/// What the OSD client did since it started (a part of librados' `objecter` perf
/// counters): for monitoring, and for tests that must know a fault path ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjecterCounters {
    /// `MOSDOp` messages sent, resends included (`op_send`).
    pub ops_sent: u64,
    /// Of those, resends of an op already sent once (`op_resend`).
    pub ops_resent: u64,
    /// `MOSDBackoff` BLOCKs received (and acknowledged).
    pub backoffs_received: u64,
    /// `MOSDBackoff` UNBLOCKs of a known backoff.
    pub backoffs_lifted: u64,
    /// OSD maps the objecter moved to (`map_epoch` changes).
    pub maps_applied: u64,
    /// Ops that waited more than 30 s for their reply (each reported once in the log,
    /// with the session state, backoff or pause that held it).
    pub laggy_ops: u64,
}

/// The objecter state machine.
#[derive(Debug)]
pub(crate) struct ObjecterCore {
    map: Arc<OsdMap>,
    global_id: u64,
    features: u64,
    last_tid: u64,
    last_conn: ConnId,
    ops: BTreeMap<u64, Op>,
    sessions: BTreeMap<i32, Session>,
    conns: HashMap<ConnId, i32>,
    actions: Vec<Action>,
    stopped: bool,
    lingers: BTreeMap<u64, linger::Linger>,
    last_linger: u64,
    /// When the next watch pings are due (`None`: no watch registered).
    next_ping: Option<Instant>,
    /// When ops are next checked for laggards.
    next_laggy_check: Option<Instant>,
    counters: ObjecterCounters,
}

/// A msgr2 address of `osd` in `map` (clients talk to the public address).
fn osd_addr(map: &OsdMap, osd: i32) -> Option<EntityAddr> {
    let i = usize::try_from(osd).ok()?;
    map.client_addrs.get(i)?.msgr2().copied()
}

impl ObjecterCore {
    /// A new objecter at `map`, as client `global_id`, advertising `features` in ops.
    pub(crate) fn new(map: Arc<OsdMap>, global_id: u64, features: u64) -> Self {
        ObjecterCore {
            map,
            global_id,
            features,
            last_tid: 0,
            last_conn: 0,
            ops: BTreeMap::new(),
            sessions: BTreeMap::new(),
            conns: HashMap::new(),
            actions: Vec::new(),
            stopped: false,
            lingers: BTreeMap::new(),
            last_linger: 0,
            next_ping: None,
            next_laggy_check: None,
            counters: ObjecterCounters::default(),
        }
    }

    /// What the objecter did so far.
    pub(crate) fn counters(&self) -> ObjecterCounters {
        self.counters
    }

    /// The actions decided since the last call.
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The map the objecter targets with.
    #[cfg(test)]
    pub(crate) fn map(&self) -> &Arc<OsdMap> {
        &self.map
    }

    /// Ops in flight (sent or waiting).
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Our global id changed (a fresh monitor authentication): later requests carry it.
    pub(crate) fn set_global_id(&mut self, id: u64) {
        self.global_id = id;
    }

    /// When [`ObjecterCore::handle_timeout`] is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| match s.state {
                SessionState::Waiting { until } => Some(until),
                _ => None,
            })
            .chain(self.next_ping)
            .min()
    }

    // ---- inputs ----

    /// Starts an op; returns its tid (the handle to cancel it with).
    pub(crate) fn submit(&mut self, req: OpRequest) -> u64 {
        self.last_tid += 1;
        let tid = self.last_tid;
        if self.stopped {
            if let ReplyTo::Caller(tx) = req.reply {
                let _ = tx.send(Err(Error::Shutdown));
            }
            return tid;
        }
        self.ops.insert(
            tid,
            Op {
                req,
                attempts: 0,
                session: None,
                map_dne_bound: 0,
                pool_check_sent: false,
                seen: None,
                laggy: false,
            },
        );
        let map = Arc::clone(&self.map);
        let Some(op) = self.ops.get_mut(&tid) else {
            return tid;
        };
        match op.req.target.calc(&map) {
            Recalc::PoolDne => self.pool_dne(tid),
            Recalc::PoolEio => self.finish_err(tid, Errno::EIO),
            Recalc::NeedResend | Recalc::NoAction => self.assign_and_send(tid),
        }
        tid
    }

    /// Forgets op `tid` (its caller gave up): a later reply is ignored.
    pub(crate) fn cancel(&mut self, tid: u64) {
        if let Some(op) = self.ops.remove(&tid) {
            self.detach(tid, op.session);
        }
    }

    /// A newer OSD map: closes sessions to OSDs that went down or moved, and resends every
    /// op whose target changed (in tid order, so that ops to one object keep their order).
    ///
    /// Maps come through a channel that keeps only the newest: when epochs were skipped, a
    /// PG may have changed hands and come back in between (the OSD then drops ops and
    /// notifies of the old interval), so everything is resent, as Objecter does after a
    /// skipped map.
    pub(crate) fn handle_map(&mut self, map: Arc<OsdMap>) {
        if map.epoch <= self.map.epoch {
            return;
        }
        let skipped = self.map.epoch > 0 && map.epoch > self.map.epoch + 1;
        tracing::debug!(
            from = self.map.epoch,
            to = map.epoch,
            "objecter: new OSD map"
        );
        let old = std::mem::replace(&mut self.map, map);
        self.counters.maps_applied += 1;
        let gone: Vec<i32> = self
            .sessions
            .iter()
            .filter(|(osd, s)| !self.map.is_up(**osd) || osd_addr(&self.map, **osd) != Some(s.addr))
            .map(|(osd, _)| *osd)
            .collect();
        for osd in gone {
            tracing::debug!(osd, "objecter: OSD down or moved; closing its session");
            self.close_session(osd);
        }
        let map = Arc::clone(&self.map);
        let tids: Vec<u64> = self.ops.keys().copied().collect();
        for tid in tids {
            let Some(op) = self.ops.get_mut(&tid) else {
                continue;
            };
            let orphan = op.session.is_none();
            let resends = op.resends();
            // Objecter's `force_resend_writes`: while the op's pool is full, and at the
            // first map where it no longer is, ops the OSD may have dropped for being
            // full go again (a paused one only leaves its session); nothing else tells
            // the client that they were dropped. A linger's ops are left to the linger
            // (its WATCH ops are writes: paused while full, sent again on unpause).
            let pool = op.req.target.oloc.pool;
            let full_resend = resends
                && op.dropped_when_full()
                && (pool_full(&old, pool) || pool_full(&map, pool));
            match op.req.target.calc(&map) {
                Recalc::PoolDne => self.pool_dne(tid),
                Recalc::PoolEio => self.finish_err(tid, Errno::EIO),
                // the registration is sent again below
                Recalc::NeedResend if !resends => self.drop_op(tid),
                Recalc::NoAction if (orphan || skipped) && !resends => self.drop_op(tid),
                Recalc::NeedResend => self.assign_and_send(tid),
                Recalc::NoAction if orphan || skipped || full_resend => {
                    if full_resend && !orphan {
                        tracing::debug!(tid, pool, "objecter: pool full or just unfull; resending");
                    }
                    self.assign_and_send(tid);
                }
                Recalc::NoAction => {}
            }
        }
        self.lingers_handle_map(&map, skipped);
    }

    /// A connection reached READY with `features`: sends what its session holds.
    pub(crate) fn handle_connected(&mut self, conn: ConnId, features: u64) {
        let Some(&osd) = self.conns.get(&conn) else {
            self.actions.push(Action::Close(conn));
            return;
        };
        let Some(s) = self.sessions.get_mut(&osd) else {
            return;
        };
        if s.conn != conn {
            return;
        }
        tracing::debug!(osd, release = ?denc::features::release(features), "objecter: OSD session ready");
        s.state = SessionState::Ready { features };
        s.failures = 0;
        let tids: Vec<u64> = s.ops.iter().copied().collect();
        for tid in tids {
            let stale = self
                .ops
                .get(&tid)
                .is_some_and(|op| !op.resends() && op.attempts > 0);
            if stale {
                // a linger's op sent on the previous connection: the registration is
                // sent again below
                self.drop_op(tid);
            } else {
                self.send_op(tid);
            }
        }
        self.lingers_session_ready(osd, conn);
    }

    /// A connection ended: reconnect (at once if it had been up, after a growing delay if
    /// dialing failed) while the map says the OSD is up; its ops are sent again on the new
    /// connection.
    pub(crate) fn handle_closed(&mut self, conn: ConnId, now: Instant) {
        let Some(osd) = self.conns.remove(&conn) else {
            return;
        };
        let up = self.map.is_up(osd);
        let Some(s) = self.sessions.get_mut(&osd) else {
            return;
        };
        if s.conn != conn {
            return;
        }
        s.backoffs.clear();
        if !up {
            self.close_session(osd);
            return;
        }
        if matches!(s.state, SessionState::Ready { .. }) {
            tracing::debug!(osd, "objecter: OSD session reset; reconnecting");
            s.failures = 0;
            self.dial(osd);
        } else {
            s.failures = s.failures.saturating_add(1);
            let delay = RECONNECT_MIN
                .saturating_mul(1u32 << s.failures.min(8).saturating_sub(1))
                .min(RECONNECT_MAX);
            tracing::debug!(
                osd,
                failures = s.failures,
                ?delay,
                "objecter: OSD unreachable; retrying later"
            );
            s.state = SessionState::Waiting { until: now + delay };
        }
    }

    /// Reconnects sessions whose delay is over.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<i32> = self
            .sessions
            .iter()
            .filter(|(_, s)| matches!(s.state, SessionState::Waiting { until } if until <= now))
            .map(|(osd, _)| *osd)
            .collect();
        for osd in due {
            self.dial(osd);
        }
        if self.next_ping.is_some_and(|at| at <= now) {
            self.ping_watches(now);
        }
        if self.next_laggy_check.is_none_or(|at| at <= now) {
            self.next_laggy_check = Some(now + LAGGY_CHECK_EVERY);
            self.report_laggy_ops(now);
        }
    }

    /// Logs (once per op) every op unanswered for [`LAGGY_AFTER`], saying what holds it:
    /// a hang then shows where it is, and users see slow OSDs as librados' "slow op"
    /// warnings show them.
    fn report_laggy_ops(&mut self, now: Instant) {
        for (tid, op) in &mut self.ops {
            let since = *op.seen.get_or_insert(now);
            let waited = now.saturating_duration_since(since);
            if op.laggy || waited < LAGGY_AFTER {
                continue;
            }
            op.laggy = true;
            self.counters.laggy_ops += 1;
            let t = &op.req.target;
            let session = op.session.and_then(|osd| self.sessions.get(&osd));
            let state = match session.map(|s| s.state) {
                None => "no session (waiting for a usable target)",
                Some(SessionState::Connecting) => "session connecting",
                Some(SessionState::Waiting { .. }) => "session waiting to reconnect",
                Some(SessionState::Ready { .. }) => "sent, no reply",
            };
            let backoff = session.is_some_and(|s| s.backoffs.holds(t.actual, &t.hobject()));
            tracing::warn!(
                tid,
                oid = %t.oid,
                pool = t.target_pool,
                pg = %t.actual,
                osd = ?op.session,
                attempts = op.attempts,
                state,
                backoff,
                paused = t.paused,
                waited_s = waited.as_secs(),
                "objecter: op laggy"
            );
        }
    }

    /// A reply on `conn` with header tid `tid`.
    pub(crate) fn handle_reply(&mut self, conn: ConnId, tid: u64, reply: MOsdOpReply) {
        let Some(&osd) = self.conns.get(&conn) else {
            return;
        };
        let Some(op) = self.ops.get_mut(&tid) else {
            tracing::trace!(tid, "objecter: stray reply");
            return;
        };
        if op.session != Some(osd) {
            tracing::debug!(tid, osd, "objecter: reply from an OSD the op has left");
            return;
        }
        if reply.retry_attempt >= 0 && reply.retry_attempt != op.attempts - 1 {
            tracing::debug!(
                tid,
                got = reply.retry_attempt,
                last = op.attempts - 1,
                "objecter: reply to an earlier attempt"
            );
            return;
        }
        if let Some(redirect) = reply.redirect.as_ref().filter(|r| !r.is_empty()) {
            tracing::debug!(tid, pool = redirect.locator.pool, "objecter: redirected");
            let t = &mut op.req.target;
            t.oloc = redirect.locator.clone();
            t.target_pool = t.oloc.pool;
            if !redirect.object.is_empty() {
                t.oid.clone_from(&redirect.object);
            }
            t.flags |= flag::REDIRECTED | flag::IGNORE_CACHE | flag::IGNORE_OVERLAY;
            self.retarget(tid);
            return;
        }
        if reply.result == Errno::EAGAIN.as_result() {
            tracing::debug!(tid, "objecter: EAGAIN; resubmitting");
            op.req.target.flags &= !(flag::BALANCE_READS | flag::LOCALIZE_READS);
            self.retarget(tid);
            return;
        }
        if op.req.target.flags & flag::WRITE != 0 && reply.result >= 0 && !reply.is_ondisk() {
            // an early ack: the write only counts once the OSD says it is on disk
            tracing::trace!(tid, "objecter: ack without commit; waiting");
            return;
        }
        if let Some(op) = self.ops.remove(&tid) {
            self.detach(tid, op.session);
            self.complete(op.req.reply, Ok(reply));
        }
    }

    /// `MOSDBackoff` on `conn`: acknowledge and record a BLOCK, resend what an UNBLOCK
    /// releases.
    pub(crate) fn handle_backoff(&mut self, conn: ConnId, m: MOsdBackoff) {
        let Some(&osd) = self.conns.get(&conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&osd) else {
            return;
        };
        let SessionState::Ready { features } = s.state else {
            return;
        };
        match m.op {
            backoff_op::BLOCK => {
                tracing::debug!(osd, pg = %m.pgid, id = m.id, "objecter: backoff");
                self.counters.backoffs_received += 1;
                s.backoffs.block(Backoff {
                    pgid: m.pgid,
                    id: m.id,
                    begin: m.begin.clone(),
                    end: m.end.clone(),
                });
                match encode_message(&m.ack(), 0, features) {
                    Ok(msg) => self.actions.push(Action::Send(conn, msg)),
                    Err(error) => tracing::warn!(%error, "cannot encode a backoff ack"),
                }
            }
            backoff_op::UNBLOCK => {
                let Some(b) = s.backoffs.unblock(m.pgid, m.id) else {
                    tracing::debug!(osd, id = m.id, "objecter: unblock of an unknown backoff");
                    return;
                };
                tracing::debug!(osd, pg = %m.pgid, id = m.id, "objecter: backoff lifted");
                self.counters.backoffs_lifted += 1;
                let tids: Vec<u64> = s.ops.iter().copied().collect();
                for tid in tids {
                    let held = self
                        .ops
                        .get(&tid)
                        .is_some_and(|op| b.covers(op.req.target.actual, &op.req.target.hobject()));
                    if held {
                        self.send_op(tid);
                    }
                }
            }
            other => tracing::debug!(op = other, "objecter: unexpected backoff op"),
        }
    }

    /// The monitors' newest OSD map epoch, asked for op `tid` whose pool is missing.
    pub(crate) fn handle_pool_bound(&mut self, tid: u64, newest: u32) {
        let Some(op) = self.ops.get_mut(&tid) else {
            return;
        };
        op.map_dne_bound = newest.max(1);
        let map = Arc::clone(&self.map);
        match op.req.target.calc(&map) {
            Recalc::PoolDne => self.pool_dne(tid),
            Recalc::PoolEio => self.finish_err(tid, Errno::EIO),
            Recalc::NeedResend | Recalc::NoAction => self.assign_and_send(tid),
        }
    }

    /// The monitors could not be asked: fail op `tid` with `error`.
    pub(crate) fn handle_pool_check_failed(&mut self, tid: u64, error: Error) {
        if let Some(op) = self.ops.remove(&tid) {
            self.detach(tid, op.session);
            self.complete(op.req.reply, Err(error));
        }
    }

    /// Fails every op with [`Error::Shutdown`] and closes every connection.
    pub(crate) fn shutdown(&mut self) {
        self.stopped = true;
        for (_, op) in std::mem::take(&mut self.ops) {
            if let ReplyTo::Caller(tx) = op.req.reply {
                let _ = tx.send(Err(Error::Shutdown));
            }
        }
        self.lingers_shutdown();
        for (_, s) in std::mem::take(&mut self.sessions) {
            self.actions.push(Action::Close(s.conn));
        }
        self.conns.clear();
    }

    // ---- internals ----

    fn new_conn(&mut self, osd: i32) -> ConnId {
        self.last_conn += 1;
        self.conns.insert(self.last_conn, osd);
        self.last_conn
    }

    /// Dials `osd` again for its existing session.
    fn dial(&mut self, osd: i32) {
        let Some(addr) = osd_addr(&self.map, osd) else {
            self.close_session(osd);
            return;
        };
        let conn = self.new_conn(osd);
        if let Some(s) = self.sessions.get_mut(&osd) {
            s.conn = conn;
            s.addr = addr;
            s.state = SessionState::Connecting;
            s.backoffs.clear();
        }
        self.actions.push(Action::Connect { conn, osd, addr });
    }

    /// The session of `osd`, opened if needed; `None` if the OSD has no address.
    fn session(&mut self, osd: i32) -> Option<&mut Session> {
        if !self.sessions.contains_key(&osd) {
            let addr = osd_addr(&self.map, osd)?;
            let conn = self.new_conn(osd);
            tracing::debug!(osd, %addr, "objecter: opening an OSD session");
            self.sessions.insert(
                osd,
                Session {
                    addr,
                    conn,
                    state: SessionState::Connecting,
                    ops: BTreeSet::new(),
                    backoffs: Backoffs::default(),
                    failures: 0,
                },
            );
            self.actions.push(Action::Connect { conn, osd, addr });
        }
        self.sessions.get_mut(&osd)
    }

    /// Closes `osd`'s session; its ops wait for a new target.
    fn close_session(&mut self, osd: i32) {
        let Some(s) = self.sessions.remove(&osd) else {
            return;
        };
        self.conns.remove(&s.conn);
        self.actions.push(Action::Close(s.conn));
        for tid in s.ops {
            if let Some(op) = self.ops.get_mut(&tid) {
                op.session = None;
            }
        }
    }

    fn detach(&mut self, tid: u64, session: Option<i32>) {
        if let Some(s) = session.and_then(|osd| self.sessions.get_mut(&osd)) {
            s.ops.remove(&tid);
        }
    }

    /// Recomputes op `tid`'s target and sends it wherever that is now.
    fn retarget(&mut self, tid: u64) {
        let map = Arc::clone(&self.map);
        let Some(op) = self.ops.get_mut(&tid) else {
            return;
        };
        match op.req.target.calc(&map) {
            Recalc::PoolDne => self.pool_dne(tid),
            Recalc::PoolEio => self.finish_err(tid, Errno::EIO),
            Recalc::NeedResend | Recalc::NoAction => self.assign_and_send(tid),
        }
    }

    /// Puts op `tid` on the session of its target OSD and sends it; ops without a usable
    /// target (no primary, paused) wait for a map.
    fn assign_and_send(&mut self, tid: u64) {
        let Some(op) = self.ops.get(&tid) else {
            return;
        };
        let (osd, paused, old) = (op.req.target.osd, op.req.target.paused, op.session);
        let target = Some(osd).filter(|o| *o >= 0 && !paused);
        if old != target {
            self.detach(tid, old);
        }
        let Some(osd) = target else {
            if let Some(op) = self.ops.get_mut(&tid) {
                op.session = None;
            }
            return;
        };
        let Some(s) = self.session(osd) else {
            // up without an address: wait for a better map
            if let Some(op) = self.ops.get_mut(&tid) {
                op.session = None;
            }
            return;
        };
        s.ops.insert(tid);
        if let Some(op) = self.ops.get_mut(&tid) {
            op.session = Some(osd);
        }
        self.send_op(tid);
    }

    /// Sends op `tid` on its session if the session is up and no backoff holds it.
    fn send_op(&mut self, tid: u64) {
        let Some(op) = self.ops.get_mut(&tid) else {
            return;
        };
        let Some(s) = op.session.and_then(|osd| self.sessions.get(&osd)) else {
            return;
        };
        let SessionState::Ready { features } = s.state else {
            return;
        };
        let t = &op.req.target;
        if s.backoffs.len() > 0 && s.backoffs.holds(t.actual, &t.hobject()) {
            tracing::debug!(tid, pg = %t.actual, "objecter: op held by a backoff");
            return;
        }
        let mut flags = t.flags | flag::KNOWN_REDIR | flag::SUPPORTSPOOLEIO | flag::ONDISK;
        if op.attempts > 0 {
            flags |= flag::RETRY;
        }
        let m = MOsdOp {
            pgid: t.actual,
            hash: t.raw_pgid.map_or(0, |p| p.seed),
            epoch: self.map.epoch,
            flags,
            reqid: client_reqid(self.global_id, tid),
            client_inc: 0,
            mtime: op.req.mtime,
            oloc: t.target_oloc(),
            oid: t.oid.clone(),
            ops: op.req.ops.clone(),
            snapid: op.req.snapid,
            snap_seq: op.req.snapc.seq,
            snaps: op.req.snapc.snaps.clone(),
            retry_attempt: op.attempts,
            features: self.features,
            data: op.req.data.clone(),
            data_tail: op.req.data_tail.clone(),
        };
        match encode_message(&m, tid, features) {
            Ok(mut msg) => {
                msg.header.priority = CLIENT_OP_PRIORITY;
                self.counters.ops_sent += 1;
                if op.attempts > 0 {
                    self.counters.ops_resent += 1;
                }
                op.attempts += 1;
                self.actions.push(Action::Send(s.conn, msg));
            }
            Err(error) => {
                tracing::warn!(%error, tid, "cannot encode an OSD op");
                self.finish_err(tid, Errno::EINVAL);
            }
        }
    }

    /// The pool of op `tid` is missing from the map: ENOENT if it existed before or the
    /// map is as new as the monitors' newest, otherwise ask the monitors.
    fn pool_dne(&mut self, tid: u64) {
        let epoch = self.map.epoch;
        let Some(op) = self.ops.get_mut(&tid) else {
            return;
        };
        let old = op.session.take();
        if op.req.target.pool_ever_existed {
            op.map_dne_bound = epoch;
        }
        let bound = op.map_dne_bound;
        let ask = bound == 0 && !op.pool_check_sent;
        if ask {
            op.pool_check_sent = true;
        }
        self.detach(tid, old);
        if bound > 0 && epoch >= bound {
            tracing::debug!(tid, pool = ?self.ops.get(&tid).map(|o| o.req.target.oloc.pool), "objecter: pool does not exist");
            self.finish_err(tid, Errno::ENOENT);
        } else if ask {
            self.actions.push(Action::CheckPool { tid });
        }
    }

    fn finish_err(&mut self, tid: u64, errno: Errno) {
        if let Some(op) = self.ops.remove(&tid) {
            self.detach(tid, op.session);
            self.complete(
                op.req.reply,
                Err(Error::Osd {
                    errno,
                    failed_op: None,
                }),
            );
        }
    }

    /// Hands an op's outcome to whoever waits for it.
    fn complete(&mut self, to: ReplyTo, outcome: Result<MOsdOpReply>) {
        match to {
            ReplyTo::Caller(tx) => {
                let _ = tx.send(outcome);
            }
            ReplyTo::Linger { id, role } => self.linger_op_done(id, role, outcome),
        }
    }

    /// Forgets op `tid` without telling anyone (a linger's op that is superseded).
    fn drop_op(&mut self, tid: u64) {
        if let Some(op) = self.ops.remove(&tid) {
            self.detach(tid, op.session);
        }
    }
}

#[path = "linger.rs"]
pub(crate) mod linger;
pub(crate) use linger::{LingerKind, LingerRequest, LingerRole};

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
