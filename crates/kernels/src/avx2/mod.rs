//! AVX2 + FMA + F16C kernels. Every function here is only reachable through
//! `crate::formats`, whose AVX2 (and AVX-512) kernel sets the crate uses only
//! after `crate::simd` confirmed these CPU features at runtime
//! (`is_x86_feature_detected!`); nothing is compiled with `target-cpu=native`.
//!
//! Approach after llama.cpp `ggml/src/ggml-cpu/arch/x86/quants.c`: widen packed
//! quants to one byte per element, multiply with the 8-bit activations via
//! `_mm256_maddubs_epi16` (unsigned x signed; signed x signed through the sign
//! trick), widen pairs with `_mm256_madd_epi16`, giving 8 lanes of exact i32
//! partial sums per block; then `acc = fma(d, (f32)lanes, acc)` and llama.cpp's
//! `hsum_float_8`. Lane contents and float op order are llama.cpp's, so the
//! quantized dot products are bit-identical to llama.cpp's AVX2 kernels (given
//! the same activations, see `ActRounding`) and to our scalar reference, which
//! emulates the lanes (`crate::block::Lanes8`). F32/F16/BF16 likewise follow
//! llama.cpp's `ggml_vec_dot_f32/f16/bf16` op for op (see `crate::float`).
//! The batched kernels of the 32-element formats use the cheaper orders of
//! `crate::orders` (`one_lane`, `two_lane` with `panel`).

pub(crate) mod act;
pub(crate) mod attn;
pub(crate) mod float;
pub(crate) mod kpanel;
pub(crate) mod kq;
pub(crate) mod legacy;
pub(crate) mod mxfp4;
pub(crate) mod one_lane;
pub(crate) mod one_lane_vnni;
pub(crate) mod panel;
pub(crate) mod quant;
pub(crate) mod two_lane;

use std::arch::x86_64::*;

// ---- shared helpers ------------------------------------------------------

/// The f16 at byte offset `off` of `b` as f32, via F16C (exact, same value as
/// `crate::util::f16_at`, but inlined instead of `half`'s runtime dispatch).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn f16_at(b: &[u8], off: usize) -> f32 {
    f16_bits(u16::from_le_bytes([b[off], b[off + 1]]))
}

/// [`f16_at`] at a raw pointer (no bounds check, for the kernels that index
/// blocks by pointer).
///
/// # Safety
/// F16C available; 2 readable bytes at `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16_ptr(p: *const u8) -> f32 {
    // SAFETY: 2 readable bytes (caller).
    f16_bits(unsafe { std::ptr::read_unaligned(p as *const u16) })
}

/// The f16 `bits` as f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn f16_bits(bits: u16) -> f32 {
    // broadcast from a general register: a `vpinsrw` load (what a plain
    // `_mm_cvtsi32_si128` of the loaded value became) merges into a register
    // LLVM picks, which was an accumulator, serializing the loop on it.
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(bits as i16)))
}

/// Load 32 bytes from the start of `s` (which must hold at least 32).
#[inline(always)]
pub(crate) unsafe fn load32(s: &[u8]) -> __m256i {
    assert!(s.len() >= 32);
    // SAFETY: 32 readable bytes checked above; loadu has no alignment requirement.
    unsafe { _mm256_loadu_si256(s.as_ptr() as *const __m256i) }
}

/// Load 16 bytes from the start of `s` (which must hold at least 16).
#[inline(always)]
pub(crate) unsafe fn load16(s: &[u8]) -> __m128i {
    assert!(s.len() >= 16);
    // SAFETY: 16 readable bytes checked above; loadu has no alignment requirement.
    unsafe { _mm_loadu_si128(s.as_ptr() as *const __m128i) }
}

/// Signed x signed bytes -> 8 i32 sums of 4 products each (sign trick: |x| is
/// unsigned, y takes x's sign). Needs y in [-127, 127].
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn mul_sum_i8_pairs_i32(x: __m256i, y: __m256i) -> __m256i {
    let ax = _mm256_sign_epi8(x, x);
    let sy = _mm256_sign_epi8(y, x);
    _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))
}

/// Unsigned x signed bytes -> 8 i32 sums of 4 products each.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn mul_sum_us8_pairs_i32(ax: __m256i, sy: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn hsum_f32_8(x: __m256) -> f32 {
    let r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}
