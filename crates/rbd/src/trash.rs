//! The pool's trash (src/librbd/api/Trash.cc, librbd/trash/MoveRequest.cc,
//! RemoveRequest.cc): images moved there keep their id, header and data but leave the
//! directory; they come back with [`Rbd::trash_restore`] or go for good with
//! [`Rbd::trash_remove`] (refused before their deferment ends unless forced).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use denc::UTime;
use rados::Errno;
use tracing::{debug, warn};

use crate::cls::rbd as m;
use crate::cls::trash::{self as t, TrashImageSpec, TrashSource, TrashState};
use crate::error::{Error, Result};
use crate::features;
use crate::image::{Image, OpenMode};
use crate::names;
use crate::pool::Rbd;

/// A format 1 image's header is `<name>.rbd` (`RBD_SUFFIX`).
const V1_HEADER_SUFFIX: &str = ".rbd";

/// The trash watcher's notify timeout (TrashWatcher.cc `NOTIFY_TIMEOUT_MS`).
const TRASH_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// `trash_watcher::NOTIFY_OP_IMAGE_ADDED` (librbd/trash_watcher/Types.h).
const NOTIFY_OP_IMAGE_ADDED: u32 = 0;

/// How many entries one `trash_list` call asks for (librbd's `max_read`).
const LIST_PAGE: u64 = 1024;

/// A trash entry as librbd reports it (`trash_image_info_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashEntry {
    /// The image id.
    pub id: String,
    /// Its name when it was moved.
    pub name: String,
    /// Why it is there.
    pub source: TrashSource,
    /// When it was moved (seconds since the epoch).
    pub deletion_time: u64,
    /// Not removable (without force) before this (seconds since the epoch).
    pub deferment_end_time: u64,
    /// Its state (moving, removing...).
    pub state: TrashState,
}

impl TrashEntry {
    fn new(id: String, spec: TrashImageSpec) -> TrashEntry {
        TrashEntry {
            id,
            name: spec.name,
            source: spec.source,
            deletion_time: u64::from(spec.deletion_time.sec),
            deferment_end_time: u64::from(spec.deferment_end_time.sec),
            state: spec.state,
        }
    }
}

pub(crate) fn now() -> UTime {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UTime::new(
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
        d.subsec_nanos(),
    )
}

/// The trash watcher's "image added" message (librbd/trash_watcher/Types.cc
/// `NotifyMessage::encode`: a v1 envelope around the op and `ImageAddedPayload`).
fn image_added_message(id: &str, spec: &TrashImageSpec) -> bytes::Bytes {
    let mut w = denc::Writer::new();
    w.versioned(1, 1, |w| {
        w.put_u32(NOTIFY_OP_IMAGE_ADDED);
        w.put(id);
        w.put(spec);
    });
    bytes::Bytes::from(w.finish().unwrap_or_default())
}

/// Tells the pool's trash watchers (rbd-mirror, the dashboard) about the new entry, as
/// librbd after a move; a failure is only logged, as there.
async fn notify_image_added(io: &rados::IoCtx, id: &str, spec: &TrashImageSpec) {
    let msg = image_added_message(id, spec);
    if let Err(e) = io.notify(names::TRASH, msg, TRASH_NOTIFY_TIMEOUT).await {
        warn!(id, error = %e, "failed to send the trash update notification");
    }
}

/// What `Trash<I>::move` does and refuses, in its order: snapshot-based mirroring is
/// disabled first (`mirror_disable.rs`: EINVAL when not primary), an exclusive lock it
/// cannot obtain (EBUSY), a migration (EBUSY), a group (EMLINK, as Tentacle; Pacific and
/// Reef move grouped images and leave the group pointing into the trash), features this
/// client cannot lock for (journaling is not one: its lock is taken for the checks, with
/// the journal left alone); then journal-based mirroring is disabled.
async fn check_movable(image: &Image, name: &str) -> Result<()> {
    let mirror_mode = match crate::cls::mirror::mirror_image_get(&image.info.id)?
        .call(&image.io, crate::mirror::MIRRORING_OBJECT)
        .await
    {
        Ok(b) => Some(crate::cls::mirror::decode_mirror_image(&b)?.mode),
        Err(e) if e.is_enoent() => None,
        Err(e) => return Err(e),
    };
    let snapshot_mode = mirror_mode == Some(crate::cls::mirror::MirrorImageMode::Snapshot);
    if snapshot_mode {
        // a remote rbd-mirror might hold the lock: disabling makes it close the image
        image.disable_mirroring_for_removal().await?;
    }
    // journaling: librbd takes the lock with the journal policy disabled (the journal is
    // neither opened nor replayed, nothing is appended) and releases it when it closes the
    // image, before the move; the move itself touches no journal object. This client
    // starts no lock for such images (it cannot write them), so it takes one for the
    // checks alone.
    let unlockable = image.info.features & features::WRITE_UNSUPPORTED & !features::MIGRATING;
    let journal_lock = if image.lock.is_none()
        && unlockable == features::JOURNALING
        && image.info.features & features::EXCLUSIVE_LOCK != 0
    {
        let lock = crate::exclusive_lock::ExclusiveLock::start(
            image.io.clone(),
            &image.info.id,
            image.info.features,
            std::sync::Arc::downgrade(&image.state),
        )
        .await?;
        let taken = lock.acquire_now(image.info.num_objs).await;
        if let Err(e) = taken {
            if let Err(s) = lock.shutdown().await {
                debug!(error = %s, "releasing the journaling image's lock failed");
            }
            return Err(lock_refused(name, e));
        }
        Some(lock)
    } else {
        None
    };
    let checked = check_locked(
        image,
        name,
        journal_lock.is_some(),
        mirror_mode,
        snapshot_mode,
    )
    .await;
    match journal_lock {
        Some(lock) => {
            let released = lock.shutdown().await;
            checked?;
            released
        }
        None => checked,
    }
}

/// The error of a lock that could not be taken for a move (EBUSY, as librbd).
fn lock_refused(name: &str, e: Error) -> Error {
    match e {
        e @ Error::LockBusy(_) => e,
        e => {
            warn!(name, error = %e, "cannot obtain exclusive lock - not moving");
            Error::LockBusy("cannot obtain exclusive lock")
        }
    }
}

/// [`check_movable`] once the lock is held (`journal_locked`: a journaling image's lock
/// taken for the move).
async fn check_locked(
    image: &Image,
    name: &str,
    journal_locked: bool,
    mirror_mode: Option<crate::cls::mirror::MirrorImageMode>,
    snapshot_mode: bool,
) -> Result<()> {
    if image.lock.is_some() {
        // Operations::prepare_image_update(request_lock = true): ask the owner for it
        image
            .acquire_lock()
            .await
            .map_err(|e| lock_refused(name, e))?;
    }
    if crate::migration::read_migration_spec(&image.io, &image.info.id)
        .await?
        .is_some()
    {
        return Err(Error::ImageMigrating(name.to_owned()));
    }
    if image.group_spec().await?.is_some() {
        return Err(Error::ImageInGroup(name.to_owned()));
    }
    let mut unlockable = image.info.features & features::WRITE_UNSUPPORTED & !features::MIGRATING;
    if journal_locked {
        unlockable &= !features::JOURNALING;
    }
    if unlockable != 0 {
        return Err(Error::Unsupported {
            features: unlockable,
            what: "moving images with them to the trash",
        });
    }
    if mirror_mode.is_some() && !snapshot_mode {
        image.disable_mirroring_for_removal().await?;
    }
    Ok(())
}

fn ok_or_enoent(r: rados::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.is(Errno::ENOENT) => Ok(()),
        other => Ok(other?),
    }
}

impl Rbd {
    /// Moves image `name` to the trash (`rbd_trash_move2`, source user): it can be
    /// removed `delay_secs` seconds from now (without force). The image keeps its id
    /// and data; its name leaves the directory.
    pub async fn trash_move(&self, name: &str, delay_secs: u64) -> Result<String> {
        let io = self.ioctx();
        let id = match m::dir_get_id(name)?.call(io, names::DIRECTORY).await {
            Ok(b) => m::decode_string("dir_get_id", &b)?,
            Err(e) if e.is_enoent() => {
                // librbd refuses format 1 images (EOPNOTSUPP): they have no id to keep
                if io.stat(&format!("{name}{V1_HEADER_SUFFIX}")).await.is_ok() {
                    return Err(Error::Unsupported {
                        features: 0,
                        what: "moving format 1 images to the trash",
                    });
                }
                // an interrupted move left a `moving` entry: finish it
                let moving = self
                    .trash_list_all()
                    .await?
                    .into_iter()
                    .find(|e| {
                        e.source == TrashSource::User
                            && e.state == TrashState::Moving
                            && e.name == name
                    })
                    .ok_or_else(|| Error::ImageNotFound(name.into()))?;
                moving.id
            }
            Err(e) => return Err(e),
        };
        self.prepare_trash_move(name, &id).await?;
        let deletion_time = now();
        let end = UTime::new(
            deletion_time
                .sec
                .saturating_add(u32::try_from(delay_secs).unwrap_or(u32::MAX)),
            deletion_time.nsec,
        );
        let mut spec = TrashImageSpec {
            source: TrashSource::User,
            name: name.to_owned(),
            deletion_time,
            deferment_end_time: end,
            state: TrashState::Moving,
        };
        // trash/MoveRequest: entry, id object, directory entry
        match t::trash_add(&id, &spec)?.call(io, names::TRASH).await {
            Ok(_) => {}
            // an interrupted move of the same image
            Err(e) if e.is(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        ok_or_enoent(io.remove(&names::id_object(name)).await)?;
        match m::dir_remove_image(name, &id)?
            .call(io, names::DIRECTORY)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        spec.state = TrashState::Normal;
        match t::trash_state_set(&id, TrashState::Normal, TrashState::Moving)?
            .call(io, names::TRASH)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is(Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(e),
        }
        notify_image_added(io, &id, &spec).await;
        debug!(name, id, delay_secs, "moved to the trash");
        Ok(id)
    }

    /// api/Trash.cc `Trash<I>::move`'s checks before the move: opens the image read-write
    /// (a missing header is no obstacle, as librbd) and refuses what librbd refuses;
    /// closes it on every path, releasing the lock it took.
    async fn prepare_trash_move(&self, name: &str, id: &str) -> Result<()> {
        let io = self.ioctx();
        let image = match Image::open(
            io.clone(),
            name.to_owned(),
            id.to_owned(),
            OpenMode::ReadWrite,
        )
        .await
        {
            Ok(image) => image,
            Err(Error::ImageNotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let checked = check_movable(&image, name).await;
        let closed = image.close().await;
        checked?;
        closed
    }

    async fn trash_list_all(&self) -> Result<Vec<TrashEntry>> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let page: BTreeMap<String, TrashImageSpec> = match t::trash_list(&after, LIST_PAGE)?
                .call(self.ioctx(), names::TRASH)
                .await
            {
                Ok(b) => t::decode_trash_list(&b)?,
                Err(e) if e.is_enoent() => BTreeMap::new(),
                Err(e) => return Err(e),
            };
            let full = page.len() as u64 >= LIST_PAGE;
            for (id, spec) in page {
                after.clone_from(&id);
                out.push(TrashEntry::new(id, spec));
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// The trash entries, ordered by id (`rbd_trash_list`): those `rbd rm` moved on its
    /// way (source removing) are left out, as librbd does.
    pub async fn trash_list(&self) -> Result<Vec<TrashEntry>> {
        let mut all = self.trash_list_all().await?;
        all.retain(|e| e.source != TrashSource::Removing);
        Ok(all)
    }

    /// Every trash entry, those of source removing too (`rbd trash ls --all`).
    pub async fn trash_list_including_removing(&self) -> Result<Vec<TrashEntry>> {
        self.trash_list_all().await
    }

    /// The trash entry of image `id` (`rbd_trash_get`).
    pub async fn trash_get(&self, id: &str) -> Result<TrashEntry> {
        match t::trash_get(id)?.call(self.ioctx(), names::TRASH).await {
            Ok(b) => Ok(TrashEntry::new(id.to_owned(), t::decode_trash_get(&b)?)),
            Err(e) if e.is_enoent() => {
                Err(Error::ImageNotFound(format!("with id {id} in the trash")))
            }
            Err(e) => Err(e),
        }
    }

    /// Puts image `id` back under `new_name` (its old name when empty)
    /// (`rbd_trash_restore`); only user-moved entries, as librbd's public call.
    pub async fn trash_restore(&self, id: &str, new_name: &str) -> Result<()> {
        let io = self.ioctx();
        let entry = self.trash_get(id).await?;
        if !matches!(entry.source, TrashSource::User | TrashSource::UserParent) {
            return Err(Error::InvalidArgument(
                "the trash entry was not moved by a user",
            ));
        }
        if !matches!(entry.state, TrashState::Normal | TrashState::Restoring) {
            return Err(Error::TrashBusy("the image is pending deletion"));
        }
        self.set_trash_state(id, TrashState::Restoring, TrashState::Normal)
            .await?;
        let name = if new_name.is_empty() {
            entry.name.clone()
        } else {
            new_name.to_owned()
        };
        let back_to_normal = || async {
            if let Err(e) = self
                .set_trash_state(id, TrashState::Normal, TrashState::Restoring)
                .await
            {
                warn!(id, error = %e, "failed to reset the trash entry's state");
            }
        };
        let mut create_id_obj = true;
        match m::get_id()?.call(io, &names::id_object(&name)).await {
            Ok(b) => {
                // an earlier, interrupted restore made it already
                if m::decode_string("get_id", &b)? != id {
                    back_to_normal().await;
                    return Err(Error::ImageExists(name));
                }
                create_id_obj = false;
            }
            Err(e) if e.is_enoent() => {}
            Err(e) => {
                back_to_normal().await;
                return Err(e);
            }
        }
        if create_id_obj {
            let set = m::set_id(id)?;
            io.op(names::id_object(&name))
                .create(true)
                .exec(crate::cls::CLASS, set.name, &set.input)
                .submit()
                .await?;
        }
        match m::dir_add_image(&name, id)?
            .call(io, names::DIRECTORY)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        match t::trash_remove(id)?.call(io, names::TRASH).await {
            Ok(_) => {}
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        debug!(id, name, "restored from the trash");
        Ok(())
    }

    async fn set_trash_state(&self, id: &str, to: TrashState, from: TrashState) -> Result<()> {
        match t::trash_state_set(id, to, from)?
            .call(self.ioctx(), names::TRASH)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is(Errno::EOPNOTSUPP) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes image `id` from the trash with its data (`rbd_trash_remove`): EPERM
    /// ([`Error::TrashDeferred`]) before its deferment end unless `force`; refused while
    /// it is being moved or restored, has watchers or snapshots.
    pub async fn trash_remove(&self, id: &str, force: bool) -> Result<()> {
        self.trash_remove_with_progress(id, force, |_, _| {}).await
    }

    /// [`Rbd::trash_remove`] with `progress(done, total)` over the image's objects
    /// (`rbd_trash_remove_with_progress`).
    pub async fn trash_remove_with_progress(
        &self,
        id: &str,
        force: bool,
        progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let entry = self.trash_get(id).await?;
        if u64::from(now().sec) < entry.deferment_end_time && !force {
            return Err(Error::TrashDeferred(entry.deferment_end_time));
        }
        match entry.state {
            TrashState::Moving => {
                return Err(Error::TrashBusy("the image is pending moving to the trash"));
            }
            TrashState::Normal | TrashState::Removing => {}
            _ => return Err(Error::TrashBusy("the image is pending restoration")),
        }
        let io = self.ioctx();
        if entry.state == TrashState::Normal {
            self.set_trash_state(id, TrashState::Removing, TrashState::Normal)
                .await?;
        }
        let removed = match Image::open(
            io.clone(),
            entry.name.clone(),
            id.to_owned(),
            OpenMode::ReadOnly,
        )
        .await
        {
            Ok(image) => image.remove_checked_data(progress).await,
            Err(Error::ImageNotFound(_)) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            // trash/RemoveRequest: back to normal so it can be retried or restored
            let _ = self
                .set_trash_state(id, TrashState::Normal, TrashState::Removing)
                .await;
            return Err(e);
        }
        ok_or_enoent(io.remove(&names::header_object(id)).await)?;
        // RemoveRequest::send_journal_remove
        crate::journal::remove_journal(io, id).await?;
        ok_or_enoent(io.remove(&names::object_map_object(id)).await)?;
        match t::trash_remove(id)?.call(io, names::TRASH).await {
            Ok(_) => {}
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        debug!(id, "removed from the trash");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_added_message_layout() {
        let spec = TrashImageSpec {
            source: TrashSource::User,
            name: "img".into(),
            deletion_time: UTime::new(10, 5),
            deferment_end_time: UTime::new(20, 5),
            state: TrashState::Moving,
        };
        let msg = image_added_message("abc", &spec);
        let spec_bytes = denc::encode_to_vec(&spec).unwrap();
        // ENCODE_START(1, 1), le32 length, then the op and the payload
        let body_len = u32::try_from(4 + 4 + 3 + spec_bytes.len()).unwrap();
        let mut want = vec![1, 1];
        want.extend(body_len.to_le_bytes());
        want.extend(NOTIFY_OP_IMAGE_ADDED.to_le_bytes());
        want.extend(3u32.to_le_bytes());
        want.extend(b"abc");
        want.extend(&spec_bytes);
        assert_eq!(&msg[..], &want[..]);
    }
}
