//! Pool- and image-level overrides of librbd options (src/librbd/api/Config.cc,
//! PoolMetadata.cc, Operations.cc `metadata_set`): an override is metadata
//! `conf_<option>`, on `rbd_info` of the pool's default namespace or on the image header.
//! A listing shows every librbd option with the value in effect and where it came from:
//! the client's configuration (defaults, ceph.conf, arguments), the pool, or the image.
//! rbd-rs itself honours few of these options; the overrides are kept for the librbd
//! clients that share the images.

mod options;

use std::collections::BTreeMap;

use bytes::Bytes;
use tracing::warn;

use crate::error::{Error, Result};
use crate::image::Image;
use crate::names;
use crate::pool::{Rbd, metadata_get, metadata_list, metadata_remove, metadata_set};

/// Metadata keys that override an option start with this (`METADATA_CONF_PREFIX`).
pub const CONF_PREFIX: &str = "conf_";

/// How an option's value is checked before it is stored (Ceph's option types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Uint,
    Int,
    Float,
    Str,
}

/// Where a listed value comes from (`rbd_config_source_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// The client's configuration: a default, ceph.conf or an argument.
    Config,
    /// A pool-level override.
    Pool,
    /// An image-level override.
    Image,
}

impl ConfigSource {
    /// The name `rbd config ... list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Config => "config",
            ConfigSource::Pool => "pool",
            ConfigSource::Image => "image",
        }
    }
}

/// One option of a listing (`config_option_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOption {
    /// Its name (`rbd_cache`).
    pub name: String,
    /// The value in effect.
    pub value: String,
    /// Where the value comes from.
    pub source: ConfigSource,
}

/// Options librbd never lists (Config.cc `EXCLUDE_OPTIONS`).
const EXCLUDED: &[&str] = &[
    "rbd_auto_exclusive_lock_until_manual_request",
    "rbd_default_format",
    "rbd_default_pool",
    "rbd_discard_on_zeroed_write_same",
    "rbd_op_thread_timeout",
    "rbd_op_threads",
    "rbd_tracing",
    "rbd_validate_names",
    "rbd_validate_pool",
    "rbd_mirror_pool_replayers_refresh_interval",
    "rbd_config_pool_override_update_timestamp",
];

/// Options an image-level override cannot set (`EXCLUDE_IMAGE_OPTIONS`, and every
/// `rbd_mirror_*`).
const EXCLUDED_FOR_IMAGES: &[&str] = &[
    "rbd_default_clone_format",
    "rbd_default_data_pool",
    "rbd_default_features",
    "rbd_default_format",
    "rbd_default_order",
    "rbd_default_stripe_count",
    "rbd_default_stripe_unit",
    "rbd_journal_order",
    "rbd_journal_pool",
    "rbd_journal_splay_width",
];

fn applies_to_images(name: &str) -> bool {
    !EXCLUDED_FOR_IMAGES.contains(&name) && !name.starts_with("rbd_mirror_")
}

/// The options of a listing: `(name, kind, default)`.
fn known(for_image: bool) -> impl Iterator<Item = &'static (&'static str, Kind, &'static str)> {
    options::OPTIONS
        .iter()
        .filter(move |(n, _, _)| !EXCLUDED.contains(n) && (!for_image || applies_to_images(n)))
}

/// True for the name of a librbd option (listed or not), as the rbd tool checks keys.
pub fn is_option_name(name: &str) -> bool {
    EXCLUDED.contains(&name) || options::OPTIONS.iter().any(|o| o.0 == name)
}

/// Checks an override of `name` to `value` as librbd does before storing it: a known
/// option (for images: one images may override) and a value of its type. EINVAL
/// ([`Error::InvalidArgument`]) otherwise.
pub(crate) fn validate(name: &str, value: &[u8], for_image: bool) -> Result<()> {
    let Some((_, kind, _)) = known(for_image).find(|(n, _, _)| *n == name) else {
        return Err(Error::InvalidArgument(if for_image {
            "not an option images may override"
        } else {
            "not an option pools may override"
        }));
    };
    let v = std::str::from_utf8(value)
        .map_err(|_| Error::InvalidArgument("config values are text"))?
        .trim();
    let ok = match kind {
        Kind::Bool => matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0"
        ),
        Kind::Uint => unsigned_with_suffix(v),
        Kind::Int => unsigned_with_suffix(v.strip_prefix('-').unwrap_or(v)),
        Kind::Float => v.parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Str => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "invalid value for the option's type",
        ))
    }
}

/// Digits with an optional SI/IEC suffix (`64K`, `1_G` is not accepted: `1G`, `1Gi`).
fn unsigned_with_suffix(v: &str) -> bool {
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (num, suffix) = v.split_at(digits);
    !num.is_empty()
        && matches!(
            suffix.trim_end_matches('B'),
            "" | "K" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
        )
}

/// The option names of the `conf_` keys of a metadata listing, with their values.
fn overrides(meta: BTreeMap<String, Bytes>) -> impl Iterator<Item = (String, String)> {
    meta.into_iter().filter_map(|(k, v)| {
        let name = k.strip_prefix(CONF_PREFIX).filter(|n| !n.is_empty())?;
        Some((name.to_owned(), String::from_utf8_lossy(&v).into_owned()))
    })
}

impl Rbd {
    /// The pool-level handle librbd uses for overrides: the pool's default namespace.
    fn pool_config_io(&self) -> rados::IoCtx {
        self.ioctx().clone().with_namespace("")
    }

    /// Every librbd option with the value in effect for images of this pool
    /// (`rbd_config_pool_list`): the client's configuration, then the pool's overrides.
    pub async fn config_list(&self) -> Result<Vec<ConfigOption>> {
        self.effective_config(false).await.map(into_list)
    }

    async fn effective_config(
        &self,
        for_image: bool,
    ) -> Result<BTreeMap<&'static str, (String, ConfigSource)>> {
        let rados = self.ioctx().rados();
        // as Ceph's levels: ceph.conf, environment and arguments over the monitors'
        // configuration database, over the defaults
        let local = &rados.config().options;
        let mon = rados.mon_config();
        let mut out: BTreeMap<&'static str, (String, ConfigSource)> = known(for_image)
            .map(|(n, _, default)| {
                let value = local
                    .get(*n)
                    .or_else(|| mon.get(*n))
                    .map_or(*default, String::as_str);
                (*n, (value.to_owned(), ConfigSource::Config))
            })
            .collect();
        let meta = match metadata_list(&self.pool_config_io(), names::INFO).await {
            Err(e) if e.is_enoent() => BTreeMap::new(),
            other => other?,
        };
        for (name, value) in overrides(meta) {
            if let Some(slot) = out.get_mut(name.as_str()) {
                *slot = (value, ConfigSource::Pool);
            }
        }
        Ok(out)
    }

    /// The pool-level override of `option` (`rbd_pool_metadata_get` of
    /// `conf_<option>`); [`Error::MetadataNotFound`] when it is not set.
    pub async fn config_get(&self, option: &str) -> Result<String> {
        let v = metadata_get(&self.pool_config_io(), names::INFO, &conf_key(option)).await?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    /// Sets a pool-level override (`rbd config pool set`): validated as librbd does, then
    /// the cluster's `rbd_config_pool_override_update_timestamp` is bumped so running
    /// librbd clients re-read the pool's overrides.
    pub async fn config_set(&self, option: &str, value: &str) -> Result<()> {
        validate(option, value.as_bytes(), false)?;
        metadata_set(
            &self.pool_config_io(),
            names::INFO,
            &conf_key(option),
            value.as_bytes(),
        )
        .await?;
        self.bump_pool_override_timestamp().await;
        Ok(())
    }

    /// Removes a pool-level override ([`Error::MetadataNotFound`] when it is not set).
    pub async fn config_remove(&self, option: &str) -> Result<()> {
        metadata_remove(&self.pool_config_io(), names::INFO, &conf_key(option)).await?;
        self.bump_pool_override_timestamp().await;
        Ok(())
    }

    /// PoolMetadata.cc `update_pool_timestamp`: failures are only logged, as there.
    pub(crate) async fn bump_pool_override_timestamp(&self) {
        let now = crate::trash::now().sec;
        let cmd = format!(
            r#"{{"prefix": "config set", "who": "global", "name": "rbd_config_pool_override_update_timestamp", "value": "{now}"}}"#
        );
        if let Err(e) = self.ioctx().rados().mon_command(&cmd, Bytes::new()).await {
            warn!(%e, "failed to notify clients of pool config update");
        }
    }
}

impl Image {
    /// Every librbd option images may override, with the value in effect for this image
    /// (`rbd_config_image_list`): the client's configuration, the pool's overrides, then
    /// the image's.
    pub async fn config_list(&self) -> Result<Vec<ConfigOption>> {
        let mut out = Rbd::new(self.io.clone()).effective_config(true).await?;
        for (name, value) in overrides(self.metadata_list().await?) {
            if let Some(slot) = out.get_mut(name.as_str()) {
                *slot = (value, ConfigSource::Image);
            }
        }
        Ok(into_list(out))
    }

    /// The image-level override of `option` ([`Error::MetadataNotFound`] when not set).
    pub async fn config_get(&self, option: &str) -> Result<String> {
        let v = self.metadata_get(&conf_key(option)).await?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    /// Sets an image-level override (validated as librbd does).
    pub async fn config_set(&self, option: &str, value: &str) -> Result<()> {
        self.metadata_set(&conf_key(option), value.as_bytes()).await
    }

    /// Removes an image-level override ([`Error::MetadataNotFound`] when not set).
    pub async fn config_remove(&self, option: &str) -> Result<()> {
        self.metadata_remove(&conf_key(option)).await
    }
}

fn conf_key(option: &str) -> String {
    format!("{CONF_PREFIX}{option}")
}

fn into_list(map: BTreeMap<&'static str, (String, ConfigSource)>) -> Vec<ConfigOption> {
    map.into_iter()
        .map(|(name, (value, source))| ConfigOption {
            name: name.to_owned(),
            value,
            source,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_what_ceph_lists() {
        // Reef/Tentacle `rbd config pool list`: 110 options; images: 78
        assert_eq!(known(false).count(), 110);
        assert_eq!(known(true).count(), 78);
        let names: Vec<&str> = options::OPTIONS.iter().map(|o| o.0).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn overrides_are_validated() {
        assert!(validate("rbd_cache", b"false", true).is_ok());
        assert!(validate("rbd_cache", b"maybe", true).is_err());
        assert!(validate("rbd_qos_iops_limit", b"100", false).is_ok());
        assert!(validate("rbd_qos_iops_limit", b"-1", false).is_err());
        assert!(validate("rbd_cache_size", b"64M", true).is_ok());
        assert!(validate("rbd_cache_max_dirty_age", b"2.5", true).is_ok());
        assert!(validate("rbd_cache_max_dirty_age", b"x", true).is_err());
        // pool-only and unknown options
        assert!(validate("rbd_default_features", b"1", true).is_err());
        assert!(validate("rbd_default_features", b"1", false).is_ok());
        assert!(validate("rbd_mirror_journal_poll_age", b"1", true).is_err());
        assert!(validate("rbd_no_such_option", b"1", false).is_err());
        assert!(validate("rbd_default_pool", b"x", false).is_err());
    }
}
