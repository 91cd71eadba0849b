//! AVX2 dot products for the K-quants (formats: see `crate::k_quants`).
//!
//! Each follows the lane structure and float op order of llama.cpp's AVX2
//! kernels (`ggml_vec_dot_q*_K_q8_K` in `ggml/src/ggml-cpu/arch/x86/quants.c`):
//! per super-block an 8 x i32 vector of exact integer partial sums, then
//! `acc = fma(d, (f32)sums, acc)`, `hsum_float_8` at the end. The scalar
//! reference emulates the same lanes, so results are bit-identical.

use super::f16_at;
use super::legacy::{f16x2, ld32};
use super::{hsum_f32_8, load16, load32};
use crate::block::QuantBlock;
use crate::k_quants::{
    q2_k::BlockQ2K, q3_k::BlockQ3K, q3k_scales, q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K,
    q8k_d, scales_mins_k4, Q8_K_BSUMS, Q8_K_BYTES,
};
use crate::matmul::Tile;
use crate::panel_cache::Panels;
use std::arch::x86_64::*;

/// Two i16 scales broadcast to the two 128-bit halves (elements 0..16 / 16..32).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn scale_pair(lo: i16, hi: i16) -> __m256i {
    _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo))
}

/// The 16 i16 `bsums` of a Q8_K block.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn bsums(y: &[u8]) -> __m256i {
    // SAFETY: bounds-checked load of the 32 bsums bytes.
    unsafe { load32(&y[Q8_K_BSUMS..Q8_K_BSUMS + 32]) }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_q2_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m3 = _mm256_set1_epi8(3);
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w
            .chunks_exact(BlockQ2K::BYTES)
            .zip(a.chunks_exact(Q8_K_BYTES))
        {
            let d = q2k_block_start(x, y, &mut acc);
            let sc = &x[0..16];
            let mut sumi = _mm256_setzero_si256();
            for n in 0..2 {
                let q2 = load32(&x[16 + n * 32..48 + n * 32]);
                for j in 0..4 {
                    let v =
                        _mm256_and_si256(_mm256_srl_epi16(q2, _mm_cvtsi32_si128(2 * j as i32)), m3);
                    let off = 4 + n * 128 + j * 32;
                    let p = _mm256_maddubs_epi16(v, load32(&y[off..off + 32]));
                    let s = scale_pair(
                        (sc[n * 8 + j * 2] & 0xF) as i16,
                        (sc[n * 8 + j * 2 + 1] & 0xF) as i16,
                    );
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_f32_8(acc)
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_q3_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: all loads go through bounds-checked helpers on block sub-slices.
    unsafe {
        let m3 = _mm256_set1_epi8(3);
        let one = _mm256_set1_epi8(1);
        let mut acc = _mm256_setzero_ps();
        for (x, y) in w
            .chunks_exact(BlockQ3K::BYTES)
            .zip(a.chunks_exact(Q8_K_BYTES))
        {
            let d = q8k_d(y) * f16_at(x, 108);
            let scales = q3k_scales(&x[96..108]);
            let hm = load32(&x[0..32]);
            let mut sumi = _mm256_setzero_si256();
            for n in 0..2 {
                let q3 = load32(&x[32 + n * 32..64 + n * 32]);
                for j in 0..4 {
                    let lo =
                        _mm256_and_si256(_mm256_srl_epi16(q3, _mm_cvtsi32_si128(2 * j as i32)), m3);
                    // 4 where the high bit is clear, else 0
                    let h = _mm256_and_si256(
                        _mm256_srl_epi16(hm, _mm_cvtsi32_si128((n * 4 + j) as i32)),
                        one,
                    );
                    let h4 = _mm256_slli_epi16(_mm256_xor_si256(h, one), 2);
                    let off = 4 + n * 128 + j * 32;
                    let qy = load32(&y[off..off + 32]);
                    let p = _mm256_sub_epi16(
                        _mm256_maddubs_epi16(lo, qy),
                        _mm256_maddubs_epi16(h4, qy),
                    );
                    let g = n * 8 + j * 2;
                    let s = scale_pair(scales[g] as i16, scales[g + 1] as i16);
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_f32_8(acc)
    }
}

/// The 8 mins of a Q4_K/Q5_K block dotted with the Q8_K block sums, as
/// llama.cpp's 4 lanes: lane i = m[2i]*(b[4i]+b[4i+1]) + m[2i+1]*(b[4i+2]+b[4i+3]).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn mins_prod(m: &[u8; 8], y: &[u8]) -> __m128i {
    // SAFETY: AVX2 (caller); a bounds-checked load.
    let q8sums = unsafe { bsums(y) };
    let q8s = _mm_hadd_epi16(
        _mm256_castsi256_si128(q8sums),
        _mm256_extracti128_si256(q8sums, 1),
    );
    // SAFETY: reading 8 bytes from an 8-byte array.
    let mins = _mm_cvtepu8_epi16(unsafe { _mm_loadl_epi64(m.as_ptr() as *const __m128i) });
    _mm_madd_epi16(mins, q8s)
}

/// Q4_K/Q5_K's 8 6-bit scales and 8 mins from the 12 `scales` bytes at `p`
/// (llama.cpp's `utmp`/`kmask` shuffle; same values as `scales_mins_k4`).
#[inline(always)]
pub(crate) unsafe fn scales_mins_k4_fast(p: *const u8) -> ([u8; 8], [u8; 8]) {
    const KMASK1: u32 = 0x3f3f_3f3f;
    const KMASK2: u32 = 0x0f0f_0f0f;
    const KMASK3: u32 = 0x0303_0303;
    // SAFETY: caller guarantees 12 readable bytes at `p`.
    let (u0, u1, u2) = unsafe {
        (
            std::ptr::read_unaligned(p as *const u32),
            std::ptr::read_unaligned(p.add(4) as *const u32),
            std::ptr::read_unaligned(p.add(8) as *const u32),
        )
    };
    let m_hi = ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4);
    let m_lo = u1 & KMASK1;
    let s_hi = (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4);
    let s_lo = u0 & KMASK1;
    (
        ((s_lo as u64) | ((s_hi as u64) << 32)).to_le_bytes(),
        ((m_lo as u64) | ((m_hi as u64) << 32)).to_le_bytes(),
    )
}

/// Software prefetch of the weight block `PF_DIST` bytes ahead of `x`
/// (`len` bytes, one hint per cache line; hints never fault).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn prefetch_block(x: *const u8, len: usize) {
    let mut o = 0;
    while o < len {
        _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(super::legacy::PF_DIST + o) as *const i8);
        o += 64;
    }
}

/// Q4_K dot products of one weight row with `N` activation rows; each output's
/// op sequence is the `N = 1` one (llama.cpp's AVX2 kernel), whatever `N` is.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
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
            let mut sumi = [_mm256_setzero_si256(); N];
            for j in 0..4 {
                let q4 = ld32(x.add(16 + j * 32));
                let lo = _mm256_and_si256(q4, m4);
                let hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
                let slo = _mm256_set1_epi16(sc[2 * j] as i16);
                let shi = _mm256_set1_epi16(sc[2 * j + 1] as i16);
                for r in 0..N {
                    let y = ap[r].add(i * Q8_K_BYTES + 4 + j * 64);
                    let plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ld32(y)), slo);
                    let phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, ld32(y.add(32))), shi);
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(plo, phi));
                }
            }
            for r in 0..N {
                q4k_block_end(
                    ap[r].add(i * Q8_K_BYTES),
                    dx,
                    mx,
                    mins,
                    sumi[r],
                    &mut acc[r],
                    &mut acc_m[r],
                );
            }
        }
        std::array::from_fn(|r| q4k_result(acc[r], acc_m[r]))
    }
}

/// [`dot_q4_k`] of one activation row (`vec_dot`).
///
/// # Safety
/// AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_q4_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: the same features.
    unsafe { dot_q4_k::<1>(w, [a])[0] }
}

/// The end of a Q4_K super-block for one activation row (Q8_K block at `y`):
/// the mins' term (`mins` . the block sums, llama.cpp's 4 lanes) and the
/// integer sums `sumi` scaled into the accumulators. Shared with the AVX-512
/// kernel, which forms the same `sumi`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4k_block_end(
    y: *const u8,
    dx: f32,
    mx: f32,
    mins: __m128i,
    sumi: __m256i,
    acc: &mut __m256,
    acc_m: &mut __m128,
) {
    // SAFETY: caller guarantees the whole Q8_K block at `y`.
    let (yd, q8sums) = unsafe {
        (
            std::ptr::read_unaligned(y as *const f32),
            ld32(y.add(Q8_K_BSUMS)),
        )
    };
    let d = yd * dx;
    let dmin = -yd * mx;
    let q8s = _mm_hadd_epi16(
        _mm256_castsi256_si128(q8sums),
        _mm256_extracti128_si256(q8sums, 1),
    );
    let mp = _mm_madd_epi16(mins, q8s);
    *acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mp), *acc_m);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), *acc);
}

/// A Q4_K dot product from its two accumulators (llama.cpp's final sums).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4k_result(acc: __m256, acc_m: __m128) -> f32 {
    let am = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
    let am = _mm_add_ss(am, _mm_movehdup_ps(am));
    hsum_f32_8(acc) + _mm_cvtss_f32(am)
}

#[target_feature(enable = "avx2,fma,f16c")]
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
            let mut sumi = _mm256_setzero_si256();
            for j in 0..4 {
                let q4 = load32(&x[48 + j * 32..80 + j * 32]);
                let hlo =
                    _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32)), one);
                let hhi = _mm256_and_si256(
                    _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32 + 1)),
                    one,
                );
                let lo = _mm256_or_si256(_mm256_and_si256(q4, m4), _mm256_slli_epi16(hlo, 4));
                let hi = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4),
                    _mm256_slli_epi16(hhi, 4),
                );
                let off = 4 + j * 64;
                let plo = _mm256_maddubs_epi16(lo, load32(&y[off..off + 32]));
                let phi = _mm256_maddubs_epi16(hi, load32(&y[off + 32..off + 64]));
                let plo = _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j] as i16));
                let phi = _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1] as i16));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_f32_8(acc) + summs
    }
}

/// Q6_K dot products of one weight row with `N` activation rows; each output's
/// op sequence is the `N = 1` one (llama.cpp's AVX2 kernel), whatever `N` is.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
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
            let mut sumi = [_mm256_setzero_si256(); N];
            for n in 0..2 {
                let vals = q6k_vals(x, n);
                for (k, v) in vals.iter().enumerate() {
                    let g = n * 8 + k * 2;
                    let s = scale_pair((*sc.add(g) as i8) as i16, (*sc.add(g + 1) as i8) as i16);
                    for r in 0..N {
                        let y = ap[r].add(i * Q8_K_BYTES + 4 + n * 128 + k * 32);
                        let p = _mm256_maddubs_epi16(*v, ld32(y));
                        sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p, s));
                    }
                }
            }
            for r in 0..N {
                q6k_block_end(
                    ap[r].add(i * Q8_K_BYTES),
                    dx,
                    scales16,
                    sumi[r],
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

/// [`dot_q6_k`] of one activation row (`vec_dot`).
///
/// # Safety
/// AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn vec_dot_q6_k(w: &[u8], a: &[u8]) -> f32 {
    // SAFETY: the same features.
    unsafe { dot_q6_k::<1>(w, [a])[0] }
}

/// The end of a Q6_K super-block for one activation row (Q8_K block at `y`):
/// the quants are `u - 32` with `u` in 0..64, so `32 * scale * bsum` comes off
/// the integer sums lane-wise before they are scaled into `acc`. Shared with
/// the AVX-512 kernel, which forms the same `sumi`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q6k_block_end(
    y: *const u8,
    dx: f32,
    scales16: __m256i,
    sumi: __m256i,
    acc: &mut __m256,
) {
    // SAFETY: caller guarantees the whole Q8_K block at `y`.
    let (yd, bsums) = unsafe {
        (
            std::ptr::read_unaligned(y as *const f32),
            ld32(y.add(Q8_K_BSUMS)),
        )
    };
    let q8sclsub = _mm256_slli_epi32(_mm256_madd_epi16(bsums, scales16), 5);
    let s = _mm256_sub_epi32(sumi, q8sclsub);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(yd * dx), _mm256_cvtepi32_ps(s), *acc);
}

/// The 128 6-bit quants (0..64, before the `- 32`) of half `n` of the Q6_K
/// super-block at `x`, as four 32-byte chunks in llama.cpp's order. Shared with
/// the AVX-512 kernel.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q6k_vals(x: *const u8, n: usize) -> [__m256i; 4] {
    let m4 = _mm256_set1_epi8(0xF);
    let m2 = _mm256_set1_epi8(3);
    // SAFETY: caller guarantees the 210-byte block at `x`, n < 2.
    let (ql0, ql1, qh) = unsafe {
        (
            ld32(x.add(n * 64)),
            ld32(x.add(n * 64 + 32)),
            ld32(x.add(128 + n * 32)),
        )
    };
    [
        _mm256_or_si256(
            _mm256_and_si256(ql0, m4),
            _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4),
        ),
        _mm256_or_si256(
            _mm256_and_si256(ql1, m4),
            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4),
        ),
        _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4),
        ),
        _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4),
        ),
    ]
}

/// The start of a Q2_K super-block (`x`, 84 bytes) against its Q8_K block
/// `y`: the mins' term (`-d_y * dmin * Σ min * bsum`, 8 lanes) FMA'd into
/// `acc`; returns the scale `d_y * d` of the quants' sums. Shared with the
/// AVX-512 kernel.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q2k_block_start(x: &[u8], y: &[u8], acc: &mut __m256) -> f32 {
    let yd = q8k_d(y);
    // SAFETY: bounds-checked loads (16 scale bytes, the 32 bsums bytes).
    let (sc, bs) = unsafe { (load16(&x[0..16]), bsums(y)) };
    let mins = _mm256_cvtepi8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0xF)));
    let prod = _mm256_madd_epi16(mins, bs);
    let dmin = -yd * f16_at(x, 82);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), *acc);
    yd * f16_at(x, 80)
}

/// The start of a Q5_K super-block (`x`, 176 bytes) against its Q8_K block
/// `y`: the mins' term added to `summs` (llama.cpp's scalar
/// `summs += dmin * sum`, which its C compiler contracts to an FMA); returns
/// the scale `d_y * d` and the 8 sub-block scales. Shared with the AVX-512
/// kernel.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q5k_block_start(x: &[u8], y: &[u8], summs: &mut f32) -> (f32, [u8; 8]) {
    let yd = q8k_d(y);
    let dmin = -yd * f16_at(x, 2);
    let (sc, m) = scales_mins_k4(&x[4..16]);
    // SAFETY: AVX2 (caller); bounds-checked loads.
    let p = unsafe { mins_prod(&m, y) };
    let p = _mm_add_epi32(p, _mm_unpackhi_epi64(p, p));
    let p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 1));
    *summs = dmin.mul_add(_mm_cvtsi128_si32(p) as f32, *summs);
    (yd * f16_at(x, 0), sc)
}

/// For a kernel of one weight row (`wb`-byte super-blocks) x `N` activation
/// rows: the number of super-blocks, after checking every activation row holds
/// as many Q8_K blocks, and the activation rows' pointers.
#[inline(always)]
pub(crate) fn k_rows<const N: usize>(
    w: &[u8],
    wb: usize,
    a: &[&[u8]; N],
) -> (usize, [*const u8; N]) {
    let nb = w.len() / wb;
    for r in a {
        assert!(r.len() >= nb * Q8_K_BYTES, "activation row too short");
    }
    (nb, a.map(|s| s.as_ptr()))
}

/// The tile `t` of Q6_K weights (a `PanelFn` for the few-rows slot): each
/// weight super-block is unpacked once per 8 activation rows instead of once
/// per 4 ([`dot_q6_k`], whose outputs are bit-identical whatever `N` is).
///
/// # Safety
/// AVX2, FMA and F16C available; the tile's contract (see [`Tile`]).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matmul_q6_k_rows(t: &Tile<'_>, _cache: Option<&Panels>) {
    let Tile {
        w,
        rb,
        o0,
        o1,
        a0,
        stride,
        r0,
        r1,
        out,
        n_out,
        acts_id: _,
    } = *t;
    assert!(w.len() >= o1 * rb && o1 <= n_out);
    let nb = rb / BlockQ6K::BYTES;
    // SAFETY: activation rows r0..r1 hold nb super-blocks (caller).
    let row = |r: usize| unsafe { std::slice::from_raw_parts(a0.add(r * stride), nb * Q8_K_BYTES) };
    macro_rules! rows {
        ($n:literal, $r:expr) => {{
            let a: [&[u8]; $n] = std::array::from_fn(|j| row($r + j));
            for o in o0..o1 {
                let x = &w[o * rb..(o + 1) * rb];
                // SAFETY: features per the contract; lengths checked in the kernels.
                let v = unsafe { dot_q6_k::<$n>(x, a) };
                for (j, &v) in v.iter().enumerate() {
                    // SAFETY: row $r + j < r1, column o of this tile (caller).
                    unsafe { *out.add(($r + j) * n_out + o) = v };
                }
            }
        }};
    }
    let mut r = r0;
    while r < r1 {
        match r1 - r {
            n if n >= 8 => {
                rows!(8, r);
                r += 8;
            }
            n if n >= 4 => {
                rows!(4, r);
                r += 4;
            }
            _ => {
                rows!(1, r);
                r += 1;
            }
        }
    }
}
