//! The two-lane order's batched matmul (Q4_1, Q5_1; order: `crate::orders`)
//! on "panels" built in the tile: 4 weight rows unpacked once into a
//! transposed scratch layout ([`PBlock`]: vector `h` of a block holds in
//! qword `j` row `j`'s unsigned quants `8h..8h+8`) and dotted with every
//! activation row of the tile. Per block and activation row the i16 products
//! of the 4 vectors are summed before one widening, conversion and FMA, so
//! lanes `2j` and `2j + 1` of the accumulator are row `j`'s two lanes
//! (`acc_E`, `acc_O`). `two_lane` reads the same panels from a cache and has
//! the decode kernel; the AVX-512 levels run the passes of [`matmul_panel`]
//! with their own kernels ([`Pass`]).
//!
//! On AVX2 a 4-row pass over one panel also builds a share of the next
//! ([`Side`]): the unpacking's shuffles and logic then run beside the
//! multiplies, which alone use the multiply pipe.

use super::legacy::{f16x2, unpack_u};
use crate::block::Block32;
use crate::matmul::Tile;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One block (32 elements) of 4 weight rows, transposed as described above.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct PBlock {
    /// Vector `h`: qword `j` = row `j`'s unsigned quants `8h..8h+8`.
    pub(crate) x: [__m256i; 4],
    /// `[d0, d0, d1, d1, d2, d2, d3, d3]` (f16 scales as f32).
    pub(crate) d: __m256,
    /// Same layout for the mins.
    pub(crate) m: __m256,
}

thread_local! {
    static SCRATCH: RefCell<Vec<PBlock>> = const { RefCell::new(Vec::new()) };
    /// Per-block terms of a tile's activation rows ([`tile_terms`]), row-major.
    pub(crate) static TERMS: RefCell<Vec<ActBlock>> = const { RefCell::new(Vec::new()) };
}

/// What the two-lane kernels need of one Q8_1 activation block besides its
/// quants, computed once per activation row and block for a whole tile
/// instead of once per 4 weight rows: its f16 scale and sum as f32 (exact).
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct ActBlock {
    /// The block's `d`.
    pub(crate) d: f32,
    /// The block's `s`.
    pub(crate) s: f32,
}

/// `([d0, d0, d1, d1, d2, d2, d3, d3], same for m)` from the f16 (d, m)
/// at the start of each of 4 blocks.
///
/// # Safety
/// AVX2, F16C; 4 readable bytes at each pointer.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dm4(xs: [*const u8; 4]) -> (__m256, __m256) {
    // SAFETY: 4 readable bytes at each pointer (caller).
    let u = xs.map(|p| unsafe { std::ptr::read_unaligned(p as *const i32) });
    // [d0 m0 d1 m1 d2 m2 d3 m3] in one conversion (exact)
    let dm = _mm256_cvtph_ps(_mm_set_epi32(u[3], u[2], u[1], u[0]));
    (_mm256_moveldup_ps(dm), _mm256_movehdup_ps(dm))
}

/// Per row `j`: lanes `2j + 2j+1` of `acc` summed (the two-lane order's
/// `acc_E + acc_O`), plus lane `2j` of `summ` (the min term).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn finish2(acc: __m256, summ: __m256) -> [f32; 4] {
    let (mut v, mut m) = ([0f32; 8], [0f32; 8]);
    // SAFETY: 8 floats stored into 8-float arrays.
    unsafe {
        _mm256_storeu_ps(v.as_mut_ptr(), acc);
        _mm256_storeu_ps(m.as_mut_ptr(), summ);
    }
    std::array::from_fn(|j| v[2 * j] + v[2 * j + 1] + m[2 * j])
}

/// Two-lane order on a panel `p` (`nb` blocks) and `R` activation rows at
/// `a` (their terms at `t`): per block and activation row the i16 products
/// of the 4 vectors are summed (exact: |u| <= 31, |y| <= 127, 8 products per
/// i16 lane), widened once, converted once and accumulated with one FMA; the
/// min term's FMA chain after. `[r][j]` for activation row `r`, weight row `j`.
///
/// With `FUSE`, the pass also builds blocks `side.lo..side.hi` of the next
/// panel (see [`Side`]).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` activation blocks of `F::ACT_BYTES` bytes at each
/// `a[r]` and their `nb` terms at each `t[r]`; with `FUSE`, the side job's
/// contract (see [`Side`]).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run2<const R: usize, F: Block32, const FUSE: bool>(
    p: &[PBlock],
    nb: usize,
    a: [*const u8; R],
    t: [*const ActBlock; R],
    side: Side,
) -> [[f32; 4]; R] {
    const { assert!(F::MIN, "the two-lane kernels take formats with a min") };
    assert!(p.len() >= nb);
    assert!(!FUSE || (side.lo <= side.hi && side.hi <= nb));
    let mut acc = [_mm256_setzero_ps(); R];
    let mut summ = [_mm256_setzero_ps(); R];
    let ones = _mm256_set1_epi16(1);
    let ahead = 4 * (side.w[1] as isize).wrapping_sub(side.w[0] as isize);
    for (b, blk) in p.iter().enumerate().take(nb) {
        if FUSE && (side.lo..side.hi).contains(&b) {
            // SAFETY: the caller of a fused pass guarantees `nb` blocks at each
            // `side.w[j]` and an `nb`-block panel at `side.dst` that nothing
            // else reads or writes during the pass (b < nb, asserted above).
            unsafe {
                let xs = side.w.map(|q| q.add(b * F::BYTES));
                build_block::<F>(xs, ahead, &mut *side.dst.add(b));
            }
        }
        // SAFETY: `nb` activation blocks at each `a[r]` and their `nb` terms
        // at each `t[r]` (caller).
        unsafe {
            let s16 = block_sums(&blk.x, a.map(|q| q.add(b * F::ACT_BYTES + F::ACT_QS)));
            for r in 0..R {
                let tb = &*t[r].add(b);
                let dv = _mm256_mul_ps(blk.d, _mm256_broadcast_ss(&tb.d));
                let sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[r], ones));
                acc[r] = _mm256_fmadd_ps(dv, sum, acc[r]);
            }
        }
    }
    // the min term's FMA chain in a pass of its own (it does not depend on the
    // quants), so the main pass keeps its accumulators in registers
    for (b, blk) in p.iter().enumerate().take(nb) {
        for r in 0..R {
            // SAFETY: as above.
            let s = unsafe { &(*t[r].add(b)).s };
            summ[r] = _mm256_fmadd_ps(blk.m, _mm256_broadcast_ss(s), summ[r]);
        }
    }
    std::array::from_fn(|r| finish2(acc[r], summ[r]))
}

/// The two-lane i16 sums of one block of 4 weight rows (`x`, the transposed
/// unsigned quants of a panel block) against `R` activation blocks (their 32
/// quants at `q[r]`): per row `r`, the sum over `h` of `vpmaddubsw(x[h],
/// qword h of q[r] broadcast)` (exact, see [`run2`]). Shared by the panels
/// built in the tile ([`run2`]) and the cached ones (`two_lane`).
///
/// # Safety
/// AVX2 available; 32 readable bytes at each `q[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn block_sums<const R: usize>(
    x: &[__m256i; 4],
    q: [*const u8; R],
) -> [__m256i; R] {
    let mut s16 = [_mm256_setzero_si256(); R];
    for (h, &x) in x.iter().enumerate() {
        for r in 0..R {
            // SAFETY: qword h of the 32 bytes at q[r] (caller).
            let v = unsafe { std::ptr::read_unaligned(q[r].add(8 * h) as *const i64) };
            let prod = _mm256_maddubs_epi16(x, _mm256_set1_epi64x(v));
            s16[r] = _mm256_add_epi16(s16[r], prod);
        }
    }
    s16
}

/// The terms ([`ActBlock`]) of a tile's activation rows `t.r0..t.r1` (`nb`
/// Q8_1 blocks each) into `terms`, row-major (`(r - r0) * nb + block`).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` activation blocks at each of the tile's rows.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn tile_terms<F: Block32>(t: &Tile<'_>, nb: usize, terms: &mut Vec<ActBlock>) {
    const { assert!(F::MIN, "the two-lane kernels take formats with a min") };
    terms.clear();
    terms.resize((t.r1 - t.r0) * nb, ActBlock::default());
    for (r, row) in (t.r0..t.r1).zip(terms.chunks_exact_mut(nb.max(1))) {
        for (b, o) in row.iter_mut().enumerate() {
            // SAFETY: block b of activation row r (caller).
            let ds = unsafe { f16x2(t.a0.add(r * t.stride + b * F::ACT_BYTES)) };
            o.d = _mm_cvtss_f32(ds);
            o.s = _mm_cvtss_f32(_mm_movehdup_ps(ds));
        }
    }
}

/// Unpack blocks of 4 weight rows (each `nb` blocks of `F` at `w[j]`) into
/// `dst`.
///
/// # Safety
/// AVX2, FMA, F16C; `nb` whole blocks readable at each `w[j]`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn build<F: Block32>(w: [*const u8; 4], nb: usize, dst: &mut [PBlock]) {
    assert!(dst.len() >= nb);
    // the 4 rows are usually consecutive: prefetch the same block of the next
    // group of 4 rows (with few activation rows the build streams the weights
    // from memory, and waited on every load without this)
    let ahead = 4 * (w[1] as isize).wrapping_sub(w[0] as isize);
    for (b, blk) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: `nb` blocks at each `w[j]` (caller).
        unsafe { build_block::<F>(w.map(|p| p.add(b * F::BYTES)), ahead, blk) }
    }
}

/// One block of [`build`]: the blocks at `xs` (one per weight row) into
/// `blk`, and a prefetch of the blocks `ahead` bytes further.
///
/// # Safety
/// AVX2, FMA, F16C; a whole block of `F` at each `xs[j]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_block<F: Block32>(xs: [*const u8; 4], ahead: isize, blk: &mut PBlock) {
    for x in xs {
        // a hint: any address is fine
        _mm_prefetch::<_MM_HINT_T0>(x.wrapping_offset(ahead) as *const i8);
    }
    // SAFETY: a whole block at each `xs[j]` (caller).
    let r = xs.map(|p| unsafe { unpack_u::<F>(p) });
    let t0 = _mm256_unpacklo_epi64(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi64(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi64(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi64(r[2], r[3]);
    blk.x = [
        _mm256_permute2x128_si256(t0, t2, 0x20),
        _mm256_permute2x128_si256(t1, t3, 0x20),
        _mm256_permute2x128_si256(t0, t2, 0x31),
        _mm256_permute2x128_si256(t1, t3, 0x31),
    ];
    // SAFETY: as above.
    (blk.d, blk.m) = unsafe { dm4(xs) };
}

/// The next panel's share of a fused [`run2`] pass: blocks `lo..hi` of the
/// 4 weight rows at `w` are built into the panel at `dst` (which nothing
/// else reads or writes during the pass).
#[derive(Clone, Copy)]
pub(crate) struct Side {
    w: [*const u8; 4],
    lo: usize,
    hi: usize,
    dst: *mut PBlock,
}

impl Side {
    /// No side job (a plain pass).
    const NONE: Side = Side {
        w: [std::ptr::null(); 4],
        lo: 0,
        hi: 0,
        dst: std::ptr::null_mut(),
    };
}

/// How a SIMD level runs [`matmul_panel`]'s passes over a built panel.
pub(crate) trait Pass {
    /// Whether 4-row passes build the next panel as they go ([`Side`]).
    const FUSE: bool;

    /// One pass over panel `p` (`nb` blocks) from an activation row with
    /// `rows` rows left, at `a` (terms at `t`; entries past the rows left
    /// repeat the last): the rows it computed and `[row][panel row]`. With a
    /// `side` (only when `FUSE` and `rows >= 4`) it also builds its share of
    /// the next panel.
    ///
    /// # Safety
    /// The level's features; `p` built from `F` blocks; `nb` activation
    /// blocks at each `a[r]` and their terms at each `t[r]`; the side job's
    /// contract.
    unsafe fn pass<F: Block32>(
        p: &[PBlock],
        nb: usize,
        rows: usize,
        a: [*const u8; 4],
        t: [*const ActBlock; 4],
        side: Option<Side>,
    ) -> (usize, [[f32; 4]; 4]);
}

/// AVX2's passes: 4 activation rows at a time (building the next panel), a
/// tail one row at a time.
pub(crate) struct Avx2;

impl Pass for Avx2 {
    const FUSE: bool = true;

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn pass<F: Block32>(
        p: &[PBlock],
        nb: usize,
        rows: usize,
        a: [*const u8; 4],
        t: [*const ActBlock; 4],
        side: Option<Side>,
    ) -> (usize, [[f32; 4]; 4]) {
        // SAFETY: the caller's contract.
        unsafe {
            match side {
                Some(s) if rows >= 4 => (4, run2::<4, F, true>(p, nb, a, t, s)),
                _ if rows >= 4 => (4, run2::<4, F, false>(p, nb, a, t, Side::NONE)),
                _ => {
                    let v = run2::<1, F, false>(p, nb, [a[0]], [t[0]], Side::NONE);
                    (1, [v[0]; 4])
                }
            }
        }
    }
}

/// The tile `t` (the `PanelFn` contract, see [`Tile`]) of a two-lane format
/// `F`, panels built here, passes at level `P`.
///
/// # Safety
/// AVX2, FMA and F16C and `P`'s features available; the tile's contract.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matmul_panel<F: Block32, P: Pass>(t: &Tile<'_>) {
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
    let nb = rb / F::BYTES;
    let n4 = (o1 - o0) / 4;
    assert!(w.len() >= o1 * rb && o1 <= n_out);
    TERMS.with(|c| {
        let mut terms = c.borrow_mut();
        // SAFETY: the caller guarantees `nb` activation blocks at rows r0..r1.
        unsafe { tile_terms::<F>(t, nb, &mut terms) };
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            // with 4-row passes the next panel is built during the passes over
            // the current one, in a second half of the scratch
            let fuse = P::FUSE && r1 - r0 >= 4;
            let need = if fuse { 2 * nb } else { nb };
            if s.len() < need {
                // SAFETY: all-zero bytes are valid vectors.
                s.resize(need, unsafe { std::mem::zeroed() });
            }
            let (mut cur, mut nxt) = s.split_at_mut(nb);
            let group = |g: usize| -> [*const u8; 4] {
                std::array::from_fn(|j| w[(o0 + 4 * g + j) * rb..].as_ptr())
            };
            let passes = (r1 - r0) / 4;
            for g in 0..n4 {
                let o = o0 + 4 * g;
                if !fuse || g == 0 {
                    // SAFETY: each row holds rb = nb * wb bytes (asserted
                    // above); AVX2 is enabled for this function.
                    unsafe { build::<F>(group(g), nb, cur) };
                }
                // the next panel, built during this one's 4-row passes
                let next = (fuse && g + 1 < n4).then(|| group(g + 1));
                let mut k = 0;
                let mut r = r0;
                while r < r1 {
                    let side = match next {
                        Some(nw) if r + 4 <= r1 => {
                            // pass k of `passes` builds its share of the next panel
                            let side = Side {
                                w: nw,
                                lo: k * nb / passes,
                                hi: (k + 1) * nb / passes,
                                dst: nxt.as_mut_ptr(),
                            };
                            k += 1;
                            Some(side)
                        }
                        _ => None,
                    };
                    let ar = |i: usize| a0.wrapping_add((r + i).min(r1 - 1) * stride);
                    let cr =
                        |i: usize| terms.as_ptr().wrapping_add(((r + i).min(r1 - 1) - r0) * nb);
                    let (a4, c4) = ([ar(0), ar(1), ar(2), ar(3)], [cr(0), cr(1), cr(2), cr(3)]);
                    // SAFETY: activation rows r..r1 (caller) and their terms
                    // (above); `cur` is a built panel; `P`'s features were
                    // detected before this instance was handed out; a side job
                    // writes `nxt` (nb blocks, not read during the pass) from
                    // the next 4 weight rows.
                    let (n, v) = unsafe { P::pass::<F>(cur, nb, r1 - r, a4, c4, side) };
                    for (i, vi) in v.iter().enumerate().take(n) {
                        for (j, &x) in vi.iter().enumerate() {
                            // SAFETY: row r + i < r1, columns o..o+4 of this
                            // tile (caller).
                            unsafe { *out.add((r + i) * n_out + o + j) = x };
                        }
                    }
                    r += n;
                }
                debug_assert!(next.is_none() || k == passes);
                if next.is_some() {
                    std::mem::swap(&mut cur, &mut nxt);
                }
            }
        });
    });
}
