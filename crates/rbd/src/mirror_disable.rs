//! Disabling an image's mirroring before it leaves: librbd/mirror/DisableRequest.cc with
//! force = false and remove = true, as api/Trash.cc `move` (which `rbd rm` goes through)
//! runs it. The image must be primary (or of unknown promotion: snapshot mode before
//! its first mirror snapshot), else EINVAL; its record in `rbd_mirroring` turns
//! DISABLING (ImageStateUpdateRequest, watchers notified), snapshot mode's mirror
//! snapshots are removed with their image-state objects, journal mode's mirror peer
//! clients (rbd-mirror registers one per peer cluster) are unregistered from the
//! journal after the snapshots their image syncs hold, and the record is removed
//! (ImageRemoveRequest, watchers told DISABLED).

use std::time::Duration;

use bytes::Bytes;
use rados::{Errno, IoCtx};
use tracing::{debug, warn};

use crate::cls::mirror::{self as mc, MirrorImage, MirrorImageMode, MirrorImageState};
use crate::cls::snap::{SnapshotNamespace, namespace_type};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::journal;
use crate::mirror::{MIRRORING_OBJECT, PromotionState};

/// `MirroringWatcher` notify timeout (MirroringWatcher.cc `NOTIFY_TIMEOUT_MS`).
const MIRRORING_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// `mirroring_watcher::NOTIFY_OP_IMAGE_UPDATED`.
const NOTIFY_OP_IMAGE_UPDATED: u32 = 1;

/// Rounds of listing the journal's clients and unregistering the mirror peers among
/// them (librbd lists again after each round until none is left; a peer that keeps
/// registering again is an error here rather than a loop without end).
const PEER_UNREGISTER_ROUNDS: usize = 8;

/// Prefix of the objects holding a mirror snapshot's image state
/// (mirror/snapshot/Utils.cc `IMAGE_STATE_OBJECT_PREFIX`).
const IMAGE_STATE_OBJECT_PREFIX: &str = "rbd_mirror_snapshot.";

/// The `rbd_mirroring` notify of an image's new mirroring state
/// (mirroring_watcher/Types.cc: ENCODE_START(1, 1), le32 op, `ImageUpdatedPayload`:
/// le32 state, image id, global image id).
pub(crate) fn image_updated_message(
    state: MirrorImageState,
    image_id: &str,
    global_image_id: &str,
) -> Bytes {
    let mut w = denc::Writer::new();
    w.versioned(1, 1, |w| {
        w.put_u32(NOTIFY_OP_IMAGE_UPDATED);
        w.put_u32(u32::from(state.code()));
        w.put(image_id);
        w.put(global_image_id);
    });
    Bytes::from(w.finish().unwrap_or_default())
}

/// Tells `rbd_mirroring`'s watchers (rbd-mirror); a failure is only logged, as librbd.
async fn notify_image_updated(io: &IoCtx, state: MirrorImageState, record: &MirrorImage, id: &str) {
    let msg = image_updated_message(state, id, &record.global_image_id);
    if let Err(e) = io
        .notify(MIRRORING_OBJECT, msg, MIRRORING_NOTIFY_TIMEOUT)
        .await
    {
        warn!(id, error = %e, "failed to send the mirroring update notification");
    }
}

/// The objects of snapshot `snap_id`'s image state (its first holds an
/// `ImageStateHeader` with their count).
fn image_state_object(image_id: &str, snap_id: u64, index: u32) -> String {
    format!("{IMAGE_STATE_OBJECT_PREFIX}{image_id}.{snap_id}.{index}")
}

/// The object count of an image state's header (mirror/snapshot/Types.cc
/// `ImageStateHeader::decode`: DECODE_START(1), le32 count); 1 when it does not decode,
/// as librbd ("still try to remove it").
fn image_state_object_count(data: &[u8]) -> u32 {
    let mut r = denc::Reader::new(data);
    match r.versioned("librbd::mirror::snapshot::ImageStateHeader", 1, |_, r| {
        r.u32()
    }) {
        Ok(n) if n > 0 => n,
        _ => 1,
    }
}

impl Image {
    /// Removes mirror snapshot `snap_id`'s image-state objects
    /// (mirror/snapshot/RemoveImageStateRequest.cc): none is fine.
    pub(crate) async fn remove_mirror_image_state(&self, snap_id: u64) -> Result<()> {
        let first = image_state_object(&self.info.id, snap_id, 0);
        let head = match self.io.read(&first, 0, 0).await {
            Ok(b) => b,
            Err(e) if e.is(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for index in (0..image_state_object_count(&head)).rev() {
            let oid = image_state_object(&self.info.id, snap_id, index);
            match self.io.remove(&oid).await {
                Err(e) if !e.is(Errno::ENOENT) => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// DisableRequest(force = false, remove = true): nothing when mirroring is not
    /// enabled on the image; EINVAL when it is not primary; EOPNOTSUPP for unknown modes.
    pub(crate) async fn disable_mirroring_for_removal(&self) -> Result<()> {
        let id = self.info.id.as_str();
        let record = match mc::mirror_image_get(id)?
            .call(&self.io, MIRRORING_OBJECT)
            .await
        {
            Ok(b) => mc::decode_mirror_image(&b)?,
            Err(e) if e.is_enoent() => return Ok(()),
            Err(e) => return Err(e),
        };
        let promotion = self.mirror_promotion_state(&record).await?;
        if !matches!(promotion, PromotionState::Primary | PromotionState::Unknown) {
            return Err(Error::InvalidArgument(
                "mirroring can only be disabled on a primary image",
            ));
        }
        // ImageStateUpdateRequest
        if record.state != MirrorImageState::Disabling {
            let disabling = MirrorImage {
                state: MirrorImageState::Disabling,
                ..record.clone()
            };
            mc::mirror_image_set(id, &disabling)?
                .call(&self.io, MIRRORING_OBJECT)
                .await?;
            notify_image_updated(&self.io, MirrorImageState::Disabling, &record, id).await;
        }
        match record.mode {
            MirrorImageMode::Snapshot => self.remove_mirror_snapshots().await?,
            MirrorImageMode::Journal => self.unregister_mirror_peers().await?,
            MirrorImageMode::Other(_) => {
                return Err(Error::Unsupported {
                    features: 0,
                    what: "an unknown mirror image mode",
                });
            }
        }
        // ImageRemoveRequest
        match mc::mirror_image_remove(id)?
            .call(&self.io, MIRRORING_OBJECT)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        notify_image_updated(&self.io, MirrorImageState::Disabled, &record, id).await;
        debug!(image = self.info.name, id, "mirroring disabled");
        Ok(())
    }

    /// DisableRequest `send_get_clients` and what follows for journal mode: each mirror
    /// peer client's sync-point snapshots are removed (gone already is fine), then the
    /// client is unregistered; the clients are listed again until no peer is left.
    async fn unregister_mirror_peers(&self) -> Result<()> {
        let id = self.info.id.as_str();
        for _ in 0..PEER_UNREGISTER_ROUNDS {
            let mut peers = Vec::new();
            for c in journal::client_list(&self.io, id).await? {
                if let Some(points) = journal::decode_mirror_peer_sync_points(&c.data)? {
                    peers.push((c.id, points));
                }
            }
            if peers.is_empty() {
                return Ok(());
            }
            for (client, points) in peers {
                for point in points {
                    self.remove_sync_point_snap(&point).await?;
                }
                match journal::client_unregister(&self.io, id, &client).await {
                    Ok(()) => debug!(id, client, "unregistered a journal mirror peer"),
                    Err(e) if e.is(Errno::ENOENT) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Err(Error::Rados(rados::Error::Osd {
            errno: Errno::EBUSY,
            failed_op: None,
        }))
    }

    /// Removes a mirror peer's sync-point snapshot, found by namespace and name.
    async fn remove_sync_point_snap(&self, point: &journal::MirrorPeerSyncPoint) -> Result<()> {
        let snaps = self.snap_list().await?;
        let Some(snap) = snaps
            .into_iter()
            .find(|s| s.name == point.snap_name && s.namespace == point.namespace)
        else {
            return Ok(());
        };
        match self.remove_snap_id(snap).await {
            Ok(()) | Err(Error::SnapshotNotFound(_)) => Ok(()),
            Err(e) if e.is(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// DisableRequest `remove_mirror_snapshots`: every snapshot of the mirror namespace.
    async fn remove_mirror_snapshots(&self) -> Result<()> {
        for snap in self.snap_list().await? {
            let mirror = matches!(
                &snap.namespace,
                SnapshotNamespace::Other { kind, .. } if *kind == namespace_type::MIRROR
            );
            if !mirror {
                continue;
            }
            match self.remove_snap_id(snap).await {
                Ok(()) | Err(Error::SnapshotNotFound(_)) => {}
                Err(e) if e.is(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_updated_layout() {
        let m = image_updated_message(MirrorImageState::Disabling, "ab", "g");
        let mut want = vec![1, 1];
        want.extend(19u32.to_le_bytes());
        want.extend(1u32.to_le_bytes());
        want.extend(0u32.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(b"ab");
        want.extend(1u32.to_le_bytes());
        want.extend(b"g");
        assert_eq!(&m[..], &want[..]);
    }

    #[test]
    fn image_state_header_counts() {
        assert_eq!(image_state_object_count(&[1, 1, 4, 0, 0, 0, 3, 0, 0, 0]), 3);
        assert_eq!(image_state_object_count(&[1, 1, 4, 0, 0, 0, 0, 0, 0, 0]), 1);
        assert_eq!(image_state_object_count(b"junk"), 1);
        assert_eq!(
            image_state_object_name_check(),
            "rbd_mirror_snapshot.abc.7.2"
        );
    }

    fn image_state_object_name_check() -> String {
        image_state_object("abc", 7, 2)
    }
}
