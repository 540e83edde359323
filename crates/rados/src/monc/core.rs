//! The monitor client as a sans-IO state machine (the logic of src/mon/MonClient.cc for a
//! librados client): hunting, the session, subscriptions, maps, commands, version queries,
//! ticket renewal, timeouts. It is fed [`Input`]s with the time, and says what to do
//! through [`Output`]s; the tokio task in `task.rs` carries them out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cephx::TicketStore;
use denc::{EntityAddr, UTime, Uuid, features};
use msgr2::cephx_auth::CephxMonState;
use msgr2::{CloseReason, Message, SessionInfo};
use osdmap::OsdMap;
use rand::rngs::StdRng;

use super::hunt::{HuntParams, Hunter};
use super::maps::OsdMapTracker;
use super::requests::{CommandReply, PendingCommand, PendingRaw, PendingVersion, Reply, Table};
use super::subs::Subscriptions;
use crate::error::{AuthFailure, Error, MonAttempt};
use crate::messages::{
    MAuth, MMonCommand, MMonGetMap, MMonGetVersion, MMonSubscribe, MOsdMap, MessageCodec, MonMap,
    PaxosHeader, encode_message,
};

/// Identifies one connection attempt.
pub(crate) type ConnId = u64;

/// The CephX state a monitor connection authenticated with (shared with its msgr2 auth
/// adapter); renewals go through it.
pub(crate) type SharedAuth = Arc<Mutex<CephxMonState>>;

/// The time, both clocks: monotonic for timers, wall for ticket lifetimes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub(crate) mono: Instant,
    pub(crate) wall: UTime,
}

/// A request from the API.
#[derive(Debug)]
pub(crate) enum Request {
    /// Send a monitor command.
    Command {
        cmd: Vec<String>,
        data: Bytes,
        reply: Reply<CommandReply>,
    },
    /// Ask for the newest and oldest version of a map.
    GetVersion {
        what: String,
        reply: Reply<(u64, u64)>,
    },
    /// Send a message and answer with the monitor's reply of type `reply_type` carrying the
    /// same tid (resent on a new session).
    Raw {
        msg: Message,
        reply_type: u16,
        reply: Reply<Message>,
    },
    /// Answer once connected with both maps (or when connecting fails).
    WaitReady { reply: Reply<()> },
    /// An OSD shared its newer maps with us (`MOSDMap` on an OSD session): apply them as
    /// if the monitors had sent them (src/osdc/Objecter.cc `handle_osd_map` takes maps
    /// from either).
    OsdMapFromOsd(Box<MOsdMap>),
    /// Stop: fail everything pending, close every connection.
    Shutdown,
}

/// What happened.
#[derive(Debug)]
pub(crate) enum Input {
    /// A connection reached READY.
    Connected {
        conn: ConnId,
        info: SessionInfo,
        auth: Option<SharedAuth>,
    },
    /// A message arrived.
    Message { conn: ConnId, msg: Message },
    /// A connection ended.
    Closed { conn: ConnId, reason: CloseReason },
    /// A request from the API.
    Request(Request),
    /// [`MonCore::poll_timeout`] passed.
    Timer,
}

/// What to do.
#[derive(Debug)]
pub(crate) enum Output {
    /// Dial a monitor; authenticate reclaiming with `tickets` when given; queue `initial`.
    Connect {
        conn: ConnId,
        addr: EntityAddr,
        tickets: Option<TicketStore>,
        initial: Vec<Message>,
    },
    /// Drop a connection.
    Close(ConnId),
    /// Send on a connection.
    Send(ConnId, Message),
    /// A new monitor map.
    MonMap(Arc<MonMap>),
    /// A new OSD map.
    OsdMap(Arc<OsdMap>),
    /// New or renewed tickets.
    Tickets(TicketStore),
    /// The configuration the monitors hold for us (`MConfig`).
    Config(BTreeMap<String, String>),
}

/// Fixed parameters.
#[derive(Debug, Clone)]
pub(crate) struct CoreParams {
    pub(crate) hunt: HuntParams,
    pub(crate) mount_timeout: Duration,
    pub(crate) op_timeout: Option<Duration>,
    pub(crate) fsid: Option<Uuid>,
    pub(crate) hostname: String,
    pub(crate) mon_modes: Vec<msgr2::ConMode>,
}

/// Housekeeping cadence while connected (librados ticks every second:
/// `mon_client_log_interval`).
const TICK: Duration = Duration::from_secs(1);
/// Do not resend a renewal request more often than this.
const RENEWAL_RETRY: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Active {
    conn: ConnId,
    mon: EntityAddr,
    features: u64,
    peer_addrs: denc::EntityAddrVec,
    auth: Option<SharedAuth>,
    renewal_sent: Option<Instant>,
}

/// Why connecting failed (kept to answer everyone who asks later).
#[derive(Debug, Clone)]
enum Failure {
    Auth(Arc<AuthFailure>),
    Unreachable {
        elapsed: Duration,
        tried: Vec<MonAttempt>,
    },
    WrongCluster,
}

impl Failure {
    fn error(&self) -> Error {
        match self {
            Failure::Auth(f) => Error::Auth(Arc::clone(f)),
            Failure::Unreachable { elapsed, tried } => Error::MonUnreachable {
                elapsed: *elapsed,
                tried: tried.clone(),
            },
            Failure::WrongCluster => {
                Error::Protocol("the monitors' fsid differs from the configured fsid")
            }
        }
    }
}

#[derive(Debug)]
struct Round {
    deadline: Instant,
    conns: BTreeMap<ConnId, EntityAddr>,
    denied: Option<AuthFailure>,
}

/// The monitor client state machine.
pub(crate) struct MonCore {
    params: CoreParams,
    rng: StdRng,
    monmap: Arc<MonMap>,
    hunter: Hunter,
    next_conn: ConnId,
    active: Option<Active>,
    round: Option<Round>,
    /// Every address dialled, with how its last attempt ended.
    attempts: BTreeMap<EntityAddr, Option<Arc<CloseReason>>>,
    subs: Subscriptions,
    /// The tickets of the last session (for global_id reclaim), if reclaiming.
    tickets: Option<TicketStore>,
    commands: Table<PendingCommand>,
    versions: Table<PendingVersion>,
    raws: Table<PendingRaw>,
    maps: OsdMapTracker,
    ready_waiters: Vec<Reply<()>>,
    started: Instant,
    ever_ready: bool,
    /// Why connecting failed for good (answered to every later waiter).
    failure: Option<Failure>,
    stopped: bool,
    next_tick: Option<Instant>,
    outputs: VecDeque<Output>,
}

impl std::fmt::Debug for MonCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonCore")
            .field("active", &self.active.as_ref().map(|a| a.mon))
            .field("hunting", &self.round.is_some())
            .field("commands", &self.commands.len())
            .finish_non_exhaustive()
    }
}

impl MonCore {
    /// Starts hunting among the monitors of `initial` at once.
    pub(crate) fn new(params: CoreParams, initial: MonMap, rng: StdRng, now: Now) -> Self {
        let mut subs = Subscriptions::default();
        // what MonClient::authenticate and the Objecter ask for; the OSD map is followed
        // continuously (librados asks one map at a time and relies on OSDs for news)
        subs.want("monmap", 0, 0);
        subs.want("config", 0, 0);
        subs.want("osdmap", 0, 0);
        let mut core = MonCore {
            hunter: Hunter::new(params.hunt),
            params,
            rng,
            monmap: Arc::new(initial),
            next_conn: 0,
            active: None,
            round: None,
            attempts: BTreeMap::new(),
            subs,
            tickets: None,
            commands: Table::default(),
            versions: Table::default(),
            raws: Table::default(),
            maps: OsdMapTracker::default(),
            ready_waiters: Vec::new(),
            started: now.mono,
            ever_ready: false,
            failure: None,
            stopped: false,
            next_tick: None,
            outputs: VecDeque::new(),
        };
        core.start_round(now);
        core
    }

    /// The next thing to do.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// True once shut down.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// When to feed [`Input::Timer`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let mut deadlines = vec![
            self.round.as_ref().map(|r| r.deadline),
            self.next_tick,
            self.commands.next_deadline(),
            self.versions.next_deadline(),
            self.raws.next_deadline(),
        ];
        if !self.ever_ready && self.failure.is_none() {
            deadlines.push(Some(self.started + self.params.mount_timeout));
        }
        deadlines.into_iter().flatten().min()
    }

    /// Feeds one input.
    pub(crate) fn handle(&mut self, input: Input, now: Now) {
        if self.stopped {
            if let Input::Request(r) = input {
                fail_request(r, Error::Shutdown);
            }
            return;
        }
        match input {
            Input::Connected { conn, info, auth } => self.on_connected(conn, info, auth, now),
            Input::Message { conn, msg } => self.on_message(conn, &msg, now),
            Input::Closed { conn, reason } => self.on_closed(conn, reason, now),
            Input::Request(r) => self.on_request(r, now),
            Input::Timer => self.on_timer(now),
        }
    }

    // ---- hunting ----

    fn start_round(&mut self, now: Now) {
        if let Some(old) = self.round.take() {
            for (conn, addr) in old.conns {
                self.outputs.push_back(Output::Close(conn));
                self.attempts.entry(addr).or_insert(None);
            }
        }
        self.hunter.start_round();
        let batch = self.hunter.next_batch(&self.monmap, &mut self.rng);
        let deadline = now.mono + self.hunter.round_length();
        let mut conns = BTreeMap::new();
        let initial: Vec<Message> = encode_message(&MMonGetMap, 0, features::ALL)
            .into_iter()
            .collect();
        for candidate in batch {
            self.next_conn += 1;
            let conn = self.next_conn;
            tracing::debug!(mon = %candidate.name, addr = %candidate.addr, conn, "hunting: dialing");
            conns.insert(conn, candidate.addr);
            self.attempts.entry(candidate.addr).or_insert(None);
            self.outputs.push_back(Output::Connect {
                conn,
                addr: candidate.addr,
                tickets: self.tickets.clone(),
                initial: initial.clone(),
            });
        }
        if conns.is_empty() {
            tracing::warn!("no monitor with a msgr2 address to connect to");
        }
        self.round = Some(Round {
            deadline,
            conns,
            denied: None,
        });
    }

    /// Drops the session and hunts again (`_reopen_session`).
    fn reopen(&mut self, now: Now) {
        if let Some(active) = self.active.take() {
            self.outputs.push_back(Output::Close(active.conn));
        }
        self.next_tick = None;
        self.start_round(now);
    }

    fn on_connected(
        &mut self,
        conn: ConnId,
        info: SessionInfo,
        auth: Option<SharedAuth>,
        now: Now,
    ) {
        let Some(mut round) = self.round.take() else {
            self.outputs.push_back(Output::Close(conn));
            return;
        };
        let Some(addr) = round.conns.remove(&conn) else {
            self.round = Some(round);
            self.outputs.push_back(Output::Close(conn));
            return;
        };
        // first to authenticate wins; the others are dropped
        for other in round.conns.keys() {
            self.outputs.push_back(Output::Close(*other));
        }
        tracing::info!(mon = %addr, global_id = info.global_id, con_mode = %info.con_mode,
            release = ?features::release(info.features), "monitor session established");
        self.attempts.insert(addr, None);
        self.hunter.found();
        if let Some(auth) = &auth {
            let tickets = lock(auth).auth.tickets().clone();
            self.tickets = Some(tickets.clone());
            self.outputs.push_back(Output::Tickets(tickets));
        }
        self.active = Some(Active {
            conn,
            mon: addr,
            features: info.features,
            peer_addrs: info.peer_addrs,
            auth,
            renewal_sent: None,
        });
        self.next_tick = Some(now.mono + TICK);
        if self.subs.reload() {
            self.send_subscribe(now);
        }
        let commands: Vec<u64> = self.commands.iter().map(|(tid, _)| tid).collect();
        for tid in commands {
            self.send_command(tid);
        }
        let versions: Vec<u64> = self.versions.iter().map(|(h, _)| h).collect();
        for handle in versions {
            self.send_version(handle);
        }
        let raws: Vec<u64> = self.raws.iter().map(|(tid, _)| tid).collect();
        for tid in raws {
            self.send_raw(tid);
        }
        self.check_ready();
    }

    fn on_closed(&mut self, conn: ConnId, reason: CloseReason, now: Now) {
        if self.active.as_ref().is_some_and(|a| a.conn == conn) {
            let addr = self.active.as_ref().map(|a| a.mon).unwrap_or_default();
            tracing::info!(mon = %addr, %reason, "monitor session lost; hunting");
            self.attempts.insert(addr, Some(Arc::new(reason)));
            self.active = None;
            self.reopen(now);
            return;
        }
        let Some(round) = self.round.as_mut() else {
            return;
        };
        let Some(addr) = round.conns.remove(&conn) else {
            return;
        };
        tracing::debug!(mon = %addr, %reason, "hunting: attempt failed");
        if let CloseReason::Error(msgr2::Error::Auth(source)) = reason {
            if refusal(&source) {
                round.denied = Some(AuthFailure {
                    mon: addr,
                    offered_modes: self.params.mon_modes.clone(),
                    source,
                });
                self.attempts.insert(addr, None);
            } else {
                let reason = CloseReason::Error(msgr2::Error::Auth(source));
                self.attempts.insert(addr, Some(Arc::new(reason)));
            }
        } else {
            self.attempts.insert(addr, Some(Arc::new(reason)));
        }
        if !round.conns.is_empty() {
            return;
        }
        // the whole round failed
        let Some(denied) = round.denied.take() else {
            // wait for the round's end before dialing again (refusals come fast)
            return;
        };
        if self.tickets.take().is_some() {
            // a refused global_id reclaim: authenticate afresh at once
            tracing::warn!(mon = %denied.mon, error = %denied, "reclaiming our global id was refused; authenticating afresh");
            self.start_round(now);
            return;
        }
        tracing::error!(error = %denied, "authentication refused");
        let denied = Arc::new(denied);
        if self.ever_ready {
            // the key was revoked under us: fail what waits, keep trying at backoff
            self.fail_pending(|| Error::Auth(Arc::clone(&denied)));
        } else {
            self.fail_connect(Failure::Auth(denied));
        }
    }

    /// Connecting failed for good: answer the waiters, stop dialing.
    fn fail_connect(&mut self, failure: Failure) {
        if let Some(round) = self.round.take() {
            for conn in round.conns.keys() {
                self.outputs.push_back(Output::Close(*conn));
            }
        }
        for waiter in self.ready_waiters.drain(..) {
            let _ = waiter.send(Err(failure.error()));
        }
        self.fail_pending(|| failure.error());
        self.failure = Some(failure);
    }

    fn fail_pending(&mut self, error: impl Fn() -> Error) {
        self.commands.fail_all(&error);
        self.versions.fail_all(&error);
        self.raws.fail_all(&error);
    }

    fn attempts_list(&self) -> Vec<MonAttempt> {
        self.attempts
            .iter()
            .map(|(addr, error)| MonAttempt {
                addr: *addr,
                error: error.clone(),
            })
            .collect()
    }

    fn on_timer(&mut self, now: Now) {
        let t = now.mono;
        if !self.ever_ready
            && self.failure.is_none()
            && t >= self.started + self.params.mount_timeout
        {
            let failure = Failure::Unreachable {
                elapsed: t.saturating_duration_since(self.started),
                tried: self.attempts_list(),
            };
            tracing::warn!(error = %failure.error(), "connecting timed out");
            self.fail_connect(failure);
        }
        let op_timeout = self.params.op_timeout.unwrap_or_default();
        self.commands.expire(t, || Error::Timeout {
            operation: "monitor command",
            after: op_timeout,
        });
        self.versions.expire(t, || Error::Timeout {
            operation: "monitor version query",
            after: op_timeout,
        });
        self.raws.expire(t, || Error::Timeout {
            operation: "monitor request",
            after: op_timeout,
        });
        if self.failure.is_none() && self.round.as_ref().is_some_and(|r| t >= r.deadline) {
            tracing::debug!("hunting: round over, trying the next monitors");
            self.start_round(now);
        }
        if self.next_tick.is_some_and(|d| t >= d) {
            self.next_tick = Some(t + TICK);
            self.housekeeping(now);
        }
    }

    /// Ticket renewal and legacy subscription renewal (`MonClient::tick`).
    fn housekeeping(&mut self, now: Now) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let mut payload = None;
        if let Some(auth) = &active.auth {
            let retry_ok = active
                .renewal_sent
                .is_none_or(|t| now.mono >= t + RENEWAL_RETRY);
            let mut state = lock(auth);
            if retry_ok && state.auth.needs_renewal(now.wall) {
                match state.auth.build_renewal_request(now.wall, &mut self.rng) {
                    Ok(p) => payload = p,
                    Err(error) => tracing::warn!(%error, "cannot build a ticket renewal"),
                }
            }
        }
        if let Some(auth_payload) = payload {
            active.renewal_sent = Some(now.mono);
            tracing::debug!("renewing tickets");
            let m = MAuth {
                paxos: PaxosHeader::default(),
                protocol: cephx::CEPH_AUTH_CEPHX,
                auth_payload: Bytes::from(auth_payload),
                monmap_epoch: 0,
            };
            self.send(&m, 0);
        }
        let stateful = self
            .active
            .as_ref()
            .is_some_and(|a| features::has(a.features, features::MON_STATEFUL_SUB));
        if !stateful && self.subs.need_renew(now.mono) && self.subs.reload() {
            self.send_subscribe(now);
        }
    }

    // ---- requests ----

    fn on_request(&mut self, request: Request, now: Now) {
        match request {
            Request::Command { cmd, data, reply } => {
                if let Some(f) = &self.failure {
                    let _ = reply.send(Err(f.error()));
                    return;
                }
                let deadline = self.params.op_timeout.map(|d| now.mono + d);
                let tid = self.commands.insert(PendingCommand {
                    cmd,
                    data,
                    deadline,
                    reply,
                });
                self.send_command(tid);
            }
            Request::GetVersion { what, reply } => {
                if let Some(f) = &self.failure {
                    let _ = reply.send(Err(f.error()));
                    return;
                }
                let deadline = self.params.op_timeout.map(|d| now.mono + d);
                let handle = self.versions.insert(PendingVersion {
                    what,
                    deadline,
                    reply,
                });
                self.send_version(handle);
            }
            Request::Raw {
                msg,
                reply_type,
                reply,
            } => {
                if let Some(f) = &self.failure {
                    let _ = reply.send(Err(f.error()));
                    return;
                }
                let deadline = self.params.op_timeout.map(|d| now.mono + d);
                let tid = self.raws.insert(PendingRaw {
                    msg,
                    reply_type,
                    deadline,
                    reply,
                });
                self.send_raw(tid);
            }
            Request::WaitReady { reply } => {
                if self.is_ready() {
                    let _ = reply.send(Ok(()));
                } else if let Some(f) = &self.failure {
                    let _ = reply.send(Err(f.error()));
                } else {
                    self.ready_waiters.push(reply);
                }
            }
            Request::OsdMapFromOsd(m) => {
                if !self.stopped {
                    self.on_osd_map(&m, now);
                }
            }
            Request::Shutdown => self.shutdown(),
        }
    }

    fn shutdown(&mut self) {
        tracing::debug!("monitor client shutting down");
        self.stopped = true;
        if let Some(active) = self.active.take() {
            self.outputs.push_back(Output::Close(active.conn));
        }
        if let Some(round) = self.round.take() {
            for conn in round.conns.keys() {
                self.outputs.push_back(Output::Close(*conn));
            }
        }
        for waiter in self.ready_waiters.drain(..) {
            let _ = waiter.send(Err(Error::Shutdown));
        }
        self.fail_pending(|| Error::Shutdown);
    }

    fn is_ready(&self) -> bool {
        self.active.is_some() && self.monmap.epoch > 0 && self.maps.current().is_some()
    }

    fn check_ready(&mut self) {
        if self.is_ready() {
            if !self.ever_ready {
                tracing::debug!("connected: monitor session, monitor map and OSD map");
            }
            self.ever_ready = true;
            for waiter in self.ready_waiters.drain(..) {
                let _ = waiter.send(Ok(()));
            }
        }
    }

    fn send<M: MessageCodec>(&mut self, m: &M, tid: u64) -> bool {
        let Some(active) = &self.active else {
            return false;
        };
        match encode_message(m, tid, active.features) {
            Ok(msg) => {
                self.outputs.push_back(Output::Send(active.conn, msg));
                true
            }
            Err(error) => {
                tracing::warn!(%error, message = M::NAME, "cannot encode");
                false
            }
        }
    }

    fn send_subscribe(&mut self, now: Now) {
        let m = MMonSubscribe {
            what: self.subs.pending(),
            hostname: self.params.hostname.clone(),
        };
        if self.send(&m, 0) {
            tracing::debug!(what = ?m.what, "subscribing");
            self.subs.renewed(now.mono);
        }
    }

    fn send_command(&mut self, tid: u64) {
        let Some((_, pending)) = self.commands.iter().find(|(t, _)| *t == tid) else {
            return;
        };
        let m = MMonCommand {
            paxos: PaxosHeader::default(),
            fsid: self.monmap.fsid,
            cmd: pending.cmd.clone(),
            data: pending.data.clone(),
        };
        self.send(&m, tid);
    }

    fn send_raw(&mut self, tid: u64) {
        let Some(active) = &self.active else {
            return;
        };
        let Some((_, pending)) = self.raws.iter().find(|(t, _)| *t == tid) else {
            return;
        };
        let mut msg = pending.msg.clone();
        msg.header.tid = tid;
        self.outputs.push_back(Output::Send(active.conn, msg));
    }

    /// A message the monitor client does not handle itself: the answer to a raw request?
    pub(super) fn on_raw_reply(&mut self, msg: &Message) {
        let tid = msg.header.tid;
        let ours = tid != 0
            && self
                .raws
                .iter()
                .any(|(t, p)| t == tid && p.reply_type == msg.header.msg_type);
        match if ours { self.raws.take(tid) } else { None } {
            Some(p) => {
                let _ = p.reply.send(Ok(msg.clone()));
            }
            None => tracing::debug!(
                msg_type = msg.header.msg_type,
                tid,
                "ignoring a monitor message"
            ),
        }
    }

    fn send_version(&mut self, handle: u64) {
        let Some((_, pending)) = self.versions.iter().find(|(h, _)| *h == handle) else {
            return;
        };
        let m = MMonGetVersion {
            handle,
            what: pending.what.clone(),
        };
        self.send(&m, 0);
    }
}

/// True for an answer that retrying will not change: the monitor refused our key or
/// identity (`-EACCES`, which msgr2 reports as `AUTH_BAD_METHOD`), or refuses our auth
/// method or every connection mode we offer.
fn refusal(e: &msgr2::AuthError) -> bool {
    match e {
        msgr2::AuthError::MethodRejected { .. } => true,
        msgr2::AuthError::Method(inner) => {
            inner.downcast_ref::<cephx::CephxError>().is_some_and(|c| {
                c.is_denied()
                    || matches!(
                        c,
                        cephx::CephxError::MethodRejected { .. } | cephx::CephxError::BadMagic
                    )
            })
        }
        _ => false,
    }
}

fn fail_request(r: Request, error: Error) {
    match r {
        Request::Command { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Request::GetVersion { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Request::WaitReady { reply } => {
            let _ = reply.send(Err(error));
        }
        Request::Raw { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Request::OsdMapFromOsd(_) | Request::Shutdown => {}
    }
}

fn lock(auth: &SharedAuth) -> std::sync::MutexGuard<'_, CephxMonState> {
    auth.lock().unwrap_or_else(PoisonError::into_inner)
}

#[path = "core_dispatch.rs"]
mod dispatch;
#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
