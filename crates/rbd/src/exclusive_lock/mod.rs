//! The exclusive lock (librbd/ExclusiveLock.cc, ManagedLock.cc, managed_lock/*.cc,
//! exclusive_lock/*.cc, ImageWatcher.cc) of an image open read-write with the
//! `exclusive-lock` feature: the header is watched for the image's lifetime; the lock
//! (`lock` class, name `rbd_lock`, exclusive, tag `internal`, cookie `auto <watch
//! cookie>`) is taken before the first write and kept until another client asks for it
//! (REQUEST_LOCK), the image is closed, or the watch is lost. A client whose lock is
//! held by a live owner asks for it and waits for RELEASED_LOCK; a dead owner (its
//! watch gone) is blocklisted and its lock broken, as BreakRequest.cc does.
//!
//! The lock state sits behind a read/write gate: writes hold the read side while in
//! flight, so a release (write side) starts only after them, and no write runs while the
//! lock is not ours.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use denc::EntityName;
use rados::cls::lock::LockType;
use rados::{Errno, IoCtx, Watch, WatchEvent};
use tokio::sync::{Notify, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, oneshot};
use tracing::{debug, info, warn};

use crate::cls::rbd as m;
use crate::error::{Error, Result};
use crate::features::{self, flags};
use crate::header_state::HeaderState;
use crate::names;
use crate::object_map::{self as om, BitVector2, state};
use crate::watch_notify::{ClientId, NotifyMessage, OwnerReply, ResponseMessage, owner_reply};

mod owner;
mod rewatch;
pub use owner::{
    LOCK_NAME, LOCK_TAG, LockOwner, Locker, NotifyAction, decode_cookie, encode_cookie,
    legacy_addr, lock_owner, locker_alive, on_notify,
};
pub(crate) use rewatch::{StopRequest, hand_over, rewatch_unless_closed, unwatch_on_stop};

/// Notify timeout librbd uses on the header (`watcher::Notifier::NOTIFY_TIMEOUT`, 5 s).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a lock request is repeated while the owner does not release
/// (`client_notify_timeout`, 10 s).
const REQUEST_INTERVAL: Duration = Duration::from_secs(10);
/// How long between attempts to take the lock while waiting for its owner.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// How long a write waits for the lock before giving up (librbd waits without limit; a
/// dead owner's watch times out after `osd_client_watch_timeout`, 30 s by default).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(180);

/// The object map while we own the lock.
#[derive(Debug)]
pub(crate) struct MapState {
    pub(crate) oid: String,
    pub(crate) bits: BitVector2,
    /// The header's OBJECT_MAP_INVALID flag: kept up to date, never trusted for skips.
    pub(crate) invalid: bool,
}

/// What we hold while we own the lock.
#[derive(Debug)]
pub(crate) struct Held {
    cookie: String,
    /// The object map (images with the feature and a map small enough to keep).
    pub(crate) map: Option<tokio::sync::Mutex<MapState>>,
}

impl Held {
    /// Moves `objects` to state `new` in the object map (ObjectMap::aio_update), on disk
    /// first, for the objects whose state requires it; `current` limits the change to
    /// objects in that state. Nothing to do without an object map.
    pub(crate) async fn mark(
        &self,
        io: &IoCtx,
        objects: &[u64],
        new: u8,
        current: Option<u8>,
    ) -> Result<()> {
        let Some(map) = &self.map else {
            return Ok(());
        };
        let mut map = map.lock().await;
        for (start, end) in om::update_ranges(&map.bits, objects, new) {
            om::update(start, end, new, current)?
                .call(io, &map.oid)
                .await?;
            om::apply_update(&mut map.bits, start, end, new, current);
        }
        Ok(())
    }

    /// Whether `object` may exist: false only when a valid map says NONEXISTENT.
    pub(crate) async fn may_exist(&self, object: u64) -> bool {
        match &self.map {
            Some(map) => {
                let map = map.lock().await;
                map.invalid
                    || object >= map.bits.len()
                    || map.bits.get(object) != state::NONEXISTENT
            }
            None => true,
        }
    }

    /// Re-reads the head's object map from disk (after a snapshot changed it there).
    pub(crate) async fn reload_map(&self, io: &IoCtx) -> Result<()> {
        let Some(map) = &self.map else {
            return Ok(());
        };
        let mut map = map.lock().await;
        let b = om::load()?.call(io, &map.oid).await?;
        map.bits = om::decode_load(&b)?;
        Ok(())
    }

    /// Replaces the kept head map after a rebuild saved `bits` and cleared the invalid
    /// flags (RebuildObjectMapRequest).
    pub(crate) async fn replace_map(&self, bits: BitVector2) {
        if let Some(map) = &self.map {
            let mut map = map.lock().await;
            map.bits = bits;
            map.invalid = false;
        }
    }

    /// Flags the kept head map invalid in memory (the header flag is set by the caller).
    pub(crate) async fn mark_map_invalid(&self) {
        if let Some(map) = &self.map {
            map.lock().await.invalid = true;
        }
    }

    /// A copy of the kept head map.
    pub(crate) async fn map_copy(&self) -> Option<BitVector2> {
        match &self.map {
            Some(map) => Some(map.lock().await.bits.clone()),
            None => None,
        }
    }

    /// Whether this lock state keeps an object map.
    pub(crate) fn has_map(&self) -> bool {
        self.map.is_some()
    }

    /// Whether a valid object map is kept (its NONEXISTENT and EXISTS can be trusted).
    pub(crate) async fn map_valid(&self) -> bool {
        match &self.map {
            Some(map) => !map.lock().await.invalid,
            None => false,
        }
    }

    /// Resizes the object map to `num_objs` (new objects NONEXISTENT).
    pub(crate) async fn resize_map(&self, io: &IoCtx, num_objs: u64) -> Result<()> {
        let Some(map) = &self.map else {
            return Ok(());
        };
        let mut map = map.lock().await;
        om::resize(num_objs, state::NONEXISTENT)?
            .call(io, &map.oid)
            .await?;
        map.bits.resize(num_objs);
        Ok(())
    }
}

/// Permission to do I/O: while a write holds one, the lock stays ours.
pub(crate) type Access = OwnedRwLockReadGuard<Option<Held>>;

/// The lock held with no I/O in flight (snapshot create, rollback: librbd blocks writes).
pub(crate) type ExclusiveAccess = OwnedRwLockWriteGuard<Option<Held>>;

/// The exclusive lock of one open image (shared by its clones).
pub(crate) struct ExclusiveLock {
    io: IoCtx,
    header: String,
    image_id: String,
    /// The image's features (changed by `rbd feature enable|disable` on this handle).
    features: AtomicU64,
    me: Mutex<ClientId>,
    owned: AtomicBool,
    /// `lock_acquire` was called: librbd's StandardPolicy (keep the lock when asked, no
    /// automatic acquisition by writes) instead of the AutomaticPolicy.
    keep: AtomicBool,
    gate: Arc<RwLock<Option<Held>>>,
    peer_released: Notify,
    /// The image's header state, marked stale on every HEADER_UPDATE, lock acquisition
    /// and lost watch (and read again on acquisition, as PostAcquireRequest refreshes).
    state: Weak<HeaderState>,
    stop: Mutex<Option<oneshot::Sender<oneshot::Sender<Watch>>>>,
    /// The application's quiesce hooks, answering QUIESCE / UNQUIESCE.
    quiesce: Arc<crate::quiesce::QuiesceWatchers>,
}

impl std::fmt::Debug for ExclusiveLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExclusiveLock")
            .field("header", &self.header)
            .field("me", &self.client_id())
            .field("owned", &self.owned.load(Ordering::Relaxed))
            .finish()
    }
}

fn lock_poisoned<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ExclusiveLock {
    /// Watches the header and starts answering its notifies.
    pub(crate) async fn start(
        io: IoCtx,
        image_id: &str,
        features: u64,
        state: Weak<HeaderState>,
    ) -> Result<Arc<ExclusiveLock>> {
        let header = names::header_object(image_id);
        let watch = io.watch(&header).await?;
        let me = ClientId {
            gid: io.rados().global_id(),
            handle: watch.cookie(),
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        // the hooks belong to the open image (they outlive a lock turned off and on)
        let quiesce = state
            .upgrade()
            .map(|s| Arc::clone(&s.quiesce))
            .unwrap_or_default();
        let lock = Arc::new(ExclusiveLock {
            io,
            header,
            image_id: image_id.to_owned(),
            features: AtomicU64::new(features),
            me: Mutex::new(me),
            owned: AtomicBool::new(false),
            keep: AtomicBool::new(false),
            gate: Arc::new(RwLock::new(None)),
            peer_released: Notify::new(),
            state,
            stop: Mutex::new(Some(stop_tx)),
            quiesce,
        });
        tokio::spawn(watch_loop(Arc::downgrade(&lock), watch, stop_rx));
        debug!(header = lock.header, ?me, "watching the header");
        Ok(lock)
    }

    /// Our client id (global id, header watch cookie).
    pub(crate) fn client_id(&self) -> ClientId {
        *lock_poisoned(&self.me)
    }

    /// The image features the lock state follows.
    pub(crate) fn features(&self) -> u64 {
        self.features.load(Ordering::Acquire)
    }

    /// After a feature update under exclusive access (`held`): follow the new features,
    /// closing the object map we kept (unlocking its object) and opening it again when
    /// the image still has one (librbd's refresh after `update_features`).
    pub(crate) async fn features_changed(
        &self,
        held: &mut Held,
        features: u64,
        num_objs: u64,
    ) -> Result<()> {
        self.features.store(features, Ordering::Release);
        if let Some(map) = held.map.take() {
            let oid = map.into_inner().oid;
            match self.io.unlock(&oid, LOCK_NAME, "").await {
                Ok(()) => {}
                Err(e) if e.is(Errno::ENOENT) => {}
                Err(e) => debug!(error = %e, "object map unlock failed"),
            }
        }
        held.map = self.open_object_map(num_objs).await?;
        Ok(())
    }

    /// Re-reads the header's features after taking the lock: another client may have
    /// turned object-map on or off meanwhile (it took the lock from us to do it), and
    /// librbd refreshes the image at this point too. Kept as they were if the read fails.
    async fn reread_features(&self) {
        let read = async {
            let b = m::get_features(m::NOSNAP, false)?
                .call(&self.io, &self.header)
                .await?;
            m::decode_features(&b)
        };
        match read.await {
            Ok((f, _)) => self.features.store(f, Ordering::Release),
            Err(e) => debug!(error = %e, "re-reading the features failed"),
        }
    }

    /// Whether we hold the lock now.
    pub(crate) fn is_owner(&self) -> bool {
        self.owned.load(Ordering::Acquire)
    }

    /// The header may have changed: the image reads it again before its next I/O.
    fn header_changed(&self) {
        if let Some(state) = self.state.upgrade() {
            state.mark_stale();
        }
    }

    /// The lock with all I/O stopped: takes the lock first when we do not hold it.
    pub(crate) async fn exclusive_access(&self, num_objs: u64) -> Result<ExclusiveAccess> {
        let mut w = self.gate.clone().write_owned().await;
        if w.is_none() {
            let held = self.acquire(num_objs).await?;
            *w = Some(held);
            self.owned.store(true, Ordering::Release);
        }
        Ok(w)
    }

    /// Switches to librbd's StandardPolicy for good (`rbd_lock_acquire`): requests for
    /// the lock are refused (-EROFS) and writes no longer take it on their own.
    pub(crate) fn keep_lock(&self) {
        self.keep.store(true, Ordering::Release);
    }

    /// Whether [`Self::keep_lock`] was called.
    pub(crate) fn keeps_lock(&self) -> bool {
        self.keep.load(Ordering::Acquire)
    }

    /// Takes the lock now (`rbd_lock_acquire`), whatever the policy.
    pub(crate) async fn acquire_now(&self, num_objs: u64) -> Result<()> {
        self.write_access_with(num_objs, true).await.map(drop)
    }

    /// Read access without taking the lock: `Some` if we hold it and no release is under
    /// way (then the object map can be trusted for skips).
    pub(crate) fn try_read_access(&self) -> Option<Access> {
        let g = self.gate.clone().try_read_owned().ok()?;
        g.is_some().then_some(g)
    }

    /// Access for a write: takes the lock first when we do not hold it. `num_objs` sizes
    /// the object map.
    pub(crate) async fn write_access(&self, num_objs: u64) -> Result<Access> {
        self.write_access_with(num_objs, false).await
    }

    async fn write_access_with(&self, num_objs: u64, explicit: bool) -> Result<Access> {
        loop {
            let g = self.gate.clone().read_owned().await;
            if g.is_some() {
                return Ok(g);
            }
            drop(g);
            if !explicit && self.keeps_lock() {
                // StandardPolicy: librbd fails the write with -EROFS
                return Err(Error::LockNotOwned);
            }
            let mut w = self.gate.clone().write_owned().await;
            if w.is_none() {
                let held = self.acquire(num_objs).await?;
                *w = Some(held);
                self.owned.store(true, Ordering::Release);
            }
            let g = w.downgrade();
            if g.is_some() {
                return Ok(g);
            }
        }
    }

    /// Releases the lock if we hold it (after in-flight writes), telling the others.
    pub(crate) async fn release(&self) -> Result<()> {
        let mut w = self.gate.clone().write_owned().await;
        if let Some(held) = w.take() {
            self.owned.store(false, Ordering::Release);
            self.release_held(held).await?;
        }
        Ok(())
    }

    /// Releases the lock and stops watching (image close).
    pub(crate) async fn shutdown(&self) -> Result<()> {
        let released = self.release().await;
        let stop = lock_poisoned(&self.stop).take();
        if let Some(stop) = stop {
            unwatch_on_stop(stop).await;
        }
        released
    }

    async fn release_held(&self, held: Held) -> Result<()> {
        if let Some(map) = held.map {
            let map = map.into_inner();
            if let Err(e) = self.io.unlock(&map.oid, LOCK_NAME, "").await {
                debug!(error = %e, "object map unlock failed");
            }
        }
        let unlocked = match self.io.unlock(&self.header, LOCK_NAME, &held.cookie).await {
            Ok(()) => Ok(()),
            Err(e) if e.is(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::from(e)),
        };
        info!(header = self.header, "released the exclusive lock");
        self.notify(NotifyMessage::ReleasedLock(self.client_id()))
            .await;
        unlocked
    }

    /// Sends a notify on the header; the acknowledgements, or none on failure.
    async fn notify(&self, msg: NotifyMessage) -> Option<Vec<Bytes>> {
        match self
            .io
            .notify(&self.header, msg.to_bytes(), NOTIFY_TIMEOUT)
            .await
        {
            Ok(r) => Some(r.acks.into_iter().map(|a| a.reply).collect()),
            Err(e) => {
                debug!(error = %e, op = msg.op(), "header notify failed");
                None
            }
        }
    }

    /// Takes the lock (AcquireRequest, then PostAcquireRequest's object map open), asking
    /// a live owner for it or breaking a dead owner's; gives up with a timeout error after
    /// [`ACQUIRE_TIMEOUT`] whatever step waits (an unanswered op, the OSD map a blocklist
    /// waits for): the write that needs the lock fails instead of hanging. A step cut
    /// short leaves nothing the next attempt trips on (a lock that did get taken comes
    /// back as EEXIST, which counts as taken).
    async fn acquire(&self, num_objs: u64) -> Result<Held> {
        match tokio::time::timeout(ACQUIRE_TIMEOUT, self.try_acquire(num_objs)).await {
            Ok(r) => r,
            Err(_) => Err(rados::Error::Timeout {
                operation: "taking the exclusive lock",
                after: ACQUIRE_TIMEOUT,
            }
            .into()),
        }
    }

    async fn try_acquire(&self, num_objs: u64) -> Result<Held> {
        let deadline = Instant::now() + ACQUIRE_TIMEOUT;
        let mut last_request: Option<Instant> = None;
        loop {
            let me = self.client_id();
            let cookie = encode_cookie(me.handle);
            let r = self
                .io
                .lock(
                    &self.header,
                    LOCK_NAME,
                    LockType::Exclusive,
                    &cookie,
                    LOCK_TAG,
                    "",
                    None,
                    0,
                )
                .await;
            match r {
                Ok(()) => {}
                Err(e) if e.is(Errno::EEXIST) => {}
                Err(e) if e.is(Errno::EBUSY) => {
                    if Instant::now() >= deadline {
                        return Err(Error::LockBusy("timed out waiting for the lock owner"));
                    }
                    let waiter = self.peer_released.notified();
                    tokio::pin!(waiter);
                    waiter.as_mut().enable();
                    if self.handle_busy(&mut last_request).await? {
                        // broke a dead owner's lock: try again at once
                        continue;
                    }
                    let _ = tokio::time::timeout(RETRY_INTERVAL, waiter).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            info!(header = self.header, cookie, "acquired the exclusive lock");
            self.reread_features().await;
            let num_objs = match HeaderState::after_acquire(&self.state, num_objs).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = self.io.unlock(&self.header, LOCK_NAME, &cookie).await;
                    return Err(e);
                }
            };
            let map = match self.open_object_map(num_objs).await {
                Ok(m) => m,
                Err(e) => {
                    let _ = self.io.unlock(&self.header, LOCK_NAME, &cookie).await;
                    return Err(e);
                }
            };
            self.notify(NotifyMessage::AcquiredLock(me)).await;
            return Ok(Held { cookie, map });
        }
    }

    /// The lock is busy: breaks it if its owner is dead (true), else asks the owner for it
    /// (at most every REQUEST_INTERVAL) and returns false.
    async fn handle_busy(&self, last_request: &mut Option<Instant>) -> Result<bool> {
        let info = match self.io.lock_info(&self.header, LOCK_NAME).await {
            Ok(i) => i,
            Err(e) if e.is(Errno::ENOENT) => return Ok(true),
            Err(e) => return Err(e.into()),
        };
        let locker = match lock_owner(&info) {
            LockOwner::None => return Ok(true),
            LockOwner::External(why) => return Err(Error::LockBusy(why)),
            LockOwner::Client(l) => l,
        };
        let me = self.client_id();
        let mine = locker.entity == EntityName::client(i64::try_from(me.gid).unwrap_or(i64::MAX));
        let watchers = self.io.list_watchers(&self.header).await?;
        if !locker_alive(&locker, &watchers) {
            self.break_lock(&locker, mine).await?;
            return Ok(true);
        }
        if mine && locker.handle == me.handle {
            // ours already (EEXIST would have said so): nothing to ask
            return Ok(true);
        }
        if last_request.is_some_and(|t| t.elapsed() < REQUEST_INTERVAL) {
            return Ok(false);
        }
        *last_request = Some(Instant::now());
        debug!(owner = ?locker.entity, "requesting the lock from its owner");
        let acks = self
            .notify(NotifyMessage::RequestLock {
                client: me,
                force: false,
            })
            .await
            .unwrap_or_default();
        match owner_reply(acks.iter().map(|b| &b[..])) {
            // ImageWatcher::handle_request_lock: -EROFS means the owner keeps it
            OwnerReply::Result(r) if r == Errno::EROFS.as_result() => Err(Error::LockBusy(
                "the lock owner refuses to release the lock",
            )),
            // no answer: the owner may be dying; the next round re-checks its watch
            OwnerReply::NoOwner => {
                *last_request = None;
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// BreakRequest: blocklists the dead owner (unless `rbd_blocklist_on_break_lock` is
    /// off, or it is this client's own stale lock), waits for the OSD map saying so, then
    /// breaks its lock.
    async fn break_lock(&self, locker: &Locker, mine: bool) -> Result<()> {
        break_locker(&self.io, &self.header, locker, !mine).await
    }

    /// object_map/RefreshRequest for the head: lock the map object, load it, and repair
    /// (resize, flag invalid) what does not fit the image.
    async fn open_object_map(&self, num_objs: u64) -> Result<Option<tokio::sync::Mutex<MapState>>> {
        if self.features() & features::OBJECT_MAP == 0 {
            return Ok(None);
        }
        if num_objs > om::MAX_OBJECT_COUNT {
            self.invalidate().await?;
            return Ok(None);
        }
        let oid = names::object_map_object(&self.image_id);
        self.lock_map_object(&oid).await;
        let flags_now = m::decode_u64(
            "get_flags",
            &m::get_flags(m::NOSNAP)?
                .call(&self.io, &self.header)
                .await?,
        )?;
        let mut invalid = flags_now & flags::OBJECT_MAP_INVALID != 0;
        let loaded = match om::load()?.call(&self.io, &oid).await {
            Ok(b) => om::decode_load(&b).map_err(|e| (true, e)),
            Err(e) => Err((false, e)),
        };
        let bits = match loaded {
            Ok(bits) if bits.len() >= num_objs => bits,
            Ok(mut bits) => {
                warn!(oid, size = bits.len(), num_objs, "object map too small");
                om::resize(num_objs, state::NONEXISTENT)?
                    .call(&self.io, &oid)
                    .await?;
                bits.resize(num_objs);
                self.invalidate().await?;
                invalid = true;
                bits
            }
            Err((corrupt, e)) => {
                warn!(oid, error = %e, "object map could not be loaded; invalidating it");
                if corrupt {
                    self.io.truncate(&oid, 0).await?;
                }
                om::resize(num_objs, state::NONEXISTENT)?
                    .call(&self.io, &oid)
                    .await?;
                self.invalidate().await?;
                invalid = true;
                BitVector2::new(num_objs)
            }
        };
        Ok(Some(tokio::sync::Mutex::new(MapState {
            oid,
            bits,
            invalid,
        })))
    }

    /// object_map/LockRequest: lock the map object, breaking stale holders once.
    async fn lock_map_object(&self, oid: &str) {
        for attempt in 0..2 {
            let r = self
                .io
                .lock(oid, LOCK_NAME, LockType::Exclusive, "", "", "", None, 0)
                .await;
            match r {
                Ok(()) => return,
                Err(e) if e.is(Errno::EEXIST) => return,
                Err(e) if e.is(Errno::EBUSY) && attempt == 0 => {
                    if let Ok(info) = self.io.lock_info(oid, LOCK_NAME).await {
                        for id in info.lockers.keys() {
                            let _ = self
                                .io
                                .break_lock(oid, LOCK_NAME, id.locker, &id.cookie)
                                .await;
                        }
                    }
                }
                Err(e) => {
                    // librbd logs this and goes on
                    warn!(oid, error = %e, "failed to lock the object map");
                    return;
                }
            }
        }
    }

    /// object_map/InvalidateRequest: flag the head's map (and fast-diff) invalid.
    pub(crate) async fn invalidate(&self) -> Result<()> {
        let mut f = flags::OBJECT_MAP_INVALID;
        if self.features() & features::FAST_DIFF != 0 {
            f |= flags::FAST_DIFF_INVALID;
        }
        warn!(header = self.header, "flagging the object map invalid");
        m::set_flags(m::NOSNAP, f, f)?
            .call(&self.io, &self.header)
            .await
            .map(|_| ())
    }

    /// The header is watched again as `new_handle`: our client id names the new watch
    /// from now on (locks taken from here carry its cookie), the header may have changed
    /// meanwhile, and a lock still held under the lost watch's cookie is given up in a
    /// task of its own: the release waits for in-flight writes and notifies RELEASED_LOCK,
    /// which waits for every watcher's acknowledgement, ours included, so the watch loop
    /// must go on answering meanwhile (awaited there, each lost watch cost the notify
    /// timeout, and an acquisition under way another one).
    fn rewatched(self: &Arc<Self>, new_handle: u64) {
        lock_poisoned(&self.me).handle = new_handle;
        self.header_changed();
        let me = Arc::clone(self);
        tokio::spawn(async move { me.forget_stale_lock().await });
    }

    /// Gives up the lock if we hold it under a cookie that no longer names our watch.
    async fn forget_stale_lock(&self) {
        let mut w = self.gate.clone().write_owned().await;
        let current = encode_cookie(self.client_id().handle);
        if w.as_ref().is_none_or(|held| held.cookie == current) {
            return;
        }
        if let Some(held) = w.take() {
            self.owned.store(false, Ordering::Release);
            warn!(
                header = self.header,
                "header watch lost: giving up the exclusive lock"
            );
            let _ = self.release_held(held).await;
        }
    }
}

impl Drop for ExclusiveLock {
    fn drop(&mut self) {
        // dropped without close: release in the background when a runtime is at hand
        let held = self.gate.try_write().ok().and_then(|mut g| g.take());
        let Some(held) = held else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let io = self.io.clone();
        let header = self.header.clone();
        let me = self.client_id();
        rt.spawn(async move {
            if let Some(map) = held.map {
                let _ = io.unlock(&map.into_inner().oid, LOCK_NAME, "").await;
            }
            let _ = io.unlock(&header, LOCK_NAME, &held.cookie).await;
            let _ = io
                .notify(
                    &header,
                    NotifyMessage::ReleasedLock(me).to_bytes(),
                    NOTIFY_TIMEOUT,
                )
                .await;
        });
    }
}

/// BreakRequest.cc: blocklists the locker (when `may_blocklist` and
/// `rbd_blocklist_on_break_lock` allow), waits for the OSD map saying so, then breaks its
/// hold of `rbd_lock` on `header` (already gone is fine).
pub(crate) async fn break_locker(
    io: &IoCtx,
    header: &str,
    locker: &Locker,
    may_blocklist: bool,
) -> Result<()> {
    let rados = io.rados();
    let blocklist = may_blocklist && config_bool(rados, "rbd_blocklist_on_break_lock", true);
    if blocklist {
        let expire = config_u64(rados, "rbd_blocklist_expire_seconds", 0);
        let mut cmd = format!(
            r#"{{"prefix": "osd blocklist", "blocklistop": "add", "addr": "{}""#,
            legacy_addr(&locker.addr)
        );
        if expire != 0 {
            cmd.push_str(&format!(r#", "expire": {expire}.0"#));
        }
        cmd.push('}');
        warn!(addr = %locker.addr, owner = ?locker.entity, "blocklisting the dead lock owner");
        rados.mon_command(&cmd, Bytes::new()).await?;
        let v = rados.get_version("osdmap").await?;
        let epoch = u32::try_from(v.newest).unwrap_or(u32::MAX);
        rados.wait_for_osdmap(epoch).await?;
    }
    match io
        .break_lock(header, LOCK_NAME, locker.entity, &locker.cookie)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn config_value(rados: &rados::Rados, key: &str) -> Option<String> {
    rados
        .config()
        .get(key)
        .map(str::to_owned)
        .or_else(|| rados.mon_config().get(key).cloned())
}

fn config_bool(rados: &rados::Rados, key: &str, default: bool) -> bool {
    match config_value(rados, key).as_deref().map(str::trim) {
        Some("true" | "1" | "yes" | "on") => true,
        Some("false" | "0" | "no" | "off") => false,
        _ => default,
    }
}

fn config_u64(rados: &rados::Rados, key: &str, default: u64) -> u64 {
    config_value(rados, key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Answers the header's notifies until the image goes away; re-watches when the watch is
/// lost (giving up the lock, whose cookie named the lost watch). Every wait in it ends:
/// the stop request is heard while re-watching too.
async fn watch_loop(lock: Weak<ExclusiveLock>, mut watch: Watch, mut stop: StopRequest) {
    loop {
        let event = tokio::select! {
            reply = &mut stop => return hand_over(reply, watch),
            e = watch.next_event() => e,
        };
        let Some(event) = event else { return };
        let Some(me) = lock.upgrade() else { return };
        match event {
            WatchEvent::Notify(n) => {
                if me.quiesce.answer(&me.io, &me.header, &watch, &n).await {
                    continue;
                }
                let mut action = on_notify(&n.payload, me.client_id(), me.is_owner());
                if action.release && me.keeps_lock() {
                    // StandardPolicy::lock_requested: the owner keeps the lock
                    action.release = false;
                    action.reply = ResponseMessage {
                        result: Errno::EROFS.as_result(),
                    }
                    .to_bytes();
                }
                if action.peer_released {
                    me.peer_released.notify_waiters();
                }
                if action.header_update {
                    // read before the acknowledgement: see HeaderState::header_updated
                    if let Some(state) = me.state.upgrade() {
                        state.header_updated().await;
                    }
                }
                if let Err(e) = watch.ack(&n, action.reply).await {
                    debug!(error = %e, "notify ack failed");
                }
                if action.release {
                    let me2 = Arc::clone(&me);
                    tokio::spawn(async move {
                        if let Err(e) = me2.release().await {
                            warn!(error = %e, "releasing the lock on request failed");
                        }
                    });
                }
            }
            WatchEvent::Error(errno) => {
                warn!(header = me.header, %errno, "header watch lost; watching again");
                // notifies may have been missed meanwhile
                me.header_changed();
                let header = me.header.clone();
                let io = me.io.clone();
                drop(me);
                let wanted = || lock.strong_count() > 0;
                let Some(new) = rewatch_unless_closed(&io, &header, watch, &mut stop, wanted).await
                else {
                    return;
                };
                let Some(me) = lock.upgrade() else { return };
                let handle = new.cookie();
                watch = new;
                me.rewatched(handle);
            }
        }
    }
}
