//! Small encoding helpers shared by the map types.

use bytes::Bytes;
use denc::{DecodeErrorKind, EntityAddr, Reader, UTime, Writer};

/// `interval_set<snapid_t>` (`snap_interval_set_t`): start -> length, encoded as a map.
pub type SnapIntervalSet = std::collections::BTreeMap<u64, u64>;

/// The intervals of `set` as half-open `[start, end)` ranges, ends saturating.
fn intervals(set: &SnapIntervalSet) -> impl Iterator<Item = (u64, u64)> + '_ {
    set.iter().map(|(&s, &l)| (s, s.saturating_add(l)))
}

/// Rebuilds an interval set from sorted, possibly touching or overlapping ranges, merging as
/// `interval_set` does (adjacent intervals become one).
fn from_ranges(mut ranges: Vec<(u64, u64)>) -> SnapIntervalSet {
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        if s >= e {
            continue;
        }
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged.into_iter().map(|(s, e)| (s, e - s)).collect()
}

/// `interval_set::union_of`.
pub fn interval_union(set: &mut SnapIntervalSet, other: &SnapIntervalSet) {
    let ranges = intervals(set).chain(intervals(other)).collect();
    *set = from_ranges(ranges);
}

/// `interval_set::subtract` (Ceph asserts `other` is contained in `set`; here whatever
/// overlaps is removed).
pub fn interval_subtract(set: &mut SnapIntervalSet, other: &SnapIntervalSet) {
    let mut ranges: Vec<(u64, u64)> = intervals(set).collect();
    for (os, oe) in intervals(other) {
        let mut next = Vec::with_capacity(ranges.len() + 1);
        for (s, e) in ranges {
            if oe <= s || e <= os {
                next.push((s, e));
                continue;
            }
            if s < os {
                next.push((s, os));
            }
            if oe < e {
                next.push((oe, e));
            }
        }
        ranges = next;
    }
    *set = from_ranges(ranges);
}

/// An `std::map<entity_addr_t, utime_t>` (blocklists), kept in Ceph's key order.
///
/// Ceph orders `entity_addr_t` by `memcmp` of the in-memory struct (little-endian type and
/// nonce, host-order family, then the socket address), which is not the numeric order of
/// the fields; entries are kept in that order so that encodings are byte-identical.
pub type AddrTimeMap = Vec<(EntityAddr, UTime)>;

/// The bytes of an `entity_addr_t` as Ceph's `operator<` compares them (`memcmp` over the
/// struct on a little-endian host): type, nonce, then the `sockaddr` union (family first).
pub fn addr_order_key(addr: &EntityAddr) -> [u8; 36] {
    // The modern encoding carries exactly these fields: marker, 6-byte envelope, type,
    // nonce, le32 sockaddr length, then the sockaddr (family in host = little-endian order).
    let mut w = Writer::with_features(denc::features::ALL);
    w.put(addr);
    let bytes = w.finish().unwrap_or_default();
    let mut key = [0u8; 36];
    // type and nonce
    for (dst, src) in key.iter_mut().zip(bytes.iter().skip(7).take(8)) {
        *dst = *src;
    }
    // sockaddr bytes after the le32 length
    for (dst, src) in key.iter_mut().skip(8).zip(bytes.iter().skip(19)) {
        *dst = *src;
    }
    key
}

/// Inserts or replaces `addr` in a Ceph-ordered address map.
pub fn addr_map_insert(map: &mut AddrTimeMap, addr: EntityAddr, time: UTime) {
    let key = addr_order_key(&addr);
    match map.binary_search_by(|(a, _)| addr_order_key(a).cmp(&key)) {
        Ok(i) => {
            if let Some(slot) = map.get_mut(i) {
                slot.1 = time;
            }
        }
        Err(i) => map.insert(i, (addr, time)),
    }
}

/// Removes `addr` from a Ceph-ordered address map.
pub fn addr_map_remove(map: &mut AddrTimeMap, addr: &EntityAddr) {
    map.retain(|(a, _)| a != addr);
}

/// Reads a whole `ENCODE_START` envelope (u8 version, u8 compat, le32 length, body) without
/// interpreting it, for fields we keep only to re-encode them.
pub fn raw_versioned(r: &mut Reader<'_>) -> denc::Result<Bytes> {
    let mut probe = r.clone();
    probe.skip(2)?;
    let len = probe.length()?;
    let total = len
        .checked_add(6)
        .ok_or_else(|| r.error(DecodeErrorKind::Malformed("envelope length overflows")))?;
    Ok(Bytes::copy_from_slice(r.take(total)?))
}

/// Ceph's `denc_varint` for a `u64` (7 bits per byte, low first, high bit = more).
pub fn decode_varint(r: &mut Reader<'_>) -> denc::Result<u64> {
    let mut value = 0u64;
    let mut shift = 0u32;
    loop {
        let byte = r.u8()?;
        if shift >= 64 {
            return Err(r.error(DecodeErrorKind::Malformed("varint longer than 64 bits")));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// Writes `value` as Ceph's `denc_varint`.
pub fn encode_varint(w: &mut Writer, mut value: u64) {
    loop {
        // the low seven bits, by construction
        #[allow(clippy::cast_possible_truncation)]
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            w.put_u8(low);
            return;
        }
        w.put_u8(low | 0x80);
    }
}

/// `ceph_release_t` ordering: values with the top bit set (the old "-1") sort below all
/// others (src/common/ceph_releases.h).
pub fn release_lt(a: u8, b: u8) -> bool {
    #[allow(clippy::cast_possible_wrap)]
    let (sa, sb) = (a as i8, b as i8);
    if sa < 0 {
        true
    } else if sb < 0 {
        false
    } else {
        a < b
    }
}

/// `ceph_release_from_name` for the releases an encoding can name.
pub fn release_from_name(name: &str) -> u8 {
    const NAMES: [&str; 21] = [
        "unknown",
        "argonaut",
        "bobtail",
        "cuttlefish",
        "dumpling",
        "emperor",
        "firefly",
        "giant",
        "hammer",
        "infernalis",
        "jewel",
        "kraken",
        "luminous",
        "mimic",
        "nautilus",
        "octopus",
        "pacific",
        "quincy",
        "reef",
        "squid",
        "tentacle",
    ];
    NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

/// Releases by number (`ceph_release_t`).
pub mod release {
    /// Luminous (12).
    pub const LUMINOUS: u8 = 12;
    /// Nautilus (14).
    pub const NAUTILUS: u8 = 14;
    /// Octopus (15).
    pub const OCTOPUS: u8 = 15;
    /// Quincy (17).
    pub const QUINCY: u8 = 17;
    /// Reef (18).
    pub const REEF: u8 = 18;
    /// Tentacle (20).
    pub const TENTACLE: u8 = 20;
    /// Kraken (11).
    pub const KRAKEN: u8 = 11;
    /// Jewel (10).
    pub const JEWEL: u8 = 10;
    /// Mimic (13).
    pub const MIMIC: u8 = 13;
    /// "No change" in incrementals (Ceph's 0xff, the old -1).
    pub const NONE: u8 = 0xff;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut w = Writer::new();
            encode_varint(&mut w, v);
            let bytes = w.finish().unwrap();
            let mut r = Reader::new(&bytes);
            assert_eq!(decode_varint(&mut r).unwrap(), v);
            assert!(r.is_empty());
        }
        let too_long = [0xffu8; 11];
        assert!(decode_varint(&mut Reader::new(&too_long)).is_err());
    }

    #[test]
    fn interval_sets_merge_and_split() {
        let mut a: SnapIntervalSet = [(1, 2), (10, 5)].into();
        interval_union(&mut a, &[(3, 2), (12, 10)].into());
        assert_eq!(a, [(1, 4), (10, 12)].into());
        interval_subtract(&mut a, &[(2, 1), (10, 12)].into());
        assert_eq!(a, [(1, 1), (3, 2)].into());
    }

    #[test]
    fn release_order_puts_minus_one_first() {
        assert!(release_lt(0xff, 0));
        assert!(!release_lt(0, 0xff));
        assert!(release_lt(12, 14));
        assert_eq!(release_from_name("luminous"), 12);
        assert_eq!(release_from_name("nope"), 0);
    }

    #[test]
    fn addr_order_is_memcmp_of_le_fields() {
        let a: EntityAddr = "v2:10.0.0.1:6800/256".parse().unwrap();
        let b: EntityAddr = "v2:10.0.0.1:6800/1".parse().unwrap();
        // nonce 256 = 00 01 00 00 and nonce 1 = 01 00 00 00: memcmp puts 256 first
        assert!(addr_order_key(&a) < addr_order_key(&b));
        let mut m = AddrTimeMap::new();
        addr_map_insert(&mut m, b, UTime::new(1, 0));
        addr_map_insert(&mut m, a, UTime::new(2, 0));
        addr_map_insert(&mut m, b, UTime::new(3, 0));
        assert_eq!(m, vec![(a, UTime::new(2, 0)), (b, UTime::new(3, 0))]);
    }
}
