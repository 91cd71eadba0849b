//! AVX2 dot products for F32, F16 (F16C conversion) and BF16 rows, op for op
//! as llama.cpp's AVX2 `ggml_vec_dot_f32/f16/bf16` (`ggml/src/ggml-cpu/vec.cpp`);
//! bit-identical to the scalar reference in `crate::float`.

use super::hsum_f32_8;
use std::arch::x86_64::*;

#[inline(always)]
unsafe fn ld_f32(s: &[u8], i: usize) -> __m256 {
    assert!(s.len() >= (i + 8) * 4);
    // SAFETY: 32 readable bytes checked above; unaligned load.
    unsafe { _mm256_loadu_ps(s.as_ptr().add(i * 4) as *const f32) }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld_f16(s: &[u8], i: usize) -> __m256 {
    assert!(s.len() >= (i + 8) * 2);
    // SAFETY: 16 readable bytes checked above; unaligned load.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(s.as_ptr().add(i * 2) as *const __m128i)) }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld_bf16(s: &[u8], i: usize) -> __m256 {
    assert!(s.len() >= (i + 8) * 2);
    // SAFETY: 16 readable bytes checked above; unaligned load.
    let h = unsafe { _mm_loadu_si128(s.as_ptr().add(i * 2) as *const __m128i) };
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
}

/// `GGML_F32x8_REDUCE` over four accumulators.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn reduce4(x: [__m256; 4]) -> f32 {
    let a = _mm256_add_ps(x[0], x[2]);
    let b = _mm256_add_ps(x[1], x[3]);
    let x0 = _mm256_add_ps(a, b);
    let t0 = _mm_add_ps(_mm256_castps256_ps128(x0), _mm256_extractf128_ps(x0, 1));
    let t1 = _mm_hadd_ps(t0, t0);
    _mm_cvtss_f32(_mm_hadd_ps(t1, t1))
}

macro_rules! fma_main_loop {
    ($w:ident, $a:ident, $np:ident, $load:ident) => {{
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i < $np {
            for (u, accu) in acc.iter_mut().enumerate() {
                *accu = _mm256_fmadd_ps($load($w, i + 8 * u), $load($a, i + 8 * u), *accu);
            }
            i += 32;
        }
        reduce4(acc)
    }};
}

/// llama.cpp's AVX2 `ggml_vec_dot_f32` (see `crate::float`).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_f32(w: &[u8], a: &[u8]) -> f32 {
    let n = w.len() / 4;
    let np = n & !31;
    // SAFETY: every load is bounds-checked inside the loader.
    let s = unsafe { fma_main_loop!(w, a, np, ld_f32) };
    crate::float::tail_f32(w, a, np, n, s)
}

/// llama.cpp's AVX2 `ggml_vec_dot_f16` (see `crate::float`).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_f16(w: &[u8], a: &[u8]) -> f32 {
    let n = w.len() / 2;
    let np = n & !31;
    // SAFETY: every load is bounds-checked inside the loader.
    let s = unsafe { fma_main_loop!(w, a, np, ld_f16) } as f64;
    crate::float::tail_f16(w, a, np, n, s) as f32
}

/// llama.cpp's AVX2 `ggml_vec_dot_bf16` (see `crate::float`).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_bf16(w: &[u8], a: &[u8]) -> f32 {
    let n = w.len() / 2;
    let mut c = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load is bounds-checked inside the loader.
    unsafe {
        while i + 32 <= n {
            for (u, cu) in c.iter_mut().enumerate() {
                *cu = _mm256_add_ps(
                    _mm256_mul_ps(ld_bf16(w, i + 8 * u), ld_bf16(a, i + 8 * u)),
                    *cu,
                );
            }
            i += 32;
        }
    }
    let c1 = _mm256_add_ps(_mm256_add_ps(c[0], c[2]), _mm256_add_ps(c[1], c[3]));
    let s = hsum_f32_8(c1) as f64;
    crate::float::tail_bf16(w, a, i, n, s) as f32
}
