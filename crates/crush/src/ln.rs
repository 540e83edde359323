//! straw2's fixed-point logarithm (`crush_ln` in `src/crush/mapper.c`).

use crate::ln_table::{LL, RH_LH};

/// `2^44 * log2(u + 1)` for `u` in `0..=0xffff`, in Ceph's exact fixed-point arithmetic.
///
/// The input is normalised to a 17-bit mantissa `m` (bit 15 or 16 set) and an exponent; the
/// logarithm is then the exponent plus two table look-ups: one for the top byte of `m` and a
/// correction for the residual `m / top_byte` (computed with the table's reciprocal).
pub(crate) fn crush_ln(u: u32) -> u64 {
    // Ceph only ever passes a 16-bit value; masking keeps the table indices in range for any
    // caller without changing results for the values that occur.
    let mut x = (u & 0xffff) + 1;
    let mut exponent: u64 = 15;
    if x & 0x18000 == 0 {
        // shift the leading one up to bit 15
        let shift = (x & 0x1ffff).leading_zeros() - 16;
        x <<= shift;
        exponent = 15 - u64::from(shift);
    }
    // x is now in 0x8000..=0x10000, so the index is in 256..=512 (even)
    let index1 = ((x >> 8) << 1) as usize;
    let rh = RH_LH.get(index1 - 256).copied().unwrap_or(0);
    let lh = RH_LH.get(index1 + 1 - 256).copied().unwrap_or(0);

    // residual: x * 2^48 / top ~ 2^48 * (1 + xf / 2^15); keep its low byte
    let residual = (u64::from(x).wrapping_mul(rh)) >> 48;
    let ll = LL.get((residual & 0xff) as usize).copied().unwrap_or(0);

    (exponent << 44) + ((lh + ll) >> 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        // log2(1) = 0; log2(0x10000) = 16, less the rounding of Ceph's last table entry
        assert_eq!(crush_ln(0), 0);
        assert_eq!(crush_ln(0xffff), 0xffff_f000_0000);
        // close to the real logarithm everywhere (Ceph's fixed point is not exactly
        // monotone, so that is not checked)
        for u in 0..=0xffff_u32 {
            let exact = (f64::from(u) + 1.0).log2() * (1u64 << 44) as f64;
            let error = (crush_ln(u) as f64 - exact).abs();
            assert!(error < (1u64 << 33) as f64, "u={u} error={error}");
        }
    }
}
