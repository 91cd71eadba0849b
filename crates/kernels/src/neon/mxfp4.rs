//! MXFP4 against Q8_0 activations on NEON, bit-identical to the scalar
//! reference (`crate::mxfp4::BlockMXFP4::vec_dot_scalar`, llama.cpp's AVX2
//! order): the nibbles looked up in the doubled E2M1 table (`TBL`), 8 exact
//! i32 lanes per block (low nibbles in lanes 0-3, high in 4-7), even blocks
//! into one 8-lane accumulator and odd ones into another, their sum's
//! `hsum_float_8`, an odd last block's integer sum added by one FMA.
//! [`kernel`] runs several activation rows per weight row (each block decoded
//! once), every row in that order.

use super::{f16_at, ld_s8, ld_u8, Acc8, Base, Dot4, Sdot};
use crate::block::QuantBlock;
use crate::mxfp4::{e8m0_half, BlockMXFP4, KVALUES};
use crate::q8::Q8_0_BYTES;
use std::arch::aarch64::*;

/// Block `x`'s 32 values as signed bytes: (elements 0..16, 16..32).
#[inline(always)]
unsafe fn values(table: int8x16_t, x: &[u8]) -> (int8x16_t, int8x16_t) {
    // SAFETY: `ld_u8` bounds-checks; the rest are register ops.
    unsafe {
        let q = ld_u8(&x[1..17]);
        let lo = vandq_u8(q, vdupq_n_u8(0x0F));
        let hi = vshrq_n_u8::<4>(q);
        (vqtbl1q_s8(table, lo), vqtbl1q_s8(table, hi))
    }
}

/// Block values `v` against the Q8_0 block `y`: its 8 lanes (0-3, 4-7).
#[inline(always)]
unsafe fn lanes<D: Dot4>(v: (int8x16_t, int8x16_t), y: &[u8]) -> (int32x4_t, int32x4_t) {
    // SAFETY: `ld_s8` bounds-checks; the rest are register ops.
    unsafe {
        let z = vdupq_n_s32(0);
        (
            D::dot4(z, v.0, ld_s8(&y[2..18])),
            D::dot4(z, v.1, ld_s8(&y[18..34])),
        )
    }
}

/// One weight row `w` against `N` activation rows `a`.
#[inline(always)]
unsafe fn kernel<D: Dot4, const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    let nb = w.len() / BlockMXFP4::BYTES;
    for y in &a {
        assert!(y.len() >= nb * Q8_0_BYTES, "activation row too short");
    }
    let wb = |i: usize| &w[i * BlockMXFP4::BYTES..(i + 1) * BlockMXFP4::BYTES];
    let ab = |r: usize, i: usize| &a[r][i * Q8_0_BYTES..(i + 1) * Q8_0_BYTES];
    // SAFETY: KVALUES is 16 bytes; the loads go through bounds-checked
    // helpers on block sub-slices; the rest are register ops.
    unsafe {
        let table = vld1q_s8(KVALUES.as_ptr());
        let mut acc1 = [Acc8::new(); N];
        let mut acc2 = [Acc8::new(); N];
        let mut i = 0;
        while i + 1 < nb {
            let (x0, x1) = (wb(i), wb(i + 1));
            let (v0, v1) = (values(table, x0), values(table, x1));
            let (e0, e1) = (e8m0_half(x0[0]), e8m0_half(x1[0]));
            for r in 0..N {
                let (y0, y1) = (ab(r, i), ab(r, i + 1));
                let (lo, hi) = lanes::<D>(v0, y0);
                acc1[r].fma(f16_at(y0, 0) * e0, lo, hi);
                let (lo, hi) = lanes::<D>(v1, y1);
                acc2[r].fma(f16_at(y1, 0) * e1, lo, hi);
            }
            i += 2;
        }
        std::array::from_fn(|r| {
            let sum = Acc8 {
                lo: vaddq_f32(acc1[r].lo, acc2[r].lo),
                hi: vaddq_f32(acc1[r].hi, acc2[r].hi),
            };
            let out = sum.hsum();
            if i < nb {
                let (x, y) = (wb(i), ab(r, i));
                let (lo, hi) = lanes::<D>(values(table, x), y);
                let s = vaddvq_s32(vaddq_s32(lo, hi));
                (f16_at(y, 0) * e8m0_half(x[0])).mul_add(s as f32, out)
            } else {
                out
            }
        })
    }
}

#[target_feature(enable = "neon")]
unsafe fn base_n<const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    // SAFETY: forwarded from the caller (NEON present).
    unsafe { kernel::<Base, N>(w, a) }
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn sdot_n<const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    // SAFETY: forwarded from the caller (NEON and dotprod present).
    unsafe { kernel::<Sdot, N>(w, a) }
}

/// One dot product, baseline NEON.
pub(crate) fn base(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: NEON is mandatory on aarch64.
    unsafe { base_n::<1>(w, [a])[0] }
}

/// 1 weight row x 4 activation rows, baseline NEON.
pub(crate) fn base_1x4(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
    // SAFETY: NEON is mandatory on aarch64.
    unsafe { base_n::<4>(w, a) }
}

/// One dot product by `SDOT`.
///
/// # Safety
/// FEAT_DotProd available.
pub(crate) unsafe fn sdot(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: dotprod available (caller: listed at `Level::NeonDotprod` in
    // `crate::formats`, used after `is_aarch64_feature_detected!`).
    unsafe { sdot_n::<1>(w, [a])[0] }
}

/// 1 weight row x 4 activation rows by `SDOT`.
///
/// # Safety
/// FEAT_DotProd available.
pub(crate) unsafe fn sdot_1x4(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
    // SAFETY: as for [`sdot`].
    unsafe { sdot_n::<4>(w, a) }
}
