//! Prefill matmul for Q4_K and Q6_K: each weight row's super-blocks are
//! unpacked once into a scratch layout (quants as bytes, scales as the i16
//! vectors `madd` takes) and then dotted with every activation row of the
//! tile, 4 rows at a time.
//!
//! Bit-identical to `kq::dot_q4_k` / `kq::dot_q6_k` (llama.cpp's AVX2 order,
//! formats in `crate::k_quants`): per super-block each output's 8 i32 lanes
//! `sumi` are exact integer sums (the same products and scales, added in
//! another order: integer addition is associative), and the float ops that
//! follow — `d = d_y * d_x`, the FMA into the 8 float lanes, the min or
//! offset term, the final `hsum` — are the same ops in the same order. What
//! changes is only how often a weight row is unpacked (once per tile instead
//! of once per 4 activation rows) and how the lanes are formed.
//!
//! Lane `L` of `sumi` is `Σ_t s_t · x(L, t)`, with `x(L, t)` the sum of the 4
//! products of elements `4L..4L+4` of 32-element chunk `t` and `s_t` that
//! chunk's scale (Q6_K: of its 16-element half). `vec_dot` forms each `x(L, t)`
//! with one `vpmaddubsw` (pairs, i16) and one `vpmaddwd` by `s_t` per chunk:
//! two multiplies per 32 products, on the one pipe Zen 2 runs both on. Here
//! chunks are taken in pairs `(t, t') = (2m, 2m + 1)` with both the weights and
//! the activations regrouped so that one `vpmaddubsw` holds the first two
//! products of every `x(L, t)` and `x(L, t')` (i16 lanes `2L`, `2L + 1`) and a
//! second one the last two; their i16 sum is `x(L, t)`, `x(L, t')` exactly
//! (|x| <= 4 * 63 * 128 = 32256 for Q6_K, 7680 for Q4_K: no overflow), and one
//! `vpmaddwd` by `(s_t, s_t')` adds `s_t x(L, t) + s_t' x(L, t')` into lane `L`:
//! three multiplies per 64 products instead of four.

use super::hsum_f32_8;
use super::kq::scales_mins_k4_fast;
use super::legacy::{f16x2, ld32};
use crate::block::QuantBlock;
use crate::k_quants::{q4_k::BlockQ4K, q6_k::BlockQ6K, Q8_K_BSUMS, Q8_K_BYTES};
use crate::matmul::{PrepKey, Tile};
use crate::panel_cache::{CacheSpec, Panels};
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One super-block (256 elements) of one weight row, unpacked.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct KBlk {
    /// Chunk pair `m` (chunks `2m`, `2m + 1`, quants as unsigned bytes, Q4_K:
    /// 0..16, Q6_K: 0..64) regrouped by [`pair`]: `v[2m]` the first, `v[2m + 1]`
    /// the second half of every 4-element group.
    pub(crate) v: [__m256i; 8],
    /// The i16 scales `madd` multiplies pair `m`'s sums by: lane `2L` chunk
    /// `2m`'s scale for group `L`, lane `2L + 1` chunk `2m + 1`'s.
    pub(crate) s: [__m256i; 4],
    /// Q4_K: the 8 mins as i16 (low half); Q6_K: the 16 scales as i16.
    pub(crate) extra: __m256i,
    /// Q4_K: (d, dmin) as f32; Q6_K: (d, _).
    pub(crate) d: f32,
    pub(crate) m: f32,
}

/// Chunks `c0`, `c1` (32 bytes each, element `e` in byte `e`) regrouped: in
/// each 4-byte group `L`, the first result holds `c0[4L..4L+2], c1[4L..4L+2]`
/// and the second `c0[4L+2..4L+4], c1[4L+2..4L+4]`.
///
/// # Safety
/// AVX2 must be available.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pair(c0: __m256i, c1: __m256i) -> (__m256i, __m256i) {
    (
        _mm256_blend_epi16::<0xAA>(c0, _mm256_slli_epi32::<16>(c1)),
        _mm256_blend_epi16::<0xAA>(_mm256_srli_epi32::<16>(c0), c1),
    )
}

thread_local! {
    static SCRATCH: RefCell<Vec<KBlk>> = const { RefCell::new(Vec::new()) };
    /// The tile's activation rows regrouped ([`group_acts`]) and their
    /// scales, and what they were regrouped from (the thread's next tile on
    /// the same rows skips it).
    static GROUPED: RefCell<(Vec<GBlk>, Vec<f32>, Option<PrepKey>)> =
        const { RefCell::new((Vec::new(), Vec::new(), None)) };
}

/// One Q8_K activation super-block with its quants regrouped by chunk pairs
/// as [`pair`] does the weights', and its 16 sums (the scale is kept apart:
/// the kernel reads only these 288 bytes and 4 of the scales'). The copy is
/// made once per tile, so the loops read as many bytes as the rows hold.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct GBlk {
    /// The 256 quants, regrouped: `q[2m]`, `q[2m + 1]` as the weights' `v`.
    pub(crate) q: [__m256i; 8],
    /// Q6_K: the 16 sums of 16 quants; Q4_K: the 8 sums of 32 (low half).
    pub(crate) bsums: __m256i,
}

/// Activation rows (`nb` Q8_K blocks each, `stride` bytes apart from `a`)
/// regrouped: row `j`'s super-block `i` goes to `dst[j * nb + i]`, its scale
/// to `d[j * nb + i]`. For Q4_K (`q6` false) the 16 sums are replaced by the
/// 8 pair sums its min term takes (`dot_q4_k`'s `hadd`, done once per row).
///
/// # Safety
/// AVX2 available; each of the rows holds `nb` Q8_K blocks.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn group_acts(
    a: *const u8,
    stride: usize,
    nb: usize,
    q6: bool,
    dst: &mut [GBlk],
    d: &mut [f32],
) {
    assert_eq!(dst.len(), d.len());
    for (k, (g, d)) in dst.iter_mut().zip(d.iter_mut()).enumerate() {
        let (j, i) = (k / nb, k % nb);
        // SAFETY: block i of row j (caller): scale at 0, quants at 4..260,
        // sums at Q8_K_BSUMS.
        unsafe {
            let y = a.add(j * stride + i * Q8_K_BYTES);
            *d = std::ptr::read_unaligned(y as *const f32);
            let bsums = ld32(y.add(Q8_K_BSUMS));
            g.bsums = if q6 {
                bsums
            } else {
                _mm256_castsi128_si256(_mm_hadd_epi16(
                    _mm256_castsi256_si128(bsums),
                    _mm256_extracti128_si256(bsums, 1),
                ))
            };
            for m in 0..4 {
                (g.q[2 * m], g.q[2 * m + 1]) =
                    pair(ld32(y.add(4 + 64 * m)), ld32(y.add(4 + 64 * m + 32)));
            }
        }
    }
}

/// The K-quant formats with panels: Q4_K (`Q6` false) and Q6_K.
pub(crate) trait KPanel: QuantBlock {
    const Q6: bool;
}
impl KPanel for BlockQ4K {
    const Q6: bool = false;
}
impl KPanel for BlockQ6K {
    const Q6: bool = true;
}

/// Unpack `nb` super-blocks of `B` at `x` into `dst`.
///
/// # Safety
/// AVX2, FMA, F16C; `nb` blocks readable at `x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn build<B: KPanel>(x: *const u8, nb: usize, dst: &mut [KBlk]) {
    // SAFETY: forwarded contract.
    unsafe {
        if B::Q6 {
            build_q6_k(x, nb, dst)
        } else {
            build_q4_k(x, nb, dst)
        }
    }
}

/// Unpack `nb` Q4_K super-blocks at `x` into `dst` (as `kq::dot_q4_k` does).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_q4_k(x: *const u8, nb: usize, dst: &mut [KBlk]) {
    assert!(dst.len() >= nb);
    let m4 = _mm256_set1_epi8(0xF);
    for (i, b) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: the caller guarantees nb blocks at `x`.
        unsafe {
            let x = x.add(i * BlockQ4K::BYTES);
            let dm = f16x2(x);
            b.d = _mm_cvtss_f32(dm);
            b.m = _mm_cvtss_f32(_mm_movehdup_ps(dm));
            let (sc, m) = scales_mins_k4_fast(x.add(4));
            b.extra = _mm256_castsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64(
                m.as_ptr() as *const __m128i
            )));
            for j in 0..4 {
                // chunks 2j (low nibbles) and 2j + 1 (high nibbles): pair j
                let q4 = ld32(x.add(16 + j * 32));
                let (a, c) = pair(
                    _mm256_and_si256(q4, m4),
                    _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4),
                );
                b.v[2 * j] = a;
                b.v[2 * j + 1] = c;
                b.s[j] = _mm256_set1_epi32(
                    (sc[2 * j] as u16 as i32) | ((sc[2 * j + 1] as u16 as i32) << 16),
                );
            }
        }
    }
}

/// Unpack `nb` Q6_K super-blocks at `x` into `dst` (as `kq::dot_q6_k` does).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_q6_k(x: *const u8, nb: usize, dst: &mut [KBlk]) {
    assert!(dst.len() >= nb);
    let m4 = _mm256_set1_epi8(0xF);
    let m2 = _mm256_set1_epi8(3);
    for (i, b) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: the caller guarantees nb blocks at `x`.
        unsafe {
            let x = x.add(i * BlockQ6K::BYTES);
            // d is the f16 at 208..210: read 206..210 (in bounds) and take lane 1.
            b.d = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x.add(206))));
            b.m = 0.0;
            let sc = x.add(192);
            b.extra = _mm256_cvtepi8_epi16(_mm_loadu_si128(sc as *const __m128i));
            for n in 0..2 {
                let ql0 = ld32(x.add(n * 64));
                let ql1 = ld32(x.add(n * 64 + 32));
                let qh = ld32(x.add(128 + n * 32));
                let hi = |sh: i32| -> __m256i {
                    let q = match sh {
                        0 => qh,
                        2 => _mm256_srli_epi16(qh, 2),
                        4 => _mm256_srli_epi16(qh, 4),
                        _ => _mm256_srli_epi16(qh, 6),
                    };
                    _mm256_slli_epi16(_mm256_and_si256(q, m2), 4)
                };
                // chunks 4n .. 4n + 4 of the super-block
                let c = [
                    _mm256_or_si256(_mm256_and_si256(ql0, m4), hi(0)),
                    _mm256_or_si256(_mm256_and_si256(ql1, m4), hi(2)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), hi(4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), hi(6)),
                ];
                for h in 0..2 {
                    // pair 2n + h: chunks t = 4n + 2h and t + 1; chunk t's
                    // 16-element halves have scales sc[2t] (groups 0..4) and
                    // sc[2t + 1] (groups 4..8)
                    let m = 2 * n + h;
                    let (a, c2) = pair(c[2 * h], c[2 * h + 1]);
                    b.v[2 * m] = a;
                    b.v[2 * m + 1] = c2;
                    let t = 4 * n + 2 * h;
                    let g = |i: usize| (*sc.add(i) as i8) as i16 as u16 as i32;
                    let lo = g(2 * t) | (g(2 * t + 2) << 16);
                    let hi = g(2 * t + 1) | (g(2 * t + 3) << 16);
                    b.s[m] = _mm256_set_m128i(_mm_set1_epi32(hi), _mm_set1_epi32(lo));
                }
            }
        }
    }
}

/// `acc + madd(x, s)` in one AVX-VNNI `vpdpwssd`: the same exact i32 lanes
/// (each the sum of two i16 products added to `acc`, wrapping alike). Inline
/// assembly, so that one `run` serves both levels.
///
/// # Safety
/// AVX-VNNI available.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn dpwssd(acc: __m256i, x: __m256i, s: __m256i) -> __m256i {
    let mut r = acc;
    // SAFETY: reached only with VNNI set, from `panels_vnni`, listed at
    // `Level::Avx2Vnni` (AVX-VNNI detected: caller); registers only.
    unsafe {
        std::arch::asm!(
            "{{vex}} vpdpwssd {r}, {x}, {s}",
            r = inout(ymm_reg) r,
            x = in(ymm_reg) x,
            s = in(ymm_reg) s,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// Dot products of an unpacked weight row (`nb` super-blocks) with `R`
/// activation rows (Q8_K regrouped by [`group_acts`]: blocks at `g`, scales
/// at `ds`): the float ops of `dot_q4_k` (`Q6` false) or `dot_q6_k` (`Q6`
/// true), per output. (Two weight rows per pass, sharing the activation
/// loads, measured slower: the accumulators no longer fit the registers.)
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run<const R: usize, B: KPanel, const VNNI: bool>(
    p: &[KBlk],
    nb: usize,
    g: [*const GBlk; R],
    ds: [*const f32; R],
    next: Option<*const KBlk>,
) -> [f32; R] {
    assert!(p.len() >= nb);
    let mut acc = [_mm256_setzero_ps(); R];
    let mut acc_m = [_mm_setzero_ps(); R];
    for (i, b) in p.iter().enumerate().take(nb) {
        if let Some(q) = next {
            // the next cached row's block (448 bytes, 7 lines; a hint)
            let q = q.wrapping_add(i) as *const i8;
            for l in 0..7 {
                _mm_prefetch::<_MM_HINT_T0>(q.wrapping_add(64 * l));
            }
        }
        // SAFETY: the caller guarantees nb blocks and scales at each `g[r]`, `ds[r]`.
        unsafe {
            let y = g.map(|q| &*q.add(i));
            let mut sumi = [_mm256_setzero_si256(); R];
            for m in 0..4 {
                let (v0, v1, s) = (b.v[2 * m], b.v[2 * m + 1], b.s[m]);
                for r in 0..R {
                    let x = _mm256_add_epi16(
                        _mm256_maddubs_epi16(v0, y[r].q[2 * m]),
                        _mm256_maddubs_epi16(v1, y[r].q[2 * m + 1]),
                    );
                    sumi[r] = if VNNI {
                        dpwssd(sumi[r], x, s)
                    } else {
                        _mm256_add_epi32(sumi[r], _mm256_madd_epi16(x, s))
                    };
                }
            }
            for r in 0..R {
                let yd = *ds[r].add(i);
                let q8sums = y[r].bsums;
                let d = yd * b.d;
                if B::Q6 {
                    // values are u - 32 with u in 0..64: subtract 32 * scale * bsum lane-wise.
                    let sub = _mm256_slli_epi32(_mm256_madd_epi16(q8sums, b.extra), 5);
                    let s = _mm256_sub_epi32(sumi[r], sub);
                    acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc[r]);
                } else {
                    let dmin = -yd * b.m;
                    let q8s = _mm256_castsi256_si128(q8sums);
                    let mp = _mm_madd_epi16(_mm256_castsi256_si128(b.extra), q8s);
                    acc_m[r] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mp), acc_m[r]);
                    acc[r] =
                        _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
                }
            }
        }
    }
    std::array::from_fn(|r| {
        if B::Q6 {
            hsum_f32_8(acc[r])
        } else {
            let am = acc_m[r];
            let am = _mm_add_ps(am, _mm_movehl_ps(am, am));
            let am = _mm_add_ss(am, _mm_movehdup_ps(am));
            hsum_f32_8(acc[r]) + _mm_cvtss_f32(am)
        }
    })
}

/// The cache of a K-quant format `B` at AVX2: every row unpacked once
/// ([`KBlk`], 448 bytes per super-block: 1.75 bytes per weight).
pub(crate) const fn cache<B: KPanel>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes,
        build: build_cache::<B>,
    }
}

/// The bytes of `n_out` unpacked rows of `nb` super-blocks.
fn cache_bytes(n_out: usize, nb: usize) -> Option<usize> {
    Some(n_out * nb * std::mem::size_of::<KBlk>())
}

/// Every row of a `B` matrix (`n_out` rows of `rb` bytes at `w`) unpacked
/// once.
///
/// # Safety
/// AVX2, FMA and F16C available; `w` holds `n_out` rows of `rb` bytes of `B`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_cache<B: KPanel>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / B::BYTES;
    assert!(w.len() >= n_out * rb);
    // SAFETY: all-zero bytes are valid vectors and floats.
    let mut v = vec![unsafe { std::mem::zeroed::<KBlk>() }; n_out * nb];
    for (o, dst) in v.chunks_exact_mut(nb.max(1)).enumerate().take(n_out) {
        // SAFETY: row o holds nb blocks (asserted above).
        unsafe { build::<B>(w[o * rb..].as_ptr(), nb, dst) };
    }
    Panels::KQuant(v)
}

/// The tile `t` of K-quant format `B` (the `PanelFn` contract, see [`Tile`]):
/// each weight row unpacked here, or read from the cache's rows when given
/// (same bits).
///
/// # Safety
/// AVX2, FMA and F16C available; the tile's contract; a cache built from this
/// matrix.
pub(crate) unsafe fn panels<B: KPanel>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::KQuant(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<B, false>(t, cache) }
}

/// [`panels`] with the passes' `madd` + `add` by AVX-VNNI's `vpdpwssd` (same
/// bits).
///
/// # Safety
/// As [`panels`], and AVX-VNNI available.
pub(crate) unsafe fn panels_vnni<B: KPanel>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::KQuant(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<B, true>(t, cache) }
}

/// [`panels`] with the cache's rows, if any, for Q6_K (`q6`) or Q4_K. (One
/// instance for both, taking the format at run time: each `run` then has one
/// caller, which LLVM inlines.)
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn matmul<B: KPanel, const VNNI: bool>(t: &Tile<'_>, cache: Option<&[KBlk]>) {
    let nb = t.rb / B::BYTES;
    assert!(t.w.len() >= t.o1 * t.rb && t.o1 <= t.n_out && nb * Q8_K_BYTES <= t.stride);
    if let Some(c) = cache {
        assert!(c.len() >= t.o1 * nb);
    }
    SCRATCH.with(|s| {
        GROUPED.with(|g| {
            let mut s = s.borrow_mut();
            if s.len() < GROUP * nb {
                // SAFETY: all-zero bytes are valid vectors and floats.
                s.resize(GROUP * nb, unsafe { std::mem::zeroed() });
            }
            let (g, ds, made) = &mut *g.borrow_mut();
            let n = (t.r1 - t.r0) * nb;
            let key = t.prep_key(nb, B::Q6 as i64);
            key.make_once(made, || {
                if g.len() < n {
                    // SAFETY: all-zero bytes are valid vectors.
                    g.resize(n, unsafe { std::mem::zeroed() });
                    ds.resize(n, 0.0);
                }
                // SAFETY: rows r0..r1 hold nb Q8_K blocks (caller).
                unsafe {
                    group_acts(
                        t.a0.add(t.r0 * t.stride),
                        t.stride,
                        nb,
                        B::Q6,
                        &mut g[..n],
                        &mut ds[..n],
                    )
                };
            });
            let rows = Grouped {
                g: &g[..n],
                ds: &ds[..n],
                nb,
            };
            // SAFETY: the caller's contract; the tile's activation rows
            // regrouped above.
            unsafe { tile::<B, VNNI>(t, cache, rows, &mut s) };
        })
    });
}

/// A tile's activation rows regrouped by [`group_acts`] (row `r - r0`'s `nb`
/// blocks and scales at `(r - r0) * nb`).
#[derive(Clone, Copy)]
struct Grouped<'a> {
    g: &'a [GBlk],
    ds: &'a [f32],
    nb: usize,
}

/// Weight rows unpacked (or read from the cache) per group: each of them
/// passes over a block of activation rows while the group stays in L2.
const GROUP: usize = 8;

/// Activation rows per block: as many as fit in about 192 KB of regrouped
/// blocks (next to the weight group, within the 512 KB L2 of the AVX2 CPUs
/// this was tuned on), a multiple of 4, at least 4. Without blocks a 512-row
/// prefill at k = 8192 (4.7 MB of them) streams them from L3 for every
/// weight row.
fn act_block(nb: usize) -> usize {
    let per_row = nb.max(1) * (std::mem::size_of::<GBlk>() + 4);
    ((192 << 10) / per_row / 4 * 4).max(4)
}

/// The tile's outputs from its regrouped activation rows `a`, each weight row
/// read from `cache` or unpacked into `s` ([`GROUP`] rows at a time), by
/// blocks of activation rows ([`act_block`]). (A function of its own rather
/// than the thread-local closure's body: its values stay in registers.)
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile<B: KPanel, const VNNI: bool>(
    t: &Tile<'_>,
    cache: Option<&[KBlk]>,
    a: Grouped<'_>,
    s: &mut [KBlk],
) {
    let Tile {
        w,
        rb,
        o0,
        o1,
        r0,
        r1,
        out,
        n_out,
        ..
    } = *t;
    let nb = a.nb;
    assert!(a.g.len() >= (r1 - r0) * nb && a.ds.len() >= (r1 - r0) * nb && s.len() >= GROUP * nb);
    let (gp, dp) = (a.g.as_ptr(), a.ds.as_ptr());
    let rblock = act_block(nb);
    let mut og = o0;
    while og < o1 {
        let oe = (og + GROUP).min(o1);
        let rows: &[KBlk] = match cache {
            Some(c) => &c[og * nb..oe * nb],
            None => {
                for (j, dst) in s.chunks_exact_mut(nb.max(1)).take(oe - og).enumerate() {
                    let row = w[(og + j) * rb..(og + j + 1) * rb].as_ptr();
                    // SAFETY: the row holds nb blocks (caller).
                    unsafe { build::<B>(row, nb, dst) }
                }
                &s[..(oe - og) * nb]
            }
        };
        let mut rs = r0;
        while rs < r1 {
            let re = (rs + rblock).min(r1);
            for o in og..oe {
                let p = &rows[(o - og) * nb..(o - og + 1) * nb];
                // with a cache, the first pass over a row prefetches the next
                let mut next = cache
                    .filter(|_| rs == r0)
                    .map(|c| c.as_ptr().wrapping_add((o + 1) * nb));
                let mut r = rs;
                while r < re {
                    let n = if r + 4 <= re { 4 } else { 1 };
                    // SAFETY: activation rows r0..r1 are regrouped at gp / dp
                    // (nb blocks each, asserted above), and the outputs (row
                    // r.., column o) are this call's to write (caller).
                    unsafe {
                        let gr = |i: usize| gp.add((r + i - r0) * nb);
                        let dr = |i: usize| dp.add((r + i - r0) * nb);
                        if n == 4 {
                            let q = [gr(0), gr(1), gr(2), gr(3)];
                            let d = [dr(0), dr(1), dr(2), dr(3)];
                            let v = run::<4, B, VNNI>(p, nb, q, d, next);
                            for (i, x) in v.iter().enumerate() {
                                *out.add((r + i) * n_out + o) = *x;
                            }
                        } else {
                            let v = run::<1, B, VNNI>(p, nb, [gr(0)], [dr(0)], next);
                            *out.add(r * n_out + o) = v[0];
                        }
                    }
                    next = None;
                    r += n;
                }
            }
            rs = re;
        }
        og = oe;
    }
}
