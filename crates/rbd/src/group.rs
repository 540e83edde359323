//! RBD groups and group snapshots, as librbd keeps them (src/librbd/api/Group.cc): groups
//! are listed in `rbd_group_directory`; a group's header `rbd_group_header.<id>` lists
//! its member images (with a link state) and its snapshot records; each member's header
//! points back at the group (`rbd_group_ref`). A group snapshot is one snapshot per
//! member, in the group snapshot namespace, named `.group.<pool hex>_<group id>_<snap id>`.
//!
//! Groups live in the pool and namespace of an [`Rbd`]; members may be in other pools
//! (same namespace: librbd refuses to mix namespaces).

use rados::{Errno, IoCtx};
use tracing::{debug, warn};

use crate::cls::group::{
    self as g, GroupImageSpec, GroupImageState, GroupImageStatus, GroupSnapState, GroupSnapshot,
    GroupSpec, ImageSnapshotSpec,
};
use crate::cls::rbd as m;
use crate::cls::snap::SnapshotNamespace;
use crate::error::{Error, Result};
use crate::image::{Image, OpenMode};
use crate::names;
use crate::pool::Rbd;

/// The pool's group directory (`RBD_GROUP_DIRECTORY`).
pub const GROUP_DIRECTORY: &str = "rbd_group_directory";
/// How many entries one list call asks for (librbd's `max_read`).
const LIST_PAGE: u64 = 1024;

/// `rbd_group_header.<id>` (`util::group_header_name`).
pub fn group_header_object(id: &str) -> String {
    format!("rbd_group_header.{id}")
}

/// The name of a group snapshot's member snapshots (Group.cc `calc_ind_image_snap_name`).
pub fn member_snap_name(group_pool: i64, group_id: &str, group_snap_id: &str) -> String {
    format!(".group.{group_pool:x}_{group_id}_{group_snap_id}")
}

/// A member image, as `rbd_group_image_list` reports it (`group_image_info_t`, plus its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupImageInfo {
    /// The image name.
    pub name: String,
    /// The image id.
    pub id: String,
    /// The image's pool.
    pub pool: i64,
    /// Its link state.
    pub state: GroupImageState,
}

/// A group snapshot (`group_snap_info_t`, plus its id and members' snapshots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: GroupSnapState,
    /// The members' snapshots (snap id 0 until taken).
    pub snaps: Vec<ImageSnapshotSpec>,
}

impl From<GroupSnapshot> for GroupSnapInfo {
    fn from(s: GroupSnapshot) -> GroupSnapInfo {
        GroupSnapInfo {
            id: s.id,
            name: s.name,
            state: s.state,
            snaps: s.snaps,
        }
    }
}

/// The group an image belongs to (`group_info_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's pool.
    pub pool: i64,
    /// The group's name.
    pub name: String,
}

/// What `rbd snap ls --all` shows of a group snapshot's member (`snap_group_namespace_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapNamespace {
    /// The group's pool.
    pub pool: i64,
    /// Its name.
    pub pool_name: String,
    /// The group's name.
    pub group_name: String,
    /// The group snapshot's name.
    pub group_snap_name: String,
}

fn ok_or_enoent(r: Result<bytes::Bytes>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_enoent() => Ok(()),
        Err(e) => Err(e),
    }
}

fn group_not_found(name: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| {
        if e.is_enoent() {
            Error::GroupNotFound(name.to_owned())
        } else {
            e
        }
    }
}

/// An `IoCtx` on pool `pool` in the namespace of `like` (librbd `util::create_ioctx`).
async fn ioctx_for(like: &IoCtx, pool: i64) -> Result<IoCtx> {
    if pool == like.pool_id() {
        return Ok(like.clone());
    }
    let mut io = like
        .rados()
        .ioctx_by_id(pool)
        .await?
        .with_namespace(like.namespace());
    io.set_pool_full_try(like.pool_full_try());
    Ok(io)
}

impl Rbd {
    /// The id of group `name` (`dir_get_id` on the group directory).
    pub async fn group_id(&self, name: &str) -> Result<String> {
        let b = m::dir_get_id(name)?
            .call(self.ioctx(), GROUP_DIRECTORY)
            .await
            .map_err(group_not_found(name))?;
        m::decode_string("dir_get_id", &b)
    }

    /// Creates group `name` (`rbd_group_create`): a directory entry, then its header.
    pub async fn group_create(&self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::InvalidArgument("group name must not be empty"));
        }
        let io = self.ioctx();
        let id = names::generate_image_id(io.rados().global_id(), rand::random::<u32>());
        match g::group_dir_add(name, &id)?.call(io, GROUP_DIRECTORY).await {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => return Err(Error::GroupExists(name.into())),
            Err(e) => return Err(e),
        }
        if let Err(e) = io.create(&group_header_object(&id), true).await {
            warn!(name, error = %e, "group header creation failed; undoing");
            let _ = g::group_dir_remove(name, &id)?
                .call(io, GROUP_DIRECTORY)
                .await;
            return Err(e.into());
        }
        debug!(name, id, "group created");
        Ok(())
    }

    /// The groups, ordered by name (`rbd_group_list`).
    pub async fn group_list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let page = match g::group_dir_list(&after, LIST_PAGE)?
                .call(self.ioctx(), GROUP_DIRECTORY)
                .await
            {
                Ok(b) => g::decode_group_dir_list(&b)?,
                Err(e) if e.is_enoent() => return Ok(out),
                Err(e) => return Err(e),
            };
            let full = page.len() as u64 >= LIST_PAGE;
            if let Some(last) = page.keys().next_back() {
                after.clone_from(last);
            }
            out.extend(page.into_keys());
            if !full {
                return Ok(out);
            }
        }
    }

    /// Removes group `name` (`rbd_group_remove`): its snapshots (with the members'
    /// snapshots), the members' links, its header, its directory entry.
    pub async fn group_remove(&self, name: &str) -> Result<()> {
        let io = self.ioctx();
        let id = self.group_id(name).await?;
        let header = group_header_object(&id);
        for snap in self.group_snap_records(&id).await? {
            self.remove_group_snap_record(&id, &snap).await?;
        }
        for member in self.group_image_statuses(&id).await? {
            let image_io = ioctx_for(io, member.spec.pool_id).await?;
            match self
                .unlink_image(&id, &image_io, &member.spec.image_id)
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_enoent() => {}
                Err(e) => return Err(e),
            }
        }
        match io.remove(&header).await {
            Ok(()) => {}
            Err(e) if e.is(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        ok_or_enoent(
            g::group_dir_remove(name, &id)?
                .call(io, GROUP_DIRECTORY)
                .await,
        )?;
        debug!(name, id, "group removed");
        Ok(())
    }

    /// Renames group `src` to `dest` (`rbd_group_rename`).
    pub async fn group_rename(&self, src: &str, dest: &str) -> Result<()> {
        if dest.is_empty() {
            return Err(Error::InvalidArgument("group name must not be empty"));
        }
        let id = self.group_id(src).await?;
        match g::group_dir_rename(src, dest, &id)?
            .call(self.ioctx(), GROUP_DIRECTORY)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is(Errno::EEXIST) => Err(Error::GroupExists(dest.into())),
            Err(e) if e.is_enoent() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Adds image `image_name` of `images` (any pool, this namespace) to group `group`
    /// (`rbd_group_image_add`): the group's entry as INCOMPLETE, the image's link to the
    /// group, then the entry ATTACHED. EEXIST when the image is in another group.
    pub async fn group_image_add(&self, group: &str, images: &Rbd, image_name: &str) -> Result<()> {
        let io = self.ioctx();
        let image_io = images.ioctx();
        if io.namespace() != image_io.namespace() {
            return Err(Error::InvalidArgument(
                "group and image cannot be in different namespaces",
            ));
        }
        let id = self.group_id(group).await?;
        let header = group_header_object(&id);
        let image_id = match m::dir_get_id(image_name)?
            .call(image_io, names::DIRECTORY)
            .await
        {
            Ok(b) => m::decode_string("dir_get_id", &b)?,
            Err(e) if e.is_enoent() => return Err(Error::ImageNotFound(image_name.into())),
            Err(e) => return Err(e),
        };
        let spec = GroupImageSpec {
            image_id: image_id.clone(),
            pool_id: image_io.pool_id(),
        };
        let mut status = GroupImageStatus {
            spec: spec.clone(),
            state: GroupImageState::Incomplete,
        };
        g::group_image_set(&status)?.call(io, &header).await?;
        let link = GroupSpec {
            pool_id: io.pool_id(),
            group_id: id.clone(),
        };
        let image_header = names::header_object(&image_id);
        if let Err(e) = g::image_group_add(&link)?
            .call(image_io, &image_header)
            .await
        {
            // as librbd: drop our entry, ignoring errors
            let _ = g::group_image_remove(&spec)?.call(io, &header).await;
            // EEXIST: the image is in another group
            return Err(e);
        }
        notify_header_update(image_io, &image_header).await;
        status.state = GroupImageState::Attached;
        g::group_image_set(&status)?.call(io, &header).await?;
        debug!(group, image = image_name, "image added to group");
        Ok(())
    }

    /// Removes image `image_name` of `images` from group `group`
    /// (`rbd_group_image_remove`).
    pub async fn group_image_remove(
        &self,
        group: &str,
        images: &Rbd,
        image_name: &str,
    ) -> Result<()> {
        if self.ioctx().namespace() != images.ioctx().namespace() {
            return Err(Error::InvalidArgument(
                "group and image cannot be in different namespaces",
            ));
        }
        let id = self.group_id(group).await?;
        let image_id = match m::dir_get_id(image_name)?
            .call(images.ioctx(), names::DIRECTORY)
            .await
        {
            Ok(b) => m::decode_string("dir_get_id", &b)?,
            Err(e) if e.is_enoent() => return Err(Error::ImageNotFound(image_name.into())),
            Err(e) => return Err(e),
        };
        self.unlink_image(&id, images.ioctx(), &image_id).await
    }

    /// Removes the image with id `image_id` of `images` from group `group`
    /// (`rbd_group_image_remove_by_id`).
    pub async fn group_image_remove_by_id(
        &self,
        group: &str,
        images: &Rbd,
        image_id: &str,
    ) -> Result<()> {
        let id = self.group_id(group).await?;
        self.unlink_image(&id, images.ioctx(), image_id).await
    }

    /// Group.cc `group_image_remove`: entry INCOMPLETE, the image's link goes, the entry
    /// goes.
    async fn unlink_image(&self, group_id: &str, image_io: &IoCtx, image_id: &str) -> Result<()> {
        let io = self.ioctx();
        let header = group_header_object(group_id);
        let spec = GroupImageSpec {
            image_id: image_id.to_owned(),
            pool_id: image_io.pool_id(),
        };
        let status = GroupImageStatus {
            spec: spec.clone(),
            state: GroupImageState::Incomplete,
        };
        g::group_image_set(&status)?.call(io, &header).await?;
        let link = GroupSpec {
            pool_id: io.pool_id(),
            group_id: group_id.to_owned(),
        };
        let image_header = names::header_object(image_id);
        match g::image_group_remove(&link)?
            .call(image_io, &image_header)
            .await
        {
            Ok(_) => notify_header_update(image_io, &image_header).await,
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        g::group_image_remove(&spec)?.call(io, &header).await?;
        debug!(group_id, image_id, "image removed from group");
        Ok(())
    }

    async fn group_image_statuses(&self, group_id: &str) -> Result<Vec<GroupImageStatus>> {
        let header = group_header_object(group_id);
        let mut out: Vec<GroupImageStatus> = Vec::new();
        let mut after = GroupImageSpec {
            image_id: String::new(),
            pool_id: -1,
        };
        loop {
            let b = g::group_image_list(&after, LIST_PAGE)?
                .call(self.ioctx(), &header)
                .await?;
            let page = g::decode_group_image_list(&b)?;
            let full = page.len() as u64 >= LIST_PAGE;
            if let Some(last) = page.last() {
                after = last.spec.clone();
            }
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// The members of group `group` in the group's order (pool, then id)
    /// (`rbd_group_image_list`), with their names.
    pub async fn group_image_list(&self, group: &str) -> Result<Vec<GroupImageInfo>> {
        let id = self.group_id(group).await?;
        let mut out = Vec::new();
        for st in self.group_image_statuses(&id).await? {
            let io = ioctx_for(self.ioctx(), st.spec.pool_id).await?;
            let b = m::dir_get_name(&st.spec.image_id)?
                .call(&io, names::DIRECTORY)
                .await?;
            out.push(GroupImageInfo {
                name: m::decode_string("dir_get_name", &b)?,
                id: st.spec.image_id,
                pool: st.spec.pool_id,
                state: st.state,
            });
        }
        Ok(out)
    }

    // ---- group snapshots ----

    async fn group_snap_records(&self, group_id: &str) -> Result<Vec<GroupSnapshot>> {
        let header = group_header_object(group_id);
        let mut out: Vec<GroupSnapshot> = Vec::new();
        let mut after = GroupSnapshot {
            id: String::new(),
            name: String::new(),
            state: GroupSnapState::Incomplete,
            snaps: Vec::new(),
        };
        loop {
            let b = g::group_snap_list(&after, LIST_PAGE)?
                .call(self.ioctx(), &header)
                .await?;
            let page = g::decode_group_snap_list(&b)?;
            let full = page.len() as u64 >= LIST_PAGE;
            if let Some(last) = page.last() {
                after = last.clone();
            }
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// The snapshots of group `group`, ordered by id (`rbd_group_snap_list`).
    pub async fn group_snap_list(&self, group: &str) -> Result<Vec<GroupSnapInfo>> {
        let id = self.group_id(group).await?;
        Ok(self
            .group_snap_records(&id)
            .await?
            .into_iter()
            .map(GroupSnapInfo::from)
            .collect())
    }

    async fn find_group_snap(&self, group: &str, snap: &str) -> Result<(String, GroupSnapshot)> {
        let id = self.group_id(group).await?;
        let rec = self
            .group_snap_records(&id)
            .await?
            .into_iter()
            .find(|s| s.name == snap)
            .ok_or_else(|| Error::SnapshotNotFound(format!("{group}@{snap}")))?;
        Ok((id, rec))
    }

    /// Opens member `id` of pool `pool` read-write (by id, as Group.cc does).
    async fn open_member(&self, pool: i64, id: &str) -> Result<Image> {
        let io = ioctx_for(self.ioctx(), pool).await?;
        let name = match m::dir_get_name(id)?.call(&io, names::DIRECTORY).await {
            Ok(b) => m::decode_string("dir_get_name", &b)?,
            // in the trash: open it by id all the same
            Err(e) if e.is_enoent() => String::new(),
            Err(e) => return Err(e),
        };
        Image::open(io, name, id.to_owned(), OpenMode::ReadWrite).await
    }

    /// The member snapshot of group snapshot `snap_id` on `image` (librbd's
    /// `get_group_snap_id`: the snapshot in that group namespace).
    async fn member_snap(
        &self,
        image: &Image,
        ns: &SnapshotNamespace,
    ) -> Result<Option<crate::SnapInfo>> {
        Ok(image
            .snap_list()
            .await?
            .into_iter()
            .find(|s| &s.namespace == ns))
    }

    fn group_namespace(&self, group_id: &str, snap_id: &str) -> SnapshotNamespace {
        SnapshotNamespace::Group {
            pool: self.ioctx().pool_id(),
            group_id: group_id.to_owned(),
            group_snapshot_id: snap_id.to_owned(),
        }
    }

    /// Takes snapshot `snap` of group `group` (`rbd_group_snap_create`), quiescing the
    /// members' clients as the client's `rbd_default_snapshot_quiesce_mode` says.
    pub async fn group_snap_create(&self, group: &str, snap: &str) -> Result<()> {
        let flags = crate::quiesce::default_flags(self.ioctx().rados());
        self.group_snap_create2(group, snap, flags).await
    }

    /// Takes snapshot `snap` of group `group` with `RBD_SNAP_CREATE_*` flags
    /// (`rbd_group_snap_create2`, api/Group.cc `snap_create`): an INCOMPLETE record,
    /// QUIESCE to every member's clients (unless skipped; a failure unquiesces them all and
    /// fails unless ignored), one snapshot per member in the group namespace (each under
    /// its exclusive lock), the record COMPLETE with the members' snapshot ids, then
    /// UNQUIESCE. On failure the members' snapshots and the record are removed again.
    pub async fn group_snap_create2(&self, group: &str, snap: &str, flags: u32) -> Result<()> {
        crate::quiesce::check_flags(flags)?;
        if snap.is_empty() {
            return Err(Error::InvalidArgument("empty snapshot name"));
        }
        let io = self.ioctx();
        let group_id = self.group_id(group).await?;
        let header = group_header_object(&group_id);
        let members = self.group_image_statuses(&group_id).await?;
        let mut record = GroupSnapshot {
            id: names::generate_image_id(io.rados().global_id(), rand::random::<u32>()),
            name: snap.to_owned(),
            state: GroupSnapState::Incomplete,
            snaps: members
                .iter()
                .map(|m| ImageSnapshotSpec {
                    pool: m.spec.pool_id,
                    image_id: m.spec.image_id.clone(),
                    snap_id: 0,
                })
                .collect(),
        };
        match g::group_snap_set(&record)?.call(io, &header).await {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => {
                return Err(Error::SnapshotExists(format!("{group}@{snap}")));
            }
            Err(e) => return Err(e),
        }
        let ns = self.group_namespace(&group_id, &record.id);
        let snap_name = member_snap_name(io.pool_id(), &group_id, &record.id);
        let mut images = Vec::with_capacity(members.len());
        let mut quiesced = Vec::new();
        let taken: Result<()> = async {
            for m in &members {
                images.push(self.open_member(m.spec.pool_id, &m.spec.image_id).await?);
            }
            if flags & crate::snap_create_flags::SKIP_QUIESCE == 0 {
                // Group.cc notify_quiesce: every member, then all unquiesced on a failure
                let mut failed = 0;
                for image in &images {
                    let (req, r) = image.send_quiesce().await;
                    quiesced.push(req);
                    if r < 0 {
                        failed = r;
                    }
                }
                if failed < 0 {
                    unquiesce_all(&mut quiesced).await;
                    if flags & crate::snap_create_flags::IGNORE_QUIESCE_ERROR == 0 {
                        return Err(Error::QuiesceFailed(failed));
                    }
                }
            }
            let skip = crate::snap_create_flags::SKIP_QUIESCE;
            for (image, spec) in images.iter().zip(record.snaps.iter_mut()) {
                spec.snap_id = image.create_snap_in(&snap_name, &ns, skip).await?;
                spec.pool = image.ioctx().pool_id();
            }
            record.state = GroupSnapState::Complete;
            g::group_snap_set(&record)?.call(io, &header).await?;
            Ok(())
        }
        .await;
        unquiesce_all(&mut quiesced).await;
        if let Err(e) = taken {
            warn!(group, snap, error = %e, "group snapshot failed; undoing");
            for image in &images {
                match self.member_snap(image, &ns).await {
                    Ok(Some(s)) => {
                        if let Err(e) = image.remove_snap_by_id(s.id).await {
                            warn!(error = %e, "failed to remove a member snapshot");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => warn!(error = %e, "failed to list a member's snapshots"),
                }
            }
            let _ = g::group_snap_remove(&record.id)?.call(io, &header).await;
            close_all(images).await;
            return Err(e);
        }
        close_all(images).await;
        debug!(group, snap, id = record.id, "group snapshot created");
        Ok(())
    }

    /// Group.cc `group_snap_remove_by_record`: each member's snapshot (missing ones are
    /// fine), then the record.
    async fn remove_group_snap_record(&self, group_id: &str, rec: &GroupSnapshot) -> Result<()> {
        let ns = self.group_namespace(group_id, &rec.id);
        let mut images = Vec::with_capacity(rec.snaps.len());
        let removed: Result<()> = async {
            for s in &rec.snaps {
                images.push(self.open_member(s.pool, &s.image_id).await?);
            }
            for image in &images {
                if let Some(s) = self.member_snap(image, &ns).await? {
                    match image.remove_snap_by_id(s.id).await {
                        Ok(()) | Err(Error::SnapshotNotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            ok_or_enoent(
                g::group_snap_remove(&rec.id)?
                    .call(self.ioctx(), &group_header_object(group_id))
                    .await,
            )
        }
        .await;
        close_all(images).await;
        removed
    }

    /// Removes snapshot `snap` of group `group` with its members' snapshots
    /// (`rbd_group_snap_remove`).
    pub async fn group_snap_remove(&self, group: &str, snap: &str) -> Result<()> {
        let (id, rec) = self.find_group_snap(group, snap).await?;
        self.remove_group_snap_record(&id, &rec).await?;
        debug!(group, snap, "group snapshot removed");
        Ok(())
    }

    /// Renames snapshot `src` of group `group` to `dest` (`rbd_group_snap_rename`; the
    /// members' snapshot names do not change).
    pub async fn group_snap_rename(&self, group: &str, src: &str, dest: &str) -> Result<()> {
        if src == dest {
            return Err(Error::SnapshotExists(format!("{group}@{dest}")));
        }
        if dest.is_empty() {
            return Err(Error::InvalidArgument("empty snapshot name"));
        }
        let (id, mut rec) = self.find_group_snap(group, src).await?;
        rec.name = dest.to_owned();
        match g::group_snap_set(&rec)?
            .call(self.ioctx(), &group_header_object(&id))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is(Errno::EEXIST) => Err(Error::SnapshotExists(format!("{group}@{dest}"))),
            Err(e) => Err(e),
        }
    }

    /// Rolls every member back to group snapshot `snap` (`rbd_group_snap_rollback`):
    /// EINVAL unless it is complete and its members are the group's attached members.
    /// `progress(done, total)` is called per object of each member.
    pub async fn group_snap_rollback(
        &self,
        group: &str,
        snap: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let (id, rec) = self.find_group_snap(group, snap).await?;
        if rec.state != GroupSnapState::Complete {
            return Err(Error::InvalidArgument("group snapshot is not complete"));
        }
        let in_snap: Vec<GroupImageSpec> = rec
            .snaps
            .iter()
            .map(|s| GroupImageSpec {
                image_id: s.image_id.clone(),
                pool_id: s.pool,
            })
            .collect();
        let attached: Vec<GroupImageSpec> = self
            .group_image_statuses(&id)
            .await?
            .into_iter()
            .filter(|s| s.state == GroupImageState::Attached)
            .map(|s| s.spec)
            .collect();
        if in_snap != attached {
            return Err(Error::InvalidArgument(
                "group snapshot membership does not match group membership",
            ));
        }
        let ns = self.group_namespace(&id, &rec.id);
        let mut images = Vec::with_capacity(rec.snaps.len());
        let done: Result<()> = async {
            for s in &rec.snaps {
                images.push(self.open_member(s.pool, &s.image_id).await?);
            }
            for image in &mut images {
                let member = self.member_snap(image, &ns).await?.ok_or_else(|| {
                    Error::SnapshotNotFound(format!("{group}@{snap} on {}", image.info().name))
                })?;
                image.rollback_to_snap_id(member.id, &mut progress).await?;
            }
            Ok(())
        }
        .await;
        close_all(images).await;
        done?;
        debug!(group, snap, "group rolled back");
        Ok(())
    }
}

async fn close_all(images: Vec<Image>) {
    for image in images {
        if let Err(e) = image.close().await {
            debug!(error = %e, "closing a member failed");
        }
    }
}

/// Group.cc notify_unquiesce: UNQUIESCE to every member quiesced (once).
async fn unquiesce_all(quiesced: &mut Vec<crate::quiesce::QuiesceRequest>) {
    for req in quiesced.drain(..) {
        req.unquiesce().await;
    }
}

async fn notify_header_update(io: &IoCtx, header: &str) {
    let msg = crate::watch_notify::NotifyMessage::HeaderUpdate.to_bytes();
    if let Err(e) = io
        .notify(header, msg, std::time::Duration::from_secs(5))
        .await
    {
        debug!(error = %e, "header update notify failed");
    }
}

impl Image {
    /// The group this image belongs to (`rbd_get_group`), `None` when it is in none.
    pub async fn group_get(&self) -> Result<Option<GroupInfo>> {
        let spec = match self.group_spec().await? {
            Some(s) => s,
            None => return Ok(None),
        };
        let io = ioctx_for(self.ioctx(), spec.pool_id).await?;
        let b = m::dir_get_name(&spec.group_id)?
            .call(&io, GROUP_DIRECTORY)
            .await?;
        Ok(Some(GroupInfo {
            pool: spec.pool_id,
            name: m::decode_string("dir_get_name", &b)?,
        }))
    }

    /// For a snapshot in the group namespace `ns`: the group's pool, the group's name and
    /// the group snapshot's name (`rbd_snap_get_group_namespace`); `None` for other
    /// namespaces.
    pub async fn snap_group_namespace(
        &self,
        ns: &SnapshotNamespace,
    ) -> Result<Option<GroupSnapNamespace>> {
        let SnapshotNamespace::Group {
            pool,
            group_id,
            group_snapshot_id,
        } = ns
        else {
            return Ok(None);
        };
        let io = ioctx_for(self.ioctx(), *pool).await?;
        let b = m::dir_get_name(group_id)?
            .call(&io, GROUP_DIRECTORY)
            .await?;
        let group_name = m::decode_string("dir_get_name", &b)?;
        let b = g::group_snap_get_by_id(group_snapshot_id)?
            .call(&io, &group_header_object(group_id))
            .await?;
        Ok(Some(GroupSnapNamespace {
            pool: *pool,
            pool_name: io.pool_name().to_owned(),
            group_name,
            group_snap_name: g::decode_group_snap(&b)?.name,
        }))
    }

    /// The image's group link (`image_group_get`), `None` when in no group.
    pub(crate) async fn group_spec(&self) -> Result<Option<GroupSpec>> {
        match g::image_group_get()?
            .call(self.ioctx(), &self.header_object())
            .await
        {
            Ok(b) => {
                let spec = g::decode_image_group_get(&b)?;
                Ok(spec.is_valid().then_some(spec))
            }
            Err(e) if e.is(Errno::EOPNOTSUPP) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        assert_eq!(
            member_snap_name(26, "10ab2f", "10cd"),
            ".group.1a_10ab2f_10cd"
        );
        assert_eq!(group_header_object("x1"), "rbd_group_header.x1");
    }
}
