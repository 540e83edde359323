//! [`CrushMap`]: the whole map (Ceph's `CrushWrapper`) and its read accessors.

use std::collections::BTreeMap;

use crate::model::{
    Bucket, BucketKind, ChooseArg, ChooseArgs, DEFAULT_CHOOSE_ARGS, Rule, Tunables,
};

/// The optional trailing sections of the encoding, in order. Ceph decodes each one only if
/// input remains, so a map remembers how many it had to encode exactly the same bytes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    /// Nothing after the rule names (pre-argonaut-tunables maps).
    None = 0,
    /// choose_local_tries, choose_local_fallback_tries, choose_total_tries.
    LocalTries,
    /// chooseleaf_descend_once.
    DescendOnce,
    /// chooseleaf_vary_r.
    VaryR,
    /// straw_calc_version.
    StrawCalcVersion,
    /// allowed_bucket_algs.
    AllowedBucketAlgs,
    /// chooseleaf_stable.
    Stable,
    /// class_map, class_name, class_bucket.
    Classes,
    /// choose_args.
    ChooseArgs,
    /// msr_descents, msr_collision_tries.
    Msr,
}

impl Section {
    pub(crate) const ALL: [Section; 9] = [
        Section::LocalTries,
        Section::DescendOnce,
        Section::VaryR,
        Section::StrawCalcVersion,
        Section::AllowedBucketAlgs,
        Section::Stable,
        Section::Classes,
        Section::ChooseArgs,
        Section::Msr,
    ];
}

/// A CRUSH map: buckets, rules, names, tunables, device classes and choose_args, as Ceph's
/// `CrushWrapper` holds them after decoding.
///
/// Decode it from the CRUSH bufferlist of an OSDMap (the encoding runs to the end of its
/// buffer: trailing sections are optional) with [`denc::decode_exact`] or `Reader::decode`
/// on a reader over exactly that bufferlist. Map inputs with [`CrushMap::do_rule`] or a
/// reusable [`crate::Mapper`].
///
/// Decoding normalises as Ceph's decoder does: `max_devices` is recomputed from the buckets
/// and device names (`crush_finalize`), choose_args for buckets that are not straw2 are
/// dropped and mis-sized weight sets are resized (`update_choose_args`). Encoding then writes
/// what Ceph would write for the decoded map, so every map Ceph wrote encodes to its original
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrushMap {
    pub(crate) max_devices: i32,
    pub(crate) buckets: Vec<Option<Bucket>>,
    pub(crate) rules: Vec<Option<Rule>>,
    pub(crate) type_names: BTreeMap<i32, String>,
    pub(crate) item_names: BTreeMap<i32, String>,
    pub(crate) rule_names: BTreeMap<i32, String>,
    pub(crate) tunables: Tunables,
    pub(crate) class_map: BTreeMap<i32, i32>,
    pub(crate) class_names: BTreeMap<i32, String>,
    pub(crate) class_buckets: BTreeMap<i32, BTreeMap<i32, i32>>,
    pub(crate) choose_args: BTreeMap<i64, ChooseArgs>,
    /// The last trailing section the encoding had.
    pub(crate) sections: Section,
    /// Bytes after the last section this crate knows (a later release's additions).
    pub(crate) tail: Vec<u8>,
}

impl CrushMap {
    /// One more than the highest device id (from the buckets and device names, as Ceph's
    /// `crush_finalize` computes it). Devices at or above it are never chosen.
    pub fn max_devices(&self) -> i32 {
        self.max_devices
    }

    /// Number of bucket slots (`max_buckets`); slot `i` holds bucket id `-1 - i`.
    pub fn max_buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Number of rule slots (`max_rules`).
    pub fn max_rules(&self) -> usize {
        self.rules.len()
    }

    /// Every bucket slot (empty slots are `None`).
    pub fn bucket_slots(&self) -> &[Option<Bucket>] {
        &self.buckets
    }

    /// Every bucket that exists.
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.iter().flatten()
    }

    /// The bucket with id `id` (negative), if it exists.
    pub fn bucket(&self, id: i32) -> Option<&Bucket> {
        let index = usize::try_from(-1_i64 - i64::from(id)).ok()?;
        self.buckets.get(index)?.as_ref()
    }

    /// Every rule slot (empty slots are `None`).
    pub fn rule_slots(&self) -> &[Option<Rule>] {
        &self.rules
    }

    /// Every rule that exists, with its id.
    pub fn rules(&self) -> impl Iterator<Item = (i32, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i32::try_from(i).ok()?, r.as_ref()?)))
    }

    /// The rule with id `id`, if it exists.
    pub fn rule(&self, id: i32) -> Option<&Rule> {
        let index = usize::try_from(id).ok()?;
        self.rules.get(index)?.as_ref()
    }

    /// True if rule `id` exists (`CrushWrapper::rule_exists`).
    pub fn rule_exists(&self, id: i32) -> bool {
        self.rule(id).is_some()
    }

    /// Pacific's rule selection (`crush_find_rule`): the first rule whose mask has this
    /// ruleset and type and whose size range holds `size`; `None` if there is none.
    ///
    /// Maps written by Quincy and later encode each rule's id as its ruleset and 1..100 as
    /// its size range, so for them this finds the rule whose id is `ruleset` (if its type
    /// matches and `size` is in 1..=100), which is what those releases do by id.
    pub fn find_rule(&self, ruleset: i32, rule_type: i32, size: i32) -> Option<i32> {
        self.rules().find_map(|(id, rule)| {
            let matches = i32::from(rule.ruleset) == ruleset
                && i32::from(rule.rule_type) == rule_type
                && i32::from(rule.min_size) <= size
                && i32::from(rule.max_size) >= size;
            matches.then_some(id)
        })
    }

    /// The tunables.
    pub fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    /// Type names by type id (`type_map`: 0 = osd, 1 = host, ...).
    pub fn type_names(&self) -> &BTreeMap<i32, String> {
        &self.type_names
    }

    /// Item names by item id (`name_map`: devices and buckets).
    pub fn item_names(&self) -> &BTreeMap<i32, String> {
        &self.item_names
    }

    /// Rule names by rule id (`rule_name_map`).
    pub fn rule_names(&self) -> &BTreeMap<i32, String> {
        &self.rule_names
    }

    /// The name of type `id`.
    pub fn type_name(&self, id: i32) -> Option<&str> {
        self.type_names.get(&id).map(String::as_str)
    }

    /// The name of item `id`.
    pub fn item_name(&self, id: i32) -> Option<&str> {
        self.item_names.get(&id).map(String::as_str)
    }

    /// The name of rule `id`.
    pub fn rule_name(&self, id: i32) -> Option<&str> {
        self.rule_names.get(&id).map(String::as_str)
    }

    /// The id of the item named `name`.
    pub fn item_id(&self, name: &str) -> Option<i32> {
        self.item_names
            .iter()
            .find_map(|(id, n)| (n == name).then_some(*id))
    }

    /// The id of the rule named `name`.
    pub fn rule_id(&self, name: &str) -> Option<i32> {
        self.rule_names
            .iter()
            .find_map(|(id, n)| (n == name).then_some(*id))
    }

    /// Device classes: class id by device id (`class_map`).
    pub fn class_map(&self) -> &BTreeMap<i32, i32> {
        &self.class_map
    }

    /// Class names by class id (`class_name`).
    pub fn class_names(&self) -> &BTreeMap<i32, String> {
        &self.class_names
    }

    /// Shadow buckets: for each original bucket id, the per-class shadow bucket id by class
    /// id (`class_bucket`).
    pub fn class_buckets(&self) -> &BTreeMap<i32, BTreeMap<i32, i32>> {
        &self.class_buckets
    }

    /// The class name of device `id`.
    pub fn device_class(&self, id: i32) -> Option<&str> {
        let class = self.class_map.get(&id)?;
        self.class_names.get(class).map(String::as_str)
    }

    /// Every choose_args set by id (pool id, or [`DEFAULT_CHOOSE_ARGS`]).
    pub fn choose_args_map(&self) -> &BTreeMap<i64, ChooseArgs> {
        &self.choose_args
    }

    /// The choose_args to map with for `id` (a pool id), falling back to the default set
    /// (`CrushWrapper::choose_args_get_with_fallback`); `None` if neither exists.
    pub fn choose_args(&self, id: i64) -> Option<&ChooseArgs> {
        self.choose_args
            .get(&id)
            .or_else(|| self.choose_args.get(&DEFAULT_CHOOSE_ARGS))
    }

    /// True if some bucket holds item `id` (`CrushWrapper::check_item_present`).
    pub fn item_present(&self, id: i32) -> bool {
        self.buckets().any(|b| b.items.contains(&id))
    }
}

/// Building and editing, for tests and tools (maps normally come from decoding). Every
/// change re-runs the normalisation decoding applies, so an edited map is one Ceph could
/// have decoded.
impl CrushMap {
    /// A map of these buckets (slot `i` should hold id `-1 - i`), rules and tunables, with
    /// no names, classes or choose_args. It encodes every trailing section.
    pub fn from_parts(
        buckets: Vec<Option<Bucket>>,
        rules: Vec<Option<Rule>>,
        tunables: Tunables,
    ) -> CrushMap {
        let mut map = CrushMap {
            max_devices: 0,
            buckets,
            rules,
            type_names: BTreeMap::new(),
            item_names: BTreeMap::new(),
            rule_names: BTreeMap::new(),
            tunables,
            class_map: BTreeMap::new(),
            class_names: BTreeMap::new(),
            class_buckets: BTreeMap::new(),
            choose_args: BTreeMap::new(),
            sections: Section::Msr,
            tail: Vec::new(),
        };
        map.finalize();
        map
    }

    /// Puts `rule` in slot `id` (`None` empties it), adding slots as needed.
    pub fn set_rule(&mut self, id: usize, rule: Option<Rule>) {
        if self.rules.len() <= id {
            self.rules.resize(id + 1, None);
        }
        if let Some(slot) = self.rules.get_mut(id) {
            *slot = rule;
        }
    }

    /// Replaces the tunables.
    pub fn set_tunables(&mut self, tunables: Tunables) {
        self.tunables = tunables;
    }

    /// Names item `id` (a device, which also raises max_devices, or a bucket).
    pub fn set_item_name(&mut self, id: i32, name: impl Into<String>) {
        self.item_names.insert(id, name.into());
        self.finalize();
    }

    /// Names type `id`.
    pub fn set_type_name(&mut self, id: i32, name: impl Into<String>) {
        self.type_names.insert(id, name.into());
    }

    /// Names rule `id`.
    pub fn set_rule_name(&mut self, id: i32, name: impl Into<String>) {
        self.rule_names.insert(id, name.into());
    }

    /// Adds or replaces the choose_args set `id` (pool id or [`DEFAULT_CHOOSE_ARGS`]).
    pub fn set_choose_args(&mut self, id: i64, args: ChooseArgs) {
        self.choose_args.insert(id, args);
        self.finalize();
    }

    /// What Ceph does after decoding: `update_choose_args`, then `finalize`.
    pub(crate) fn finalize(&mut self) {
        normalize_choose_args(self);
        self.max_devices = finalized_max_devices(self);
    }
}

impl ChooseArgs {
    /// An empty set.
    pub fn new() -> ChooseArgs {
        ChooseArgs::default()
    }

    /// Sets the overrides for the bucket with id `bucket_id` (ignored for ids that cannot be
    /// buckets).
    pub fn insert(&mut self, bucket_id: i32, arg: ChooseArg) {
        if let Ok(index) = u32::try_from(-1_i64 - i64::from(bucket_id)) {
            self.args.insert(index, arg);
        }
    }
}

/// `CrushWrapper::update_choose_args` as run at the end of decoding: overrides of buckets
/// that do not exist or are not straw2 are dropped (only straw2 uses them), and weight sets
/// of buckets with the map's usual number of positions are resized to the bucket's size.
///
/// Ceph infers the number of positions before dropping anything; we infer it afterwards, so
/// that decoding what we encode gives the same map. The two differ only for maps with weight
/// sets on non-straw2 buckets, and only in how weight sets are padded, which does not change
/// any mapping (a missing weight counts as 0, as a padded one does).
pub(crate) fn normalize_choose_args(map: &mut CrushMap) {
    let buckets = &map.buckets;
    let straw2_size = |index: u32| -> Option<usize> {
        let bucket = buckets.get(usize::try_from(index).ok()?)?.as_ref()?;
        matches!(bucket.kind, BucketKind::Straw2 { .. }).then_some(bucket.items.len())
    };
    for set in map.choose_args.values_mut() {
        set.args.retain(|index, _| straw2_size(*index).is_some());
        let positions = set
            .args
            .values()
            .map(|a| a.weight_set.len())
            .find(|n| *n > 0)
            .unwrap_or(1);
        for (index, arg) in &mut set.args {
            if arg.weight_set.len() == positions {
                let size = straw2_size(*index).unwrap_or(0);
                for weights in &mut arg.weight_set {
                    weights.resize(size, 0);
                }
            }
        }
        set.args.retain(|_, arg| !arg.is_empty());
    }
}

/// `crush_finalize`'s max_devices, raised to cover every named device as
/// `CrushWrapper::finalize` does. (C int arithmetic; an item of `i32::MAX` wraps.)
pub(crate) fn finalized_max_devices(map: &CrushMap) -> i32 {
    let mut max = 0_i32;
    for bucket in map.buckets.iter().flatten() {
        for &item in &bucket.items {
            if item >= max {
                max = item.wrapping_add(1);
            }
        }
    }
    if let Some((&last, _)) = map.item_names.last_key_value()
        && last >= max
    {
        max = last.wrapping_add(1);
    }
    max
}
