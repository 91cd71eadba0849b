//! The two-lane order's decode kernel ([`rows4`]: 4 weight rows x 1 activation
//! row straight from the weight bytes) and prebuilt panels for the AVX2
//! two-lane matmul (Q4_0, Q4_1, Q5_0, Q5_1;
//! order of `crate::lanes2`; the public side is `crate::PanelCache`): every
//! 4-row panel of a weight matrix unpacked once into the transposed layout of
//! `panel` ([`CBlock`]: the quants and the f16 scales only), then read by
//! [`matmul`] instead of being rebuilt in every tile. The batched decode step
//! of 8 sequences otherwise spends about an eighth of its time unpacking; the
//! price is 1.25 bytes per weight of memory (Q5_0 itself is 0.69).
//!
//! Each output is the same sequence of integer sums and float ops as
//! `panel::run2` and [`rows4`] (and `lanes2::dot_lanes2`), so results are
//! bit-identical with or without the cache.

use super::legacy::{f16x2, ld32};
use super::panel::{
    block_sums, build_two_lane, dm4, finish2, offset, tile_terms, unpack_u, ActBlock, Fmt, PBlock,
    CORR,
};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use std::arch::x86_64::*;

/// One block (32 elements) of 4 weight rows: vector `h` holds in qword `j`
/// row `j`'s unsigned quants `8h..8h+8` (as `panel::PBlock::x`), then the rows'
/// f16 scale and min pairs.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct CBlock {
    x: [__m256i; 4],
    /// `[d0, m0, d1, m1, d2, m2, d3, m3]` (f16; Q4_0/Q5_0: `m` unused).
    dm: [u16; 8],
}

/// Two-lane order on a panel `p` (`nb` blocks) and `R` activation rows at
/// `a` (their terms at `t`): per block and activation row the i16 products of
/// the 4 vectors are summed (exact: no overflow for these formats), less the
/// offset term for Q4_0 and Q5_0, widened once, converted once and accumulated
/// with one FMA; the min term's FMA chain (Q4_1, Q5_1) after. `[r][j]` for
/// activation row `r`, weight row `j`.
///
/// The blocks of `next` (the next panel, read in the next pass) are
/// prefetched as `p` is read (a hint: any address is fine).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` activation blocks of `f.ab` bytes at each `a[r]` and
/// their `nb` terms at each `t[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run2<const R: usize, const MIN: bool>(
    f: Fmt,
    p: &[CBlock],
    nb: usize,
    a: [*const u8; R],
    t: [*const ActBlock; R],
    next: *const CBlock,
) -> [[f32; 4]; R] {
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
        // SAFETY: the caller guarantees `nb` activation blocks of `f.ab` bytes
        // at each `a[r]` and their `nb` terms at each `t[r]`.
        unsafe {
            let mut s16 = block_sums(&blk.x, a.map(|q| q.add(b * f.ab + f.qoff)));
            // [d0 d0 d1 d1 d2 d2 d3 d3] (exact conversions)
            let dm = _mm256_cvtph_ps(_mm_loadu_si128(blk.dm.as_ptr() as *const __m128i));
            let d = _mm256_moveldup_ps(dm);
            for r in 0..R {
                let tb = &*t[r].add(b);
                if !MIN {
                    s16[r] = _mm256_sub_epi16(s16[r], _mm256_set1_epi64x(tb.corr));
                }
                let dv = _mm256_mul_ps(d, _mm256_broadcast_ss(&tb.d));
                let sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[r], ones));
                acc[r] = _mm256_fmadd_ps(dv, sum, acc[r]);
            }
        }
    }
    if MIN {
        // the min term's FMA chain in a pass of its own (it does not depend on
        // the quants), so the main pass keeps its accumulators in registers
        for (b, blk) in p.iter().enumerate().take(nb) {
            // SAFETY: 8 f16 at `blk.dm`; `t[r]` as above.
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
    }
    // SAFETY: target features as for this function.
    std::array::from_fn(|r| unsafe { finish2(MIN, acc[r], summ[r]) })
}

/// `out[r * n_out + o]` for `o in o0..o0 + 4 * n4`, `r in r0..r1` for a
/// two-lane format `f` (kind 0..4) with the panels read from `cache` (the
/// matrix's `n_out / 4` panels of `nb` blocks, [`build_cache`]): the
/// `PanelFn` contract of `panel::matmul_panel` otherwise.
///
/// # Safety
/// As `panel::matmul_panel`; `cache` built from this matrix, `o0` a multiple of 4.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matmul(
    f: Fmt,
    rb: usize,
    o0: usize,
    n4: usize,
    a0: *const u8,
    stride: usize,
    r0: usize,
    r1: usize,
    out: *mut f32,
    n_out: usize,
    cache: &[CBlock],
) {
    let nb = rb / f.wb;
    assert!(f.kind < 4 && r0 < r1 && o0.is_multiple_of(4) && o0 + 4 * n4 <= n_out);
    assert!(cache.len() >= (o0 / 4 + n4) * nb);
    CORR.with(|c| {
        let mut corr = c.borrow_mut();
        // SAFETY: the caller guarantees `nb` activation blocks at rows r0..r1.
        unsafe { tile_terms(f, a0, stride, r0, r1, nb, &mut corr) };
        for g in 0..n4 {
            let o = o0 + 4 * g;
            let i = o / 4 * nb;
            let p = &cache[i..i + nb];
            let next = cache.as_ptr().wrapping_add(i + nb);
            let mut r = r0;
            while r < r1 {
                let n = if r + 4 <= r1 { 4 } else { 1 };
                let ar = |i: usize| a0.wrapping_add((r + i).min(r1 - 1) * stride);
                let cr = |i: usize| corr.as_ptr().wrapping_add(((r + i).min(r1 - 1) - r0) * nb);
                let (a4, c4) = ([ar(0), ar(1), ar(2), ar(3)], [cr(0), cr(1), cr(2), cr(3)]);
                // SAFETY: activation rows r0..r1 and their terms (above).
                let v: [[f32; 4]; 4] = unsafe {
                    match (n, f.min) {
                        (4, false) => run2::<4, false>(f, p, nb, a4, c4, next),
                        (4, true) => run2::<4, true>(f, p, nb, a4, c4, next),
                        (_, false) => [run2::<1, false>(f, p, nb, [a4[0]], [c4[0]], next)[0]; 4],
                        (_, true) => [run2::<1, true>(f, p, nb, [a4[0]], [c4[0]], next)[0]; 4],
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

/// Every panel of a two-lane weight matrix (`n_out` rows of `rb` bytes at
/// `w`, `n_out` a multiple of 4), built once (see the module doc).
///
/// # Safety
/// AVX2, FMA and F16C available; `w` holds `n_out` rows of `rb` bytes, whole
/// blocks of `f`'s format (kind 0..4).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn build_cache(f: Fmt, w: &[u8], rb: usize, n_out: usize) -> Vec<CBlock> {
    let nb = rb / f.wb;
    assert!(f.kind < 4 && n_out.is_multiple_of(4) && w.len() >= n_out * rb);
    // SAFETY: all-zero bytes are valid blocks.
    let mut v = vec![unsafe { std::mem::zeroed::<CBlock>() }; n_out / 4 * nb];
    // each panel as the tile kernels build it (`panel::build`), kept compact
    // SAFETY: all-zero bytes are valid blocks.
    let mut tmp = vec![unsafe { std::mem::zeroed::<PBlock>() }; nb];
    for (g, dst) in v.chunks_exact_mut(nb.max(1)).enumerate().take(n_out / 4) {
        let rows: [*const u8; 4] = std::array::from_fn(|j| w[(4 * g + j) * rb..].as_ptr());
        // SAFETY: rows 4g..4g+4 hold nb blocks each (asserted above).
        unsafe { build_two_lane(f, rows, nb, &mut tmp) };
        for (b, (c, p)) in dst.iter_mut().zip(&tmp).enumerate() {
            // (d, m) of each row's block: the f16 pair at its start
            let dm: [[u16; 2]; 4] = std::array::from_fn(|j| {
                let at = (4 * g + j) * rb + b * f.wb;
                [
                    u16::from_le_bytes([w[at], w[at + 1]]),
                    u16::from_le_bytes([w[at + 2], w[at + 3]]),
                ]
            });
            c.x = p.x;
            c.dm = std::array::from_fn(|i| dm[i / 2][i % 2]);
        }
    }
    v
}

/// Two-lane order, 4 weight rows (`nb` blocks of format kind `K` at each
/// `w[j]`) x one activation row `a`, straight from the weight bytes (decode).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` blocks readable at each `w[j]` and `nb` activation
/// blocks (Q8_0 for kinds 0 and 2, Q8_1 for 1 and 3) at `a`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn rows4<const K: u8, const PF: bool>(
    w: [*const u8; 4],
    nb: usize,
    a: *const u8,
) -> [f32; 4] {
    let min = K == 1 || K == 3;
    let wb = [18, 20, 22, 24][K as usize];
    let (ab, qoff) = if min {
        (Q8_1_BYTES, 4)
    } else {
        (Q8_0_BYTES, 2)
    };
    let ones = _mm256_set1_epi16(1);
    let off = _mm256_set1_epi8(offset(K) as i8);
    // (the prefetch switch is a constant: no test per row and block)
    let pf = PF;
    // the 4 rows are usually consecutive: prefetch the same block of the next
    // group of 4 rows (a hint: any address is fine)
    let ahead = 4 * (w[1] as isize).wrapping_sub(w[0] as isize);
    let mut acc = _mm256_setzero_ps();
    let mut summ = _mm256_setzero_ps();
    // SAFETY: per the contract above; prefetch hints never fault.
    unsafe {
        for b in 0..nb {
            let y = a.add(b * ab);
            let qy = ld32(y.add(qoff));
            // Q4_0/Q5_0: x = u - offset, so x.y = u.y - offset.y per i16 pair
            // (exact: |u.y pair| <= 2*31*127, |offset.y pair| <= 2*16*127)
            let corr = if min {
                _mm256_setzero_si256()
            } else {
                _mm256_maddubs_epi16(off, qy)
            };
            let xs = w.map(|p| p.add(b * wb));
            let v: [__m256i; 4] = std::array::from_fn(|j| {
                if pf {
                    _mm_prefetch::<_MM_HINT_T0>(xs[j].wrapping_offset(ahead) as *const i8);
                }
                let u = unpack_u::<K>(xs[j]);
                let prod = _mm256_maddubs_epi16(u, qy);
                let prod = if min {
                    prod
                } else {
                    _mm256_sub_epi16(prod, corr)
                };
                // lanes m = elements 4m..4m+4
                _mm256_madd_epi16(prod, ones)
            });
            rows4_block_end(min, v, xs, y, &mut acc, &mut summ);
        }
        finish2(min, acc, summ)
    }
}

/// The end of a block of [`rows4`] (and of its AVX-512 version): `v[j]` holds
/// row `j`'s 8 exact i32 sums of elements `4m..4m+4`; per 128-bit half they
/// become `[E, O, E, O]` partial sums of rows (0, 1) / (2, 3) (E: even `m`,
/// O: odd), the halves are added, and the block's scales (weight rows at
/// `xs`, activation block at `y`) bring them into `acc` (and the min term of
/// Q4_1/Q5_1 into `summ`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn rows4_block_end(
    min: bool,
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
    // SAFETY: the caller guarantees the 4 weight blocks at `xs` and the
    // activation block at `y`.
    let (d, m, yds) = unsafe {
        let (d, m) = dm4(xs);
        (d, m, f16x2(y))
    };
    if min {
        *summ = _mm256_fmadd_ps(m, _mm256_broadcastss_ps(_mm_movehdup_ps(yds)), *summ);
    }
    let dv = _mm256_mul_ps(d, _mm256_broadcastss_ps(yds));
    *acc = _mm256_fmadd_ps(dv, _mm256_cvtepi32_ps(eo), *acc);
}
