//! Mirroring state as librbd reports it (librbd/api/Mirror.cc `mode_get`,
//! `image_get_info`, `image_get_mode`; librbd/mirror/GetInfoRequest.cc): the pool's mode
//! and an image's record in `rbd_mirroring`, and whether the image is primary. Enabling,
//! disabling, promoting or demoting is not done here; journal-based mirroring's
//! primary flag needs the journal's tag owner, which this client does not read.

use bytes::Bytes;

use crate::cls::mirror::{self as mc, MirrorImageMode, MirrorImageState, MirrorMode};
use crate::cls::snap::{SnapshotNamespace, namespace_type};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::pool::Rbd;

/// The object holding a pool's mirroring state (`RBD_MIRRORING`).
pub const MIRRORING_OBJECT: &str = "rbd_mirroring";

/// `cls::rbd::MirrorSnapshotState` "primary" (0): the first byte of a mirror snapshot's
/// namespace fields (cls_rbd_types.cc `MirrorSnapshotNamespace::encode`).
const MIRROR_SNAPSHOT_STATE_PRIMARY: u8 = 0;

/// An image's mirroring (`rbd_mirror_image_info_t`, with its mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorImageInfo {
    /// The id shared by every copy of the image ("" when mirroring is disabled).
    pub global_id: String,
    /// State (disabled when the image has no record).
    pub state: MirrorImageState,
    /// Journal or snapshot (journal when disabled, as librbd's default).
    pub mode: MirrorImageMode,
    /// This copy is the primary one.
    pub primary: bool,
}

impl Rbd {
    /// The pool's mirroring mode (`rbd_mirror_mode_get`); disabled when the pool has no
    /// `rbd_mirroring` object.
    pub async fn mirror_mode_get(&self) -> Result<MirrorMode> {
        match mc::mirror_mode_get()?
            .call(self.ioctx(), MIRRORING_OBJECT)
            .await
        {
            Ok(b) => mc::decode_mirror_mode(&b),
            Err(e) if e.is_enoent() => Ok(MirrorMode::Disabled),
            Err(e) => Err(e),
        }
    }
}

/// Whether the newest mirror snapshot (highest id) says primary
/// (GetInfoRequest.cc `calc_promotion_state`); `snaps` are (id, namespace) pairs.
pub fn snapshot_mode_primary<'a>(
    snaps: impl IntoIterator<Item = (u64, &'a SnapshotNamespace)>,
) -> bool {
    let newest = snaps
        .into_iter()
        .filter_map(|(id, ns)| match ns {
            SnapshotNamespace::Other { kind, payload } if *kind == namespace_type::MIRROR => {
                Some((id, payload))
            }
            _ => None,
        })
        .max_by_key(|(id, _)| *id);
    matches!(newest, Some((_, p)) if first_byte(p) == Some(MIRROR_SNAPSHOT_STATE_PRIMARY))
}

fn first_byte(b: &Bytes) -> Option<u8> {
    b.first().copied()
}

impl Image {
    /// The image's mirroring record (`rbd_mirror_image_get_info` and
    /// `rbd_mirror_image_get_mode`). Journal-mode images are refused
    /// ([`Error::Unsupported`]): their primary flag is in the journal.
    pub async fn mirror_image_get_info(&self) -> Result<MirrorImageInfo> {
        let record = match mc::mirror_image_get(&self.info.id)?
            .call(&self.io, MIRRORING_OBJECT)
            .await
        {
            Ok(b) => mc::decode_mirror_image(&b)?,
            Err(e) if e.is_enoent() => {
                return Ok(MirrorImageInfo {
                    global_id: String::new(),
                    state: MirrorImageState::Disabled,
                    mode: MirrorImageMode::Journal,
                    primary: false,
                });
            }
            Err(e) => return Err(e),
        };
        let primary = match record.mode {
            MirrorImageMode::Snapshot => {
                let snaps = self.snap_list().await?;
                snapshot_mode_primary(snaps.iter().map(|s| (s.id, &s.namespace)))
            }
            MirrorImageMode::Journal | MirrorImageMode::Other(_) => {
                return Err(Error::Unsupported {
                    features: crate::features::JOURNALING,
                    what: "reading the primary flag of journal-mode mirroring",
                });
            }
        };
        Ok(MirrorImageInfo {
            global_id: record.global_image_id,
            state: record.state,
            mode: record.mode,
            primary,
        })
    }

    /// The image's mirroring mode (`rbd_mirror_image_get_mode`); an ENOENT error when
    /// mirroring is not enabled on it, as librbd.
    pub async fn mirror_image_get_mode(&self) -> Result<MirrorImageMode> {
        let b = mc::mirror_image_get(&self.info.id)?
            .call(&self.io, MIRRORING_OBJECT)
            .await?;
        Ok(mc::decode_mirror_image(&b)?.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror_ns(state: u8) -> SnapshotNamespace {
        SnapshotNamespace::Other {
            kind: namespace_type::MIRROR,
            payload: Bytes::from(vec![state, 1, 0, 0, 0, 0]),
        }
    }

    #[test]
    fn newest_mirror_snapshot_decides() {
        let user = SnapshotNamespace::User;
        let (p, np) = (mirror_ns(0), mirror_ns(2));
        assert!(!snapshot_mode_primary([(1, &user)]));
        assert!(snapshot_mode_primary([(4, &p), (5, &user)]));
        assert!(!snapshot_mode_primary([(4, &p), (6, &np)]));
        assert!(snapshot_mode_primary([(7, &p), (6, &np)]));
        let empty = SnapshotNamespace::Other {
            kind: namespace_type::MIRROR,
            payload: Bytes::new(),
        };
        assert!(!snapshot_mode_primary([(1, &empty)]));
    }
}
