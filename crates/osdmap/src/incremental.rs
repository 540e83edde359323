//! Map deltas, `OSDMap::Incremental` (src/osd/OSDMap.h, src/osd/OSDMap.cc
//! `OSDMap::Incremental::encode` / `decode`).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use denc::features;
use denc::{Decode, Encode, EntityAddr, EntityAddrVec, PgId, Reader, UTime, Uuid, Writer};

use crate::codec::{AddrTimeMap, SnapIntervalSet, release, release_from_name};
use crate::error::{OsdMapError, Result};
use crate::osd_info::OsdXInfo;
use crate::osdmap::{decode_wrapper, encode_wrapper, legacy_addr, map_flags};
use crate::pool::PgPool;

/// The changes from epoch `epoch - 1` to `epoch`. Either `fullmap` holds a whole new map, or
/// the other fields describe the changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    /// Cluster fsid.
    pub fsid: Uuid,
    /// The epoch this incremental produces.
    pub epoch: u32,
    /// Time of the new epoch.
    pub modified: UTime,
    /// New highest pool id, or -1.
    pub new_pool_max: i64,
    /// New map flags, or -1.
    pub new_flags: i32,
    /// A complete encoded map replacing the current one (empty when not).
    pub fullmap: Bytes,
    /// A new encoded CRUSH map (empty when unchanged).
    pub crush: Bytes,
    /// New max_osd, or -1.
    pub new_max_osd: i32,
    /// Pools created or changed.
    pub new_pools: BTreeMap<i64, PgPool>,
    /// Pool names set.
    pub new_pool_names: BTreeMap<i64, String>,
    /// Pools deleted.
    pub old_pools: BTreeSet<i64>,
    /// OSDs that came up, with their client addresses.
    pub new_up_client: BTreeMap<i32, EntityAddrVec>,
    /// State bits to XOR (0 means `UP`, as Ceph applies it).
    pub new_state: BTreeMap<i32, u32>,
    /// New OSD weights.
    pub new_weight: BTreeMap<i32, u32>,
    /// New pg_temp entries (empty = remove).
    pub new_pg_temp: BTreeMap<PgId, Vec<i32>>,
    /// New primary_temp entries (-1 = remove).
    pub new_primary_temp: BTreeMap<PgId, i32>,
    /// New primary affinities.
    pub new_primary_affinity: BTreeMap<i32, u32>,
    /// Erasure-code profiles set.
    pub new_erasure_code_profiles: BTreeMap<String, BTreeMap<String, String>>,
    /// Erasure-code profiles removed.
    pub old_erasure_code_profiles: Vec<String>,
    /// New pg_upmap entries.
    pub new_pg_upmap: BTreeMap<PgId, Vec<i32>>,
    /// pg_upmap entries removed.
    pub old_pg_upmap: BTreeSet<PgId>,
    /// New pg_upmap_items entries.
    pub new_pg_upmap_items: BTreeMap<PgId, Vec<(i32, i32)>>,
    /// pg_upmap_items entries removed.
    pub old_pg_upmap_items: BTreeSet<PgId>,
    /// Snaps removed this epoch.
    pub new_removed_snaps: BTreeMap<i64, SnapIntervalSet>,
    /// Snaps purged this epoch.
    pub new_purged_snaps: BTreeMap<i64, SnapIntervalSet>,
    /// New last_up_change (zero = unchanged).
    pub new_last_up_change: UTime,
    /// New last_in_change (zero = unchanged).
    pub new_last_in_change: UTime,
    /// New pg_upmap_primaries entries.
    pub new_pg_upmap_primary: BTreeMap<PgId, i32>,
    /// pg_upmap_primaries entries removed.
    pub old_pg_upmap_primary: BTreeSet<PgId>,

    /// Heartbeat back addresses of OSDs that came up (OSD-only part).
    pub new_hb_back_up: BTreeMap<i32, EntityAddrVec>,
    /// New up_thru epochs.
    pub new_up_thru: BTreeMap<i32, u32>,
    /// New last clean intervals.
    pub new_last_clean_interval: BTreeMap<i32, (u32, u32)>,
    /// OSDs declared lost, with the epoch.
    pub new_lost: BTreeMap<i32, u32>,
    /// Addresses blocklisted.
    pub new_blocklist: AddrTimeMap,
    /// Addresses un-blocklisted.
    pub old_blocklist: Vec<EntityAddr>,
    /// Cluster addresses of OSDs that came up.
    pub new_up_cluster: BTreeMap<i32, EntityAddrVec>,
    /// Cluster snapshot name (empty = none).
    pub cluster_snapshot: String,
    /// New OSD uuids.
    pub new_uuid: BTreeMap<i32, Uuid>,
    /// New extended OSD information.
    pub new_xinfo: BTreeMap<i32, OsdXInfo>,
    /// Heartbeat front addresses of OSDs that came up.
    pub new_hb_front_up: BTreeMap<i32, EntityAddrVec>,
    /// The features the encoder used (as it wrote them).
    pub encode_features: u64,
    /// New near-full ratio, or negative.
    pub new_nearfull_ratio: f32,
    /// New full ratio, or negative.
    pub new_full_ratio: f32,
    /// New backfill-full ratio, or negative.
    pub new_backfillfull_ratio: f32,
    /// New require_min_compat_client, or 0xff.
    pub new_require_min_compat_client: u8,
    /// New require_osd_release, or 0xff.
    pub new_require_osd_release: u8,
    /// CRUSH node flags set (0 = clear).
    pub new_crush_node_flags: BTreeMap<i32, u32>,
    /// Device class flags set (0 = clear).
    pub new_device_class_flags: BTreeMap<i32, u32>,
    /// Whether the stretch-mode fields apply.
    pub change_stretch_mode: bool,
    /// Stretch mode: site count.
    pub new_stretch_bucket_count: u32,
    /// Stretch mode: degraded.
    pub new_degraded_stretch_mode: u32,
    /// Stretch mode: recovering.
    pub new_recovering_stretch_mode: u32,
    /// Stretch mode: bucket type.
    pub new_stretch_mode_bucket: i32,
    /// Stretch mode enabled.
    pub stretch_mode_enabled: bool,
    /// Address ranges blocklisted.
    pub new_range_blocklist: AddrTimeMap,
    /// Address ranges un-blocklisted.
    pub old_range_blocklist: Vec<EntityAddr>,
    /// 0 = leave allow_crimson, 1 = set, 2 = clear.
    pub mutate_allow_crimson: u8,

    /// Whether the encoding had crcs (wrapper v8+).
    pub have_crc: bool,
    /// crc32c of the map this incremental produces, encoded canonically.
    pub full_crc: u32,
    /// crc32c of this incremental's encoding.
    pub inc_crc: u32,
}

impl Default for Incremental {
    fn default() -> Self {
        Incremental {
            fsid: Uuid::default(),
            epoch: 0,
            modified: UTime::default(),
            new_pool_max: -1,
            new_flags: -1,
            fullmap: Bytes::new(),
            crush: Bytes::new(),
            new_max_osd: -1,
            new_pools: BTreeMap::new(),
            new_pool_names: BTreeMap::new(),
            old_pools: BTreeSet::new(),
            new_up_client: BTreeMap::new(),
            new_state: BTreeMap::new(),
            new_weight: BTreeMap::new(),
            new_pg_temp: BTreeMap::new(),
            new_primary_temp: BTreeMap::new(),
            new_primary_affinity: BTreeMap::new(),
            new_erasure_code_profiles: BTreeMap::new(),
            old_erasure_code_profiles: Vec::new(),
            new_pg_upmap: BTreeMap::new(),
            old_pg_upmap: BTreeSet::new(),
            new_pg_upmap_items: BTreeMap::new(),
            old_pg_upmap_items: BTreeSet::new(),
            new_removed_snaps: BTreeMap::new(),
            new_purged_snaps: BTreeMap::new(),
            new_last_up_change: UTime::default(),
            new_last_in_change: UTime::default(),
            new_pg_upmap_primary: BTreeMap::new(),
            old_pg_upmap_primary: BTreeSet::new(),
            new_hb_back_up: BTreeMap::new(),
            new_up_thru: BTreeMap::new(),
            new_last_clean_interval: BTreeMap::new(),
            new_lost: BTreeMap::new(),
            new_blocklist: AddrTimeMap::new(),
            old_blocklist: Vec::new(),
            new_up_cluster: BTreeMap::new(),
            cluster_snapshot: String::new(),
            new_uuid: BTreeMap::new(),
            new_xinfo: BTreeMap::new(),
            new_hb_front_up: BTreeMap::new(),
            encode_features: 0,
            new_nearfull_ratio: -1.0,
            new_full_ratio: -1.0,
            new_backfillfull_ratio: -1.0,
            new_require_min_compat_client: release::NONE,
            new_require_osd_release: release::NONE,
            new_crush_node_flags: BTreeMap::new(),
            new_device_class_flags: BTreeMap::new(),
            change_stretch_mode: false,
            new_stretch_bucket_count: 0,
            new_degraded_stretch_mode: 0,
            new_recovering_stretch_mode: 0,
            new_stretch_mode_bucket: 0,
            stretch_mode_enabled: false,
            new_range_blocklist: AddrTimeMap::new(),
            old_range_blocklist: Vec::new(),
            mutate_allow_crimson: 0,
            have_crc: false,
            full_crc: 0,
            inc_crc: 0,
        }
    }
}

/// Encodes a map of addresses as pre-Nautilus peers take them (`encode_addrvec_map_as_addr`).
fn put_addr_map_as_legacy(w: &mut Writer, m: &BTreeMap<i32, EntityAddrVec>) {
    w.put_len(m.len());
    for (osd, addrs) in m {
        w.put_i32(*osd);
        w.put(&legacy_addr(addrs));
    }
}

impl Incremental {
    /// An empty incremental for `epoch`.
    pub fn new(epoch: u32) -> Self {
        Incremental {
            epoch,
            ..Incremental::default()
        }
    }

    /// Decodes a whole encoded incremental, verifying its crc32c as Ceph does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let (inc, crc) = Self::decode_unchecked(&mut r)?;
        r.finish().map_err(|e| e.within("OSDMap::Incremental"))?;
        if let Some((expected, actual)) = crc {
            if expected != actual {
                return Err(OsdMapError::CrcMismatch {
                    what: "OSDMap::Incremental",
                    expected,
                    actual,
                });
            }
        }
        Ok(inc)
    }

    /// Encodes for a peer with `features` (which are also written into the encoding, as
    /// Ceph does); `inc_crc` is computed over the result.
    pub fn to_bytes(&self, features: u64) -> Result<Vec<u8>> {
        let mut w = Writer::with_features(features);
        self.encode(&mut w);
        Ok(w.finish()?)
    }

    pub(crate) fn decode_unchecked(r: &mut Reader<'_>) -> denc::Result<(Self, Option<(u32, u32)>)> {
        let mut inc = Incremental::default();
        let ((), crc) = decode_wrapper(
            r,
            "OSDMap::Incremental",
            |r| {
                r.versioned("Incremental client data", 9, |v, r| inc.decode_client(v, r))?;
                r.versioned("Incremental osd-only data", 12, |v, r| {
                    inc.decode_osd_only(v, r)
                })
            },
            |r| r.u32(),
        )?;
        Ok(match crc {
            Some((full_crc, c)) => {
                inc.have_crc = true;
                inc.full_crc = full_crc;
                inc.inc_crc = c.expected;
                (inc, Some((c.expected, c.actual)))
            }
            None => (inc, None),
        })
    }

    fn decode_client(&mut self, v: u8, r: &mut Reader<'_>) -> denc::Result<()> {
        self.fsid = r.decode()?;
        self.epoch = r.u32()?;
        self.modified = r.decode()?;
        self.new_pool_max = r.i64()?;
        self.new_flags = r.i32()?;
        self.fullmap = r.decode()?;
        self.crush = r.decode()?;
        self.new_max_osd = r.i32()?;
        self.new_pools = r.decode()?;
        self.new_pool_names = r.decode()?;
        self.old_pools = r.decode()?;
        self.new_up_client = r.decode()?;
        self.new_state = if v >= 5 {
            r.decode()?
        } else {
            let old: BTreeMap<i32, u8> = r.decode()?;
            old.into_iter().map(|(k, s)| (k, u32::from(s))).collect()
        };
        self.new_weight = r.decode()?;
        self.new_pg_temp = r.decode()?;
        self.new_primary_temp = r.decode()?;
        if v >= 2 {
            self.new_primary_affinity = r.decode()?;
        }
        if v >= 3 {
            self.new_erasure_code_profiles = r.decode()?;
            self.old_erasure_code_profiles = r.decode()?;
        }
        if v >= 4 {
            self.new_pg_upmap = r.decode()?;
            self.old_pg_upmap = r.decode()?;
            self.new_pg_upmap_items = r.decode()?;
            self.old_pg_upmap_items = r.decode()?;
        }
        if v >= 6 {
            self.new_removed_snaps = r.decode()?;
            self.new_purged_snaps = r.decode()?;
        }
        if v >= 8 {
            self.new_last_up_change = r.decode()?;
            self.new_last_in_change = r.decode()?;
        }
        if v >= 9 {
            self.new_pg_upmap_primary = r.decode()?;
            self.old_pg_upmap_primary = r.decode()?;
        }
        Ok(())
    }

    fn decode_osd_only(&mut self, v: u8, r: &mut Reader<'_>) -> denc::Result<()> {
        self.new_hb_back_up = r.decode()?;
        self.new_up_thru = r.decode()?;
        self.new_last_clean_interval = r.decode()?;
        self.new_lost = r.decode()?;
        self.new_blocklist = r.decode()?;
        self.old_blocklist = r.decode()?;
        self.new_up_cluster = r.decode()?;
        self.cluster_snapshot = r.decode()?;
        self.new_uuid = r.decode()?;
        self.new_xinfo = r.decode()?;
        self.new_hb_front_up = r.decode()?;
        self.encode_features = if v >= 2 {
            r.u64()?
        } else {
            features::PGID64 | features::OSDMAP_ENC
        };
        if v >= 3 {
            self.new_nearfull_ratio = r.f32()?;
            self.new_full_ratio = r.f32()?;
        }
        if v >= 4 {
            self.new_backfillfull_ratio = r.f32()?;
        }
        if v == 5 {
            let name: String = r.decode()?;
            if !name.is_empty() {
                self.new_require_min_compat_client = release_from_name(&name);
            }
        }
        if v >= 6 {
            self.new_require_min_compat_client = r.u8()?;
            self.new_require_osd_release = r.u8()?;
        } else {
            let flags_set = self.new_flags >= 0;
            #[allow(clippy::cast_sign_loss)]
            let flags = self.new_flags as u32;
            if flags_set && flags & map_flags::REQUIRE_LUMINOUS != 0 {
                self.new_require_osd_release = release::LUMINOUS;
                #[allow(clippy::cast_possible_wrap)]
                let cleared = (flags & !map_flags::LEGACY_REQUIRE_FLAGS) as i32;
                self.new_flags = cleared;
            } else if flags_set && flags & map_flags::REQUIRE_KRAKEN != 0 {
                self.new_require_osd_release = release::KRAKEN;
            } else if flags_set && flags & map_flags::REQUIRE_JEWEL != 0 {
                self.new_require_osd_release = release::JEWEL;
            } else {
                self.new_require_osd_release = 0;
            }
        }
        if v >= 8 {
            self.new_crush_node_flags = r.decode()?;
        }
        if v >= 9 {
            self.new_device_class_flags = r.decode()?;
        }
        if v >= 10 {
            self.change_stretch_mode = r.bool()?;
            self.new_stretch_bucket_count = r.u32()?;
            self.new_degraded_stretch_mode = r.u32()?;
            self.new_recovering_stretch_mode = r.u32()?;
            self.new_stretch_mode_bucket = r.i32()?;
            self.stretch_mode_enabled = r.bool()?;
        }
        if v >= 11 {
            self.new_range_blocklist = r.decode()?;
            self.old_range_blocklist = r.decode()?;
        }
        if v >= 12 {
            self.mutate_allow_crimson = r.u8()?;
        }
        Ok(())
    }

    fn encode_client(&self, w: &mut Writer) {
        let f = w.features();
        let has = |mask| features::has(f, mask);
        let v: u8 = if !has(features::SERVER_LUMINOUS) {
            3
        } else if !has(features::SERVER_MIMIC) {
            5
        } else if !has(features::SERVER_NAUTILUS) {
            6
        } else if !has(features::SERVER_REEF) {
            8
        } else {
            9
        };
        w.versioned(v, 1, |w| {
            w.put(&self.fsid);
            w.put_u32(self.epoch);
            w.put(&self.modified);
            w.put_i64(self.new_pool_max);
            w.put_i32(self.new_flags);
            w.put(&self.fullmap);
            w.put(&self.crush);
            w.put_i32(self.new_max_osd);
            w.put(&self.new_pools);
            w.put(&self.new_pool_names);
            w.put(&self.old_pools);
            if v >= 7 {
                w.put(&self.new_up_client);
            } else {
                put_addr_map_as_legacy(w, &self.new_up_client);
            }
            if v >= 5 {
                w.put(&self.new_state);
            } else {
                // old peers take one byte; states whose low byte is empty are skipped
                let old: Vec<(i32, u8)> = self
                    .new_state
                    .iter()
                    .filter_map(|(osd, s)| {
                        #[allow(clippy::cast_possible_truncation)]
                        let low = *s as u8;
                        (*s == 0 || low != 0).then_some((*osd, low))
                    })
                    .collect();
                w.put(&old);
            }
            w.put(&self.new_weight);
            w.put(&self.new_pg_temp);
            w.put(&self.new_primary_temp);
            w.put(&self.new_primary_affinity);
            w.put(&self.new_erasure_code_profiles);
            w.put(&self.old_erasure_code_profiles);
            if v >= 4 {
                w.put(&self.new_pg_upmap);
                w.put(&self.old_pg_upmap);
                w.put(&self.new_pg_upmap_items);
                w.put(&self.old_pg_upmap_items);
            }
            if v >= 6 {
                w.put(&self.new_removed_snaps);
                w.put(&self.new_purged_snaps);
            }
            if v >= 8 {
                w.put(&self.new_last_up_change);
                w.put(&self.new_last_in_change);
            }
            if v >= 9 {
                w.put(&self.new_pg_upmap_primary);
                w.put(&self.old_pg_upmap_primary);
            }
        });
    }

    /// Encodes choosing versions by `w`'s features but writing `written_features` into the
    /// encoding. Ceph writes the features it encodes with; this exists because a release's
    /// encoder only knows the feature checks of its time (Pacific's advertised bit 31, the
    /// retired `MON_SINGLE_PAXOS`, which later releases read as `SERVER_REEF`), so exact
    /// re-encoding of another release's bytes can need the two to differ.
    #[doc(hidden)]
    pub fn encode_writing_features(&self, w: &mut Writer, written_features: u64) {
        encode_wrapper(
            w,
            |w| {
                self.encode_client(w);
                self.encode_osd_only(w, written_features);
            },
            |w| w.put_u32(self.full_crc),
        );
    }

    fn encode_osd_only(&self, w: &mut Writer, written_features: u64) {
        let f = w.features();
        let has = |mask| features::has(f, mask);
        let mut v: u8 = if !has(features::SERVER_LUMINOUS) {
            2
        } else if !has(features::SERVER_NAUTILUS) {
            6
        } else {
            9
        };
        if self.change_stretch_mode {
            v = v.max(10);
        }
        if !self.new_range_blocklist.is_empty() || !self.old_range_blocklist.is_empty() {
            v = v.max(11);
        }
        if self.mutate_allow_crimson != 0 {
            v = v.max(12);
        }
        w.versioned(v, 1, |w| {
            let addrs = |w: &mut Writer, m: &BTreeMap<i32, EntityAddrVec>| {
                if v < 7 {
                    put_addr_map_as_legacy(w, m);
                } else {
                    w.put(m);
                }
            };
            addrs(w, &self.new_hb_back_up);
            w.put(&self.new_up_thru);
            w.put(&self.new_last_clean_interval);
            w.put(&self.new_lost);
            w.put(&self.new_blocklist);
            w.put(&self.old_blocklist);
            addrs(w, &self.new_up_cluster);
            w.put(&self.cluster_snapshot);
            w.put(&self.new_uuid);
            w.put(&self.new_xinfo);
            addrs(w, &self.new_hb_front_up);
            // Ceph writes the features it encodes with, not the decoded member
            w.put_u64(written_features & !features::RESERVED);
            if v >= 3 {
                w.put_f32(self.new_nearfull_ratio);
                w.put_f32(self.new_full_ratio);
                w.put_f32(self.new_backfillfull_ratio);
            }
            if v >= 6 {
                w.put_u8(self.new_require_min_compat_client);
                w.put_u8(self.new_require_osd_release);
            }
            if v >= 8 {
                w.put(&self.new_crush_node_flags);
            }
            if v >= 9 {
                w.put(&self.new_device_class_flags);
            }
            if v >= 10 {
                w.put_bool(self.change_stretch_mode);
                w.put_u32(self.new_stretch_bucket_count);
                w.put_u32(self.new_degraded_stretch_mode);
                w.put_u32(self.new_recovering_stretch_mode);
                w.put_i32(self.new_stretch_mode_bucket);
                w.put_bool(self.stretch_mode_enabled);
            }
            if v >= 11 {
                w.put(&self.new_range_blocklist);
                w.put(&self.old_range_blocklist);
            }
            if v >= 12 {
                w.put_u8(self.mutate_allow_crimson);
            }
        });
    }
}

impl Decode for Incremental {
    const MIN_LEN: usize = 6;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        let start = r.clone();
        let (inc, crc) = Self::decode_unchecked(r)?;
        match crc {
            Some((expected, actual)) if expected != actual => Err(start
                .invalid("OSDMap::Incremental crc32c", u64::from(actual))
                .within("OSDMap::Incremental")),
            _ => Ok(inc),
        }
    }
}

impl Encode for Incremental {
    // src/osd/OSDMap.cc OSDMap::Incremental::encode (the modern, OSDMAP_ENC form only)
    fn encode(&self, w: &mut Writer) {
        let f = w.features();
        self.encode_writing_features(w, f);
    }
}
