//! The 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: `crate::block::Block32`
//! and their files `crate::q4`, `crate::q5`, `crate::q8`) on AVX2: their quants
//! unpacked to one byte each ([`unpack`], [`unpack_u`], for every kernel of
//! these formats) and their dot product in llama.cpp's AVX2 `vec_dot` order
//! ([`vec_dot`]).

use super::{hsum_f32_8, mul_sum_i8_pairs_i32, mul_sum_us8_pairs_i32};
use crate::block::{Block32, Quants};
use std::arch::x86_64::*;

/// The two f16 at `p` as f32 in lanes 0 and 1 (F16C; exact). Reads 4 bytes
/// with `vmovd`, which zeroes the rest of the register: a scalar `vpinsrw`
/// load would merge into (and wait on) whatever register LLVM picks, which
/// in these loops was the accumulator, serializing every block.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16x2(p: *const u8) -> __m128 {
    // SAFETY: caller guarantees 4 readable bytes at `p`.
    let bits = unsafe { std::ptr::read_unaligned(p as *const i32) };
    _mm_cvtph_ps(_mm_cvtsi32_si128(bits))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn ld32(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 32 readable bytes at `p`.
    unsafe { _mm256_loadu_si256(p as *const __m256i) }
}

/// 16 packed bytes at `p` -> 32 nibbles: low nibbles in bytes 0..16, high in 16..32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn nibbles(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 16 readable bytes at `p`.
    let tmp = unsafe { _mm_loadu_si128(p as *const __m128i) };
    let both = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// The 32 bits at `p` spread to 32 bytes: byte j = 0xFF if bit j is set.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn bits32(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 4 readable bytes at `p`.
    let x = unsafe { std::ptr::read_unaligned(p as *const u32) };
    let shuf = _mm256_set_epi64x(
        0x0303030303030303,
        0x0202020202020202,
        0x0101010101010101,
        0,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x as i32), shuf);
    let bit_mask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    _mm256_cmpeq_epi8(_mm256_or_si256(bytes, bit_mask), _mm256_set1_epi64x(-1))
}

/// The 32 values of the `F` block at `x`, one byte each in element order:
/// signed (`stored - F::OFFSET`), or for the formats with a min unsigned.
///
/// # Safety
/// AVX2; the whole block readable at `x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn unpack<F: Block32>(x: *const u8) -> __m256i {
    // SAFETY: the block's bytes (caller).
    unsafe {
        match F::QUANTS {
            // the fifth bit clear: `nibble | 0xF0` is the byte `nibble - 16`
            Quants::Nibbles5 { qh, qs } if F::OFFSET == 16 => _mm256_or_si256(
                nibbles(x.add(qs)),
                _mm256_andnot_si256(bits32(x.add(qh)), _mm256_set1_epi8(0xF0u8 as i8)),
            ),
            _ if F::OFFSET != 0 => _mm256_sub_epi8(unpack_u::<F>(x), _mm256_set1_epi8(F::OFFSET)),
            _ => unpack_u::<F>(x),
        }
    }
}

/// The 32 quants of the `F` block at `x` as stored, one byte each in element
/// order: unsigned for the 4- and 5-bit formats (Q4_0 and Q5_0 without their
/// offset, so `vpmaddubsw` takes them as they are), Q8_0's signed bytes.
///
/// # Safety
/// AVX2; the whole block readable at `x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn unpack_u<F: Block32>(x: *const u8) -> __m256i {
    // SAFETY: the block's bytes (caller).
    unsafe {
        match F::QUANTS {
            Quants::Nibbles { qs } => nibbles(x.add(qs)),
            Quants::Nibbles5 { qh, qs } => _mm256_or_si256(
                nibbles(x.add(qs)),
                _mm256_and_si256(bits32(x.add(qh)), _mm256_set1_epi8(0x10)),
            ),
            Quants::Bytes { qs } => ld32(x.add(qs)),
            Quants::Mxfp4 { qs } => _mm256_shuffle_epi8(
                _mm256_broadcastsi128_si256(_mm_loadu_si128(
                    crate::mxfp4::KVALUES_U.as_ptr() as *const __m128i
                )),
                nibbles(x.add(qs)),
            ),
        }
    }
}

/// Software prefetch distance in bytes for a lone weight row's stream.
pub(crate) const PF_DIST: usize = 1024;

/// Weight row `w` (whole blocks of `F`) dotted with activation row `a` (Q8_0,
/// or Q8_1 for the formats with a min) in llama.cpp's AVX2 order op for op:
/// per block 8 i32 lanes of 4 products each, `acc = fma(d_x * d_y, lanes,
/// acc)`, `hsum_float_8`; plus the min's FMA chain `Σ m_x s_y`.
///
/// # Safety
/// AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot<F: Block32>(w: &[u8], a: &[u8]) -> f32 {
    let nb = w.len() / F::BYTES;
    assert!(a.len() >= nb * F::ACT_BYTES, "activation row too short");
    let (wp, ap) = (w.as_ptr(), a.as_ptr());
    let mut acc = _mm256_setzero_ps();
    let mut summs = _mm_setzero_ps();
    // SAFETY: block i of the weight row is bytes [i * wb, (i + 1) * wb) of
    // it, of the activation row [i * ab, (i + 1) * ab) (checked above); the
    // prefetch is a hint (may point past the row, never faults).
    unsafe {
        for i in 0..nb {
            let x = wp.add(i * F::BYTES);
            _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(PF_DIST) as *const i8);
            // lanes: (d, m) for Q4_1/Q5_1, (d, _) otherwise
            let xdm = f16x2(x);
            let qx = unpack::<F>(x);
            let y = ap.add(i * F::ACT_BYTES);
            // lanes: (d, s) for Q8_1, (d, _) for Q8_0
            let yds = f16x2(y);
            let qy = ld32(y.add(F::ACT_QS));
            if F::MIN {
                // llama.cpp's `summs += m * s` is contracted to an FMA by the C
                // compiler; lane 1 here is exactly that scalar FMA.
                summs = _mm_fmadd_ps(xdm, yds, summs);
            }
            // lane 0: dx * dy, the same single rounding as the scalar product
            let d = _mm256_broadcastss_ps(_mm_mul_ps(xdm, yds));
            let q = _mm256_cvtepi32_ps(if F::MIN {
                mul_sum_us8_pairs_i32(qx, qy)
            } else {
                mul_sum_i8_pairs_i32(qx, qy)
            });
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        let mut out = hsum_f32_8(acc);
        if F::MIN {
            out += _mm_cvtss_f32(_mm_movehdup_ps(summs));
        }
        out
    }
}
