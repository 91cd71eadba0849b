//! AVX2 dot products for F32, F16 (F16C conversion) and BF16 rows: four 8-lane
//! FMA accumulators, scalar tail. Matches the scalar reference to rounding.

use super::hsum_f32_8;
use crate::util::{bf16_to_f32, f16_at, f32_at};
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

macro_rules! float_dot {
    ($name:ident, $esize:expr, $load:ident, $scalar:expr) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(super) unsafe fn $name(w: &[u8], a: &[u8]) -> f32 {
            let n = (w.len() / $esize).min(a.len() / $esize);
            // SAFETY: every load is bounds-checked inside the loader.
            unsafe {
                let mut acc = [_mm256_setzero_ps(); 4];
                let mut i = 0;
                while i + 32 <= n {
                    for (u, accu) in acc.iter_mut().enumerate() {
                        *accu = _mm256_fmadd_ps($load(w, i + 8 * u), $load(a, i + 8 * u), *accu);
                    }
                    i += 32;
                }
                while i + 8 <= n {
                    acc[0] = _mm256_fmadd_ps($load(w, i), $load(a, i), acc[0]);
                    i += 8;
                }
                let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
                let mut s = hsum_f32_8(sum);
                let get = $scalar;
                while i < n {
                    s += get(w, i) * get(a, i);
                    i += 1;
                }
                s
            }
        }
    };
}

float_dot!(vec_dot_f32, 4, ld_f32, |s: &[u8], i: usize| f32_at(s, 4 * i));
float_dot!(vec_dot_f16, 2, ld_f16, |s: &[u8], i: usize| f16_at(s, 2 * i));
float_dot!(vec_dot_bf16, 2, ld_bf16, |s: &[u8], i: usize| bf16_to_f32(u16::from_le_bytes([s[2 * i], s[2 * i + 1]])));
