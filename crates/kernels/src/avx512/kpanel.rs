//! Prefill and batched matmul for Q4_K and Q6_K with AVX-512 VNNI, in their
//! `vec_dot` order (llama.cpp's AVX2 `ggml_vec_dot_q4_K_q8_K` /
//! `q6_K`, bit for bit: see `avx2::kpanel`, whose unpacked rows (`KBlk`)
//! and regrouped activations ([`GBlk`]) this builds on).
//!
//! Weight rows go in pairs ([`PBlk`]: rows `2j`, `2j + 1` in the 256-bit
//! halves of each vector, unpacked once per tile or read from the cache), and
//! a pass takes two pairs (4 weight rows) against 4 activation rows, so each
//! activation load serves 4 outputs and each weight load 4. Each half sees
//! exactly the lanes of `avx2::kpanel::run`: per chunk pair the two
//! `vpmaddubsw` (i16 sums of the 4 products of each group, exact as there),
//! then `vpdpwssd` multiplies them by the pair's scales and adds them to the
//! i32 lanes in one instruction (`vpmaddwd` + `vpaddd` there: the same exact
//! integers). Q6_K's offset term (`32 * scale * bsum` taken off lane-wise)
//! is one more `vpdpwssd` by the scales times -32, built once per block: the
//! same exact i32 lanes. The float ops per output — `d = d_y * d_x`, the FMA
//! into 8 float lanes, Q4_K's min FMA chain in 4 lanes (`-d_y * dmin`), the
//! final sums — are those of the AVX2 pass, one product, conversion and FMA
//! serving two outputs (the min term's four).
//!
//! The tile is walked in groups of [`GROUP`] weight rows (unpacked into
//! scratch, 14 KB per row at k = 8192: 0.9 MB, in L2 with the block) by
//! blocks of activation rows sized to share L2 with it ([`act_block`]):
//! every weight pair then reads activations from L2, not L3, whatever the
//! number of rows (512-row prefill at k = 8192 holds 4.7 MB of them).

use crate::avx2::hsum_f32_8;
use crate::avx2::kpanel::{group_acts, GBlk, KPanel};
use crate::avx2::kq::scales_mins_k4_fast;
use crate::avx2::legacy::{f16x2, ld32};
use crate::k_quants::Q8_K_BYTES;
use crate::matmul::{PrepKey, Tile};
use crate::panel_cache::{CacheSpec, Panels};
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Two weight rows' super-block, unpacked side by side: the first row in the
/// low 256 bits of each vector, the second in the high.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct PBlk {
    /// The rows' `KBlk::v` (`avx2::kpanel`), paired.
    v: [__m512i; 8],
    /// The rows' `KBlk::s`, paired.
    s: [__m512i; 4],
    /// Q6_K: each row's 16 scales times -32 as i16. Q4_K: low 256 bits each
    /// row's 8 mins as i16 (128 bits each), high 256 bits each row's dmin 4
    /// times as f32.
    e: __m512i,
    /// Each row's d, 8 times.
    d: __m512,
}

/// A thread's scratch: see [`SCRATCH`].
type Scratch = (Vec<PBlk>, Vec<GBlk>, Vec<f32>, Option<PrepKey>);

thread_local! {
    /// Without a cache, the group's weight rows unpacked in pairs; the
    /// tile's activation rows regrouped and their scales, and what they were
    /// regrouped from (the thread's next tile on the same rows skips it).
    static SCRATCH: RefCell<Scratch> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new(), None)) };
}

/// `[lo | hi]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pair(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// `[v | v]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn dup(v: __m256i) -> __m512i {
    _mm512_broadcast_i64x4(v)
}

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

/// [`pair`] of `avx2::kpanel`, on both halves at once: chunks `c0`, `c1`
/// regrouped so that in each 4-byte group `L` the first result holds
/// `c0[4L..4L+2], c1[4L..4L+2]` and the second `c0[4L+2..4L+4],
/// c1[4L+2..4L+4]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn regroup(c0: __m512i, c1: __m512i) -> (__m512i, __m512i) {
    const ODD: __mmask32 = 0xAAAA_AAAA;
    (
        _mm512_mask_blend_epi16(ODD, c0, _mm512_slli_epi32::<16>(c1)),
        _mm512_mask_blend_epi16(ODD, _mm512_srli_epi32::<16>(c0), c1),
    )
}

/// 32 bytes at `a` and at `b`, as `[a | b]`.
///
/// # Safety
/// 32 readable bytes at each.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn ld_pair(a: *const u8, b: *const u8) -> __m512i {
    // SAFETY: the caller's.
    unsafe { pair(ld32(a), ld32(b)) }
}

/// Unpack rows `o`, `o + 1` of `B` (`nb` super-blocks each at `w`, `rb`
/// bytes apart) into `dst`, both rows at once in 512-bit vectors: the bytes
/// `avx2::kpanel::build` gives each row, paired (the first row in the low
/// halves), as the kernels' tests check through their results.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C; rows `o`, `o + 1` in `w`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_pair<B: KPanel>(w: &[u8], rb: usize, o: usize, nb: usize, dst: &mut [PBlk]) {
    assert!(w.len() >= (o + 2) * rb && nb * B::BYTES <= rb && dst.len() >= nb);
    let (r0, r1) = (w[o * rb..].as_ptr(), w[(o + 1) * rb..].as_ptr());
    let m4 = _mm512_set1_epi8(0xF);
    for (i, p) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: block i < nb of each row (asserted above): B::BYTES bytes.
        unsafe {
            let (x0, x1) = (r0.add(i * B::BYTES), r1.add(i * B::BYTES));
            if B::Q6 {
                // as `build_q6_k`: d is the f16 at 208..210
                let d0 = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x0.add(206))));
                let d1 = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x1.add(206))));
                p.d = _mm512_castsi512_ps(pair(
                    _mm256_castps_si256(_mm256_set1_ps(d0)),
                    _mm256_castps_si256(_mm256_set1_ps(d1)),
                ));
                let sc = |x: *const u8| {
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(x.add(192) as *const __m128i))
                };
                // |scale| <= 128: times -32 fits i16
                p.e = _mm512_mullo_epi16(pair(sc(x0), sc(x1)), _mm512_set1_epi16(-32));
                let m2 = _mm512_set1_epi8(3);
                for n in 0..2 {
                    let ql0 = ld_pair(x0.add(n * 64), x1.add(n * 64));
                    let ql1 = ld_pair(x0.add(n * 64 + 32), x1.add(n * 64 + 32));
                    let qh = ld_pair(x0.add(128 + n * 32), x1.add(128 + n * 32));
                    let hi = |sh: u32| -> __m512i {
                        let q = match sh {
                            0 => qh,
                            2 => _mm512_srli_epi16::<2>(qh),
                            4 => _mm512_srli_epi16::<4>(qh),
                            _ => _mm512_srli_epi16::<6>(qh),
                        };
                        _mm512_slli_epi16::<4>(_mm512_and_si512(q, m2))
                    };
                    let c = [
                        _mm512_or_si512(_mm512_and_si512(ql0, m4), hi(0)),
                        _mm512_or_si512(_mm512_and_si512(ql1, m4), hi(2)),
                        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql0), m4), hi(4)),
                        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql1), m4), hi(6)),
                    ];
                    for h in 0..2 {
                        let m = 2 * n + h;
                        (p.v[2 * m], p.v[2 * m + 1]) = regroup(c[2 * h], c[2 * h + 1]);
                        let t = 4 * n + 2 * h;
                        let s = |x: *const u8| {
                            let g = |i: usize| (*x.add(192 + i) as i8) as i16 as u16 as i32;
                            _mm256_set_m128i(
                                _mm_set1_epi32(g(2 * t + 1) | (g(2 * t + 3) << 16)),
                                _mm_set1_epi32(g(2 * t) | (g(2 * t + 2) << 16)),
                            )
                        };
                        p.s[m] = pair(s(x0), s(x1));
                    }
                }
            } else {
                // as `build_q4_k`
                let (dm0, dm1) = (f16x2(x0), f16x2(x1));
                p.d = _mm512_castsi512_ps(pair(
                    _mm256_castps_si256(_mm256_set1_ps(_mm_cvtss_f32(dm0))),
                    _mm256_castps_si256(_mm256_set1_ps(_mm_cvtss_f32(dm1))),
                ));
                let (sc0, mn0) = scales_mins_k4_fast(x0.add(4));
                let (sc1, mn1) = scales_mins_k4_fast(x1.add(4));
                let mins =
                    |m: &[u8; 8]| _mm_cvtepu8_epi16(_mm_loadl_epi64(m.as_ptr() as *const __m128i));
                let dmin = _mm256_set_m128(
                    _mm_set1_ps(_mm_cvtss_f32(_mm_movehdup_ps(dm1))),
                    _mm_set1_ps(_mm_cvtss_f32(_mm_movehdup_ps(dm0))),
                );
                p.e = pair(
                    _mm256_set_m128i(mins(&mn1), mins(&mn0)),
                    _mm256_castps_si256(dmin),
                );
                for j in 0..4 {
                    // chunks 2j (low nibbles) and 2j + 1 (high nibbles): pair j
                    let q4 = ld_pair(x0.add(16 + j * 32), x1.add(16 + j * 32));
                    (p.v[2 * j], p.v[2 * j + 1]) = regroup(
                        _mm512_and_si512(q4, m4),
                        _mm512_and_si512(_mm512_srli_epi16::<4>(q4), m4),
                    );
                    let s = |sc: &[u8; 8]| {
                        _mm256_set1_epi32(
                            (sc[2 * j] as u16 as i32) | ((sc[2 * j + 1] as u16 as i32) << 16),
                        )
                    };
                    p.s[j] = pair(s(&sc0), s(&sc1));
                }
            }
        }
    }
}

/// The weight pairs `pa` (rows `o`, `o + 1`) and `pb` (`o + 2`, `o + 3`),
/// `nb` super-blocks each, dotted with `R` regrouped activation rows (blocks
/// at `g[r]`, scales at `ds[r]`): result `[r][j]` is row `o + j` against
/// activation row `r`, in the float ops of `avx2::kpanel::run`.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C; `nb` blocks and scales at each
/// `g[r]`, `ds[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run4<const R: usize, B: KPanel>(
    pa: &[PBlk],
    pb: &[PBlk],
    nb: usize,
    g: [*const GBlk; R],
    ds: [*const f32; R],
) -> [[f32; 4]; R] {
    assert!(pa.len() >= nb && pb.len() >= nb);
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let mut acc_m = [_mm512_setzero_ps(); R];
    let sign = _mm512_set1_epi32(i32::MIN);
    for i in 0..nb {
        let (a, b) = (&pa[i], &pb[i]);
        // SAFETY: block i < nb at every `g[r]` and `ds[r]` (caller).
        unsafe {
            let y = g.map(|q| &*q.add(i));
            let mut sumi = [[_mm512_setzero_si512(); 2]; R];
            for m in 0..4 {
                let (a0, a1) = (a.v[2 * m], a.v[2 * m + 1]);
                let (b0, b1) = (b.v[2 * m], b.v[2 * m + 1]);
                for r in 0..R {
                    let (y0, y1) = (dup(y[r].q[2 * m]), dup(y[r].q[2 * m + 1]));
                    let xa = _mm512_add_epi16(
                        _mm512_maddubs_epi16(a0, y0),
                        _mm512_maddubs_epi16(a1, y1),
                    );
                    sumi[r][0] = dpwssd(sumi[r][0], xa, a.s[m]);
                    let xb = _mm512_add_epi16(
                        _mm512_maddubs_epi16(b0, y0),
                        _mm512_maddubs_epi16(b1, y1),
                    );
                    sumi[r][1] = dpwssd(sumi[r][1], xb, b.s[m]);
                }
            }
            // Q4_K: the 4 rows' mins (i16) and dmins (f32), row j in 128-bit
            // lane j
            let mins = _mm512_shuffle_i64x2::<0b01_00_01_00>(a.e, b.e);
            let dmins = _mm512_castsi512_ps(_mm512_shuffle_i64x2::<0b11_10_11_10>(a.e, b.e));
            for r in 0..R {
                let yd = _mm512_set1_ps(*ds[r].add(i));
                let (s0, s1) = if B::Q6 {
                    // values are u - 32 with u in 0..64: 32 * scale * bsum
                    // off lane-wise, as there (e: the scales times -32)
                    let bs = dup(y[r].bsums);
                    (dpwssd(sumi[r][0], bs, a.e), dpwssd(sumi[r][1], bs, b.e))
                } else {
                    // the min term, row j in lanes 4j..4j + 4: -d_y * dmin
                    // times the pair sums of the 8 mins, as there
                    let q8s = _mm512_broadcast_i32x4(_mm256_castsi256_si128(y[r].bsums));
                    let mp = _mm512_madd_epi16(mins, q8s);
                    // (-d_y: the sign bit flipped, an integer op)
                    let nyd = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(yd), sign));
                    let dmin = _mm512_mul_ps(nyd, dmins);
                    acc_m[r] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(mp), acc_m[r]);
                    (sumi[r][0], sumi[r][1])
                };
                // d_y * d_x per half: the AVX2 pass's scalar product
                acc[r][0] =
                    _mm512_fmadd_ps(_mm512_mul_ps(yd, a.d), _mm512_cvtepi32_ps(s0), acc[r][0]);
                acc[r][1] =
                    _mm512_fmadd_ps(_mm512_mul_ps(yd, b.d), _mm512_cvtepi32_ps(s1), acc[r][1]);
            }
        }
    }
    std::array::from_fn(|r| {
        let halves = [
            _mm512_castps512_ps256(acc[r][0]),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[r][0]))),
            _mm512_castps512_ps256(acc[r][1]),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[r][1]))),
        ];
        let m = acc_m[r];
        let mins = [
            _mm512_castps512_ps128(m),
            _mm512_extractf32x4_ps::<1>(m),
            _mm512_extractf32x4_ps::<2>(m),
            _mm512_extractf32x4_ps::<3>(m),
        ];
        std::array::from_fn(|j| {
            if B::Q6 {
                hsum_f32_8(halves[j])
            } else {
                let am = mins[j];
                let am = _mm_add_ps(am, _mm_movehl_ps(am, am));
                let am = _mm_add_ss(am, _mm_movehdup_ps(am));
                hsum_f32_8(halves[j]) + _mm_cvtss_f32(am)
            }
        })
    })
}

/// The cache of a K-quant format `B` at AVX-512 VNNI: every row pair
/// unpacked once ([`PBlk`], 896 bytes per pair of super-blocks: 1.75 bytes
/// per weight, as AVX2's).
pub(crate) const fn cache<B: KPanel>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes,
        build: build_cache::<B>,
    }
}

/// The bytes of `n_out` (even) rows of `nb` super-blocks, in pairs.
fn cache_bytes(n_out: usize, nb: usize) -> Option<usize> {
    Some(n_out / 2 * nb * std::mem::size_of::<PBlk>())
}

/// Every row pair of a `B` matrix (`n_out` rows, a multiple of 4, of `rb`
/// bytes at `w`) unpacked once.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; `w` holds `n_out`
/// rows of `rb` bytes of `B`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_cache<B: KPanel>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / B::BYTES;
    assert!(w.len() >= n_out * rb && n_out.is_multiple_of(2));
    // SAFETY: all-zero bytes are valid vectors and floats.
    let mut v = vec![unsafe { std::mem::zeroed::<PBlk>() }; n_out / 2 * nb];
    for (j, dst) in v.chunks_exact_mut(nb.max(1)).enumerate().take(n_out / 2) {
        // SAFETY: rows 2j, 2j + 1 < n_out hold nb blocks (asserted above).
        unsafe { build_pair::<B>(w, rb, 2 * j, nb, dst) };
    }
    Panels::KQuantPairs(v)
}

/// The tile `t` of K-quant format `B` (the `PanelFn` contract, see [`Tile`]):
/// weight rows in pairs, each unpacked here or read from the cache's pairs
/// ([`cache`]) when given (same bits).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; the tile's contract;
/// a cache built from this matrix.
pub(crate) unsafe fn panels<B: KPanel>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::KQuantPairs(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<B>(t, cache) }
}

/// Weight rows unpacked (or read from the cache) per group: each 4 of them
/// pass over a block of activation rows while the group stays in L2.
const GROUP: usize = 64;

/// Activation rows per block: as many as fit in about 512 KB of regrouped
/// blocks (the L2 share next to the weight group), a multiple of 4, at least
/// 4.
fn act_block(nb: usize) -> usize {
    let per_row = nb.max(1) * (std::mem::size_of::<GBlk>() + 4);
    ((512 << 10) / per_row / 4 * 4).max(4)
}

/// [`panels`] with the cache's pairs, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn matmul<B: KPanel>(t: &Tile<'_>, cache: Option<&[PBlk]>) {
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
    let nb = rb / B::BYTES;
    assert!(
        w.len() >= o1 * rb
            && o1 <= n_out
            && o0.is_multiple_of(2)
            && (o1 - o0).is_multiple_of(4)
            && r0 < r1
            && nb * Q8_K_BYTES <= stride
    );
    if let Some(c) = cache {
        assert!(c.len() >= o1 / 2 * nb);
    }
    let key = t.prep_key(nb, B::Q6 as i64);
    SCRATCH.with(|s| {
        let (pairs, g, ds, made) = &mut *s.borrow_mut();
        let n = (r1 - r0) * nb;
        let group = GROUP.min(o1 - o0);
        // SAFETY: all-zero bytes are valid vectors.
        unsafe { pairs.resize(group / 2 * nb, std::mem::zeroed()) };
        key.make_once(made, || {
            // SAFETY: all-zero bytes are valid vectors.
            unsafe { g.resize(n, std::mem::zeroed()) };
            ds.resize(n, 0.0);
            // SAFETY: rows r0..r1 hold nb Q8_K blocks (caller).
            unsafe { group_acts(a0.add(r0 * stride), stride, nb, B::Q6, g, ds) };
        });
        assert!(g.len() >= n && ds.len() >= n);
        let (gp, dp) = (g.as_ptr(), ds.as_ptr());
        let rblock = act_block(nb);
        let mut og = o0;
        while og < o1 {
            let oe = (og + group).min(o1);
            // the group's row pairs, unpacked once per tile
            let rows: &[PBlk] = match cache {
                Some(c) => &c[og / 2 * nb..oe / 2 * nb],
                None => {
                    for (j, dst) in pairs
                        .chunks_exact_mut(nb.max(1))
                        .take((oe - og) / 2)
                        .enumerate()
                    {
                        // SAFETY: rows og + 2j, og + 2j + 1 < o1 hold nb
                        // blocks (asserted above).
                        unsafe { build_pair::<B>(w, rb, og + 2 * j, nb, dst) };
                    }
                    &pairs[..(oe - og) / 2 * nb]
                }
            };
            let mut rs = r0;
            while rs < r1 {
                let re = (rs + rblock).min(r1);
                let mut o = og;
                while o < oe {
                    let j = (o - og) / 2;
                    let pa = &rows[j * nb..(j + 1) * nb];
                    let pb = &rows[(j + 1) * nb..(j + 2) * nb];
                    let mut r = rs;
                    while r < re {
                        let n = match re - r {
                            4.. => 4,
                            2.. => 2,
                            _ => 1,
                        };
                        // SAFETY: activation rows r..r + n are regrouped at
                        // gp / dp (nb blocks each); outputs (rows r..r + n,
                        // columns o..o + 4) are this call's to write (caller).
                        unsafe {
                            let gr = |i: usize| gp.add((r + i - r0) * nb);
                            let dr = |i: usize| dp.add((r + i - r0) * nb);
                            macro_rules! go {
                                ($n:literal) => {{
                                    let v = run4::<$n, B>(
                                        pa,
                                        pb,
                                        nb,
                                        std::array::from_fn(gr),
                                        std::array::from_fn(dr),
                                    );
                                    for (i, x) in v.iter().enumerate() {
                                        let row = out.add((r + i) * n_out + o);
                                        for (jj, v) in x.iter().enumerate() {
                                            *row.add(jj) = *v;
                                        }
                                    }
                                }};
                            }
                            match n {
                                4 => go!(4),
                                2 => go!(2),
                                _ => go!(1),
                            }
                        }
                        r += n;
                    }
                    o += 4;
                }
                rs = re;
            }
            og = oe;
        }
    });
}
