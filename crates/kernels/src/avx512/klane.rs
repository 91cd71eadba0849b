//! The K one-lane order (Q4_K and Q6_K at AVX-512 VNNI; scalar references
//! `crate::orders::k_one_lane_q4_k` / `k_one_lane_q6_k`): panels of 16
//! weight rows, `vpdpbusd` forming each sub-block's exact integer sums for
//! all 16 at once.
//!
//! Per output and super-block the order wants `T = Σ_s sc_s Σ_{i in s} u_i
//! y_i` exactly (Q6_K: minus `32 sc_s bsum_s` per sub-block), Q4_K also `M =
//! Σ_s m_s bsum32_s`, then `acc = fma(d_x * d_y, T, acc)` (and `acc_m =
//! fma(dmin_x * d_y, M, acc_m)`) in the block's chain (block `b` in chain `b %
//! 8`); the result the chains' `orders::sum8` (Q4_K: minus the min chains').
//! llama.cpp's `vec_dot` order (the AVX2 levels')
//! converts and accumulates 8 partial sums per block instead, and forms its
//! scaled sums by `vpmaddubsw` pairs then `vpmaddwd`: 3 multiply-port
//! instructions per 128 products, and 7 more per block and output pair for
//! the float part. Here it is one `vpdpbusd` per 64 products, one `vpmulld`
//! per sub-block and 16 outputs, and per block and 16 outputs 2 (Q4_K 3)
//! float multiplies and FMAs (Zen 4: one multiply port pair for all of them;
//! BENCHMARKS.md).
//!
//! A panel block ([`KZBlk`]) holds the 16 rows' unsigned quants unpacked in
//! element order and transposed by dwords: vector `k` holds in dword `j` row
//! `j`'s quants `4k..4k+4` (Q4_K's nibbles, Q6_K's 6-bit values), so with the
//! activation's dword `k` broadcast (`vpdpbusd`'s memory operand) a sub-block
//! of 32 (Q4_K, 8 dwords) or 16 (Q6_K, 4) elements gives the 16 rows' exact
//! sums `S` in 16 lanes; `vpmulld` by the 16 rows' scales (no overflow: |S sc|
//! < 2^24) and `vpaddd` add them into `T`. Q6_K's offset and Q4_K's min term
//! are 8 `vpdpwssd` each against the activation's `bsums` read as 8 dwords
//! (pairs of 16-element sums): Q6_K with the pair `(-32 sc_2j, -32 sc_2j+1)`,
//! Q4_K with `(m_j, m_j)` (its sub-blocks are 32 elements: two `bsums`).
//! The panels come from a `crate::PanelCache` ([`cache`], packed there:
//! `avx512::kpack`; 8, 4, 2 or 1 activation rows a pass) or are built per
//! tile; a last panel of 4, 8 or 12 rows repeats its last row (those lanes
//! are computed and not stored).
//!
//! Decode (1 to 4 activation rows) is `avx512::krows`'s: each row straight
//! from the file's layout (one sequential stream per thread); every 8 blocks
//! a transposed reduction sums their exact lanes into 8 `T` (and `M`) and one
//! vector FMA advances the 8 chains: the same `T`, the same float ops.

use crate::avx2::kpanel::KPanel;
use crate::avx2::kq::scales_mins_k4_fast;
use crate::avx2::legacy::ld32;
use crate::avx512::kdec::dpwssd;
use crate::avx512::kpack::{KRead, Packed, KP4, KP6};
use crate::avx512::one_lane::{panels16, rows16, transpose16};
use crate::k_quants::{Q8_K_BSUMS, Q8_K_BYTES};
use crate::matmul::Tile;
use crate::panel_cache::{CacheSpec, Panels};
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// One super-block (256 elements) of a panel of 16 weight rows (see the
/// module doc).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct KZBlk {
    /// Vector `k`: dword `j` is row `j`'s unsigned quants `4k..4k + 4`.
    pub(super) w: [__m512i; 64],
    /// Lane `j` of `sc[s]`: row `j`'s scale of sub-block `s` (Q4_K: 8 of
    /// 32 elements, Q6_K: 16 of 16).
    pub(super) sc: [[i32; 16]; 16],
    /// Lane `j` of `e[p]`, two i16: Q4_K `(m_p, m_p)` (row `j`'s min of
    /// sub-block `p`); Q6_K `(-32 sc_2p, -32 sc_2p+1)`.
    pub(super) e: [[i32; 16]; 8],
    /// Row `j`'s `d`.
    pub(super) d: [f32; 16],
    /// Row `j`'s `dmin` (Q4_K).
    pub(super) dmin: [f32; 16],
}

/// Sub-blocks per super-block and dwords per sub-block of `B`.
const fn shape<B: KPanel>() -> (usize, usize) {
    if B::Q6 {
        (16, 4)
    } else {
        (8, 8)
    }
}

/// The cache of a K-quant format `B` at AVX-512 VNNI: panels of 16 rows,
/// the last one padded, packed (`avx512::kpack`: Q4_K 2,432 bytes per panel
/// super-block, 0.59 bytes per weight; Q6_K 3,392, 0.83).
pub(crate) const fn cache<B: KPanel>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes::<B>,
        build: build_cache::<B>,
    }
}

/// The bytes of the panels of `n_out` rows of `nb` super-blocks.
fn cache_bytes<B: KPanel>(n_out: usize, nb: usize) -> Option<usize> {
    let block = if B::Q6 {
        std::mem::size_of::<KP6>()
    } else {
        std::mem::size_of::<KP4>()
    };
    Some(n_out.div_ceil(16) * nb * block)
}

/// The `[n_out, k]` matrix's panels of 16 rows, packed.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; `w` holds `n_out` rows
/// of `rb` bytes of `B`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_cache<B: KPanel>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / B::BYTES;
    // SAFETY: the caller's (both branches); all-zero bytes are valid blocks.
    unsafe {
        if B::Q6 {
            Panels::KQuantP6(panels16(w, rb, n_out, nb, build_packed::<B, KP6>))
        } else {
            Panels::KQuantP4(panels16(w, rb, n_out, nb, build_packed::<B, KP4>))
        }
    }
}

/// [`build`] packed: 16 rows' `nb` blocks as `P`s.
///
/// # Safety
/// As [`build`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_packed<B: KPanel, P: Packed>(rows: [*const u8; 16], nb: usize, dst: &mut [P]) {
    // one block at a time through a scratch block (no tile runs on this
    // thread while a cache is built)
    // SAFETY: all-zero bytes are a valid block.
    let mut z = [unsafe { std::mem::zeroed::<KZBlk>() }];
    for (b, d) in dst.iter_mut().enumerate().take(nb) {
        let r: [*const u8; 16] = std::array::from_fn(|j| rows[j].wrapping_add(b * B::BYTES));
        // SAFETY: block b of every row (caller).
        unsafe { build::<B>(r, 1, &mut z) };
        // SAFETY: this function's features.
        *d = unsafe { P::pack(&z[0]) };
    }
}

/// Super-block `x` of `B` unpacked to its 256 unsigned quants in element
/// order, 32 to a vector.
///
/// # Safety
/// The features of [`build_cache`]; a whole block at `x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn unpack<B: KPanel>(x: *const u8) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0xF);
    let m30 = _mm256_set1_epi8(0x30);
    let mut g = [_mm256_setzero_si256(); 8];
    // SAFETY: the block's bytes (caller).
    unsafe {
        if B::Q6 {
            // half n: elements l, l + 32, l + 64, l + 96 (l < 32) are the low
            // nibbles of ql[l], ql[l + 32], the high nibbles of the same,
            // with qh[l]'s bits 0-1, 2-3, 4-5, 6-7 as bits 4-5
            // (`k_quants::q6_k`)
            for n in 0..2 {
                let ql0 = ld32(x.add(64 * n));
                let ql1 = ld32(x.add(64 * n + 32));
                let qh = ld32(x.add(128 + 32 * n));
                let h = [
                    _mm256_and_si256(_mm256_slli_epi16::<4>(qh), m30),
                    _mm256_and_si256(_mm256_slli_epi16::<2>(qh), m30),
                    _mm256_and_si256(qh, m30),
                    _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m30),
                ];
                g[4 * n] = _mm256_or_si256(_mm256_and_si256(ql0, m4), h[0]);
                g[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), h[1]);
                g[4 * n + 2] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4), h[2]);
                g[4 * n + 3] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4), h[3]);
            }
        } else {
            // chunk j's 32 bytes: elements 64j.. the low nibbles, 64j + 32..
            // the high (`k_quants::q4_k`)
            for j in 0..4 {
                let q = ld32(x.add(16 + 32 * j));
                g[2 * j] = _mm256_and_si256(q, m4);
                g[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(q), m4);
            }
        }
    }
    g
}

/// `nb` super-blocks of the 16 weight rows at `rows` into `dst` (see
/// [`KZBlk`]).
///
/// # Safety
/// The features of [`build_cache`]; `nb` blocks of `B` at each `rows[j]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build<B: KPanel>(rows: [*const u8; 16], nb: usize, dst: &mut [KZBlk]) {
    assert!(dst.len() >= nb);
    for (b, blk) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: block b of every row (caller).
        unsafe {
            // plain loops: `array::map`'s closures may be left out of line
            let mut xs = [std::ptr::null::<u8>(); 16];
            let mut u = [[_mm256_setzero_si256(); 8]; 16];
            for j in 0..16 {
                xs[j] = rows[j].add(b * B::BYTES);
                u[j] = unpack::<B>(xs[j]);
            }
            for g in 0..8 {
                let t = transpose16(std::array::from_fn(|j| u[j][g]));
                blk.w[8 * g..8 * g + 8].copy_from_slice(&t);
            }
            for (j, &x) in xs.iter().enumerate() {
                if B::Q6 {
                    let sc = |s: usize| (*x.add(192 + s) as i8) as i32;
                    for s in 0..16 {
                        blk.sc[s][j] = sc(s);
                    }
                    for p in 0..8 {
                        let lo = (-32 * sc(2 * p)) as i16 as u16 as u32;
                        let hi = (-32 * sc(2 * p + 1)) as i16 as u16 as u32;
                        blk.e[p][j] = (lo | (hi << 16)) as i32;
                    }
                    blk.d[j] = crate::avx2::f16_ptr(x.add(208));
                    blk.dmin[j] = 0.0;
                } else {
                    let (sc, m) = scales_mins_k4_fast(x.add(4));
                    for s in 0..8 {
                        blk.sc[s][j] = sc[s] as i32;
                        blk.e[s][j] = (m[s] as i32) | ((m[s] as i32) << 16);
                    }
                    for s in 8..16 {
                        blk.sc[s][j] = 0;
                    }
                    blk.d[j] = crate::avx2::f16_ptr(x);
                    blk.dmin[j] = crate::avx2::f16_ptr(x.add(2));
                }
            }
        }
    }
}

/// The panel at `p` (`nb` super-blocks) against `R` Q8_K activation rows (the
/// first at `a`, the next `stride` bytes apart): lane `j` of result `r` is
/// output (activation row `r`, panel row `j`).
///
/// # Safety
/// The features of [`build_cache`]; `nb` blocks at `p` and at each row.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run<const R: usize, B: KPanel, K: KRead>(
    p: *const K,
    nb: usize,
    a: *const u8,
    stride: usize,
) -> [__m512; R] {
    let (nsb, dw) = const { shape::<B>() };
    // the order's 8 chains per output (block b into chain b % 8), each
    // written first by its first block (from 0.0) and taken as 0.0 if it has
    // none (uninitialised until then: zeroing 8 R vectors per call showed as
    // a memset in short rows' profiles)
    let mut acc = [[MaybeUninit::<__m512>::uninit(); 8]; R];
    let mut acc_m = [[MaybeUninit::<__m512>::uninit(); 8]; R];
    let chain = |a: &[MaybeUninit<__m512>; 8], b: usize, c: usize| {
        if b < 8 {
            _mm512_setzero_ps()
        } else {
            // SAFETY: chain c was written by block c < b.
            unsafe { a[c].assume_init() }
        }
    };
    // the activation's dword at byte `o` of `y`, to every lane
    let bc = |y: *const u8, o: usize| {
        // SAFETY: within the row's block (callers below).
        _mm512_set1_epi32(unsafe { std::ptr::read_unaligned(y.add(o) as *const i32) })
    };
    for b in 0..nb {
        // SAFETY: block b < nb of the panel and of every row (caller).
        unsafe {
            let blk = &*p.add(b);
            let y: [*const u8; R] = std::array::from_fn(|r| a.add(r * stride + b * Q8_K_BYTES));
            let mut t = [_mm512_setzero_si512(); R];
            for s in 0..nsb {
                // the sub-block's dw vectors (Q6_K: the first 4 of 8)
                let (w, sc) = blk.sub::<B>(s);
                for r in 0..R {
                    // the sub-block's exact sums in two chains (a row's
                    // chain is the latency the next sub-block waits on)
                    let q = 4 + 4 * s * dw;
                    let mut s0 = _mm512_setzero_si512();
                    let mut s1 = _mm512_setzero_si512();
                    for k in 0..dw / 2 {
                        s0 = _mm512_dpbusd_epi32(s0, w[2 * k], bc(y[r], q + 8 * k));
                        s1 = _mm512_dpbusd_epi32(s1, w[2 * k + 1], bc(y[r], q + 8 * k + 4));
                    }
                    let sum = _mm512_add_epi32(s0, s1);
                    t[r] = _mm512_add_epi32(t[r], _mm512_mullo_epi32(sum, sc));
                }
            }
            let dx = blk.d();
            let dm = blk.dmin();
            let ev = blk.e::<B>();
            let c = b % 8;
            for r in 0..R {
                let dy = _mm512_set1_ps(std::ptr::read_unaligned(y[r] as *const f32));
                let e = |p: usize| ev[p];
                let bs = |p: usize| bc(y[r], Q8_K_BSUMS + 4 * p);
                if B::Q6 {
                    // minus 32 sc_s bsum_s, two sub-blocks per dword
                    let mut tt = t[r];
                    for p in 0..8 {
                        tt = dpwssd(tt, e(p), bs(p));
                    }
                    let prev = chain(&acc[r], b, c);
                    acc[r][c].write(_mm512_fmadd_ps(
                        _mm512_mul_ps(dx, dy),
                        _mm512_cvtepi32_ps(tt),
                        prev,
                    ));
                } else {
                    // M: m_p times the two 16-element sums of sub-block p
                    let mut m = _mm512_setzero_si512();
                    for p in 0..8 {
                        m = dpwssd(m, e(p), bs(p));
                    }
                    let prev = chain(&acc[r], b, c);
                    acc[r][c].write(_mm512_fmadd_ps(
                        _mm512_mul_ps(dx, dy),
                        _mm512_cvtepi32_ps(t[r]),
                        prev,
                    ));
                    let prev = chain(&acc_m[r], b, c);
                    acc_m[r][c].write(_mm512_fmadd_ps(
                        _mm512_mul_ps(dm, dy),
                        _mm512_cvtepi32_ps(m),
                        prev,
                    ));
                }
            }
        }
    }
    // `orders::sum8` lane-wise, the chains no block reached 0.0
    let sum8 = |a: &[MaybeUninit<__m512>; 8]| {
        let c: [__m512; 8] = std::array::from_fn(|i| {
            if i < nb {
                // SAFETY: chain i was written by block i < nb.
                unsafe { a[i].assume_init() }
            } else {
                _mm512_setzero_ps()
            }
        });
        _mm512_add_ps(
            _mm512_add_ps(_mm512_add_ps(c[0], c[4]), _mm512_add_ps(c[2], c[6])),
            _mm512_add_ps(_mm512_add_ps(c[1], c[5]), _mm512_add_ps(c[3], c[7])),
        )
    };
    std::array::from_fn(|r| {
        if B::Q6 {
            sum8(&acc[r])
        } else {
            _mm512_sub_ps(sum8(&acc[r]), sum8(&acc_m[r]))
        }
    })
}

/// [`run`], its results stored at `dst` (output rows `n_out` apart), the
/// lanes of `mask` only.
///
/// # Safety
/// As [`run`]; outputs `dst[i * n_out + j]` for `i < R` and the lanes `j` of
/// `mask` writable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn run_store<const R: usize, B: KPanel, K: KRead>(
    p: *const K,
    nb: usize,
    a: *const u8,
    stride: usize,
    dst: *mut f32,
    n_out: usize,
    mask: __mmask16,
) {
    // SAFETY: forwarded (caller).
    unsafe {
        let v = run::<R, B, K>(p, nb, a, stride);
        for (i, v) in v.iter().enumerate() {
            _mm512_mask_storeu_ps(dst.add(i * n_out), mask, *v);
        }
    }
}

thread_local! {
    /// Without a cache, the group's panels built for the tile.
    static SCRATCH: RefCell<Vec<KZBlk>> = const { RefCell::new(Vec::new()) };
}

/// The tile `t` of K-quant format `B` (the `PanelFn` contract): panels of 16
/// rows from the cache when given, else built here.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; the tile's contract
/// (`t.o0` a multiple of 16); a cache built from this matrix.
pub(crate) unsafe fn panels<B: KPanel>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::KQuantP4(c)) => Some(Cached::P4(c.as_slice())),
        Some(Panels::KQuantP6(c)) => Some(Cached::P6(c.as_slice())),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<B>(t, cache) }
}

/// A cache's panels as [`matmul`] reads them.
#[derive(Clone, Copy)]
enum Cached<'a> {
    P4(&'a [KP4]),
    P6(&'a [KP6]),
}

impl Cached<'_> {
    /// Blocks held.
    fn len(self) -> usize {
        match self {
            Cached::P4(c) => c.len(),
            Cached::P6(c) => c.len(),
        }
    }
}

/// Bytes of panels one group holds (each is built, or read from the cache,
/// and passed over a block of activation rows while in L2).
const GROUP_BYTES: usize = 384 << 10;

/// Bytes of activation rows one block holds (next to the group in L2).
const ACT_BYTES: usize = 448 << 10;

/// [`panels`] with the cache's blocks, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn matmul<B: KPanel>(t: &Tile<'_>, cache: Option<Cached<'_>>) {
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
        o0.is_multiple_of(16)
            && r0 < r1
            && o1 <= n_out
            && w.len() >= o1 * rb
            && nb * Q8_K_BYTES <= stride
    );
    if let Some(c) = cache {
        assert!(c.len() >= o1.div_ceil(16) * nb);
    }
    if nb == 0 {
        // empty rows: every output is 0.0, as the reference's
        for r in r0..r1 {
            for o in o0..o1 {
                // SAFETY: (r, o) is this tile's to write (caller).
                unsafe { *out.add(r * n_out + o) = 0.0 };
            }
        }
        return;
    }
    let panel_bytes = nb * std::mem::size_of::<KZBlk>();
    let group = (GROUP_BYTES / panel_bytes).max(1);
    let rblock = (ACT_BYTES / (nb * Q8_K_BYTES)).max(4) / 4 * 4;
    SCRATCH.with(|s| {
        let tmp = &mut *s.borrow_mut();
        if cache.is_none() {
            // SAFETY: all-zero bytes are valid blocks.
            crate::util::grow(tmp, group * nb, unsafe { std::mem::zeroed() });
        }
        let mut og = o0;
        while og < o1 {
            let oe = (og + 16 * group).min(o1);
            let g = Group {
                og,
                o1: oe,
                nb,
                a0,
                stride,
                out,
                n_out,
                rblock,
            };
            // SAFETY: (all three arms) the group's panels (from the cache, which
            // holds o1's, asserted, or built just before); the caller's tile.
            unsafe {
                match cache {
                    Some(Cached::P4(c)) => g.run::<B, KP4>(c[og / 16 * nb..].as_ptr(), r0, r1),
                    Some(Cached::P6(c)) => g.run::<B, KP6>(c[og / 16 * nb..].as_ptr(), r0, r1),
                    None => {
                        let n_panels = (oe - og).div_ceil(16);
                        for (i, dst) in tmp.chunks_exact_mut(nb).take(n_panels).enumerate() {
                            let o = og + 16 * i;
                            // SAFETY: rows o.. (below o1) hold nb blocks (asserted).
                            build::<B>(rows16(w, rb, o, o1), nb, dst);
                        }
                        g.run::<B, KZBlk>(tmp.as_ptr(), r0, r1)
                    }
                }
            }
            og = oe;
        }
    });
}

/// A group of panels (output rows `og..o1`) of a tile, [`matmul`]'s unit.
struct Group {
    og: usize,
    o1: usize,
    nb: usize,
    a0: *const u8,
    stride: usize,
    out: *mut f32,
    n_out: usize,
    rblock: usize,
}

impl Group {
    /// The group's panels at `base` (`nb` blocks each) against activation
    /// rows `r0..r1`, a block of `rblock` rows at a time, 8, 4, 2 or 1 rows a
    /// pass.
    ///
    /// # Safety
    /// [`matmul`]'s features and tile; the group's panels at `base`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn run<B: KPanel, K: KRead>(&self, base: *const K, r0: usize, r1: usize) {
        let Group {
            og,
            o1,
            nb,
            a0,
            stride,
            out,
            n_out,
            rblock,
        } = *self;
        let n_panels = (o1 - og).div_ceil(16);
        let mut rs = r0;
        while rs < r1 {
            let re = (rs + rblock).min(r1);
            for i in 0..n_panels {
                let o = og + 16 * i;
                let rows = (o1 - o).min(16);
                let mask: __mmask16 = if rows == 16 { !0 } else { (1 << rows) - 1 };
                let p = base.wrapping_add(i * nb);
                let mut r = rs;
                while r < re {
                    let x = a0.wrapping_add(r * stride);
                    let dst = out.wrapping_add(r * n_out + o);
                    // SAFETY: the panel's nb blocks; activation rows r..
                    // (nb blocks each); outputs (r.., o..o + rows) are this
                    // call's to write (caller).
                    let step = unsafe {
                        match re - r {
                            8.. => {
                                run_store::<8, B, K>(p, nb, x, stride, dst, n_out, mask);
                                8
                            }
                            4.. => {
                                run_store::<4, B, K>(p, nb, x, stride, dst, n_out, mask);
                                4
                            }
                            2.. => {
                                run_store::<2, B, K>(p, nb, x, stride, dst, n_out, mask);
                                2
                            }
                            _ => {
                                run_store::<1, B, K>(p, nb, x, stride, dst, n_out, mask);
                                1
                            }
                        }
                    };
                    r += step;
                }
            }
            rs = re;
        }
    }
}
