//! The cheaper op orders the SIMD matmul uses for the 32-element formats
//! (which format uses which: `crate::formats`), as scalar references. Each
//! output's result depends only on its weight row and activation row.
//!
//! llama.cpp's `vec_dot` order (kept by [`crate::vec_dot`] and the scalar
//! reference `QuantBlock::vec_dot_scalar`) gives each output 8 float lanes
//! and converts and accumulates every block's 8 partial sums. These orders
//! convert and accumulate fewer sums per block:
//!
//! - **one-lane** ([`one_lane`]; Q4_0, Q5_0, Q8_0; AVX2 kernels in
//!   `avx2::one_lane`, AVX-512 VNNI ones in `avx512::one_lane`, NEON i8mm
//!   ones in `neon::i8mm`): per block the exact integer sum `T = Σ x_i y_i`, then
//!   `acc = fma(d_x * d_y, T, acc)`, block by block.
//! - **two-lane** ([`two_lane`]; Q4_1, Q5_1; AVX2 kernels in `avx2::two_lane`
//!   and `avx2::panel`, AVX-512 ones in `avx512`): per block the exact integer
//!   sums `E = Σ x_i y_i over i mod 8 in 0..4` and `O = Σ over i mod 8 in
//!   4..8`, then `acc_E = fma(d_x * d_y, E, acc_E)`, same for `O` (block by
//!   block, in order), finally `acc_E + acc_O`, plus the `Σ m_x s_y` FMA chain
//!   of the min as in `vec_dot`.
//!
//! - **K one-lane** ([`k_one_lane_q4_k`], [`k_one_lane_q6_k`]; Q4_K and Q6_K
//!   at AVX-512 VNNI, kernels in `avx512::klane`): per super-block `b` the
//!   exact integer sum `T` of every scale times its sub-block's `Σ x_i y_i`
//!   (and for Q4_K the exact `M = Σ min * bsum`), then `acc[b % 8] =
//!   fma(d_y * d_x, T, acc[b % 8])` (and `acc_m[b % 8] = fma(d_y * dmin_x, M,
//!   acc_m[b % 8])`): eight chains, so that a single row's decode does one
//!   vector FMA per 8 blocks; the result [`sum8`]`(acc)` (Q4_K minus
//!   `sum8(acc_m)`).
//!
//! Integer sums are exact, so the kernels may form them in any order (their
//! i16 partial sums are bounded in each kernel's comments); the float ops are
//! fixed.

use crate::block::Block32;
use crate::k_quants::{q6_k::q6k_values, q8k_bsum, q8k_d, q8k_q, scales_mins_k4, Q8_K_BYTES};
use crate::util::f16_at;

/// One-lane order: weight row `w` (whole blocks of `F`, which has no min)
/// against Q8_0 activation row `a`.
pub(crate) fn one_lane<F: Block32>(w: &[u8], a: &[u8]) -> f32 {
    let (wb, ab) = (F::BYTES, F::ACT_BYTES);
    let nb = w.len() / wb;
    assert!(!F::MIN && a.len() >= nb * ab, "activation row too short");
    let mut acc = 0.0f32;
    for i in 0..nb {
        let x = &w[i * wb..(i + 1) * wb];
        let y = &a[i * ab..(i + 1) * ab];
        let xv = F::values(x);
        let t: i32 = (0..32)
            .map(|j| xv[j] * (y[F::ACT_QS + j] as i8) as i32)
            .sum();
        let d = F::scale(x) * f16_at(y, 0);
        acc = d.mul_add(t as f32, acc);
    }
    acc
}

/// Two-lane order: weight row `w` (whole blocks of `F`) against activation
/// row `a` (Q8_1 for the formats with a min, Q8_0 otherwise).
pub(crate) fn two_lane<F: Block32>(w: &[u8], a: &[u8]) -> f32 {
    let (wb, ab) = (F::BYTES, F::ACT_BYTES);
    let nb = w.len() / wb;
    assert!(a.len() >= nb * ab, "activation row too short");
    let (mut acc_e, mut acc_o, mut summ) = (0.0f32, 0.0f32, 0.0f32);
    for i in 0..nb {
        let x = &w[i * wb..(i + 1) * wb];
        let y = &a[i * ab..(i + 1) * ab];
        let xv = F::values(x);
        let (mut e, mut o) = (0i32, 0i32);
        for j in 0..32 {
            let p = xv[j] * (y[F::ACT_QS + j] as i8) as i32;
            if j % 8 < 4 {
                e += p;
            } else {
                o += p;
            }
        }
        let d = f16_at(x, 0) * f16_at(y, 0);
        acc_e = d.mul_add(e as f32, acc_e);
        acc_o = d.mul_add(o as f32, acc_o);
        if F::MIN {
            summ = f16_at(x, 2).mul_add(f16_at(y, 2), summ);
        }
    }
    let r = acc_e + acc_o;
    if F::MIN {
        r + summ
    } else {
        r
    }
}

/// K one-lane order for Q4_K (144-byte super-blocks, layout in
/// `k_quants::q4_k`) against a Q8_K activation row: per super-block `T =
/// Σ_s sc_s Σ_{i in s} q_i y_i` and `M = Σ_s m_s (bsum_{2s} + bsum_{2s+1})`
/// exactly (8 sub-blocks of 32, 6-bit scales `sc` and mins `m`), then for
/// block `b` `acc[b % 8] = fma(d_y * d, T, ..)`, `acc_m[b % 8] = fma(d_y *
/// dmin, M, ..)`; `sum8(acc) - sum8(acc_m)`.
pub(crate) fn k_one_lane_q4_k(w: &[u8], a: &[u8]) -> f32 {
    const WB: usize = 144;
    let nb = w.len() / WB;
    assert!(a.len() >= nb * Q8_K_BYTES, "activation row too short");
    let (mut acc, mut acc_m) = ([0.0f32; 8], [0.0f32; 8]);
    for i in 0..nb {
        let x = &w[i * WB..(i + 1) * WB];
        let y = &a[i * Q8_K_BYTES..(i + 1) * Q8_K_BYTES];
        let (sc, m) = scales_mins_k4(&x[4..16]);
        let (mut t, mut mm) = (0i32, 0i32);
        for s in 0..8 {
            let q = &x[16 + (s / 2) * 32..16 + (s / 2) * 32 + 32];
            let sum: i32 = (0..32)
                .map(|l| {
                    let v = if s % 2 == 0 { q[l] & 0xF } else { q[l] >> 4 };
                    v as i32 * q8k_q(y, 32 * s + l)
                })
                .sum();
            t += sc[s] as i32 * sum;
            mm += m[s] as i32 * (q8k_bsum(y, 2 * s) + q8k_bsum(y, 2 * s + 1));
        }
        let yd = q8k_d(y);
        acc[i % 8] = (yd * f16_at(x, 0)).mul_add(t as f32, acc[i % 8]);
        acc_m[i % 8] = (yd * f16_at(x, 2)).mul_add(mm as f32, acc_m[i % 8]);
    }
    sum8(acc) - sum8(acc_m)
}

/// The K one-lane order's sum of its 8 chains, `((c0 + c4) + (c2 + c6)) +
/// ((c1 + c5) + (c3 + c7))` (llama.cpp's `hsum_float_8`).
pub(crate) fn sum8(c: [f32; 8]) -> f32 {
    ((c[0] + c[4]) + (c[2] + c[6])) + ((c[1] + c[5]) + (c[3] + c[7]))
}

/// K one-lane order for Q6_K (210-byte super-blocks, layout in
/// `k_quants::q6_k`) against a Q8_K activation row: per super-block `T =
/// Σ_s sc_s (Σ_{i in s} u_i y_i - 32 bsum_s)` exactly (16 sub-blocks of 16,
/// `u` the unsigned 6-bit values, `sc` the signed scales), then for block `b`
/// `acc[b % 8] = fma(d_y * d, T, ..)`; `sum8(acc)`.
pub(crate) fn k_one_lane_q6_k(w: &[u8], a: &[u8]) -> f32 {
    const WB: usize = 210;
    let nb = w.len() / WB;
    assert!(a.len() >= nb * Q8_K_BYTES, "activation row too short");
    let mut acc = [0.0f32; 8];
    for i in 0..nb {
        let x = &w[i * WB..(i + 1) * WB];
        let y = &a[i * Q8_K_BYTES..(i + 1) * Q8_K_BYTES];
        let v = q6k_values(x);
        let mut t = 0i32;
        for s in 0..16 {
            let sum: i32 = (0..16)
                .map(|l| (v[16 * s + l] as i32 + 32) * q8k_q(y, 16 * s + l))
                .sum();
            t += (x[192 + s] as i8) as i32 * (sum - 32 * q8k_bsum(y, s));
        }
        acc[i % 8] = (q8k_d(y) * f16_at(x, 208)).mul_add(t as f32, acc[i % 8]);
    }
    sum8(acc)
}
