//! The header state an open image's `&self` calls share, kept current as librbd keeps
//! its `ImageCtx` (librbd/ImageState.cc `handle_update_notification` and
//! `refresh_if_required`, image/RefreshRequest.cc): a HEADER_UPDATE on the header (or
//! taking the exclusive lock, or a lost watch) marks the state stale, and it is read
//! again before the next I/O. The size, the parent overlap and the snap context thus
//! follow `rbd resize`, snapshots and flattens done by other clients (or other handles
//! of this process) without `Image::refresh`.
//!
//! The I/O path pays two atomic loads for the staleness check and one for the size; the
//! rest sits behind a mutex taken only by writes (once, for the snap context) and by
//! reads of clones (for the parent link).
//!
//! Read-write opens watch the header: through the exclusive lock's watch when the
//! image has the feature, else through a [`HeaderWatch`] of their own. Read-only opens
//! do not watch (librbd's OpenRequest skips the watch for them too) and keep what they
//! read at open.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use denc::SnapContext;
use rados::{IoCtx, Watch, WatchEvent};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::error::Result;
use crate::exclusive_lock::{
    StopRequest, hand_over, on_notify, rewatch_unless_closed, unwatch_on_stop,
};
use crate::image::{Image, ImageInfo, OpenMode, read_header};
use crate::parent::ParentLink;
use crate::striper::Layout;
use crate::watch_notify::ClientId;

/// How long a watch waits for the refresh a HEADER_UPDATE asks for before acknowledging
/// it anyway (the notifier gives up after 5 s; the next I/O refreshes then).
const EAGER_REFRESH_LIMIT: Duration = Duration::from_secs(3);

/// What the last header read said, beyond the size.
#[derive(Debug)]
struct Cached {
    info: ImageInfo,
    parent: Option<ParentLink>,
}

/// The head's header state of one open image, shared by the handle's clones.
#[derive(Debug)]
pub(crate) struct HeaderState {
    io: IoCtx,
    mode: OpenMode,
    layout: Layout,
    /// Bumped when the header may have changed (HEADER_UPDATE, lock taken, watch lost).
    notified: AtomicU64,
    /// The value of `notified` the cache was read at.
    refreshed: AtomicU64,
    /// The head's size in bytes (the I/O path's clip reads it without a lock).
    size: AtomicU64,
    cache: Mutex<Cached>,
    /// One header read at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// The application's quiesce hooks: whichever header watch the open has (the
    /// exclusive lock's or [`HeaderWatch`]) answers QUIESCE / UNQUIESCE with them.
    pub(crate) quiesce: Arc<crate::quiesce::QuiesceWatchers>,
}

impl HeaderState {
    /// The state as read at open.
    pub(crate) fn new(
        io: IoCtx,
        mode: OpenMode,
        info: ImageInfo,
        parent: Option<ParentLink>,
    ) -> Arc<HeaderState> {
        Arc::new(HeaderState {
            io,
            mode,
            layout: info.layout(),
            notified: AtomicU64::new(0),
            refreshed: AtomicU64::new(0),
            size: AtomicU64::new(info.size),
            cache: Mutex::new(Cached { info, parent }),
            refreshing: tokio::sync::Mutex::new(()),
            quiesce: Arc::default(),
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The header may have changed: read it again before the next I/O.
    pub(crate) fn mark_stale(&self) {
        self.notified.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the header changed since it was last read.
    pub(crate) fn is_stale(&self) -> bool {
        self.refreshed.load(Ordering::Acquire) != self.notified.load(Ordering::Acquire)
    }

    /// The head's size.
    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// Objects the head spans.
    pub(crate) fn num_objs(&self) -> u64 {
        self.layout.num_objects(self.size())
    }

    /// What the header said at the last read.
    pub(crate) fn info(&self) -> ImageInfo {
        self.cache().info.clone()
    }

    /// The snap context writes carry.
    pub(crate) fn snapc(&self) -> SnapContext {
        self.cache().info.snap_context.clone()
    }

    /// Caches the snap context after this handle changed it (snapshot create/remove).
    pub(crate) fn set_snapc(&self, sc: SnapContext) {
        self.cache().info.snap_context = sc;
    }

    /// The parent link of the head (`None`: not a clone, or flattened).
    pub(crate) fn parent(&self) -> Option<ParentLink> {
        self.cache().parent.clone()
    }

    /// Reads the header again if it may have changed.
    pub(crate) async fn refresh_if_required(&self) -> Result<()> {
        if !self.is_stale() {
            return Ok(());
        }
        let _one = self.refreshing.lock().await;
        if !self.is_stale() {
            // another call refreshed while this one waited
            return Ok(());
        }
        self.read_and_store().await.map(drop)
    }

    /// Reads the header now; returns what it said (and the parent link it implies).
    pub(crate) async fn refresh(&self) -> Result<(ImageInfo, Option<ParentLink>)> {
        let _one = self.refreshing.lock().await;
        self.read_and_store().await
    }

    async fn read_and_store(&self) -> Result<(ImageInfo, Option<ParentLink>)> {
        let target = self.notified.load(Ordering::Acquire);
        let (name, id, old) = {
            let c = self.cache();
            (c.info.name.clone(), c.info.id.clone(), c.parent.clone())
        };
        let info = read_header(&self.io, name, id, self.mode).await?;
        let parent = match (&info.parent, old) {
            // the same parent: only the overlap moves (a resize, copy-up of the tail)
            (Some(pi), Some(link))
                if link.spec.pool_id == pi.pool_id
                    && link.spec.pool_namespace == pi.pool_namespace
                    && link.spec.image_id == pi.image_id
                    && link.spec.snap_id == pi.snap_id =>
            {
                Some(ParentLink {
                    overlap: pi.overlap.min(info.size),
                    ..link
                })
            }
            _ => crate::parent::open_for(&self.io, &info).await?,
        };
        debug!(
            size = info.size,
            overlap = parent.as_ref().map(|p| p.overlap),
            seq = info.snap_context.seq.0,
            "header refreshed"
        );
        {
            let mut c = self.cache();
            self.size.store(info.size, Ordering::Release);
            c.info = info.clone();
            c.parent = parent.clone();
        }
        self.refreshed.store(target, Ordering::Release);
        Ok((info, parent))
    }

    /// The lock was just taken: PostAcquireRequest refreshes the image (another client
    /// may have resized it while it held the lock), and the object map is sized to the
    /// objects of now. `fallback` when the image is gone.
    pub(crate) async fn after_acquire(state: &Weak<HeaderState>, fallback: u64) -> Result<u64> {
        let Some(state) = state.upgrade() else {
            return Ok(fallback);
        };
        state.mark_stale();
        state.refresh_if_required().await?;
        Ok(state.num_objs())
    }

    /// A header watch saw HEADER_UPDATE: marks the state stale and reads the header before
    /// the notify is acknowledged, so that when the notifier's call returns (librbd waits
    /// for the acknowledgements) `Image::size` and `Image::info` already say what it did.
    /// A read that fails or takes too long is left to the next I/O.
    pub(crate) async fn header_updated(&self) {
        self.mark_stale();
        match tokio::time::timeout(EAGER_REFRESH_LIMIT, self.refresh_if_required()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!(error = %e, "refresh after HEADER_UPDATE failed"),
            Err(_) => debug!("refresh after HEADER_UPDATE is slow; left to the next I/O"),
        }
    }
}

impl Image {
    /// Reads the header again when another client changed it since the last read (the
    /// head only: a snapshot does not change).
    pub(crate) async fn refresh_if_required(&self) -> Result<()> {
        if self.snap_id.is_some() {
            return Ok(());
        }
        self.state.refresh_if_required().await
    }

    /// The size I/O is clipped to: the snapshot's, or the head's as last read.
    pub(crate) fn io_size(&self) -> u64 {
        match self.snap_id {
            Some(_) => self.info.size,
            None => self.state.size(),
        }
    }

    /// The parent link I/O reads through: the snapshot's, or the head's as last read
    /// (an image that was no clone at open never becomes one: no lock taken for it).
    pub(crate) fn parent_link(&self) -> Option<ParentLink> {
        match (self.snap_id, &self.parent) {
            (_, None) | (Some(_), _) => self.parent.clone(),
            (None, Some(_)) => self.state.parent(),
        }
    }
}

/// The header watch of a read-write open without the exclusive lock: acknowledges the
/// header's notifies, answers QUIESCE with the image's hooks and follows HEADER_UPDATE
/// (the lock's watch does all of it otherwise).
#[derive(Debug)]
pub(crate) struct HeaderWatch {
    stop: Mutex<Option<oneshot::Sender<oneshot::Sender<Watch>>>>,
}

impl HeaderWatch {
    /// Watches `header` for the image whose state is `state`.
    pub(crate) async fn start(
        io: IoCtx,
        header: String,
        state: Weak<HeaderState>,
    ) -> Result<Arc<HeaderWatch>> {
        let watch = io.watch(&header).await?;
        let (stop_tx, stop_rx) = oneshot::channel();
        debug!(header, cookie = watch.cookie(), "watching the header");
        tokio::spawn(watch_loop(io, header, watch, state, stop_rx));
        Ok(Arc::new(HeaderWatch {
            stop: Mutex::new(Some(stop_tx)),
        }))
    }

    /// Stops watching (image close).
    pub(crate) async fn shutdown(&self) {
        let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(stop) = stop else { return };
        unwatch_on_stop(stop).await;
    }
}

/// Answers the header's notifies (empty acknowledgements: we never own a lock here)
/// until the image is closed or dropped; watches again when the watch is lost.
async fn watch_loop(
    io: IoCtx,
    header: String,
    mut watch: Watch,
    state: Weak<HeaderState>,
    mut stop: StopRequest,
) {
    loop {
        let event = tokio::select! {
            reply = &mut stop => return hand_over(reply, watch),
            e = watch.next_event() => e,
        };
        let Some(event) = event else { return };
        let Some(st) = state.upgrade() else { return };
        match event {
            WatchEvent::Notify(n) => {
                if st.quiesce.answer(&io, &header, &watch, &n).await {
                    continue;
                }
                let action = on_notify(&n.payload, ClientId::default(), false);
                if action.header_update {
                    st.header_updated().await;
                }
                drop(st);
                if let Err(e) = watch.ack(&n, action.reply).await {
                    debug!(error = %e, "notify ack failed");
                }
            }
            WatchEvent::Error(errno) => {
                warn!(header, %errno, "header watch lost; watching again");
                // notifies may have been missed meanwhile
                st.mark_stale();
                drop(st);
                let wanted = || state.strong_count() > 0;
                let Some(new) = rewatch_unless_closed(&io, &header, watch, &mut stop, wanted).await
                else {
                    return;
                };
                watch = new;
                // notifies may have been missed while re-watching, too
                if let Some(st) = state.upgrade() {
                    st.mark_stale();
                }
            }
        }
    }
}
