//! The monitor map and the messages that carry it: `MonMap`, `mon_info_t`, `mon_feature_t`
//! (src/mon/MonMap.cc, src/mon/mon_types.h), `MMonMap` and `MMonGetMap`
//! (src/messages/MMonMap.h, MMonGetMap.h).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use denc::{
    AddrType, Decode, DecodeErrorKind, Encode, EntityAddr, EntityAddrVec, EntityInst, Reader,
    UTime, Uuid, Writer,
};

use super::{MessageCodec, msg_type};

/// `mon_feature_t`: the monitors' own feature bits (`ceph::features::mon::FEATURE_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MonFeature(pub u64);

impl MonFeature {
    /// `FEATURE_KRAKEN`.
    pub const KRAKEN: u64 = 1 << 0;
    /// `FEATURE_LUMINOUS`.
    pub const LUMINOUS: u64 = 1 << 1;
    /// `FEATURE_MIMIC`.
    pub const MIMIC: u64 = 1 << 2;
    /// `FEATURE_NAUTILUS`.
    pub const NAUTILUS: u64 = 1 << 4;
    /// `FEATURE_OCTOPUS`.
    pub const OCTOPUS: u64 = 1 << 5;
    /// `FEATURE_PACIFIC`.
    pub const PACIFIC: u64 = 1 << 6;
    /// `FEATURE_QUINCY`.
    pub const QUINCY: u64 = 1 << 8;
    /// `FEATURE_REEF`.
    pub const REEF: u64 = 1 << 9;
    /// `FEATURE_SQUID`.
    pub const SQUID: u64 = 1 << 10;
    /// `FEATURE_TENTACLE`.
    pub const TENTACLE: u64 = 1 << 11;

    /// True if every bit of `mask` is set.
    pub fn contains_all(self, mask: u64) -> bool {
        self.0 & mask == mask
    }

    /// `infer_ceph_release_from_mon_features`: the newest release (`ceph_release_t`
    /// number, 11 = kraken ... 20 = tentacle) whose feature is set, 0 if none.
    pub fn inferred_release(self) -> u8 {
        const BY_RELEASE: [(u64, u8); 10] = [
            (MonFeature::TENTACLE, 20),
            (MonFeature::SQUID, 19),
            (MonFeature::REEF, 18),
            (MonFeature::QUINCY, 17),
            (MonFeature::PACIFIC, 16),
            (MonFeature::OCTOPUS, 15),
            (MonFeature::NAUTILUS, 14),
            (MonFeature::MIMIC, 13),
            (MonFeature::LUMINOUS, 12),
            (MonFeature::KRAKEN, 11),
        ];
        BY_RELEASE
            .iter()
            .find(|(mask, _)| self.contains_all(*mask))
            .map_or(0, |(_, release)| *release)
    }
}

impl Decode for MonFeature {
    const MIN_LEN: usize = 14;
    // src/mon/mon_types.h mon_feature_t::decode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("mon_feature_t", 1, |_, r| Ok(MonFeature(r.u64()?)))
    }
}

impl Encode for MonFeature {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| w.put_u64(self.0));
    }
}

/// `mon_info_t`: one monitor of the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonInfo {
    /// The name (`a` in `mon.a`).
    pub name: String,
    /// Its public addresses (usually a v2 and a v1 address).
    pub public_addrs: EntityAddrVec,
    /// Lower is preferred by clients choosing a monitor.
    pub priority: u16,
    /// Weight among monitors of the same priority (0 = uniform).
    pub weight: u16,
    /// CRUSH location (stretch mode).
    pub crush_loc: BTreeMap<String, String>,
    /// When the monitor was added (v6+).
    pub time_added: UTime,
    /// The encoding version decoded (re-encoded the same way).
    pub struct_v: u8,
}

impl MonInfo {
    /// A monitor as configured locally (before the real map arrives).
    pub fn new(name: impl Into<String>, public_addrs: EntityAddrVec) -> Self {
        MonInfo {
            name: name.into(),
            public_addrs,
            struct_v: 6,
            ..MonInfo::default()
        }
    }
}

impl Decode for MonInfo {
    const MIN_LEN: usize = 6 + 4 + 5;
    // src/mon/MonMap.cc mon_info_t::decode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("mon_info_t", 6, |v, r| {
            let mut m = MonInfo {
                name: r.decode()?,
                public_addrs: r.decode()?,
                struct_v: v,
                ..MonInfo::default()
            };
            if v >= 2 {
                m.priority = r.u16()?;
            }
            if v >= 4 {
                m.weight = r.u16()?;
            }
            if v >= 5 {
                m.crush_loc = r.decode()?;
            }
            if v >= 6 {
                m.time_added = r.decode()?;
            }
            Ok(m)
        })
    }
}

impl Encode for MonInfo {
    // src/mon/MonMap.cc mon_info_t::encode; the version decoded is kept so a map re-encodes
    // byte for byte
    fn encode(&self, w: &mut Writer) {
        let v = self.struct_v.clamp(1, 6);
        w.versioned(v, 1, |w| {
            w.put(&self.name);
            if v < 3 {
                w.put(&legacy_or_front(&self.public_addrs));
            } else {
                w.put(&self.public_addrs);
            }
            if v >= 2 {
                w.put_u16(self.priority);
            }
            if v >= 4 {
                w.put_u16(self.weight);
            }
            if v >= 5 {
                w.put(&self.crush_loc);
            }
            if v >= 6 {
                w.put(&self.time_added);
            }
        });
    }
}

/// The legacy (v1) address of a vector, else its first (`legacy_or_front_addr`).
fn legacy_or_front(addrs: &EntityAddrVec) -> EntityAddr {
    addrs
        .of_type(AddrType::LEGACY)
        .or(addrs.0.first())
        .copied()
        .unwrap_or_default()
}

/// `CEPH_CRYPTO_AES`.
pub const CRYPTO_AES: i32 = 1;
/// `CEPH_CRYPTO_AES256KRB5` (Tentacle's aes256k).
pub const CRYPTO_AES256KRB5: i32 = 2;

/// The monitor map (`MonMap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonMap {
    /// The cluster id.
    pub fsid: Uuid,
    /// The map's epoch (0 for a map built from configuration).
    pub epoch: u32,
    /// Last change.
    pub last_changed: UTime,
    /// Creation.
    pub created: UTime,
    /// Features every monitor must have, for good.
    pub persistent_features: MonFeature,
    /// Features currently enabled.
    pub optional_features: MonFeature,
    /// The monitors by name.
    pub mon_info: BTreeMap<String, MonInfo>,
    /// Monitor names by rank.
    pub ranks: Vec<String>,
    /// The oldest release running among the monitors (`ceph_release_t`).
    pub min_mon_release: u8,
    /// Ranks removed when this map took effect (v8).
    pub removed_ranks: BTreeSet<u32>,
    /// Election strategy (v8).
    pub strategy: u8,
    /// Monitors that may not lead (v8).
    pub disallowed_leaders: BTreeSet<String>,
    /// Stretch mode (v9).
    pub stretch_mode_enabled: bool,
    /// The stretch tie-breaker (v9).
    pub tiebreaker_mon: String,
    /// Monitors marked down in stretch mode (v9).
    pub stretch_marked_down_mons: BTreeSet<String>,
    /// Bumped when the auth ciphers change (v10, Tentacle): tickets must be renewed.
    pub auth_epoch: u32,
    /// Cipher of the service (rotating) keys (v10).
    pub auth_service_cipher: i32,
    /// Ciphers client keys may use (v10).
    pub auth_allowed_ciphers: Vec<i32>,
    /// Preferred cipher for new keys (v10).
    pub auth_preferred_cipher: i32,
    /// The encoding version decoded.
    pub struct_v: u8,
}

impl Default for MonMap {
    fn default() -> Self {
        MonMap {
            fsid: Uuid::NIL,
            epoch: 0,
            last_changed: UTime::default(),
            created: UTime::default(),
            persistent_features: MonFeature::default(),
            optional_features: MonFeature::default(),
            mon_info: BTreeMap::new(),
            ranks: Vec::new(),
            min_mon_release: 0,
            removed_ranks: BTreeSet::new(),
            strategy: 1,
            disallowed_leaders: BTreeSet::new(),
            stretch_mode_enabled: false,
            tiebreaker_mon: String::new(),
            stretch_marked_down_mons: BTreeSet::new(),
            // what Ceph assumes for maps older than v10
            auth_epoch: 0,
            auth_service_cipher: CRYPTO_AES,
            auth_allowed_ciphers: vec![CRYPTO_AES, CRYPTO_AES256KRB5],
            auth_preferred_cipher: CRYPTO_AES,
            struct_v: 10,
        }
    }
}

impl MonMap {
    /// A map of epoch 0 holding the monitors of the configuration (`noname-a`, ...), ranked
    /// as Ceph ranks a legacy map (by address, then name).
    pub fn from_initial(mons: impl IntoIterator<Item = MonInfo>) -> MonMap {
        let mut map = MonMap::default();
        for m in mons {
            map.mon_info.insert(m.name.clone(), m);
        }
        map.calc_legacy_ranks();
        map
    }

    /// Number of monitors.
    pub fn len(&self) -> usize {
        self.mon_info.len()
    }

    /// True for a map without monitors.
    pub fn is_empty(&self) -> bool {
        self.mon_info.is_empty()
    }

    /// The monitors in rank order.
    pub fn by_rank(&self) -> impl Iterator<Item = (usize, &MonInfo)> {
        self.ranks
            .iter()
            .enumerate()
            .filter_map(|(rank, name)| self.mon_info.get(name).map(|m| (rank, m)))
    }

    /// The monitor with one of `addrs` (compared by type and socket address, not nonce).
    pub fn find_by_addrs(&self, addrs: &EntityAddrVec) -> Option<&MonInfo> {
        self.mon_info.values().find(|m| {
            m.public_addrs.0.iter().any(|a| {
                addrs
                    .0
                    .iter()
                    .any(|b| a.addr_type == b.addr_type && a.socket_addr() == b.socket_addr())
            })
        })
    }

    /// `calc_legacy_ranks`: ranks ordered by legacy (or first) address, then name.
    fn calc_legacy_ranks(&mut self) {
        let mut order: Vec<(EntityAddr, &String)> = self
            .mon_info
            .values()
            .map(|m| (legacy_or_front(&m.public_addrs), &m.name))
            .collect();
        order.sort();
        self.ranks = order.into_iter().map(|(_, n)| n.clone()).collect();
    }

    // src/mon/MonMap.cc MonMap::decode (DECODE_START_LEGACY_COMPAT_LEN_16(10, 3, 3)): before
    // version 3 the version was a u16 and there was neither compat nor length
    fn decode_body(&mut self, v: u8, r: &mut Reader<'_>) -> denc::Result<()> {
        self.struct_v = v;
        self.fsid = r.decode()?;
        self.epoch = r.u32()?;
        let mut legacy_addrs: BTreeMap<String, EntityAddr> = BTreeMap::new();
        if v == 1 {
            let insts: Vec<EntityInst> = r.decode()?;
            for (i, inst) in insts.into_iter().enumerate() {
                // Ceph names them '0' + i
                let name = u8::try_from(i)
                    .ok()
                    .and_then(|i| b'0'.checked_add(i))
                    .map(char::from)
                    .ok_or_else(|| r.invalid("MonMap v1 monitor count", i as u64))?;
                legacy_addrs.insert(name.to_string(), inst.addr);
            }
        } else if v < 6 {
            legacy_addrs = r.decode()?;
        }
        self.last_changed = r.decode()?;
        self.created = r.decode()?;
        if v >= 4 {
            self.persistent_features = r.decode()?;
            self.optional_features = r.decode()?;
        }
        if v < 5 {
            for (name, addr) in legacy_addrs {
                let info = MonInfo::new(name.clone(), EntityAddrVec(vec![addr]));
                self.mon_info.insert(name, info);
            }
        } else {
            self.mon_info = r.decode()?;
        }
        if v < 6 {
            self.calc_legacy_ranks();
        } else {
            self.ranks = r.decode()?;
        }
        self.min_mon_release = if v >= 7 {
            r.u8()?
        } else {
            self.persistent_features.inferred_release()
        };
        if v >= 8 {
            self.removed_ranks = r.decode()?;
            self.strategy = r.u8()?;
            self.disallowed_leaders = r.decode()?;
        }
        if v >= 9 {
            self.stretch_mode_enabled = r.bool()?;
            self.tiebreaker_mon = r.decode()?;
            self.stretch_marked_down_mons = r.decode()?;
        }
        if v >= 10 {
            self.auth_epoch = r.u32()?;
            self.auth_service_cipher = r.i32()?;
            self.auth_allowed_ciphers = r.decode()?;
            self.auth_preferred_cipher = r.i32()?;
        }
        Ok(())
    }
}

impl Decode for MonMap {
    const MIN_LEN: usize = 2 + 16 + 4 + 16;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("MonMap", |r| {
            let mut map = MonMap {
                // unknown until decoded: the defaults above are Ceph's for old maps
                ..MonMap::default()
            };
            let v = r.u8()?;
            if v >= 3 {
                let compat = r.u8()?;
                if compat > 10 {
                    return Err(r.error(DecodeErrorKind::IncompatibleVersion {
                        version: v,
                        compat,
                        supported: 10,
                    }));
                }
                let len = r.length()?;
                let mut body = r.sub(len)?;
                map.decode_body(v, &mut body)?;
            } else {
                // the high byte of the old u16 version
                r.skip(1)?;
                map.decode_body(v, r)?;
            }
            Ok(map)
        })
    }
}

impl Encode for MonMap {
    /// The Nautilus-and-later encoding (what monitors send clients with `SERVER_NAUTILUS`),
    /// at the version decoded (6 to 10), fields up to that version.
    fn encode(&self, w: &mut Writer) {
        let v = self.struct_v.clamp(6, 10);
        w.versioned(v, 6, |w| {
            w.put(&self.fsid);
            w.put_u32(self.epoch);
            w.put(&self.last_changed);
            w.put(&self.created);
            w.put(&self.persistent_features);
            w.put(&self.optional_features);
            w.put(&self.mon_info);
            w.put(&self.ranks);
            if v >= 7 {
                w.put_u8(self.min_mon_release);
            }
            if v >= 8 {
                w.put(&self.removed_ranks);
                w.put_u8(self.strategy);
                w.put(&self.disallowed_leaders);
            }
            if v >= 9 {
                w.put_bool(self.stretch_mode_enabled);
                w.put(&self.tiebreaker_mon);
                w.put(&self.stretch_marked_down_mons);
            }
            if v >= 10 {
                w.put_u32(self.auth_epoch);
                w.put_i32(self.auth_service_cipher);
                let mut ciphers = self.auth_allowed_ciphers.clone();
                ciphers.sort_unstable();
                w.put(&ciphers);
                w.put_i32(self.auth_preferred_cipher);
            }
        });
    }
}

/// `MMonMap`: a monitor map, as an opaque bufferlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MMonMap {
    /// The encoded [`MonMap`].
    pub monmap_bl: Bytes,
}

impl MMonMap {
    /// Decodes the map it carries.
    pub fn monmap(&self) -> denc::Result<MonMap> {
        let mut r = Reader::new(&self.monmap_bl);
        let map = r.decode()?;
        r.finish()?;
        Ok(map)
    }
}

impl MessageCodec for MMonMap {
    const TYPE: u16 = msg_type::MON_MAP;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MMonMap";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.monmap_bl);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MMonMap {
            monmap_bl: r.decode()?,
        })
    }
}

/// `MMonGetMap`: asks for the monitor map (empty; what a client sends first on every new
/// monitor session, src/mon/MonClient.cc `MonConnection::start`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MMonGetMap;

impl MessageCodec for MMonGetMap {
    const TYPE: u16 = msg_type::MON_GET_MAP;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MMonGetMap";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 0)
    }

    fn encode_front(&self, _: &mut Writer, _: u16) {}

    fn decode_front(_: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MMonGetMap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::round_trip;
    use denc::testing::check_corpus;

    #[test]
    fn corpus_mon_feature_t() {
        let all = check_corpus::<MonFeature>("mon_feature_t", denc::features::ALL);
        assert!(all.len() >= 10);
    }

    #[test]
    fn corpus_mon_info_t() {
        let all = check_corpus::<MonInfo>("mon_info_t", denc::features::ALL);
        assert!(all.iter().any(|(_, m)| !m.crush_loc.is_empty()));
        assert!(
            all.iter()
                .any(|(_, m)| m.name == "noname" && m.priority == 1)
        );
    }

    #[test]
    fn corpus_monmap() {
        let all = check_corpus::<MonMap>("MonMap", denc::features::ALL);
        assert_eq!(all.len(), 12);
        for (sample, map) in &all {
            assert_eq!(map.struct_v, 9, "{}", sample.path.display());
            assert_eq!(map.ranks.len(), map.mon_info.len());
        }
    }

    fn sample_map() -> MonMap {
        let a: EntityAddrVec = EntityAddrVec(vec![
            "v2:10.0.0.1:3300/0".parse().unwrap(),
            "v1:10.0.0.1:6789/0".parse().unwrap(),
        ]);
        let b: EntityAddrVec = EntityAddrVec(vec!["v2:10.0.0.2:3300/0".parse().unwrap()]);
        let mut map = MonMap::from_initial([MonInfo::new("b", b), MonInfo::new("a", a)]);
        map.fsid = "618f4408-9208-9921-c3e9-44a991122ddc".parse().unwrap();
        map.epoch = 3;
        map.min_mon_release = 20;
        map.auth_epoch = 2;
        map.auth_allowed_ciphers = vec![2];
        map.auth_preferred_cipher = 2;
        map.auth_service_cipher = 2;
        map
    }

    #[test]
    fn tentacle_v10_cipher_fields_round_trip() {
        let map = sample_map();
        assert_eq!(map.ranks, ["a", "b"]);
        let bytes = denc::encode_with_features(&map, denc::features::ALL).unwrap();
        assert_eq!(bytes[0], 10);
        assert_eq!(bytes[1], 6);
        let back: MonMap = denc::decode_exact(&bytes).unwrap();
        assert_eq!(back, map);
        denc::testing::assert_truncations_fail::<MonMap>(&bytes, std::path::Path::new("v10"));
        // a v9 map gets Ceph's defaults for the cipher fields
        let mut v9 = map.clone();
        v9.struct_v = 9;
        let bytes = denc::encode_with_features(&v9, denc::features::ALL).unwrap();
        let back: MonMap = denc::decode_exact(&bytes).unwrap();
        assert_eq!(back.auth_allowed_ciphers, [CRYPTO_AES, CRYPTO_AES256KRB5]);
        assert_eq!(back.auth_epoch, 0);
    }

    #[test]
    fn legacy_v2_map_gets_ranks_by_address() {
        // u16 version 2, fsid, epoch, map<string, entity_addr_t>, last_changed, created
        let mut w = Writer::with_features(denc::features::ALL);
        w.put_u16(2);
        w.put(&Uuid([7; 16]));
        w.put_u32(5);
        let mut addrs = BTreeMap::new();
        addrs.insert(
            "z".to_string(),
            "v1:10.0.0.1:6789/0".parse::<EntityAddr>().unwrap(),
        );
        addrs.insert(
            "y".to_string(),
            "v1:10.0.0.2:6789/0".parse::<EntityAddr>().unwrap(),
        );
        w.put(&addrs);
        w.put(&UTime::new(1, 2));
        w.put(&UTime::new(3, 4));
        let map: MonMap = denc::decode_exact(&w.finish().unwrap()).unwrap();
        assert_eq!(map.epoch, 5);
        assert_eq!(map.ranks, ["z", "y"]);
        assert_eq!(map.mon_info["y"].public_addrs.0[0].port(), 6789);
    }

    #[test]
    fn mmonmap_and_getmap_round_trip() {
        let map = sample_map();
        let m = MMonMap {
            monmap_bl: Bytes::from(denc::encode_with_features(&map, denc::features::ALL).unwrap()),
        };
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (1, 0));
        assert_eq!(m.monmap().unwrap(), map);
        let msg = round_trip(&MMonGetMap, denc::features::ALL);
        assert!(msg.front.is_empty());
        let found = map
            .find_by_addrs(&EntityAddrVec(vec![
                "v2:10.0.0.2:3300/1234".parse().unwrap(),
            ]))
            .unwrap();
        assert_eq!(found.name, "b");
    }
}
