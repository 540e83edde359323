//! Watch and notify: a client watches an object and is told of every notify sent to it;
//! a notifier learns which watchers acknowledged, with their replies, and which did not
//! answer in time (librados's `watch2` / `notify2` / `notify_ack` / `unwatch2` /
//! `watch_check`).
//!
//! ```no_run
//! # async fn f(io: rados::IoCtx) -> Result<(), rados::Error> {
//! use std::time::Duration;
//! use rados::WatchEvent;
//! let mut watch = io.watch("header").await?;
//! tokio::spawn({
//!     let io = io.clone();
//!     async move { io.notify("header", &b"changed"[..], Duration::from_secs(5)).await }
//! });
//! while let Some(event) = watch.next_event().await {
//!     match event {
//!         WatchEvent::Notify(n) => watch.ack(&n, &b"seen"[..]).await?,
//!         // the watch is gone (object deleted, or lost while disconnected): watch again
//!         WatchEvent::Error(errno) => break,
//!     }
//! }
//! watch.unwatch().await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use bytes::Bytes;
use denc::{SnapId, UTime};
use tokio::sync::{mpsc, oneshot};

use crate::errno::Errno;
use crate::error::{Error, Result};
use crate::ioctx::{IoCtx, Mode};
use crate::messages::osd_types::flag;
use crate::messages::{NotifyAck, NotifyReplies};
use crate::osd::client::OsdClient;
use crate::osd::core::{LingerKind, LingerRequest};
use crate::osd::ops::OpSpec;
use crate::osd::target::Target;

/// How long past a notify's own timeout we wait for the OSD's completion when the handle
/// has no timeout of its own.
const NOTIFY_GRACE: Duration = Duration::from_secs(30);

/// A notification sent to a watched object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The OSD's id of this notify (what the acknowledgement names).
    pub notify_id: u64,
    /// The cookie of the watch it arrived on.
    pub cookie: u64,
    /// Global id of the notifying client (`client.<gid>`).
    pub notifier_gid: u64,
    /// What the notifier sent.
    pub payload: Bytes,
}

/// What a watch receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A notify: acknowledge it ([`Watch::ack`]) or the notifier waits until its timeout.
    Notify(Notification),
    /// The watch is gone: `ENOTCONN` when the object was deleted, the OSD dropped the watch
    /// (no ping within its timeout, e.g. while this client was cut off) or it could not be
    /// re-attached after a session reset; other errors as the OSD gave them. Notifies sent
    /// meanwhile were missed: re-read the watched state, then watch again.
    Error(Errno),
}

/// The outcome of a notify.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifyResult {
    /// Every watcher that acknowledged, with its reply.
    pub acks: Vec<NotifyAck>,
    /// `(gid, cookie)` of every watcher that did not acknowledge within the timeout.
    pub missed: Vec<(u64, u64)>,
}

impl NotifyResult {
    /// Whether some watcher did not answer in time (librados returns `-ETIMEDOUT` then).
    pub fn timed_out(&self) -> bool {
        !self.missed.is_empty()
    }
}

/// A registered watch. Dropping it unwatches in the background; [`Watch::unwatch`] does
/// it and reports the outcome.
#[derive(Debug)]
pub struct Watch {
    io: IoCtx,
    oid: String,
    id: u64,
    events: mpsc::UnboundedReceiver<WatchEvent>,
    active: bool,
}

impl Watch {
    /// The watch's cookie (as `listwatchers` shows it).
    pub fn cookie(&self) -> u64 {
        self.id
    }

    /// The watched object.
    pub fn oid(&self) -> &str {
        &self.oid
    }

    /// The next notification or error; `None` once the client shut down.
    pub async fn next_event(&mut self) -> Option<WatchEvent> {
        self.events.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_next_event(&mut self) -> Option<WatchEvent> {
        self.events.try_recv().ok()
    }

    /// Acknowledges notification `n` with `reply` (which the notifier receives).
    pub async fn ack(&self, n: &Notification, reply: impl Into<Bytes>) -> Result<()> {
        self.io
            .notify_ack(&self.oid, n.notify_id, n.cookie, reply)
            .await
    }

    /// How long ago the OSD last confirmed the watch (it is pinged every 5 s), or the
    /// error that ended it (librados's `watch_check`).
    pub fn check(&self) -> Result<Duration> {
        self.io.rados.osd().linger_check(self.id)
    }

    /// Removes the watch.
    pub async fn unwatch(mut self) -> Result<()> {
        self.active = false;
        self.io.rados.osd().linger_cancel(self.id);
        unwatch_op(&self.io, &self.oid, self.id).await
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        self.io.rados.osd().linger_cancel(self.id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (io, oid, id) = (self.io.clone(), std::mem::take(&mut self.oid), self.id);
            rt.spawn(async move {
                if let Err(error) = unwatch_op(&io, &oid, id).await {
                    tracing::debug!(%error, cookie = id, "background unwatch failed");
                }
            });
        }
    }
}

async fn unwatch_op(io: &IoCtx, oid: &str, cookie: u64) -> Result<()> {
    io.operate(
        oid,
        vec![OpSpec::unwatch(cookie)],
        Mode::Write,
        &Default::default(),
    )
    .await
    .map(|_| ())
}

/// Cancels a registration when the future waiting on it is dropped.
struct LingerGuard<'a> {
    osd: &'a OsdClient,
    id: u64,
    armed: bool,
}

impl Drop for LingerGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.osd.linger_cancel(self.id);
        }
    }
}

/// Whole seconds for the wire, rounded up (0 stays 0: the OSD's default).
fn seconds(d: Duration) -> u32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}

async fn bounded<T>(
    limit: Option<Duration>,
    operation: &'static str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(after) => tokio::time::timeout(after, f)
            .await
            .unwrap_or(Err(Error::Timeout { operation, after })),
        None => f.await,
    }
}

impl IoCtx {
    /// Watches `oid` (which must exist) with the OSD's default timeout
    /// (`osd_client_watch_timeout`, 30 s): the watch is pinged, re-attached after session
    /// resets and OSD changes, and reports its loss as a [`WatchEvent::Error`].
    pub async fn watch(&self, oid: &str) -> Result<Watch> {
        self.watch_with_timeout(oid, Duration::ZERO).await
    }

    /// Watches `oid`; the OSD drops the watch after `timeout` without a ping (zero: the
    /// OSD's default).
    pub async fn watch_with_timeout(&self, oid: &str, timeout: Duration) -> Result<Watch> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (reg_tx, reg_rx) = oneshot::channel();
        let osd = self.rados.osd();
        let flags = self.extra_flags | flag::WRITE | flag::READ;
        let id = osd.linger_register(LingerRequest {
            target: Target::new(oid.to_owned(), self.locator(), flags),
            snapid: SnapId::NOSNAP,
            snapc: self.snapc.clone(),
            mtime: UTime::now(),
            kind: LingerKind::Watch {
                timeout: seconds(timeout),
                events: events_tx,
                registered: Some(reg_tx),
            },
        });
        let mut guard = LingerGuard {
            osd,
            id,
            armed: true,
        };
        let registered = async { reg_rx.await.unwrap_or(Err(Error::Shutdown)) };
        bounded(self.timeout, "watch", registered).await?;
        guard.armed = false;
        Ok(Watch {
            io: self.clone(),
            oid: oid.to_owned(),
            id,
            events,
            active: true,
        })
    }

    /// Notifies every watcher of `oid` with `payload` and waits until all acknowledged or
    /// `timeout` passed (zero: the OSD's `osd_default_notify_timeout`, 30 s). Watchers that
    /// did not answer are in [`NotifyResult::missed`].
    pub async fn notify(
        &self,
        oid: &str,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<NotifyResult> {
        let (done_tx, done_rx) = oneshot::channel();
        let osd = self.rados.osd();
        let flags = self.extra_flags | flag::READ;
        let id = osd.linger_register(LingerRequest {
            target: Target::new(oid.to_owned(), self.locator(), flags),
            snapid: self.read_snap,
            snapc: Default::default(),
            mtime: UTime::default(),
            kind: LingerKind::Notify {
                payload: payload.into(),
                timeout: seconds(timeout),
                done: Some(done_tx),
            },
        });
        let _guard = LingerGuard {
            osd,
            id,
            armed: true,
        };
        let osd_wait = if timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            timeout
        };
        let limit = osd_wait + self.timeout.unwrap_or(NOTIFY_GRACE);
        let done = async { done_rx.await.unwrap_or(Err(Error::Shutdown)) };
        let done = bounded(Some(limit), "notify", done).await?;
        let replies = NotifyReplies::decode(&done.data)
            .map_err(|_| Error::Protocol("undecodable notify replies"))?;
        if done.return_code < 0 && done.return_code != Errno::ETIMEDOUT.as_result() {
            return Err(Error::Osd {
                errno: Errno::from_result(done.return_code).unwrap_or(Errno::EIO),
                failed_op: None,
            });
        }
        Ok(NotifyResult {
            acks: replies.acks,
            missed: replies.missed,
        })
    }

    /// Acknowledges notification `notify_id` of watch `cookie` on `oid` with `reply`.
    pub async fn notify_ack(
        &self,
        oid: &str,
        notify_id: u64,
        cookie: u64,
        reply: impl Into<Bytes>,
    ) -> Result<()> {
        let spec = OpSpec::notify_ack(notify_id, cookie, &reply.into());
        self.operate(oid, vec![spec], Mode::Read, &Default::default())
            .await
            .map(|_| ())
    }
}
