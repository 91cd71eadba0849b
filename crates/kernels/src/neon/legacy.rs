//! NEON dot products for the 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
//! (formats: see `crate::q4`, `crate::q5`, `crate::q8`). Integer lanes and float
//! ops as the scalar reference (see the parent module docs).

use super::{dispatchable, f16_at, ld_s8, ld_u8, Acc8, Base, Dot4, Sdot};
use crate::block::QuantBlock;
use crate::q4::{BlockQ4_0, BlockQ4_1};
use crate::q5::{BlockQ5_0, BlockQ5_1};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use std::arch::aarch64::*;

/// The 5th bits of a Q5 block as bytes: element `j` (0..32) gets `0xFF` if bit
/// `j` of the little-endian `qh` (4 bytes at the start of `qh`) is set.
/// Returns (elements 0..16, elements 16..32).
#[inline(always)]
pub(super) unsafe fn q5_high_bits(qh: &[u8]) -> (uint8x16_t, uint8x16_t) {
    const MASK: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: `MASK` has 16 bytes; the rest are register-only NEON ops.
    unsafe {
        let m = vld1q_u8(MASK.as_ptr());
        let lo = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
        let hi = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
        (vtstq_u8(lo, m), vtstq_u8(hi, m))
    }
}

/// 16 packed bytes -> (low nibbles = elements 0..16, high nibbles = elements 16..32).
#[inline(always)]
unsafe fn nibbles(s: &[u8]) -> (uint8x16_t, uint8x16_t) {
    // SAFETY: `ld_u8` bounds-checks; the rest are register ops.
    unsafe {
        let q = ld_u8(s);
        (vandq_u8(q, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(q))
    }
}

pub(crate) mod q4_0 {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let z = vdupq_n_s32(0);
            let eight = vdupq_n_s8(8);
            for (x, y) in w
                .chunks_exact(BlockQ4_0::BYTES)
                .zip(a.chunks_exact(Q8_0_BYTES))
            {
                let (l, h) = nibbles(&x[2..18]);
                let l = vsubq_s8(vreinterpretq_s8_u8(l), eight);
                let h = vsubq_s8(vreinterpretq_s8_u8(h), eight);
                let lo = D::dot4(z, l, ld_s8(&y[2..18]));
                let hi = D::dot4(z, h, ld_s8(&y[18..34]));
                acc.fma(f16_at(x, 0) * f16_at(y, 0), lo, hi);
            }
            acc.hsum()
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q4_1 {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let mut summs = 0.0f32;
            let z = vdupq_n_s32(0);
            for (x, y) in w
                .chunks_exact(BlockQ4_1::BYTES)
                .zip(a.chunks_exact(Q8_1_BYTES))
            {
                summs = f16_at(x, 2).mul_add(f16_at(y, 2), summs);
                let (l, h) = nibbles(&x[4..20]);
                let lo = D::dot4(z, vreinterpretq_s8_u8(l), ld_s8(&y[4..20]));
                let hi = D::dot4(z, vreinterpretq_s8_u8(h), ld_s8(&y[20..36]));
                acc.fma(f16_at(x, 0) * f16_at(y, 0), lo, hi);
            }
            acc.hsum() + summs
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q5_0 {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let z = vdupq_n_s32(0);
            let sixteen = vdupq_n_u8(0x10);
            let off = vdupq_n_s8(16);
            for (x, y) in w
                .chunks_exact(BlockQ5_0::BYTES)
                .zip(a.chunks_exact(Q8_0_BYTES))
            {
                let (hb0, hb1) = q5_high_bits(&x[2..6]);
                let (l, h) = nibbles(&x[6..22]);
                let l = vorrq_u8(l, vandq_u8(hb0, sixteen));
                let h = vorrq_u8(h, vandq_u8(hb1, sixteen));
                let l = vsubq_s8(vreinterpretq_s8_u8(l), off);
                let h = vsubq_s8(vreinterpretq_s8_u8(h), off);
                let lo = D::dot4(z, l, ld_s8(&y[2..18]));
                let hi = D::dot4(z, h, ld_s8(&y[18..34]));
                acc.fma(f16_at(x, 0) * f16_at(y, 0), lo, hi);
            }
            acc.hsum()
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q5_1 {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let mut summs = 0.0f32;
            let z = vdupq_n_s32(0);
            let sixteen = vdupq_n_u8(0x10);
            for (x, y) in w
                .chunks_exact(BlockQ5_1::BYTES)
                .zip(a.chunks_exact(Q8_1_BYTES))
            {
                summs = f16_at(x, 2).mul_add(f16_at(y, 2), summs);
                let (hb0, hb1) = q5_high_bits(&x[4..8]);
                let (l, h) = nibbles(&x[8..24]);
                let l = vorrq_u8(l, vandq_u8(hb0, sixteen));
                let h = vorrq_u8(h, vandq_u8(hb1, sixteen));
                let lo = D::dot4(z, vreinterpretq_s8_u8(l), ld_s8(&y[4..20]));
                let hi = D::dot4(z, vreinterpretq_s8_u8(h), ld_s8(&y[20..36]));
                acc.fma(f16_at(x, 0) * f16_at(y, 0), lo, hi);
            }
            acc.hsum() + summs
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q8_0 {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let z = vdupq_n_s32(0);
            for (x, y) in w.chunks_exact(Q8_0_BYTES).zip(a.chunks_exact(Q8_0_BYTES)) {
                let lo = D::dot4(z, ld_s8(&x[2..18]), ld_s8(&y[2..18]));
                let hi = D::dot4(z, ld_s8(&x[18..34]), ld_s8(&y[18..34]));
                acc.fma(f16_at(x, 0) * f16_at(y, 0), lo, hi);
            }
            acc.hsum()
        }
    }
    dispatchable!(base, sdot => kernel);
}
