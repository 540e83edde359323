//! [`Image`]: an open image: its header read at open (librbd/image/OpenRequest.cc,
//! RefreshRequest.cc), info, resize, metadata. Data I/O is in `io.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use denc::{SnapContext, UTime};
use rados::{Errno, IoCtx};
use tracing::debug;

use crate::cls::{self, Method, rbd as m};
use crate::error::{Error, Result};
use crate::exclusive_lock::{Access, ExclusiveLock};
use crate::features;
use crate::header_state::{HeaderState, HeaderWatch};
use crate::names;
use crate::pool::{metadata_get, metadata_list, metadata_remove, metadata_set};
use crate::striper::Layout;

/// How to open an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Reads only.
    ReadOnly,
    /// Reads and writes.
    ReadWrite,
}

/// What an image's header says (`rbd_stat` and the `rbd_get_*` getters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// Size in bytes.
    pub size: u64,
    /// Object size order.
    pub order: u8,
    /// Object size (`1 << order`).
    pub obj_size: u64,
    /// Objects the image spans (`Striper::get_num_objects`).
    pub num_objs: u64,
    /// Data object name prefix (`rbd_data.<id>`).
    pub block_name_prefix: String,
    /// Feature bits.
    pub features: u64,
    /// Feature bits a client must know to open it in the mode asked.
    pub incompatible_features: u64,
    /// Operation feature bits.
    pub op_features: u64,
    /// Flags (`RBD_FLAG_*`).
    pub flags: u64,
    /// Stripe unit.
    pub stripe_unit: u64,
    /// Stripe count.
    pub stripe_count: u64,
    /// The data pool's id (the image's own pool when it has none).
    pub data_pool_id: i64,
    /// Creation time.
    pub create_timestamp: UTime,
    /// Last access time (updated by librbd at most every `rbd_atime_update_interval`).
    pub access_timestamp: UTime,
    /// Last modification time.
    pub modify_timestamp: UTime,
    /// The snapshot context writes carry.
    pub snap_context: SnapContext,
    /// The parent (clones only).
    pub parent: Option<m::ParentInfo>,
}

impl ImageInfo {
    /// The striping layout.
    pub fn layout(&self) -> Layout {
        Layout {
            object_size: self.obj_size,
            stripe_unit: self.stripe_unit,
            stripe_count: self.stripe_count,
        }
    }
}

/// An open image. Data calls take `&self` and may run concurrently; `resize` and
/// `refresh` take `&mut self`.
///
/// Close it with [`Image::close`]: a read-write open watches the header (and may hold
/// the exclusive lock) until then. When the last clone of a handle is dropped instead,
/// its watch tasks end and send the unwatch (and the lock's release) from tasks spawned on
/// the tokio runtime; if that runtime stops first (a program returning right after the
/// drop), the OSD keeps the watch until `osd_client_watch_timeout` (30 s): meanwhile
/// `rbd rm` refuses the image ("image has watchers") and the next client to want the
/// lock has to break it.
#[derive(Debug, Clone)]
pub struct Image {
    pub(crate) io: IoCtx,
    /// Where data objects live, with the image's snap context set.
    pub(crate) data_io: IoCtx,
    pub(crate) info: ImageInfo,
    pub(crate) mode: OpenMode,
    /// The header watch and exclusive lock (read-write opens of images with the feature).
    pub(crate) lock: Option<Arc<ExclusiveLock>>,
    /// The snapshot this handle reads (`None`: the head); see `snapshot.rs`.
    pub(crate) snap_id: Option<u64>,
    /// The head's size, parent link and snap context, shared by the handle's clones and
    /// read again before the next I/O when the header changed (`header_state.rs`).
    pub(crate) state: Arc<HeaderState>,
    /// The header watch of a read-write open without the exclusive lock (the lock
    /// watches otherwise).
    pub(crate) watch: Option<Arc<HeaderWatch>>,
    /// Counts the handles of this open (the handle's clones share it); the watch tasks
    /// hold `state` for a moment while they answer a notify, so it cannot count them.
    pub(crate) handles: Arc<()>,
    /// The parent chain of a clone (at open or the last refresh).
    pub(crate) parent: Option<crate::parent::ParentLink>,
}

fn exec_reply(results: &rados::OpResults, i: usize) -> &[u8] {
    results
        .get(i)
        .and_then(|r| r.data())
        .map_or(&[], |b| &b[..])
}

impl Image {
    pub(crate) async fn open(io: IoCtx, name: String, id: String, mode: OpenMode) -> Result<Image> {
        let info = read_header(&io, name, id, mode).await?;
        let parent = crate::parent::open_for(&io, &info).await?;
        let mut data_io = if info.data_pool_id != io.pool_id() {
            io.rados()
                .ioctx_by_id(info.data_pool_id)
                .await?
                .with_namespace(io.namespace())
        } else {
            io.clone()
        };
        // util::create_ioctx: the data pool's handle tries through a full pool too
        data_io.set_pool_full_try(io.pool_full_try());
        let sc = &info.snap_context;
        data_io.set_write_snap_context(sc.seq, sc.snaps.clone())?;
        let state = HeaderState::new(io.clone(), mode, info.clone(), parent.clone());
        let weak = Arc::downgrade(&state);
        let lock = if mode == OpenMode::ReadWrite
            && info.features & features::EXCLUSIVE_LOCK != 0
            && info.features & features::WRITE_UNSUPPORTED == 0
        {
            Some(ExclusiveLock::start(io.clone(), &info.id, info.features, weak.clone()).await?)
        } else {
            None
        };
        // librbd watches the header of every open but read-only ones (OpenRequest
        // send_register_watch), to follow HEADER_UPDATE
        let watch = match (&lock, mode) {
            (None, OpenMode::ReadWrite) => {
                let header = names::header_object(&info.id);
                Some(HeaderWatch::start(io.clone(), header, weak).await?)
            }
            _ => None,
        };
        debug!(
            name = info.name,
            id = info.id,
            size = info.size,
            "opened image"
        );
        Ok(Image {
            io,
            data_io,
            info,
            mode,
            lock,
            snap_id: None,
            state,
            watch,
            handles: Arc::new(()),
            parent,
        })
    }

    /// Re-reads the header (after another client changed the image).
    pub async fn refresh(&mut self) -> Result<()> {
        let (info, parent) = self.state.refresh().await?;
        let sc = &info.snap_context;
        self.data_io
            .set_write_snap_context(sc.seq, sc.snaps.clone())?;
        self.parent = parent;
        self.info = info;
        if let Some(id) = self.snap_id {
            self.apply_snap(id).await?;
        }
        Ok(())
    }

    /// What the header says: for the head, as of the last HEADER_UPDATE another client
    /// sent (or the open, refresh, resize); for a snapshot, the snapshot's.
    pub fn info(&self) -> ImageInfo {
        match self.snap_id {
            Some(_) => self.info.clone(),
            None => self.state.info(),
        }
    }

    /// Size in bytes (the head's follows resizes by other clients, as `info`).
    pub fn size(&self) -> u64 {
        self.io_size()
    }

    /// The image's pool handle.
    pub fn ioctx(&self) -> &IoCtx {
        &self.io
    }

    /// The handle data objects are read and written through.
    pub fn data_ioctx(&self) -> &IoCtx {
        &self.data_io
    }

    /// The open mode.
    pub fn mode(&self) -> OpenMode {
        self.mode
    }

    /// Closes the image: the last handle of an image open read-write with the
    /// exclusive-lock feature releases the lock (telling the other clients) and stops
    /// watching the header. Nothing is cached. Dropping a handle instead releases the lock
    /// and the watch in the background (see [`Image`]).
    pub async fn close(self) -> Result<()> {
        // the last handle of this open (its clones share `handles`) releases the lock. The
        // lock state's own count is no guide: the header watch task holds it for a moment
        // while it answers a notify (our own HEADER_UPDATE after a snapshot, say), and a
        // close then skipped left the lock to a dead owner, which the next client had to
        // blocklist (30 s)
        let last = Arc::strong_count(&self.handles) == 1;
        if let Some(watch) = self.watch.filter(|_| last) {
            watch.shutdown().await;
        }
        match self.lock {
            Some(lock) if last => lock.shutdown().await,
            _ => Ok(()),
        }
    }

    /// Whether this client holds the image's exclusive lock now (`rbd_is_exclusive_lock_owner`).
    pub fn is_lock_owner(&self) -> bool {
        self.lock.as_ref().is_some_and(|l| l.is_owner())
    }

    /// Takes the exclusive lock now rather than at the first write (asking its owner for
    /// it, or breaking a dead owner's). It is still handed over when another client asks.
    /// Images without the feature, or open read-only, have no lock: an error.
    pub async fn acquire_lock(&self) -> Result<()> {
        self.write_access().await?;
        if self.lock.is_none() {
            return Err(Error::InvalidArgument("the image has no exclusive lock"));
        }
        Ok(())
    }

    /// Releases the exclusive lock if this client holds it (after in-flight writes); the
    /// next write takes it again.
    pub async fn release_lock(&self) -> Result<()> {
        match &self.lock {
            Some(l) => l.release().await,
            None => Ok(()),
        }
    }

    /// Access for a write: checks the mode and features, takes the exclusive lock when
    /// the image has one (`None` when it has none), and reads the header again when it
    /// changed (another client took the lock or said HEADER_UPDATE): data written after
    /// a snapshot must carry its snap context, and writes are clipped to the size of now.
    pub(crate) async fn write_access(&self) -> Result<Option<Access>> {
        self.check_writable()?;
        let access = match &self.lock {
            Some(l) => Some(l.write_access(self.state.num_objs()).await?),
            None => None,
        };
        self.refresh_if_required().await?;
        Ok(access)
    }

    /// Caches the snap context writes carry (after this handle changed it).
    pub(crate) fn store_snapc(&self, sc: SnapContext) {
        self.state.set_snapc(sc);
    }

    /// The cached snap context.
    pub(crate) fn current_snapc(&self) -> SnapContext {
        self.state.snapc()
    }

    /// The data handle with the current snap context, for writes.
    pub(crate) fn write_io(&self) -> IoCtx {
        let mut io = self.data_io.clone();
        let sc = self.current_snapc();
        if let Err(e) = io.set_write_snap_context(sc.seq, sc.snaps) {
            debug!(error = %e, "snap context refused; writing with the one at open");
        }
        io
    }

    /// Tells the image's other clients that the header changed (HEADER_UPDATE).
    pub(crate) async fn notify_header_update(&self) {
        let msg = crate::watch_notify::NotifyMessage::HeaderUpdate.to_bytes();
        if let Err(e) = self
            .io
            .notify(
                &self.header_object(),
                msg,
                std::time::Duration::from_secs(5),
            )
            .await
        {
            debug!(error = %e, "header update notify failed");
        }
    }

    pub(crate) fn header_object(&self) -> String {
        names::header_object(&self.info.id)
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        if self.snap_id.is_some() {
            return Err(Error::AtSnapshot);
        }
        let blocked = self.info.features & features::WRITE_UNSUPPORTED;
        if blocked != 0 {
            return Err(Error::Unsupported {
                features: blocked,
                what: "writing to images with them",
            });
        }
        self.check_readable()
    }

    pub(crate) fn check_readable(&self) -> Result<()> {
        let blocked = self.info.features & (features::MIGRATING | features::DIRTY_CACHE);
        if blocked != 0 {
            return Err(Error::Unsupported {
                features: blocked,
                what: "I/O to images with them",
            });
        }
        Ok(())
    }

    /// Changes the size (`rbd_resize2`). Shrinking needs `allow_shrink` and removes or
    /// truncates the objects past the new end first (librbd/operation/TrimRequest.cc).
    pub async fn resize(&mut self, size: u64, allow_shrink: bool) -> Result<()> {
        self.resize_with_progress(size, allow_shrink, |_, _| {})
            .await
    }

    /// [`Image::resize`] with `progress(done, total)` over the data objects a shrink
    /// trims (`rbd_resize_with_progress`); a resize that trims nothing reports nothing.
    pub async fn resize_with_progress(
        &mut self,
        size: u64,
        allow_shrink: bool,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<()> {
        self.check_writable()?;
        if size > crate::create::MAX_IMAGE_SIZE {
            return Err(Error::SizeTooLarge {
                size,
                max: crate::create::MAX_IMAGE_SIZE,
            });
        }
        self.refresh().await?;
        let old = self.info.size;
        if size < old && !allow_shrink {
            return Err(Error::ShrinkNotAllowed {
                from: old,
                to: size,
            });
        }
        if size == old {
            return Ok(());
        }
        let access = self.write_access().await?;
        let held = access.as_ref().and_then(|a| a.as_ref());
        let new_objs = self.info.layout().num_objects(size);
        // operation/ResizeRequest.cc: the map grows before the header, shrinks after the
        // data past the new end is gone
        if size > old {
            if let Some(h) = held {
                h.resize_map(&self.io, new_objs).await?;
            }
        } else {
            self.trim(size, old, held, &mut progress).await?;
            if let Some(h) = held {
                h.resize_map(&self.io, new_objs).await?;
            }
        }
        m::set_size(size)?
            .call(&self.io, &self.header_object())
            .await?;
        drop(access);
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// Removes the data of a removable image (see `pre_remove.rs`: no snapshots but
    /// unused trash-namespace ones, which go, no watchers, no group);
    /// `progress(done, total)` counts objects.
    pub(crate) async fn remove_checked_data(&self, progress: impl FnMut(u64, u64)) -> Result<()> {
        self.pre_remove().await?;
        // `rbd rm` goes through Trash::move, which disables mirroring before any data goes
        self.disable_mirroring_for_removal().await?;
        let n = self.info.layout().num_objects(self.info.size);
        // nobody else has the image open (no watchers), so the head's map, when the
        // feature is on and the map is flagged valid, says which objects exist
        let map = if self.info.features & features::OBJECT_MAP != 0 {
            self.valid_snap_object_map(m::NOSNAP).await?
        } else {
            None
        };
        self.remove_objects(n, map.as_ref(), progress).await
    }

    // ---- metadata ----

    /// Image metadata value of `key` (`rbd_metadata_get`).
    pub async fn metadata_get(&self, key: &str) -> Result<Bytes> {
        metadata_get(&self.io, &self.header_object(), key).await
    }

    /// Sets image metadata (`rbd_metadata_set`); a `conf_<option>` key must name an
    /// option images may override, with a value of its type (EINVAL otherwise, as librbd).
    pub async fn metadata_set(&self, key: &str, value: &[u8]) -> Result<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        if let Some(option) = config_option(key) {
            crate::config::validate(option, value, true)?;
        }
        metadata_set(&self.io, &self.header_object(), key, value).await
    }

    /// Removes image metadata (`rbd_metadata_remove`).
    pub async fn metadata_remove(&self, key: &str) -> Result<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        metadata_remove(&self.io, &self.header_object(), key).await
    }

    /// Every image metadata entry (`rbd_metadata_list`).
    pub async fn metadata_list(&self) -> Result<BTreeMap<String, Bytes>> {
        metadata_list(&self.io, &self.header_object()).await
    }
}

/// Reads the header in two compound reads: everything every image has, then the striping
/// (its method fails without the feature).
pub(crate) async fn read_header(
    io: &IoCtx,
    name: String,
    id: String,
    mode: OpenMode,
) -> Result<ImageInfo> {
    let header = names::header_object(&id);
    let calls: [Method; 12] = [
        m::get_size(m::NOSNAP)?,
        m::get_features(m::NOSNAP, mode == OpenMode::ReadOnly)?,
        m::get_object_prefix()?,
        m::get_data_pool()?,
        m::get_flags(m::NOSNAP)?,
        m::op_features_get()?,
        m::get_snapcontext()?,
        m::get_create_timestamp()?,
        m::get_access_timestamp()?,
        m::get_modify_timestamp()?,
        cls::parent::parent_get()?,
        cls::parent::parent_overlap_get(m::NOSNAP)?,
    ];
    let mut op = io.read_op(&header);
    for c in &calls {
        op = op.exec(cls::CLASS, c.name, &c.input);
    }
    let r = match op.submit().await {
        Ok(r) => r,
        Err(e) if e.is(Errno::ENOENT) => return Err(Error::ImageNotFound(name)),
        Err(e) => return Err(e.into()),
    };
    let (order, size) = m::decode_size(exec_reply(&r, 0))?;
    let (features, incompatible) = m::decode_features(exec_reply(&r, 1))?;
    if incompatible & !features::ALL != 0 {
        return Err(Error::UnknownFeatures(incompatible & !features::ALL));
    }
    if !(12..=25).contains(&order) {
        return Err(Error::BadOrder(order));
    }
    let block_name_prefix = m::decode_string("get_object_prefix", exec_reply(&r, 2))?;
    let data_pool = m::decode_data_pool(exec_reply(&r, 3))?;
    let flags = m::decode_u64("get_flags", exec_reply(&r, 4))?;
    let op_features = m::decode_u64("op_features_get", exec_reply(&r, 5))?;
    let snap_context = m::decode_snapcontext(exec_reply(&r, 6))?;
    let create_timestamp = m::decode_timestamp("get_create_timestamp", exec_reply(&r, 7))?;
    let access_timestamp = m::decode_timestamp("get_access_timestamp", exec_reply(&r, 8))?;
    let modify_timestamp = m::decode_timestamp("get_modify_timestamp", exec_reply(&r, 9))?;
    let parent = crate::parent::decode_head_parent(exec_reply(&r, 10), exec_reply(&r, 11))?;
    let obj_size = 1u64 << order;
    let (stripe_unit, stripe_count) = if features & features::STRIPINGV2 != 0 {
        let b = m::get_stripe_unit_count()?.call(io, &header).await?;
        let (su, sc) = m::decode_stripe_unit_count(&b)?;
        Layout::new(obj_size, su, sc)?;
        (su, sc)
    } else {
        (obj_size, 1)
    };
    let layout = Layout {
        object_size: obj_size,
        stripe_unit,
        stripe_count,
    };
    Ok(ImageInfo {
        name,
        id,
        size,
        order,
        obj_size,
        num_objs: layout.num_objects(size),
        block_name_prefix,
        features,
        incompatible_features: incompatible,
        op_features,
        flags,
        stripe_unit,
        stripe_count,
        data_pool_id: if data_pool >= 0 {
            data_pool
        } else {
            io.pool_id()
        },
        create_timestamp,
        access_timestamp,
        modify_timestamp,
        snap_context,
        parent,
    })
}

/// The option a `conf_<option>` metadata key overrides.
pub(crate) fn config_option(key: &str) -> Option<&str> {
    key.strip_prefix(crate::config::CONF_PREFIX)
        .filter(|o| !o.is_empty())
}
