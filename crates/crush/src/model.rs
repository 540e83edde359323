//! The CRUSH map's data model (`src/crush/crush.h`, `src/crush/CrushWrapper.h`).

use std::collections::BTreeMap;

/// "No item": a hole in an `indep` result (`CRUSH_ITEM_NONE`).
pub const CRUSH_ITEM_NONE: i32 = 0x7fff_ffff;
/// Internal "not decided yet" marker of the mapper (`CRUSH_ITEM_UNDEF`); never returned.
pub const CRUSH_ITEM_UNDEF: i32 = 0x7fff_fffe;
/// The magic number a binary CRUSH map starts with (`CRUSH_MAGIC`).
pub const CRUSH_MAGIC: u32 = 0x0001_0000;
/// The choose_args id used when no per-pool set exists (`DEFAULT_CHOOSE_ARGS`).
pub const DEFAULT_CHOOSE_ARGS: i64 = -1;
/// A fully "in" device weight (16.16 fixed point 1.0).
pub const WEIGHT_IN: u32 = 0x10000;

/// Rule types (`crush_rule_type`): the `type` byte of a rule.
pub mod rule_type {
    /// Replicated pools.
    pub const REPLICATED: u8 = 1;
    /// Erasure-coded pools.
    pub const ERASURE: u8 = 3;
    /// Squid's multi-step-retry rule, output in order (`CRUSH_RULE_TYPE_MSR_FIRSTN`).
    pub const MSR_FIRSTN: u8 = 4;
    /// Squid's multi-step-retry rule, output by position (`CRUSH_RULE_TYPE_MSR_INDEP`).
    pub const MSR_INDEP: u8 = 5;
}

/// Bucket algorithm codes (`crush_algorithm`).
pub mod bucket_alg {
    /// Uniform: equal weights, a hash permutation.
    pub const UNIFORM: u8 = 1;
    /// List.
    pub const LIST: u8 = 2;
    /// Binary tree.
    pub const TREE: u8 = 3;
    /// Straw (the original, biased one).
    pub const STRAW: u8 = 4;
    /// Straw2.
    pub const STRAW2: u8 = 5;
}

/// The algorithm of a bucket and its per-algorithm weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketKind {
    /// Every item has the same weight.
    Uniform {
        /// The weight of each item (16.16).
        item_weight: u32,
    },
    /// A list, searched from its tail.
    List {
        /// Each item's weight (16.16).
        item_weights: Vec<u32>,
        /// `sum_weights[i]` = sum of `item_weights[0..=i]`.
        sum_weights: Vec<u32>,
    },
    /// A binary tree whose leaves (odd node numbers) are the items.
    Tree {
        /// Number of tree nodes (a u8 on the wire, as in Ceph).
        num_nodes: u8,
        /// Each node's weight, indexed by node number.
        node_weights: Vec<u32>,
    },
    /// Straw.
    Straw {
        /// Each item's weight (16.16).
        item_weights: Vec<u32>,
        /// Each item's precomputed straw length.
        straws: Vec<u32>,
    },
    /// Straw2.
    Straw2 {
        /// Each item's weight (16.16).
        item_weights: Vec<u32>,
    },
}

impl BucketKind {
    /// The algorithm code (`bucket_alg::*`).
    pub fn alg(&self) -> u8 {
        match self {
            BucketKind::Uniform { .. } => bucket_alg::UNIFORM,
            BucketKind::List { .. } => bucket_alg::LIST,
            BucketKind::Tree { .. } => bucket_alg::TREE,
            BucketKind::Straw { .. } => bucket_alg::STRAW,
            BucketKind::Straw2 { .. } => bucket_alg::STRAW2,
        }
    }

    /// The algorithm's name as crushtool prints it.
    pub fn alg_name(&self) -> &'static str {
        match self {
            BucketKind::Uniform { .. } => "uniform",
            BucketKind::List { .. } => "list",
            BucketKind::Tree { .. } => "tree",
            BucketKind::Straw { .. } => "straw",
            BucketKind::Straw2 { .. } => "straw2",
        }
    }
}

/// A bucket: an interior node of the hierarchy (`crush_bucket` and its per-algorithm forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket's id, negative: bucket slot `i` holds id `-1 - i`.
    pub id: i32,
    /// The bucket's type (an index into the type names: host, rack, ...).
    pub bucket_type: u16,
    /// The hash function (0 = rjenkins1, the only one).
    pub hash: u8,
    /// Total weight of the bucket (16.16).
    pub weight: u32,
    /// Children: devices (>= 0) and buckets (< 0).
    pub items: Vec<i32>,
    /// Algorithm and its weights.
    pub kind: BucketKind,
}

impl Bucket {
    /// The algorithm code (`bucket_alg::*`).
    pub fn alg(&self) -> u8 {
        self.kind.alg()
    }

    /// The weight of the item at `pos` (`crush_get_bucket_item_weight`); 0 when out of range.
    pub fn item_weight(&self, pos: usize) -> u32 {
        if pos >= self.items.len() {
            return 0;
        }
        match &self.kind {
            BucketKind::Uniform { item_weight } => *item_weight,
            BucketKind::List { item_weights, .. }
            | BucketKind::Straw { item_weights, .. }
            | BucketKind::Straw2 { item_weights } => item_weights.get(pos).copied().unwrap_or(0),
            BucketKind::Tree { node_weights, .. } => {
                // leaves are the odd nodes: item i is node 2i + 1
                node_weights.get(pos * 2 + 1).copied().unwrap_or(0)
            }
        }
    }
}

/// A rule step's operation (`crush_opcodes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleOp {
    /// 0: do nothing.
    Noop,
    /// 1: start from item `arg1`.
    Take,
    /// 2: choose `arg1` items of type `arg2`, in order.
    ChooseFirstN,
    /// 3: choose `arg1` items of type `arg2`, by position.
    ChooseIndep,
    /// 4: append the working set to the result.
    Emit,
    /// 6: choose `arg1` items of type `arg2` and one device under each, in order.
    ChooseLeafFirstN,
    /// 7: choose `arg1` items of type `arg2` and one device under each, by position.
    ChooseLeafIndep,
    /// 8: override the total tries.
    SetChooseTries,
    /// 9: override the chooseleaf tries.
    SetChooseLeafTries,
    /// 10: override the local tries.
    SetChooseLocalTries,
    /// 11: override the local fallback tries.
    SetChooseLocalFallbackTries,
    /// 12: override chooseleaf_vary_r.
    SetChooseLeafVaryR,
    /// 13: override chooseleaf_stable.
    SetChooseLeafStable,
    /// 14: override msr_descents (MSR rules).
    SetMsrDescents,
    /// 15: override msr_collision_tries (MSR rules).
    SetMsrCollisionTries,
    /// 16: an MSR choose step: `arg1` items of type `arg2`.
    ChooseMsr,
    /// Any other code; the mapper ignores it, as Ceph's does.
    Other(u32),
}

impl RuleOp {
    /// The op for a wire code.
    pub fn from_code(code: u32) -> RuleOp {
        match code {
            0 => RuleOp::Noop,
            1 => RuleOp::Take,
            2 => RuleOp::ChooseFirstN,
            3 => RuleOp::ChooseIndep,
            4 => RuleOp::Emit,
            6 => RuleOp::ChooseLeafFirstN,
            7 => RuleOp::ChooseLeafIndep,
            8 => RuleOp::SetChooseTries,
            9 => RuleOp::SetChooseLeafTries,
            10 => RuleOp::SetChooseLocalTries,
            11 => RuleOp::SetChooseLocalFallbackTries,
            12 => RuleOp::SetChooseLeafVaryR,
            13 => RuleOp::SetChooseLeafStable,
            14 => RuleOp::SetMsrDescents,
            15 => RuleOp::SetMsrCollisionTries,
            16 => RuleOp::ChooseMsr,
            other => RuleOp::Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> u32 {
        match self {
            RuleOp::Noop => 0,
            RuleOp::Take => 1,
            RuleOp::ChooseFirstN => 2,
            RuleOp::ChooseIndep => 3,
            RuleOp::Emit => 4,
            RuleOp::ChooseLeafFirstN => 6,
            RuleOp::ChooseLeafIndep => 7,
            RuleOp::SetChooseTries => 8,
            RuleOp::SetChooseLeafTries => 9,
            RuleOp::SetChooseLocalTries => 10,
            RuleOp::SetChooseLocalFallbackTries => 11,
            RuleOp::SetChooseLeafVaryR => 12,
            RuleOp::SetChooseLeafStable => 13,
            RuleOp::SetMsrDescents => 14,
            RuleOp::SetMsrCollisionTries => 15,
            RuleOp::ChooseMsr => 16,
            RuleOp::Other(code) => code,
        }
    }
}

/// One step of a rule (`crush_rule_step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleStep {
    /// What the step does.
    pub op: RuleOp,
    /// First argument (item, count or value).
    pub arg1: i32,
    /// Second argument (item type for choose steps).
    pub arg2: i32,
}

/// A placement rule (`crush_rule` with Pacific's `crush_rule_mask`).
///
/// Pacific selects rules by mask (`ruleset`, `rule_type`, `min_size`, `max_size`); Quincy and
/// later keep only the type, encode the rule id as the ruleset and 1/100 as the sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Legacy ruleset number (the rule id in maps written by Quincy and later).
    pub ruleset: u8,
    /// Rule type (`rule_type::*`).
    pub rule_type: u8,
    /// Legacy smallest pool size the rule serves.
    pub min_size: u8,
    /// Legacy largest pool size the rule serves.
    pub max_size: u8,
    /// The steps.
    pub steps: Vec<RuleStep>,
}

impl Rule {
    /// True for Squid's multi-step-retry rules, which the mapper runs differently.
    pub fn is_msr(&self) -> bool {
        matches!(self.rule_type, rule_type::MSR_FIRSTN | rule_type::MSR_INDEP)
    }
}

/// The map's tunables (fields of `crush_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunables {
    /// Local retries in the same bucket after a collision (argonaut: 2).
    pub choose_local_tries: u32,
    /// Exhaustive local retries (argonaut: 5).
    pub choose_local_fallback_tries: u32,
    /// Total tries, off by one: the mapper makes `choose_total_tries + 1` attempts.
    pub choose_total_tries: u32,
    /// chooseleaf's inner descent tries once (bobtail+).
    pub chooseleaf_descend_once: u32,
    /// Feed r into chooseleaf's inner descent, shifted right by `vary_r - 1` (firefly+).
    pub chooseleaf_vary_r: u8,
    /// Version of the straw scaler computation (builder only).
    pub straw_calc_version: u8,
    /// Bit mask of bucket algorithms allowed (builder only).
    pub allowed_bucket_algs: u32,
    /// chooseleaf's inner descent starts at replica 0 for all replicas (jewel+).
    pub chooseleaf_stable: u8,
    /// MSR rules: total descents (Squid+).
    pub msr_descents: u32,
    /// MSR rules: collision retries per descent (Squid+).
    pub msr_collision_tries: u32,
}

/// `CRUSH_LEGACY_ALLOWED_BUCKET_ALGS`: uniform, list and straw.
const LEGACY_ALLOWED_BUCKET_ALGS: u32 = (1 << bucket_alg::UNIFORM as u32)
    | (1 << bucket_alg::LIST as u32)
    | (1 << bucket_alg::STRAW as u32);

impl Tunables {
    /// What a map without encoded tunables has (`set_tunables_legacy`: argonaut,
    /// straw_calc_version 0, MSR defaults).
    pub const fn legacy() -> Tunables {
        Tunables::argonaut()
    }

    /// The argonaut profile.
    pub const fn argonaut() -> Tunables {
        Tunables {
            choose_local_tries: 2,
            choose_local_fallback_tries: 5,
            choose_total_tries: 19,
            chooseleaf_descend_once: 0,
            chooseleaf_vary_r: 0,
            straw_calc_version: 0,
            allowed_bucket_algs: LEGACY_ALLOWED_BUCKET_ALGS,
            chooseleaf_stable: 0,
            msr_descents: 100,
            msr_collision_tries: 100,
        }
    }

    /// The bobtail profile.
    pub const fn bobtail() -> Tunables {
        Tunables {
            choose_local_tries: 0,
            choose_local_fallback_tries: 0,
            choose_total_tries: 50,
            chooseleaf_descend_once: 1,
            ..Tunables::argonaut()
        }
    }

    /// The firefly profile.
    pub const fn firefly() -> Tunables {
        Tunables {
            chooseleaf_vary_r: 1,
            ..Tunables::bobtail()
        }
    }

    /// The hammer profile (straw2 allowed).
    pub const fn hammer() -> Tunables {
        Tunables {
            allowed_bucket_algs: LEGACY_ALLOWED_BUCKET_ALGS | (1 << bucket_alg::STRAW2 as u32),
            ..Tunables::firefly()
        }
    }

    /// The jewel profile.
    pub const fn jewel() -> Tunables {
        Tunables {
            chooseleaf_stable: 1,
            ..Tunables::hammer()
        }
    }

    /// The optimal (default) profile: jewel with straw_calc_version 1.
    pub const fn optimal() -> Tunables {
        Tunables {
            straw_calc_version: 1,
            ..Tunables::jewel()
        }
    }
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables::legacy()
    }
}

/// Placement overrides for one straw2 bucket (`crush_choose_arg`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChooseArg {
    /// Ids hashed instead of the items' own (empty = use the items).
    pub ids: Vec<i32>,
    /// Weights per result position; position `p` uses `weight_set[min(p, len - 1)]`
    /// (empty = use the bucket's weights).
    pub weight_set: Vec<Vec<u32>>,
}

impl ChooseArg {
    /// True when the entry overrides nothing.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.weight_set.is_empty()
    }
}

/// One set of choose_args (`crush_choose_arg_map`): overrides keyed by bucket slot index
/// (`-1 - bucket id`). Only straw2 buckets are affected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChooseArgs {
    pub(crate) args: BTreeMap<u32, ChooseArg>,
}

impl ChooseArgs {
    /// The overrides for the bucket with id `bucket_id`.
    pub fn for_bucket(&self, bucket_id: i32) -> Option<&ChooseArg> {
        let index = u32::try_from(-1_i64 - i64::from(bucket_id)).ok()?;
        self.args.get(&index)
    }

    /// Every override, keyed by bucket slot index (`-1 - bucket id`).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &ChooseArg)> {
        self.args.iter().map(|(k, v)| (*k, v))
    }

    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }
}
