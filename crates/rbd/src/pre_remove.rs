//! What must hold before an image's data goes (librbd/image/PreRemoveRequest.cc, the same
//! in Pacific, Reef and Tentacle): no snapshots but trash-namespace ones, no watchers, no
//! group; then the trash-namespace snapshots (kept for clones that outlived their parent
//! snapshot) are removed, those clones still use staying behind, which refuses the
//! removal (ECHILD there, returned as ENOTEMPTY by image/RemoveRequest.cc).

use rados::Errno;
use tracing::debug;

use crate::cls::snap::SnapshotNamespace;
use crate::error::{Error, Result};
use crate::image::Image;

impl Image {
    /// PreRemoveRequest `check_image_snaps`, `check_image_watchers`, `check_group`,
    /// `remove_snapshot`: [`Error::HasSnapshots`] (ENOTEMPTY) for any snapshot outside
    /// the trash namespace, [`Error::HasWatchers`], [`Error::ImageInGroup`]; then every
    /// trash-namespace snapshot without clones is removed, and ENOTEMPTY returned when
    /// some are still used by clones.
    pub(crate) async fn pre_remove(&self) -> Result<()> {
        let snaps = self.snap_list().await?;
        // mirror snapshots are ignored: the mirroring's disable removes them
        // (`ignore_snapshot`)
        let (trash, kept): (Vec<_>, Vec<_>) = snaps
            .into_iter()
            .filter(|s| {
                !matches!(&s.namespace, SnapshotNamespace::Other { kind, .. }
                    if *kind == crate::cls::snap::namespace_type::MIRROR)
            })
            .partition(|s| matches!(s.namespace, SnapshotNamespace::Trash { .. }));
        if !kept.is_empty() {
            return Err(Error::HasSnapshots(kept.len()));
        }
        let watchers = self.io.list_watchers(&self.header_object()).await?;
        if !watchers.is_empty() {
            return Err(Error::HasWatchers(watchers.len()));
        }
        if self.group_spec().await?.is_some() {
            return Err(Error::ImageInGroup(self.info.name.clone()));
        }
        let mut attached = 0;
        for snap in trash {
            let id = snap.id;
            match self.remove_snap_id(snap).await {
                Ok(()) | Err(Error::SnapshotNotFound(_)) => {
                    debug!(image = self.info.name, id, "pruned a trash snapshot");
                }
                // a clone still uses it: librbd skips it and fails in the end
                Err(e) if e.is(Errno::EBUSY) => attached += 1,
                Err(e) => return Err(e),
            }
        }
        if attached > 0 {
            return Err(Error::HasSnapshots(attached));
        }
        Ok(())
    }
}
