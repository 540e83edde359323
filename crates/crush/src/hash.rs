//! CRUSH's hash functions (`src/crush/hash.c`): Robert Jenkins' 96-bit mix applied to one to
//! five 32-bit inputs ("rjenkins1", hash type 0, the only type Ceph has ever defined).
//!
//! Every placement decision is a function of these hashes, so they must be bit-exact. The
//! functions are public because the OSDMap needs them too (placement seeds, primary affinity).

/// The only hash type Ceph defines (`CRUSH_HASH_RJENKINS1`).
pub const HASH_RJENKINS1: u8 = 0;

const SEED: u32 = 1_315_423_911;
const MIX_X: u32 = 231_232;
const MIX_Y: u32 = 1232;

/// One round of Jenkins' mix: `c` comes out as the hash of the three words.
#[inline(always)]
fn mix(mut a: u32, mut b: u32, mut c: u32) -> (u32, u32, u32) {
    a = a.wrapping_sub(b).wrapping_sub(c) ^ (c >> 13);
    b = b.wrapping_sub(c).wrapping_sub(a) ^ (a << 8);
    c = c.wrapping_sub(a).wrapping_sub(b) ^ (b >> 13);
    a = a.wrapping_sub(b).wrapping_sub(c) ^ (c >> 12);
    b = b.wrapping_sub(c).wrapping_sub(a) ^ (a << 16);
    c = c.wrapping_sub(a).wrapping_sub(b) ^ (b >> 5);
    a = a.wrapping_sub(b).wrapping_sub(c) ^ (c >> 3);
    b = b.wrapping_sub(c).wrapping_sub(a) ^ (a << 10);
    c = c.wrapping_sub(a).wrapping_sub(b) ^ (b >> 15);
    (a, b, c)
}

// Each arity mixes its inputs with the two constants in a fixed schedule; the schedule is
// part of the definition. Jenkins' mix updates all three words, and later rounds reuse the
// updated words, so the tuple results are threaded through explicitly.

/// rjenkins1 of one word (`crush_hash32_rjenkins1`).
pub fn hash32(a: u32) -> u32 {
    let h = SEED ^ a;
    let (_, _, h) = mix(a, MIX_X, h);
    let (_, _, h) = mix(MIX_Y, a, h);
    h
}

/// rjenkins1 of two words (`crush_hash32_rjenkins1_2`): the OSDMap's placement seed
/// (`pps = hash32_2(ps, pool)`) and primary-affinity draw, and CRUSH's out-test.
pub fn hash32_2(a: u32, b: u32) -> u32 {
    let h = SEED ^ a ^ b;
    let (a, b, h) = mix(a, b, h);
    let (_, _, h) = mix(MIX_X, a, h);
    let (_, _, h) = mix(b, MIX_Y, h);
    h
}

/// rjenkins1 of three words (`crush_hash32_rjenkins1_3`).
pub fn hash32_3(a: u32, b: u32, c: u32) -> u32 {
    let h = SEED ^ a ^ b ^ c;
    let (a, b, h) = mix(a, b, h);
    let (c, x, h) = mix(c, MIX_X, h);
    let (y, _, h) = mix(MIX_Y, a, h);
    let (_, _, h) = mix(b, x, h);
    let (_, _, h) = mix(y, c, h);
    h
}

/// rjenkins1 of four words (`crush_hash32_rjenkins1_4`).
pub fn hash32_4(a: u32, b: u32, c: u32, d: u32) -> u32 {
    let h = SEED ^ a ^ b ^ c ^ d;
    let (a, b, h) = mix(a, b, h);
    let (c, d, h) = mix(c, d, h);
    let (_, x, h) = mix(a, MIX_X, h);
    let (y, _, h) = mix(MIX_Y, b, h);
    let (_, _, h) = mix(c, x, h);
    let (_, _, h) = mix(y, d, h);
    h
}

/// rjenkins1 of five words (`crush_hash32_rjenkins1_5`).
pub fn hash32_5(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32 {
    let h = SEED ^ a ^ b ^ c ^ d ^ e;
    let (a, b, h) = mix(a, b, h);
    let (c, d, h) = mix(c, d, h);
    let (e, x, h) = mix(e, MIX_X, h);
    let (y, _, h) = mix(MIX_Y, a, h);
    let (_, x, h) = mix(b, x, h);
    let (y, _, h) = mix(y, c, h);
    let (_, _, h) = mix(d, x, h);
    let (_, _, h) = mix(y, e, h);
    h
}

/// The hash a bucket names by its `hash` field: rjenkins1 for type 0; Ceph's dispatch returns 0
/// for any other type, and so do these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BucketHash(pub(crate) u8);

impl BucketHash {
    #[inline]
    pub(crate) fn h3(self, a: u32, b: u32, c: u32) -> u32 {
        if self.0 == HASH_RJENKINS1 {
            hash32_3(a, b, c)
        } else {
            0
        }
    }

    #[inline]
    pub(crate) fn h4(self, a: u32, b: u32, c: u32, d: u32) -> u32 {
        if self.0 == HASH_RJENKINS1 {
            hash32_4(a, b, c, d)
        } else {
            0
        }
    }
}
