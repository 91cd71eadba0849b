//! MXFP4 against Q8_0 activations at the AVX-512 levels, bit-identical to
//! the AVX2 kernel (`crate::avx2::mxfp4`, llama.cpp's order): AVX2 keeps
//! two accumulators, even blocks in one and odd ones in the other; here one
//! 512-bit accumulator holds both, the even block of each pair in the low
//! 256 bits and the odd one in the high, so every lane sees the same i32
//! sums, the same `d_y * e8m0/2` product and the same FMA chain. The halves
//! are added and reduced as AVX2 does; an odd last block is AVX2's tail.
//! [`dot`] runs several activation rows per weight row, each so. Blocks are
//! read through raw pointers (one length check per row), both blocks' nibbles
//! come from one 512-bit shift and table lookup, and the E8M0 half-scales
//! from a table: 9.4 → 11.5 GB/s per core on this machine (the same bits).
//! (llama.cpp has no AVX-512 MXFP4 kernel; its AVX2 one runs there.)

use crate::avx2::mxfp4::last_block;
use crate::avx2::{f16_ptr, hsum_f32_8};
use crate::block::QuantBlock;
use crate::mxfp4::{e8m0_half, BlockMXFP4, KVALUES};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;

/// [`e8m0_half`] of every byte (a load per block instead of a branch and
/// shifts: the same values).
static E8M0_HALF: [f32; 256] = {
    let mut t = [0f32; 256];
    let mut e = 0;
    while e < 256 {
        t[e] = e8m0_half(e as u8);
        e += 1;
    }
    t
};

/// The nibbles of the 16 bytes at `p0` and of those at `p1` (two blocks'
/// codes), one per byte in element order: 128-bit lanes [low nibbles of `p0`,
/// high of `p0`, low of `p1`, high of `p1`] — each block's 32 elements in a
/// 256-bit half, as `avx2::legacy::nibbles` gives one.
///
/// # Safety
/// AVX-512 F/BW/VL available; 16 readable bytes at `p0` and at `p1`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn nibbles2(p0: *const u8, p1: *const u8) -> __m512i {
    // SAFETY: 16 readable bytes at each (caller).
    let q = unsafe {
        _mm256_inserti128_si256::<1>(
            _mm256_castsi128_si256(_mm_loadu_si128(p0 as *const __m128i)),
            _mm_loadu_si128(p1 as *const __m128i),
        )
    };
    // each 16 bytes twice, the second copy shifted down a nibble
    let q = _mm512_permutexvar_epi64(
        _mm512_set_epi64(3, 2, 3, 2, 1, 0, 1, 0),
        _mm512_castsi256_si512(q),
    );
    _mm512_and_si512(
        _mm512_srlv_epi64(q, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)),
        _mm512_set1_epi8(0x0F),
    )
}

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
    let table4 = _mm512_broadcast_i32x4(table);
    let ones = _mm512_set1_epi16(1);
    // [d0 x 8 | d1 x 8] from the low two lanes
    let halves = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    let (wp, ap) = (w.as_ptr(), a.map(|y| y.as_ptr()));
    let mut acc = [_mm512_setzero_ps(); N];
    let mut i = 0;
    while i + 1 < nb {
        // SAFETY: blocks i and i + 1 < nb of the weight row (17 bytes each)
        // and of every activation row (34 bytes each, checked above).
        unsafe {
            let x0 = wp.add(i * BlockMXFP4::BYTES);
            let x1 = x0.add(BlockMXFP4::BYTES);
            // both blocks' nibbles, then their values
            let x = _mm512_shuffle_epi8(table4, nibbles2(x0.add(1), x1.add(1)));
            // the sign trick: |x| unsigned, y with x's sign (y is in [-127, 127])
            let (ax, neg) = (_mm512_abs_epi8(x), _mm512_movepi8_mask(x));
            let (e0, e1) = (E8M0_HALF[*x0 as usize], E8M0_HALF[*x1 as usize]);
            for r in 0..N {
                let (y0, y1) = (ap[r].add(i * Q8_0_BYTES), ap[r].add((i + 1) * Q8_0_BYTES));
                let y = _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(_mm256_loadu_si256(y0.add(2) as *const __m256i)),
                    _mm256_loadu_si256(y1.add(2) as *const __m256i),
                );
                let sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
                let p = _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sy), ones);
                let d01 = _mm_set_ps(0.0, 0.0, f16_ptr(y1) * e1, f16_ptr(y0) * e0);
                let d = _mm512_permutexvar_ps(halves, _mm512_castps128_ps512(d01));
                acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc[r]);
            }
        }
        i += 2;
    }
    let wb = |i: usize| &w[i * BlockMXFP4::BYTES..];
    let ab = |r: usize, i: usize| &a[r][i * Q8_0_BYTES..];
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
