//! Applying an incremental to a map (src/osd/OSDMap.cc `OSDMap::apply_incremental`).
//!
//! Everything that can fail is checked before the map is touched, so a refused incremental
//! leaves the map as it was (Ceph asserts or reads out of bounds in those cases instead).

use denc::EntityAddrVec;

use crate::codec::{
    addr_map_insert, addr_map_remove, addr_order_key, interval_subtract, interval_union, release,
    release_lt,
};
use crate::crush_adapter::CrushMapData;
use crate::error::{OsdMapError, Result};
use crate::incremental::Incremental;
use crate::osd_info::{OsdInfo, OsdXInfo};
use crate::osdmap::{DEFAULT_PRIMARY_AFFINITY, MAX_OSD_LIMIT, OsdMap, map_flags, osd_state};

/// `a > b` for `ceph_release_t` (values with the top bit set are below everything).
fn release_gt(a: u8, b: u8) -> bool {
    release_lt(b, a)
}

impl OsdMap {
    /// Applies `inc`, which must be for the next epoch, as Ceph's `apply_incremental` does
    /// (client and OSD-only fields alike, so that the result re-encodes as Ceph's would: see
    /// [`OsdMap::canonical_crc`] and [`Incremental::full_crc`]).
    ///
    /// The order matters and is Ceph's: weights, then primary affinity and erasure-code
    /// profiles, then the state XOR (0 means `UP`; clearing `EXISTS` wipes the OSD), then the
    /// OSDs that came up, then the rest; the new CRUSH map comes last.
    pub fn apply_incremental(&mut self, inc: &Incremental) -> Result<()> {
        if inc.epoch != 1 && inc.fsid != self.fsid {
            return Err(OsdMapError::FsidMismatch);
        }
        if Some(inc.epoch) != self.epoch.checked_add(1) {
            return Err(OsdMapError::WrongEpoch {
                current: self.epoch,
                incremental: inc.epoch,
            });
        }
        if !inc.fullmap.is_empty() {
            *self = OsdMap::from_bytes(&inc.fullmap)?;
            return Ok(());
        }
        let new_crush = if inc.crush.is_empty() {
            None
        } else {
            Some(CrushMapData::from_bytes(inc.crush.clone())?)
        };
        self.validate(inc)?;
        self.clear_placement_cache();

        if inc.epoch == 1 {
            self.fsid = inc.fsid;
        }
        self.epoch = inc.epoch;
        self.modified = inc.modified;
        self.apply_flags(inc);
        if inc.new_max_osd >= 0 {
            self.set_max_osd(inc.new_max_osd);
        }
        if inc.new_pool_max != -1 {
            // Ceph assigns the 64-bit value to its 32-bit pool_max
            #[allow(clippy::cast_possible_truncation)]
            let pool_max = inc.new_pool_max as i32;
            self.pool_max = pool_max;
        }
        for (id, pool) in &inc.new_pools {
            let mut pool = pool.clone();
            pool.last_change = self.epoch;
            self.pools.insert(*id, pool);
        }
        self.apply_snaps(inc);
        if !inc.new_last_up_change.is_zero() {
            self.last_up_change = inc.new_last_up_change;
        }
        if !inc.new_last_in_change.is_zero() {
            self.last_in_change = inc.new_last_in_change;
        }
        for (id, name) in &inc.new_pool_names {
            self.pool_names.insert(*id, name.clone());
        }
        for id in &inc.old_pools {
            self.pools.remove(id);
            self.pool_names.remove(id);
        }
        self.apply_osd_changes(inc);
        self.apply_pg_overrides(inc);
        self.apply_blocklists(inc);
        self.apply_osd_only_settings(inc);
        if let Some(crush) = new_crush {
            self.crush = crush;
            if !release_lt(self.require_osd_release, release::LUMINOUS) {
                self.crush_version = self.crush_version.wrapping_add(1);
            }
            // device classes that vanished lose their flags
            let crush = &self.crush;
            self.device_class_flags
                .retain(|class, _| crush.class_exists(*class));
        }
        if inc.change_stretch_mode {
            self.stretch_mode_enabled = inc.stretch_mode_enabled;
            self.stretch_bucket_count = inc.new_stretch_bucket_count;
            self.degraded_stretch_mode = inc.new_degraded_stretch_mode;
            self.recovering_stretch_mode = inc.new_recovering_stretch_mode;
            self.stretch_mode_bucket = inc.new_stretch_mode_bucket;
        }
        match inc.mutate_allow_crimson {
            1 => self.allow_crimson = true,
            2 => self.allow_crimson = false,
            _ => {}
        }
        Ok(())
    }

    /// After [`OsdMap::apply_incremental`]: whether the map now encodes (canonically, see
    /// [`OsdMap::canonical_crc`]) to the crc the monitor recorded in `inc`. `None` when the
    /// incremental carries no crc. OSDs fetch the full map when this fails; clients may do
    /// the same.
    pub fn full_crc_matches(&self, inc: &Incremental) -> Option<bool> {
        inc.have_crc.then(|| self.canonical_crc() == inc.full_crc)
    }

    /// Refuses incrementals Ceph would crash on or that would need unbounded memory.
    fn validate(&self, inc: &Incremental) -> Result<()> {
        let max_osd = if inc.new_max_osd >= 0 {
            if inc.new_max_osd > MAX_OSD_LIMIT {
                return Err(OsdMapError::MaxOsdOutOfRange(inc.new_max_osd.into()));
            }
            inc.new_max_osd
        } else {
            self.max_osd
        };
        let check = |what: &'static str, ids: &mut dyn Iterator<Item = i32>| -> Result<()> {
            for osd in ids {
                if osd < 0 || osd >= max_osd {
                    return Err(OsdMapError::OsdOutOfRange { osd, max_osd, what });
                }
            }
            Ok(())
        };
        check("new_weight", &mut inc.new_weight.keys().copied())?;
        check(
            "new_primary_affinity",
            &mut inc.new_primary_affinity.keys().copied(),
        )?;
        check("new_state", &mut inc.new_state.keys().copied())?;
        check("new_up_client", &mut inc.new_up_client.keys().copied())?;
        check("new_up_cluster", &mut inc.new_up_cluster.keys().copied())?;
        check("new_up_thru", &mut inc.new_up_thru.keys().copied())?;
        check(
            "new_last_clean_interval",
            &mut inc.new_last_clean_interval.keys().copied(),
        )?;
        check("new_lost", &mut inc.new_lost.keys().copied())?;
        check("new_xinfo", &mut inc.new_xinfo.keys().copied())?;
        check("new_uuid", &mut inc.new_uuid.keys().copied())?;
        for pool in inc.new_purged_snaps.keys() {
            if !self.removed_snaps_queue.contains_key(pool)
                && !inc.new_removed_snaps.contains_key(pool)
            {
                return Err(OsdMapError::PurgedSnapsWithoutQueue(*pool));
            }
        }
        Ok(())
    }

    fn apply_flags(&mut self, inc: &Incremental) {
        if inc.new_flags < 0 {
            return;
        }
        #[allow(clippy::cast_sign_loss)]
        let flags = inc.new_flags as u32;
        self.flags = flags;
        if flags & map_flags::REQUIRE_KRAKEN != 0 {
            if release_lt(self.require_osd_release, release::KRAKEN) {
                self.require_osd_release = release::KRAKEN;
            }
        } else if flags & map_flags::REQUIRE_JEWEL != 0
            && release_lt(self.require_osd_release, release::JEWEL)
        {
            self.require_osd_release = release::JEWEL;
        }
    }

    /// `set_max_osd`: resizes every per-OSD vector (new OSDs are out, with no state).
    pub(crate) fn set_max_osd(&mut self, max_osd: i32) {
        let n = usize::try_from(max_osd).unwrap_or(0);
        self.max_osd = max_osd;
        self.osd_state.resize(n, 0);
        self.osd_weight.resize(n, 0);
        self.osd_info.resize(n, OsdInfo::default());
        self.osd_xinfo.resize(n, OsdXInfo::default());
        self.client_addrs.resize(n, EntityAddrVec::default());
        self.cluster_addrs.resize(n, EntityAddrVec::default());
        self.hb_back_addrs.resize(n, EntityAddrVec::default());
        self.hb_front_addrs.resize(n, EntityAddrVec::default());
        self.osd_uuid.resize(n, denc::Uuid::default());
        if let Some(aff) = &mut self.primary_affinity {
            aff.resize(n, DEFAULT_PRIMARY_AFFINITY);
        }
    }

    fn apply_snaps(&mut self, inc: &Incremental) {
        self.new_removed_snaps = inc.new_removed_snaps.clone();
        self.new_purged_snaps = inc.new_purged_snaps.clone();
        for (pool, snaps) in &inc.new_removed_snaps {
            interval_union(self.removed_snaps_queue.entry(*pool).or_default(), snaps);
        }
        for (pool, snaps) in &inc.new_purged_snaps {
            if let Some(queue) = self.removed_snaps_queue.get_mut(pool) {
                interval_subtract(queue, snaps);
                if queue.is_empty() {
                    self.removed_snaps_queue.remove(pool);
                }
            }
        }
    }

    /// `set_primary_affinity`: creates the vector (all default) on first use.
    fn set_primary_affinity(&mut self, osd: usize, affinity: u32) {
        let n = self.osd_state.len();
        let aff = self
            .primary_affinity
            .get_or_insert_with(|| vec![DEFAULT_PRIMARY_AFFINITY; n]);
        if let Some(slot) = aff.get_mut(osd) {
            *slot = affinity;
        }
    }

    fn apply_osd_changes(&mut self, inc: &Incremental) {
        use osd_state::*;
        // ids were checked against max_osd by validate(), so the slots exist
        let idx = |osd: &i32| usize::try_from(*osd).unwrap_or(usize::MAX);
        for (osd, &weight) in &inc.new_weight {
            let i = idx(osd);
            if let Some(w) = self.osd_weight.get_mut(i) {
                *w = weight;
            }
            if weight != 0 {
                if let Some(s) = self.osd_state.get_mut(i) {
                    *s |= EXISTS;
                    *s &= !(AUTOOUT | NEW);
                }
                if let Some(x) = self.osd_xinfo.get_mut(i) {
                    x.old_weight = 0;
                }
            }
        }
        for (osd, &affinity) in &inc.new_primary_affinity {
            self.set_primary_affinity(idx(osd), affinity);
        }
        for name in &inc.old_erasure_code_profiles {
            self.erasure_code_profiles.remove(name);
        }
        for (name, profile) in &inc.new_erasure_code_profiles {
            self.erasure_code_profiles
                .insert(name.clone(), profile.clone());
        }
        for (osd, &xor) in &inc.new_state {
            let i = idx(osd);
            let s = if xor == 0 { UP } else { xor };
            let current = self.osd_state.get(i).copied().unwrap_or(0);
            if current & UP != 0 && s & UP != 0 {
                if let Some(info) = self.osd_info.get_mut(i) {
                    info.down_at = self.epoch;
                }
                if let Some(x) = self.osd_xinfo.get_mut(i) {
                    x.down_stamp = self.modified;
                }
            }
            if current & EXISTS != 0 && s & EXISTS != 0 {
                // the OSD is destroyed: forget everything about it
                self.wipe_osd(i);
            } else if let Some(state) = self.osd_state.get_mut(i) {
                *state ^= s;
            }
        }
        for (osd, addrs) in &inc.new_up_client {
            let i = idx(osd);
            if let Some(state) = self.osd_state.get_mut(i) {
                *state |= EXISTS | UP;
                *state &= !STOP;
            }
            let hb_back = inc.new_hb_back_up.get(osd).cloned().unwrap_or_default();
            let hb_front = inc.new_hb_front_up.get(osd).cloned().unwrap_or_default();
            set(&mut self.client_addrs, i, addrs.clone());
            set(&mut self.hb_back_addrs, i, hb_back);
            set(&mut self.hb_front_addrs, i, hb_front);
            if let Some(info) = self.osd_info.get_mut(i) {
                info.up_from = self.epoch;
            }
        }
        for (osd, addrs) in &inc.new_up_cluster {
            set(&mut self.cluster_addrs, idx(osd), addrs.clone());
        }
        for (osd, &thru) in &inc.new_up_thru {
            if let Some(info) = self.osd_info.get_mut(idx(osd)) {
                info.up_thru = thru;
            }
        }
        for (osd, &(begin, end)) in &inc.new_last_clean_interval {
            if let Some(info) = self.osd_info.get_mut(idx(osd)) {
                info.last_clean_begin = begin;
                info.last_clean_end = end;
            }
        }
        for (osd, &lost) in &inc.new_lost {
            if let Some(info) = self.osd_info.get_mut(idx(osd)) {
                info.lost_at = lost;
            }
        }
        for (osd, xinfo) in &inc.new_xinfo {
            set(&mut self.osd_xinfo, idx(osd), *xinfo);
        }
        for (osd, uuid) in &inc.new_uuid {
            set(&mut self.osd_uuid, idx(osd), *uuid);
        }
    }

    fn wipe_osd(&mut self, i: usize) {
        set(&mut self.osd_uuid, i, denc::Uuid::default());
        set(&mut self.osd_info, i, OsdInfo::default());
        set(&mut self.osd_xinfo, i, OsdXInfo::default());
        self.set_primary_affinity(i, DEFAULT_PRIMARY_AFFINITY);
        set(&mut self.client_addrs, i, EntityAddrVec::default());
        set(&mut self.cluster_addrs, i, EntityAddrVec::default());
        set(&mut self.hb_front_addrs, i, EntityAddrVec::default());
        set(&mut self.hb_back_addrs, i, EntityAddrVec::default());
        set(&mut self.osd_state, i, 0);
    }

    fn apply_pg_overrides(&mut self, inc: &Incremental) {
        for (pg, osds) in &inc.new_pg_temp {
            if osds.is_empty() {
                self.pg_temp.remove(pg);
            } else {
                self.pg_temp.insert(*pg, osds.clone());
            }
        }
        for (pg, &primary) in &inc.new_primary_temp {
            if primary == -1 {
                self.primary_temp.remove(pg);
            } else {
                self.primary_temp.insert(*pg, primary);
            }
        }
        for (pg, osds) in &inc.new_pg_upmap {
            self.pg_upmap.insert(*pg, osds.clone());
        }
        for pg in &inc.old_pg_upmap {
            self.pg_upmap.remove(pg);
        }
        for (pg, items) in &inc.new_pg_upmap_items {
            self.pg_upmap_items.insert(*pg, items.clone());
        }
        for pg in &inc.old_pg_upmap_items {
            self.pg_upmap_items.remove(pg);
        }
        for (pg, &primary) in &inc.new_pg_upmap_primary {
            self.pg_upmap_primaries.insert(*pg, primary);
        }
        for pg in &inc.old_pg_upmap_primary {
            self.pg_upmap_primaries.remove(pg);
        }
    }

    fn apply_blocklists(&mut self, inc: &Incremental) {
        // Ceph inserts with insert(): existing entries keep their expiry
        for (addr, until) in &inc.new_blocklist {
            if !self.blocklist.iter().any(|(a, _)| a == addr) {
                addr_map_insert(&mut self.blocklist, *addr, *until);
            }
        }
        for addr in &inc.old_blocklist {
            addr_map_remove(&mut self.blocklist, addr);
        }
        for (addr, until) in &inc.new_range_blocklist {
            let key = addr_order_key(addr);
            if !self
                .range_blocklist
                .iter()
                .any(|(a, _)| addr_order_key(a) == key)
            {
                addr_map_insert(&mut self.range_blocklist, *addr, *until);
            }
        }
        for addr in &inc.old_range_blocklist {
            addr_map_remove(&mut self.range_blocklist, addr);
        }
    }

    fn apply_osd_only_settings(&mut self, inc: &Incremental) {
        for (&node, &flags) in &inc.new_crush_node_flags {
            if flags != 0 {
                self.crush_node_flags.insert(node, flags);
            } else {
                self.crush_node_flags.remove(&node);
            }
        }
        for (&class, &flags) in &inc.new_device_class_flags {
            if flags != 0 {
                self.device_class_flags.insert(class, flags);
            } else {
                self.device_class_flags.remove(&class);
            }
        }
        if inc.cluster_snapshot.is_empty() {
            self.cluster_snapshot.clear();
            self.cluster_snapshot_epoch = 0;
        } else {
            self.cluster_snapshot = inc.cluster_snapshot.clone();
            self.cluster_snapshot_epoch = inc.epoch;
        }
        if inc.new_nearfull_ratio >= 0.0 {
            self.nearfull_ratio = inc.new_nearfull_ratio;
        }
        if inc.new_backfillfull_ratio >= 0.0 {
            self.backfillfull_ratio = inc.new_backfillfull_ratio;
        }
        if inc.new_full_ratio >= 0.0 {
            self.full_ratio = inc.new_full_ratio;
        }
        if release_gt(inc.new_require_min_compat_client, 0) {
            self.require_min_compat_client = inc.new_require_min_compat_client;
        }
        // `>= unknown` holds for every release without the top bit, 0 included
        if !release_lt(inc.new_require_osd_release, 0) {
            self.require_osd_release = inc.new_require_osd_release;
            if !release_lt(self.require_osd_release, release::LUMINOUS) {
                self.flags &= !map_flags::LEGACY_REQUIRE_FLAGS;
                self.flags |= map_flags::RECOVERY_DELETES;
            }
            if !release_lt(self.require_osd_release, release::NAUTILUS) {
                self.flags |= map_flags::PGLOG_HARDLIMIT;
            }
        }
    }
}

/// Sets `v[i]` if it exists.
fn set<T>(v: &mut [T], i: usize, value: T) {
    if let Some(slot) = v.get_mut(i) {
        *slot = value;
    }
}
