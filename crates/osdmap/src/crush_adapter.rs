//! The OSD map's CRUSH map: the bytes as received (re-emitted unchanged when the map is
//! encoded, so encodings stay byte-exact whatever the crush crate would write) and the
//! decoded [`crush::CrushMap`] used for placement.

use std::sync::Arc;

use bytes::Bytes;
use crush::CrushMap;

pub use crush::CRUSH_ITEM_NONE;

/// The CRUSH map of an OSD map. [`CrushMapData::default`] is an empty CRUSH map (no
/// buckets, no rules), which maps every PG to no OSDs.
#[derive(Debug, Clone)]
pub struct CrushMapData {
    raw: Bytes,
    map: Option<Arc<CrushMap>>,
}

/// An empty CRUSH map: magic, no buckets, rules or devices, and three empty name maps.
const EMPTY_CRUSH: &[u8] = &[
    0, 0, 1, 0, // magic
    0, 0, 0, 0, // max_buckets
    0, 0, 0, 0, // max_rules
    0, 0, 0, 0, // max_devices
    0, 0, 0, 0, // type names
    0, 0, 0, 0, // item names
    0, 0, 0, 0, // rule names
];

impl Default for CrushMapData {
    fn default() -> Self {
        let raw = Bytes::from_static(EMPTY_CRUSH);
        let map = denc::decode_exact::<CrushMap>(&raw).ok().map(Arc::new);
        CrushMapData { raw, map }
    }
}

impl PartialEq for CrushMapData {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl CrushMapData {
    /// Decodes an encoded CRUSH map (the whole buffer, as Ceph's `CrushWrapper::decode`
    /// reads the OSD map's crush bufferlist).
    pub fn from_bytes(raw: Bytes) -> Result<Self, denc::DecodeError> {
        let map = denc::decode_exact::<CrushMap>(&raw)?;
        Ok(CrushMapData {
            raw,
            map: Some(Arc::new(map)),
        })
    }

    /// The encoded CRUSH map as the OSD map carried it.
    pub fn bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The decoded CRUSH map.
    pub fn map(&self) -> Option<&CrushMap> {
        self.map.as_deref()
    }

    /// The rule a pool maps with: its `crush_rule` as a rule id (`by_id`, Quincy and later), or
    /// the rule whose mask matches (ruleset, pool type, size) as Pacific's `find_rule` does.
    pub(crate) fn select_rule(
        &self,
        crush_rule: u8,
        pool_type: u8,
        size: u8,
        by_id: bool,
    ) -> Option<i32> {
        let map = self.map.as_deref()?;
        let rule = i32::from(crush_rule);
        if by_id {
            map.rule_exists(rule).then_some(rule)
        } else {
            map.find_rule(rule, i32::from(pool_type), i32::from(size))
        }
    }

    /// `CrushWrapper::do_rule` with the choose_args of `choose_args_index`, falling back to
    /// the default set (`choose_args_get_with_fallback`).
    pub(crate) fn do_rule(
        &self,
        rule: i32,
        x: u32,
        result_max: usize,
        weights: &[u32],
        choose_args_index: i64,
    ) -> crate::Result<Vec<i32>> {
        let Some(map) = self.map.as_deref() else {
            return Ok(Vec::new());
        };
        let args = map
            .choose_args(choose_args_index)
            .or_else(|| map.choose_args(crush::DEFAULT_CHOOSE_ARGS));
        Ok(map.do_rule(rule, x, result_max, weights, args)?)
    }

    /// True if the CRUSH map defines device class `class`.
    pub(crate) fn class_exists(&self, class: i32) -> bool {
        self.map
            .as_deref()
            .is_some_and(|m| m.class_names().contains_key(&class))
    }
}

/// rjenkins1 of two words (`crush_hash32_rjenkins1_2`).
pub(crate) fn hash32_2(a: u32, b: u32) -> u32 {
    crush::hash32_2(a, b)
}
