//! Ceph's crc32c convention (`ceph_crc32c` in src/common/crc32c.cc, `crc32c()` in the
//! kernel): the raw reflected Castagnoli register update from a caller-given seed, with no
//! implicit inversion before or after. OSDMaps use seed `u32::MAX`, msgr2 segments seed
//! `u32::MAX`, msgr2 preambles seed 0.

/// `ceph_crc32c(seed, data)`.
// a 32-bit crc's state is held in the low half of crc-fast's u64 state
#[allow(clippy::cast_possible_truncation)]
pub fn ceph_crc32c(seed: u32, data: &[u8]) -> u32 {
    // crc-fast's CRC-32/ISCSI digest keeps the raw register as its state: start it at the
    // seed and read it back before the standard final inversion
    let mut digest =
        crc_fast::Digest::new_with_init_state(crc_fast::CrcAlgorithm::Crc32Iscsi, u64::from(seed));
    digest.update(data);
    digest.get_state() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_to_the_standard_crc() {
        // standard CRC-32C("123456789") = 0xe3069283 (init !0, final xor !0)
        assert_eq!(!ceph_crc32c(u32::MAX, b"123456789"), 0xe306_9283);
        assert_eq!(ceph_crc32c(u32::MAX, b""), u32::MAX);
        // continuing is the same as one pass
        let whole = ceph_crc32c(7, b"hello world");
        assert_eq!(ceph_crc32c(ceph_crc32c(7, b"hello "), b"world"), whole);
    }

    /// The register update one bit at a time (reflected polynomial 0x82F63B78, no inversion):
    /// the definition `ceph_crc32c` must meet on every path of the accelerated crate
    /// (short-input, folding, unaligned head and tail).
    fn bitwise(mut crc: u32, data: &[u8]) -> u32 {
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg());
            }
        }
        crc
    }

    #[test]
    fn equals_the_bitwise_definition_for_every_path() {
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
            .collect();
        let lengths = (0..=300).chain([511, 512, 513, 1000, 4095, 4096, 4097, 65_536, 69_000]);
        for len in lengths {
            for offset in [0, 1, 3, 7, 13] {
                let d = &data[offset..offset + len];
                for seed in [0, u32::MAX, 0xdead_beef] {
                    assert_eq!(
                        ceph_crc32c(seed, d),
                        bitwise(seed, d),
                        "{seed} {offset} {len}"
                    );
                }
            }
        }
        // Ceph's own vectors (src/test/common/test_crc32c.cc, Small and PartialWord)
        assert_eq!(ceph_crc32c(0, b"foo bar baz"), 4_119_623_852);
        assert_eq!(ceph_crc32c(1234, b"foo bar baz"), 881_700_046);
        assert_eq!(ceph_crc32c(5678, b"whiz bang boom"), 3_743_019_208);
        assert_eq!(ceph_crc32c(0, &[1u8; 35]), 440_531_800);
    }
}
