//! [`Rbd`]: the images of one pool (and namespace): list, remove, rename, pool init and
//! pool metadata. Creation is in `create.rs`, opening in `image.rs`.

use std::collections::BTreeMap;

use bytes::Bytes;
use rados::{Errno, IoCtx};
use tracing::{debug, warn};

use crate::cls::rbd as m;
use crate::error::{Error, Result};
use crate::image::{Image, OpenMode};
use crate::names;

/// How many entries one `dir_list` / `metadata_list` call asks for.
const LIST_PAGE: u64 = 1024;

/// What `rbd_info` holds once the pool was checked (ValidatePoolRequest.cc).
const OVERWRITE_VALIDATED: &[u8] = b"overwrite validated";
/// What it holds between the snapshot check and the overwrite check.
const VALIDATE: &[u8] = b"validate";

/// An image in a pool's directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageSpec {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
}

/// The images of a pool, a directory page at a time ([`Rbd::images`]).
#[derive(Debug)]
pub struct ImageIter {
    io: IoCtx,
    /// The last name returned by the directory (the next page starts after it).
    after: String,
    page: std::collections::VecDeque<ImageSpec>,
    /// The directory has no more pages.
    done: bool,
}

impl ImageIter {
    /// The next image, `None` after the last one. Cancel-safe: a page is only taken
    /// into the iterator once its read completed.
    pub async fn next(&mut self) -> Result<Option<ImageSpec>> {
        if self.page.is_empty() && !self.done {
            let page = match m::dir_list(&self.after, LIST_PAGE)?
                .call(&self.io, names::DIRECTORY)
                .await
            {
                Ok(b) => m::decode_dir_list(&b)?,
                // no directory yet: no images
                Err(e) if e.is_enoent() => BTreeMap::new(),
                Err(e) => return Err(e),
            };
            self.done = (page.len() as u64) < LIST_PAGE;
            if let Some(last) = page.keys().next_back() {
                self.after.clone_from(last);
            }
            self.page
                .extend(page.into_iter().map(|(name, id)| ImageSpec { name, id }));
        }
        Ok(self.page.pop_front())
    }
}

/// The RBD images of one pool and namespace (librbd's `RBD` calls with an `IoCtx`).
#[derive(Debug, Clone)]
pub struct Rbd {
    io: IoCtx,
}

impl Rbd {
    /// Images in the pool (and namespace) of `io`.
    pub fn new(io: IoCtx) -> Rbd {
        Rbd { io }
    }

    /// The pool handle.
    pub fn ioctx(&self) -> &IoCtx {
        &self.io
    }

    /// Every image, ordered by name (`rbd_list2`).
    pub async fn list(&self) -> Result<Vec<ImageSpec>> {
        let mut out = Vec::new();
        let mut images = self.images();
        while let Some(image) = images.next().await? {
            out.push(image);
        }
        Ok(out)
    }

    /// The images one at a time, ordered by name, read from the directory a page at a
    /// time (python's `RBD.list2()` iterator): pools with very many images are listed
    /// without holding them all.
    pub fn images(&self) -> ImageIter {
        ImageIter {
            io: self.io.clone(),
            after: String::new(),
            page: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// The id of image `name` (from `rbd_id.<name>`, else the directory).
    pub async fn image_id(&self, name: &str) -> Result<String> {
        match m::get_id()?.call(&self.io, &names::id_object(name)).await {
            Ok(b) => return m::decode_string("get_id", &b),
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        match m::dir_get_id(name)?.call(&self.io, names::DIRECTORY).await {
            Ok(b) => m::decode_string("dir_get_id", &b),
            Err(e) if e.is_enoent() => Err(Error::ImageNotFound(name.into())),
            Err(e) => Err(e),
        }
    }

    /// The name of the image with id `id` (`dir_get_name`).
    pub async fn image_name(&self, id: &str) -> Result<String> {
        match m::dir_get_name(id)?.call(&self.io, names::DIRECTORY).await {
            Ok(b) => m::decode_string("dir_get_name", &b),
            Err(e) if e.is_enoent() => Err(Error::ImageNotFound(format!("with id {id}"))),
            Err(e) => Err(e),
        }
    }

    /// Opens image `name`.
    pub async fn open(&self, name: &str, mode: OpenMode) -> Result<Image> {
        let id = self.image_id(name).await?;
        Image::open(self.io.clone(), name.to_owned(), id, mode).await
    }

    /// Opens image `name` at user snapshot `snap` (read-only; `rbd_open_read_only` with a
    /// snapshot name).
    pub async fn open_at_snap(&self, name: &str, snap: &str) -> Result<Image> {
        let mut image = self.open(name, OpenMode::ReadOnly).await?;
        image.set_snap(Some(snap)).await?;
        Ok(image)
    }

    /// Opens image `name` at snapshot id `snap` (read-only; `rbd_open_by_id_read_only`
    /// style with a snapshot id).
    pub async fn open_at_snap_id(&self, name: &str, snap: u64) -> Result<Image> {
        let mut image = self.open(name, OpenMode::ReadOnly).await?;
        image.set_snap_by_id(Some(snap)).await?;
        Ok(image)
    }

    /// Opens the image with id `id` (also in the trash, under its trash entry's name, as
    /// librbd/image/OpenRequest.cc falls back to the trash).
    pub async fn open_by_id(&self, id: &str, mode: OpenMode) -> Result<Image> {
        let name = match self.image_name(id).await {
            Ok(n) => n,
            Err(e) if e.is(rados::Errno::ENOENT) => match self.trash_get(id).await {
                Ok(t) => t.name,
                Err(_) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        Image::open(self.io.clone(), name, id.to_owned(), mode).await
    }

    /// Removes image `name` and its data (`rbd_remove`, librbd/image/RemoveRequest.cc):
    /// refused while someone watches its header ([`Error::HasWatchers`]) or it has
    /// snapshots ([`Error::HasSnapshots`]; mirror snapshots do not count: mirroring is
    /// disabled first, EINVAL when the image is not primary). Its journal goes too.
    pub async fn remove(&self, name: &str) -> Result<()> {
        self.remove_with_progress(name, |_, _| {}).await
    }

    /// [`Rbd::remove`] with `progress(done, total)` over the image's data objects
    /// (`rbd_remove_with_progress`). With a valid object map only the objects it says
    /// may exist are removed.
    pub async fn remove_with_progress(
        &self,
        name: &str,
        progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let id = self.image_id(name).await?;
        match Image::open(
            self.io.clone(),
            name.to_owned(),
            id.clone(),
            OpenMode::ReadOnly,
        )
        .await
        {
            Ok(image) => {
                image.remove_checked_data(progress).await?;
                // a clone leaves its parent's children list (librbd RemoveRequest)
                image.detach_child().await?;
            }
            // a half-created image: no header, remove what is left
            Err(e) if e.is_enoent() => warn!(name, id, "image header missing; removing the rest"),
            Err(e) => return Err(e),
        }
        ignore_enoent(self.io.remove(&names::header_object(&id)).await)?;
        // RemoveRequest::send_journal_remove
        crate::journal::remove_journal(&self.io, &id).await?;
        ignore_enoent(self.io.remove(&names::object_map_object(&id)).await)?;
        ignore_enoent(self.io.remove(&names::id_object(name)).await)?;
        match m::dir_remove_image(name, &id)?
            .call(&self.io, names::DIRECTORY)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_enoent() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Renames image `src` to `dest` (`rbd_rename`): a new id object, the directory
    /// entry, then the old id object goes.
    pub async fn rename(&self, src: &str, dest: &str) -> Result<()> {
        if dest.is_empty() {
            return Err(Error::InvalidArgument("image name must not be empty"));
        }
        let src_obj = names::id_object(src);
        let content = match self.io.read(&src_obj, 0, 0).await {
            Ok(b) => b,
            Err(e) if e.is(Errno::ENOENT) => return Err(Error::ImageNotFound(src.into())),
            Err(e) => return Err(e.into()),
        };
        let id = m::decode_string("get_id", &content)?;
        let dest_obj = names::id_object(dest);
        match self
            .io
            .op(&dest_obj)
            .create(true)
            .write_full(content)
            .submit()
            .await
        {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => return Err(Error::ImageExists(dest.into())),
            Err(e) => return Err(e.into()),
        }
        let rename = m::dir_rename_image(src, dest, &id)?;
        if let Err(e) = rename.call(&self.io, names::DIRECTORY).await {
            let _ = self.io.remove(&dest_obj).await;
            return Err(match e {
                e if e.is(Errno::EEXIST) => Error::ImageExists(dest.into()),
                e => e,
            });
        }
        ignore_enoent(self.io.remove(&src_obj).await)?;
        debug!(src, dest, id, "renamed");
        Ok(())
    }

    /// Prepares the pool for RBD (`rbd pool init`, librbd api/Pool.cc `init`): enables the
    /// `rbd` application, creates the trash object and validates the pool.
    pub async fn pool_init(&self, force: bool) -> Result<()> {
        let rados = self.io.rados();
        rados
            .application_enable(self.io.pool_name(), "rbd", force)
            .await?;
        let io = self.io.clone().with_namespace("");
        io.create(names::TRASH, false).await?;
        validate_pool(&io).await
    }

    /// A pool metadata value (`rbd pool metadata get`; stored on `rbd_info`).
    pub async fn pool_metadata_get(&self, key: &str) -> Result<Bytes> {
        metadata_get(&self.io, names::INFO, key).await
    }

    /// Sets a pool metadata value; a `conf_<option>` key is validated and announced as
    /// [`Rbd::config_set`] does.
    pub async fn pool_metadata_set(&self, key: &str, value: &[u8]) -> Result<()> {
        let option = crate::image::config_option(key);
        if let Some(option) = option {
            crate::config::validate(option, value, false)?;
        }
        metadata_set(&self.io, names::INFO, key, value).await?;
        if option.is_some() {
            self.bump_pool_override_timestamp().await;
        }
        Ok(())
    }

    /// Removes a pool metadata key.
    pub async fn pool_metadata_remove(&self, key: &str) -> Result<()> {
        metadata_remove(&self.io, names::INFO, key).await?;
        if crate::image::config_option(key).is_some() {
            self.bump_pool_override_timestamp().await;
        }
        Ok(())
    }

    /// Every pool metadata entry.
    pub async fn pool_metadata_list(&self) -> Result<BTreeMap<String, Bytes>> {
        match metadata_list(&self.io, names::INFO).await {
            Err(e) if e.is_enoent() => Ok(BTreeMap::new()),
            other => other,
        }
    }
}

fn ignore_enoent(r: rados::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.is(Errno::ENOENT) => Ok(()),
        other => Ok(other?),
    }
}

/// Checks (once per pool) that it can hold images (ValidatePoolRequest.cc): self-managed
/// snapshots work and objects can be overwritten; the verdict is kept in `rbd_info` of
/// the default namespace.
pub(crate) async fn validate_pool(io: &IoCtx) -> Result<()> {
    let io = io.clone().with_namespace("");
    let state = match io.read(names::INFO, 0, 0).await {
        Ok(b) => b,
        Err(e) if e.is(Errno::ENOENT) => Bytes::new(),
        Err(e) => return Err(e.into()),
    };
    if state == OVERWRITE_VALIDATED {
        return Ok(());
    }
    if state != VALIDATE {
        // allocating a self-managed snapshot puts a new pool in self-managed snaps mode
        let snap = match io.create_selfmanaged_snap().await {
            Ok(s) => s,
            Err(e) if e.is(Errno::EINVAL) => {
                return Err(Error::PoolNotSupported(io.pool_name().to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let written = io
            .op(names::INFO)
            .create(true)
            .write(0, Bytes::from_static(VALIDATE))
            .submit()
            .await;
        if let Err(e) = io.remove_selfmanaged_snap(snap).await {
            warn!(error = %e, "failed to remove the validation snapshot");
        }
        match written {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => {}
            Err(e) if e.is(Errno::EOPNOTSUPP) => {
                return Err(Error::PoolNotSupported(io.pool_name().to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    match io
        .write(names::INFO, 0, Bytes::from_static(OVERWRITE_VALIDATED))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is(Errno::EOPNOTSUPP) => {
            Err(Error::PoolNotSupported(io.pool_name().to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn metadata_get(io: &IoCtx, oid: &str, key: &str) -> Result<Bytes> {
    match m::metadata_get(key)?.call(io, oid).await {
        Ok(b) => m::decode_metadata_value(&b),
        Err(e) if e.is_enoent() => Err(Error::MetadataNotFound(key.into())),
        Err(e) => Err(e),
    }
}

pub(crate) async fn metadata_set(io: &IoCtx, oid: &str, key: &str, value: &[u8]) -> Result<()> {
    let mut entries = BTreeMap::new();
    entries.insert(key.to_owned(), Bytes::copy_from_slice(value));
    m::metadata_set(&entries)?.call(io, oid).await.map(|_| ())
}

pub(crate) async fn metadata_remove(io: &IoCtx, oid: &str, key: &str) -> Result<()> {
    // cls_rbd removes a missing key silently; librbd looks first and says ENOENT
    metadata_get(io, oid, key).await?;
    match m::metadata_remove(key)?.call(io, oid).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_enoent() => Err(Error::MetadataNotFound(key.into())),
        Err(e) => Err(e),
    }
}

pub(crate) async fn metadata_list(io: &IoCtx, oid: &str) -> Result<BTreeMap<String, Bytes>> {
    let mut out = BTreeMap::new();
    let mut after = String::new();
    loop {
        let b = m::metadata_list(&after, LIST_PAGE)?.call(io, oid).await?;
        let page = m::decode_metadata_list(&b)?;
        let full = page.len() as u64 >= LIST_PAGE;
        if let Some(last) = page.keys().next_back() {
            after.clone_from(last);
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}
