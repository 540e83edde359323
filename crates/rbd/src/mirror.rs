//! Mirroring state as librbd reports it (librbd/api/Mirror.cc `mode_get`,
//! `image_get_info`, `image_get_mode`; librbd/mirror/GetInfoRequest.cc): the pool's mode
//! and an image's record in `rbd_mirroring`, and whether the image is primary (snapshot
//! mode: the newest mirror snapshot; journal mode: the journal's tag owner,
//! `journal.rs`). Disabling before a removal is in `mirror_disable.rs`; enabling,
//! promoting or demoting is not done here.

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

/// Where an image's copy stands in its mirroring (librbd/mirror/Types.h
/// `PromotionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromotionState {
    /// Cannot tell (snapshot mode without a mirror snapshot).
    Unknown,
    /// This copy is the primary one.
    Primary,
    /// A peer's copy is.
    NonPrimary,
    /// None is (demoted).
    Orphan,
}

/// The promotion state the newest mirror snapshot (highest id) gives
/// (GetInfoRequest.cc `calc_promotion_state`); `snaps` are (id, namespace) pairs.
pub fn snapshot_promotion_state<'a>(
    snaps: impl IntoIterator<Item = (u64, &'a SnapshotNamespace)>,
) -> PromotionState {
    let newest = snaps
        .into_iter()
        .filter_map(|(id, ns)| match ns {
            SnapshotNamespace::Other { kind, payload } if *kind == namespace_type::MIRROR => {
                Some((id, payload))
            }
            _ => None,
        })
        .max_by_key(|(id, _)| *id);
    // cls::rbd::MirrorSnapshotState: primary, primary demoted, non-primary, non-primary
    // demoted (a namespace without it decodes nowhere in librbd: unknown here)
    match newest.and_then(|(_, p)| first_byte(p)) {
        None => PromotionState::Unknown,
        Some(MIRROR_SNAPSHOT_STATE_PRIMARY) => PromotionState::Primary,
        Some(2) => PromotionState::NonPrimary,
        Some(_) => PromotionState::Orphan,
    }
}

/// The promotion state a journal's tag owner gives (GetInfoRequest.cc
/// `handle_get_journal_tag_owner`).
pub fn journal_promotion_state(tag_owner: &str) -> PromotionState {
    match tag_owner {
        crate::journal::LOCAL_MIRROR_UUID => PromotionState::Primary,
        crate::journal::ORPHAN_MIRROR_UUID => PromotionState::Orphan,
        _ => PromotionState::NonPrimary,
    }
}

fn first_byte(b: &Bytes) -> Option<u8> {
    b.first().copied()
}

impl Image {
    /// The promotion state of this image under mirroring `record`
    /// (GetInfoRequest): snapshot mode from the newest mirror snapshot, journal mode from
    /// the journal's tag owner; other modes are [`Error::Unsupported`] (EOPNOTSUPP).
    pub async fn mirror_promotion_state(&self, record: &mc::MirrorImage) -> Result<PromotionState> {
        match record.mode {
            MirrorImageMode::Snapshot => {
                let snaps = self.snap_list().await?;
                Ok(snapshot_promotion_state(
                    snaps.iter().map(|s| (s.id, &s.namespace)),
                ))
            }
            MirrorImageMode::Journal => {
                let owner = crate::journal::tag_owner(&self.io, &self.info.id).await?;
                Ok(journal_promotion_state(&owner))
            }
            MirrorImageMode::Other(_) => Err(Error::Unsupported {
                features: 0,
                what: "an unknown mirror image mode",
            }),
        }
    }

    /// The image's mirroring record (`rbd_mirror_image_get_info` and
    /// `rbd_mirror_image_get_mode`): primary when the promotion state is.
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
        let primary = self.mirror_promotion_state(&record).await? == PromotionState::Primary;
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
        use PromotionState::*;
        assert_eq!(snapshot_promotion_state([(1, &user)]), Unknown);
        assert_eq!(snapshot_promotion_state([(4, &p), (5, &user)]), Primary);
        assert_eq!(snapshot_promotion_state([(4, &p), (6, &np)]), NonPrimary);
        assert_eq!(snapshot_promotion_state([(7, &p), (6, &np)]), Primary);
        let demoted = mirror_ns(1);
        assert_eq!(snapshot_promotion_state([(4, &p), (8, &demoted)]), Orphan);
        assert_eq!(journal_promotion_state(""), Primary);
        assert_eq!(journal_promotion_state("<orphan>"), Orphan);
        assert_eq!(journal_promotion_state("5e1c9f3a-peer"), NonPrimary);
        let empty = SnapshotNamespace::Other {
            kind: namespace_type::MIRROR,
            payload: Bytes::new(),
        };
        assert_eq!(snapshot_promotion_state([(1, &empty)]), Unknown);
    }
}
