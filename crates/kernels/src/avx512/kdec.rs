//! Q4_K and Q6_K dot products with AVX-512 VNNI (the decode matvec, one
//! weight row at a time), in llama.cpp's AVX2 `vec_dot` order
//! (`avx2::kq::vec_dot_q4_k` / `vec_dot_q6_k`), bit for bit.
//!
//! # Why the results are those of `vec_dot`
//! Per super-block the AVX2 kernels form 8 exact i32 lanes, lane `l` being
//! `Σ_c scale_c * (x·y over bytes 4l..4l+4 of 32-element chunk c)` (Q6_K:
//! a scale per 16 elements, and minus `32 * madd(bsums, scales)` lane-wise),
//! then do their float ops on those lanes. Here a 512-bit vector holds two
//! consecutive chunks (one per 256-bit half, against 64 contiguous activation
//! bytes), `vpmaddubsw` forms the exact i16 pair sums (no saturation: at most
//! 2 x 15 x 128 for Q4_K, 2 x 63 x 128 for Q6_K) and `vpdpwssd` multiplies
//! them by the chunk's scale and adds them to i32 lanes; the halves are added
//! at the end of the block. Every step is exact integer arithmetic, so lane
//! `l` of the folded sum is the AVX2 kernel's lane `l` whatever order the
//! chunks were added in. From there the float ops are the AVX2 kernel's:
//! `d = d_y * d_x`, `acc = fma(d, (f32)sumi, acc)` in 8 lanes; Q4_K's min
//! term `dmin = -d_y * dmin_x`, `acc_m = fma(dmin, (f32)madd(mins, pair sums
//! of bsums), acc_m)` in 4 lanes; `hsum_float_8` (+ the min lanes' sum) at
//! the end.
//!
//! # What is cheaper than `avx512::kq`
//! That kernel (one instance for both AVX-512 levels) unpacks the 6-bit
//! scales and mins with llama.cpp's scalar `utmp` shuffle and builds each
//! chunk pair's scale vector from scalars, about a third of its ~100
//! instructions per super-block. Here the scales and mins are unpacked by a
//! few 128-bit shuffles and masks, each scale vector is one `vpshufb`
//! (Q4_K) or `vpermw` (Q6_K), the nibbles of a chunk pair come from one
//! broadcast load and one variable shift, and `vpdpwssd` fuses the scale
//! multiply with the add. Rows are walked one after another, each in address
//! order: the decode matvec streams its matrix from memory, and interleaving
//! 4 rows (4 streams) measured slower here than one row at a time, though
//! fewer instructions per row.

use crate::avx2::hsum_f32_8;
use crate::avx2::kq::{k_rows, prefetch_block};
use crate::avx2::legacy::f16x2;
use crate::avx512::kpanel::dpwssd;
use crate::block::QuantBlock;
use crate::k_quants::{q4_k::BlockQ4K, q6_k::BlockQ6K, Q8_K_BSUMS, Q8_K_BYTES};
use std::arch::x86_64::*;

/// A `vpshufb` control giving, as zero-extended i16, byte `a` of each
/// 128-bit lane in the low 256 bits and byte `b` in the high 256 bits.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pick16(a: u8, b: u8) -> __m512i {
    let w = |v: u8| (v as u16 | 0x8000) as i16;
    _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(_mm256_set1_epi16(w(a))),
        _mm256_set1_epi16(w(b)),
    )
}

/// `[lo | hi]` of two i16 constants.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn halves16(lo: i16, hi: i16) -> __m512i {
    _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(_mm256_set1_epi16(lo)),
        _mm256_set1_epi16(hi),
    )
}

/// The two 256-bit halves of `v` added: the AVX2 kernel's 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn fold(v: __m512i) -> __m256i {
    _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v))
}

/// `avx2::kq::vec_dot_q4_k`, bit for bit (see the module comment).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn vec_dot_q4_k(w: &[u8], a: &[u8]) -> f32 {
    const WB: usize = BlockQ4K::BYTES;
    let (nb, [ap]) = k_rows(w, WB, &[a]);
    let wp = w.as_ptr();
    let m4 = _mm512_set1_epi8(0xF);
    // low nibbles to the low half (chunk 2j), high nibbles to the high half
    // (chunk 2j + 1) of a broadcast 32-byte pair j
    const HIGH: __mmask32 = 0xFFFF_0000;
    // the 12 scale bytes b0..b11 are bytes 4..16 of the block: dwords
    // [b0..4, b8..12, b4..8, b8..12] (scales low, scales high, mins low,
    // mins high before masking), and under dwords 1 and 3 the bytes whose top
    // 2 bits are the high scales' / mins' bits 4..6 (llama.cpp's
    // `utmp`/`kmask` shuffle, vectorised)
    let sh_a = _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
    let sh_b = _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11);
    let sh_cnt = _mm_setr_epi32(0, 0, 0, 4);
    let mask_a = _mm_setr_epi32(0x3f3f_3f3f, 0x0f0f_0f0f, 0x3f3f_3f3f, 0x0f0f_0f0f);
    let top2 = _mm_set1_epi8(0x30);
    // the 8 mins (bytes 8..16 of the unpacked scales) as i16
    let sh_mins = _mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1);
    // scale vectors of chunk pairs j: chunks 2j, 2j + 1 in the halves
    let sc_ctl = [pick16(0, 1), pick16(2, 3), pick16(4, 5), pick16(6, 7)];
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for i in 0..nb {
        // SAFETY: block i < nb of the weight row (WB bytes at WB i) and of
        // the activation row (Q8_K_BYTES at Q8_K_BYTES i), checked by
        // `k_rows`; prefetch hints never fault.
        unsafe {
            let x = wp.add(i * WB);
            let y = ap.add(i * Q8_K_BYTES);
            prefetch_block(x, WB);
            let dm = f16x2(x);
            let (dx, mx) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
            let dy = std::ptr::read_unaligned(y as *const f32);
            // bytes 0..8 the scales, 8..16 the mins (6 bits each)
            let h = _mm_loadu_si128(x as *const __m128i);
            let lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi8(h, sh_a), sh_cnt), mask_a);
            let hi2 = _mm_and_si128(_mm_srli_epi32::<2>(_mm_shuffle_epi8(h, sh_b)), top2);
            let u = _mm_or_si128(lo, hi2);
            // the min term, as `q4k_block_end`
            let bs = _mm256_loadu_si256(y.add(Q8_K_BSUMS) as *const __m256i);
            let q8s = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            let mp = _mm_madd_epi16(_mm_shuffle_epi8(u, sh_mins), q8s);
            let dmin = -dy * mx;
            acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mp), acc_m);
            // the quants: chunk pair j (32 bytes at 16 + 32j) against the
            // activations 64j..64j + 64
            let uw = _mm512_broadcast_i32x4(u);
            let mut sumi = _mm512_setzero_si512();
            for (j, ctl) in sc_ctl.iter().enumerate() {
                let q = _mm512_broadcast_i64x4(_mm256_loadu_si256(
                    x.add(16 + 32 * j) as *const __m256i
                ));
                let v = _mm512_and_si512(_mm512_mask_srli_epi16::<4>(q, HIGH, q), m4);
                let yv = _mm512_loadu_si512(y.add(4 + 64 * j) as *const _);
                let s = _mm512_shuffle_epi8(uw, *ctl);
                sumi = dpwssd(sumi, _mm512_maddubs_epi16(v, yv), s);
            }
            let d = dy * dx;
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(sumi)), acc);
        }
    }
    let am = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
    let am = _mm_add_ss(am, _mm_movehdup_ps(am));
    hsum_f32_8(acc) + _mm_cvtss_f32(am)
}

/// `avx2::kq::vec_dot_q6_k`, bit for bit (see the module comment).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn vec_dot_q6_k(w: &[u8], a: &[u8]) -> f32 {
    const WB: usize = BlockQ6K::BYTES;
    let (nb, [ap]) = k_rows(w, WB, &[a]);
    let wp = w.as_ptr();
    let m4 = _mm512_set1_epi8(0xF);
    let top2 = _mm512_set1_epi8(0x30);
    // the 2 high bits of chunks (4n, 4n + 1) and (4n + 2, 4n + 3) of half n
    // (bits 0..2, 2..4, 4..6, 6..8 of its qh bytes) to bits 4..6
    let shl01 = halves16(4, 2);
    let shr23 = halves16(0, 2);
    // scale vectors: 128-bit lane l of vector g gets scale 4g + l
    let sc_idx: [__m512i; 4] = std::array::from_fn(|g| {
        let g = 4 * g as i16;
        _mm512_inserti64x4::<1>(
            _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(g + 1), _mm_set1_epi16(g))),
            _mm256_set_m128i(_mm_set1_epi16(g + 3), _mm_set1_epi16(g + 2)),
        )
    });
    let mut acc = _mm256_setzero_ps();
    for i in 0..nb {
        // SAFETY: block i < nb of the weight row (WB bytes at WB i) and of
        // the activation row (Q8_K_BYTES at Q8_K_BYTES i), checked by
        // `k_rows`; prefetch hints never fault.
        unsafe {
            let x = wp.add(i * WB);
            let y = ap.add(i * Q8_K_BYTES);
            prefetch_block(x, WB);
            // d is the f16 at 208..210: read 206..210 (in bounds), lane 1
            let dx = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x.add(206))));
            let dy = std::ptr::read_unaligned(y as *const f32);
            let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(x.add(192) as *const __m128i));
            let s16 = _mm512_castsi256_si512(sc16);
            let mut sumi = _mm512_setzero_si512();
            for n in 0..2 {
                // ql bytes 64n.. (chunks 4n, 4n + 1 in the low nibbles,
                // 4n + 2, 4n + 3 in the high), qh bytes 128 + 32n..
                let ql = _mm512_loadu_si512(x.add(64 * n) as *const _);
                let qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(
                    x.add(128 + 32 * n) as *const __m256i
                ));
                let h01 = _mm512_and_si512(_mm512_sllv_epi16(qh, shl01), top2);
                let h23 = _mm512_and_si512(_mm512_srlv_epi16(qh, shr23), top2);
                let v01 = _mm512_or_si512(_mm512_and_si512(ql, m4), h01);
                let v23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql), m4), h23);
                let y01 = _mm512_loadu_si512(y.add(4 + 128 * n) as *const _);
                let y23 = _mm512_loadu_si512(y.add(68 + 128 * n) as *const _);
                let s01 = _mm512_permutexvar_epi16(sc_idx[2 * n], s16);
                let s23 = _mm512_permutexvar_epi16(sc_idx[2 * n + 1], s16);
                sumi = dpwssd(sumi, _mm512_maddubs_epi16(v01, y01), s01);
                sumi = dpwssd(sumi, _mm512_maddubs_epi16(v23, y23), s23);
            }
            // the quants are u - 32: 32 * scale * bsum off lane-wise, as
            // `q6k_block_end`
            let bs = _mm256_loadu_si256(y.add(Q8_K_BSUMS) as *const __m256i);
            let q8sclsub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(bs, sc16));
            let s = _mm256_sub_epi32(fold(sumi), q8sclsub);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * dx), _mm256_cvtepi32_ps(s), acc);
        }
    }
    hsum_f32_8(acc)
}
