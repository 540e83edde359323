//! Watches and notifies: registrations the objecter keeps alive ("linger ops", as
//! src/osdc/Objecter.cc calls them). A registration is sent as an op of its own; when its
//! target moves or its session resets, that op is dropped and the registration sent again:
//! a watch the OSD already knows is re-attached (WATCH RECONNECT, next generation), a
//! notify is sent afresh. Registered watches are pinged every [`PING_INTERVAL`]; a failed
//! ping or reconnect, or a DISCONNECT from the OSD, ends the watch with an error event
//! (ENOENT reported as ENOTCONN, as librados does), after which the user re-watches.

use std::time::{Duration, Instant};

use bytes::Bytes;
use denc::{SnapContext, SnapId, UTime, Writer};
use tokio::sync::{mpsc, oneshot};

use super::{ConnId, ObjecterCore, OpRequest, ReplyTo, SessionState};
use crate::errno::Errno;
use crate::error::{Error, Result};
use crate::messages::osd_types::watch_op;
use crate::messages::{MOsdOpReply, MWatchNotify, RawOsdOp, watch_event};
use crate::osd::target::{Recalc, Target};
use crate::watch::{Notification, WatchEvent};

/// How often registered watches are pinged (Ceph's `objecter_tick_interval`); the OSD
/// drops a watch after its timeout (30 s by default) without one.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(5);

/// What a linger's op was sent for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LingerRole {
    /// The first registration (WATCH, or NOTIFY).
    Register,
    /// Re-attaching a registered watch.
    Reconnect,
    /// A ping of registration generation `generation`, sent at `sent`.
    Ping { sent: Instant, generation: u32 },
}

/// A completed notify: the OSD's result code and the encoded replies.
#[derive(Debug)]
pub(crate) struct NotifyDone {
    pub(crate) return_code: i32,
    pub(crate) data: Bytes,
}

/// A watch or a notify.
#[derive(Debug)]
pub(crate) enum LingerKind {
    Watch {
        /// Seconds without a ping before the OSD drops the watch (0: the OSD's default).
        timeout: u32,
        events: mpsc::UnboundedSender<WatchEvent>,
        /// The first registration's outcome.
        registered: Option<oneshot::Sender<Result<()>>>,
    },
    Notify {
        payload: Bytes,
        /// Seconds the OSD waits for the watchers' acknowledgements.
        timeout: u32,
        done: Option<oneshot::Sender<Result<NotifyDone>>>,
    },
}

/// A registration to keep.
#[derive(Debug)]
pub(crate) struct LingerRequest {
    pub(crate) target: Target,
    pub(crate) snapid: SnapId,
    pub(crate) snapc: SnapContext,
    pub(crate) mtime: UTime,
    pub(crate) kind: LingerKind,
}

#[derive(Debug)]
pub(crate) struct Linger {
    req: LingerRequest,
    registered: bool,
    /// Registration generation (bumped by every reconnect).
    generation: u32,
    /// The registration (or reconnect) op in flight.
    register_tid: Option<u64>,
    /// The connection the registration was last sent on.
    conn: Option<ConnId>,
    last_error: Option<Errno>,
    /// When the OSD last confirmed the watch (the send time of the last good ping).
    valid_thru: Instant,
    /// The OSD's id for our notify (0 until the registration reply).
    notify_id: u64,
}

impl Linger {
    fn is_watch(&self) -> bool {
        matches!(self.req.kind, LingerKind::Watch { .. })
    }

    /// Ends the watch with `errno` (once: later errors are not reported again).
    fn fail_watch(&mut self, errno: Errno) {
        if self.last_error.is_some() {
            return;
        }
        let errno = if errno == Errno::ENOENT {
            Errno::ENOTCONN
        } else {
            errno
        };
        self.last_error = Some(errno);
        if let LingerKind::Watch { events, .. } = &self.req.kind {
            let _ = events.send(WatchEvent::Error(errno));
        }
    }
}

/// The errno of a failed op outcome (`None`: it succeeded).
fn failure(outcome: &Result<MOsdOpReply>) -> Option<Errno> {
    match outcome {
        Ok(reply) => Errno::from_result(reply.result),
        Err(Error::Osd { errno, .. }) => Some(*errno),
        Err(_) => Some(Errno::EIO),
    }
}

impl ObjecterCore {
    /// Starts a watch or notify registration; returns its id, which is also the cookie the
    /// OSD knows it by.
    pub(crate) fn linger_register(&mut self, mut req: LingerRequest, now: Instant) -> u64 {
        self.last_linger += 1;
        let id = self.last_linger;
        if self.stopped {
            fail_request(req.kind, &Error::Shutdown);
            return id;
        }
        let map = std::sync::Arc::clone(&self.map);
        let _ = req.target.calc(&map);
        let watch = matches!(req.kind, LingerKind::Watch { .. });
        self.lingers.insert(
            id,
            Linger {
                req,
                registered: false,
                generation: 0,
                register_tid: None,
                conn: None,
                last_error: None,
                valid_thru: now,
                notify_id: 0,
            },
        );
        if watch && self.next_ping.is_none() {
            self.next_ping = Some(now + PING_INTERVAL);
        }
        self.send_linger(id);
        id
    }

    /// Forgets registration `id` (unwatched, or its notify finished): no more resends,
    /// pings or events.
    pub(crate) fn linger_cancel(&mut self, id: u64) {
        if self.lingers.remove(&id).is_none() {
            return;
        }
        let ours: Vec<u64> = self
            .ops
            .iter()
            .filter(|(_, op)| matches!(op.req.reply, ReplyTo::Linger { id: l, .. } if l == id))
            .map(|(tid, _)| *tid)
            .collect();
        for tid in ours {
            self.drop_op(tid);
        }
        if !self.lingers.values().any(Linger::is_watch) {
            self.next_ping = None;
        }
    }

    /// How long ago the OSD last confirmed watch `id`, or the error that ended it.
    pub(crate) fn linger_check(&self, id: u64, now: Instant) -> Result<Duration> {
        let l = self.lingers.get(&id).ok_or(Error::Osd {
            errno: Errno::ENOTCONN,
            failed_op: None,
        })?;
        match l.last_error {
            Some(errno) => Err(Error::Osd {
                errno,
                failed_op: None,
            }),
            None => Ok(now.saturating_duration_since(l.valid_thru)),
        }
    }

    /// `MWatchNotify` from an OSD: a notification for a watch, the completion of a notify,
    /// or the end of a watch.
    pub(crate) fn handle_watch_notify(&mut self, m: MWatchNotify) {
        let Some(l) = self.lingers.get_mut(&m.cookie) else {
            tracing::debug!(cookie = m.cookie, "objecter: event for an unknown watch");
            return;
        };
        if m.opcode == watch_event::DISCONNECT {
            tracing::debug!(cookie = m.cookie, "objecter: watch disconnected by the OSD");
            l.fail_watch(Errno::ENOTCONN);
            return;
        }
        match &mut l.req.kind {
            LingerKind::Notify { done, .. } => {
                if m.opcode != watch_event::NOTIFY_COMPLETE {
                    return;
                }
                if l.notify_id != 0 && l.notify_id != m.notify_id {
                    tracing::debug!(
                        got = m.notify_id,
                        ours = l.notify_id,
                        "objecter: completion of an earlier notify"
                    );
                    return;
                }
                if let Some(tx) = done.take() {
                    let _ = tx.send(Ok(NotifyDone {
                        return_code: m.return_code,
                        data: m.data,
                    }));
                }
            }
            LingerKind::Watch { events, .. } => {
                if m.opcode == watch_event::NOTIFY {
                    let _ = events.send(WatchEvent::Notify(Notification {
                        notify_id: m.notify_id,
                        cookie: m.cookie,
                        notifier_gid: m.notifier_gid,
                        payload: m.payload,
                    }));
                }
            }
        }
    }

    // ---- internals (called by the core) ----

    /// An op of linger `id` finished.
    pub(super) fn linger_op_done(
        &mut self,
        id: u64,
        role: LingerRole,
        outcome: Result<MOsdOpReply>,
    ) {
        let Some(l) = self.lingers.get_mut(&id) else {
            return;
        };
        let failed = failure(&outcome);
        match role {
            LingerRole::Register => {
                l.register_tid = None;
                match &mut l.req.kind {
                    LingerKind::Watch { registered, .. } => match (failed, registered.take()) {
                        (None, tx) => {
                            l.registered = true;
                            if let Some(tx) = tx {
                                let _ = tx.send(Ok(()));
                            }
                        }
                        (Some(errno), Some(tx)) => {
                            let _ = tx.send(Err(Error::Osd {
                                errno,
                                failed_op: None,
                            }));
                        }
                        (Some(errno), None) => l.fail_watch(errno),
                    },
                    LingerKind::Notify { done, .. } => match failed {
                        None => {
                            l.registered = true;
                            let out = outcome.ok().and_then(|r| r.outdata()).unwrap_or_default();
                            l.notify_id = out
                                .first()
                                .and_then(|b| b.get(..8))
                                .and_then(|b| b.try_into().ok())
                                .map_or(0, u64::from_le_bytes);
                            tracing::debug!(id, notify_id = l.notify_id, "objecter: notify acked");
                        }
                        Some(errno) => {
                            if let Some(tx) = done.take() {
                                let _ = tx.send(Err(Error::Osd {
                                    errno,
                                    failed_op: None,
                                }));
                            }
                        }
                    },
                }
            }
            LingerRole::Reconnect => {
                l.register_tid = None;
                if let Some(errno) = failed {
                    tracing::debug!(id, %errno, "objecter: watch reconnect failed");
                    l.fail_watch(errno);
                }
            }
            LingerRole::Ping { sent, generation } => {
                if generation != l.generation {
                    return;
                }
                match failed {
                    None => l.valid_thru = l.valid_thru.max(sent),
                    Some(errno) => {
                        tracing::debug!(id, %errno, "objecter: watch ping failed");
                        l.fail_watch(errno);
                    }
                }
            }
        }
    }

    /// After a new map: sends again every registration whose target moved or whose
    /// session is gone (all of them if epochs were `skipped`).
    pub(super) fn lingers_handle_map(
        &mut self,
        map: &std::sync::Arc<osdmap::OsdMap>,
        skipped: bool,
    ) {
        let ids: Vec<u64> = self.lingers.keys().copied().collect();
        for id in ids {
            let Some(l) = self.lingers.get_mut(&id) else {
                continue;
            };
            let recalc = l.req.target.calc_any_change(map);
            let existed = l.req.target.pool_ever_existed;
            match recalc {
                Recalc::PoolDne if existed => self.linger_failed(id, Errno::ENOENT),
                Recalc::PoolEio => self.linger_failed(id, Errno::EIO),
                Recalc::NeedResend => self.send_linger(id),
                Recalc::PoolDne | Recalc::NoAction if skipped => self.send_linger(id),
                Recalc::PoolDne | Recalc::NoAction => {
                    if !self.linger_on_live_session(id) {
                        self.send_linger(id);
                    }
                }
            }
        }
    }

    /// A session reached READY on `conn`: re-attaches the registrations that were on it
    /// before (the ops sent on the old connection were dropped).
    pub(super) fn lingers_session_ready(&mut self, osd: i32, conn: ConnId) {
        let stale: Vec<u64> = self
            .lingers
            .iter()
            .filter(|(_, l)| l.req.target.osd == osd && l.conn != Some(conn))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.send_linger(id);
        }
    }

    /// Pings every registered, healthy watch whose session is up.
    pub(super) fn ping_watches(&mut self, now: Instant) {
        let pause_reads = self.map.flags & osdmap::map_flags::PAUSERD != 0;
        let due: Vec<u64> = self
            .lingers
            .iter()
            .filter(|(_, l)| l.is_watch() && l.registered && l.last_error.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if pause_reads || !self.linger_on_ready_session(id) {
                continue;
            }
            let Some(l) = self.lingers.get(&id) else {
                continue;
            };
            let generation = l.generation;
            let op = RawOsdOp::watch(id, watch_op::PING, generation, 0);
            let req = self.linger_op(
                id,
                vec![op],
                Bytes::new(),
                LingerRole::Ping {
                    sent: now,
                    generation,
                },
            );
            if let Some(req) = req {
                self.submit(req);
            }
        }
        self.next_ping = self
            .lingers
            .values()
            .any(Linger::is_watch)
            .then_some(now + PING_INTERVAL);
    }

    /// Fails every registration (the client is shutting down).
    pub(super) fn lingers_shutdown(&mut self) {
        for (_, l) in std::mem::take(&mut self.lingers) {
            fail_request(l.req.kind, &Error::Shutdown);
        }
        self.next_ping = None;
    }

    // ---- helpers ----

    /// Whether linger `id`'s registration went out on the current connection of its
    /// target's session.
    fn linger_on_live_session(&self, id: u64) -> bool {
        self.lingers.get(&id).is_some_and(|l| {
            l.conn.is_some() && self.sessions.get(&l.req.target.osd).map(|s| s.conn) == l.conn
        })
    }

    fn linger_on_ready_session(&self, id: u64) -> bool {
        self.linger_on_live_session(id)
            && self.lingers.get(&id).is_some_and(|l| {
                self.sessions
                    .get(&l.req.target.osd)
                    .is_some_and(|s| matches!(s.state, SessionState::Ready { .. }))
            })
    }

    /// The registration failed for good (pool deleted, EIO).
    fn linger_failed(&mut self, id: u64, errno: Errno) {
        let Some(l) = self.lingers.get_mut(&id) else {
            return;
        };
        let error = Error::Osd {
            errno,
            failed_op: None,
        };
        match &mut l.req.kind {
            LingerKind::Watch { registered, .. } => match registered.take() {
                Some(tx) => {
                    let _ = tx.send(Err(error));
                }
                None => l.fail_watch(errno),
            },
            LingerKind::Notify { done, .. } => {
                if let Some(tx) = done.take() {
                    let _ = tx.send(Err(error));
                }
            }
        }
    }

    /// An op of linger `id` aimed at its target.
    fn linger_op(
        &self,
        id: u64,
        ops: Vec<RawOsdOp>,
        data: Bytes,
        role: LingerRole,
    ) -> Option<OpRequest> {
        let l = self.lingers.get(&id)?;
        Some(OpRequest {
            target: l.req.target.clone(),
            ops,
            data,
            data_tail: Vec::new(),
            snapid: l.req.snapid,
            snapc: l.req.snapc.clone(),
            mtime: l.req.mtime,
            reply: ReplyTo::Linger { id, role },
        })
    }

    /// Sends linger `id`'s registration (again): the first WATCH or NOTIFY, or a RECONNECT
    /// of a registered watch; an earlier registration op in flight is dropped.
    fn send_linger(&mut self, id: u64) {
        let Some(l) = self.lingers.get_mut(&id) else {
            return;
        };
        let old = l.register_tid.take();
        let (ops, data, role) = match &l.req.kind {
            LingerKind::Watch { .. } if l.registered => {
                l.generation = l.generation.wrapping_add(1);
                let op = RawOsdOp::watch(id, watch_op::RECONNECT, l.generation, 0);
                (vec![op], Bytes::new(), LingerRole::Reconnect)
            }
            LingerKind::Watch { timeout, .. } => {
                let op = RawOsdOp::watch(id, watch_op::WATCH, l.generation, *timeout);
                (vec![op], Bytes::new(), LingerRole::Register)
            }
            LingerKind::Notify {
                payload, timeout, ..
            } => {
                l.notify_id = 0;
                let data = notify_indata(payload, *timeout);
                let mut op = RawOsdOp::notify(id);
                op.payload_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                (vec![op], data, LingerRole::Register)
            }
        };
        if let Some(tid) = old {
            self.drop_op(tid);
        }
        tracing::debug!(id, ?role, osd = ?self.lingers.get(&id).map(|l| l.req.target.osd), "objecter: sending a linger registration");
        let Some(req) = self.linger_op(id, ops, data, role) else {
            return;
        };
        let tid = self.submit(req);
        let conn = self
            .ops
            .get(&tid)
            .and_then(|op| op.session)
            .and_then(|osd| self.sessions.get(&osd))
            .map(|s| s.conn);
        if let Some(l) = self.lingers.get_mut(&id) {
            l.register_tid = self.ops.contains_key(&tid).then_some(tid);
            l.conn = conn;
        }
    }
}

/// A notify's in-data: protocol version 1, the timeout in seconds, the payload.
fn notify_indata(payload: &Bytes, timeout: u32) -> Bytes {
    let mut w = Writer::new();
    w.put_u32(1);
    w.put_u32(timeout);
    w.put(payload);
    Bytes::from(w.finish().unwrap_or_default())
}

/// Tells the user a registration could not start or went away.
fn fail_request(kind: LingerKind, error: &Error) {
    let copy = || match error {
        Error::Osd { errno, .. } => Error::Osd {
            errno: *errno,
            failed_op: None,
        },
        _ => Error::Shutdown,
    };
    match kind {
        LingerKind::Watch { registered, .. } => {
            if let Some(tx) = registered {
                let _ = tx.send(Err(copy()));
            }
        }
        LingerKind::Notify { done, .. } => {
            if let Some(tx) = done {
                let _ = tx.send(Err(copy()));
            }
        }
    }
}
