//! What follows a clone (format 2) leaving its parent snapshot's children
//! (librbd/image/DetachChildRequest.cc `clone_v2_get_snapshot` onwards): the parent
//! snapshot, if it was moved to the trash namespace (removed while it still had clones),
//! is removed once its last child is gone; and a parent image that waits in the trash for
//! its clones (`rbd rm` of an image with clones moves it there as source `user_parent`)
//! is removed once its last snapshot went and its deferment is over. librbd only logs
//! what fails in these steps; so do we: the detach itself already succeeded.

use rados::IoCtx;
use tracing::debug;

use crate::cls::snap::SnapshotNamespace;
use crate::cls::trash::{TrashSource, TrashState};
use crate::image::OpenMode;
use crate::pool::Rbd;

/// Cleans up parent `parent_id`'s snapshot `snap_id` (in `pio`) after a child detached.
pub(crate) async fn prune_parent(pio: &IoCtx, parent_id: &str, snap_id: u64) {
    let rbd = Rbd::new(pio.clone());
    let parent = match rbd.open_by_id(parent_id, OpenMode::ReadWrite).await {
        Ok(p) => p,
        Err(e) => {
            debug!(parent_id, error = %e, "detach child: cannot open the parent");
            return;
        }
    };
    let snap = match parent.snap_info_by_id(snap_id).await {
        Ok(s) => s,
        Err(e) => {
            debug!(parent_id, snap_id, error = %e, "detach child: parent snapshot not read");
            let _ = parent.close().await;
            return;
        }
    };
    if !matches!(snap.namespace, SnapshotNamespace::Trash { .. }) || snap.child_count > 0 {
        let _ = parent.close().await;
        return;
    }
    let removed = parent.remove_snap_id(snap).await;
    let last = match &removed {
        Ok(()) => parent.snap_list().await.is_ok_and(|s| s.is_empty()),
        Err(e) => {
            debug!(parent_id, snap_id, error = %e, "detach child: trashed snapshot not removed");
            false
        }
    };
    if let Err(e) = parent.close().await {
        debug!(parent_id, error = %e, "detach child: closing the parent failed");
    }
    if !last {
        return;
    }
    debug!(
        parent_id,
        snap_id, "detach child: removed the parent's trashed snapshot"
    );
    let waiting = match rbd.trash_get(parent_id).await {
        Ok(t) => {
            t.source == TrashSource::UserParent
                && t.state == TrashState::Normal
                && t.deferment_end_time <= crate::trash::now().sec.into()
        }
        Err(_) => false,
    };
    if waiting {
        match rbd.trash_remove(parent_id, false).await {
            Ok(()) => debug!(parent_id, "detach child: removed the parent from the trash"),
            Err(e) => debug!(parent_id, error = %e, "detach child: parent not removed"),
        }
    }
}
