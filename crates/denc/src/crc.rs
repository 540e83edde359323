//! Ceph's crc32c convention (`ceph_crc32c` in src/common/crc32c.cc, `crc32c()` in the
//! kernel): the raw reflected Castagnoli register update from a caller-given seed, with no
//! implicit inversion before or after. OSDMaps use seed `u32::MAX`, msgr2 segments seed
//! `u32::MAX`, msgr2 preambles seed 0.

/// `ceph_crc32c(seed, data)`.
pub fn ceph_crc32c(seed: u32, data: &[u8]) -> u32 {
    // the crc32c crate inverts on the way in and out; undo both
    !crc32c::crc32c_append(!seed, data)
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
}
