//! AVX2 dot products for the K-quants (formats: see `crate::k_quants`). Each
//! super-block is reduced to the exact integer sums of the scalar reference,
//! followed by the scalar reference's float ops, so results are bit-identical.

use super::{hsum_i32_8, load32};
use crate::k_quants::{q3k_scales, q8k_bsum, q8k_d, scales_mins_k4, Q8_K_BYTES};
use crate::util::f16_at;
use std::arch::x86_64::*;

/// Two i16 scales broadcast to the two 128-bit halves (elements 0..16 / 16..32).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn scale_pair(lo: i16, hi: i16) -> __m256i {
    _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q2_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m3 = _mm256_set1_epi8(3);
        let mut sumf = 0.0f32;
        for (x, y) in w.chunks_exact(84).zip(a.chunks_exact(Q8_K_BYTES)) {
            let sc = &x[0..16];
            let mut summs = 0i32;
            for (j, &s) in sc.iter().enumerate() {
                summs += q8k_bsum(y, j) * (s >> 4) as i32;
            }
            let mut acc = _mm256_setzero_si256();
            for n in 0..2 {
                let q2 = load32(&x[16 + n * 32..48 + n * 32]);
                for j in 0..4 {
                    let v = _mm256_and_si256(_mm256_srl_epi16(q2, _mm_cvtsi32_si128(2 * j as i32)), m3);
                    let off = 4 + n * 128 + j * 32;
                    let p = _mm256_maddubs_epi16(v, load32(&y[off..off + 32]));
                    let s = scale_pair((sc[n * 8 + j * 2] & 0xF) as i16, (sc[n * 8 + j * 2 + 1] & 0xF) as i16);
                    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
                }
            }
            let isum = hsum_i32_8(acc);
            let yd = q8k_d(y);
            let dall = yd * f16_at(x, 80);
            let dmin = yd * f16_at(x, 82);
            sumf += dall * isum as f32 - dmin * summs as f32;
        }
        sumf
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q3_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m3 = _mm256_set1_epi8(3);
        let one = _mm256_set1_epi8(1);
        let mut sumf = 0.0f32;
        for (x, y) in w.chunks_exact(110).zip(a.chunks_exact(Q8_K_BYTES)) {
            let scales = q3k_scales(&x[96..108]);
            // values are (q + 4*hbit) - 4: dot the unsigned part, subtract 4*sum(y).
            let mut corr = 0i32;
            for s in 0..16 {
                corr += scales[s] as i32 * q8k_bsum(y, s);
            }
            let hm = load32(&x[0..32]);
            let mut acc = _mm256_setzero_si256();
            for n in 0..2 {
                let q3 = load32(&x[32 + n * 32..64 + n * 32]);
                for j in 0..4 {
                    let lo = _mm256_and_si256(_mm256_srl_epi16(q3, _mm_cvtsi32_si128(2 * j as i32)), m3);
                    let h = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128((n * 4 + j) as i32)), one);
                    let v = _mm256_or_si256(lo, _mm256_slli_epi16(h, 2));
                    let off = 4 + n * 128 + j * 32;
                    let p = _mm256_maddubs_epi16(v, load32(&y[off..off + 32]));
                    let g = n * 8 + j * 2;
                    let s = scale_pair(scales[g] as i16, scales[g + 1] as i16);
                    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
                }
            }
            let sumi = hsum_i32_8(acc) - 4 * corr;
            let d = f16_at(x, 108) * q8k_d(y);
            sumf += d * sumi as f32;
        }
        sumf
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q4_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let mut sumf = 0.0f32;
        for (x, y) in w.chunks_exact(144).zip(a.chunks_exact(Q8_K_BYTES)) {
            let (sc, m) = scales_mins_k4(&x[4..16]);
            let mut summ = 0i32;
            for g in 0..16 {
                summ += q8k_bsum(y, g) * m[g / 2] as i32;
            }
            let mut acc = _mm256_setzero_si256();
            for j in 0..4 {
                let q4 = load32(&x[16 + j * 32..48 + j * 32]);
                let lo = _mm256_and_si256(q4, m4);
                let hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
                let off = 4 + j * 64;
                let plo = _mm256_maddubs_epi16(lo, load32(&y[off..off + 32]));
                let phi = _mm256_maddubs_epi16(hi, load32(&y[off + 32..off + 64]));
                let plo = _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j] as i16));
                let phi = _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1] as i16));
                acc = _mm256_add_epi32(acc, _mm256_add_epi32(plo, phi));
            }
            let sumi = hsum_i32_8(acc);
            let yd = q8k_d(y);
            let d = f16_at(x, 0) * yd;
            let dmin = f16_at(x, 2) * yd;
            sumf += d * sumi as f32 - dmin * summ as f32;
        }
        sumf
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q5_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let one = _mm256_set1_epi8(1);
        let mut sumf = 0.0f32;
        for (x, y) in w.chunks_exact(176).zip(a.chunks_exact(Q8_K_BYTES)) {
            let (sc, m) = scales_mins_k4(&x[4..16]);
            let mut summ = 0i32;
            for g in 0..16 {
                summ += q8k_bsum(y, g) * m[g / 2] as i32;
            }
            let qh = load32(&x[16..48]);
            let mut acc = _mm256_setzero_si256();
            for j in 0..4 {
                let q4 = load32(&x[48 + j * 32..80 + j * 32]);
                let hlo = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32)), one);
                let hhi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32 + 1)), one);
                let lo = _mm256_or_si256(_mm256_and_si256(q4, m4), _mm256_slli_epi16(hlo, 4));
                let hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), _mm256_slli_epi16(hhi, 4));
                let off = 4 + j * 64;
                let plo = _mm256_maddubs_epi16(lo, load32(&y[off..off + 32]));
                let phi = _mm256_maddubs_epi16(hi, load32(&y[off + 32..off + 64]));
                let plo = _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j] as i16));
                let phi = _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1] as i16));
                acc = _mm256_add_epi32(acc, _mm256_add_epi32(plo, phi));
            }
            let sumi = hsum_i32_8(acc);
            let yd = q8k_d(y);
            let d = f16_at(x, 0) * yd;
            let dmin = f16_at(x, 2) * yd;
            sumf += d * sumi as f32 - dmin * summ as f32;
        }
        sumf
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn vec_dot_q6_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let m2 = _mm256_set1_epi8(3);
        let mut sumf = 0.0f32;
        for (x, y) in w.chunks_exact(210).zip(a.chunks_exact(Q8_K_BYTES)) {
            let sc = &x[192..208];
            // values are u - 32 with u in 0..64: dot u, subtract 32*sum(y) per group.
            let mut corr = 0i32;
            for s in 0..16 {
                corr += (sc[s] as i8) as i32 * q8k_bsum(y, s);
            }
            let mut acc = _mm256_setzero_si256();
            for n in 0..2 {
                let ql0 = load32(&x[n * 64..n * 64 + 32]);
                let ql1 = load32(&x[n * 64 + 32..n * 64 + 64]);
                let qh = load32(&x[128 + n * 32..160 + n * 32]);
                let vals = [
                    _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
                    _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
                ];
                for (i, v) in vals.iter().enumerate() {
                    let off = 4 + n * 128 + i * 32;
                    let p = _mm256_maddubs_epi16(*v, load32(&y[off..off + 32]));
                    let g = n * 8 + i * 2;
                    let s = scale_pair((sc[g] as i8) as i16, (sc[g + 1] as i8) as i16);
                    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
                }
            }
            let sumi = hsum_i32_8(acc) - 32 * corr;
            let d = f16_at(x, 208) * q8k_d(y);
            sumf += d * sumi as f32;
        }
        sumf
    }
}
