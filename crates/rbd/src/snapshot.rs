//! Snapshots of an open image, as librbd takes them (librbd/operation/Snapshot*Request.cc,
//! object_map/Snapshot*Request.cc, api/Snapshot.cc): self-managed snapshot ids from the
//! data pool, recorded in the header by the `rbd` class, a copy of the object map per
//! snapshot, the snap context writes carry afterwards, rollback by the OSDs' ROLLBACK.
//!
//! Locking follows librbd's `Operations`: creating a snapshot, rolling back, changing the
//! limit, and removing a snapshot of an image with fast-diff need the exclusive lock (we
//! ask its owner for it, as librbd does once the owner answers EOPNOTSUPP to a forwarded
//! request); renaming, protecting and unprotecting are done without it. Writes are
//! stopped while a snapshot is taken or rolled back.

use denc::{SnapId, UTime};
use rados::{Errno, IoCtx};
use tracing::{debug, info};

use crate::cls::rbd as m;
use crate::cls::snap::{self as s, SnapshotInfo, SnapshotNamespace, protection};
use crate::cls::{self, Method};
use crate::error::{Error, Result};
use crate::exclusive_lock::{ExclusiveAccess, Held};
use crate::features::{self, flags};
use crate::image::Image;
use crate::names;
use crate::object_map::{self as om, BitVector2, state};

/// The pool's v1 clone index (`RBD_CHILDREN`).
const CHILDREN_OBJECT: &str = "rbd_children";

/// How many snapshots one compound read asks about.
const SNAPS_PER_READ: usize = 32;

/// One snapshot, as `rbd_snap_list` and its getters describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapInfo {
    /// Snapshot id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Image size when taken.
    pub size: u64,
    /// Namespace (user snapshots are [`SnapshotNamespace::User`]).
    pub namespace: SnapshotNamespace,
    /// When taken.
    pub timestamp: UTime,
    /// `RBD_PROTECTION_STATUS_*` ([`protection`]).
    pub protection_status: u8,
    /// Clone-v2 children attached.
    pub child_count: u32,
}

impl SnapInfo {
    /// Protected (or being unprotected), as `rbd_snap_is_protected` says.
    pub fn is_protected(&self) -> bool {
        self.protection_status != protection::UNPROTECTED
    }
}

/// Flags of [`Image::remove_snap2`] (`RBD_SNAP_REMOVE_*`).
pub mod remove_flags {
    /// Unprotect a protected snapshot first.
    pub const UNPROTECT: u32 = 1 << 0;
    /// Flatten children first (not supported here: clones are a later piece).
    pub const FLATTEN: u32 = 1 << 1;
    /// Both.
    pub const FORCE: u32 = UNPROTECT | FLATTEN;
}

/// The name of snapshot `snap`'s object map object (`ObjectMap::object_map_name`: the
/// head's name, a dot, the id in 16 hex digits).
pub fn snap_object_map_object(image_id: &str, snap: u64) -> String {
    if snap == m::NOSNAP {
        names::object_map_object(image_id)
    } else {
        format!("{}.{snap:016x}", names::object_map_object(image_id))
    }
}

fn map_errno(e: Error, what: &str) -> Error {
    if e.is(Errno::ENOENT) {
        Error::SnapshotNotFound(what.to_owned())
    } else {
        e
    }
}

impl Image {
    /// The snapshot this handle reads, `None` at the head.
    pub fn snap_id_open(&self) -> Option<u64> {
        self.snap_id
    }

    /// Every snapshot of the image (all namespaces), oldest first (`rbd_snap_list` with
    /// `rbd_snap_get_namespace_type`, `_timestamp`, `_is_protected`).
    pub async fn snap_list(&self) -> Result<Vec<SnapInfo>> {
        let header = self.header_object();
        let b = m::get_snapcontext()?.call(&self.io, &header).await?;
        let mut ids: Vec<u64> = m::decode_snapcontext(&b)?
            .snaps
            .iter()
            .map(|s| s.0)
            .collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(SNAPS_PER_READ) {
            let mut op = self.io.read_op(&header);
            let mut calls: Vec<Method> = Vec::with_capacity(chunk.len() * 2);
            for &id in chunk {
                calls.push(s::snapshot_get(id)?);
                calls.push(s::get_protection_status(id)?);
            }
            for c in &calls {
                op = op.exec(cls::CLASS, c.name, &c.input);
            }
            let r = match op.submit().await {
                Ok(r) => r,
                // a snapshot removed meanwhile: read them one by one
                Err(e) if e.is(Errno::ENOENT) => {
                    for &id in chunk {
                        match self.snap_info_by_id(id).await {
                            Ok(i) => out.push(i),
                            Err(Error::SnapshotNotFound(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for i in 0..chunk.len() {
                let reply = |k: usize| r.get(k).and_then(|x| x.data()).map_or(&[][..], |b| &b[..]);
                let info = s::decode_snapshot_info(reply(2 * i))?;
                let status = s::decode_protection_status(reply(2 * i + 1))?;
                out.push(snap_info(info, status));
            }
        }
        Ok(out)
    }

    /// Snapshot `id`'s description.
    pub async fn snap_info_by_id(&self, id: u64) -> Result<SnapInfo> {
        let header = self.header_object();
        let (a, b) = (s::snapshot_get(id)?, s::get_protection_status(id)?);
        let r = self
            .io
            .read_op(&header)
            .exec(cls::CLASS, a.name, &a.input)
            .exec(cls::CLASS, b.name, &b.input)
            .submit()
            .await
            .map_err(|e| map_errno(e.into(), &format!("with id {id}")))?;
        let reply = |k: usize| r.get(k).and_then(|x| x.data()).map_or(&[][..], |b| &b[..]);
        Ok(snap_info(
            s::decode_snapshot_info(reply(0))?,
            s::decode_protection_status(reply(1))?,
        ))
    }

    /// The user snapshot named `name`.
    pub async fn snap_info(&self, name: &str) -> Result<SnapInfo> {
        self.snap_list()
            .await?
            .into_iter()
            .find(|i| i.namespace == SnapshotNamespace::User && i.name == name)
            .ok_or_else(|| Error::SnapshotNotFound(name.to_owned()))
    }

    /// Whether user snapshot `name` exists (`rbd_snap_exists`).
    pub async fn snap_exists(&self, name: &str) -> Result<bool> {
        match self.snap_info(name).await {
            Ok(_) => Ok(true),
            Err(Error::SnapshotNotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The id of user snapshot `name` (`rbd_snap_get_id`).
    pub async fn snap_id(&self, name: &str) -> Result<u64> {
        Ok(self.snap_info(name).await?.id)
    }

    /// The name of snapshot `id` (`rbd_snap_get_name`).
    pub async fn snap_name(&self, id: u64) -> Result<String> {
        Ok(self.snap_info_by_id(id).await?.name)
    }

    /// When snapshot `id` was taken (`rbd_snap_get_timestamp`).
    pub async fn snap_timestamp(&self, id: u64) -> Result<UTime> {
        Ok(self.snap_info_by_id(id).await?.timestamp)
    }

    /// Whether user snapshot `name` is protected (`rbd_snap_is_protected`).
    pub async fn is_protected_snap(&self, name: &str) -> Result<bool> {
        Ok(self.snap_info(name).await?.is_protected())
    }

    /// The snapshot limit (`rbd_snap_get_limit`; `u64::MAX` when none).
    pub async fn snap_limit(&self) -> Result<u64> {
        let b = s::snapshot_get_limit()?
            .call(&self.io, &self.header_object())
            .await?;
        s::decode_limit(&b)
    }

    /// Sets the snapshot limit (`rbd_snap_set_limit`; under the exclusive lock).
    pub async fn set_snap_limit(&self, limit: u64) -> Result<()> {
        self.check_snap_op()?;
        let _guard = self.snap_lock().await?;
        s::snapshot_set_limit(limit)?
            .call(&self.io, &self.header_object())
            .await?;
        drop(_guard);
        self.notify_header_update().await;
        Ok(())
    }

    /// Removes the snapshot limit (`rbd_snap_set_limit(UINT64_MAX)`).
    pub async fn remove_snap_limit(&self) -> Result<()> {
        self.set_snap_limit(u64::MAX).await
    }

    /// Snapshot operations need a read-write handle at the head (EROFS otherwise).
    fn check_snap_op(&self) -> Result<()> {
        if self.mode == crate::OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        if self.snap_id.is_some() {
            return Err(Error::AtSnapshot);
        }
        Ok(())
    }

    /// The exclusive lock with writes stopped (`None` for images without the feature).
    pub(crate) async fn snap_lock(&self) -> Result<Option<ExclusiveAccess>> {
        match &self.lock {
            Some(l) => {
                let g = l.exclusive_access(self.state.num_objs()).await?;
                self.refresh_if_required().await?;
                Ok(Some(g))
            }
            None => Ok(None),
        }
    }

    fn data_pool_io(&self) -> &IoCtx {
        &self.data_io
    }

    /// Takes user snapshot `name` (`rbd_snap_create`; SnapshotCreateRequest): returns its
    /// id. Writes issued after it returns do not change what the snapshot reads. The
    /// image's clients are quiesced first as the client's
    /// `rbd_default_snapshot_quiesce_mode` says (see [`Image::create_snap2`]).
    pub async fn create_snap(&self, name: &str) -> Result<u64> {
        let flags = crate::quiesce::default_flags(self.io.rados());
        self.create_snap2(name, flags).await
    }

    /// Takes user snapshot `name` with `RBD_SNAP_CREATE_*` flags (`rbd_snap_create2`,
    /// [`crate::snap_create_flags`]): unless skipped, QUIESCE is notified to the image's
    /// clients first (their failure is [`Error::QuiesceFailed`] unless ignored) and
    /// UNQUIESCE once the snapshot is taken or failed.
    pub async fn create_snap2(&self, name: &str, flags: u32) -> Result<u64> {
        self.create_snap_in(name, &SnapshotNamespace::User, flags)
            .await
    }

    /// Takes snapshot `name` in `namespace` (a group snapshot's member, for one).
    pub(crate) async fn create_snap_in(
        &self,
        name: &str,
        namespace: &SnapshotNamespace,
        flags: u32,
    ) -> Result<u64> {
        self.check_snap_op()?;
        if name.is_empty() {
            return Err(Error::InvalidArgument("empty snapshot name"));
        }
        // quiesced before writes are stopped: the clients' hooks may still flush
        let quiesce = self.quiesce_for_snap(flags).await?;
        let taken = self.take_snap(name, namespace).await;
        if let Some(q) = quiesce {
            q.unquiesce().await;
        }
        let id = taken?;
        info!(image = self.info.name, snap = name, id, "created snapshot");
        self.notify_header_update().await;
        Ok(id)
    }

    /// The snapshot itself, under the exclusive lock with writes stopped.
    async fn take_snap(&self, name: &str, namespace: &SnapshotNamespace) -> Result<u64> {
        let guard = self.snap_lock().await?;
        let held = guard.as_ref().and_then(|g| g.as_ref());
        let header = self.header_object();
        let id = loop {
            let id = self.data_pool_io().create_selfmanaged_snap().await?.0;
            let add = s::snapshot_add(id, name, namespace)?;
            match add.call(&self.io, &header).await {
                Ok(_) => break id,
                // another snapshot got a newer id first: allocate again
                Err(e) if e.is(Errno::ESTALE) => {
                    self.release_snap_id(id).await;
                }
                Err(e) => {
                    self.release_snap_id(id).await;
                    return Err(if e.is(Errno::EEXIST) {
                        Error::SnapshotExists(name.to_owned())
                    } else if e.errno() == -122 {
                        Error::SnapshotLimit
                    } else {
                        e
                    });
                }
            }
        };
        if let Some(h) = held.filter(|h| h.has_map()) {
            self.snapshot_object_map(h, id).await?;
        }
        // update_snap_context: the new id first, seq = the new id
        let mut sc = self.current_snapc();
        sc.snaps.insert(0, SnapId(id));
        sc.seq = SnapId(id.max(sc.seq.0));
        self.store_snapc(sc);
        drop(guard);
        Ok(id)
    }

    /// object_map/SnapshotCreateRequest: copy the head's map to the snapshot's object,
    /// then (fast-diff) mark the head's EXISTS objects EXISTS_CLEAN.
    async fn snapshot_object_map(&self, held: &Held, id: u64) -> Result<()> {
        let head = names::object_map_object(&self.info.id);
        let b = om::load()?.call(&self.io, &head).await?;
        let mut map = om::decode_load(&b)?;
        // `object_map_load` answers without the CRC footer; the snapshot's object needs
        // it, as librbd copies the head's object byte for byte (the class's partial
        // updates, `object_map_update` of a deep copyup, refuse a map without it)
        map.crc = true;
        let bytes = denc::encode_to_vec(&map).map_err(|e| Error::Rados(e.into()))?;
        self.io
            .write_full(&snap_object_map_object(&self.info.id, id), bytes)
            .await?;
        if self.info.features & features::FAST_DIFF != 0 {
            s::object_map_snap_add()?.call(&self.io, &head).await?;
        }
        held.reload_map(&self.io).await
    }

    async fn release_snap_id(&self, id: u64) {
        if let Err(e) = self
            .data_pool_io()
            .remove_selfmanaged_snap(SnapId(id))
            .await
        {
            debug!(error = %e, id, "releasing the snap id failed");
        }
    }

    /// Removes user snapshot `name` (`rbd_snap_remove`): EBUSY when protected.
    pub async fn remove_snap(&self, name: &str) -> Result<()> {
        self.remove_snap2(name, 0).await
    }

    /// Removes user snapshot `name` with `RBD_SNAP_REMOVE_*` flags
    /// ([`remove_flags`]): UNPROTECT unprotects it first (FLATTEN is refused: no clones
    /// here yet).
    pub async fn remove_snap2(&self, name: &str, flags: u32) -> Result<()> {
        self.check_snap_op()?;
        if flags & remove_flags::FLATTEN != 0 {
            return Err(Error::Unsupported {
                features: features::LAYERING,
                what: "flattening children (clones)",
            });
        }
        let info = self.snap_info(name).await?;
        if info.is_protected() {
            if flags & remove_flags::UNPROTECT == 0 {
                return Err(Error::SnapshotBusy(name.to_owned()));
            }
            self.unprotect_snap(name).await?;
        }
        self.remove_snap_id(info).await
    }

    /// Removes snapshot `id` in any namespace (`rbd_snap_remove_by_id`).
    pub async fn remove_snap_by_id(&self, id: u64) -> Result<()> {
        self.check_snap_op()?;
        let info = self.snap_info_by_id(id).await?;
        if info.is_protected() {
            return Err(Error::SnapshotBusy(info.name));
        }
        self.remove_snap_id(info).await
    }

    /// SnapshotRemoveRequest: to the trash namespace first; stop there while clones
    /// depend on it; else the object map, the snap id, the header record.
    pub(crate) async fn remove_snap_id(&self, info: SnapInfo) -> Result<()> {
        // librbd proxies removal to the lock owner only with fast-diff (or journaling)
        let guard = if self.info.features & features::FAST_DIFF != 0 {
            self.snap_lock().await?
        } else {
            None
        };
        let header = self.header_object();
        let id = info.id;
        let mut trashed = false;
        if !matches!(info.namespace, SnapshotNamespace::Trash { .. }) {
            match s::snapshot_trash_add(id)?.call(&self.io, &header).await {
                Ok(_) => trashed = true,
                Err(e) if e.is(Errno::EEXIST) => trashed = true,
                Err(e) if e.is(Errno::EOPNOTSUPP) => {}
                Err(e) => return Err(map_errno(e, &info.name)),
            }
        }
        let now = self.snap_info_by_id(id).await?;
        if now.child_count > 0 {
            return if trashed {
                self.notify_header_update().await;
                Ok(())
            } else {
                Err(Error::SnapshotBusy(info.name))
            };
        }
        // SnapshotRemoveRequest::remove_image_state: a mirror snapshot's image state
        if matches!(&info.namespace, SnapshotNamespace::Other { kind, .. }
            if *kind == crate::cls::snap::namespace_type::MIRROR)
        {
            self.remove_mirror_image_state(id).await?;
        }
        if self.info.features & features::OBJECT_MAP != 0 {
            let held = guard.as_ref().and_then(|g| g.as_ref());
            self.remove_snap_object_map(id, held).await?;
        }
        match self
            .data_pool_io()
            .remove_selfmanaged_snap(SnapId(id))
            .await
        {
            Ok(()) => {}
            Err(e) if e.is(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        match s::snapshot_remove(id)?.call(&self.io, &header).await {
            Ok(_) => {}
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        let mut sc = self.current_snapc();
        sc.snaps.retain(|s| s.0 != id);
        self.store_snapc(sc);
        drop(guard);
        info!(
            image = self.info.name,
            snap = info.name,
            id,
            "removed snapshot"
        );
        self.notify_header_update().await;
        Ok(())
    }

    /// Snapshot `id`'s object map, when it loads and the snapshot's flags do not say it is
    /// invalid (`None` otherwise: the caller treats the map as unknown).
    pub(crate) async fn valid_snap_object_map(&self, id: u64) -> Result<Option<BitVector2>> {
        let snap_flags = m::decode_u64(
            "get_flags",
            &m::get_flags(id)?
                .call(&self.io, &self.header_object())
                .await?,
        )?;
        if snap_flags & flags::OBJECT_MAP_INVALID != 0 {
            return Ok(None);
        }
        let oid = snap_object_map_object(&self.info.id, id);
        Ok(match om::load()?.call(&self.io, &oid).await {
            Ok(b) => om::decode_load(&b).ok(),
            Err(_) => None,
        })
    }

    /// object_map/SnapshotRemoveRequest: with fast-diff, fold the removed map into the
    /// next newer one (or flag that one invalid); then remove the snapshot's map object.
    async fn remove_snap_object_map(&self, id: u64, held: Option<&Held>) -> Result<()> {
        let oid = snap_object_map_object(&self.info.id, id);
        if self.info.features & features::FAST_DIFF != 0 {
            let ids = self.snap_ids().await?;
            let next = ids
                .iter()
                .copied()
                .filter(|&s| s > id)
                .min()
                .unwrap_or(m::NOSNAP);
            match self.valid_snap_object_map(id).await? {
                Some(map) => {
                    let next_oid = snap_object_map_object(&self.info.id, next);
                    s::object_map_snap_remove(&map)?
                        .call(&self.io, &next_oid)
                        .await?;
                    if next == m::NOSNAP {
                        if let Some(h) = held {
                            h.reload_map(&self.io).await?;
                        }
                    }
                }
                _ => {
                    let f = flags::OBJECT_MAP_INVALID | flags::FAST_DIFF_INVALID;
                    m::set_flags(next, f, f)?
                        .call(&self.io, &self.header_object())
                        .await?;
                }
            }
        }
        match self.io.remove(&oid).await {
            Ok(()) => Ok(()),
            Err(e) if e.is(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn snap_ids(&self) -> Result<Vec<u64>> {
        let b = m::get_snapcontext()?
            .call(&self.io, &self.header_object())
            .await?;
        Ok(m::decode_snapcontext(&b)?
            .snaps
            .iter()
            .map(|s| s.0)
            .collect())
    }

    /// Renames user snapshot `src` to `dst` (`rbd_snap_rename`).
    pub async fn rename_snap(&self, src: &str, dst: &str) -> Result<()> {
        self.check_snap_op()?;
        let info = self.snap_info(src).await?;
        if self.snap_exists(dst).await? {
            return Err(Error::SnapshotExists(dst.to_owned()));
        }
        match s::snapshot_rename(info.id, dst)?
            .call(&self.io, &self.header_object())
            .await
        {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => return Err(Error::SnapshotExists(dst.to_owned())),
            Err(e) => return Err(map_errno(e, src)),
        }
        self.notify_header_update().await;
        Ok(())
    }

    /// Protects user snapshot `name` (`rbd_snap_protect`): needs the layering feature
    /// (ENOSYS... as librbd: EINVAL here is `Unsupported`); EBUSY if already protected.
    pub async fn protect_snap(&self, name: &str) -> Result<()> {
        self.check_snap_op()?;
        if self.info.features & features::LAYERING == 0 {
            return Err(Error::InvalidArgument(
                "image must support layering to protect snapshots",
            ));
        }
        let info = self.snap_info(name).await?;
        if info.is_protected() {
            return Err(Error::SnapshotBusy(name.to_owned()));
        }
        s::set_protection_status(info.id, protection::PROTECTED)?
            .call(&self.io, &self.header_object())
            .await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// Unprotects user snapshot `name` (`rbd_snap_unprotect`; SnapshotUnprotectRequest):
    /// EINVAL if not protected, EBUSY while clones use it (v2 children counted in the
    /// header, v1 children listed in each pool's `rbd_children`).
    pub async fn unprotect_snap(&self, name: &str) -> Result<()> {
        self.check_snap_op()?;
        let info = self.snap_info(name).await?;
        if info.protection_status == protection::UNPROTECTED {
            return Err(Error::InvalidArgument("snapshot is already unprotected"));
        }
        let header = self.header_object();
        s::set_protection_status(info.id, protection::UNPROTECTING)?
            .call(&self.io, &header)
            .await?;
        let busy = match self.has_children(info.id).await {
            Ok(b) => b,
            Err(e) => {
                let _ = s::set_protection_status(info.id, protection::PROTECTED)?
                    .call(&self.io, &header)
                    .await;
                return Err(e);
            }
        };
        let status = if busy {
            protection::PROTECTED
        } else {
            protection::UNPROTECTED
        };
        s::set_protection_status(info.id, status)?
            .call(&self.io, &header)
            .await?;
        self.notify_header_update().await;
        if busy {
            return Err(Error::SnapshotBusy(name.to_owned()));
        }
        Ok(())
    }

    async fn has_children(&self, id: u64) -> Result<bool> {
        if self.snap_info_by_id(id).await?.child_count > 0 {
            return Ok(true);
        }
        let rados = self.io.rados();
        for (pool, _) in rados.pool_list() {
            let Ok(io) = rados.ioctx_by_id(pool).await else {
                continue;
            };
            let io = io.with_namespace(self.io.namespace());
            let call = Method::new("get_children", |w| {
                w.put_i64(self.io.pool_id());
                w.put(&self.info.id);
                w.put_u64(id);
            })?;
            // errors: no rbd_children object, or a pool without the class (EC, cephfs...)
            if let Ok(b) = call.call(&io, CHILDREN_OBJECT).await {
                let set: std::collections::BTreeSet<String> =
                    cls::decode_reply("get_children", &b, |r| r.decode())?;
                if !set.is_empty() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Rolls the image back to user snapshot `name` (`rbd_snap_rollback_with_progress`;
    /// SnapshotRollbackRequest): size back to the snapshot's, the object map copied from
    /// the snapshot's, every object rolled back by the OSDs. `progress(done, total)` is
    /// called as objects finish.
    pub async fn rollback_to_snap(
        &mut self,
        name: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let info = self.snap_info(name).await?;
        self.rollback_to_info(info, &mut progress).await
    }

    /// Rolls back to snapshot `id` of any namespace (a group snapshot's member).
    pub(crate) async fn rollback_to_snap_id(
        &mut self,
        id: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let info = self.snap_info_by_id(id).await?;
        self.rollback_to_info(info, &mut progress).await
    }

    async fn rollback_to_info(
        &mut self,
        info: SnapInfo,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        self.check_snap_op()?;
        self.check_writable()?;
        let id = info.id;
        if self.info.size != info.size {
            self.resize(info.size, true).await?;
        }
        let guard = self.snap_lock().await?;
        let held = guard.as_ref().and_then(|g| g.as_ref());
        if self.info.features & features::OBJECT_MAP != 0 {
            self.rollback_object_map(id, held).await?;
        }
        let n = self.info.layout().num_objects(info.size);
        let wio = self.write_io();
        let mut set = tokio::task::JoinSet::new();
        let mut done = 0u64;
        for object_no in 0..n {
            if set.len() >= 32 {
                join_rollback(&mut set).await?;
                done += 1;
                progress(done, n);
            }
            let op = wio
                .op(names::data_object(&self.info.block_name_prefix, object_no))
                .rollback(SnapId(id));
            set.spawn(async move { op.submit().await.map(|_| ()) });
        }
        while !set.is_empty() {
            join_rollback(&mut set).await?;
            done += 1;
            progress(done, n);
        }
        drop(guard);
        info!(image = self.info.name, snap = info.name, "rolled back");
        self.notify_header_update().await;
        Ok(())
    }

    /// object_map/SnapshotRollbackRequest: the head's map becomes the snapshot's (flagged
    /// invalid when the snapshot's was).
    pub(crate) async fn rollback_object_map(&self, id: u64, held: Option<&Held>) -> Result<()> {
        let head = names::object_map_object(&self.info.id);
        match self.valid_snap_object_map(id).await? {
            Some(map) => {
                let bytes = denc::encode_to_vec(&map).map_err(|e| Error::Rados(e.into()))?;
                self.io.write_full(&head, bytes).await?;
            }
            _ => {
                let mut f = flags::OBJECT_MAP_INVALID;
                if self.info.features & features::FAST_DIFF != 0 {
                    f |= flags::FAST_DIFF_INVALID;
                }
                m::set_flags(m::NOSNAP, f, f)?
                    .call(&self.io, &self.header_object())
                    .await?;
                // every object may exist now
                let mut all = BitVector2::new(self.info.num_objs);
                for o in 0..self.info.num_objs {
                    all.set(o, state::EXISTS);
                }
                om::save(&all)?.call(&self.io, &head).await?;
            }
        }
        match held {
            Some(h) => h.reload_map(&self.io).await,
            None => Ok(()),
        }
    }

    /// Reads at user snapshot `name` from now on (`rbd_snap_set`); `None`: back to the
    /// head. Writes are refused ([`Error::AtSnapshot`]) while at a snapshot.
    pub async fn set_snap(&mut self, name: Option<&str>) -> Result<()> {
        match name {
            Some(n) => {
                let id = self.snap_id(n).await?;
                self.set_snap_by_id(Some(id)).await
            }
            None => self.set_snap_by_id(None).await,
        }
    }

    /// Reads at snapshot `id` (any namespace) from now on (`rbd_snap_set_by_id`); `None`:
    /// back to the head.
    pub async fn set_snap_by_id(&mut self, id: Option<u64>) -> Result<()> {
        match id {
            Some(id) => self.apply_snap(id).await,
            None => {
                self.snap_id = None;
                self.data_io.set_read_snap(SnapId::NOSNAP);
                self.refresh().await
            }
        }
    }

    /// Points this handle at snapshot `id`: its size, and reads at it.
    pub(crate) async fn apply_snap(&mut self, id: u64) -> Result<()> {
        let info = self.snap_info_by_id(id).await?;
        // the parent as of the snapshot (its overlap may differ from the head's, and a
        // clone flattened without deep-flatten keeps it for its snapshots only)
        let (parent, link) =
            crate::parent::open_at_snap(&self.io, &self.info.id, id, info.size).await?;
        self.info.size = info.size;
        self.info.num_objs = self.info.layout().num_objects(info.size);
        self.info.parent = parent;
        self.parent = link;
        self.data_io.set_read_snap(SnapId(id));
        self.snap_id = Some(id);
        Ok(())
    }
}

fn snap_info(info: SnapshotInfo, protection_status: u8) -> SnapInfo {
    SnapInfo {
        id: info.id,
        name: info.name,
        size: info.image_size,
        namespace: info.namespace,
        timestamp: info.timestamp,
        protection_status,
        child_count: info.child_count,
    }
}

async fn join_rollback(set: &mut tokio::task::JoinSet<rados::Result<()>>) -> Result<()> {
    match set.join_next().await {
        None | Some(Ok(Ok(()))) => Ok(()),
        // the object existed neither at the snapshot nor now
        Some(Ok(Err(e))) if e.is(Errno::ENOENT) => Ok(()),
        Some(Ok(Err(e))) => Err(e.into()),
        Some(Err(_)) => Err(Error::Rados(rados::Error::Shutdown)),
    }
}
