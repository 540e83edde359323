//! Every corpus sample of the map types decodes, re-encodes to the same bytes, and refuses
//! every truncation cleanly.

use denc::features;
use denc::testing::{assert_truncations_fail, check_corpus, decode_all, hex, samples};
use denc::{Encode, Writer};
use osdmap::{Incremental, OsdMap, PgPool, PoolSnapInfo};

/// The features each release's ceph-dencoder encoded with (`CEPH_FEATURES_SUPPORTED_DEFAULT`),
/// as far as the map encoders look at them.
/// (Only the plain bits go: the incarnation markers they share stay.)
fn release_features(version: &str) -> u64 {
    const QUINCY: u64 = 1 << 33;
    const REEF: u64 = 1 << 31;
    const SQUID: u64 = 1 << 49;
    const TENTACLE: u64 = 1 << 50;
    match version.split('.').next() {
        Some("16") => features::ALL & !(QUINCY | REEF | SQUID | TENTACLE),
        Some("18") => features::ALL & !(SQUID | TENTACLE),
        Some("19") => features::ALL & !TENTACLE,
        _ => features::ALL,
    }
}

/// The features a release's encoder effectively used for its version choices, given the
/// features it wrote into an incremental:
/// * Pacific advertised bit 31 (the retired `MON_SINGLE_PAXOS`), which Reef and later read
///   as `SERVER_REEF`; Pacific's encoder had no such check.
/// * 18.2.0 wrote the client part as v9 whatever the features (its samples carry v9 with
///   features lacking `SERVER_REEF`); the `SERVER_REEF` check came later in Reef.
fn version_features(version: &str, written: u64) -> u64 {
    if version.starts_with("16.") {
        written & !(1 << 31)
    } else if version.starts_with("18.") {
        written | features::SERVER_REEF
    } else {
        written
    }
}

fn encode_with<T: Encode>(value: &T, f: u64) -> Vec<u8> {
    let mut w = Writer::with_features(f);
    value.encode(&mut w);
    w.finish().unwrap()
}

#[test]
fn pool_snap_info_corpus() {
    let decoded = check_corpus::<PoolSnapInfo>("pool_snap_info_t", features::ALL);
    assert_eq!(decoded.len(), 40);
}

#[test]
fn pg_pool_corpus_per_release() {
    let mut n = 0;
    for s in samples("pg_pool_t") {
        let pool: PgPool = decode_all(&s.bytes, &s.path);
        let again = encode_with(&pool, release_features(s.version));
        assert_eq!(
            hex(&again),
            hex(&s.bytes),
            "{}: re-encoding differs",
            s.path.display()
        );
        assert_truncations_fail::<PgPool>(&s.bytes, &s.path);
        n += 1;
    }
    assert_eq!(n, 40);
}

#[test]
fn osdmap_corpus_per_release() {
    let mut n = 0;
    for s in samples("OSDMap") {
        let map =
            OsdMap::from_bytes(&s.bytes).unwrap_or_else(|e| panic!("{}: {e}", s.path.display()));
        let again = map.to_bytes(release_features(s.version)).unwrap();
        assert_eq!(
            hex(&again),
            hex(&s.bytes),
            "{}: re-encoding differs",
            s.path.display()
        );
        assert_truncations_fail::<OsdMap>(&s.bytes, &s.path);
        n += 1;
    }
    assert_eq!(n, 40);
}

#[test]
fn incremental_corpus() {
    let mut n = 0;
    for s in samples("OSDMap::Incremental") {
        let inc = Incremental::from_bytes(&s.bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", s.path.display()));
        // Ceph writes the features it encoded with; encoding with them reproduces the bytes
        let mut w = Writer::with_features(version_features(s.version, inc.encode_features));
        inc.encode_writing_features(&mut w, inc.encode_features);
        let again = w.finish().unwrap();
        assert_eq!(
            hex(&again),
            hex(&s.bytes),
            "{}: re-encoding differs",
            s.path.display()
        );
        assert_truncations_fail::<Incremental>(&s.bytes, &s.path);
        n += 1;
    }
    assert_eq!(n, 40);
}

/// Feature sets that make `pg_pool_t::encode` pick each of its versions, from the oldest.
fn pool_feature_ladder() -> Vec<(u8, u64)> {
    let bit = |n: u32| 1u64 << n;
    let pgpool3 = bit(11);
    let osdenc = bit(13);
    let poolresend = bit(43);
    let new_osdop = bit(56);
    let jewel = bit(57); // also the marker of later incarnations
    let luminous = bit(21);
    let mimic = bit(28);
    let nautilus = bit(2);
    let tentacle = bit(50);
    let mut f = 0;
    let mut ladder = vec![(2, f)];
    f |= pgpool3;
    ladder.push((4, f));
    f |= osdenc;
    ladder.push((14, f));
    f |= poolresend | jewel;
    ladder.push((21, f));
    f |= new_osdop;
    ladder.push((24, f));
    f |= luminous;
    ladder.push((26, f));
    f |= mimic;
    ladder.push((27, f));
    f |= nautilus;
    ladder.push((29, f));
    f |= tentacle;
    ladder.push((32, f));
    ladder
}

#[test]
fn pools_encode_and_decode_for_every_peer_generation() {
    let samples = samples("pg_pool_t");
    let rich: PgPool = decode_all(&samples[0].bytes, &samples[0].path);
    let mut stretch = rich.clone();
    stretch.peering_crush_bucket_count = 2;
    stretch.peering_crush_bucket_target = 3;
    stretch.peering_crush_mandatory_member = -5;
    for (pool, stretched) in [(&rich, false), (&stretch, true)] {
        for (version, f) in pool_feature_ladder() {
            let bytes = encode_with(pool, f);
            let expect = if stretched && version == 29 {
                30
            } else {
                version
            };
            assert_eq!(bytes[0], expect, "features {f:#x}");
            let back: PgPool = denc::decode_exact(&bytes).unwrap();
            // what every generation carries
            assert_eq!(
                (back.pool_type, back.size, back.crush_rule, back.object_hash),
                (pool.pool_type, pool.size, pool.crush_rule, pool.object_hash)
            );
            assert_eq!((back.pg_num, back.pgp_num), (pool.pg_num, pool.pgp_num));
            assert_eq!((back.snap_seq, &back.snaps), (pool.snap_seq, &pool.snaps));
            if version >= 27 {
                assert_eq!(back.flags, pool.flags);
            }
            if version >= 29 {
                assert_eq!(&back, pool, "v{version}");
            }
            if stretched && version >= 30 {
                assert_eq!(back.peering_crush_mandatory_member, -5);
            }
            // and the older encoding is stable: encoding what we decoded gives the same bytes
            assert_eq!(hex(&encode_with(&back, f)), hex(&bytes), "v{version}");
            assert_truncations_fail::<PgPool>(&bytes, std::path::Path::new("ladder"));
        }
    }
}

#[test]
fn maps_encode_and_decode_for_older_peers() {
    use osdmap::testutil::release_features;
    let bit = |n: u32| 1u64 << n;
    for s in samples("OSDMap") {
        let map = OsdMap::from_bytes(&s.bytes).unwrap();
        if !map.pg_upmap.is_empty() || !map.pg_upmap_items.is_empty() {
            continue; // Ceph cannot encode those for pre-Luminous peers either
        }
        let pre_reef = release_features(17);
        let pre_nautilus = pre_reef & !bit(2);
        let pre_mimic = pre_nautilus & !bit(28);
        let pre_luminous = pre_mimic & !bit(21);
        for (f, client_v) in [
            (pre_reef, 9),
            (pre_nautilus, 7),
            (pre_mimic, 6),
            (pre_luminous, 3),
        ] {
            let bytes = map.to_bytes(f).unwrap();
            assert_eq!(bytes[6], client_v);
            let back = OsdMap::from_bytes(&bytes)
                .unwrap_or_else(|e| panic!("{}: {client_v}: {e}", s.path.display()));
            assert_eq!((back.epoch, back.max_osd), (map.epoch, map.max_osd));
            assert_eq!(back.pools.len(), map.pools.len());
            assert_eq!(back.osd_state, map.osd_state);
            assert_eq!(back.osd_weight, map.osd_weight);
            assert_eq!(back.crush, map.crush);
            assert_eq!(back.to_bytes(f).unwrap(), bytes, "v{client_v} is stable");
        }
    }
}

#[test]
fn incrementals_encode_and_decode_for_older_peers() {
    use osdmap::testutil::release_features;
    let bit = |n: u32| 1u64 << n;
    let pre_reef = release_features(17);
    let pre_nautilus = pre_reef & !bit(2);
    let pre_mimic = pre_nautilus & !bit(28);
    let pre_luminous = pre_mimic & !bit(21);
    let mut n = 0;
    for s in samples("OSDMap::Incremental") {
        let inc = Incremental::from_bytes(&s.bytes).unwrap();
        for (f, client_v, osd_v) in [
            (pre_reef, 8, 9),
            (pre_nautilus, 6, 6),
            (pre_mimic, 5, 6),
            (pre_luminous, 3, 2),
        ] {
            let bytes = inc.to_bytes(f).unwrap();
            assert_eq!(bytes[6], client_v);
            let back = Incremental::from_bytes(&bytes)
                .unwrap_or_else(|e| panic!("{}: {client_v}: {e}", s.path.display()));
            assert_eq!(back.encode_features, f);
            assert_eq!(
                (back.epoch, back.new_max_osd, back.full_crc),
                (inc.epoch, inc.new_max_osd, inc.full_crc)
            );
            assert_eq!(back.new_pools.len(), inc.new_pools.len());
            assert_eq!(back.new_weight, inc.new_weight);
            assert_eq!(back.new_pg_temp, inc.new_pg_temp);
            assert_eq!(back.to_bytes(f).unwrap(), bytes, "v{client_v} is stable");
            let osd_part_at = 12 + u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
            assert!(bytes[osd_part_at] >= osd_v);
            n += 1;
        }
    }
    assert_eq!(n, 160);
}
