//! Live-migration state as `rbd status` and `rbd_migration_status` report it
//! (librbd/api/Migration.cc `open_images` and `status`): read from the `migration`
//! record of the destination's header (and the source's, to find the destination).
//! Preparing, executing, committing or aborting migrations is not done here.

use rados::IoCtx;

use crate::cls::mirror::{self as mc, MigrationHeaderType, MigrationSpec, MigrationState};
use crate::cls::trash::TrashSource;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::names;
use crate::pool::Rbd;

/// A migration's two images and state (`rbd_image_migration_status_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The source's pool id (-1 for an import from a `source_spec`).
    pub source_pool_id: i64,
    /// The source's namespace.
    pub source_pool_namespace: String,
    /// The source's name.
    pub source_image_name: String,
    /// The source's id ("" for a format-1 source).
    pub source_image_id: String,
    /// The JSON source spec of an import-only migration ("" otherwise).
    pub source_spec: String,
    /// The destination's pool id.
    pub dest_pool_id: i64,
    /// The destination's namespace.
    pub dest_pool_namespace: String,
    /// The destination's name.
    pub dest_image_name: String,
    /// The destination's id.
    pub dest_image_id: String,
    /// The state (the destination's record holds it, as librbd reads it).
    pub state: MigrationState,
    /// Free-form state text.
    pub state_description: String,
}

/// The `migration` record of image `id`'s header; `None` when it has none.
pub(crate) async fn read_migration_spec(io: &IoCtx, id: &str) -> Result<Option<MigrationSpec>> {
    match mc::migration_get()?
        .call(io, &names::header_object(id))
        .await
    {
        Ok(b) => Ok(Some(mc::decode_migration_spec(&b)?)),
        // cls_rbd.cc read_migration: EINVAL when the MIGRATING feature is not set
        Err(e) if e.is(rados::Errno::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn other_pool(io: &IoCtx, spec: &MigrationSpec) -> Result<IoCtx> {
    let other = if spec.pool_id == io.pool_id() {
        io.clone()
    } else {
        io.rados().ioctx_by_id(spec.pool_id).await?
    };
    Ok(other.with_namespace(spec.pool_namespace.clone()))
}

impl Rbd {
    /// The migration of image `name` (`rbd_migration_status`): `name` may be the
    /// destination, or the source (then found in the trash, where `migration prepare`
    /// moved it). [`Error::NotMigrating`] when it is neither.
    pub async fn migration_status(&self, name: &str) -> Result<MigrationStatus> {
        let io = self.ioctx();
        let id = match self.image_id(name).await {
            Ok(id) => id,
            Err(Error::ImageNotFound(_)) => self
                .trash_list()
                .await?
                .into_iter()
                .find(|e| e.source == TrashSource::Migration && e.name == name)
                .map(|e| e.id)
                .ok_or_else(|| Error::ImageNotFound(name.to_owned()))?,
            Err(e) => return Err(e),
        };
        let spec = read_migration_spec(io, &id)
            .await?
            .ok_or_else(|| Error::NotMigrating(name.to_owned()))?;
        let (dst_io, dst_name, dst_id, dst_spec) = match spec.header_type {
            MigrationHeaderType::Destination => (io.clone(), name.to_owned(), id, spec),
            MigrationHeaderType::Source => {
                let dst_io = other_pool(io, &spec).await?;
                let dst_spec = read_migration_spec(&dst_io, &spec.image_id)
                    .await?
                    .ok_or_else(|| Error::NotMigrating(spec.image_name.clone()))?;
                (dst_io, spec.image_name, spec.image_id, dst_spec)
            }
            MigrationHeaderType::Other(_) => {
                return Err(Error::InvalidArgument("unexpected migration header type"));
            }
        };
        // Migration.cc: the source is what the destination's record names; librbd rebuilds
        // the state from the destination's record too
        Ok(MigrationStatus {
            source_pool_id: dst_spec.pool_id,
            source_pool_namespace: dst_spec.pool_namespace,
            source_image_name: dst_spec.image_name,
            source_image_id: dst_spec.image_id,
            source_spec: dst_spec.source_spec,
            dest_pool_id: dst_io.pool_id(),
            dest_pool_namespace: dst_io.namespace().to_owned(),
            dest_image_name: dst_name,
            dest_image_id: dst_id,
            state: dst_spec.state,
            state_description: dst_spec.state_description,
        })
    }
}

impl Image {
    /// This image's migration record (`cls_client::migration_get`); `None` when it is not
    /// part of a migration.
    pub async fn migration_spec(&self) -> Result<Option<MigrationSpec>> {
        read_migration_spec(&self.io, &self.info.id).await
    }

    /// The migration this image is the destination or source of (`rbd status`'s
    /// "Migration:" block); `None` without the MIGRATING feature.
    pub async fn migration_status(&self) -> Result<Option<MigrationStatus>> {
        if self.info.features & crate::features::MIGRATING == 0 {
            return Ok(None);
        }
        Rbd::new(self.io.clone())
            .migration_status(&self.info.name)
            .await
            .map(Some)
    }
}
