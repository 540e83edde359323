//! Damaged input: truncations inside every envelope, byte flips (with the crc32c recomputed
//! so that decoding gets past the checksum and into the fields), absurd sizes. Nothing may
//! panic, allocate without bound, or be accepted when Ceph would refuse it.

use denc::testing::samples;
use osdmap::fuzzing::{fuzz_incremental, fuzz_osdmap, small_map};
use osdmap::hash::crc32c;
use osdmap::{Incremental, MAX_OSD_LIMIT, OsdMap, OsdMapError, PgPool};

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn put_le32(b: &mut [u8], at: usize, v: usize) {
    b[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
}

/// Offsets in a map or incremental: (client part start, osd-only part start, crc position,
/// wrapper end).
fn layout(b: &[u8]) -> (usize, usize, usize, usize) {
    let end = 6 + le32(b, 2);
    let client = 6;
    let osd = client + 6 + le32(b, client + 2);
    let crc = osd + 6 + le32(b, osd + 2);
    (client, osd, crc, end)
}

/// Recomputes the wrapper's crc32c (everything but the crc field itself).
fn fix_crc(b: &mut [u8], crc_at: usize, end: usize) {
    let crc = crc32c(crc32c(u32::MAX, &b[..crc_at]), &b[crc_at + 4..end]);
    b[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Cut points: every one in the first and last KiB of a part, every 7th in between (each
/// cut decodes everything before it, so all cuts of all samples would be quadratic).
fn cuts(range: std::ops::Range<usize>) -> Vec<usize> {
    range
        .clone()
        .filter(|c| c - range.start < 1024 || range.end - c <= 1024 || c % 7 == 0)
        .collect()
}

#[test]
fn truncations_inside_the_parts_fail() {
    let mut tried = 0;
    for (ty, is_map) in [("OSDMap", true), ("OSDMap::Incremental", false)] {
        for s in samples(ty) {
            let b = &s.bytes;
            let (client, osd, _, _) = layout(b);
            // cut inside the client part: shrink the wrapper and the part to the cut
            for cut in cuts(client + 6..osd) {
                let mut t = b[..cut].to_vec();
                put_le32(&mut t, 2, cut - 6);
                put_le32(&mut t, client + 2, cut - client - 6);
                let ok = if is_map {
                    OsdMap::from_bytes(&t).is_ok()
                } else {
                    Incremental::from_bytes(&t).is_ok()
                };
                assert!(!ok, "{}: cut at {cut} accepted", s.path.display());
                tried += 1;
            }
            // cut inside the osd-only part
            let osd_end = osd + 6 + le32(b, osd + 2);
            for cut in cuts(osd + 6..osd_end) {
                let mut t = b[..cut].to_vec();
                put_le32(&mut t, 2, cut - 6);
                put_le32(&mut t, osd + 2, cut - osd - 6);
                let ok = if is_map {
                    OsdMap::from_bytes(&t).is_ok()
                } else {
                    Incremental::from_bytes(&t).is_ok()
                };
                assert!(!ok, "{}: cut at {cut} accepted", s.path.display());
                tried += 1;
            }
        }
    }
    eprintln!("{tried} truncated maps and incrementals refused");
    assert!(tried > 30_000, "{tried}");
}

#[test]
fn pool_truncations_inside_the_envelope_fail() {
    for s in samples("pg_pool_t") {
        for cut in 6..s.bytes.len() {
            let mut t = s.bytes[..cut].to_vec();
            put_le32(&mut t, 2, cut - 6);
            assert!(
                denc::decode_exact::<PgPool>(&t).is_err(),
                "{}: cut at {cut} accepted",
                s.path.display()
            );
        }
    }
}

#[test]
fn any_changed_byte_is_refused_by_the_crc() {
    for s in samples("OSDMap") {
        let b = &s.bytes;
        let step = (b.len() / 300).max(1);
        for at in (0..b.len()).step_by(step) {
            let mut t = b.clone();
            t[at] ^= 0x20;
            assert!(
                OsdMap::from_bytes(&t).is_err(),
                "{}: flip at {at}",
                s.path.display()
            );
        }
    }
    for s in samples("OSDMap::Incremental") {
        let b = &s.bytes;
        let step = (b.len() / 300).max(1);
        for at in (0..b.len()).step_by(step) {
            let mut t = b.clone();
            t[at] ^= 0x20;
            assert!(
                Incremental::from_bytes(&t).is_err(),
                "{}: flip at {at}",
                s.path.display()
            );
        }
    }
}

#[test]
fn crc_mismatch_is_reported() {
    let s = &samples("OSDMap")[3];
    let mut t = s.bytes.clone();
    let (_, _, crc_at, _) = layout(&t);
    t[crc_at] ^= 1;
    assert!(matches!(
        OsdMap::from_bytes(&t),
        Err(OsdMapError::CrcMismatch { what: "OSDMap", .. })
    ));
}

/// Flips bytes everywhere, fixes the crc, and runs the fuzz bodies: decoding, mapping,
/// applying and re-encoding must never panic.
#[test]
fn fuzz_bodies_survive_corrupted_samples() {
    let mut runs = 0;
    for (ty, is_map) in [("OSDMap", true), ("OSDMap::Incremental", false)] {
        for s in samples(ty) {
            let b = &s.bytes;
            if is_map {
                fuzz_osdmap(b);
            } else {
                fuzz_incremental(b);
            }
            let (_, _, crc_at, end) = layout(b);
            let step = (b.len() / 120).max(1);
            for (i, at) in (0..crc_at).step_by(step).enumerate() {
                let mut t = b.clone();
                t[at] ^= if i % 2 == 0 { 0x01 } else { 0xff };
                fix_crc(&mut t, crc_at, end);
                if is_map {
                    fuzz_osdmap(&t);
                } else {
                    fuzz_incremental(&t);
                }
                runs += 1;
            }
        }
    }
    eprintln!("{runs} corrupted samples through the fuzz bodies");
    assert!(runs > 8_000, "{runs}");
}

#[test]
fn absurd_max_osd_is_refused_without_allocating() {
    // a full map claiming 10^9 OSDs with empty per-OSD vectors
    let mut map = small_map();
    map.max_osd = 1_000_000_000;
    let bytes = map.to_bytes(denc::features::ALL).unwrap();
    assert!(matches!(
        OsdMap::from_bytes(&bytes),
        Err(OsdMapError::Decode(_))
    ));
    // an incremental asking for more than the limit
    let mut map = small_map();
    let mut inc = Incremental::new(map.epoch + 1);
    inc.fsid = map.fsid;
    inc.new_max_osd = MAX_OSD_LIMIT + 1;
    let before = map.clone();
    assert!(matches!(
        map.apply_incremental(&inc),
        Err(OsdMapError::MaxOsdOutOfRange(_))
    ));
    assert_eq!(map, before);
    // at the limit it is accepted
    inc.new_max_osd = MAX_OSD_LIMIT;
    map.apply_incremental(&inc).unwrap();
    assert_eq!(map.osd_state.len(), MAX_OSD_LIMIT as usize);
}
