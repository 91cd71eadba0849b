//! AVX2 dot products for the 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
//! (formats: see `crate::q4`, `crate::q5`, `crate::q8`).

use super::f16_at;
use super::{
    bytes_from_bits_32, bytes_from_nibbles_32, hsum_f32_8, load32, mul_sum_i8_pairs_i32,
    mul_sum_us8_pairs_i32,
};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use crate::util::u32_at;
use std::arch::x86_64::*;

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q4_0(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w.chunks_exact(18).zip(a.chunks_exact(Q8_0_BYTES)) {
            let d = _mm256_set1_ps(f16_at(x, 0) * f16_at(y, 0));
            let qx = _mm256_sub_epi8(bytes_from_nibbles_32(&x[2..18]), _mm256_set1_epi8(8));
            let qy = load32(&y[2..34]);
            let q = _mm256_cvtepi32_ps(mul_sum_i8_pairs_i32(qx, qy));
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_f32_8(acc)
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q4_1(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0.0f32;
        for (x, y) in w.chunks_exact(20).zip(a.chunks_exact(Q8_1_BYTES)) {
            // llama.cpp's `summs += m * s` is contracted to an FMA by the C compiler.
            summs = f16_at(x, 2).mul_add(f16_at(y, 2), summs);
            let d = _mm256_set1_ps(f16_at(x, 0) * f16_at(y, 0));
            let qx = bytes_from_nibbles_32(&x[4..20]);
            let qy = load32(&y[4..36]);
            let q = _mm256_cvtepi32_ps(mul_sum_us8_pairs_i32(qx, qy));
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_f32_8(acc) + summs
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q5_0(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w.chunks_exact(22).zip(a.chunks_exact(Q8_0_BYTES)) {
            let d = _mm256_set1_ps(f16_at(x, 0) * f16_at(y, 0));
            let qx = bytes_from_nibbles_32(&x[6..22]);
            // high bit clear -> OR 0xF0 makes the byte (nibble - 16) as i8.
            let hi = _mm256_andnot_si256(
                bytes_from_bits_32(u32_at(x, 2)),
                _mm256_set1_epi8(0xF0u8 as i8),
            );
            let qx = _mm256_or_si256(qx, hi);
            let qy = load32(&y[2..34]);
            let q = _mm256_cvtepi32_ps(mul_sum_i8_pairs_i32(qx, qy));
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_f32_8(acc)
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q5_1(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0.0f32;
        for (x, y) in w.chunks_exact(24).zip(a.chunks_exact(Q8_1_BYTES)) {
            // llama.cpp's `summs += m * s` is contracted to an FMA by the C compiler.
            summs = f16_at(x, 2).mul_add(f16_at(y, 2), summs);
            let d = _mm256_set1_ps(f16_at(x, 0) * f16_at(y, 0));
            let qx = bytes_from_nibbles_32(&x[8..24]);
            let hi = _mm256_and_si256(bytes_from_bits_32(u32_at(x, 4)), _mm256_set1_epi8(0x10));
            let qx = _mm256_or_si256(qx, hi);
            let qy = load32(&y[4..36]);
            let q = _mm256_cvtepi32_ps(mul_sum_us8_pairs_i32(qx, qy));
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_f32_8(acc) + summs
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q8_0(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w.chunks_exact(Q8_0_BYTES).zip(a.chunks_exact(Q8_0_BYTES)) {
            let d = _mm256_set1_ps(f16_at(x, 0) * f16_at(y, 0));
            let qx = load32(&x[2..34]);
            let qy = load32(&y[2..34]);
            let q = _mm256_cvtepi32_ps(mul_sum_i8_pairs_i32(qx, qy));
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_f32_8(acc)
    }
}
