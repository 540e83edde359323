//! The tokio shell around [`ObjecterCore`]: OSD connections through msgr2's driver with
//! CephX authorizers, the tasks that feed the core (connection events, OSD maps, timers),
//! the throttle, timeouts and cancellation of the API's futures.
//!
//! The core and the connections' send handles live under one lock, and actions are carried
//! out before it is released: messages reach each connection in the order the core
//! decided. The fast paths (submit, reply) take the lock once each and never wait under it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use cephx::TicketStore;
use denc::{EntityAddr, EntityType, features};
use msgr2::cephx_auth::CephxServiceClient;
use msgr2::driver::{ConnectionHandle, DriverOptions};
use msgr2::{ConnectionConfig, Event, Message};
use osdmap::OsdMap;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

use super::core::{Action, ConnId, LingerRequest, ObjecterCore, OpRequest};
use super::throttle::Throttle;
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::messages::{MOsdBackoff, MOsdMap, MOsdOpReply, MWatchNotify, decode_message, msg_type};
use crate::monc::core::Request;

/// Outgoing messages a connection may queue before senders wait (far above the op
/// throttle's default, so that sends never have to wait in practice).
const OUTGOING_CAPACITY: usize = 8192;
/// How often the timer task looks for work when nothing is scheduled.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// A connection's sending side, with the messages that did not fit its channel (sent in
/// order by a flusher task).
struct ConnSender {
    handle: ConnectionHandle,
    overflow: VecDeque<Message>,
    flushing: bool,
}

struct State {
    core: ObjecterCore,
    conns: HashMap<ConnId, ConnSender>,
    timer_deadline: Option<Instant>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    throttle: Throttle,
    timer: Arc<tokio::sync::Notify>,
    config: Arc<ClientConfig>,
    tickets: watch::Receiver<Arc<TicketStore>>,
    monc: mpsc::UnboundedSender<Request>,
    nonce: u32,
    global_seq: AtomicU64,
    /// Receive buffers of large replies, shared by every OSD connection.
    recv_pool: msgr2::SharedRecvPool,
}

/// The OSD client of a [`crate::Rados`]: shared by all its users.
#[derive(Clone)]
pub(crate) struct OsdClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OsdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("OsdClient")
            .field("in_flight", &st.core.in_flight())
            .field("connections", &st.conns.len())
            .finish_non_exhaustive()
    }
}

/// The throttle limits from the configuration (`objecter_inflight_ops`,
/// `objecter_inflight_op_bytes`).
fn throttle_limits(config: &ClientConfig) -> (u64, u64) {
    let get = |k: &str, d: u64| {
        config
            .get(k)
            .and_then(crate::config::options::parse_size)
            .unwrap_or(d)
    };
    (
        get("objecter_inflight_ops", 1024),
        get("objecter_inflight_op_bytes", 100 << 20),
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl OsdClient {
    /// Starts the OSD client: it follows `osdmaps` and dials OSDs with the tickets of
    /// `tickets`; `monc` answers its map-version questions.
    pub(crate) fn start(
        config: Arc<ClientConfig>,
        osdmaps: watch::Receiver<Option<Arc<OsdMap>>>,
        tickets: watch::Receiver<Arc<TicketStore>>,
        monc: mpsc::UnboundedSender<Request>,
    ) -> OsdClient {
        let (max_ops, max_bytes) = throttle_limits(&config);
        let recv_pool = msgr2::SharedRecvPool::new(config.osd_recv_pool);
        let global_id = tickets.borrow().global_id();
        let map = osdmaps
            .borrow()
            .clone()
            .unwrap_or_else(|| Arc::new(OsdMap::default()));
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                core: ObjecterCore::new(map, global_id, features::ALL),
                conns: HashMap::new(),
                timer_deadline: None,
            }),
            throttle: Throttle::new(max_ops, max_bytes),
            timer: Arc::new(tokio::sync::Notify::new()),
            config,
            tickets,
            monc,
            nonce: rand::random::<u32>() | 1,
            global_seq: AtomicU64::new(0),
            recv_pool,
        });
        let span = tracing::debug_span!("objecter", client = global_id);
        tokio::spawn(follow_maps(Arc::downgrade(&shared), osdmaps).instrument(span.clone()));
        tokio::spawn(timers(Arc::downgrade(&shared), Arc::clone(&shared.timer)).instrument(span));
        OsdClient { shared }
    }

    /// Runs one op to completion: waits for throttle room, submits, waits for the reply.
    /// `timeout` bounds all of it (throttle wait included); dropping the future cancels
    /// the op (the OSD may or may not have applied it; the budget is returned once).
    pub(crate) async fn run(
        &self,
        req: impl FnOnce(oneshot::Sender<Result<MOsdOpReply>>) -> OpRequest,
        budget: u64,
        timeout: Option<Duration>,
    ) -> Result<MOsdOpReply> {
        let work = async {
            let permits = self.shared.throttle.acquire(budget).await?;
            let (tx, rx) = oneshot::channel();
            let tid = {
                let mut st = self.shared.lock();
                let tid = st.core.submit(req(tx));
                execute(&self.shared, &mut st);
                tid
            };
            let mut guard = CancelOnDrop {
                shared: &self.shared,
                tid,
                armed: true,
            };
            let reply = rx.await.map_err(|_| Error::Shutdown);
            guard.armed = false;
            drop(permits);
            reply?
        };
        match timeout {
            Some(after) => tokio::time::timeout(after, work)
                .await
                .unwrap_or(Err(Error::Timeout {
                    operation: "OSD operation",
                    after,
                })),
            None => work.await,
        }
    }

    /// Starts keeping registration `req` (a watch or a notify); returns its id/cookie.
    pub(crate) fn linger_register(&self, req: LingerRequest) -> u64 {
        let mut st = self.shared.lock();
        let id = st.core.linger_register(req, Instant::now());
        execute(&self.shared, &mut st);
        id
    }

    /// Stops keeping registration `id`.
    pub(crate) fn linger_cancel(&self, id: u64) {
        let mut st = self.shared.lock();
        st.core.linger_cancel(id);
        execute(&self.shared, &mut st);
    }

    /// How long ago the OSD last confirmed watch `id`, or the error that ended it.
    pub(crate) fn linger_check(&self, id: u64) -> Result<Duration> {
        self.shared.lock().core.linger_check(id, Instant::now())
    }

    /// Fails every op and closes every OSD connection.
    pub(crate) fn shutdown(&self) {
        self.shared.throttle.close();
        let mut st = self.shared.lock();
        st.core.shutdown();
        execute(&self.shared, &mut st);
    }

    /// OSD connections open or being opened, and ops in flight.
    pub(crate) fn stats(&self) -> (usize, usize) {
        let st = self.shared.lock();
        (st.conns.len(), st.core.in_flight())
    }

    pub(crate) fn counters(&self) -> super::core::ObjecterCounters {
        self.shared.lock().core.counters()
    }
}

/// Cancels the op if the future waiting for it is dropped.
struct CancelOnDrop<'a> {
    shared: &'a Arc<Shared>,
    tid: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            st.core.cancel(self.tid);
            execute(self.shared, &mut st);
        }
    }
}

/// Carries out the core's actions (under the state lock).
fn execute(shared: &Arc<Shared>, st: &mut State) {
    loop {
        let actions = st.core.take_actions();
        if actions.is_empty() {
            break;
        }
        for action in actions {
            match action {
                Action::Connect { conn, osd, addr } => {
                    st.core.set_global_id(shared.tickets.borrow().global_id());
                    match dial(shared, conn, osd, addr) {
                        Ok(handle) => {
                            st.conns.insert(
                                conn,
                                ConnSender {
                                    handle,
                                    overflow: VecDeque::new(),
                                    flushing: false,
                                },
                            );
                        }
                        Err(why) => {
                            tracing::warn!(osd, %addr, why, "cannot dial an OSD");
                            st.core.handle_closed(conn, Instant::now());
                        }
                    }
                }
                Action::Close(conn) => {
                    // dropping the handle closes the connection
                    st.conns.remove(&conn);
                }
                Action::Send(conn, msg) => send(shared, st, conn, msg),
                Action::CheckPool { tid } => check_pool(shared, tid),
            }
        }
    }
    let deadline = st.core.poll_timeout();
    if deadline.is_some() && (st.timer_deadline.is_none() || deadline < st.timer_deadline) {
        shared.timer.notify_one();
    }
    st.timer_deadline = deadline;
}

/// Queues `msg` on `conn` keeping order: straight into the channel when it has room and
/// nothing is waiting, otherwise behind the overflow (drained by a task).
fn send(shared: &Arc<Shared>, st: &mut State, conn: ConnId, msg: Message) {
    let Some(c) = st.conns.get_mut(&conn) else {
        return;
    };
    if c.overflow.is_empty() {
        match c.handle.try_send(msg) {
            Ok(()) => return,
            Err(e) => match *e {
                mpsc::error::TrySendError::Full(msg) => c.overflow.push_back(msg),
                mpsc::error::TrySendError::Closed(_) => return,
            },
        }
    } else {
        c.overflow.push_back(msg);
    }
    if !c.flushing {
        c.flushing = true;
        tokio::spawn(flush(Arc::downgrade(shared), conn));
    }
}

/// Sends a connection's overflow in order, waiting for room.
async fn flush(shared: Weak<Shared>, conn: ConnId) {
    loop {
        let Some(s) = shared.upgrade() else {
            return;
        };
        let (handle, msg) = {
            let mut st = s.lock();
            let Some(c) = st.conns.get_mut(&conn) else {
                return;
            };
            match c.overflow.pop_front() {
                Some(m) => (c.handle.clone(), m),
                None => {
                    c.flushing = false;
                    return;
                }
            }
        };
        drop(s);
        if handle.send(msg).await.is_err() {
            return;
        }
    }
}

/// Starts a connection to `osd`: CephX with the session's OSD ticket, the configured
/// modes; a task forwards its events to the core.
fn dial(
    shared: &Arc<Shared>,
    conn: ConnId,
    osd: i32,
    addr: EntityAddr,
) -> std::result::Result<ConnectionHandle, &'static str> {
    let (global_id, ticket) = {
        let tickets = shared.tickets.borrow();
        let ticket = tickets
            .get(EntityType::OSD)
            .cloned()
            .ok_or("no OSD ticket")?;
        (tickets.global_id(), ticket)
    };
    let c = &shared.config;
    let rng = StdRng::from_rng(&mut rand::rng());
    let auth = CephxServiceClient::new(global_id, ticket, c.service_modes.clone(), rng);
    let mut cfg = ConnectionConfig::new(
        addr,
        Some(EntityType::OSD),
        shared.nonce,
        rand::random::<u64>() | 1,
    );
    cfg.global_seq = shared.global_seq.fetch_add(1, Ordering::Relaxed) + 1;
    cfg.keepalive_interval = Some(Duration::from_secs(10));
    cfg.idle_timeout = Some(Duration::from_secs(60));
    cfg.compression = c.osd_compression.clone();
    cfg.recv_pool = Some(shared.recv_pool.clone());
    let options = DriverOptions {
        outgoing_capacity: OUTGOING_CAPACITY,
        ..DriverOptions::default()
    };
    let (handle, events) = msgr2::driver::spawn(cfg, Box::new(auth), options);
    let span = tracing::debug_span!("osd", client = global_id, osd, conn, %addr);
    tokio::spawn(conn_events(Arc::downgrade(shared), conn, events).instrument(span));
    Ok(handle)
}

/// Feeds one connection's events to the core until it closes.
async fn conn_events(shared: Weak<Shared>, conn: ConnId, mut events: mpsc::Receiver<Event>) {
    while let Some(event) = events.recv().await {
        let Some(s) = shared.upgrade() else {
            return;
        };
        match event {
            Event::Connected(info) => {
                let mut st = s.lock();
                st.core.handle_connected(conn, info.features);
                execute(&s, &mut st);
            }
            Event::Message(msg) => on_message(&s, conn, &msg),
            Event::Closed(reason) => {
                tracing::debug!(%reason, "OSD connection closed");
                closed(&s, conn);
                return;
            }
        }
    }
    if let Some(s) = shared.upgrade() {
        closed(&s, conn);
    }
}

fn closed(s: &Arc<Shared>, conn: ConnId) {
    let mut st = s.lock();
    st.conns.remove(&conn);
    st.core.handle_closed(conn, Instant::now());
    execute(s, &mut st);
}

/// Decodes a message from an OSD (outside the lock) and hands it to the core.
fn on_message(s: &Arc<Shared>, conn: ConnId, msg: &Message) {
    match msg.header.msg_type {
        msg_type::OSD_OPREPLY => match decode_message::<MOsdOpReply>(msg) {
            Ok(reply) => {
                let mut st = s.lock();
                st.core.handle_reply(conn, msg.header.tid, reply);
                execute(s, &mut st);
            }
            Err(error) => tracing::warn!(%error, tid = msg.header.tid, "undecodable op reply"),
        },
        msg_type::OSD_BACKOFF => match decode_message::<MOsdBackoff>(msg) {
            Ok(m) => {
                let mut st = s.lock();
                st.core.handle_backoff(conn, m);
                execute(s, &mut st);
            }
            Err(error) => tracing::warn!(%error, "undecodable backoff"),
        },
        msg_type::WATCH_NOTIFY => match decode_message::<MWatchNotify>(msg) {
            Ok(m) => {
                let mut st = s.lock();
                st.core.handle_watch_notify(m);
                execute(s, &mut st);
            }
            Err(error) => tracing::warn!(%error, "undecodable watch-notify"),
        },
        // an OSD shares its newer maps when our ops carry an older epoch: the monitor
        // client applies them (and asks the monitors for what it cannot bridge), so ops
        // are retargeted before the subscription would have brought the map
        msg_type::OSD_MAP => match decode_message::<MOsdMap>(msg) {
            Ok(m) => {
                tracing::debug!(first = m.first(), last = m.last(), "OSD maps from an OSD");
                let _ = s.monc.send(Request::OsdMapFromOsd(Box::new(m)));
            }
            Err(error) => tracing::warn!(%error, "undecodable OSD map from an OSD"),
        },
        other => tracing::debug!(msg_type = other, "ignoring a message from an OSD"),
    }
}

/// Asks the monitors for the newest OSD map epoch for op `tid` (its pool is missing).
fn check_pool(shared: &Arc<Shared>, tid: u64) {
    let (reply, rx) = oneshot::channel();
    let sent = shared.monc.send(Request::GetVersion {
        what: "osdmap".into(),
        reply,
    });
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        let answer = match sent {
            Ok(()) => rx.await.unwrap_or(Err(Error::Shutdown)),
            Err(_) => Err(Error::Shutdown),
        };
        let Some(s) = weak.upgrade() else {
            return;
        };
        let mut st = s.lock();
        match answer {
            Ok((newest, _)) => st
                .core
                .handle_pool_bound(tid, u32::try_from(newest).unwrap_or(u32::MAX)),
            Err(error) => st.core.handle_pool_check_failed(tid, error),
        }
        execute(&s, &mut st);
    });
}

/// Feeds every new OSD map to the core.
async fn follow_maps(shared: Weak<Shared>, mut maps: watch::Receiver<Option<Arc<OsdMap>>>) {
    loop {
        let map = maps.borrow_and_update().clone();
        if let Some(map) = map {
            let Some(s) = shared.upgrade() else {
                return;
            };
            let mut st = s.lock();
            st.core.handle_map(map);
            execute(&s, &mut st);
        }
        if maps.changed().await.is_err() {
            return;
        }
    }
}

/// Fires the core's timers (reconnect delays, watch pings).
async fn timers(shared: Weak<Shared>, timer: Arc<tokio::sync::Notify>) {
    loop {
        let deadline = {
            let Some(s) = shared.upgrade() else {
                return;
            };
            let st = s.lock();
            st.core.poll_timeout()
        };
        let sleep_until = deadline.unwrap_or_else(|| Instant::now() + IDLE_TICK);
        tokio::select! {
            () = tokio::time::sleep_until(sleep_until.into()) => {
                let Some(s) = shared.upgrade() else { return };
                let mut st = s.lock();
                st.core.handle_timeout(Instant::now());
                execute(&s, &mut st);
            }
            // a notify between the deadline read and here is kept as a permit
            () = timer.notified() => {}
        }
    }
}
