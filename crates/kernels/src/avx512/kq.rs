//! AVX-512 (f/bw/vl) dot products for the K-quants, bit-identical to the
//! AVX2 kernels of `avx2::kq` (llama.cpp's AVX2 `ggml_vec_dot_q*_K_q8_K`).
//!
//! Within a 256-element super-block those kernels only add exact i32 lanes
//! (`sumi += madd(maddubs(q, y), scale)` per 32-element chunk) before the
//! block's one conversion and FMA. Integer addition is exact and associative,
//! so here a 512-bit vector takes two chunks at once (chunk `c` in the low
//! half, `c + 1` in the high half: their activations are 64 contiguous
//! bytes) and the halves are added at the end of the block: lane `l` gets the
//! same i32 as in the AVX2 kernel, and the float ops are the AVX2 kernel's.
//! (VNNI does not fit these formats: the per-chunk scale multiplies i16 pair
//! sums, which `vpdpbusd` does not expose; one instance serves both levels.)

use crate::avx2::hsum_f32_8;
use crate::avx2::kq::{
    k_rows, prefetch_block, q2k_block_start, q4k_block_end, q4k_result, q5k_block_start,
    q6k_block_end, q6k_vals, scales_mins_k4_fast,
};
use crate::avx2::legacy::{f16x2, ld32};
use crate::avx2::{f16_at, load32};
use crate::block::QuantBlock;
use crate::k_quants::{
    q2_k::BlockQ2K, q3_k::BlockQ3K, q3k_scales, q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K,
    q8k_d, Q8_K_BYTES,
};
use std::arch::x86_64::*;

/// i16 lanes: 128-bit lane `i` of the result is `s[i]` repeated (one scale
/// per 16 elements).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn scale4(s: [i16; 4]) -> __m512i {
    let w = s.map(|v| (v as u16 as u32 | ((v as u16 as u32) << 16)) as i32);
    _mm512_set_epi32(
        w[3], w[3], w[3], w[3], w[2], w[2], w[2], w[2], w[1], w[1], w[1], w[1], w[0], w[0], w[0],
        w[0],
    )
}

/// `[lo | hi]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn pair(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// 64 bytes at `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn ld64(p: *const u8) -> __m512i {
    // SAFETY: caller guarantees 64 readable bytes at `p`.
    unsafe { _mm512_loadu_si512(p as *const _) }
}

/// 64 bytes at the start of `s` (bounds-checked).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn load64(s: &[u8]) -> __m512i {
    assert!(s.len() >= 64);
    // SAFETY: 64 readable bytes checked above.
    unsafe { ld64(s.as_ptr()) }
}

/// `sumi + madd(maddubs(v, y), s)`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn acc_chunks(sumi: __m512i, v: __m512i, y: __m512i, s: __m512i) -> __m512i {
    _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(v, y), s))
}

/// The two halves' lanes added: the AVX2 kernel's `sumi`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn fold(v: __m512i) -> __m256i {
    _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v))
}

/// `avx2::kq::vec_dot_q2_k`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn vec_dot_q2_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m3 = _mm512_set1_epi8(3);
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w
            .chunks_exact(BlockQ2K::BYTES)
            .zip(a.chunks_exact(Q8_K_BYTES))
        {
            let d = q2k_block_start(x, y, &mut acc);
            let sc = &x[0..16];
            let mut sumi = _mm512_setzero_si512();
            for n in 0..2 {
                let q2 = _mm512_broadcast_i64x4(load32(&x[16 + n * 32..48 + n * 32]));
                for jp in 0..2 {
                    // chunks j = 2 jp (low half) and 2 jp + 1 (high half)
                    let (j0, j1) = (2 * jp as u32, 2 * jp as u32 + 1);
                    let sh = pair(
                        _mm256_set1_epi64x((2 * j0) as i64),
                        _mm256_set1_epi64x((2 * j1) as i64),
                    );
                    let v = _mm512_and_si512(_mm512_srlv_epi64(q2, sh), m3);
                    let off = 4 + n * 128 + jp * 64;
                    let g = n * 8 + jp * 4;
                    let s = scale4(std::array::from_fn(|i| (sc[g + i] & 0xF) as i16));
                    sumi = acc_chunks(sumi, v, load64(&y[off..off + 64]), s);
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(sumi)), acc);
        }
        hsum_f32_8(acc)
    }
}

/// `avx2::kq::vec_dot_q3_k`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn vec_dot_q3_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m3 = _mm512_set1_epi8(3);
        let one = _mm512_set1_epi8(1);
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w
            .chunks_exact(BlockQ3K::BYTES)
            .zip(a.chunks_exact(Q8_K_BYTES))
        {
            let d = q8k_d(y) * f16_at(x, 108);
            let scales = q3k_scales(&x[96..108]);
            let hm = _mm512_broadcast_i64x4(load32(&x[0..32]));
            let mut sumi = _mm512_setzero_si512();
            for n in 0..2 {
                let q3 = _mm512_broadcast_i64x4(load32(&x[32 + n * 32..64 + n * 32]));
                for jp in 0..2 {
                    let (j0, j1) = (2 * jp as i64, 2 * jp as i64 + 1);
                    let sh = pair(_mm256_set1_epi64x(2 * j0), _mm256_set1_epi64x(2 * j1));
                    let lo = _mm512_and_si512(_mm512_srlv_epi64(q3, sh), m3);
                    let hsh = pair(
                        _mm256_set1_epi64x(n as i64 * 4 + j0),
                        _mm256_set1_epi64x(n as i64 * 4 + j1),
                    );
                    // 4 where the high bit is clear, else 0
                    let h = _mm512_and_si512(_mm512_srlv_epi64(hm, hsh), one);
                    let h4 = _mm512_slli_epi16::<2>(_mm512_xor_si512(h, one));
                    let off = 4 + n * 128 + jp * 64;
                    let qy = load64(&y[off..off + 64]);
                    let p = _mm512_sub_epi16(
                        _mm512_maddubs_epi16(lo, qy),
                        _mm512_maddubs_epi16(h4, qy),
                    );
                    let g = n * 8 + jp * 4;
                    let s = scale4(std::array::from_fn(|i| scales[g + i] as i16));
                    sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, s));
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(sumi)), acc);
        }
        hsum_f32_8(acc)
    }
}

/// `avx2::kq::dot_q4_k`: one weight row x `N` activation rows.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn dot_q4_k<const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    const WB: usize = BlockQ4K::BYTES;
    let (nb, ap) = k_rows(w, WB, &a);
    let wp = w.as_ptr();
    // SAFETY: weight block i is bytes [WB i, WB (i+1)) of w; activation block i
    // is [292 i, 292 (i+1)) of each row (checked above).
    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let mut acc = [_mm256_setzero_ps(); N];
        let mut acc_m = [_mm_setzero_ps(); N];
        for i in 0..nb {
            let x = wp.add(i * WB);
            prefetch_block(x, WB);
            let dm = f16x2(x);
            let (dx, mx) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
            let (sc, m) = scales_mins_k4_fast(x.add(4));
            let mins = _mm_cvtepu8_epi16(_mm_loadl_epi64(m.as_ptr() as *const __m128i));
            let mut sumi = [_mm512_setzero_si512(); N];
            for j in 0..4 {
                let q4 = ld32(x.add(16 + j * 32));
                // low nibbles x activations j*64.., high nibbles x j*64+32..
                let v = pair(
                    _mm256_and_si256(q4, m4),
                    _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4),
                );
                let (slo, shi) = (sc[2 * j] as i16, sc[2 * j + 1] as i16);
                let s = scale4([slo, slo, shi, shi]);
                for r in 0..N {
                    let y = ap[r].add(i * Q8_K_BYTES + 4 + j * 64);
                    sumi[r] = acc_chunks(sumi[r], v, ld64(y), s);
                }
            }
            for r in 0..N {
                q4k_block_end(
                    ap[r].add(i * Q8_K_BYTES),
                    dx,
                    mx,
                    mins,
                    fold(sumi[r]),
                    &mut acc[r],
                    &mut acc_m[r],
                );
            }
        }
        std::array::from_fn(|r| q4k_result(acc[r], acc_m[r]))
    }
}

/// `avx2::kq::vec_dot_q5_k`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn vec_dot_q5_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let one = _mm256_set1_epi8(1);
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0.0f32;
        for (x, y) in w
            .chunks_exact(BlockQ5K::BYTES)
            .zip(a.chunks_exact(Q8_K_BYTES))
        {
            let (d, sc) = q5k_block_start(x, y, &mut summs);
            let qh = load32(&x[16..48]);
            let mut sumi = _mm512_setzero_si512();
            for j in 0..4 {
                let q4 = load32(&x[48 + j * 32..80 + j * 32]);
                let hlo =
                    _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32)), one);
                let hhi = _mm256_and_si256(
                    _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32 + 1)),
                    one,
                );
                let lo = _mm256_or_si256(_mm256_and_si256(q4, m4), _mm256_slli_epi16::<4>(hlo));
                let hi = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(q4), m4),
                    _mm256_slli_epi16::<4>(hhi),
                );
                let off = 4 + j * 64;
                let (slo, shi) = (sc[2 * j] as i16, sc[2 * j + 1] as i16);
                sumi = acc_chunks(
                    sumi,
                    pair(lo, hi),
                    load64(&y[off..off + 64]),
                    scale4([slo, slo, shi, shi]),
                );
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(sumi)), acc);
        }
        hsum_f32_8(acc) + summs
    }
}

/// `avx2::kq::dot_q6_k`: one weight row x `N` activation rows.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn dot_q6_k<const N: usize>(w: &[u8], a: [&[u8]; N]) -> [f32; N] {
    const WB: usize = BlockQ6K::BYTES;
    let (nb, ap) = k_rows(w, WB, &a);
    let wp = w.as_ptr();
    // SAFETY: weight block i is bytes [WB i, WB (i+1)) of w; activation block i
    // is [292 i, 292 (i+1)) of each row (checked above).
    unsafe {
        let mut acc = [_mm256_setzero_ps(); N];
        for i in 0..nb {
            let x = wp.add(i * WB);
            prefetch_block(x, WB);
            // d is the f16 at 208..210: read 206..210 (in bounds) and take lane 1.
            let dx = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x.add(206))));
            let sc = x.add(192);
            let scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(sc as *const __m128i));
            let mut sumi = [_mm512_setzero_si512(); N];
            for n in 0..2 {
                let vals = q6k_vals(x, n);
                for kp in 0..2 {
                    // chunks k = 2 kp (low half) and 2 kp + 1 (high half)
                    let v = pair(vals[2 * kp], vals[2 * kp + 1]);
                    let g = n * 8 + kp * 4;
                    let s = scale4(std::array::from_fn(|i| (*sc.add(g + i) as i8) as i16));
                    for r in 0..N {
                        let y = ap[r].add(i * Q8_K_BYTES + 4 + n * 128 + kp * 64);
                        sumi[r] = acc_chunks(sumi[r], v, ld64(y), s);
                    }
                }
            }
            for r in 0..N {
                q6k_block_end(
                    ap[r].add(i * Q8_K_BYTES),
                    dx,
                    scales16,
                    fold(sumi[r]),
                    &mut acc[r],
                );
            }
        }
        let mut out = [0f32; N];
        for r in 0..N {
            out[r] = hsum_f32_8(acc[r]);
        }
        out
    }
}

/// [`dot_q4_k`] of one activation row (`vec_dot`).
///
/// # Safety
/// AVX2, FMA, F16C and AVX-512 F/BW/VL available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn vec_dot_q4_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: the same features.
    unsafe { dot_q4_k::<1>(w, [a])[0] }
}

/// [`dot_q6_k`] of one activation row (`vec_dot`).
///
/// # Safety
/// AVX2, FMA, F16C and AVX-512 F/BW/VL available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn vec_dot_q6_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: the same features.
    unsafe { dot_q6_k::<1>(w, [a])[0] }
}
