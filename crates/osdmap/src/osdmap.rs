//! The full OSD map, `OSDMap` (src/osd/OSDMap.h, src/osd/OSDMap.cc `OSDMap::encode` /
//! `OSDMap::decode`).

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::features;
use denc::{
    Decode, DecodeErrorKind, Encode, EntityAddr, EntityAddrVec, PgId, Reader, UTime, Uuid, Writer,
};

use crate::codec::{AddrTimeMap, SnapIntervalSet, release, release_from_name, release_lt};
use crate::crush_adapter::CrushMapData;
use crate::error::{OsdMapError, Result};
use crate::hash;
use crate::osd_info::{OsdInfo, OsdXInfo};
use crate::placement_cache::PlacementCache;
use crate::pool::PgPool;

/// OSD state bits (`CEPH_OSD_*`, src/include/rados.h).
pub mod osd_state {
    /// The OSD exists.
    pub const EXISTS: u32 = 1 << 0;
    /// The OSD is up.
    pub const UP: u32 = 1 << 1;
    /// Marked out automatically.
    pub const AUTOOUT: u32 = 1 << 2;
    /// New, never marked in.
    pub const NEW: u32 = 1 << 3;
    /// Destroyed.
    pub const DESTROYED: u32 = 1 << 7;
    /// Stopped by the administrator.
    pub const STOP: u32 = 1 << 12;
}

/// Map flags (`CEPH_OSDMAP_*`, src/include/rados.h).
pub mod map_flags {
    /// Pause reads.
    pub const PAUSERD: u32 = 1 << 2;
    /// Pause writes.
    pub const PAUSEWR: u32 = 1 << 3;
    /// Cluster full (pre-Mimic).
    pub const FULL: u32 = 1 << 1;
    /// Objects sort bitwise (required since Luminous).
    pub const SORTBITWISE: u32 = 1 << 15;
    /// Legacy "require jewel OSDs".
    pub const REQUIRE_JEWEL: u32 = 1 << 16;
    /// Legacy "require kraken OSDs".
    pub const REQUIRE_KRAKEN: u32 = 1 << 17;
    /// Legacy "require luminous OSDs".
    pub const REQUIRE_LUMINOUS: u32 = 1 << 18;
    /// Deletes happen during recovery.
    pub const RECOVERY_DELETES: u32 = 1 << 19;
    /// PG log hard limit.
    pub const PGLOG_HARDLIMIT: u32 = 1 << 22;
    /// The three legacy "require" flags.
    pub const LEGACY_REQUIRE_FLAGS: u32 = REQUIRE_JEWEL | REQUIRE_KRAKEN | REQUIRE_LUMINOUS;
}

/// The features that change how a map is encoded (`OSDMap::SIGNIFICANT_FEATURES`).
pub const SIGNIFICANT_FEATURES: u64 = features::PGID64
    | features::PGPOOL3
    | features::OSDENC
    | features::OSDMAP_ENC
    | features::OSD_POOLRESEND
    | features::NEW_OSDOP_ENCODING
    | features::MSG_ADDR2
    | features::CRUSH_TUNABLES5
    | features::CRUSH_CHOOSE_ARGS
    | features::SERVER_LUMINOUS
    | features::SERVER_MIMIC
    | features::SERVER_NAUTILUS
    | features::SERVER_OCTOPUS
    | features::SERVER_REEF
    | features::SERVER_TENTACLE;

/// Weight of an OSD that is fully in (`CEPH_OSD_IN`, 16.16 fixed point).
pub const OSD_IN: u32 = 0x10000;
/// Default (and maximum) primary affinity.
pub const DEFAULT_PRIMARY_AFFINITY: u32 = 0x10000;

/// The largest `max_osd` an incremental may set. A full map's per-OSD vectors are bounded by
/// its size, but an incremental names `max_osd` in four bytes and Ceph would resize every
/// per-OSD vector to it; we refuse more than this (Ceph's own `mon_max_osd` defaults to
/// 10,000).
pub const MAX_OSD_LIMIT: i32 = 1 << 16;

/// A full OSD map: pools, OSD states, weights and addresses, temporary mappings, upmaps and
/// the CRUSH map (the client-usable part), plus the OSD-only part (kept so that a map
/// re-encodes to the same bytes and applies incrementals exactly as Ceph does).
///
/// Every per-OSD vector has `max_osd` entries (checked when decoding, as the kernel client
/// does); `primary_affinity` is `None` when every OSD has the default affinity.
#[derive(Debug, Clone, PartialEq)]
pub struct OsdMap {
    /// Cluster fsid.
    pub fsid: Uuid,
    /// Map epoch.
    pub epoch: u32,
    /// Creation time.
    pub created: UTime,
    /// Time of this epoch.
    pub modified: UTime,
    /// Pools by id.
    pub pools: BTreeMap<i64, PgPool>,
    /// Pool names by id.
    pub pool_names: BTreeMap<i64, String>,
    /// Highest pool id ever used.
    pub pool_max: i32,
    /// `CEPH_OSDMAP_*` flags ([`map_flags`]).
    pub flags: u32,
    /// Number of OSD slots.
    pub max_osd: i32,
    /// Per-OSD state bits ([`osd_state`]).
    pub osd_state: Vec<u32>,
    /// Per-OSD weight, 16.16 fixed point ([`OSD_IN`] = in, 0 = out).
    pub osd_weight: Vec<u32>,
    /// Per-OSD client-facing addresses.
    pub client_addrs: Vec<EntityAddrVec>,
    /// Temporary acting sets.
    pub pg_temp: BTreeMap<PgId, Vec<i32>>,
    /// Temporary primaries.
    pub primary_temp: BTreeMap<PgId, i32>,
    /// Per-OSD primary affinity (16.16), `None` if never set.
    pub primary_affinity: Option<Vec<u32>>,
    /// The CRUSH map.
    pub crush: CrushMapData,
    /// Erasure-code profiles by name.
    pub erasure_code_profiles: BTreeMap<String, BTreeMap<String, String>>,
    /// Explicit PG mappings.
    pub pg_upmap: BTreeMap<PgId, Vec<i32>>,
    /// PG mapping exceptions (from, to).
    pub pg_upmap_items: BTreeMap<PgId, Vec<(i32, i32)>>,
    /// CRUSH map version.
    pub crush_version: u32,
    /// Snaps removed this epoch, by pool.
    pub new_removed_snaps: BTreeMap<i64, SnapIntervalSet>,
    /// Snaps purged this epoch, by pool.
    pub new_purged_snaps: BTreeMap<i64, SnapIntervalSet>,
    /// Last time an OSD went up or down.
    pub last_up_change: UTime,
    /// Last time an OSD went in or out.
    pub last_in_change: UTime,
    /// Explicit primaries (Reef+ read balancer).
    pub pg_upmap_primaries: BTreeMap<PgId, i32>,

    /// Heartbeat back addresses (OSD-only part).
    pub hb_back_addrs: Vec<EntityAddrVec>,
    /// Per-OSD interval information.
    pub osd_info: Vec<OsdInfo>,
    /// Blocklisted client addresses and their expiry.
    pub blocklist: AddrTimeMap,
    /// Cluster-network addresses.
    pub cluster_addrs: Vec<EntityAddrVec>,
    /// Epoch of the cluster snapshot.
    pub cluster_snapshot_epoch: u32,
    /// Cluster snapshot name.
    pub cluster_snapshot: String,
    /// Per-OSD uuid.
    pub osd_uuid: Vec<Uuid>,
    /// Per-OSD extended information.
    pub osd_xinfo: Vec<OsdXInfo>,
    /// Heartbeat front addresses.
    pub hb_front_addrs: Vec<EntityAddrVec>,
    /// Near-full ratio.
    pub nearfull_ratio: f32,
    /// Full ratio.
    pub full_ratio: f32,
    /// Backfill-full ratio.
    pub backfillfull_ratio: f32,
    /// Oldest client release the cluster accepts (`ceph_release_t`).
    pub require_min_compat_client: u8,
    /// Oldest OSD release the cluster accepts (`ceph_release_t`).
    pub require_osd_release: u8,
    /// Snapshots queued for removal, by pool.
    pub removed_snaps_queue: BTreeMap<i64, SnapIntervalSet>,
    /// Flags on CRUSH nodes.
    pub crush_node_flags: BTreeMap<i32, u32>,
    /// Flags on device classes.
    pub device_class_flags: BTreeMap<i32, u32>,
    /// Stretch mode enabled.
    pub stretch_mode_enabled: bool,
    /// Stretch mode: number of sites.
    pub stretch_bucket_count: u32,
    /// Stretch mode: degraded (count of up sites) or 0.
    pub degraded_stretch_mode: u32,
    /// Stretch mode: recovering.
    pub recovering_stretch_mode: u32,
    /// Stretch mode: bucket type.
    pub stretch_mode_bucket: i32,
    /// Blocklisted address ranges.
    pub range_blocklist: AddrTimeMap,
    /// Crimson OSDs allowed.
    pub allow_crimson: bool,

    /// The up and acting sets computed so far from this map (not part of the encoding;
    /// see [`OsdMap::pg_to_up_acting_cached`]).
    pub placement_cache: PlacementCache,
}

impl Default for OsdMap {
    fn default() -> Self {
        OsdMap {
            fsid: Uuid::default(),
            epoch: 0,
            created: UTime::default(),
            modified: UTime::default(),
            pools: BTreeMap::new(),
            pool_names: BTreeMap::new(),
            pool_max: 0,
            flags: 0,
            max_osd: 0,
            osd_state: Vec::new(),
            osd_weight: Vec::new(),
            client_addrs: Vec::new(),
            pg_temp: BTreeMap::new(),
            primary_temp: BTreeMap::new(),
            primary_affinity: None,
            crush: CrushMapData::default(),
            erasure_code_profiles: BTreeMap::new(),
            pg_upmap: BTreeMap::new(),
            pg_upmap_items: BTreeMap::new(),
            crush_version: 1,
            new_removed_snaps: BTreeMap::new(),
            new_purged_snaps: BTreeMap::new(),
            last_up_change: UTime::default(),
            last_in_change: UTime::default(),
            pg_upmap_primaries: BTreeMap::new(),
            hb_back_addrs: Vec::new(),
            osd_info: Vec::new(),
            blocklist: AddrTimeMap::new(),
            cluster_addrs: Vec::new(),
            cluster_snapshot_epoch: 0,
            cluster_snapshot: String::new(),
            osd_uuid: Vec::new(),
            osd_xinfo: Vec::new(),
            hb_front_addrs: Vec::new(),
            nearfull_ratio: 0.0,
            full_ratio: 0.0,
            backfillfull_ratio: 0.0,
            require_min_compat_client: 0,
            require_osd_release: 0,
            removed_snaps_queue: BTreeMap::new(),
            crush_node_flags: BTreeMap::new(),
            device_class_flags: BTreeMap::new(),
            stretch_mode_enabled: false,
            stretch_bucket_count: 0,
            degraded_stretch_mode: 0,
            recovering_stretch_mode: 0,
            stretch_mode_bucket: 0,
            range_blocklist: AddrTimeMap::new(),
            allow_crimson: false,
            placement_cache: PlacementCache::default(),
        }
    }
}

/// The crc fields of a decoded map or incremental: what the encoding says and what its bytes
/// give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CrcCheck {
    pub(crate) expected: u32,
    pub(crate) actual: u32,
}

/// The wrapper (`ENCODE_START(8, 7)`) around a map or an incremental: `body` decodes the
/// two parts; from wrapper version 8 a crc32c follows, covering everything but itself, and
/// `tail` decodes what comes after it (the incremental's `full_crc`).
pub(crate) fn decode_wrapper<'a, T, U>(
    r: &mut Reader<'a>,
    what: &'static str,
    body: impl FnOnce(&mut Reader<'a>) -> denc::Result<T>,
    tail: impl FnOnce(&mut Reader<'a>) -> denc::Result<U>,
) -> denc::Result<(T, Option<(U, CrcCheck)>)> {
    r.named(what, |r| {
        let whole = r.clone().rest();
        let version = r.u8()?;
        if version < 7 {
            // the "classic" pre-Firefly encoding
            return Err(r.error(DecodeErrorKind::VersionTooOld { version, oldest: 7 }));
        }
        let compat = r.u8()?;
        if compat > 8 {
            return Err(r.error(DecodeErrorKind::IncompatibleVersion {
                version,
                compat,
                supported: 8,
            }));
        }
        let len = r.length()?;
        let mut inner = r.sub(len)?;
        let value = body(&mut inner)?;
        if version < 8 {
            return Ok((value, None));
        }
        let crc_at = 6 + (len - inner.remaining());
        let expected = inner.u32()?;
        let after = tail(&mut inner)?;
        let front = whole.get(..crc_at).unwrap_or_default();
        let back = whole.get(crc_at + 4..6 + len).unwrap_or_default();
        let actual = hash::crc32c(hash::crc32c(u32::MAX, front), back);
        Ok((value, Some((after, CrcCheck { expected, actual }))))
    })
}

/// Writes the wrapper (`ENCODE_START(8, 7)`) around `body`, then the crc32c of everything
/// but the crc itself, then `tail` (inside the wrapper, covered by the crc), as
/// `OSDMap::encode` and `OSDMap::Incremental::encode` do. Returns the crc.
pub(crate) fn encode_wrapper(
    w: &mut Writer,
    body: impl FnOnce(&mut Writer),
    tail: impl FnOnce(&mut Writer),
) -> u32 {
    let mut out = Writer::with_features(w.features());
    let mut crc_at = 0;
    out.versioned(8, 7, |o| {
        body(o);
        crc_at = o.len();
        o.put_u32(0);
        tail(o);
    });
    let mut bytes = match out.finish() {
        Ok(bytes) => bytes,
        Err(e) => {
            // record the overflow in the caller's writer, whose finish() reports it
            w.put_len(usize::try_from(e.len).unwrap_or(usize::MAX));
            return 0;
        }
    };
    let front = bytes.get(..crc_at).unwrap_or_default();
    let back = bytes.get(crc_at + 4..).unwrap_or_default();
    let crc = hash::crc32c(hash::crc32c(u32::MAX, front), back);
    if let Some(slot) = bytes.get_mut(crc_at..crc_at + 4) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
    w.put_bytes(&bytes);
    crc
}

/// Encodes per-OSD addresses the way pre-Nautilus encodings carry them: one legacy
/// `entity_addr_t` each (`encode_addrvec_pvec_as_addr`).
pub(crate) fn put_addrs_as_legacy<'a>(
    w: &mut Writer,
    addrs: impl ExactSizeIterator<Item = &'a EntityAddrVec>,
) {
    w.put_len(addrs.len());
    for a in addrs {
        w.put(&legacy_addr(a));
    }
}

/// `entity_addrvec_t::legacy_addr()`: the first v1 address, or a blank one.
pub(crate) fn legacy_addr(v: &EntityAddrVec) -> EntityAddr {
    v.of_type(denc::AddrType::LEGACY)
        .copied()
        .unwrap_or_default()
}

impl OsdMap {
    /// Decodes a whole encoded map (as `ceph osd getmap` writes it, or an `MOSDMap` carries
    /// it), verifying its crc32c as Ceph does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let (map, crc) = Self::decode_unchecked(&mut r)?;
        r.finish().map_err(|e| e.within("OSDMap"))?;
        if let Some(c) = crc {
            if c.expected != c.actual {
                return Err(OsdMapError::CrcMismatch {
                    what: "OSDMap",
                    expected: c.expected,
                    actual: c.actual,
                });
            }
        }
        Ok(map)
    }

    /// Encodes the map for a peer with `features` (the crc is computed and filled in).
    pub fn to_bytes(&self, features: u64) -> Result<Vec<u8>> {
        let mut w = Writer::with_features(features);
        self.encode(&mut w);
        Ok(w.finish()?)
    }

    /// The features Ceph encodes this map with (`get_encoding_features`): the features that
    /// matter to the encoding, less those newer than `require_osd_release`. Monitors write
    /// full maps (and so the `full_crc` of incrementals) this way.
    pub fn encoding_features(&self) -> u64 {
        // Ceph clears the plain feature bits (`CEPH_FEATURE_*`), not the incarnation markers
        const fn bit(n: u32) -> u64 {
            1 << n
        }
        let rel = self.require_osd_release;
        let below = |r: u8| release_lt(rel, r);
        let mut f = SIGNIFICANT_FEATURES;
        if below(release::TENTACLE) {
            f &= !bit(50); // SERVER_TENTACLE
        }
        if below(release::REEF) {
            f &= !bit(31); // SERVER_REEF
        }
        if below(release::OCTOPUS) {
            f &= !bit(16); // SERVER_OCTOPUS
        }
        if below(release::NAUTILUS) {
            f &= !bit(2); // SERVER_NAUTILUS
        }
        if below(release::MIMIC) {
            f &= !bit(28); // SERVER_MIMIC
        }
        if below(release::LUMINOUS) {
            f &= !bit(21); // SERVER_LUMINOUS, CRUSH_CHOOSE_ARGS
        }
        if below(release::KRAKEN) {
            f &= !(bit(14) | bit(59)); // SERVER_KRAKEN, MSG_ADDR2
        }
        if below(release::JEWEL) {
            f &= !(bit(57) | bit(56) | bit(58)); // SERVER_JEWEL, NEW_OSDOP_ENCODING, TUNABLES5
        }
        f
    }

    /// The crc32c of the map encoded with its own [`OsdMap::encoding_features`]: what an
    /// incremental's `full_crc` states for the map it produces.
    pub fn canonical_crc(&self) -> u32 {
        let mut w = Writer::with_features(self.encoding_features());
        self.encode_with_crc(&mut w)
    }

    /// Decodes without judging the crc; returns what the crc check found.
    pub(crate) fn decode_unchecked(r: &mut Reader<'_>) -> denc::Result<(Self, Option<CrcCheck>)> {
        let mut m = OsdMap::default();
        let ((), crc) = decode_wrapper(
            r,
            "OSDMap",
            |r| {
                r.versioned("OSDMap client data", 10, |v, r| m.decode_client(v, r))?;
                r.versioned("OSDMap osd-only data", 12, |v, r| m.decode_osd_only(v, r))
            },
            |_| Ok(()),
        )?;
        let crc = crc.map(|((), c)| c);
        m.check_osd_vectors().map_err(|_| {
            r.error(DecodeErrorKind::Malformed(
                "per-OSD vector length differs from max_osd",
            ))
            .within("OSDMap")
        })?;
        Ok((m, crc))
    }

    fn decode_client(&mut self, v: u8, r: &mut Reader<'_>) -> denc::Result<()> {
        self.fsid = r.decode()?;
        self.epoch = r.u32()?;
        self.created = r.decode()?;
        self.modified = r.decode()?;
        self.pools = r.decode()?;
        self.pool_names = r.decode()?;
        self.pool_max = r.i32()?;
        self.flags = r.u32()?;
        self.max_osd = r.i32()?;
        self.osd_state = if v >= 5 {
            r.decode()?
        } else {
            let states: Vec<u8> = r.decode()?;
            states.into_iter().map(u32::from).collect()
        };
        self.osd_weight = r.decode()?;
        self.client_addrs = r.decode()?;
        self.pg_temp = r.decode()?;
        self.primary_temp = r.decode()?;
        if v >= 2 {
            let aff: Vec<u32> = r.decode()?;
            self.primary_affinity = (!aff.is_empty()).then_some(aff);
        }
        let crush: Bytes = r.decode()?;
        self.crush = CrushMapData::from_bytes(crush)?;
        if v >= 3 {
            self.erasure_code_profiles = r.decode()?;
        }
        if v >= 4 {
            self.pg_upmap = r.decode()?;
            self.pg_upmap_items = r.decode()?;
        }
        if v >= 6 {
            self.crush_version = r.u32()?;
        }
        if v >= 7 {
            self.new_removed_snaps = r.decode()?;
            self.new_purged_snaps = r.decode()?;
        }
        if v >= 9 {
            self.last_up_change = r.decode()?;
            self.last_in_change = r.decode()?;
        }
        if v >= 10 {
            self.pg_upmap_primaries = r.decode()?;
        }
        Ok(())
    }

    fn decode_osd_only(&mut self, v: u8, r: &mut Reader<'_>) -> denc::Result<()> {
        use map_flags::*;
        self.hb_back_addrs = r.decode()?;
        self.osd_info = r.decode()?;
        self.blocklist = r.decode()?;
        self.cluster_addrs = r.decode()?;
        self.cluster_snapshot_epoch = r.u32()?;
        self.cluster_snapshot = r.decode()?;
        self.osd_uuid = r.decode()?;
        self.osd_xinfo = r.decode()?;
        self.hb_front_addrs = r.decode()?;
        if v >= 2 {
            self.nearfull_ratio = r.f32()?;
            self.full_ratio = r.f32()?;
        }
        if v >= 3 {
            self.backfillfull_ratio = r.f32()?;
        }
        if v == 4 {
            let name: String = r.decode()?;
            if !name.is_empty() {
                self.require_min_compat_client = release_from_name(&name);
            }
        }
        if v >= 5 {
            self.require_min_compat_client = r.u8()?;
            self.require_osd_release = r.u8()?;
            if !release_lt(self.require_osd_release, release::NAUTILUS) {
                self.flags |= PGLOG_HARDLIMIT;
            }
            if !release_lt(self.require_osd_release, release::LUMINOUS) {
                self.flags &= !LEGACY_REQUIRE_FLAGS;
                self.flags |= RECOVERY_DELETES;
            }
        } else if self.flags & REQUIRE_LUMINOUS != 0 {
            self.require_osd_release = release::LUMINOUS;
            self.flags &= !LEGACY_REQUIRE_FLAGS;
            self.flags |= RECOVERY_DELETES;
        } else if self.flags & REQUIRE_KRAKEN != 0 {
            self.require_osd_release = release::KRAKEN;
        } else if self.flags & REQUIRE_JEWEL != 0 {
            self.require_osd_release = release::JEWEL;
        } else {
            self.require_osd_release = 0;
        }
        if v >= 6 {
            self.removed_snaps_queue = r.decode()?;
        }
        if v >= 8 {
            self.crush_node_flags = r.decode()?;
        }
        if v >= 9 {
            self.device_class_flags = r.decode()?;
        }
        if v >= 10 {
            self.stretch_mode_enabled = r.bool()?;
            self.stretch_bucket_count = r.u32()?;
            self.degraded_stretch_mode = r.u32()?;
            self.recovering_stretch_mode = r.u32()?;
            self.stretch_mode_bucket = r.i32()?;
        }
        if v >= 11 {
            self.range_blocklist = r.decode()?;
        }
        if v >= 12 {
            self.allow_crimson = r.bool()?;
        }
        Ok(())
    }

    /// Checks that every per-OSD vector has `max_osd` entries.
    pub(crate) fn check_osd_vectors(&self) -> Result<()> {
        let max = self.max_osd;
        let n = usize::try_from(max).map_err(|_| OsdMapError::MaxOsdOutOfRange(max.into()))?;
        let lens = [
            ("osd_state", self.osd_state.len()),
            ("osd_weight", self.osd_weight.len()),
            ("client_addrs", self.client_addrs.len()),
            ("hb_back_addrs", self.hb_back_addrs.len()),
            ("osd_info", self.osd_info.len()),
            ("cluster_addrs", self.cluster_addrs.len()),
            ("osd_uuid", self.osd_uuid.len()),
            ("osd_xinfo", self.osd_xinfo.len()),
            ("hb_front_addrs", self.hb_front_addrs.len()),
            (
                "primary_affinity",
                self.primary_affinity.as_ref().map_or(n, Vec::len),
            ),
        ];
        for (what, len) in lens {
            if len != n {
                return Err(OsdMapError::OsdVectorLength {
                    what,
                    len,
                    max_osd: max,
                });
            }
        }
        Ok(())
    }

    fn encode_client(&self, w: &mut Writer) {
        let f = w.features();
        let has = |mask| features::has(f, mask);
        let v: u8 = if !has(features::SERVER_LUMINOUS) {
            3
        } else if !has(features::SERVER_MIMIC) {
            6
        } else if !has(features::SERVER_NAUTILUS) {
            7
        } else if !has(features::SERVER_REEF) {
            9
        } else {
            10
        };
        w.versioned(v, 1, |w| {
            w.put(&self.fsid);
            w.put_u32(self.epoch);
            w.put(&self.created);
            w.put(&self.modified);
            w.put(&self.pools);
            w.put(&self.pool_names);
            w.put_i32(self.pool_max);
            if v < 4 {
                let mut flags = self.flags;
                let rel = self.require_osd_release;
                if !release_lt(rel, release::LUMINOUS) {
                    flags |= map_flags::REQUIRE_LUMINOUS | map_flags::RECOVERY_DELETES;
                } else if rel == release::KRAKEN {
                    flags |= map_flags::REQUIRE_KRAKEN;
                } else if rel == release::JEWEL {
                    flags |= map_flags::REQUIRE_JEWEL;
                }
                w.put_u32(flags);
            } else {
                w.put_u32(self.flags);
            }
            w.put_i32(self.max_osd);
            if v >= 5 {
                w.put(&self.osd_state);
            } else {
                w.put_len(self.osd_state.len());
                for s in &self.osd_state {
                    // pre-Luminous peers take one byte per OSD
                    #[allow(clippy::cast_possible_truncation)]
                    w.put_u8(*s as u8);
                }
            }
            w.put(&self.osd_weight);
            if v >= 8 {
                w.put(&self.client_addrs);
            } else {
                put_addrs_as_legacy(w, self.client_addrs.iter());
            }
            w.put(&self.pg_temp);
            w.put(&self.primary_temp);
            match &self.primary_affinity {
                Some(aff) => w.put(aff),
                None => w.put_len(0),
            }
            w.put(self.crush.bytes());
            w.put(&self.erasure_code_profiles);
            if v >= 4 {
                w.put(&self.pg_upmap);
                w.put(&self.pg_upmap_items);
            }
            if v >= 6 {
                w.put_u32(self.crush_version);
            }
            if v >= 7 {
                w.put(&self.new_removed_snaps);
                w.put(&self.new_purged_snaps);
            }
            if v >= 9 {
                w.put(&self.last_up_change);
                w.put(&self.last_in_change);
            }
            if v >= 10 {
                w.put(&self.pg_upmap_primaries);
            }
        });
    }

    fn encode_osd_only(&self, w: &mut Writer) {
        let f = w.features();
        let has = |mask| features::has(f, mask);
        let mut v: u8 = if !has(features::SERVER_LUMINOUS) {
            1
        } else if !has(features::SERVER_MIMIC) {
            5
        } else if !has(features::SERVER_NAUTILUS) {
            6
        } else {
            9
        };
        if self.stretch_mode_enabled {
            v = v.max(10);
        }
        if !self.range_blocklist.is_empty() {
            v = v.max(11);
        }
        if self.allow_crimson {
            v = v.max(12);
        }
        w.versioned(v, 1, |w| {
            let addrs = |w: &mut Writer, a: &Vec<EntityAddrVec>| {
                if v < 7 {
                    put_addrs_as_legacy(w, a.iter());
                } else {
                    w.put(a);
                }
            };
            addrs(w, &self.hb_back_addrs);
            w.put(&self.osd_info);
            w.put(&self.blocklist);
            addrs(w, &self.cluster_addrs);
            w.put_u32(self.cluster_snapshot_epoch);
            w.put(&self.cluster_snapshot);
            w.put(&self.osd_uuid);
            w.put(&self.osd_xinfo);
            addrs(w, &self.hb_front_addrs);
            if v >= 2 {
                w.put_f32(self.nearfull_ratio);
                w.put_f32(self.full_ratio);
                w.put_f32(self.backfillfull_ratio);
            }
            if v >= 5 {
                w.put_u8(self.require_min_compat_client);
                w.put_u8(self.require_osd_release);
            }
            if v >= 6 {
                w.put(&self.removed_snaps_queue);
            }
            if v >= 8 {
                w.put(&self.crush_node_flags);
            }
            if v >= 9 {
                w.put(&self.device_class_flags);
            }
            if v >= 10 {
                w.put_bool(self.stretch_mode_enabled);
                w.put_u32(self.stretch_bucket_count);
                w.put_u32(self.degraded_stretch_mode);
                w.put_u32(self.recovering_stretch_mode);
                w.put_i32(self.stretch_mode_bucket);
            }
            if v >= 11 {
                w.put(&self.range_blocklist);
            }
            if v >= 12 {
                w.put_bool(self.allow_crimson);
            }
        });
    }

    /// Encodes into `w` and returns the crc written.
    fn encode_with_crc(&self, w: &mut Writer) -> u32 {
        encode_wrapper(
            w,
            |w| {
                self.encode_client(w);
                self.encode_osd_only(w);
            },
            |_| {},
        )
    }
}

impl Decode for OsdMap {
    const MIN_LEN: usize = 6;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        let start = r.clone();
        let (map, crc) = Self::decode_unchecked(r)?;
        match crc {
            Some(c) if c.expected != c.actual => Err(start
                .invalid("OSDMap crc32c", u64::from(c.actual))
                .within("OSDMap")),
            _ => Ok(map),
        }
    }
}

impl Encode for OsdMap {
    // src/osd/OSDMap.cc OSDMap::encode (the modern, OSDMAP_ENC form only)
    fn encode(&self, w: &mut Writer) {
        self.encode_with_crc(w);
    }
}
