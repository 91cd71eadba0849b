//! NEON dot products for F32, F16 and BF16 rows, with the float op order of the
//! scalar reference (`crate::float`), so results are bit-identical to it:
//! F32/F16 use four 8-lane FMA accumulators (here eight `float32x4_t`) over the
//! first `n & !31` elements and the `GGML_F32x8_REDUCE` order; BF16 uses
//! separate multiply and add. Tails as in the scalar code.

use super::{dispatchable_neon, hsum_8, ld_u8};
use crate::util::{bf16_to_f32, f16_at, f32_at};
use std::arch::aarch64::*;

/// 4 f32 from element `i` of a little-endian f32 row.
#[inline(always)]
unsafe fn ld_f32(s: &[u8], i: usize) -> float32x4_t {
    // SAFETY: `ld_u8` bounds-checks the 16 bytes; reinterpretation is a register op.
    unsafe { vreinterpretq_f32_u8(ld_u8(&s[i * 4..])) }
}

/// Exact f16 -> f32 of four halves (`half`'s conversion, incl. subnormals, inf
/// and NaN with the quiet bit set), with integer ops only.
#[inline(always)]
unsafe fn cvt_f16x4(h: uint16x4_t) -> float32x4_t {
    // SAFETY: register-only NEON ops.
    unsafe {
        let u = vmovl_u16(h);
        let sign = vshlq_n_u32::<16>(vandq_u32(u, vdupq_n_u32(0x8000)));
        let em = vshlq_n_u32::<13>(vandq_u32(u, vdupq_n_u32(0x7fff)));
        // exponent rebias by scaling with 2^112 (exact; also normalizes subnormals)
        let scaled = vmulq_f32(
            vreinterpretq_f32_u32(em),
            vdupq_n_f32(f32::from_bits((127 + 112) << 23)),
        );
        let exp = vandq_u32(u, vdupq_n_u32(0x7c00));
        let infnan = vceqq_u32(exp, vdupq_n_u32(0x7c00));
        let man_nz = vtstq_u32(u, vdupq_n_u32(0x03ff));
        let special = vorrq_u32(
            vorrq_u32(em, vdupq_n_u32(0x7f80_0000)),
            vandq_u32(man_nz, vdupq_n_u32(0x0040_0000)),
        );
        let mag = vbslq_u32(infnan, special, vreinterpretq_u32_f32(scaled));
        vreinterpretq_f32_u32(vorrq_u32(mag, sign))
    }
}

/// 8 halves from element `i` of an f16 row as (elements i..i+4, i+4..i+8).
#[inline(always)]
unsafe fn ld_f16x8(s: &[u8], i: usize) -> (float32x4_t, float32x4_t) {
    // SAFETY: `ld_u8` bounds-checks; the rest are register ops.
    unsafe {
        let h = vreinterpretq_u16_u8(ld_u8(&s[i * 2..]));
        (cvt_f16x4(vget_low_u16(h)), cvt_f16x4(vget_high_u16(h)))
    }
}

/// 8 bf16 from element `i` as (elements i..i+4, i+4..i+8).
#[inline(always)]
unsafe fn ld_bf16x8(s: &[u8], i: usize) -> (float32x4_t, float32x4_t) {
    // SAFETY: `ld_u8` bounds-checks; the rest are register ops.
    unsafe {
        let h = vreinterpretq_u16_u8(ld_u8(&s[i * 2..]));
        (
            vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(h))),
            vreinterpretq_f32_u32(vshll_high_n_u16::<16>(h)),
        )
    }
}

/// `GGML_F32x8_REDUCE` of four 8-lane accumulators `acc[2j]` (lanes 0-3 of
/// accumulator j) / `acc[2j+1]` (lanes 4-7), as `crate::float::fma4x8_reduce`.
#[inline(always)]
unsafe fn reduce4(acc: &[float32x4_t; 8]) -> f32 {
    // SAFETY: register-only NEON ops.
    unsafe {
        let lo = vaddq_f32(vaddq_f32(acc[0], acc[4]), vaddq_f32(acc[2], acc[6]));
        let hi = vaddq_f32(vaddq_f32(acc[1], acc[5]), vaddq_f32(acc[3], acc[7]));
        let t0 = vaddq_f32(lo, hi);
        let t1 = vpaddq_f32(t0, t0); // [t0+t1, t2+t3, ..]
        vgetq_lane_f32::<0>(t1) + vgetq_lane_f32::<1>(t1)
    }
}

#[target_feature(enable = "neon")]
unsafe fn vec_dot_f32(w: &[u8], a: &[u8]) -> f32 {
    let n = w.len() / 4;
    let np = n & !31;
    // SAFETY: loads are bounds-checked by `ld_f32`.
    let mut s = unsafe {
        let mut acc = [vdupq_n_f32(0.0); 8];
        let mut i = 0;
        while i < np {
            for (q, accq) in acc.iter_mut().enumerate() {
                let e = i + 4 * q;
                *accq = vfmaq_f32(*accq, ld_f32(w, e), ld_f32(a, e));
            }
            i += 32;
        }
        reduce4(&acc)
    };
    for i in np..n {
        s = f32_at(w, 4 * i).mul_add(f32_at(a, 4 * i), s);
    }
    s
}

#[target_feature(enable = "neon")]
unsafe fn vec_dot_f16(w: &[u8], a: &[u8]) -> f32 {
    let n = w.len() / 2;
    let np = n & !31;
    // SAFETY: loads are bounds-checked by `ld_f16x8`.
    let mut s = unsafe {
        let mut acc = [vdupq_n_f32(0.0); 8];
        let mut i = 0;
        while i < np {
            for j in 0..4 {
                let e = i + 8 * j;
                let (w0, w1) = ld_f16x8(w, e);
                let (a0, a1) = ld_f16x8(a, e);
                acc[2 * j] = vfmaq_f32(acc[2 * j], w0, a0);
                acc[2 * j + 1] = vfmaq_f32(acc[2 * j + 1], w1, a1);
            }
            i += 32;
        }
        reduce4(&acc)
    } as f64;
    for i in np..n {
        s += (f16_at(w, 2 * i) * f16_at(a, 2 * i)) as f64;
    }
    s as f32
}

#[target_feature(enable = "neon")]
unsafe fn vec_dot_bf16(w: &[u8], a: &[u8]) -> f32 {
    let n = w.len() / 2;
    let mut i = 0;
    // SAFETY: loads are bounds-checked by `ld_bf16x8`.
    let mut s = unsafe {
        let mut c = [vdupq_n_f32(0.0); 8];
        while i + 32 <= n {
            for j in 0..4 {
                let e = i + 8 * j;
                let (w0, w1) = ld_bf16x8(w, e);
                let (a0, a1) = ld_bf16x8(a, e);
                c[2 * j] = vaddq_f32(c[2 * j], vmulq_f32(w0, a0));
                c[2 * j + 1] = vaddq_f32(c[2 * j + 1], vmulq_f32(w1, a1));
            }
            i += 32;
        }
        let lo = vaddq_f32(vaddq_f32(c[0], c[4]), vaddq_f32(c[2], c[6]));
        let hi = vaddq_f32(vaddq_f32(c[1], c[5]), vaddq_f32(c[3], c[7]));
        hsum_8(lo, hi)
    } as f64;
    while i < n {
        let bw = bf16_to_f32(u16::from_le_bytes([w[2 * i], w[2 * i + 1]]));
        let ba = bf16_to_f32(u16::from_le_bytes([a[2 * i], a[2 * i + 1]]));
        s += (bw * ba) as f64;
        i += 1;
    }
    s as f32
}

dispatchable_neon!(dot_f32 => vec_dot_f32);
dispatchable_neon!(dot_f16 => vec_dot_f16);
dispatchable_neon!(dot_bf16 => vec_dot_bf16);
