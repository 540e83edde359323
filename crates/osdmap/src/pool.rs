//! `pg_pool_t` and its parts (src/osd/osd_types.h, src/osd/osd_types.cc).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use denc::features;
use denc::{Decode, DecodeErrorKind, EVersion, Encode, PgId, Reader, UTime, Writer};

use crate::codec::{SnapIntervalSet, decode_varint, encode_varint, raw_versioned};
use crate::hash;

/// A pool snapshot, `pool_snap_info_t`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSnapInfo {
    /// Snapshot id.
    pub snapid: u64,
    /// When it was taken.
    pub stamp: UTime,
    /// Its name.
    pub name: String,
}

impl Decode for PoolSnapInfo {
    const MIN_LEN: usize = 1 + 8 + 8 + 4;
    // src/osd/osd_types.cc pool_snap_info_t::decode (DECODE_START_LEGACY_COMPAT_LEN(2, 2, 2))
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned_legacy("pool_snap_info_t", 2, 2, 2, |_, r| {
            Ok(PoolSnapInfo {
                snapid: r.u64()?,
                stamp: r.decode()?,
                name: r.decode()?,
            })
        })
    }
}

impl Encode for PoolSnapInfo {
    fn encode(&self, w: &mut Writer) {
        let body = |w: &mut Writer| {
            w.put_u64(self.snapid);
            w.put(&self.stamp);
            w.put(&self.name);
        };
        if w.has_features(features::PGPOOL3) {
            w.versioned(2, 2, body);
        } else {
            w.put_u8(1);
            body(w);
        }
    }
}

/// A value of a pool option (`pool_opts_t::value_t`).
#[derive(Debug, Clone, PartialEq)]
pub enum PoolOptValue {
    /// A string option.
    Str(String),
    /// An integer option (32-bit on the wire before Nautilus).
    Int(i64),
    /// A floating-point option.
    Double(f64),
}

/// Pool options, `pool_opts_t`: option key (Ceph's `pool_opts_t::key_t`) -> value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolOpts(pub BTreeMap<i32, PoolOptValue>);

impl Decode for PoolOpts {
    const MIN_LEN: usize = 10;
    // src/osd/osd_types.cc pool_opts_t::decode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("pool_opts_t", 2, |v, r| {
            let n = r.count(8)?;
            let mut opts = BTreeMap::new();
            for _ in 0..n {
                let key = r.i32()?;
                let value = match r.i32()? {
                    0 => PoolOptValue::Str(r.decode()?),
                    1 if v >= 2 => PoolOptValue::Int(r.i64()?),
                    1 => PoolOptValue::Int(i64::from(r.i32()?)),
                    2 => PoolOptValue::Double(r.f64()?),
                    // Ceph asserts here
                    t => return Err(r.invalid("pool_opts_t value type", u64::from(t as u32))),
                };
                opts.insert(key, value);
            }
            Ok(PoolOpts(opts))
        })
    }
}

impl Encode for PoolOpts {
    fn encode(&self, w: &mut Writer) {
        let nautilus = w.has_features(features::SERVER_NAUTILUS);
        w.versioned(if nautilus { 2 } else { 1 }, 1, |w| {
            w.put_len(self.0.len());
            for (key, value) in &self.0 {
                w.put_i32(*key);
                match value {
                    PoolOptValue::Str(s) => {
                        w.put_i32(0);
                        w.put(s);
                    }
                    PoolOptValue::Int(i) => {
                        w.put_i32(1);
                        if nautilus {
                            w.put_i64(*i);
                        } else {
                            // pre-Nautilus peers take an int
                            #[allow(clippy::cast_possible_truncation)]
                            w.put_i32(*i as i32);
                        }
                    }
                    PoolOptValue::Double(d) => {
                        w.put_i32(2);
                        w.put_f64(*d);
                    }
                }
            }
        });
    }
}

/// Metadata of the last PG merge, `pg_merge_meta_t`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgMergeMeta {
    /// The PG merged away.
    pub source_pgid: PgId,
    /// Epoch the merge was ready.
    pub ready_epoch: u32,
    /// `last_epoch_started` at the merge.
    pub last_epoch_started: u32,
    /// `last_epoch_clean` at the merge.
    pub last_epoch_clean: u32,
    /// Source PG version.
    pub source_version: EVersion,
    /// Target PG version.
    pub target_version: EVersion,
}

impl Decode for PgMergeMeta {
    const MIN_LEN: usize = 6 + 17 + 12 + 24;
    // src/osd/osd_types.h pg_merge_meta_t::decode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("pg_merge_meta_t", 1, |_, r| {
            Ok(PgMergeMeta {
                source_pgid: r.decode()?,
                ready_epoch: r.u32()?,
                last_epoch_started: r.u32()?,
                last_epoch_clean: r.u32()?,
                source_version: r.decode()?,
                target_version: r.decode()?,
            })
        })
    }
}

impl Encode for PgMergeMeta {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.source_pgid);
            w.put_u32(self.ready_epoch);
            w.put_u32(self.last_epoch_started);
            w.put_u32(self.last_epoch_clean);
            w.put(&self.source_version);
            w.put(&self.target_version);
        });
    }
}

/// An empty `HitSet::Params` (type NONE) as Ceph encodes it.
const HIT_SET_PARAMS_NONE: &[u8] = &[1, 1, 1, 0, 0, 0, 0];

/// A pool, `pg_pool_t`: every field Ceph encodes, so that a decoded pool re-encodes to the
/// same bytes. Fields the client does not use are kept as plain values (or, for the hit-set
/// parameters, as the raw encoding).
#[derive(Debug, Clone, PartialEq)]
pub struct PgPool {
    /// `TYPE_REPLICATED` (1) or `TYPE_ERASURE` (3).
    pub pool_type: u8,
    /// Replicas or EC shards (k + m).
    pub size: u8,
    /// CRUSH rule: a rule id since Luminous (Pacific maps it through the rule masks).
    pub crush_rule: u8,
    /// Object-name hash: [`hash::STR_HASH_RJENKINS`] (2) in practice.
    pub object_hash: u8,
    /// Number of PGs.
    pub pg_num: u32,
    /// Number of PGs used for placement.
    pub pgp_num: u32,
    /// Epoch of the last change (snapshots excepted).
    pub last_change: u32,
    /// Snapshot sequence number.
    pub snap_seq: u64,
    /// Epoch of the last snapshot change.
    pub snap_epoch: u32,
    /// Pool snapshots by id.
    pub snaps: BTreeMap<u64, PoolSnapInfo>,
    /// Removed self-managed snapshots (legacy; emptied since Octopus).
    pub removed_snaps: SnapIntervalSet,
    /// Owner (obsolete).
    pub auid: u64,
    /// `FLAG_*` bits ([`PgPool::FLAG_HASHPSPOOL`], ...).
    pub flags: u64,
    /// Fewest replicas that accept I/O.
    pub min_size: u8,
    /// Quota in bytes (0 = none).
    pub quota_max_bytes: u64,
    /// Quota in objects (0 = none).
    pub quota_max_objects: u64,
    /// Pools that are tiers of this one.
    pub tiers: BTreeSet<u64>,
    /// The base pool of this tier, or -1.
    pub tier_of: i64,
    /// Cache mode (`cache_mode_t`).
    pub cache_mode: u8,
    /// Tier clients send reads to, or -1.
    pub read_tier: i64,
    /// Tier clients send writes to, or -1.
    pub write_tier: i64,
    /// Obsolete properties.
    pub properties: BTreeMap<String, String>,
    /// `HitSet::Params`, kept encoded.
    pub hit_set_params: Bytes,
    /// Hit-set period (seconds).
    pub hit_set_period: u32,
    /// Hit sets kept.
    pub hit_set_count: u32,
    /// EC stripe width in bytes.
    pub stripe_width: u32,
    /// Cache tiering target size in bytes.
    pub target_max_bytes: u64,
    /// Cache tiering target size in objects.
    pub target_max_objects: u64,
    /// Cache tiering dirty ratio (millionths).
    pub cache_target_dirty_ratio_micro: u32,
    /// Cache tiering full ratio (millionths).
    pub cache_target_full_ratio_micro: u32,
    /// Cache tiering minimum flush age.
    pub cache_min_flush_age: u32,
    /// Cache tiering minimum evict age.
    pub cache_min_evict_age: u32,
    /// Name of the erasure-code profile in the map.
    pub erasure_code_profile: String,
    /// Last epoch that made pre-Luminous clients resend.
    pub last_force_op_resend_preluminous: u32,
    /// Cache tiering read recency.
    pub min_read_recency_for_promote: u32,
    /// Expected number of objects.
    pub expected_num_objects: u64,
    /// Cache tiering high dirty ratio (millionths).
    pub cache_target_dirty_high_ratio_micro: u32,
    /// Cache tiering write recency.
    pub min_write_recency_for_promote: u32,
    /// Hit-set archive names in GMT.
    pub use_gmt_hitset: bool,
    /// EC fast read.
    pub fast_read: bool,
    /// Hit-set grade decay rate.
    pub hit_set_grade_decay_rate: u32,
    /// Hit sets searched.
    pub hit_set_search_last_n: u32,
    /// Pool options.
    pub opts: PoolOpts,
    /// Last epoch that made pre-Nautilus clients resend.
    pub last_force_op_resend_prenautilus: u32,
    /// Application metadata (`rbd`, `cephfs`, ...).
    pub application_metadata: BTreeMap<String, BTreeMap<String, String>>,
    /// Creation time.
    pub create_time: UTime,
    /// pg_num being converged to.
    pub pg_num_target: u32,
    /// pgp_num being converged to.
    pub pgp_num_target: u32,
    /// pg_num being merged down to.
    pub pg_num_pending: u32,
    /// Last epoch that made clients resend (the one modern clients use).
    pub last_force_op_resend: u32,
    /// Autoscale mode (0 off, 1 warn, 2 on).
    pub pg_autoscale_mode: u8,
    /// Last PG merge.
    pub last_pg_merge_meta: PgMergeMeta,
    /// Stretch pools: buckets a PG must span (0 = not a stretch pool).
    pub peering_crush_bucket_count: u32,
    /// Stretch pools: target bucket count.
    pub peering_crush_bucket_target: u32,
    /// Stretch pools: bucket type.
    pub peering_crush_bucket_barrier: u32,
    /// Stretch pools: mandatory bucket.
    pub peering_crush_mandatory_member: i32,
    /// EC optimisations: shards that cannot be primary (bit i = shard i; 128 shards).
    pub nonprimary_shards: [u64; 2],
}

impl Default for PgPool {
    fn default() -> Self {
        PgPool {
            pool_type: 0,
            size: 0,
            crush_rule: 0,
            object_hash: 0,
            pg_num: 0,
            pgp_num: 0,
            last_change: 0,
            snap_seq: 0,
            snap_epoch: 0,
            snaps: BTreeMap::new(),
            removed_snaps: SnapIntervalSet::new(),
            auid: 0,
            flags: 0,
            min_size: 0,
            quota_max_bytes: 0,
            quota_max_objects: 0,
            tiers: BTreeSet::new(),
            tier_of: -1,
            cache_mode: 0,
            read_tier: -1,
            write_tier: -1,
            properties: BTreeMap::new(),
            hit_set_params: Bytes::from_static(HIT_SET_PARAMS_NONE),
            hit_set_period: 0,
            hit_set_count: 0,
            stripe_width: 0,
            target_max_bytes: 0,
            target_max_objects: 0,
            cache_target_dirty_ratio_micro: 0,
            cache_target_full_ratio_micro: 0,
            cache_min_flush_age: 0,
            cache_min_evict_age: 0,
            erasure_code_profile: String::new(),
            last_force_op_resend_preluminous: 0,
            min_read_recency_for_promote: 0,
            expected_num_objects: 0,
            cache_target_dirty_high_ratio_micro: 0,
            min_write_recency_for_promote: 0,
            use_gmt_hitset: true,
            fast_read: false,
            hit_set_grade_decay_rate: 0,
            hit_set_search_last_n: 0,
            opts: PoolOpts::default(),
            last_force_op_resend_prenautilus: 0,
            application_metadata: BTreeMap::new(),
            create_time: UTime::default(),
            pg_num_target: 0,
            pgp_num_target: 0,
            pg_num_pending: 0,
            last_force_op_resend: 0,
            pg_autoscale_mode: u8::MAX,
            last_pg_merge_meta: PgMergeMeta::default(),
            peering_crush_bucket_count: 0,
            peering_crush_bucket_target: 0,
            peering_crush_bucket_barrier: 0,
            peering_crush_mandatory_member: 0x7fff_ffff,
            nonprimary_shards: [0; 2],
        }
    }
}

impl PgPool {
    /// Replicated pool.
    pub const TYPE_REPLICATED: u8 = 1;
    /// Erasure-coded pool.
    pub const TYPE_ERASURE: u8 = 3;
    /// Hash the PG seed with the pool id (instead of adding them).
    pub const FLAG_HASHPSPOOL: u64 = 1 << 0;
    /// The pool is full.
    pub const FLAG_FULL: u64 = 1 << 1;
    /// Full because of its quota.
    pub const FLAG_FULL_QUOTA: u64 = 1 << 10;
    /// Self-managed snapshots (RBD).
    pub const FLAG_SELFMANAGED_SNAPS: u64 = 1 << 13;
    /// Pool snapshots.
    pub const FLAG_POOL_SNAPS: u64 = 1 << 14;
    /// The pool's PGs are being created.
    pub const FLAG_CREATING: u64 = 1 << 15;
    /// EC optimisations (Tentacle): pg_temp lists primary-capable shards first.
    pub const FLAG_EC_OPTIMIZATIONS: u64 = 1 << 19;

    /// `calc_pg_masks`: mask for `pg_num`.
    pub fn pg_num_mask(&self) -> u32 {
        hash::pg_mask(self.pg_num)
    }

    /// `calc_pg_masks`: mask for `pgp_num`.
    pub fn pgp_num_mask(&self) -> u32 {
        hash::pg_mask(self.pgp_num)
    }

    /// True for replicated pools (`can_shift_osds`): their OSD lists close up when an OSD
    /// is missing; erasure-coded pools keep positions and use `CRUSH_ITEM_NONE`.
    pub fn can_shift_osds(&self) -> bool {
        self.pool_type != Self::TYPE_ERASURE
    }

    /// True if `flag` is set.
    pub fn has_flag(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// True for stretch pools (`is_stretch_pool`).
    pub fn is_stretch_pool(&self) -> bool {
        self.peering_crush_bucket_count != 0
    }

    /// True if EC shard `shard` may not be primary (`is_nonprimary_shard`).
    pub fn is_nonprimary_shard(&self, shard: usize) -> bool {
        let word = self.nonprimary_shards.get(shard / 64).copied().unwrap_or(0);
        shard < 128 && word & (1u64 << (shard % 64)) != 0
    }

    /// Number of shards that may not be primary.
    pub fn nonprimary_shard_count(&self) -> usize {
        self.nonprimary_shards
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum()
    }

    /// `hash_key`: the 32-bit placement hash of an object name (or locator key) in
    /// namespace `nspace` (`nspace + '\x1f' + key` when the namespace is not empty).
    pub fn hash_key(&self, key: &[u8], nspace: &[u8]) -> u32 {
        if nspace.is_empty() {
            return hash::str_hash(self.object_hash, key);
        }
        let mut buf = Vec::with_capacity(nspace.len() + 1 + key.len());
        buf.extend_from_slice(nspace);
        buf.push(0x1f);
        buf.extend_from_slice(key);
        hash::str_hash(self.object_hash, &buf)
    }

    /// `raw_hash_to_pg` / `raw_pg_to_pg`: the PG a raw placement seed falls in.
    pub fn raw_seed_to_pg_seed(&self, seed: u32) -> u32 {
        hash::stable_mod(seed, self.pg_num, self.pg_num_mask())
    }

    /// `raw_pg_to_pps`: the placement seed CRUSH hashes for PG seed `seed` of pool `pool`.
    pub fn raw_pg_to_pps(&self, pool: u64, seed: u32) -> u32 {
        let ps = hash::stable_mod(seed, self.pgp_num, self.pgp_num_mask());
        // Ceph passes the pool id as a 32-bit value here
        #[allow(clippy::cast_possible_truncation)]
        let pool32 = pool as u32;
        if self.has_flag(Self::FLAG_HASHPSPOOL) {
            crush_hash32_2(ps, pool32)
        } else {
            ps.wrapping_add(pool32)
        }
    }

    /// The struct version Ceph's `pg_pool_t::encode` picks for a peer with `f`.
    fn encoding_version(&self, f: u64) -> u8 {
        let has = |mask| features::has(f, mask);
        if has(features::SERVER_TENTACLE) {
            32
        } else if !has(features::NEW_OSDOP_ENCODING) {
            21
        } else if !has(features::SERVER_LUMINOUS) {
            24
        } else if !has(features::SERVER_MIMIC) {
            26
        } else if !has(features::SERVER_NAUTILUS) {
            27
        } else if !self.is_stretch_pool() {
            29
        } else {
            30
        }
    }

    fn decode_body(struct_v: u8, r: &mut Reader<'_>) -> denc::Result<Self> {
        let mut p = PgPool {
            pool_type: r.u8()?,
            size: r.u8()?,
            crush_rule: r.u8()?,
            object_hash: r.u8()?,
            pg_num: r.u32()?,
            pgp_num: r.u32()?,
            ..PgPool::default()
        };
        r.skip(8)?; // lpg_num, lpgp_num
        p.last_change = r.u32()?;
        p.snap_seq = r.u64()?;
        p.snap_epoch = r.u32()?;
        if struct_v >= 3 {
            p.snaps = r.decode()?;
            p.removed_snaps = r.decode()?;
            p.auid = r.u64()?;
        } else {
            let n = r.u32()?;
            let m = r.u32()?;
            p.auid = r.u64()?;
            let n = r.check_count(u64::from(n), 8 + PoolSnapInfo::MIN_LEN)?;
            for _ in 0..n {
                let id = r.u64()?;
                p.snaps.insert(id, r.decode()?);
            }
            let m = r.check_count(u64::from(m), 16)?;
            for _ in 0..m {
                let start = r.u64()?;
                p.removed_snaps.insert(start, r.u64()?);
            }
        }
        if struct_v >= 4 {
            p.flags = r.u64()?;
            r.skip(4)?; // crash_replay_interval
        }
        // upgrade path for selfmanaged vs pool snaps
        if p.snap_seq > 0 && p.flags & (Self::FLAG_SELFMANAGED_SNAPS | Self::FLAG_POOL_SNAPS) == 0 {
            p.flags |= if p.removed_snaps.is_empty() {
                Self::FLAG_POOL_SNAPS
            } else {
                Self::FLAG_SELFMANAGED_SNAPS
            };
        }
        p.min_size = if struct_v >= 7 {
            r.u8()?
        } else {
            p.size - p.size / 2
        };
        if struct_v >= 8 {
            p.quota_max_bytes = r.u64()?;
            p.quota_max_objects = r.u64()?;
        }
        if struct_v >= 9 {
            p.tiers = r.decode()?;
            p.tier_of = r.i64()?;
            p.cache_mode = r.u8()?;
            p.read_tier = r.i64()?;
            p.write_tier = r.i64()?;
        }
        if struct_v >= 10 {
            p.properties = r.decode()?;
        }
        if struct_v >= 11 {
            p.hit_set_params = raw_versioned(r)?;
            p.hit_set_period = r.u32()?;
            p.hit_set_count = r.u32()?;
        }
        if struct_v >= 12 {
            p.stripe_width = r.u32()?;
        }
        if struct_v >= 13 {
            p.target_max_bytes = r.u64()?;
            p.target_max_objects = r.u64()?;
            p.cache_target_dirty_ratio_micro = r.u32()?;
            p.cache_target_full_ratio_micro = r.u32()?;
            p.cache_min_flush_age = r.u32()?;
            p.cache_min_evict_age = r.u32()?;
        }
        if struct_v >= 14 {
            p.erasure_code_profile = r.decode()?;
        }
        if struct_v >= 15 {
            p.last_force_op_resend_preluminous = r.u32()?;
        }
        p.min_read_recency_for_promote = if struct_v >= 16 { r.u32()? } else { 1 };
        if struct_v >= 17 {
            p.expected_num_objects = r.u64()?;
        }
        p.cache_target_dirty_high_ratio_micro = if struct_v >= 19 {
            r.u32()?
        } else {
            p.cache_target_dirty_ratio_micro
        };
        p.min_write_recency_for_promote = if struct_v >= 20 { r.u32()? } else { 1 };
        p.use_gmt_hitset = struct_v >= 21 && r.bool()?;
        p.fast_read = struct_v >= 22 && r.bool()?;
        if struct_v >= 23 {
            p.hit_set_grade_decay_rate = r.u32()?;
            p.hit_set_search_last_n = r.u32()?;
        } else {
            p.hit_set_search_last_n = 1;
        }
        if struct_v >= 24 {
            p.opts = r.decode()?;
        }
        p.last_force_op_resend_prenautilus = if struct_v >= 25 {
            r.u32()?
        } else {
            p.last_force_op_resend_preluminous
        };
        if struct_v >= 26 {
            p.application_metadata = r.decode()?;
        }
        if struct_v >= 27 {
            p.create_time = r.decode()?;
        }
        if struct_v >= 28 {
            p.pg_num_target = r.u32()?;
            p.pgp_num_target = r.u32()?;
            p.pg_num_pending = r.u32()?;
            let old_merge_last_epoch_started = r.u32()?;
            let old_merge_last_epoch_clean = r.u32()?;
            p.last_force_op_resend = r.u32()?;
            p.pg_autoscale_mode = r.u8()?;
            if struct_v >= 29 {
                p.last_pg_merge_meta = r.decode()?;
            } else {
                p.last_pg_merge_meta.last_epoch_clean = old_merge_last_epoch_clean;
                p.last_pg_merge_meta.last_epoch_started = old_merge_last_epoch_started;
            }
        } else {
            p.pg_num_target = p.pg_num;
            p.pgp_num_target = p.pgp_num;
            p.pg_num_pending = p.pg_num;
            p.last_force_op_resend = p.last_force_op_resend_prenautilus;
            p.pg_autoscale_mode = 1; // warn, as Ceph sets on upgrade
        }
        if struct_v == 30 {
            p.peering_crush_bucket_count = r.u32()?;
            p.peering_crush_bucket_target = r.u32()?;
            p.peering_crush_bucket_barrier = r.u32()?;
            p.peering_crush_mandatory_member = r.i32()?;
        }
        if struct_v >= 31 && r.bool()? {
            p.peering_crush_bucket_count = r.u32()?;
            p.peering_crush_bucket_target = r.u32()?;
            p.peering_crush_bucket_barrier = r.u32()?;
            p.peering_crush_mandatory_member = r.i32()?;
        }
        if struct_v >= 32 {
            p.nonprimary_shards = [decode_varint(r)?, decode_varint(r)?];
        }
        Ok(p)
    }

    /// The fields every encoding from v3 to v14 shares, from `type` to `auid`.
    fn encode_head(&self, w: &mut Writer) {
        w.put_u8(self.pool_type);
        w.put_u8(self.size);
        w.put_u8(self.crush_rule);
        w.put_u8(self.object_hash);
        w.put_u32(self.pg_num);
        w.put_u32(self.pgp_num);
        w.put_u32(0); // lpg_num
        w.put_u32(0); // lpgp_num
        w.put_u32(self.last_change);
        w.put_u64(self.snap_seq);
        w.put_u32(self.snap_epoch);
        w.put(&self.snaps);
        w.put(&self.removed_snaps);
        w.put_u64(self.auid);
    }

    /// The v14 fields after `flags` (up to the erasure-code profile).
    fn encode_v14_tail(&self, w: &mut Writer) {
        w.put_u32(0); // crash_replay_interval
        w.put_u8(self.min_size);
        w.put_u64(self.quota_max_bytes);
        w.put_u64(self.quota_max_objects);
        w.put(&self.tiers);
        w.put_i64(self.tier_of);
        w.put_u8(self.cache_mode);
        w.put_i64(self.read_tier);
        w.put_i64(self.write_tier);
        w.put(&self.properties);
        w.put_bytes(&self.hit_set_params);
        w.put_u32(self.hit_set_period);
        w.put_u32(self.hit_set_count);
        w.put_u32(self.stripe_width);
        w.put_u64(self.target_max_bytes);
        w.put_u64(self.target_max_objects);
        w.put_u32(self.cache_target_dirty_ratio_micro);
        w.put_u32(self.cache_target_full_ratio_micro);
        w.put_u32(self.cache_min_flush_age);
        w.put_u32(self.cache_min_evict_age);
        w.put(&self.erasure_code_profile);
    }

    fn encode_legacy_v2(&self, w: &mut Writer) {
        w.put_u8(2);
        w.put_u8(self.pool_type);
        w.put_u8(self.size);
        w.put_u8(self.crush_rule);
        w.put_u8(self.object_hash);
        w.put_u32(self.pg_num);
        w.put_u32(self.pgp_num);
        w.put_u32(0);
        w.put_u32(0);
        w.put_u32(self.last_change);
        w.put_u64(self.snap_seq);
        w.put_u32(self.snap_epoch);
        w.put_len(self.snaps.len());
        w.put_len(self.removed_snaps.len());
        w.put_u64(self.auid);
        for (id, info) in &self.snaps {
            w.put_u64(*id);
            w.put(info);
        }
        for (start, len) in &self.removed_snaps {
            w.put_u64(*start);
            w.put_u64(*len);
        }
    }

    fn encode_modern(&self, w: &mut Writer, v: u8) {
        w.versioned(v, 5, |w| {
            self.encode_head(w);
            if v >= 27 {
                w.put_u64(self.flags);
            } else {
                w.put_u64(
                    self.flags
                        & !(Self::FLAG_SELFMANAGED_SNAPS
                            | Self::FLAG_POOL_SNAPS
                            | Self::FLAG_CREATING),
                );
            }
            self.encode_v14_tail(w);
            w.put_u32(self.last_force_op_resend_preluminous);
            w.put_u32(self.min_read_recency_for_promote);
            w.put_u64(self.expected_num_objects);
            if v >= 19 {
                w.put_u32(self.cache_target_dirty_high_ratio_micro);
            }
            if v >= 20 {
                w.put_u32(self.min_write_recency_for_promote);
            }
            if v >= 21 {
                w.put_bool(self.use_gmt_hitset);
            }
            if v >= 22 {
                w.put_bool(self.fast_read);
            }
            if v >= 23 {
                w.put_u32(self.hit_set_grade_decay_rate);
                w.put_u32(self.hit_set_search_last_n);
            }
            if v >= 24 {
                w.put(&self.opts);
            }
            if v >= 25 {
                w.put_u32(self.last_force_op_resend_prenautilus);
            }
            if v >= 26 {
                w.put(&self.application_metadata);
            }
            if v >= 27 {
                w.put(&self.create_time);
            }
            if v >= 28 {
                w.put_u32(self.pg_num_target);
                w.put_u32(self.pgp_num_target);
                w.put_u32(self.pg_num_pending);
                w.put_u32(0); // pg_num_dec_last_epoch_started (14.1.x)
                w.put_u32(0); // pg_num_dec_last_epoch_clean (14.1.x)
                w.put_u32(self.last_force_op_resend);
                w.put_u8(self.pg_autoscale_mode);
            }
            if v >= 29 {
                w.put(&self.last_pg_merge_meta);
            }
            let stretch = |w: &mut Writer| {
                w.put_u32(self.peering_crush_bucket_count);
                w.put_u32(self.peering_crush_bucket_target);
                w.put_u32(self.peering_crush_bucket_barrier);
                w.put_i32(self.peering_crush_mandatory_member);
            };
            if v == 30 {
                stretch(w);
            }
            if v >= 31 {
                w.put_bool(self.is_stretch_pool());
                if self.is_stretch_pool() {
                    stretch(w);
                }
            }
            if v >= 32 {
                encode_varint(w, self.nonprimary_shards[0]);
                encode_varint(w, self.nonprimary_shards[1]);
            }
        });
    }
}

/// `crush_hash32_2(CRUSH_HASH_RJENKINS1, a, b)`.
pub(crate) fn crush_hash32_2(a: u32, b: u32) -> u32 {
    crate::crush_adapter::hash32_2(a, b)
}

impl Decode for PgPool {
    const MIN_LEN: usize = 1 + 4 + 4 + 8 + 4 + 8 + 4 + 8;
    // src/osd/osd_types.cc pg_pool_t::decode (DECODE_START_LEGACY_COMPAT_LEN(32, 5, 5))
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned_legacy("pg_pool_t", 32, 5, 5, |v, r| {
            if v < 2 {
                return Err(r.error(DecodeErrorKind::VersionTooOld {
                    version: v,
                    oldest: 2,
                }));
            }
            Self::decode_body(v, r)
        })
    }
}

impl Encode for PgPool {
    // src/osd/osd_types.cc pg_pool_t::encode: the version follows the peer's features
    fn encode(&self, w: &mut Writer) {
        let f = w.features();
        if !features::has(f, features::PGPOOL3) {
            self.encode_legacy_v2(w);
        } else if !features::has(f, features::OSDENC) {
            w.put_u8(4);
            self.encode_head(w);
            w.put_u64(self.flags);
            w.put_u32(0); // crash_replay_interval
        } else if !features::has(f, features::OSD_POOLRESEND) {
            w.versioned(14, 5, |w| {
                self.encode_head(w);
                w.put_u64(self.flags);
                self.encode_v14_tail(w);
            });
        } else {
            self.encode_modern(w, self.encoding_version(f));
        }
    }
}
