//! Turning image features off (`rbd_update_features`, librbd/Operations.cc
//! `update_features`, operation/DisableFeaturesRequest.cc): for now only the disable-only
//! feature deep-flatten, which needs no state of its own to be torn down. Turning
//! exclusive-lock, object-map, fast-diff or journaling on or off needs their state kept
//! (lock, object map, journal) and is refused.

use crate::cls::rbd as m;
use crate::error::{Error, Result};
use crate::features;
use crate::image::{Image, OpenMode};

/// What [`Image::disable_features`] can turn off (`RBD_FEATURES_DISABLE_ONLY`).
pub const DISABLE_SUPPORTED: u64 = features::DEEP_FLATTEN;

impl Image {
    /// Disables `mask` (`rbd feature disable`): the header's features lose those bits
    /// (cls `set_features(features & !mask, mask)`). Only deep-flatten is supported yet
    /// ([`Error::Unsupported`] for the others); a feature already off is
    /// [`Error::InvalidArgument`] (EINVAL, as librbd). Other clients with the image open
    /// are not notified (no header watch yet): they see the change at their next refresh.
    pub async fn disable_features(&mut self, mask: u64) -> Result<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        if mask == 0 {
            return Err(Error::InvalidArgument(
                "update requires at least one feature",
            ));
        }
        if mask & !DISABLE_SUPPORTED != 0 {
            return Err(Error::Unsupported {
                features: mask & !DISABLE_SUPPORTED,
                what: "disabling them",
            });
        }
        self.refresh().await?;
        if mask & !self.info.features != 0 {
            return Err(Error::InvalidArgument(
                "one or more requested features are already disabled",
            ));
        }
        let new = self.info.features & !mask;
        m::set_features(new, mask)?
            .call(&self.io, &self.header_object())
            .await?;
        self.refresh().await
    }
}
