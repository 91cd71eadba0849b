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
//! Integer sums are exact, so the kernels may form them in any order (their
//! i16 partial sums are bounded in each kernel's comments); the float ops are
//! fixed.

use crate::block::Block32;
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
