//! Where an op goes, and whether a new map means resending it (src/osdc/Objecter.cc
//! `_calc_target`, `target_should_be_paused`, `is_pg_changed`; src/osd/osd_types.cc
//! `pg_t::is_split`, `is_merge_source`, `is_merge_target`; src/common/hobject.cc `cmp`).

use std::cmp::Ordering;
use std::sync::Arc;

use denc::{HObject, ObjectLocator, PgId, SnapId};
use osdmap::{OsdMap, PgPool, UpActing, map_flags};

use crate::messages::osd_types::{SpgId, flag};

/// What a recomputation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recalc {
    /// Same target; a sent op stays where it is.
    NoAction,
    /// The target moved (or an interval changed, or a pause lifted): send again.
    NeedResend,
    /// The pool does not exist (in this map).
    PoolDne,
    /// The pool returns EIO for everything (`FLAG_EIO`).
    PoolEio,
}

/// An op's target: what it names, and where the last map sent it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) oid: String,
    /// The locator the caller gave (the base pool).
    pub(crate) oloc: ObjectLocator,
    /// The pool the op goes to: the base pool, or its cache tier (read or write overlay).
    pub(crate) target_pool: i64,
    /// `CEPH_OSD_FLAG_*` of the op (READ, WRITE, ...).
    pub(crate) flags: u32,
    /// For PG ops (listing): the raw PG given up front (`precalc_pgid` / `base_pgid`),
    /// used instead of hashing `oid`; its seed is the placement hash the op is about.
    pub(crate) base_pgid: Option<PgId>,
    /// The raw PG (full placement hash) of the object.
    pub(crate) raw_pgid: Option<PgId>,
    /// The PG and shard the op goes to.
    pub(crate) actual: SpgId,
    /// The PG's up and acting sets when the target was last set (shared with the map's
    /// placement cache; `None` before the first computation).
    osds: Option<Arc<UpActing>>,
    pub(crate) size: u8,
    pub(crate) min_size: u8,
    pub(crate) pg_num: u32,
    pub(crate) pg_num_pending: u32,
    /// The OSD to send to (-1: none).
    pub(crate) osd: i32,
    /// Held back by a map flag (PAUSERD, PAUSEWR, full).
    pub(crate) paused: bool,
    /// The pool's `last_force_op_resend` already acted on.
    pub(crate) last_force_resend: u32,
    /// The pool existed for this op once (a later absence means it was deleted).
    pub(crate) pool_ever_existed: bool,
    /// The map's SORTBITWISE and RECOVERY_DELETES flags when the target was last set (part
    /// of what makes a new PG interval).
    sort_bitwise: bool,
    recovery_deletes: bool,
}

impl Target {
    pub(crate) fn new(oid: String, oloc: ObjectLocator, flags: u32) -> Self {
        Target {
            target_pool: oloc.pool,
            oid,
            oloc,
            flags,
            base_pgid: None,
            raw_pgid: None,
            actual: SpgId::default(),
            osds: None,
            size: 0,
            min_size: 0,
            pg_num: 0,
            pg_num_pending: 0,
            osd: -1,
            paused: false,
            last_force_resend: 0,
            pool_ever_existed: false,
            sort_bitwise: false,
            recovery_deletes: false,
        }
    }

    /// A PG op (`Objecter::prepare_pg_read_op`): no object; aimed at the PG that raw
    /// placement hash `hash` of the locator's pool falls in, whatever `pg_num` is when it
    /// is (re)sent. The overlay is ignored (Ceph asserts it for PG ops).
    pub(crate) fn for_pg(oloc: ObjectLocator, hash: u32, flags: u32) -> Self {
        let base = u64::try_from(oloc.pool)
            .ok()
            .map(|pool| PgId::new(pool, hash));
        let mut t = Target::new(String::new(), oloc, flags | flag::IGNORE_OVERLAY);
        t.base_pgid = base;
        t
    }

    /// The acting set when the target was last set.
    fn acting(&self) -> &[i32] {
        self.osds.as_deref().map_or(&[], |o| &o.acting)
    }

    /// The acting primary when the target was last set (-1: none).
    fn acting_primary(&self) -> i32 {
        self.osds.as_deref().map_or(-1, |o| o.acting_primary)
    }

    fn is_read(&self) -> bool {
        self.flags & flag::READ != 0
    }

    fn is_write(&self) -> bool {
        self.flags & flag::WRITE != 0
    }

    /// `respects_full`: writes wait while the cluster or pool is full unless told to try.
    pub(crate) fn respects_full(&self) -> bool {
        self.flags & (flag::WRITE | flag::RWORDERED) != 0
            && self.flags & (flag::FULL_TRY | flag::FULL_FORCE) == 0
    }

    /// The locator sent to the OSD: the base locator in the target pool.
    pub(crate) fn target_oloc(&self) -> ObjectLocator {
        ObjectLocator {
            pool: self.target_pool,
            ..self.oloc.clone()
        }
    }

    /// The object as the OSD orders it (`get_hobj`): for backoff ranges.
    pub(crate) fn hobject(&self) -> HObject {
        let hash = if self.oloc.hash >= 0 {
            // the low 32 bits, as Ceph keeps them
            u32::try_from(self.oloc.hash & 0xffff_ffff).unwrap_or(0)
        } else {
            self.raw_pgid.map_or(0, |p| p.seed)
        };
        HObject {
            key: self.oloc.key.clone(),
            oid: self.oid.clone(),
            snap: SnapId::NOSNAP,
            hash,
            max: false,
            nspace: self.oloc.nspace.clone(),
            pool: self.target_pool,
        }
    }

    fn should_be_paused(&self, map: &OsdMap, pool: &PgPool) -> bool {
        let pauserd = map.flags & map_flags::PAUSERD != 0;
        let pausewr = map.flags & map_flags::PAUSEWR != 0
            || (self.respects_full()
                && (map.flags & map_flags::FULL != 0 || pool.has_flag(PgPool::FLAG_FULL)));
        (self.is_read() && pauserd) || (self.is_write() && pausewr)
    }

    /// Recomputes the target against `map` (`_calc_target` with `any_change = false`).
    pub(crate) fn calc(&mut self, map: &OsdMap) -> Recalc {
        self.calc_with(map, false)
    }

    /// Recomputes the target of a watch or notify (`_calc_target` with `any_change =
    /// true`): any new PG interval means a resend, since the OSD drops watch and notify
    /// state when its PG changes interval, even if the primary stays.
    pub(crate) fn calc_any_change(&mut self, map: &OsdMap) -> Recalc {
        self.calc_with(map, true)
    }

    fn calc_with(&mut self, map: &OsdMap, any_change: bool) -> Recalc {
        let Some(base) = map.pool(self.oloc.pool) else {
            self.osd = -1;
            return Recalc::PoolDne;
        };
        if base.has_flag(FLAG_EIO) {
            return Recalc::PoolEio;
        }
        let mut force_resend = false;
        if map.epoch == base.last_force_op_resend {
            if self.last_force_resend < base.last_force_op_resend {
                self.last_force_resend = base.last_force_op_resend;
                force_resend = true;
            } else if self.last_force_resend == 0 {
                force_resend = true;
            }
        }
        // cache tiering: reads and writes may be overlaid onto a tier pool
        let mut target_pool = self.oloc.pool;
        if self.flags & flag::IGNORE_OVERLAY == 0 {
            if self.is_read() && base.read_tier >= 0 {
                target_pool = base.read_tier;
            }
            if self.is_write() && base.write_tier >= 0 {
                target_pool = base.write_tier;
            }
        }
        let should_pause = self.should_be_paused(map, base);
        let Some(pool) = map.pool(target_pool) else {
            self.osd = -1;
            return Recalc::PoolDne;
        };
        self.target_pool = target_pool;
        let raw = match self.base_pgid {
            // a PG op names its raw PG itself (the pool is the base pool: no overlay)
            Some(pg) => Ok(pg),
            None => map.object_locator_to_raw_pg(&self.oid, &self.target_oloc()),
        };
        let Ok(raw) = raw else {
            self.osd = -1;
            return Recalc::PoolDne;
        };
        self.pool_ever_existed = true;
        let pg_num = pool.pg_num;
        let actual = PgId::new(raw.pool, pool.raw_seed_to_pg_seed(raw.seed));
        let Ok(ua) = map.pg_to_up_acting_cached(actual) else {
            self.osd = -1;
            return Recalc::PoolDne;
        };
        let unpaused = self.paused && !should_pause;
        self.paused = should_pause;
        let prev_seed = if self.pg_num > 0 {
            osdmap::hash::stable_mod(raw.seed, self.pg_num, osdmap::hash::pg_mask(self.pg_num))
        } else {
            0
        };
        let sort_bitwise = map.flags & map_flags::SORTBITWISE != 0;
        let recovery_deletes = map.flags & map_flags::RECOVERY_DELETES != 0;
        // PastIntervals::is_new_interval (the stretch-mode fields aside)
        if any_change
            && self.raw_pgid.is_some()
            && (self.osds.as_deref() != Some(&*ua)
                || self.size != pool.size
                || self.min_size != pool.min_size
                || self.pg_num != pg_num
                || self.pg_num_pending != pool.pg_num_pending
                || self.sort_bitwise != sort_bitwise
                || self.recovery_deletes != recovery_deletes)
        {
            force_resend = true;
        }
        let legacy_change = self.raw_pgid != Some(raw)
            || (any_change && self.acting() != ua.acting)
            || primary_changed(
                self.acting_primary(),
                self.acting(),
                ua.acting_primary,
                &ua.acting,
            );
        let split_or_merge = self.pg_num > 0
            && (is_split(prev_seed, self.pg_num, pg_num)
                || is_merge_source(prev_seed, self.pg_num, pg_num)
                || is_merge_target(prev_seed, self.pg_num, pg_num));
        if legacy_change || split_or_merge || force_resend {
            let mut spg = SpgId::new(actual);
            if pool.pool_type == PgPool::TYPE_ERASURE {
                if let Some(i) = ua.acting.iter().position(|&o| o == ua.acting_primary) {
                    spg.shard = i8::try_from(i).unwrap_or(SpgId::NO_SHARD);
                }
            }
            self.raw_pgid = Some(raw);
            self.actual = spg;
            self.osd = ua.acting_primary;
            self.osds = Some(ua);
            self.size = pool.size;
            self.min_size = pool.min_size;
            self.pg_num = pg_num;
            self.pg_num_pending = pool.pg_num_pending;
            self.sort_bitwise = sort_bitwise;
            self.recovery_deletes = recovery_deletes;
        }
        // every OSD we meet is Luminous or newer: a split or merge always means resend
        if legacy_change || unpaused || force_resend || split_or_merge {
            Recalc::NeedResend
        } else {
            Recalc::NoAction
        }
    }
}

/// `pg_pool_t::FLAG_EIO`.
const FLAG_EIO: u64 = 1 << 16;

/// `OSDMap::primary_changed_broken`.
fn primary_changed(old_primary: i32, old: &[i32], new_primary: i32, new: &[i32]) -> bool {
    if old.is_empty() && new.is_empty() {
        return false;
    }
    if old.is_empty() != new.is_empty() {
        return true;
    }
    if old_primary != new_primary {
        return true;
    }
    let role = |p: i32, set: &[i32]| set.iter().position(|&o| o == p);
    role(old_primary, old) != role(new_primary, new)
}

fn cbits(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// `pg_t::is_split`: PG `seed` of a pool going from `old` to `new` PGs gets children.
pub(crate) fn is_split(seed: u32, old: u32, new: u32) -> bool {
    if seed >= old || new <= old {
        return false;
    }
    let old_bits = cbits(old);
    let old_mask = osdmap::hash::pg_mask(old);
    // candidate children: seed with one more high bit set each step (u64: no wrap-around)
    let step = 1u64 << old_bits.saturating_sub(1);
    let mut next_bit = step;
    loop {
        let s = next_bit | u64::from(seed);
        next_bit += step;
        let Ok(s) = u32::try_from(s) else {
            return false;
        };
        if s < old || s == seed {
            continue;
        }
        if s >= new {
            return false;
        }
        if osdmap::hash::stable_mod(s, old, old_mask) == seed {
            return true;
        }
    }
}

/// `pg_t::is_merge_source`: PG `seed` disappears into another when shrinking.
pub(crate) fn is_merge_source(seed: u32, old: u32, new: u32) -> bool {
    seed < old && seed >= new
}

/// `pg_t::is_merge_target`: PG `seed` absorbs others when shrinking.
pub(crate) fn is_merge_target(seed: u32, old: u32, new: u32) -> bool {
    seed < new && is_split(seed, new, old)
}

/// `cmp(hobject_t, hobject_t)`: the order OSDs sort objects in (max last, then pool, the
/// bit-reversed hash, namespace, key, name, snap).
pub(crate) fn cmp_hobject(l: &HObject, r: &HObject) -> Ordering {
    let bitwise = |h: &HObject| -> u64 {
        if h.max {
            0x1_0000_0000
        } else {
            u64::from(h.hash.reverse_bits())
        }
    };
    let effective_key = |h: &HObject| -> String {
        if h.key.is_empty() {
            h.oid.clone()
        } else {
            h.key.clone()
        }
    };
    l.max
        .cmp(&r.max)
        .then(l.pool.cmp(&r.pool))
        .then(bitwise(l).cmp(&bitwise(r)))
        .then(l.nspace.cmp(&r.nspace))
        .then_with(|| {
            if l.key.is_empty() && r.key.is_empty() {
                Ordering::Equal
            } else {
                effective_key(l).cmp(&effective_key(r))
            }
        })
        .then(l.oid.cmp(&r.oid))
        .then(l.snap.cmp(&r.snap))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The brute-force definition of a split: some PG in `old..new` folds onto `seed`.
    fn split_brute(seed: u32, old: u32, new: u32) -> bool {
        if seed >= old || new <= old {
            return false;
        }
        (old..new).any(|x| osdmap::hash::stable_mod(x, old, osdmap::hash::pg_mask(old)) == seed)
    }

    #[test]
    fn split_matches_the_brute_force_definition() {
        for old in 1..40 {
            for new in 1..80 {
                for seed in 0..old {
                    assert_eq!(
                        is_split(seed, old, new),
                        split_brute(seed, old, new),
                        "seed {seed} {old}->{new}"
                    );
                }
            }
        }
        assert!(is_merge_source(5, 8, 4));
        assert!(!is_merge_source(3, 8, 4));
        assert!(is_merge_target(1, 8, 4));
        assert!(!is_merge_target(1, 4, 8));
    }

    #[test]
    fn primary_change_rules() {
        assert!(!primary_changed(-1, &[], -1, &[]));
        assert!(primary_changed(-1, &[], 1, &[1]));
        assert!(primary_changed(1, &[1, 2], 2, &[2, 1]));
        // replicas change, primary stays: no resend
        assert!(!primary_changed(1, &[1, 2], 1, &[1, 3]));
        // same primary at another rank
        assert!(primary_changed(1, &[1, 2], 1, &[2, 1]));
    }

    #[test]
    fn hobject_order() {
        let h = |hash: u32, oid: &str| HObject {
            oid: oid.into(),
            hash,
            pool: 1,
            snap: SnapId::NOSNAP,
            ..HObject::default()
        };
        // bit-reversed hash order: 0x80000000 reversed is 1, before 0x1 reversed (0x80000000)
        assert_eq!(
            cmp_hobject(&h(0x8000_0000, "a"), &h(1, "a")),
            Ordering::Less
        );
        assert_eq!(cmp_hobject(&h(5, "a"), &h(5, "b")), Ordering::Less);
        assert_eq!(cmp_hobject(&h(5, "a"), &h(5, "a")), Ordering::Equal);
        assert_eq!(cmp_hobject(&h(5, "z"), &HObject::max()), Ordering::Less);
        let mut other_pool = h(0, "a");
        other_pool.pool = 2;
        assert_eq!(cmp_hobject(&h(u32::MAX, "a"), &other_pool), Ordering::Less);
    }
}
