//! Turning image features on and off (`rbd_update_features`; librbd/Operations.cc
//! `update_features`, operation/EnableFeaturesRequest.cc, DisableFeaturesRequest.cc).
//!
//! What can change: exclusive-lock, object-map and fast-diff both ways, deep-flatten off.
//! Journaling is refused ([`Error::Unsupported`]: its journal is not kept by this client).
//! Enabling object-map or fast-diff creates the head's and every snapshot's map, flagged
//! invalid as librbd leaves them, and then, unlike librbd, rebuilds them from the objects'
//! clone lists and clears the flags (librbd leaves that to `rbd object-map rebuild`).

use tracing::info;

use crate::cls::rbd as m;
use crate::error::{Error, Result};
use crate::exclusive_lock::ExclusiveLock;
use crate::features::{self, flags};
use crate::image::{Image, OpenMode};

/// Features that may be turned on or off (`RBD_FEATURES_MUTABLE`).
pub const MUTABLE: u64 = features::EXCLUSIVE_LOCK
    | features::OBJECT_MAP
    | features::FAST_DIFF
    | features::JOURNALING
    | features::NON_PRIMARY
    | features::DIRTY_CACHE;

/// Mutable features only librbd itself may change (`RBD_FEATURES_MUTABLE_INTERNAL`).
pub const MUTABLE_INTERNAL: u64 = features::NON_PRIMARY | features::DIRTY_CACHE;

/// Features that may only be turned off (`RBD_FEATURES_DISABLE_ONLY`).
pub const DISABLE_ONLY: u64 = features::DEEP_FLATTEN;

/// What [`Image::disable_features`] can turn off.
pub const DISABLE_SUPPORTED: u64 =
    features::EXCLUSIVE_LOCK | features::OBJECT_MAP | features::FAST_DIFF | DISABLE_ONLY;

/// What [`Image::enable_features`] can turn on.
pub const ENABLE_SUPPORTED: u64 =
    features::EXCLUSIVE_LOCK | features::OBJECT_MAP | features::FAST_DIFF;

/// The operation features librbd knows (`RBD_OPERATION_FEATURES_ALL`): an image with
/// others refuses maintenance operations (`operations_disabled`: EROFS).
pub const OP_FEATURES_KNOWN: u64 = 0xf;

/// A validated feature update: what `set_features` and `set_flags` get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureUpdate {
    /// Turning on (true) or off.
    pub enable: bool,
    /// The features that change (object-map and fast-diff interlocked).
    pub changed: u64,
    /// The image's features afterwards.
    pub new_features: u64,
    /// The `set_features` mask (the changed bits and those they depend on).
    pub features_mask: u64,
    /// The flags set (enable) or cleared (disable) on the head and every snapshot.
    pub flags: u64,
}

/// Validates turning `requested` on (`enable`) or off on an image with `current`
/// features, as librbd does (Operations::update_features, then the Enable/Disable
/// requests' dependency checks); errors are EINVAL with librbd's messages.
pub fn plan_update(current: u64, requested: u64, enable: bool) -> Result<FeatureUpdate> {
    let allowed = if enable {
        MUTABLE
    } else {
        MUTABLE | DISABLE_ONLY
    };
    if requested & !allowed != 0 || requested & MUTABLE_INTERNAL != 0 {
        return Err(Error::InvalidArgument("cannot update immutable features"));
    }
    let om_fd = features::OBJECT_MAP | features::FAST_DIFF;
    let mut req = requested;
    let set_om = req & features::OBJECT_MAP != 0;
    let set_fd = req & features::FAST_DIFF != 0;
    let has_om = current & features::OBJECT_MAP != 0;
    let has_fd = current & features::FAST_DIFF != 0;
    if (enable && ((set_om && !has_fd) || (set_fd && !has_om))) || (!enable && set_om && has_fd) {
        req |= om_fd;
    }
    if req == 0 {
        return Err(Error::InvalidArgument(
            "update requires at least one feature",
        ));
    }
    if enable && req & current != 0 {
        return Err(Error::InvalidArgument(
            "one or more requested features are already enabled",
        ));
    }
    if !enable && req & !current != 0 {
        return Err(Error::InvalidArgument(
            "one or more requested features are already disabled",
        ));
    }
    let mut changed = if enable {
        req & !current
    } else {
        req & current
    };
    if changed & om_fd != 0 {
        changed |= om_fd;
    }
    let mut mask = changed;
    let mut flag_bits = 0;
    let new_features;
    if enable {
        new_features = current | changed;
        if changed & features::OBJECT_MAP != 0 {
            if new_features & features::EXCLUSIVE_LOCK == 0 {
                return Err(Error::InvalidArgument(
                    "cannot enable object-map. exclusive-lock must be enabled before \
                     enabling object-map.",
                ));
            }
            flag_bits |= flags::OBJECT_MAP_INVALID;
            mask |= features::EXCLUSIVE_LOCK | features::FAST_DIFF;
        }
        if changed & features::FAST_DIFF != 0 {
            flag_bits |= flags::FAST_DIFF_INVALID;
            mask |= features::EXCLUSIVE_LOCK | features::OBJECT_MAP;
        }
        if changed & features::JOURNALING != 0 && new_features & features::EXCLUSIVE_LOCK == 0 {
            return Err(Error::InvalidArgument(
                "cannot enable journaling. exclusive-lock must be enabled before \
                 enabling journaling.",
            ));
        }
    } else {
        new_features = current & !changed;
        if changed & features::EXCLUSIVE_LOCK != 0 {
            if new_features & (features::OBJECT_MAP | features::JOURNALING) != 0 {
                return Err(Error::InvalidArgument(
                    "cannot disable exclusive-lock. object-map or journaling must be \
                     disabled before disabling exclusive-lock.",
                ));
            }
            mask |= om_fd | features::JOURNALING;
        }
        if changed & features::FAST_DIFF != 0 {
            flag_bits |= flags::FAST_DIFF_INVALID;
        }
        if changed & features::OBJECT_MAP != 0 {
            flag_bits |= flags::OBJECT_MAP_INVALID;
        }
    }
    if changed & features::JOURNALING != 0 {
        return Err(Error::Unsupported {
            features: features::JOURNALING,
            what: "enabling or disabling them (the journal is not kept by this client)",
        });
    }
    Ok(FeatureUpdate {
        enable,
        changed,
        new_features,
        features_mask: mask,
        flags: flag_bits,
    })
}

impl Image {
    /// Turns features on (`rbd feature enable`, `rbd_update_features(.., true)`); see
    /// [`plan_update`] for what is refused. Enabling object-map (or fast-diff, which
    /// brings object-map) needs exclusive-lock, creates and rebuilds the object maps of
    /// the head and every snapshot (`progress(done, total)` per object scanned).
    pub async fn enable_features(
        &mut self,
        mask: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        self.update_features(mask, true, &mut progress).await
    }

    /// Turns features off (`rbd feature disable`): exclusive-lock (only with object-map
    /// and journaling off or going off in the same call), object-map and fast-diff (their
    /// map objects are removed), deep-flatten.
    pub async fn disable_features(&mut self, mask: u64) -> Result<()> {
        self.update_features(mask, false, &mut |_, _| {}).await
    }

    /// `rbd_update_features`: the lock taken (writes stopped) when the image has one,
    /// the header changed, the other clients told (HEADER_UPDATE), and this handle's lock
    /// and object map state following the new features.
    pub async fn update_features(
        &mut self,
        mask: u64,
        enable: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        if self.snap_id.is_some() {
            return Err(Error::AtSnapshot);
        }
        self.refresh().await?;
        let plan = plan_update(self.info.features, mask, enable)?;
        if self.info.op_features & !OP_FEATURES_KNOWN != 0 {
            return Err(Error::ReadOnly);
        }
        let blocked = self.info.features & features::WRITE_UNSUPPORTED;
        if blocked != 0 {
            return Err(Error::Unsupported {
                features: blocked,
                what: "changing the features of images with them",
            });
        }
        let targets = self.map_targets().await?;
        // fast-diff onto an existing object map keeps the map (and rebuilds it)
        let creating_map = enable
            && plan.changed & features::OBJECT_MAP != 0
            && self.info.features & features::OBJECT_MAP == 0;
        let removing_map = !enable && plan.changed & features::OBJECT_MAP != 0;
        if creating_map
            && targets
                .iter()
                .any(|t| t.num_objs > crate::object_map::MAX_OBJECT_COUNT)
        {
            return Err(Error::InvalidArgument(
                "image size not compatible with object map",
            ));
        }
        let mut guard = self.stop_writes().await?;
        let header = self.header_object();
        if enable {
            if plan.flags != 0 {
                self.set_map_flags(&targets, plan.flags, true).await?;
            }
            m::set_features(plan.new_features, plan.features_mask)?
                .call(&self.io, &header)
                .await?;
            if creating_map {
                self.create_object_maps(&targets).await?;
            }
        } else {
            if removing_map {
                self.remove_object_maps(&targets).await?;
            }
            m::set_features(plan.new_features, plan.features_mask)?
                .call(&self.io, &header)
                .await?;
            if plan.flags != 0 {
                self.set_map_flags(&targets, plan.flags, false).await?;
            }
        }
        info!(
            image = self.info.name,
            enable,
            features = ?features::names(plan.changed),
            "updated the image features"
        );
        // this handle follows: the lock state re-opens (or closes) the object map
        if let (Some(lock), Some(held)) = (&self.lock, guard.as_mut().and_then(|g| g.as_mut())) {
            lock.features_changed(held, plan.new_features, self.info.num_objs)
                .await?;
        }
        self.notify_header_update().await;
        self.refresh().await?;
        let lock_now = plan.new_features & features::EXCLUSIVE_LOCK != 0;
        if !lock_now {
            drop(guard.take());
            if let Some(lock) = self.lock.take() {
                // DisableFeaturesRequest releases the lock; the refresh drops its state
                lock.shutdown().await?;
            }
            // the lock's watch followed HEADER_UPDATE: a watch of our own does now
            if self.watch.is_none() {
                let weak = std::sync::Arc::downgrade(&self.state);
                let header = self.header_object();
                self.watch = Some(
                    crate::header_state::HeaderWatch::start(self.io.clone(), header, weak).await?,
                );
            }
        } else if self.lock.is_none() {
            drop(guard.take());
            if let Some(watch) = self.watch.take() {
                watch.shutdown().await;
            }
            let weak = std::sync::Arc::downgrade(&self.state);
            self.lock = Some(
                ExclusiveLock::start(self.io.clone(), &self.info.id, plan.new_features, weak)
                    .await?,
            );
        }
        if enable && plan.changed & (features::OBJECT_MAP | features::FAST_DIFF) != 0 {
            if guard.is_none() {
                guard = self.stop_writes().await?;
            }
            let held = guard.as_ref().and_then(|g| g.as_ref());
            self.rebuild_maps(&targets, held, plan.new_features, progress)
                .await?;
            drop(guard);
            self.notify_header_update().await;
            self.refresh().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use features::*;

    fn errno(r: Result<FeatureUpdate>) -> i32 {
        r.unwrap_err().errno()
    }

    #[test]
    fn enable_plans() {
        let p = plan_update(LAYERING, EXCLUSIVE_LOCK | OBJECT_MAP, true).unwrap();
        // object-map brings fast-diff (Operations::update_features)
        assert_eq!(p.changed, EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF);
        assert_eq!(
            p.new_features,
            LAYERING | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF
        );
        assert_eq!(
            p.flags,
            flags::OBJECT_MAP_INVALID | flags::FAST_DIFF_INVALID
        );
        let p = plan_update(LAYERING, EXCLUSIVE_LOCK, true).unwrap();
        assert_eq!(
            (p.changed, p.features_mask, p.flags),
            (EXCLUSIVE_LOCK, EXCLUSIVE_LOCK, 0)
        );
        // fast-diff onto an object map: both flags, the map kept
        let p = plan_update(EXCLUSIVE_LOCK | OBJECT_MAP, FAST_DIFF, true).unwrap();
        assert_eq!(p.changed, OBJECT_MAP | FAST_DIFF);
        assert_eq!(p.new_features, EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF);
        // errors: EINVAL as librbd, journaling unsupported
        assert_eq!(errno(plan_update(LAYERING, LAYERING, true)), -22);
        assert_eq!(errno(plan_update(0, DEEP_FLATTEN, true)), -22);
        assert_eq!(errno(plan_update(0, STRIPINGV2, true)), -22);
        assert_eq!(errno(plan_update(0, DATA_POOL, true)), -22);
        assert_eq!(errno(plan_update(0, DIRTY_CACHE, true)), -22);
        assert_eq!(errno(plan_update(LAYERING, OBJECT_MAP, true)), -22);
        assert_eq!(
            errno(plan_update(EXCLUSIVE_LOCK, EXCLUSIVE_LOCK, true)),
            -22
        );
        assert_eq!(errno(plan_update(0, 0, true)), -22);
        assert_eq!(errno(plan_update(0, JOURNALING, true)), -22);
        assert_eq!(errno(plan_update(EXCLUSIVE_LOCK, JOURNALING, true)), -95);
    }

    #[test]
    fn disable_plans() {
        let all = LAYERING | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF | DEEP_FLATTEN;
        let p = plan_update(all, OBJECT_MAP | FAST_DIFF | EXCLUSIVE_LOCK, false).unwrap();
        assert_eq!(p.new_features, LAYERING | DEEP_FLATTEN);
        assert_eq!(
            p.flags,
            flags::OBJECT_MAP_INVALID | flags::FAST_DIFF_INVALID
        );
        assert_eq!(
            p.features_mask,
            EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF | JOURNALING
        );
        // object-map and fast-diff go together, either way round (DisableFeaturesRequest's
        // interlock: `rbd feature disable img fast-diff` drops object-map too)
        let p = plan_update(all, OBJECT_MAP, false).unwrap();
        assert_eq!(p.changed, OBJECT_MAP | FAST_DIFF);
        let p = plan_update(all, FAST_DIFF, false).unwrap();
        assert_eq!(p.changed, OBJECT_MAP | FAST_DIFF);
        assert_eq!(p.new_features, LAYERING | EXCLUSIVE_LOCK | DEEP_FLATTEN);
        assert_eq!(
            p.flags,
            flags::OBJECT_MAP_INVALID | flags::FAST_DIFF_INVALID
        );
        assert_eq!(plan_update(all, DEEP_FLATTEN, false).unwrap().flags, 0);
        assert_eq!(errno(plan_update(all, EXCLUSIVE_LOCK, false)), -22);
        assert_eq!(errno(plan_update(LAYERING, EXCLUSIVE_LOCK, false)), -22);
        assert_eq!(errno(plan_update(all, LAYERING, false)), -22);
        assert_eq!(
            errno(plan_update(
                all | JOURNALING,
                EXCLUSIVE_LOCK | OBJECT_MAP,
                false
            )),
            -22
        );
    }
}
