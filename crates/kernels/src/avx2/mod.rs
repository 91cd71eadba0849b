//! AVX2 + FMA + F16C kernels. Every function here is only reachable through
//! [`dot_fn`], which the crate calls only after `use_avx2()` confirmed these CPU
//! features at runtime (`is_x86_feature_detected!`); nothing is compiled with
//! `target-cpu=native`.
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

pub(crate) mod act;
pub(crate) mod attn;
mod float;
pub(crate) mod kpanel;
pub(crate) mod kq;
pub(crate) mod legacy;
pub(crate) mod one_lane;
pub(crate) mod panel;
mod q8rows;
pub(crate) mod quant;
pub(crate) mod two_lane;

use crate::{DotFn, Tiles};
use gguf::GgmlType;
use std::arch::x86_64::*;

/// Wrap an `unsafe` `#[target_feature]` kernel as a plain `DotFn`.
macro_rules! dispatchable {
    ($name:ident => $imp:path) => {
        fn $name(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: these wrappers are only handed out by `dot_fn`, which is only
            // called when `use_avx2()` saw avx2, fma and f16c at runtime.
            unsafe { $imp(w, a) }
        }
    };
}

/// Wrap a kernel generic over `M` weight rows x `N` activation rows as the
/// tile shapes matmul uses (same op order per output, see `legacy`).
macro_rules! dispatchable_mn {
    ($ty:ident => $($imp:ident)::+) => {
        mod $ty {
            use super::*;
            pub(super) fn d11(w: &[u8], a: &[u8]) -> f32 {
                // SAFETY: only handed out after the runtime feature check.
                unsafe { $($imp)::+::<1, 1>([w], [a])[0][0] }
            }
            pub(super) fn d21(w: [&[u8]; 2], a: &[u8]) -> [f32; 2] {
                // SAFETY: only handed out after the runtime feature check.
                let o = unsafe { $($imp)::+::<2, 1>(w, [a]) };
                [o[0][0], o[1][0]]
            }
            pub(super) fn d14(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
                // SAFETY: only handed out after the runtime feature check.
                unsafe { $($imp)::+::<1, 4>([w], a)[0] }
            }
            #[allow(dead_code)] // not every format uses the 2x4 tile
            pub(super) fn d24(w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
                // SAFETY: only handed out after the runtime feature check.
                unsafe { $($imp)::+::<2, 4>(w, a) }
            }
        }
    };
}

/// Same for kernels generic over `N` activation rows only (one weight row).
macro_rules! dispatchable_n {
    ($ty:ident => $($imp:ident)::+) => {
        mod $ty {
            use super::*;
            pub(super) fn d11(w: &[u8], a: &[u8]) -> f32 {
                // SAFETY: only handed out after the runtime feature check.
                unsafe { $($imp)::+::<1>(w, [a])[0] }
            }
            pub(super) fn d14(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
                // SAFETY: only handed out after the runtime feature check.
                unsafe { $($imp)::+::<4>(w, a) }
            }
        }
    };
}

dispatchable_mn!(k_q4_0 => legacy::dot_q4_0);
dispatchable_mn!(k_q4_1 => legacy::dot_q4_1);
dispatchable_mn!(k_q5_0 => legacy::dot_q5_0);
dispatchable_mn!(k_q5_1 => legacy::dot_q5_1);
dispatchable_mn!(k_q8_0 => legacy::dot_q8_0);
dispatchable_n!(k_q4_k => kq::dot_q4_k);
dispatchable_n!(k_q6_k => kq::dot_q6_k);
dispatchable!(dot_q2_k => kq::vec_dot_q2_k);
dispatchable!(dot_q3_k => kq::vec_dot_q3_k);
dispatchable!(dot_q5_k => kq::vec_dot_q5_k);
dispatchable!(dot_f32 => float::vec_dot_f32);
dispatchable!(dot_f16 => float::vec_dot_f16);
dispatchable!(dot_bf16 => float::vec_dot_bf16);

/// AVX2 dot product for `ty`, if there is one. Callers must have checked the
/// CPU features (see module docs).
pub(crate) fn dot_fn(ty: GgmlType) -> Option<DotFn> {
    use GgmlType::*;
    Some(match ty {
        Q4_0 => k_q4_0::d11,
        Q4_1 => k_q4_1::d11,
        Q5_0 => k_q5_0::d11,
        Q5_1 => k_q5_1::d11,
        Q8_0 => k_q8_0::d11,
        Q2_K => dot_q2_k,
        Q3_K => dot_q3_k,
        Q4_K => k_q4_k::d11,
        Q5_K => dot_q5_k,
        Q6_K => k_q6_k::d11,
        F32 => dot_f32,
        F16 => dot_f16,
        BF16 => dot_bf16,
        _ => return None,
    })
}

/// One-lane (Q4_0, Q5_0, Q8_0) and two-lane (Q4_1, Q5_1) 4x1 kernels (see
/// `crate::lanes2`), after the runtime feature check.
macro_rules! rows4_fn {
    ($name:ident, $m:ident, $k:literal, $wb:expr, $ab:expr) => {
        fn $name(w: [&[u8]; 4], a: &[u8]) -> [f32; 4] {
            let nb = w[0].len() / $wb;
            assert!(
                w.iter().all(|r| r.len() >= nb * $wb) && a.len() >= nb * $ab,
                "row too short"
            );
            // SAFETY: only handed out by `tiles` after `use_avx2()` saw avx2, fma
            // and f16c at runtime; nb blocks checked in every row.
            unsafe {
                if legacy::PREFETCH.load(std::sync::atomic::Ordering::Relaxed) {
                    $m::rows4::<$k, true>(w.map(|r| r.as_ptr()), nb, a.as_ptr())
                } else {
                    $m::rows4::<$k, false>(w.map(|r| r.as_ptr()), nb, a.as_ptr())
                }
            }
        }
    };
}
rows4_fn!(rows4_q4_0, one_lane, 0, 18, 34);
rows4_fn!(rows4_q4_1, two_lane, 1, 20, 36);
rows4_fn!(rows4_q5_0, one_lane, 2, 22, 34);
rows4_fn!(rows4_q5_1, two_lane, 3, 24, 36);
rows4_fn!(rows4_q8_0, one_lane, 4, 34, 34);

/// The panel matmul for `ty` (see `panel`), if there is one.
pub(crate) fn panel_fn(ty: GgmlType, two_lane: bool) -> Option<crate::PanelFn> {
    if kpanel::has_kpanel(ty) {
        return Some(kpanel::matmul_kpanel);
    }
    match (panel::has_panel(ty), two_lane) {
        (false, _) => None,
        (true, true) => Some(panel::matmul_panel::<true, 0>),
        (true, false) => Some(panel::matmul_panel::<false, 0>),
    }
}

pub(crate) fn legacy_prefetch(on: bool) {
    legacy::PREFETCH.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The AVX2 tile kernels for `ty` (each output bit-identical to `dot_fn(ty)`).
pub(crate) fn tiles(ty: GgmlType, two_lane: bool) -> Tiles {
    macro_rules! mn {
        ($t:ident) => {
            Tiles {
                d21: Some($t::d21),
                d14: Some($t::d14),
                d24: Some($t::d24),
                panel: panel_fn(ty, two_lane),
                rows4: None,
                few: None,
                panel8: false,
            }
        };
    }
    // Q4_1/Q5_1 carry a second accumulator per output (the min term): a 2x4
    // tile runs out of registers and is slower than 1x4 (measured).
    macro_rules! mn_no24 {
        ($t:ident) => {
            Tiles {
                d21: Some($t::d21),
                d14: Some($t::d14),
                d24: None,
                panel: panel_fn(ty, two_lane),
                rows4: None,
                few: None,
                panel8: false,
            }
        };
    }
    macro_rules! n {
        ($t:ident) => {
            Tiles {
                d21: None,
                d14: Some($t::d14),
                d24: None,
                panel: panel_fn(ty, two_lane),
                rows4: None,
                few: None,
                panel8: false,
            }
        };
    }
    use GgmlType::*;
    let two = |r: crate::Rows4Fn| Tiles {
        panel: panel_fn(ty, two_lane),
        rows4: Some(r),
        ..Tiles::default()
    };
    // Q4_0/Q5_0/Q8_0: the one-lane order's panels of 8 rows
    let one = |r: crate::Rows4Fn| Tiles {
        panel: Some(one_lane::matmul_tile as crate::PanelFn),
        rows4: Some(r),
        panel8: true,
        ..Tiles::default()
    };
    match ty {
        Q4_0 if two_lane => one(rows4_q4_0),
        Q4_1 if two_lane => two(rows4_q4_1),
        Q5_0 if two_lane => one(rows4_q5_0),
        Q5_1 if two_lane => two(rows4_q5_1),
        Q8_0 if two_lane => one(rows4_q8_0),
        Q4_0 => mn!(k_q4_0),
        Q4_1 => mn_no24!(k_q4_1),
        Q5_0 => mn!(k_q5_0),
        Q5_1 => mn_no24!(k_q5_1),
        // Q8_0: the few-rows kernel beats the transposed panel at every row
        // count (bench_tiles: 63 vs 68 ns per dot at 16 rows, 63 vs 65 at 64)
        Q8_0 => Tiles {
            few: Some(q8rows::matmul_q8_0_rows),
            panel: Some(q8rows::matmul_q8_0_rows),
            ..mn!(k_q8_0)
        },
        Q4_K => n!(k_q4_k),
        Q6_K => Tiles {
            few: Some(kq::matmul_q6_k_rows),
            ..n!(k_q6_k)
        },
        _ => Tiles::default(),
    }
}

// ---- shared helpers ------------------------------------------------------

/// The f16 at byte offset `off` of `b` as f32, via F16C (exact, same value as
/// `crate::util::f16_at`, but inlined instead of `half`'s runtime dispatch).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16_at(b: &[u8], off: usize) -> f32 {
    let bits = u16::from_le_bytes([b[off], b[off + 1]]);
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
unsafe fn mul_sum_i8_pairs_i32(x: __m256i, y: __m256i) -> __m256i {
    let ax = _mm256_sign_epi8(x, x);
    let sy = _mm256_sign_epi8(y, x);
    _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))
}

/// Unsigned x signed bytes -> 8 i32 sums of 4 products each.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn mul_sum_us8_pairs_i32(ax: __m256i, sy: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn hsum_f32_8(x: __m256) -> f32 {
    let r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}
