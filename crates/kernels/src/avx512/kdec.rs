//! Q4_K and Q6_K dot products with AVX-512 VNNI (the decode matvec, one
//! weight row at a time), in llama.cpp's AVX2 `vec_dot` order
//! (`avx2::kq::vec_dot_q4_k` / `vec_dot_q6_k`), bit for bit; and for the K
//! one-lane order (`crate::orders`, matmul's order for these formats at this
//! level) the 8 FMA chains a row's blocks feed ([`Chains`]) and Q6_K's
//! integer steps ([`Q6Unpack`]), which `avx512::krows`'s row decoders use.
//!
//! # Why the results are those of `vec_dot`
//! Per super-block the AVX2 kernels form 8 exact i32 lanes, lane `l` being
//! `Σ_c scale_c * (x·y over bytes 4l..4l+4 of 32-element chunk c)` (Q6_K:
//! a scale per 16 elements, and minus `32 * madd(bsums, scales)` lane-wise),
//! then do their float ops on those lanes. Here `vpmaddubsw` forms the exact
//! i16 pair sums of a chunk (no saturation: at most 2 x 15 x 128 for Q4_K,
//! 2 x 63 x 128 for Q6_K) and `vpdpwssd` multiplies them by the chunk's
//! scale and adds them to i32 lanes: Q4_K one chunk per 256-bit vector, into
//! four accumulators added at the end of the block; Q6_K two consecutive
//! chunks per 512-bit vector (one per half, against 64 contiguous activation
//! bytes), the halves added at the end of the block. Every step is exact
//! integer arithmetic, so lane `l` of the block's sum is the AVX2 kernel's
//! lane `l` whatever order the chunks were added in. From there the float
//! ops are the AVX2 kernel's: `d = d_y * d_x`, `acc = fma(d, (f32)sumi,
//! acc)` in 8 lanes; Q4_K's min term `dmin = -d_y * dmin_x`, `acc_m =
//! fma(dmin, (f32)madd(mins, pair sums of bsums), acc_m)` in 4 lanes;
//! `hsum_float_8` (+ the min lanes' sum) at the end.
//!
//! # What is cheaper than `avx512::kq`
//! That kernel (one instance for both AVX-512 levels) unpacks the 6-bit
//! scales and mins with llama.cpp's scalar `utmp` shuffle and builds each
//! chunk pair's scale vector from scalars, about a third of its ~100
//! instructions per super-block. Here Q4_K's scales and mins are unpacked by
//! a few 128-bit shuffles and masks (for the next block while this one's
//! quants are summed), the scales go to a small table that `vpdpwssd` reads
//! through its broadcast operand (a load instead of a shuffle per scale
//! vector); Q6_K's scale vectors are one `vpermw` each, its 6-bit quants two
//! chunks at a time from one 64-byte load. Measured on the Zen 4 EPYC (one
//! thread, a matrix in L2): 8.1 -> 5.9 ns per Q4_K super-block, 7.4 -> 6.1
//! per Q6_K.
//!
//! Rows are walked one after another, each in address order: the decode
//! matvec streams its matrix from memory, and a version interleaving 4 rows
//! (sharing the activation loads, fewer instructions per row) streamed a
//! matrix from memory at about half the speed there (4 streams). No software
//! prefetch: the hardware prefetcher follows the one stream, and without the
//! hints (`avx2::kq`'s, 1024 or 2048 bytes ahead; 4096 no better) Qwen3-8B
//! decoded ~5 % faster at 1 and 2 threads.

use crate::avx2::hsum_f32_8;
use crate::avx2::kq::k_rows;
use crate::avx2::legacy::f16x2;
use crate::block::QuantBlock;
use crate::k_quants::{q4_k::BlockQ4K, q6_k::BlockQ6K, Q8_K_BSUMS, Q8_K_BYTES};
use std::arch::x86_64::*;

/// `acc + madd(x, s)` lane-wise in one `vpdpwssd` (the exact i32 sums of
/// two i16 products added to `acc`). Inline assembly: LLVM otherwise splits
/// the intrinsic back into `vpmaddwd` + `vpaddd` when it reassociates the
/// chain, one more instruction per 128 multiply-adds.
///
/// # Safety
/// AVX-512 F/BW/VNNI available.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn dpwssd(acc: __m512i, x: __m512i, s: __m512i) -> __m512i {
    let mut r = acc;
    // SAFETY: reached only from this file's kernels, listed at
    // `Level::Avx512Vnni` (AVX-512 VNNI detected: caller); registers only.
    unsafe {
        std::arch::asm!(
            "vpdpwssd {r}, {x}, {s}",
            r = inout(zmm_reg) r,
            x = in(zmm_reg) x,
            s = in(zmm_reg) s,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// `acc + madd(x, s)` lane-wise in one `vpdpwssd`, `s` the i16 pair at
/// byte `OFF` of `t` broadcast to every lane (the instruction's memory
/// broadcast operand: a load, where building `s` in a register takes a
/// shuffle).
///
/// # Safety
/// AVX-512 VL/VNNI available; 4 readable bytes at `t + OFF`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dpwssd_bcast<const OFF: usize>(acc: __m256i, x: __m256i, t: *const u32) -> __m256i {
    let mut r = acc;
    // SAFETY: the caller's: the features, the 4 bytes read.
    unsafe {
        std::arch::asm!(
            "vpdpwssd {r}, {x}, dword ptr [{t} + {off}]{{1to8}}",
            r = inout(ymm_reg) r,
            x = in(ymm_reg) x,
            t = in(reg) t,
            off = const OFF,
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    r
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
pub(crate) fn fold(v: __m512i) -> __m256i {
    _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v))
}

/// The K one-lane order's 8 FMA chains for one row (`crate::orders`: block
/// `b` into chain `b % 8`), fed a block at a time: each block's exact lanes
/// folded to 4 beside its 4 min lanes in one vector; every 8 blocks a
/// transposed reduction makes the 8 blocks' exact `T` and `M` and one vector
/// FMA each advances the 8 chains.
pub(crate) struct Chains<const MIN: bool> {
    /// The pending blocks' `[T lanes | M lanes]` (4 each, summing to `T`
    /// and `M`), `d_y * d_x` and `d_y * dmin_x`.
    v: [__m256i; 8],
    d: [f32; 8],
    dm: [f32; 8],
    acc: __m256,
    acc_m: __m256,
}

impl<const MIN: bool> Chains<MIN> {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) fn new() -> Self {
        Chains {
            v: [_mm256_setzero_si256(); 8],
            d: [0.0; 8],
            dm: [0.0; 8],
            acc: _mm256_setzero_ps(),
            acc_m: _mm256_setzero_ps(),
        }
    }

    /// Block `b` (`j = b % 8`; then [`Chains::flush`] after `j` 7): its 8
    /// exact lanes, its 4 min lanes, `d_y * d_x` and `d_y * dmin_x`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) fn push(&mut self, j: usize, t: __m256i, m: __m128i, d: f32, dm: f32) {
        let n = j & 7;
        let t4 = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256::<1>(t));
        self.v[n] = _mm256_set_m128i(m, t4);
        self.d[n] = d;
        if MIN {
            self.dm[n] = dm;
        }
    }

    /// The `n` (1..=8) blocks pushed since the last flush into their chains.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) fn flush(&mut self, n: usize) {
        // lanes past the pending blocks hold stale sums: masked off
        let k = ((1u32 << n.min(8)) - 1) as __mmask8;
        // SAFETY: 8 floats in each array.
        let (d, dm) = unsafe {
            (
                _mm256_loadu_ps(self.d.as_ptr()),
                _mm256_loadu_ps(self.dm.as_ptr()),
            )
        };
        let v = &self.v;
        // per 128-bit half: [x0 + x2, y0 + y2, x1 + x3, y1 + y3] of (x, y)
        let p = |x: __m256i, y: __m256i| {
            _mm256_add_epi32(_mm256_unpacklo_epi32(x, y), _mm256_unpackhi_epi32(x, y))
        };
        // per 128-bit half: the 4 sums behind (a, b)
        let q = |a: __m256i, b: __m256i| {
            _mm256_add_epi32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b))
        };
        // [T0..T4 | M0..M4], [T4..T8 | M4..M8]
        let b0 = q(p(v[0], v[1]), p(v[2], v[3]));
        let b1 = q(p(v[4], v[5]), p(v[6], v[7]));
        let t = _mm256_permute2x128_si256::<0x20>(b0, b1);
        self.acc = _mm256_mask3_fmadd_ps(d, _mm256_cvtepi32_ps(t), self.acc, k);
        if MIN {
            let m = _mm256_permute2x128_si256::<0x31>(b0, b1);
            self.acc_m = _mm256_mask3_fmadd_ps(dm, _mm256_cvtepi32_ps(m), self.acc_m, k);
        }
    }

    /// The row's result after its `nb` blocks: `sum8` of the chains (minus
    /// the min chains').
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) fn finish(mut self, nb: usize) -> f32 {
        if !nb.is_multiple_of(8) {
            self.flush(nb % 8);
        }
        if MIN {
            hsum_f32_8(self.acc) - hsum_f32_8(self.acc_m)
        } else {
            hsum_f32_8(self.acc)
        }
    }
}

/// A Q4_K block's 16 leading bytes -> bytes 0..8 its 8 scales, 8..16 its 8
/// mins (6 bits each).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) fn scales_mins(h: __m128i) -> __m128i {
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
    let lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi8(h, sh_a), sh_cnt), mask_a);
    let hi2 = _mm_and_si128(_mm_srli_epi32::<2>(_mm_shuffle_epi8(h, sh_b)), top2);
    _mm_or_si128(lo, hi2)
}

/// `avx2::kq::vec_dot_q4_k`, bit for bit (see the module comment). (The K
/// one-lane order's Q4_K row kernel is `avx512::klane`'s: 512-bit loads
/// against a re-laid activation row.)
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn vec_dot_q4_k(w: &[u8], a: &[u8]) -> f32 {
    const WB: usize = BlockQ4K::BYTES;
    let (nb, [ap]) = k_rows(w, WB, &[a]);
    let wp = w.as_ptr();
    let m4 = _mm256_set1_epi8(0xF);
    // the 8 mins (bytes 8..16 of the unpacked scales) as i16
    let sh_mins = _mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1);
    // scales 0..4 and 4..8 each twice as zero-extended i16
    let tab_lo = _mm_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1);
    let tab_hi = _mm_setr_epi8(4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1);
    let unpack = scales_mins;
    // each chunk's scale twice as i16, a dword per chunk, read by
    // `vpdpwssd`'s broadcast operand (a load, where a scale vector built in a
    // register takes a shuffle); two tables, the next block's filled while
    // this one's are read (the unpacking is off the block's dependency chain)
    let mut tab = [[0u32; 8]; 2];
    let fill = |t: &mut [u32; 8], u: __m128i| {
        // SAFETY: 32 writable bytes in `t`.
        unsafe {
            _mm_storeu_si128(t.as_mut_ptr() as *mut __m128i, _mm_shuffle_epi8(u, tab_lo));
            _mm_storeu_si128(
                t.as_mut_ptr().add(4) as *mut __m128i,
                _mm_shuffle_epi8(u, tab_hi),
            );
        }
    };
    let mut u = _mm_setzero_si128();
    if nb > 0 {
        // SAFETY: block 0 (nb > 0) holds 16 bytes.
        u = unpack(unsafe { _mm_loadu_si128(wp as *const __m128i) });
        fill(&mut tab[0], u);
    }
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for i in 0..nb {
        // SAFETY: block i < nb of the weight row (WB bytes at WB i) and of
        // the activation row (Q8_K_BYTES at Q8_K_BYTES i), checked by
        // `k_rows`, and block min(i + 1, nb - 1); `dpwssd_bcast` reads 4
        // bytes at offsets 0..32 of the 32-byte `tab[i % 2]`; the features
        // are this function's.
        unsafe {
            let x = wp.add(i * WB);
            let y = ap.add(i * Q8_K_BYTES);
            let un = unpack(_mm_loadu_si128(
                wp.add((i + 1).min(nb - 1) * WB) as *const __m128i
            ));
            fill(&mut tab[(i + 1) % 2], un);
            let dm = f16x2(x);
            let (dx, mx) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
            let dy = std::ptr::read_unaligned(y as *const f32);
            // the min term, as `q4k_block_end`
            let bs = _mm256_loadu_si256(y.add(Q8_K_BSUMS) as *const __m256i);
            let q8s = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            let mp = _mm_madd_epi16(_mm_shuffle_epi8(u, sh_mins), q8s);
            let dmin = -dy * mx;
            acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mp), acc_m);
            let t = tab[i % 2].as_ptr();
            // the quants: chunk pair j (32 bytes at 16 + 32j: low nibbles
            // chunk 2j, high nibbles 2j + 1) against the activations
            // 64j..64j + 64
            // (four chains of `vpdpwssd`, added at the end: the block's
            // latency, not its instruction count, bounded a single chain)
            let z = _mm256_setzero_si256();
            let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
            macro_rules! pair {
                ($j:literal, $lo:ident, $hi:ident) => {{
                    let q = _mm256_loadu_si256(x.add(16 + 32 * $j) as *const __m256i);
                    let lo = _mm256_and_si256(q, m4);
                    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(q), m4);
                    let y0 = _mm256_loadu_si256(y.add(4 + 64 * $j) as *const __m256i);
                    let y1 = _mm256_loadu_si256(y.add(36 + 64 * $j) as *const __m256i);
                    $lo = dpwssd_bcast::<{ 8 * $j }>($lo, _mm256_maddubs_epi16(lo, y0), t);
                    $hi = dpwssd_bcast::<{ 8 * $j + 4 }>($hi, _mm256_maddubs_epi16(hi, y1), t);
                }};
            }
            pair!(0, s0, s1);
            pair!(1, s2, s3);
            pair!(2, s0, s1);
            pair!(3, s2, s3);
            let sumi = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));
            u = un;
            let d = dy * dx;
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
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
    // SAFETY: the caller's.
    unsafe { q6_k(w, a) }
}

/// A Q6_K block's integer steps: its 6-bit quants two chunks to a vector
/// (ql's nibbles, qh's pairs of bits moved to bits 4-5) and each vector's
/// scale pair (one `vpermw` of the block's 16 scales), shared by `vec_dot`'s
/// order here and the K one-lane row decoders (`avx512::krows`).
pub(crate) struct Q6Unpack {
    m4: __m512i,
    top2: __m512i,
    shl01: __m512i,
    shr23: __m512i,
    sc_idx: [__m512i; 4],
}

impl Q6Unpack {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) fn new() -> Self {
        Q6Unpack {
            m4: _mm512_set1_epi8(0xF),
            top2: _mm512_set1_epi8(0x30),
            // the 2 high bits of chunks (4n, 4n + 1) and (4n + 2, 4n + 3) of
            // half n (bits 0..2, 2..4, 4..6, 6..8 of its qh bytes) to bits 4..6
            shl01: halves16(4, 2),
            shr23: halves16(0, 2),
            // scale vectors: 128-bit lane l of vector g gets scale 4g + l
            sc_idx: std::array::from_fn(|g| {
                let g = 4 * g as i16;
                _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(_mm256_set_m128i(
                        _mm_set1_epi16(g + 1),
                        _mm_set1_epi16(g),
                    )),
                    _mm256_set_m128i(_mm_set1_epi16(g + 3), _mm_set1_epi16(g + 2)),
                )
            }),
        }
    }

    /// The block at `x` (its 16 scales `sc16` as i16): vectors `2n` and
    /// `2n + 1` hold chunks (4n, 4n + 1) and (4n + 2, 4n + 3) of half `n`, against
    /// the activation's bytes `4 + 128 n..` and `68 + 128 n..`, with their
    /// scale vectors.
    ///
    /// # Safety
    /// The features; a whole block at `x`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) unsafe fn block(&self, x: *const u8, sc16: __m256i) -> ([__m512i; 4], [__m512i; 4]) {
        let s16 = _mm512_castsi256_si512(sc16);
        let mut v = [_mm512_setzero_si512(); 4];
        let mut s = [_mm512_setzero_si512(); 4];
        for n in 0..2 {
            // SAFETY: ql bytes 64n.. (chunks 4n, 4n + 1 in the low nibbles,
            // 4n + 2, 4n + 3 in the high), qh bytes 128 + 32n.. of the block
            // (caller).
            let (ql, qh) = unsafe {
                (
                    _mm512_loadu_si512(x.add(64 * n) as *const _),
                    _mm512_broadcast_i64x4(_mm256_loadu_si256(
                        x.add(128 + 32 * n) as *const __m256i
                    )),
                )
            };
            let h01 = _mm512_and_si512(_mm512_sllv_epi16(qh, self.shl01), self.top2);
            let h23 = _mm512_and_si512(_mm512_srlv_epi16(qh, self.shr23), self.top2);
            v[2 * n] = _mm512_or_si512(_mm512_and_si512(ql, self.m4), h01);
            v[2 * n + 1] =
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql), self.m4), h23);
            s[2 * n] = _mm512_permutexvar_epi16(self.sc_idx[2 * n], s16);
            s[2 * n + 1] = _mm512_permutexvar_epi16(self.sc_idx[2 * n + 1], s16);
        }
        (v, s)
    }

    /// The block's 8 exact lanes against the activation block at `y`
    /// (`v`, `s` and `sc16` as for [`Self::block`]): `vpmaddubsw` against
    /// its bytes, `vpdpwssd` by the scales, the halves folded, minus `32 sc
    /// bsum` lane-wise (the quants are `u - 32`, as `q6k_block_end`).
    ///
    /// # Safety
    /// The features; a whole Q8_K block at `y`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(crate) unsafe fn lanes(
        v: &[__m512i; 4],
        s: &[__m512i; 4],
        sc16: __m256i,
        y: *const u8,
    ) -> __m256i {
        let mut sumi = _mm512_setzero_si512();
        // SAFETY: the block's bytes (caller).
        unsafe {
            for n in 0..2 {
                let y01 = _mm512_loadu_si512(y.add(4 + 128 * n) as *const _);
                let y23 = _mm512_loadu_si512(y.add(68 + 128 * n) as *const _);
                sumi = dpwssd(sumi, _mm512_maddubs_epi16(v[2 * n], y01), s[2 * n]);
                sumi = dpwssd(sumi, _mm512_maddubs_epi16(v[2 * n + 1], y23), s[2 * n + 1]);
            }
            let bs = _mm256_loadu_si256(y.add(Q8_K_BSUMS) as *const __m256i);
            let q8sclsub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(bs, sc16));
            _mm256_sub_epi32(fold(sumi), q8sclsub)
        }
    }
}

/// Q6_K row `w` against Q8_K row `a` in `vec_dot`'s order, bit for bit.
/// (The K one-lane order's Q6_K rows are `avx512::krows`'s, on the same
/// integer steps, [`Q6Unpack`].)
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q6_k(w: &[u8], a: &[u8]) -> f32 {
    const WB: usize = BlockQ6K::BYTES;
    let (nb, [ap]) = k_rows(w, WB, &[a]);
    let wp = w.as_ptr();
    let k = Q6Unpack::new();
    let mut acc = _mm256_setzero_ps();
    for i in 0..nb {
        // SAFETY: block i < nb of the weight row (WB bytes at WB i) and of
        // the activation row (Q8_K_BYTES at Q8_K_BYTES i), checked by
        // `k_rows`.
        unsafe {
            let x = wp.add(i * WB);
            let y = ap.add(i * Q8_K_BYTES);
            super::prefetch_ahead(x, WB);
            // d is the f16 at 208..210: read 206..210 (in bounds), lane 1
            let dx = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x.add(206))));
            let dy = std::ptr::read_unaligned(y as *const f32);
            let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(x.add(192) as *const __m128i));
            let (v, s) = k.block(x, sc16);
            let s = Q6Unpack::lanes(&v, &s, sc16, y);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * dx), _mm256_cvtepi32_ps(s), acc);
        }
    }
    hsum_f32_8(acc)
}
