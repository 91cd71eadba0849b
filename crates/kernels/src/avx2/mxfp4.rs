//! MXFP4 against Q8_0 activations in llama.cpp's AVX2 order
//! (`ggml_vec_dot_mxfp4_q8_0`, `ggml/src/ggml-cpu/arch/x86/quants.c`): the
//! nibbles looked up in the doubled E2M1 table with one `pshufb`, the sign
//! trick, 8 i32 lanes per block, even blocks into one accumulator and odd
//! ones into another, their sum's `hsum_float_8`, an odd last block in
//! scalar code; [`dot`] runs several activation rows per weight row, each
//! in that order. Bit-identical to `crate::mxfp4::BlockMXFP4::vec_dot_scalar`.

use super::{f16_at, hsum_f32_8, load16, load32, mul_sum_i8_pairs_i32};
use crate::block::QuantBlock;
use crate::mxfp4::{e8m0_half, BlockMXFP4, KVALUES};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;

/// Block `x`'s 32 values as signed bytes (low nibbles then high nibbles).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn values(table: __m128i, x: &[u8]) -> __m256i {
    // SAFETY: `x` is a whole block (1 + 16 bytes), checked by the caller's
    // slicing; load16 checks the length itself.
    let q = unsafe { load16(&x[1..]) };
    let m4 = _mm_set1_epi8(0x0F);
    let lo = _mm_shuffle_epi8(table, _mm_and_si128(q, m4));
    let hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), m4));
    _mm256_set_m128i(hi, lo)
}

/// One MXFP4 weight row dotted with `N` Q8_0 activation rows at once (each
/// block's values decoded once for all of them); output `r` is bit-identical
/// to [`vec_dot`] of row `r` alone: the same per-row accumulators and ops.
///
/// # Safety
/// AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot<const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    let nb = w.len() / BlockMXFP4::BYTES;
    for y in &a {
        assert!(y.len() >= nb * Q8_0_BYTES, "activation row too short");
    }
    // SAFETY: KVALUES is 16 bytes; loadu has no alignment requirement.
    let table = unsafe { _mm_loadu_si128(KVALUES.as_ptr() as *const __m128i) };
    let wb = |i: usize| &w[i * BlockMXFP4::BYTES..];
    let ab = |r: usize, i: usize| &a[r][i * Q8_0_BYTES..];
    let mut acc1 = [_mm256_setzero_ps(); N];
    let mut acc2 = [_mm256_setzero_ps(); N];
    let mut i = 0;
    while i + 1 < nb {
        let (x0, x1) = (wb(i), wb(i + 1));
        let (v0, v1) = (values(table, x0), values(table, x1));
        let (e0, e1) = (e8m0_half(x0[0]), e8m0_half(x1[0]));
        for r in 0..N {
            let (y0, y1) = (ab(r, i), ab(r, i + 1));
            // SAFETY: each activation block holds 2 + 32 bytes (checked above).
            let (q0, q1) = unsafe { (load32(&y0[2..]), load32(&y1[2..])) };
            let p0 = _mm256_cvtepi32_ps(mul_sum_i8_pairs_i32(v0, q0));
            let p1 = _mm256_cvtepi32_ps(mul_sum_i8_pairs_i32(v1, q1));
            let d0 = _mm256_set1_ps(f16_at(y0, 0) * e0);
            let d1 = _mm256_set1_ps(f16_at(y1, 0) * e1);
            acc1[r] = _mm256_fmadd_ps(d0, p0, acc1[r]);
            acc2[r] = _mm256_fmadd_ps(d1, p1, acc2[r]);
        }
        i += 2;
    }
    std::array::from_fn(|r| {
        let out = hsum_f32_8(_mm256_add_ps(acc1[r], acc2[r]));
        if i < nb {
            last_block(table, wb(i), ab(r, i), out)
        } else {
            out
        }
    })
}

/// One MXFP4 weight row dotted with one Q8_0 activation row.
///
/// # Safety
/// AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: the same features.
    unsafe { dot::<1>(w, [a])[0] }
}

/// [`dot`] of 4 activation rows (matmul's batched rows).
///
/// # Safety
/// AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_1x4(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
    // SAFETY: the same features.
    unsafe { dot::<4>(w, a) }
}

/// `out` plus an odd last block `x` (against Q8_0 block `y`) as llama.cpp's
/// scalar tail: `sumf += d * sumi` (one FMA).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn last_block(table: __m128i, x: &[u8], y: &[u8], out: f32) -> f32 {
    // SAFETY: `y` is a whole Q8_0 block (2 + 32 bytes); load32 checks it.
    let q = unsafe { load32(&y[2..]) };
    let p = mul_sum_i8_pairs_i32(values(table, x), q);
    let mut l = [0i32; 8];
    // SAFETY: 8 i32 fit in `l`; storeu has no alignment requirement.
    unsafe { _mm256_storeu_si256(l.as_mut_ptr() as *mut __m256i, p) };
    let s: i32 = l.iter().sum();
    (f16_at(y, 0) * e8m0_half(x[0])).mul_add(s as f32, out)
}
