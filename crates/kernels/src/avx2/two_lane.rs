//! The two-lane order (Q4_1, Q5_1; scalar reference `crate::orders::two_lane`)
//! on AVX2: the decode kernel ([`rows4`]: 4 weight rows x 1 activation row
//! straight from the weight bytes), the batched entry ([`panels`]) and the
//! panels a `crate::PanelCache` holds for it ([`CBlock`]: every 4-row panel
//! of the matrix unpacked once into the transposed layout of `panel`, quants
//! and f16 scales only, read by [`matmul`] instead of being rebuilt per tile).
//!
//! Each output is the same sequence of integer sums and float ops as
//! `panel::run2`, so results are bit-identical with or without the cache and
//! whichever kernel computes them.

use super::legacy::{f16x2, ld32, unpack_u};
use super::panel::{block_sums, dm4, finish2, tile_terms, ActBlock, PBlock, Pass, TERMS};
use crate::block::Block32;
use crate::matmul::Tile;
use crate::panel_cache::{CacheSpec, Panels};
use std::arch::x86_64::*;

/// One block (32 elements) of 4 weight rows: vector `h` holds in qword `j`
/// row `j`'s unsigned quants `8h..8h+8` (as `panel::PBlock::x`), then the rows'
/// f16 scale and min pairs.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct CBlock {
    x: [__m256i; 4],
    /// `[d0, m0, d1, m1, d2, m2, d3, m3]` (f16).
    dm: [u16; 8],
}

/// The tile `t` of two-lane format `F` (the `PanelFn` contract): from the
/// cache's panels when given, else built here with passes at level `P`.
///
/// # Safety
/// AVX2, FMA, F16C and `P`'s features; the tile's contract; a cache built
/// from this matrix.
pub(crate) unsafe fn panels<F: Block32, P: Pass>(t: &Tile<'_>, cache: Option<&Panels>) {
    // SAFETY: the caller's contract.
    unsafe {
        match cache {
            Some(Panels::TwoLane(c)) => matmul::<F>(t, c),
            _ => super::panel::matmul_panel::<F, P>(t),
        }
    }
}

/// Two-lane order on a cached panel `p` (`nb` blocks) and `R` activation rows
/// at `a` (their terms at `t`), as `panel::run2`. `[r][j]` for activation row
/// `r`, weight row `j`.
///
/// The blocks of `next` (the next panel, read in the next pass) are
/// prefetched as `p` is read (a hint: any address is fine).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` activation blocks of `F::ACT_BYTES` bytes at each
/// `a[r]` and their `nb` terms at each `t[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run2<const R: usize, F: Block32>(
    p: &[CBlock],
    nb: usize,
    a: [*const u8; R],
    t: [*const ActBlock; R],
    next: *const CBlock,
) -> [[f32; 4]; R] {
    const { assert!(F::MIN, "the two-lane kernels take formats with a min") };
    assert!(p.len() >= nb);
    let mut acc = [_mm256_setzero_ps(); R];
    let mut summ = [_mm256_setzero_ps(); R];
    let ones = _mm256_set1_epi16(1);
    for (b, blk) in p.iter().enumerate().take(nb) {
        // the next panel's block: 160 bytes, 3 lines
        let q = next.wrapping_add(b) as *const i8;
        for l in [0, 64, 128] {
            _mm_prefetch::<_MM_HINT_T0>(q.wrapping_add(l));
        }
        // SAFETY: `nb` activation blocks at each `a[r]` and their `nb` terms
        // at each `t[r]` (caller); 8 f16 at `blk.dm`.
        unsafe {
            let s16 = block_sums(&blk.x, a.map(|q| q.add(b * F::ACT_BYTES + F::ACT_QS)));
            // [d0 d0 d1 d1 d2 d2 d3 d3] (exact conversions)
            let dm = _mm256_cvtph_ps(_mm_loadu_si128(blk.dm.as_ptr() as *const __m128i));
            let d = _mm256_moveldup_ps(dm);
            for r in 0..R {
                let tb = &*t[r].add(b);
                let dv = _mm256_mul_ps(d, _mm256_broadcast_ss(&tb.d));
                let sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[r], ones));
                acc[r] = _mm256_fmadd_ps(dv, sum, acc[r]);
            }
        }
    }
    // the min term's FMA chain in a pass of its own (it does not depend on the
    // quants), so the main pass keeps its accumulators in registers
    for (b, blk) in p.iter().enumerate().take(nb) {
        // SAFETY: 8 f16 at `blk.dm`.
        let m = unsafe {
            _mm256_movehdup_ps(_mm256_cvtph_ps(_mm_loadu_si128(
                blk.dm.as_ptr() as *const __m128i
            )))
        };
        for r in 0..R {
            // SAFETY: as above.
            let s = unsafe { &(*t[r].add(b)).s };
            summ[r] = _mm256_fmadd_ps(m, _mm256_broadcast_ss(s), summ[r]);
        }
    }
    std::array::from_fn(|r| finish2(acc[r], summ[r]))
}

/// The tile `t` with the panels read from `cache` (the matrix's `n_out / 4`
/// panels of `nb` blocks, [`build_cache`]).
///
/// # Safety
/// AVX2, FMA, F16C; the tile's contract; `cache` built from this matrix.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn matmul<F: Block32>(t: &Tile<'_>, cache: &[CBlock]) {
    let Tile {
        rb,
        o0,
        o1,
        a0,
        stride,
        r0,
        r1,
        out,
        n_out,
        ..
    } = *t;
    let nb = rb / F::BYTES;
    assert!(r0 < r1 && o0.is_multiple_of(4) && o1 <= n_out);
    assert!(cache.len() >= o1 / 4 * nb);
    TERMS.with(|c| {
        let mut terms = c.borrow_mut();
        // SAFETY: the caller guarantees `nb` activation blocks at rows r0..r1.
        unsafe { tile_terms::<F>(t, nb, &mut terms) };
        for o in (o0..o1).step_by(4) {
            let i = o / 4 * nb;
            let p = &cache[i..i + nb];
            let next = cache.as_ptr().wrapping_add(i + nb);
            let mut r = r0;
            while r < r1 {
                let n = if r + 4 <= r1 { 4 } else { 1 };
                let ar = |i: usize| a0.wrapping_add((r + i).min(r1 - 1) * stride);
                let cr = |i: usize| terms.as_ptr().wrapping_add(((r + i).min(r1 - 1) - r0) * nb);
                let (a4, c4) = ([ar(0), ar(1), ar(2), ar(3)], [cr(0), cr(1), cr(2), cr(3)]);
                // SAFETY: activation rows r0..r1 and their terms (above).
                let v: [[f32; 4]; 4] = unsafe {
                    if n == 4 {
                        run2::<4, F>(p, nb, a4, c4, next)
                    } else {
                        [run2::<1, F>(p, nb, [a4[0]], [c4[0]], next)[0]; 4]
                    }
                };
                for (i, vi) in v.iter().enumerate().take(n) {
                    for (j, &x) in vi.iter().enumerate() {
                        // SAFETY: row r + i < r1, columns o..o+4 of this tile (caller).
                        unsafe { *out.add((r + i) * n_out + o + j) = x };
                    }
                }
                r += n;
            }
        }
    });
}

/// The cache of a two-lane format `F` at AVX2: every 4-row panel.
pub(crate) const fn cache<F: Block32>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes,
        build: build_cache::<F>,
    }
}

/// The bytes of the panels of `n_out` rows of `nb` blocks.
fn cache_bytes(n_out: usize, nb: usize) -> Option<usize> {
    Some(n_out / 4 * nb * std::mem::size_of::<CBlock>())
}

/// Every panel of a two-lane weight matrix (`n_out` rows of `rb` bytes at
/// `w`, `n_out` a multiple of 4), built once (see the module doc).
///
/// # Safety
/// AVX2, FMA and F16C available; `w` holds `n_out` rows of `rb` bytes, whole
/// blocks of `F`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_cache<F: Block32>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / F::BYTES;
    assert!(n_out.is_multiple_of(4) && w.len() >= n_out * rb);
    // SAFETY: all-zero bytes are valid blocks.
    let mut v = vec![unsafe { std::mem::zeroed::<CBlock>() }; n_out / 4 * nb];
    // each panel as the tile kernels build it (`panel::build`), kept compact
    // SAFETY: all-zero bytes are valid blocks.
    let mut tmp = vec![unsafe { std::mem::zeroed::<PBlock>() }; nb];
    for (g, dst) in v.chunks_exact_mut(nb.max(1)).enumerate().take(n_out / 4) {
        let rows: [*const u8; 4] = std::array::from_fn(|j| w[(4 * g + j) * rb..].as_ptr());
        // SAFETY: rows 4g..4g+4 hold nb blocks each (asserted above).
        unsafe { super::panel::build::<F>(rows, nb, &mut tmp) };
        for (b, (c, p)) in dst.iter_mut().zip(&tmp).enumerate() {
            // (d, m) of each row's block: the f16 pair at its start
            let dm: [[u16; 2]; 4] = std::array::from_fn(|j| {
                let at = (4 * g + j) * rb + b * F::BYTES;
                [
                    u16::from_le_bytes([w[at], w[at + 1]]),
                    u16::from_le_bytes([w[at + 2], w[at + 3]]),
                ]
            });
            c.x = p.x;
            c.dm = std::array::from_fn(|i| dm[i / 2][i % 2]);
        }
    }
    Panels::TwoLane(v)
}

/// Two-lane order, 4 weight rows x one activation row `a` (decode): the rows'
/// lengths checked, then [`rows4_at`].
///
/// # Safety
/// AVX2, FMA and F16C available.
pub(crate) unsafe fn rows4<F: Block32>(w: [&[u8]; 4], a: &[u8]) -> [f32; 4] {
    let nb = w[0].len() / F::BYTES;
    assert!(
        w.iter().all(|r| r.len() >= nb * F::BYTES) && a.len() >= nb * F::ACT_BYTES,
        "row too short"
    );
    // SAFETY: nb blocks in every row (checked above); the features (caller).
    unsafe { rows4_at::<F>(w.map(|r| r.as_ptr()), nb, a.as_ptr()) }
}

/// Two-lane order, 4 weight rows (`nb` blocks of `F` at each `w[j]`) x one
/// Q8_1 activation row `a`, straight from the weight bytes.
///
/// # Safety
/// AVX2, FMA, F16C; `nb` blocks readable at each `w[j]` and `nb` activation
/// blocks at `a`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn rows4_at<F: Block32>(w: [*const u8; 4], nb: usize, a: *const u8) -> [f32; 4] {
    const { assert!(F::MIN, "the two-lane kernels take formats with a min") };
    let ones = _mm256_set1_epi16(1);
    // the 4 rows are usually consecutive: prefetch the same block of the next
    // group of 4 rows (a hint: any address is fine)
    let ahead = 4 * (w[1] as isize).wrapping_sub(w[0] as isize);
    let mut acc = _mm256_setzero_ps();
    let mut summ = _mm256_setzero_ps();
    // SAFETY: per the contract above; prefetch hints never fault.
    unsafe {
        for b in 0..nb {
            let y = a.add(b * F::ACT_BYTES);
            let qy = ld32(y.add(F::ACT_QS));
            let xs = w.map(|p| p.add(b * F::BYTES));
            let v: [__m256i; 4] = std::array::from_fn(|j| {
                _mm_prefetch::<_MM_HINT_T0>(xs[j].wrapping_offset(ahead) as *const i8);
                let prod = _mm256_maddubs_epi16(unpack_u::<F>(xs[j]), qy);
                // lanes m = elements 4m..4m+4
                _mm256_madd_epi16(prod, ones)
            });
            rows4_block_end(v, xs, y, &mut acc, &mut summ);
        }
    }
    finish2(acc, summ)
}

/// The end of a block of [`rows4`] (and of its AVX-512 version): `v[j]` holds
/// row `j`'s 8 exact i32 sums of elements `4m..4m+4`; per 128-bit half they
/// become `[E, O, E, O]` partial sums of rows (0, 1) / (2, 3) (E: even `m`,
/// O: odd), the halves are added, and the block's scales (weight rows at
/// `xs`, activation block at `y`) bring them into `acc` and the min term into
/// `summ`.
///
/// # Safety
/// AVX2, FMA, F16C; the 4 weight blocks at `xs` and the activation block at
/// `y` readable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn rows4_block_end(
    v: [__m256i; 4],
    xs: [*const u8; 4],
    y: *const u8,
    acc: &mut __m256,
    summ: &mut __m256,
) {
    let t01 = _mm256_add_epi32(
        _mm256_unpacklo_epi64(v[0], v[1]),
        _mm256_unpackhi_epi64(v[0], v[1]),
    );
    let t23 = _mm256_add_epi32(
        _mm256_unpacklo_epi64(v[2], v[3]),
        _mm256_unpackhi_epi64(v[2], v[3]),
    );
    let eo = _mm256_add_epi32(
        _mm256_permute2x128_si256(t01, t23, 0x20),
        _mm256_permute2x128_si256(t01, t23, 0x31),
    );
    // SAFETY: the 4 weight blocks at `xs` and the activation block at `y`
    // (caller).
    let (d, m, yds) = unsafe {
        let (d, m) = dm4(xs);
        (d, m, f16x2(y))
    };
    *summ = _mm256_fmadd_ps(m, _mm256_broadcastss_ps(_mm_movehdup_ps(yds)), *summ);
    let dv = _mm256_mul_ps(d, _mm256_broadcastss_ps(yds));
    *acc = _mm256_fmadd_ps(dv, _mm256_cvtepi32_ps(eo), *acc);
}
