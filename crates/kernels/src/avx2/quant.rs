//! AVX2 activation quantizers, byte-identical to the scalar ones in `crate::q8`
//! (same `d`, same products, same rounding; max and integer sums are exact in
//! any order).

use crate::q8::{Q8_0_BYTES, Q8_1_BYTES, Q8_K_BSUMS, Q8_K_BYTES, QK_K};
use crate::util::f32_to_f16_bits;
use std::arch::x86_64::*;

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn abs_ps(v: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), v)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hmax_ps(v: __m256) -> f32 {
    let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    let m = _mm_max_ss(m, _mm_movehdup_ps(m));
    _mm_cvtss_f32(m)
}

/// `f32::round` (half away from zero), exactly: trunc, then step away from
/// zero when the (exact) remainder is at least 0.5 in magnitude.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn round_away(x: __m256) -> __m256 {
    let t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    let frac = abs_ps(_mm256_sub_ps(x, t));
    let ge = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5), _CMP_GE_OQ);
    let one = _mm256_or_ps(_mm256_set1_ps(1.0), _mm256_and_ps(x, _mm256_set1_ps(-0.0)));
    _mm256_add_ps(t, _mm256_and_ps(ge, one))
}

/// 32 rounded floats (integral, |v| <= 128) -> 32 saturated i8 in order.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn pack_i8(v: [__m256; 4]) -> __m256i {
    let i0 = _mm256_cvtps_epi32(v[0]);
    let i1 = _mm256_cvtps_epi32(v[1]);
    let i2 = _mm256_cvtps_epi32(v[2]);
    let i3 = _mm256_cvtps_epi32(v[3]);
    let a = _mm256_packs_epi32(i0, i1);
    let b = _mm256_packs_epi32(i2, i3);
    let p = _mm256_packs_epi16(a, b);
    _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// Sum of 32 i8.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn sum_i8(q: __m256i) -> i32 {
    let s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
    let s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(s32),
        _mm256_extracti128_si256(s32, 1),
    );
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    _mm_cvtsi128_si32(s)
}

/// Q8_0 (`sum = false`) or Q8_1 (`sum = true`) rows; `x86` selects llama.cpp's
/// x86 rounding (`127/amax`, half to even) instead of the reference one.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_q8_01(x: &[f32], out: &mut [u8], sum: bool, x86: bool) {
    let bytes = if sum { Q8_1_BYTES } else { Q8_0_BYTES };
    let nb = x.len() / 32;
    assert!(out.len() >= nb * bytes);
    for (xb, yb) in x.chunks_exact(32).zip(out.chunks_exact_mut(bytes)) {
        // SAFETY: xb holds 32 floats; yb holds `bytes` >= 34 bytes.
        unsafe {
            let p = xb.as_ptr();
            let v = [
                _mm256_loadu_ps(p),
                _mm256_loadu_ps(p.add(8)),
                _mm256_loadu_ps(p.add(16)),
                _mm256_loadu_ps(p.add(24)),
            ];
            let m = _mm256_max_ps(
                _mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])),
                _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3])),
            );
            let amax = hmax_ps(m);
            let d = amax / 127.0;
            let id = if x86 {
                if amax != 0.0 {
                    127.0 / amax
                } else {
                    0.0
                }
            } else if d != 0.0 {
                1.0 / d
            } else {
                0.0
            };
            let idv = _mm256_set1_ps(id);
            let r = v.map(|vi| {
                let s = _mm256_mul_ps(vi, idv);
                if x86 {
                    _mm256_round_ps(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                } else {
                    round_away(s)
                }
            });
            let q = pack_i8(r);
            let qoff = if sum { 4 } else { 2 };
            _mm256_storeu_si256(yb.as_mut_ptr().add(qoff) as *mut __m256i, q);
            yb[0..2].copy_from_slice(&f32_to_f16_bits(d).to_le_bytes());
            if sum {
                // (`sum * d` in the reference, `d * sum` on x86: the same product)
                let sd = sum_i8(q) as f32 * d;
                yb[2..4].copy_from_slice(&f32_to_f16_bits(sd).to_le_bytes());
            }
        }
    }
}

/// Q8_K rows (`quantize_row_q8_K_ref`).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_q8_k(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(Q8_K_BYTES)) {
        // SAFETY: xb holds 256 floats, yb 292 bytes.
        unsafe {
            let p = xb.as_ptr();
            let mut m = _mm256_setzero_ps();
            for i in 0..32 {
                m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(p.add(8 * i))));
            }
            let amax = hmax_ps(m);
            if amax == 0.0 || amax.is_nan() {
                // NaN: let the scalar reference decide, whatever it does.
                crate::q8::quantize_row_q8_k(xb, yb);
                continue;
            }
            // the first element of largest magnitude, with its sign
            let av = _mm256_set1_ps(amax);
            let mut max = 0.0f32;
            for i in 0..32 {
                let e = _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(p.add(8 * i))), av, _CMP_EQ_OQ);
                let mask = _mm256_movemask_ps(e);
                if mask != 0 {
                    max = xb[8 * i + mask.trailing_zeros() as usize];
                    break;
                }
            }
            let iscale = -127.0f32 / max;
            let isv = _mm256_set1_ps(iscale);
            let q = yb.as_mut_ptr().add(4);
            let cap = _mm256_set1_epi32(127);
            for g in 0..8 {
                let r: [__m256; 4] = std::array::from_fn(|j| {
                    let s = _mm256_mul_ps(_mm256_loadu_ps(p.add(32 * g + 8 * j)), isv);
                    _mm256_round_ps(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                });
                // `.min(127)` before the i8 cast, as the reference
                let r = r.map(|v| _mm256_cvtepi32_ps(_mm256_min_epi32(_mm256_cvtps_epi32(v), cap)));
                let qv = pack_i8(r);
                _mm256_storeu_si256(q.add(32 * g) as *mut __m256i, qv);
                // two bsums of 16
                let s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), qv);
                let s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
                let lo = _mm256_castsi256_si128(s32);
                let hi = _mm256_extracti128_si256(s32, 1);
                let h = |v: __m128i| {
                    let v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
                    let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 1));
                    _mm_cvtsi128_si32(v) as i16
                };
                let o = Q8_K_BSUMS + 4 * g;
                yb[o..o + 2].copy_from_slice(&h(lo).to_le_bytes());
                yb[o + 2..o + 4].copy_from_slice(&h(hi).to_le_bytes());
            }
            yb[0..4].copy_from_slice(&(1.0f32 / iscale).to_le_bytes());
        }
    }
}

/// Q8_0 row -> f32 (`q as f32 * d`, exactly the scalar products).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dequantize_q8_0(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(Q8_0_BYTES).zip(dst.chunks_exact_mut(32)) {
        // SAFETY: b holds 34 bytes, y 32 floats.
        unsafe {
            let d = _mm256_set1_ps(_mm_cvtss_f32(super::legacy::f16x2(b.as_ptr())));
            for j in 0..4 {
                let q = _mm_loadl_epi64(b.as_ptr().add(2 + 8 * j) as *const __m128i);
                let v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
                _mm256_storeu_ps(y.as_mut_ptr().add(8 * j), _mm256_mul_ps(v, d));
            }
        }
    }
}

/// F16 row -> f32 (F16C, exact).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    let n8 = dst.len() / 8 * 8;
    assert!(src.len() >= 2 * dst.len());
    for i in (0..n8).step_by(8) {
        // SAFETY: 16 bytes at 2i and 8 floats at i are in bounds (i + 8 <= len).
        unsafe {
            let h = _mm_loadu_si128(src.as_ptr().add(2 * i) as *const __m128i);
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
        }
    }
    for i in n8..dst.len() {
        dst[i] = crate::util::f16_at(src, 2 * i);
    }
}
