//! NEON dot products for the K-quants Q2_K..Q6_K against Q8_K activations
//! (formats: see `crate::k_quants`). Per super-block, the 8 i32 lanes hold the
//! same exact integer sums as the scalar reference (lane `l` = bytes `4l..4l+4`
//! of each 32-element chunk, times that sub-block's scale), followed by the same
//! float ops, so results are bit-identical to it.

use super::{dispatchable, f16_at, ld_s8, ld_u8, Acc8, Base, Dot4, Sdot};
use crate::block::QuantBlock;
use crate::k_quants::{
    q2_k::BlockQ2K, q3_k::BlockQ3K, q3k_scales, q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K,
    q8k_bsum, q8k_d, scales_mins_k4, Q8_K_BYTES, QK_K,
};
use std::arch::aarch64::*;

/// Q8_K quants `e..e+16` of activation block `y`.
#[inline(always)]
unsafe fn yq(y: &[u8], e: usize) -> int8x16_t {
    // SAFETY: `ld_s8` bounds-checks.
    unsafe { ld_s8(&y[4 + e..4 + QK_K]) }
}

#[inline(always)]
fn s8(v: uint8x16_t) -> int8x16_t {
    // SAFETY: a register reinterpretation (NEON is mandatory on aarch64).
    unsafe { vreinterpretq_s8_u8(v) }
}

/// `lanes += dot4(a, y) * scale`.
#[inline(always)]
unsafe fn mla<D: Dot4>(lanes: int32x4_t, a: int8x16_t, y: int8x16_t, scale: i32) -> int32x4_t {
    // SAFETY: register-only NEON ops.
    unsafe { vmlaq_n_s32(lanes, D::dot4(vdupq_n_s32(0), a, y), scale) }
}

pub(crate) mod q2_k {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let three = vdupq_n_u8(3);
            for (x, y) in w
                .chunks_exact(BlockQ2K::BYTES)
                .zip(a.chunks_exact(Q8_K_BYTES))
            {
                let sc = &x[0..16];
                let mut mins = [0i32; 8];
                for (j, &s) in sc.iter().enumerate() {
                    mins[j / 2] += q8k_bsum(y, j) * (s >> 4) as i32;
                }
                let mut lo = vdupq_n_s32(0);
                let mut hi = vdupq_n_s32(0);
                for n in 0..2 {
                    let q0 = ld_u8(&x[16 + n * 32..]);
                    let q1 = ld_u8(&x[32 + n * 32..]);
                    let sh = [q0, q1];
                    for j in 0..4 {
                        let e = n * 128 + j * 32;
                        let shift = vdupq_n_s8(-(2 * j as i8));
                        let v0 = vandq_u8(vshlq_u8(sh[0], shift), three);
                        let v1 = vandq_u8(vshlq_u8(sh[1], shift), three);
                        let s0 = (sc[n * 8 + j * 2] & 0xF) as i32;
                        let s1 = (sc[n * 8 + j * 2 + 1] & 0xF) as i32;
                        lo = mla::<D>(lo, s8(v0), yq(y, e), s0);
                        hi = mla::<D>(hi, s8(v1), yq(y, e + 16), s1);
                    }
                }
                let yd = q8k_d(y);
                let mins_lo = vld1q_s32(mins.as_ptr());
                let mins_hi = vld1q_s32(mins.as_ptr().add(4));
                acc.fma(-yd * f16_at(x, 82), mins_lo, mins_hi);
                acc.fma(yd * f16_at(x, 80), lo, hi);
            }
            acc.hsum()
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q3_k {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let three = vdupq_n_u8(3);
            let four = vdupq_n_u8(4);
            for (x, y) in w
                .chunks_exact(BlockQ3K::BYTES)
                .zip(a.chunks_exact(Q8_K_BYTES))
            {
                let scales = q3k_scales(&x[96..108]);
                let hm = [ld_u8(&x[0..16]), ld_u8(&x[16..32])];
                let mut lo = vdupq_n_s32(0);
                let mut hi = vdupq_n_s32(0);
                for n in 0..2 {
                    let q = [ld_u8(&x[32 + n * 32..]), ld_u8(&x[48 + n * 32..])];
                    for j in 0..4 {
                        let c = n * 4 + j;
                        let shift = vdupq_n_s8(-(2 * j as i8));
                        let m = vdupq_n_u8(1u8 << c);
                        let mut v = [vdupq_n_s8(0); 2];
                        for h in 0..2 {
                            let bits = vandq_u8(vshlq_u8(q[h], shift), three);
                            // subtract 4 where the hmask bit is clear
                            let sub = vbicq_u8(four, vtstq_u8(hm[h], m));
                            v[h] = vsubq_s8(s8(bits), s8(sub));
                        }
                        let e = c * 32;
                        lo = mla::<D>(lo, v[0], yq(y, e), scales[2 * c] as i32);
                        hi = mla::<D>(hi, v[1], yq(y, e + 16), scales[2 * c + 1] as i32);
                    }
                }
                acc.fma(q8k_d(y) * f16_at(x, 108), lo, hi);
            }
            acc.hsum()
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q4_k {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let mut acc_m = [0f32; 4];
            let mask = vdupq_n_u8(0x0F);
            for (x, y) in w
                .chunks_exact(BlockQ4K::BYTES)
                .zip(a.chunks_exact(Q8_K_BYTES))
            {
                let (sc, m) = scales_mins_k4(&x[4..16]);
                let yd = q8k_d(y);
                let dmin = -yd * f16_at(x, 2);
                for i in 0..4 {
                    let p = m[2 * i] as i32 * (q8k_bsum(y, 4 * i) + q8k_bsum(y, 4 * i + 1))
                        + m[2 * i + 1] as i32 * (q8k_bsum(y, 4 * i + 2) + q8k_bsum(y, 4 * i + 3));
                    acc_m[i] = dmin.mul_add(p as f32, acc_m[i]);
                }
                let mut lo = vdupq_n_s32(0);
                let mut hi = vdupq_n_s32(0);
                for j in 0..4 {
                    let q0 = ld_u8(&x[16 + j * 32..]);
                    let q1 = ld_u8(&x[32 + j * 32..]);
                    let (s_lo, s_hi) = (sc[2 * j] as i32, sc[2 * j + 1] as i32);
                    let e = j * 64;
                    lo = mla::<D>(lo, s8(vandq_u8(q0, mask)), yq(y, e), s_lo);
                    hi = mla::<D>(hi, s8(vandq_u8(q1, mask)), yq(y, e + 16), s_lo);
                    lo = mla::<D>(lo, s8(vshrq_n_u8::<4>(q0)), yq(y, e + 32), s_hi);
                    hi = mla::<D>(hi, s8(vshrq_n_u8::<4>(q1)), yq(y, e + 48), s_hi);
                }
                acc.fma(yd * f16_at(x, 0), lo, hi);
            }
            acc.hsum() + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]))
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q5_k {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let mut summs = 0.0f32;
            let mask = vdupq_n_u8(0x0F);
            let sixteen = vdupq_n_u8(0x10);
            for (x, y) in w
                .chunks_exact(BlockQ5K::BYTES)
                .zip(a.chunks_exact(Q8_K_BYTES))
            {
                let (sc, m) = scales_mins_k4(&x[4..16]);
                let yd = q8k_d(y);
                let mut summ = 0i32;
                for g in 0..16 {
                    summ += q8k_bsum(y, g) * m[g / 2] as i32;
                }
                summs = (-yd * f16_at(x, 2)).mul_add(summ as f32, summs);
                let qh = [ld_u8(&x[16..32]), ld_u8(&x[32..48])];
                let mut lo = vdupq_n_s32(0);
                let mut hi = vdupq_n_s32(0);
                for j in 0..4 {
                    let q = [ld_u8(&x[48 + j * 32..]), ld_u8(&x[64 + j * 32..])];
                    let m_lo = vdupq_n_u8(1u8 << (2 * j));
                    let m_hi = vdupq_n_u8(2u8 << (2 * j));
                    let mut vl = [vdupq_n_s8(0); 2];
                    let mut vh = [vdupq_n_s8(0); 2];
                    for h in 0..2 {
                        let bl = vandq_u8(vtstq_u8(qh[h], m_lo), sixteen);
                        let bh = vandq_u8(vtstq_u8(qh[h], m_hi), sixteen);
                        vl[h] = s8(vorrq_u8(vandq_u8(q[h], mask), bl));
                        vh[h] = s8(vorrq_u8(vshrq_n_u8::<4>(q[h]), bh));
                    }
                    let (s_lo, s_hi) = (sc[2 * j] as i32, sc[2 * j + 1] as i32);
                    let e = j * 64;
                    lo = mla::<D>(lo, vl[0], yq(y, e), s_lo);
                    hi = mla::<D>(hi, vl[1], yq(y, e + 16), s_lo);
                    lo = mla::<D>(lo, vh[0], yq(y, e + 32), s_hi);
                    hi = mla::<D>(hi, vh[1], yq(y, e + 48), s_hi);
                }
                acc.fma(yd * f16_at(x, 0), lo, hi);
            }
            acc.hsum() + summs
        }
    }
    dispatchable!(base, sdot => kernel);
}

pub(crate) mod q6_k {
    use super::*;

    #[inline(always)]
    unsafe fn kernel<D: Dot4>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: loads go through bounds-checked helpers on block sub-slices.
        unsafe {
            let mut acc = Acc8::new();
            let mask = vdupq_n_u8(0x0F);
            let three = vdupq_n_u8(3);
            for (x, y) in w
                .chunks_exact(BlockQ6K::BYTES)
                .zip(a.chunks_exact(Q8_K_BYTES))
            {
                // As the scalar reference: dot the unsigned u = v + 32, then
                // subtract 32 * (scale * bsum) with lane l taking 16-groups 2l, 2l+1.
                let sc = &x[192..208];
                let mut lo = vdupq_n_s32(0);
                let mut hi = vdupq_n_s32(0);
                for n in 0..2 {
                    let ql = &x[n * 64..n * 64 + 64];
                    let qh = [ld_u8(&x[128 + n * 32..]), ld_u8(&x[144 + n * 32..])];
                    let qa = [ld_u8(&ql[0..16]), ld_u8(&ql[16..32])];
                    let qc = [ld_u8(&ql[32..48]), ld_u8(&ql[48..64])];
                    for p in 0..4 {
                        let mut u = [vdupq_n_s8(0); 2];
                        for h in 0..2 {
                            let low4 = match p {
                                0 => vandq_u8(qa[h], mask),
                                1 => vandq_u8(qc[h], mask),
                                2 => vshrq_n_u8::<4>(qa[h]),
                                _ => vshrq_n_u8::<4>(qc[h]),
                            };
                            let shift = vdupq_n_s8(-(2 * p as i8));
                            let high2 = vandq_u8(vshlq_u8(qh[h], shift), three);
                            u[h] = s8(vorrq_u8(low4, vshlq_n_u8::<4>(high2)));
                        }
                        let c = n * 4 + p;
                        let e = c * 32;
                        lo = mla::<D>(lo, u[0], yq(y, e), (sc[2 * c] as i8) as i32);
                        hi = mla::<D>(hi, u[1], yq(y, e + 16), (sc[2 * c + 1] as i8) as i32);
                    }
                }
                let mut corr = [0i32; 8];
                for (l, cl) in corr.iter_mut().enumerate() {
                    let s = q8k_bsum(y, 2 * l) * (sc[2 * l] as i8) as i32
                        + q8k_bsum(y, 2 * l + 1) * (sc[2 * l + 1] as i8) as i32;
                    *cl = 32 * s;
                }
                lo = vsubq_s32(lo, vld1q_s32(corr.as_ptr()));
                hi = vsubq_s32(hi, vld1q_s32(corr.as_ptr().add(4)));
                acc.fma(q8k_d(y) * f16_at(x, 208), lo, hi);
            }
            acc.hsum()
        }
    }
    dispatchable!(base, sdot => kernel);
}
