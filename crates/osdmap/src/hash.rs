//! The hashes of the placement pipeline and the map checksums: Ceph's string hashes
//! (src/common/ceph_hash.cc), `ceph_stable_mod` (src/include/rados.h) and crc32c.

/// `CEPH_STR_HASH_LINUX`: the Linux dcache hash.
pub const STR_HASH_LINUX: u8 = 1;
/// `CEPH_STR_HASH_RJENKINS`: Robert Jenkins' lookup2 hash (every modern pool).
pub const STR_HASH_RJENKINS: u8 = 2;

/// Bob Jenkins' 96-bit mix step, as lookup2 defines it.
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 13);
    *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 8);
    *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 13);
    *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 12);
    *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 16);
    *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 5);
    *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 3);
    *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 10);
    *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 15);
}

/// Little-endian word from up to four bytes (missing bytes are zero).
fn le_word(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .enumerate()
        .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (8 * i)))
}

/// `ceph_str_hash_rjenkins`: lookup2 over `data` with both seeds at the golden ratio and
/// `c` starting at 0. The length (truncated to 32 bits, as in Ceph) is added to `c` before
/// the last block; the last block's third word skips its low byte, which lookup2 reserves
/// for the length.
pub fn str_hash_rjenkins(data: &[u8]) -> u32 {
    let mut a: u32 = 0x9e37_79b9;
    let mut b: u32 = a;
    let mut c: u32 = 0;
    let mut chunks = data.chunks_exact(12);
    for block in &mut chunks {
        let (w0, rest) = block.split_at(4);
        let (w1, w2) = rest.split_at(4);
        a = a.wrapping_add(le_word(w0));
        b = b.wrapping_add(le_word(w1));
        c = c.wrapping_add(le_word(w2));
        mix(&mut a, &mut b, &mut c);
    }
    let tail = chunks.remainder();
    // the total length enters as a 32-bit value (Ceph's `unsigned length`)
    #[allow(clippy::cast_possible_truncation)]
    let length = data.len() as u32;
    c = c.wrapping_add(length);
    a = a.wrapping_add(le_word(tail.get(..4).unwrap_or(tail)));
    b = b.wrapping_add(le_word(tail.get(4..).unwrap_or(&[])));
    // bytes 8..11 of the tail land in c shifted up one byte
    c = c.wrapping_add(le_word(tail.get(8..).unwrap_or(&[])) << 8);
    mix(&mut a, &mut b, &mut c);
    c
}

/// `ceph_str_hash_linux`: the Linux dcache name hash.
pub fn str_hash_linux(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |hash, &c| {
        let c = u32::from(c);
        hash.wrapping_add(c << 4)
            .wrapping_add(c >> 4)
            .wrapping_mul(11)
    })
}

/// `ceph_str_hash`: the pool's object hash over `data`; unknown hash types give `u32::MAX`
/// (Ceph returns -1).
pub fn str_hash(hash_type: u8, data: &[u8]) -> u32 {
    match hash_type {
        STR_HASH_LINUX => str_hash_linux(data),
        STR_HASH_RJENKINS => str_hash_rjenkins(data),
        _ => u32::MAX,
    }
}

/// `ceph_stable_mod`: maps `x` into `0..b` so that growing `b` moves as few values as
/// possible. `bmask` is `2^ceil(log2 b) - 1`. Ceph computes on `int`s; so do we.
pub fn stable_mod(x: u32, b: u32, bmask: u32) -> u32 {
    // Ceph's arguments are `int`: the comparison is signed.
    #[allow(clippy::cast_possible_wrap)]
    let (xi, bi, mi) = (x as i32, b as i32, bmask as i32);
    #[allow(clippy::cast_sign_loss)]
    if (xi & mi) < bi {
        (xi & mi) as u32
    } else {
        (xi & (mi >> 1)) as u32
    }
}

/// `cbits`: number of significant bits (0 for 0).
pub fn cbits(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// `(1 << cbits(n - 1)) - 1`, the mask `calc_pg_masks` derives from `pg_num`/`pgp_num`.
/// For `n = 0` Ceph shifts an `int` by 32; on x86 the shift count wraps, giving 0, and so
/// does this.
pub fn pg_mask(n: u32) -> u32 {
    1u32.wrapping_shl(cbits(n.wrapping_sub(1))).wrapping_sub(1)
}

/// `ceph_crc32c`: maps are checksummed with seed `u32::MAX`.
pub use denc::ceph_crc32c as crc32c;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rjenkins_block_and_tail_paths_differ() {
        // (the values themselves are checked against osdmaptool in tests/)
        // consistency between the block path and the tail path
        let long: Vec<u8> = (0u8..40).collect();
        assert_ne!(str_hash_rjenkins(&long), str_hash_rjenkins(&long[..39]));
    }

    #[test]
    fn stable_mod_and_masks() {
        assert_eq!(pg_mask(1), 0);
        assert_eq!(pg_mask(8), 7);
        assert_eq!(pg_mask(12), 15);
        assert_eq!(pg_mask(0), 0);
        // pg_num 12: values 12..15 fold onto 4..7
        assert_eq!(stable_mod(13, 12, 15), 5);
        assert_eq!(stable_mod(11, 12, 15), 11);
        assert_eq!(stable_mod(0x30a9_8c1c, 128, 127), 0x1c);
    }
}
