//! Quiescing an image's clients around a snapshot (librbd since Octopus:
//! ImageWatcher.cc `notify_quiesce` / `notify_unquiesce` / `prepare_quiesce_request`,
//! ImageState.cc `QuiesceWatchers`, operation/SnapshotCreateRequest.cc).
//!
//! Before taking a snapshot the snapshotting client notifies QUIESCE on the header; every
//! watcher runs its application's quiesce hooks (a file system freeze, say) and
//! acknowledges with their result; a failure fails the snapshot unless the caller ignores
//! quiesce errors. After the snapshot, UNQUIESCE lets the watchers resume (a watcher also
//! resumes by itself 10 s after it quiesced, should the UNQUIESCE never come).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rados::{Errno, IoCtx, Notification};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::error::{Error, Result};
use crate::image::Image;
use crate::watch_notify::{
    AsyncRequestId, ClientId, NotifyMessage, ResponseMessage, quiesce_reply,
};

/// Flags of [`Image::create_snap2`] and [`crate::Rbd::group_snap_create2`]
/// (`RBD_SNAP_CREATE_*`).
pub mod snap_create_flags {
    /// Do not ask the image's clients to quiesce (`--skip-quiesce`).
    pub const SKIP_QUIESCE: u32 = 1 << 0;
    /// Take the snapshot even if a client failed to quiesce (`--ignore-quiesce-error`).
    pub const IGNORE_QUIESCE_ERROR: u32 = 1 << 1;
}

/// The notify timeout librbd uses on the header (`watcher::Notifier::NOTIFY_TIMEOUT`).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a watcher stays quiesced without an UNQUIESCE (twice the notify timeout).
const QUIESCE_HOLD: Duration = Duration::from_secs(10);
/// Finished requests remembered to answer a retried QUIESCE with the same result.
const REMEMBERED: usize = 64;

/// A boxed future returned by a [`QuiesceHandler`].
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The application's quiesce hooks on an open image (librbd's `rbd_quiesce_watch`
/// callbacks; the returned future completing is `rbd_quiesce_complete`).
pub trait QuiesceHandler: Send + Sync + 'static {
    /// A client is about to snapshot the image: stop issuing I/O and flush. An error
    /// fails that snapshot (unless its creator ignores quiesce errors).
    fn quiesce(&self) -> HookFuture<'_, std::result::Result<(), Errno>>;
    /// The snapshot is taken (or abandoned): resume. Not called after a failed quiesce.
    fn unquiesce(&self) -> HookFuture<'_, ()>;
}

/// What the header watch should do with a notify (see [`QuiesceWatchers::on_notify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum QuiesceAck {
    /// Not a quiesce message: answer it as usual.
    NotMine,
    /// Acknowledge now with this payload.
    Now(Bytes),
    /// The acknowledgement is sent once the hooks ran.
    Later,
}

enum Request {
    /// Hooks running; these notifies wait for their result.
    Pending(Vec<Notification>),
    /// Hooks done; `resume` ends the quiesced period early (UNQUIESCE).
    Done {
        result: i32,
        resume: Option<oneshot::Sender<()>>,
    },
}

#[derive(Default)]
struct Inner {
    handlers: BTreeMap<u64, Arc<dyn QuiesceHandler>>,
    next_handle: u64,
    requests: HashMap<AsyncRequestId, Request>,
    order: VecDeque<AsyncRequestId>,
}

/// The quiesce hooks of one open image and the QUIESCE requests it answered.
#[derive(Default)]
pub(crate) struct QuiesceWatchers {
    inner: Mutex<Inner>,
    /// One quiesce..unquiesce period at a time (librbd queues a QUIESCE arriving while
    /// quiesced).
    period: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for QuiesceWatchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuiesceWatchers").finish_non_exhaustive()
    }
}

fn locked(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl QuiesceWatchers {
    /// Registers hooks; returns their handle.
    pub(crate) fn register(&self, handler: Arc<dyn QuiesceHandler>) -> u64 {
        let mut inner = locked(&self.inner);
        let handle = inner.next_handle;
        inner.next_handle += 1;
        inner.handlers.insert(handle, handler);
        handle
    }

    /// Unregisters hooks (false: no such handle).
    pub(crate) fn unregister(&self, handle: u64) -> bool {
        locked(&self.inner).handlers.remove(&handle).is_some()
    }

    /// For a header watch loop: answers `n` if it is a QUIESCE / UNQUIESCE (acknowledged
    /// now, or later by the hooks' task); false for any other notify, which the loop
    /// answers itself.
    pub(crate) async fn answer(
        self: &Arc<Self>,
        io: &IoCtx,
        header: &str,
        watch: &rados::Watch,
        n: &Notification,
    ) -> bool {
        match self.on_notify(io, header, n) {
            QuiesceAck::NotMine => false,
            QuiesceAck::Later => true,
            QuiesceAck::Now(reply) => {
                if let Err(e) = watch.ack(n, reply).await {
                    debug!(error = %e, "notify ack failed");
                }
                true
            }
        }
    }

    /// ImageWatcher `handle_payload(QuiescePayload | UnquiescePayload)`: a QUIESCE runs
    /// the hooks in the background and is acknowledged with their result (a retried one
    /// gets the result of the first); an UNQUIESCE is acknowledged at once and resumes.
    fn on_notify(self: &Arc<Self>, io: &IoCtx, header: &str, n: &Notification) -> QuiesceAck {
        let msg = match denc::decode_exact::<NotifyMessage>(&n.payload)
            .or_else(|_| denc::Reader::new(&n.payload).decode::<NotifyMessage>())
        {
            Ok(m) => m,
            Err(_) => return QuiesceAck::NotMine,
        };
        match msg {
            NotifyMessage::Quiesce(id) => {
                let mut inner = locked(&self.inner);
                match inner.requests.get_mut(&id) {
                    Some(Request::Pending(waiting)) => waiting.push(n.clone()),
                    Some(Request::Done { result, .. }) => {
                        let reply = ResponseMessage { result: *result }.to_bytes();
                        tokio::spawn(ack(io.clone(), header.to_owned(), n.clone(), reply));
                    }
                    None => {
                        inner.requests.insert(id, Request::Pending(vec![n.clone()]));
                        inner.order.push_back(id);
                        prune(&mut inner);
                        let me = Arc::clone(self);
                        tokio::spawn(me.quiesce_period(io.clone(), header.to_owned(), id));
                    }
                }
                QuiesceAck::Later
            }
            NotifyMessage::Unquiesce(id) => {
                if let Some(Request::Done { resume, .. }) =
                    locked(&self.inner).requests.get_mut(&id)
                {
                    if let Some(tx) = resume.take() {
                        let _ = tx.send(());
                    }
                }
                QuiesceAck::Now(Bytes::new())
            }
            _ => QuiesceAck::NotMine,
        }
    }

    /// Runs the hooks of request `id`, answers its notifies, stays quiesced until its
    /// UNQUIESCE (or [`QUIESCE_HOLD`]) and resumes the hooks that quiesced.
    async fn quiesce_period(self: Arc<Self>, io: IoCtx, header: String, id: AsyncRequestId) {
        let hooked = || -> Vec<(u64, Arc<dyn QuiesceHandler>)> {
            locked(&self.inner)
                .handlers
                .iter()
                .map(|(h, w)| (*h, Arc::clone(w)))
                .collect()
        };
        if hooked().is_empty() {
            // QuiesceWatchers::notify without watchers: done at once, nothing to resume
            let waiting = self.finish(id, 0, None);
            answer(&io, &header, waiting, 0).await;
            return;
        }
        let period = Arc::clone(&self.period).lock_owned().await;
        let handlers = hooked();
        let mut result = 0;
        let mut failed = BTreeSet::new();
        for (handle, hooks) in &handlers {
            if let Err(e) = hooks.quiesce().await {
                debug!(handle, %e, "quiesce hook failed");
                result = e.as_result();
                failed.insert(*handle);
            }
        }
        let (resume_tx, resume_rx) = oneshot::channel();
        let waiting = self.finish(id, result, Some(resume_tx));
        debug!(?id, result, "quiesced");
        answer(&io, &header, waiting, result).await;
        if tokio::time::timeout(QUIESCE_HOLD, resume_rx).await.is_err() {
            debug!(?id, "quiesce request timed out: resuming");
        }
        for (handle, hooks) in handlers.iter().filter(|(h, _)| !failed.contains(h)) {
            if locked(&self.inner).handlers.contains_key(handle) {
                hooks.unquiesce().await;
            }
        }
        debug!(?id, "unquiesced");
        drop(period);
    }
}

impl QuiesceWatchers {
    /// Records request `id` as done; the notifies that wait for its answer.
    fn finish(
        &self,
        id: AsyncRequestId,
        result: i32,
        resume: Option<oneshot::Sender<()>>,
    ) -> Vec<Notification> {
        let mut inner = locked(&self.inner);
        match inner.requests.insert(id, Request::Done { result, resume }) {
            Some(Request::Pending(waiting)) => waiting,
            _ => Vec::new(),
        }
    }
}

/// Acknowledges `waiting` with a `ResponseMessage` of `result` (C_ResponseMessage).
async fn answer(io: &IoCtx, header: &str, waiting: Vec<Notification>, result: i32) {
    let reply = ResponseMessage { result }.to_bytes();
    for n in waiting {
        ack(io.clone(), header.to_owned(), n, reply.clone()).await;
    }
}

/// Forgets the oldest finished requests beyond [`REMEMBERED`].
fn prune(inner: &mut Inner) {
    while inner.order.len() > REMEMBERED {
        let Some(old) = inner.order.pop_front() else {
            return;
        };
        if matches!(inner.requests.get(&old), Some(Request::Pending(_))) {
            inner.order.push_back(old);
            return;
        }
        inner.requests.remove(&old);
    }
}

async fn ack(io: IoCtx, header: String, n: Notification, reply: Bytes) {
    if let Err(e) = io.notify_ack(&header, n.notify_id, n.cookie, reply).await {
        debug!(error = %e, "quiesce ack failed");
    }
}

/// `util::reserve_async_request_id`: numbers this process's requests from 1.
fn reserve_request_id() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed) + 1
}

/// `RBD_SNAP_CREATE_*` flags for `rbd_default_snapshot_quiesce_mode` (Utils.cc
/// `quiesce_mode_to_snap_create_flags`; an unknown mode is "required").
pub(crate) fn mode_flags(mode: &str) -> u32 {
    match mode.trim() {
        "ignore-error" => snap_create_flags::IGNORE_QUIESCE_ERROR,
        "skip" => snap_create_flags::SKIP_QUIESCE,
        _ => 0,
    }
}

/// Checks `RBD_SNAP_CREATE_*` flags (Utils.cc `snap_create_flags_api_to_internal`: SKIP
/// wins over IGNORE; unknown bits are EINVAL).
pub(crate) fn check_flags(flags: u32) -> Result<()> {
    let known = snap_create_flags::SKIP_QUIESCE | snap_create_flags::IGNORE_QUIESCE_ERROR;
    if flags & !known != 0 {
        return Err(Error::InvalidArgument("invalid snap create flags"));
    }
    Ok(())
}

fn client_value(rados: &rados::Rados, key: &str) -> Option<String> {
    rados
        .config()
        .get(key)
        .map(str::to_owned)
        .or_else(|| rados.mon_config().get(key).cloned())
}

/// The flags `rbd_snap_create` uses: the client's `rbd_default_snapshot_quiesce_mode`.
pub(crate) fn default_flags(rados: &rados::Rados) -> u32 {
    client_value(rados, "rbd_default_snapshot_quiesce_mode").map_or(0, |m| mode_flags(&m))
}

/// A QUIESCE sent for a snapshot, to be followed by its UNQUIESCE.
#[derive(Debug, Clone)]
pub(crate) struct QuiesceRequest {
    io: IoCtx,
    header: String,
    id: AsyncRequestId,
}

impl QuiesceRequest {
    /// ImageWatcher `notify_quiesce`: notifies QUIESCE, again while some watcher did not
    /// answer in time (`rbd_quiesce_notification_attempts` in all; then `-ETIMEDOUT`).
    /// Returns the request and the watchers' verdict (0 or a negative errno).
    pub(crate) async fn send(io: &IoCtx, header: &str, me: ClientId) -> (QuiesceRequest, i32) {
        let id = AsyncRequestId {
            client: me,
            request_id: reserve_request_id(),
        };
        let attempts = client_value(io.rados(), "rbd_quiesce_notification_attempts")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(10)
            .max(1);
        let payload = NotifyMessage::Quiesce(id).to_bytes();
        let mut result = 0;
        for attempt in 1..=attempts {
            result = match io.notify(header, payload.clone(), NOTIFY_TIMEOUT).await {
                Ok(r) if r.timed_out() => {
                    debug!(?id, attempt, attempts, "quiesce notify timed out");
                    Errno::ETIMEDOUT.as_result()
                }
                Ok(r) => quiesce_reply(r.acks.iter().map(|a| &a.reply[..])),
                Err(e) => crate::error::Error::from(e).errno(),
            };
            if result != Errno::ETIMEDOUT.as_result() {
                break;
            }
        }
        if result < 0 {
            warn!(header, result, "failed to notify quiesce");
        }
        let req = QuiesceRequest {
            io: io.clone(),
            header: header.to_owned(),
            id,
        };
        (req, result)
    }

    /// ImageWatcher `notify_unquiesce` (failures are only logged, as librbd does).
    pub(crate) async fn unquiesce(&self) {
        let payload = NotifyMessage::Unquiesce(self.id).to_bytes();
        if let Err(e) = self.io.notify(&self.header, payload, NOTIFY_TIMEOUT).await {
            debug!(error = %e, "failed to notify unquiesce");
        }
    }
}

impl Image {
    /// Registers quiesce hooks on this handle (`rbd_quiesce_watch`): they run when a
    /// client (this one included) is about to snapshot the image. Needs the header
    /// watch, which this client keeps for every read-write open, as librbd (EINVAL for a
    /// read-only one). Returns a handle for [`Image::quiesce_unwatch`].
    pub fn quiesce_watch(&self, handler: Arc<dyn QuiesceHandler>) -> Result<u64> {
        // a read-write open watches the header (through the lock or a plain watch)
        if self.lock.is_none() && self.watch.is_none() {
            return Err(Error::InvalidArgument(
                "quiesce hooks need an image open read-write",
            ));
        }
        Ok(self.state.quiesce.register(handler))
    }

    /// Unregisters quiesce hooks (`rbd_quiesce_unwatch`; ENOENT for an unknown handle).
    pub fn quiesce_unwatch(&self, handle: u64) -> Result<()> {
        match self.state.quiesce.unregister(handle) {
            true => Ok(()),
            false => Err(Error::Rados(rados::Error::Osd {
                errno: Errno::ENOENT,
                failed_op: None,
            })),
        }
    }

    /// Notifies QUIESCE on the image's header (as this handle's header watch, or as
    /// `client.<gid>` with handle 0 without one): the request and the watchers' verdict.
    pub(crate) async fn send_quiesce(&self) -> (QuiesceRequest, i32) {
        let me = match &self.lock {
            Some(l) => l.client_id(),
            None => ClientId {
                gid: self.io.rados().global_id(),
                handle: 0,
            },
        };
        QuiesceRequest::send(&self.io, &self.header_object(), me).await
    }

    /// SnapshotCreateRequest `send_notify_quiesce`: asks the image's clients to quiesce
    /// unless `flags` skip it; their failure is an error unless `flags` ignore it (the
    /// UNQUIESCE is then sent at once).
    pub(crate) async fn quiesce_for_snap(&self, flags: u32) -> Result<Option<QuiesceRequest>> {
        check_flags(flags)?;
        if flags & snap_create_flags::SKIP_QUIESCE != 0 {
            return Ok(None);
        }
        let (req, result) = self.send_quiesce().await;
        if result < 0 && flags & snap_create_flags::IGNORE_QUIESCE_ERROR == 0 {
            req.unquiesce().await;
            return Err(Error::QuiesceFailed(result));
        }
        Ok(Some(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(mode_flags("required"), 0);
        assert_eq!(mode_flags("skip"), snap_create_flags::SKIP_QUIESCE);
        assert_eq!(
            mode_flags("ignore-error"),
            snap_create_flags::IGNORE_QUIESCE_ERROR
        );
        assert!(check_flags(3).is_ok());
        assert!(check_flags(4).is_err());
        let a = reserve_request_id();
        assert!(reserve_request_id() > a && a >= 1);
    }

    #[test]
    fn prune_keeps_pending() {
        let mut inner = Inner::default();
        let id = |n| AsyncRequestId {
            client: ClientId::default(),
            request_id: n,
        };
        inner.requests.insert(id(0), Request::Pending(Vec::new()));
        inner.order.push_back(id(0));
        for n in 1..=(REMEMBERED as u64 + 5) {
            inner.requests.insert(
                id(n),
                Request::Done {
                    result: 0,
                    resume: None,
                },
            );
            inner.order.push_back(id(n));
            prune(&mut inner);
        }
        assert!(inner.requests.contains_key(&id(0)));
        assert!(inner.requests.len() <= REMEMBERED + 1);
    }
}
