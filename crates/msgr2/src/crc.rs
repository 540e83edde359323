//! Ceph's crc32c convention.
//!
//! `ceph_crc32c(seed, data)` (src/include/crc32c.h) and the kernel's `crc32c()` are the raw
//! reflected Castagnoli update: the register starts at `seed` and is returned as is, with no
//! implicit inversion on the way in or out. The standard CRC-32C (CRC-32/ISCSI, what
//! `crc_fast::crc32_iscsi` computes) starts the register at `!0` and inverts it on exit:
//! `std(d) = !raw(!0, d)`. The tests below prove the functions here against a bitwise
//! implementation, Ceph's own test vectors and the `crc32c` crate used before.
//!
//! msgr2 uses seed 0 for the preamble crc and seed `0xffff_ffff` (`-1`) for segment crcs.

use crc_fast::{CrcAlgorithm, Digest};

pub use denc::ceph_crc32c;

/// The crc of a frame segment as msgr2.1 puts it on the wire: `ceph_crc32c(-1, data)`.
pub fn segment_crc(data: &[u8]) -> u32 {
    // raw(!0, d) = !std(d); the crate's direct entry skips the digest's indirect call
    !crc_fast::crc32_iscsi(data)
}

/// [`segment_crc`] of the concatenation of `chunks`.
// a 32-bit crc's state is held in the low half of crc-fast's u64 state
#[allow(clippy::cast_possible_truncation)]
pub fn segment_crc_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    let mut chunks = chunks.into_iter();
    let Some(first) = chunks.next() else {
        return segment_crc(&[]);
    };
    let Some(second) = chunks.next() else {
        // the usual case, one buffer: the direct entry, without a digest's set-up
        return segment_crc(first);
    };
    // the digest's state is the raw register, started at !0 for this algorithm
    let mut digest = Digest::new(CrcAlgorithm::Crc32Iscsi);
    for chunk in [first, second].into_iter().chain(chunks) {
        digest.update(chunk);
    }
    digest.get_state() as u32
}

/// The length of the bytes a preamble crc covers.
const PREAMBLE_CRC_COVERS: usize = 28;

/// `raw(!0, 28 zero bytes)`: the register's start value carried through a preamble. The raw
/// update is linear, `raw(s, d) = raw(s, zeros) ^ raw(0, d)`, so `raw(0, d) = raw(!0, d) ^
/// PREAMBLE_SEED_TERM = !std(d) ^ PREAMBLE_SEED_TERM` for 28-byte `d`.
const PREAMBLE_SEED_TERM: u32 = {
    let mut crc = !0u32;
    let mut bit = 0;
    while bit < PREAMBLE_CRC_COVERS * 8 {
        crc = if crc & 1 == 1 {
            (crc >> 1) ^ 0x82F6_3B78
        } else {
            crc >> 1
        };
        bit += 1;
    }
    crc
};

/// The preamble crc: `ceph_crc32c(0, first 28 bytes)`.
pub fn preamble_crc(data: &[u8]) -> u32 {
    if data.len() == PREAMBLE_CRC_COVERS {
        // the direct entry is a few ns faster than a digest seeded with 0
        !crc_fast::crc32_iscsi(data) ^ PREAMBLE_SEED_TERM
    } else {
        ceph_crc32c(0, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent bit-at-a-time reflected CRC-32C register update (polynomial
    /// 0x82F63B78), with no inversion: the definition of Ceph's `ceph_crc32c`.
    fn bitwise_raw(mut crc: u32, data: &[u8]) -> u32 {
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn chunked_segment_crc_is_the_crc_of_the_concatenation() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [0, 1, 3, 64, 4096, 4999, 5000] {
            let (a, b) = data.split_at(cut);
            assert_eq!(segment_crc_chunks([a, b]), segment_crc(&data), "cut {cut}");
            assert_eq!(segment_crc_chunks([a, &b[..0], b]), segment_crc(&data));
        }
        assert_eq!(segment_crc_chunks([]), segment_crc(&[]));
    }

    #[test]
    fn matches_cephs_own_test_vectors() {
        // src/test/common/test_crc32c.cc, TEST(Crc32c, Small)
        assert_eq!(ceph_crc32c(0, b"foo bar baz"), 4_119_623_852);
        assert_eq!(ceph_crc32c(1234, b"foo bar baz"), 881_700_046);
        assert_eq!(ceph_crc32c(0, b"whiz bang boom"), 2_360_230_088);
        assert_eq!(ceph_crc32c(5678, b"whiz bang boom"), 3_743_019_208);
        // TEST(Crc32c, PartialWord): 5 and 35 bytes of 0x01
        assert_eq!(ceph_crc32c(0, &[1u8; 5]), 2_715_569_182);
        assert_eq!(ceph_crc32c(0, &[1u8; 35]), 440_531_800);
    }

    #[test]
    fn relation_to_the_standard_crc_holds_for_every_seed_and_length() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(31) ^ 0x5a).to_le_bytes()[0])
            .collect();
        for seed in [0u32, 1, 1234, 0xffff_ffff, 0x8000_0000, 0xdead_beef] {
            for len in [0usize, 1, 3, 7, 8, 15, 16, 63, 64, 255, 300] {
                let d = &data[..len];
                assert_eq!(ceph_crc32c(seed, d), bitwise_raw(seed, d), "{seed} {len}");
            }
        }
        // the standard check value of CRC-32C
        assert_eq!(crc_fast::crc32_iscsi(b"123456789"), 0xE306_9283);
        assert_eq!(!bitwise_raw(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn segment_and_preamble_conventions() {
        let d = b"segment bytes";
        assert_eq!(segment_crc(d), bitwise_raw(0xffff_ffff, d));
        assert_eq!(segment_crc(d), ceph_crc32c(0xffff_ffff, d));
        // a used but empty segment carries crc -1
        assert_eq!(segment_crc(&[]), 0xffff_ffff);
        assert_eq!(preamble_crc(d), bitwise_raw(0, d));
        // the 28-byte shortcut, on varied bytes
        for fill in [0u8, 1, 0x5a, 0xff] {
            let p: Vec<u8> = (0..28u8).map(|i| i.wrapping_mul(37) ^ fill).collect();
            assert_eq!(preamble_crc(&p), bitwise_raw(0, &p), "{fill}");
            assert_eq!(preamble_crc(&p), ceph_crc32c(0, &p));
        }
    }

    /// The crcs equal those of the `crc32c` crate msgr2 used before (`raw(s, d) =
    /// !crc32c_append(!s, d)`), on the sizes a frame has (preamble, header, front, pages,
    /// 4 MiB data) at unaligned offsets, and on chunked segments.
    #[test]
    fn equal_to_the_previous_crc32c_crate() {
        let data: Vec<u8> = (0..(4u32 << 20) + 64)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11).to_le_bytes()[0])
            .collect();
        for len in [0usize, 28, 41, 200, 4096, 4097, 65_536, 4 << 20] {
            for offset in [0, 5, 32] {
                let d = &data[offset..offset + len];
                let previous = !crc32c::crc32c(d);
                assert_eq!(segment_crc(d), previous, "{offset} {len}");
                assert_eq!(
                    preamble_crc(d),
                    !crc32c::crc32c_append(!0, d),
                    "{offset} {len}"
                );
                let (a, b) = d.split_at(len / 3);
                assert_eq!(segment_crc_chunks([a, b]), previous, "{offset} {len}");
            }
        }
    }
}
