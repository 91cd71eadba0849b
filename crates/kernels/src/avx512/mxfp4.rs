//! MXFP4 against Q8_0 activations at the AVX-512 levels, bit-identical to
//! the AVX2 kernel (`crate::avx2::mxfp4`, llama.cpp's order): AVX2 keeps
//! two accumulators, even blocks in one and odd ones in the other; here one
//! 512-bit accumulator holds both, the even block of each pair in the low
//! 256 bits and the odd one in the high, so every lane sees the same i32
//! sums, the same `d_y * e8m0/2` product and the same FMA chain. The halves
//! are added and reduced as AVX2 does; an odd last block is AVX2's tail.
//! [`dot`] runs several activation rows per weight row, each so.
//! (llama.cpp has no AVX-512 MXFP4 kernel; its AVX2 one runs there.)

use crate::avx2::mxfp4::{last_block, values};
use crate::avx2::{f16_at, hsum_f32_8, load32};
use crate::block::QuantBlock;
use crate::mxfp4::{e8m0_half, BlockMXFP4, KVALUES};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;

/// One MXFP4 weight row dotted with `N` Q8_0 activation rows at once (each
/// pair of blocks decoded once for all of them); output `r` is bit-identical
/// to [`vec_dot`] of row `r` alone.
///
/// # Safety
/// AVX2, FMA, F16C, AVX-512F, AVX-512BW and AVX-512VL available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn dot<const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    let nb = w.len() / BlockMXFP4::BYTES;
    for y in &a {
        assert!(y.len() >= nb * Q8_0_BYTES, "activation row too short");
    }
    // SAFETY: KVALUES is 16 bytes; loadu has no alignment requirement.
    let table = unsafe { _mm_loadu_si128(KVALUES.as_ptr() as *const __m128i) };
    let wb = |i: usize| &w[i * BlockMXFP4::BYTES..];
    let ab = |r: usize, i: usize| &a[r][i * Q8_0_BYTES..];
    let ones = _mm512_set1_epi16(1);
    let mut acc = [_mm512_setzero_ps(); N];
    let mut i = 0;
    while i + 1 < nb {
        let (x0, x1) = (wb(i), wb(i + 1));
        let x =
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(values(table, x0)), values(table, x1));
        // the sign trick: |x| unsigned, y with x's sign (y is in [-127, 127])
        let (ax, neg) = (_mm512_abs_epi8(x), _mm512_movepi8_mask(x));
        let (e0, e1) = (e8m0_half(x0[0]), e8m0_half(x1[0]));
        for r in 0..N {
            let (y0, y1) = (ab(r, i), ab(r, i + 1));
            // SAFETY: each activation block holds 2 + 32 bytes (checked above).
            let y = unsafe {
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(load32(&y0[2..])), load32(&y1[2..]))
            };
            let sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
            let p = _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sy), ones);
            let d = _mm512_mask_blend_ps(
                0xFF00,
                _mm512_set1_ps(f16_at(y0, 0) * e0),
                _mm512_set1_ps(f16_at(y1, 0) * e1),
            );
            acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc[r]);
        }
        i += 2;
    }
    std::array::from_fn(|r| {
        let lo = _mm512_castps512_ps256(acc[r]);
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[r])));
        let out = hsum_f32_8(_mm256_add_ps(lo, hi));
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
/// AVX2, FMA, F16C, AVX-512F, AVX-512BW and AVX-512VL available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: the same features.
    unsafe { dot::<1>(w, [a])[0] }
}

/// [`dot`] of 4 activation rows (matmul's batched rows).
///
/// # Safety
/// AVX2, FMA, F16C, AVX-512F, AVX-512BW and AVX-512VL available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn dot_1x4(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
    // SAFETY: the same features.
    unsafe { dot::<4>(w, a) }
}
