//! Prefill matmul on "panels": 4 weight rows of a 32-element format
//! (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) unpacked once into a transposed scratch
//! layout and then dotted with every activation row of the tile.
//!
//! In [`run`] the per-output float op sequence is exactly that of the
//! single-row kernels in `legacy` (llama.cpp's AVX2 `vec_dot` order), so results
//! are bit-identical to `vec_dot`, whatever the batch or tiling:
//! - In the `legacy` kernel each output keeps 8 float lanes; lane `g` of
//!   block `b` receives `fma(dx*dy, (f32)P_g, acc_g)` where `P_g` is the exact
//!   integer sum of the 4 products of elements `4g..4g+4` of the block; at the
//!   end `hsum_f32_8` adds `(g, g+4)`, then `(g, g+2)`, then the last pair.
//! - Here one vector holds the lanes of 4 weight rows: vector `h` of a block
//!   has, for row `j`, lanes `2j` and `2j+1` = lanes `g = 2h` and `2h+1` of row
//!   `j` (the row's bytes `8h..8h+8` in qword `j`). So each lane sees the same
//!   integer `P_g`, the same `dx*dy` product and the same FMA chain; the final
//!   reduction adds the same pairs in the same order (IEEE addition is
//!   commutative, so `hi + lo` and `lo + hi` are the same value).
//!
//! What it saves: each weight block is unpacked once per tile instead of once
//! per (weight row, activation tile), `dx*dy` is one multiply per 4 rows, and
//! four rows share each activation broadcast.
//!
//! Q4_0/Q4_1/Q5_0/Q5_1 run the same panels in the two-lane order of
//! `crate::lanes2` ([`run2`]): the i16 products of the 4 vectors are summed
//! before one widening, conversion and FMA per (block, activation row), which
//! is what makes them ~1.5x faster than the `vec_dot` order; `two_lane::rows4` is the
//! same order for 4 weight rows x 1 activation row straight from the weight
//! bytes (decode), so decode and prefill agree bit for bit.
//!
//! The two-lane kernels take every format's quants unsigned, as `maddubs`
//! wants its first operand, so they need no sign trick: Q4_0 and Q5_0 are
//! unpacked without their offset (`u = x + 8` / `x + 16`) and the offset's
//! share `offset * Σ y` is subtracted from the i16 sums (per block in
//! `two_lane::rows4`; precomputed per activation row and block for a tile in
//! [`offset_terms`]). The integer sums are the same exact values, so the
//! results are unchanged; the sign ops per (block, row) are gone.

use super::legacy::{bits32, f16x2, ld32, nibbles};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use gguf::GgmlType;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One block (32 elements) of 4 weight rows, transposed as described above.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct PBlock {
    /// Vector `h`: qword `j` = row `j`'s quants `8h..8h+8` (signed, or
    /// unsigned for the formats with a min).
    pub(crate) x: [__m256i; 4],
    /// `|x|` (signed formats only: the sign trick's unsigned operand).
    pub(crate) ax: [__m256i; 4],
    /// `[d0, d0, d1, d1, d2, d2, d3, d3]` (f16 scales as f32).
    pub(crate) d: __m256,
    /// Same layout for the mins of Q4_1/Q5_1.
    pub(crate) m: __m256,
}

thread_local! {
    static SCRATCH: RefCell<Vec<PBlock>> = const { RefCell::new(Vec::new()) };
    /// Per-block terms of a tile's activation rows (`act_terms`), row-major.
    pub(crate) static CORR: RefCell<Vec<ActBlock>> = const { RefCell::new(Vec::new()) };
}

/// What the two-lane kernel needs of one activation block besides its quants,
/// computed once per activation row and block for a whole tile (see
/// [`act_terms`]) instead of once per 4 weight rows: the offset term of
/// Q4_0/Q5_0 and the block's f16 scale (and Q8_1 sum) as f32 (exact).
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct ActBlock {
    /// i16 lane `i` of every qword: `offset * Σ_h (y[8h + 2i] + y[8h + 2i + 1])`.
    pub(crate) corr: i64,
    /// The block's `d`.
    pub(crate) d: f32,
    /// The block's `s` (Q8_1; 0 for Q8_0).
    pub(crate) s: f32,
}

/// Describes one weight format for the panel kernel.
#[derive(Clone, Copy)]
pub(crate) struct Fmt {
    /// Weight block bytes.
    pub(crate) wb: usize,
    /// Activation block bytes (Q8_0 or Q8_1) and offset of its quants.
    pub(crate) ab: usize,
    pub(crate) qoff: usize,
    /// Whether the format carries a min (unsigned quants, Q8_1 activations).
    pub(crate) min: bool,
    /// Which unpacker (see [`unpack`]).
    pub(crate) kind: u8,
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn un_q4_0(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the 18 bytes of the block at `x`.
    unsafe { _mm256_sub_epi8(nibbles(x.add(2)), _mm256_set1_epi8(8)) }
}
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn un_q4_1(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the 20 bytes of the block at `x`.
    unsafe { nibbles(x.add(4)) }
}
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn un_q5_0(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the 22 bytes of the block at `x`.
    unsafe {
        _mm256_or_si256(
            nibbles(x.add(6)),
            _mm256_andnot_si256(bits32(x.add(2)), _mm256_set1_epi8(0xF0u8 as i8)),
        )
    }
}
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn un_q5_1(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the 24 bytes of the block at `x`.
    unsafe {
        _mm256_or_si256(
            nibbles(x.add(8)),
            _mm256_and_si256(bits32(x.add(4)), _mm256_set1_epi8(0x10)),
        )
    }
}
/// Q5_0's quants without the offset: `0..32` (the value is this minus 16).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn un_q5_0u(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the 22 bytes of the block at `x`.
    unsafe {
        _mm256_or_si256(
            nibbles(x.add(6)),
            _mm256_and_si256(bits32(x.add(2)), _mm256_set1_epi8(0x10)),
        )
    }
}
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn un_q8_0(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the 34 bytes of the block at `x`.
    unsafe { ld32(x.add(2)) }
}

pub(crate) fn fmt(ty: GgmlType) -> Option<Fmt> {
    use GgmlType::*;
    let (wb, min, kind) = match ty {
        Q4_0 => (18, false, 0),
        Q4_1 => (20, true, 1),
        Q5_0 => (22, false, 2),
        Q5_1 => (24, true, 3),
        Q8_0 => (Q8_0_BYTES, false, 4),
        _ => return None,
    };
    let (ab, qoff) = if min {
        (Q8_1_BYTES, 4)
    } else {
        (Q8_0_BYTES, 2)
    };
    Some(Fmt {
        wb,
        ab,
        qoff,
        min,
        kind,
    })
}

/// Unpack the 32 quants of the block at `x` (bytes as the `legacy` kernel
/// sees them) for format kind `K` (a constant, so each build loop inlines it).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn unpack<const K: u8>(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the whole block at `x`.
    unsafe {
        match K {
            0 => un_q4_0(x),
            1 => un_q4_1(x),
            2 => un_q5_0(x),
            3 => un_q5_1(x),
            _ => un_q8_0(x),
        }
    }
}

/// The two-lane kernels' unpack: quants as unsigned bytes for every kind
/// (Q4_0 and Q5_0 without their offset, see [`offset`]), so `maddubs` takes
/// them as they are, with no sign trick.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn unpack_u<const K: u8>(x: *const u8) -> __m256i {
    // SAFETY: caller guarantees the whole block at `x`.
    unsafe {
        match K {
            0 => nibbles(x.add(2)),
            2 => un_q5_0u(x),
            _ => unpack::<K>(x),
        }
    }
}

/// What kind `K`'s unsigned quants exceed the signed value by (Q4_0: 8,
/// Q5_0: 16; 0 for the formats with a min, whose quants are unsigned).
pub(crate) const fn offset(k: u8) -> i16 {
    match k {
        0 => 8,
        2 => 16,
        _ => 0,
    }
}

/// Whether `ty` has a panel kernel.
pub(crate) fn has_panel(ty: GgmlType) -> bool {
    fmt(ty).is_some()
}

/// `([d0, d0, d1, d1, d2, d2, d3, d3], same for m)` from the f16 (d, m)
/// at the start of each of 4 blocks.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dm4(xs: [*const u8; 4]) -> (__m256, __m256) {
    // SAFETY: caller guarantees 4 readable bytes at each pointer.
    let u = xs.map(|p| unsafe { std::ptr::read_unaligned(p as *const i32) });
    // [d0 m0 d1 m1 d2 m2 d3 m3] in one conversion (exact)
    let dm = _mm256_cvtph_ps(_mm_set_epi32(u[3], u[2], u[1], u[0]));
    (_mm256_moveldup_ps(dm), _mm256_movehdup_ps(dm))
}

/// Per row `j`: lanes `2j + 2j+1` of `acc` summed (the two-lane order's
/// `acc_E + acc_O`), plus lane `2j` of `summ` for the formats with a min.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn finish2(min: bool, acc: __m256, summ: __m256) -> [f32; 4] {
    let (mut v, mut m) = ([0f32; 8], [0f32; 8]);
    // SAFETY: 8 floats stored into 8-float arrays.
    unsafe {
        _mm256_storeu_ps(v.as_mut_ptr(), acc);
        _mm256_storeu_ps(m.as_mut_ptr(), summ);
    }
    std::array::from_fn(|j| {
        let r = v[2 * j] + v[2 * j + 1];
        if min {
            r + m[2 * j]
        } else {
            r
        }
    })
}

/// Two-lane order (`crate::lanes2`) on a panel built with unsigned quants:
/// per block and activation row, the i16 products of the 4 vectors are summed
/// (exact: no overflow for these formats), less the offset term for Q4_0 and
/// Q5_0 (`t[r]`: per block, see [`act_terms`]), widened once, converted once
/// and accumulated with one FMA.
///
/// With `FUSE`, the pass also builds blocks `side.lo..side.hi` of the next
/// panel (format kind `K`, see [`Side`]).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run2<const R: usize, const MIN: bool, const K: u8, const FUSE: bool>(
    f: Fmt,
    p: &[PBlock],
    nb: usize,
    a: [*const u8; R],
    t: [*const ActBlock; R],
    side: Side,
) -> [[f32; 4]; R] {
    assert!(p.len() >= nb);
    assert!(!FUSE || (side.lo <= side.hi && side.hi <= nb && f.kind == K));
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
                let xs = side.w.map(|q| q.add(b * f.wb));
                build_block::<K, true>(xs, ahead, &mut *side.dst.add(b));
            }
        }
        // SAFETY: the caller guarantees `nb` activation blocks of `f.ab` bytes
        // at each `a[r]` and their `nb` terms at each `t[r]`.
        unsafe {
            let mut s16 = block_sums(&blk.x, a.map(|q| q.add(b * f.ab + f.qoff)));
            for r in 0..R {
                let tb = &*t[r].add(b);
                if !MIN {
                    s16[r] = _mm256_sub_epi16(s16[r], _mm256_set1_epi64x(tb.corr));
                }
                let dv = _mm256_mul_ps(blk.d, _mm256_broadcast_ss(&tb.d));
                let sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[r], ones));
                acc[r] = _mm256_fmadd_ps(dv, sum, acc[r]);
            }
        }
    }
    if MIN {
        // the min term's FMA chain in a pass of its own (it does not depend on
        // the quants), so the main pass keeps its accumulators in registers
        for (b, blk) in p.iter().enumerate().take(nb) {
            for r in 0..R {
                // SAFETY: as above.
                let s = unsafe { &(*t[r].add(b)).s };
                summ[r] = _mm256_fmadd_ps(blk.m, _mm256_broadcast_ss(s), summ[r]);
            }
        }
    }
    // SAFETY: target features as for this function.
    std::array::from_fn(|r| unsafe { finish2(MIN, acc[r], summ[r]) })
}

/// The two-lane i16 sums of one block of 4 weight rows (`x`, the transposed
/// unsigned quants of a panel block) against `R` activation blocks (their 32
/// quants at `q[r]`): per row `r`, the sum over `h` of `vpmaddubsw(x[h],
/// qword h of q[r] broadcast)` (exact, see `crate::lanes2`). Shared by the
/// panels built in the tile (`run2`) and the cached ones (`two_lane`).
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

/// The per-block terms of activation row `a` (`nb` blocks of `ab` bytes:
/// Q8_0, or Q8_1 with `MIN`) for format kind `k` into `out[..nb]`: the f16
/// `d` (and `s`) as f32, and for Q4_0/Q5_0 the offset term, i16 lane `i` of
/// every qword `offset * Σ_h (y[8h + 2i] + y[8h + 2i + 1])`, what the unsigned
/// quants' products in [`run2`]'s i16 sums exceed the signed ones by
/// (|·| <= 16 * 8 * 128).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn act_terms(
    k: u8,
    a: &[u8],
    ab: usize,
    qoff: usize,
    nb: usize,
    out: &mut [ActBlock],
) {
    assert!(a.len() >= nb * ab && out.len() >= nb);
    let off = _mm256_set1_epi8(offset(k) as i8);
    let min = offset(k) == 0;
    for (b, o) in out.iter_mut().enumerate().take(nb) {
        // SAFETY: block b lies inside `a` (asserted above).
        unsafe {
            let ds = _mm_cvtph_ps(_mm_cvtsi32_si128(std::ptr::read_unaligned(
                a.as_ptr().add(b * ab) as *const i32,
            )));
            o.d = _mm_cvtss_f32(ds);
            o.s = if min {
                _mm_cvtss_f32(_mm_movehdup_ps(ds))
            } else {
                0.0
            };
            o.corr = if min {
                0
            } else {
                // i16 lane l = offset * (y[2l] + y[2l + 1]); qword h holds pairs 4h..4h+4
                let p = _mm256_maddubs_epi16(off, ld32(a.as_ptr().add(b * ab + qoff)));
                let q = _mm_add_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
                let q = _mm_add_epi16(q, _mm_unpackhi_epi64(q, q));
                _mm_cvtsi128_si64(q)
            };
        }
    }
}

/// [`act_terms`] of a tile's activation rows `r0..r1` (at `a0 + r * stride`,
/// `nb` blocks each) into `corr`, row-major (`(r - r0) * nb + block`).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` activation blocks of `f.ab` bytes at each row.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn tile_terms(
    f: Fmt,
    a0: *const u8,
    stride: usize,
    r0: usize,
    r1: usize,
    nb: usize,
    corr: &mut Vec<ActBlock>,
) {
    corr.clear();
    corr.resize((r1 - r0) * nb, ActBlock::default());
    for r in r0..r1 {
        let o = (r - r0) * nb;
        // SAFETY: the caller guarantees `nb` activation blocks at row r.
        unsafe {
            let a = std::slice::from_raw_parts(a0.add(r * stride), nb * f.ab);
            act_terms(f.kind, a, f.ab, f.qoff, nb, &mut corr[o..o + nb]);
        }
    }
}

/// Unpack blocks of 4 weight rows (each `nb` blocks at `w[j]`) into `dst`:
/// signed quants and their absolute values (the `vec_dot` order's sign
/// trick), or with `U` the unsigned quants of [`unpack_u`] alone (two-lane).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build<const K: u8, const U: bool>(
    f: Fmt,
    w: [*const u8; 4],
    nb: usize,
    dst: &mut [PBlock],
) {
    assert!(dst.len() >= nb);
    // the 4 rows are usually consecutive: prefetch the same block of the next
    // group of 4 rows (with few activation rows the build streams the weights
    // from memory, and waited on every load without this)
    let ahead = 4 * (w[1] as isize).wrapping_sub(w[0] as isize);
    for (b, blk) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: the caller guarantees `nb` blocks of `f.wb` bytes at each `w[j]`.
        unsafe { build_block::<K, U>(w.map(|p| p.add(b * f.wb)), ahead, blk) }
    }
}

/// One block of [`build`]: the blocks at `xs` (one per weight row) into
/// `blk`, and a prefetch of the blocks `ahead` bytes further.
///
/// # Safety
/// AVX2, FMA, F16C; a whole block of format kind `K` at each `xs[j]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_block<const K: u8, const U: bool>(
    xs: [*const u8; 4],
    ahead: isize,
    blk: &mut PBlock,
) {
    // SAFETY: per the contract above; prefetch hints never fault.
    unsafe {
        for x in xs {
            _mm_prefetch::<_MM_HINT_T0>(x.wrapping_offset(ahead) as *const i8);
        }
        let r = xs.map(|p| if U { unpack_u::<K>(p) } else { unpack::<K>(p) });
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
        if !U {
            blk.ax = blk.x.map(|v| _mm256_sign_epi8(v, v));
        }
        (blk.d, blk.m) = dm4(xs);
    }
}

/// The next panel's share of a fused [`run2`] pass: blocks `lo..hi` of the
/// 4 weight rows at `w` are built into the panel at `dst`. Building the next
/// 4 weight rows while the current ones are dotted lets the unpacking's
/// shuffles and logic run beside the multiplies (which alone use the
/// multiply pipe), and hides the weight stream behind them: one pass at a
/// time, unpack then dot, left the build a third of the dotting's time.
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

/// [`build`] in the two-lane form (unsigned quants) for the kind of `f` (0..4).
///
/// # Safety
/// As [`build`].
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn build_two_lane(f: Fmt, w: [*const u8; 4], nb: usize, dst: &mut [PBlock]) {
    // SAFETY: the caller's contract.
    unsafe {
        match f.kind {
            0 => build::<0, true>(f, w, nb, dst),
            1 => build::<1, true>(f, w, nb, dst),
            2 => build::<2, true>(f, w, nb, dst),
            _ => build::<3, true>(f, w, nb, dst),
        }
    }
}

/// Dot products of a built panel (`nb` blocks) with `R` activation rows:
/// `[r][j]` for weight row `j` of the panel.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run<const R: usize, const MIN: bool>(
    f: Fmt,
    p: &[PBlock],
    nb: usize,
    a: [*const u8; R],
) -> [[f32; 4]; R] {
    assert!(p.len() >= nb);
    let mut acc = [[_mm256_setzero_ps(); 4]; R];
    let mut summ = [_mm256_setzero_ps(); R];
    let ones = _mm256_set1_epi16(1);
    for (b, blk) in p.iter().enumerate().take(nb) {
        // SAFETY: the caller guarantees `nb` activation blocks of `f.ab` bytes
        // at each `a[r]`.
        unsafe {
            let y = a.map(|q| q.add(b * f.ab));
            let mut dv = [_mm256_setzero_ps(); R];
            for r in 0..R {
                // lanes: (d, s) for Q8_1, (d, _) for Q8_0
                let yds = f16x2(y[r]);
                dv[r] = _mm256_mul_ps(blk.d, _mm256_broadcastss_ps(yds));
                if MIN {
                    let s = _mm256_broadcastss_ps(_mm_movehdup_ps(yds));
                    summ[r] = _mm256_fmadd_ps(blk.m, s, summ[r]);
                }
            }
            for h in 0..4 {
                let x = blk.x[h];
                let ax = blk.ax[h];
                for r in 0..R {
                    let q = std::ptr::read_unaligned(y[r].add(f.qoff + 8 * h) as *const i64);
                    let qy = _mm256_set1_epi64x(q);
                    let prod = if MIN {
                        _mm256_maddubs_epi16(x, qy)
                    } else {
                        _mm256_maddubs_epi16(ax, _mm256_sign_epi8(qy, x))
                    };
                    let sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(prod, ones));
                    acc[r][h] = _mm256_fmadd_ps(dv[r], sum, acc[r][h]);
                }
            }
        }
    }
    let mut out = [[0f32; 4]; R];
    for r in 0..R {
        let [a0, a1, a2, a3] = acc[r];
        // lanes (2j, 2j+1) of row j: (g0+g4, g1+g5) + (g2+g6, g3+g7), then the pair
        let u = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
        let s = _mm256_hadd_ps(u, u); // [r0 r1 r0 r1 | r2 r3 r2 r3]
        let mut v = [0f32; 8];
        // SAFETY: 8 floats written to an 8-float array.
        unsafe { _mm256_storeu_ps(v.as_mut_ptr(), s) };
        out[r] = [v[0], v[1], v[4], v[5]];
        if MIN {
            let mut m = [0f32; 8];
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(m.as_mut_ptr(), summ[r]) };
            for j in 0..4 {
                out[r][j] += m[2 * j];
            }
        }
    }
    out
}

/// `out[r * n_out + o]` for `o in o0..o0 + 4 * n4`, `r in r0..r1`: dot products
/// of weight rows (`rb` bytes each, at `w`) with activation rows `acts`
/// (`stride` bytes apart, at `a0`), each bit-identical to the `legacy` kernel
/// or, with `TWO` for Q4_0/Q4_1/Q5_0/Q5_1, to the two-lane reference.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `w` must hold rows `o0..o0 + 4 * n4`
/// of `rb` bytes each (`rb` a multiple of the block size of `ty`), each
/// activation row `r0..r1` at `a0 + r * stride` the matching `rb / wb` blocks,
/// and `out` `r1 * n_out` floats of which this call alone writes the listed ones.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matmul_panel<const TWO: bool, const W: u8>(
    ty: GgmlType,
    w: &[u8],
    rb: usize,
    o0: usize,
    n4: usize,
    a0: *const u8,
    stride: usize,
    r0: usize,
    r1: usize,
    out: *mut f32,
    n_out: usize,
) {
    let f = fmt(ty).expect("panel format");
    let nb = rb / f.wb;
    assert!(w.len() >= (o0 + 4 * n4) * rb && o0 + 4 * n4 <= n_out);
    let two = TWO && f.kind < 4;
    CORR.with(|c| {
        let mut corr = c.borrow_mut();
        if two {
            // SAFETY: the caller guarantees `nb` activation blocks at rows r0..r1.
            unsafe { tile_terms(f, a0, stride, r0, r1, nb, &mut corr) };
        }
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            // two-lane on AVX2 with a 4-row pass per panel: the next panel is
            // built during the passes over the current one (see `Side`), in a
            // second half of the scratch
            let fuse = two && W == 0 && r1 - r0 >= 4;
            let need = if fuse { 2 * nb } else { nb };
            if s.len() < need {
                // SAFETY: all-zero bytes are valid vectors.
                s.resize(need, unsafe { std::mem::zeroed() });
            }
            let (mut cur, mut nxt) = s.split_at_mut(nb);
            let group = |g: usize| -> [*const u8; 4] {
                std::array::from_fn(|j| w[(o0 + 4 * g + j) * rb..].as_ptr())
            };
            let build_into = |rows: [*const u8; 4], dst: &mut [PBlock]| {
                // SAFETY: each row holds rb = nb * wb bytes (asserted above);
                // AVX2 is enabled for this function.
                unsafe {
                    match (f.kind, two) {
                        (0, false) => build::<0, false>(f, rows, nb, dst),
                        (0, true) => build::<0, true>(f, rows, nb, dst),
                        (1, _) => build::<1, true>(f, rows, nb, dst),
                        (2, false) => build::<2, false>(f, rows, nb, dst),
                        (2, true) => build::<2, true>(f, rows, nb, dst),
                        (3, _) => build::<3, true>(f, rows, nb, dst),
                        _ => build::<4, false>(f, rows, nb, dst),
                    }
                }
            };
            let passes = (r1 - r0) / 4;
            for g in 0..n4 {
                let o = o0 + 4 * g;
                if !fuse || g == 0 {
                    build_into(group(g), cur);
                }
                // the next panel, built during this one's 4-row passes
                let next = (fuse && g + 1 < n4).then(|| group(g + 1));
                let mut k = 0;
                let mut r = r0;
                while r < r1 {
                    // SAFETY: the caller guarantees activation rows r0..r1 and
                    // that output elements (row r, columns o..o+4) are ours to
                    // write; `corr` holds nb terms per row r0..r1 in the
                    // two-lane order (the only order that reads them); an
                    // AVX-512 `W` was detected at runtime before this instance
                    // was handed out; a side job writes `nxt` (nb blocks, not
                    // read during the pass) from the next 4 weight rows.
                    let (n, v) = unsafe {
                        let ar = |i: usize| a0.add((r + i).min(r1 - 1) * stride);
                        let cr =
                            |i: usize| corr.as_ptr().wrapping_add(((r + i).min(r1 - 1) - r0) * nb);
                        let (a4, c4) = ([ar(0), ar(1), ar(2), ar(3)], [cr(0), cr(1), cr(2), cr(3)]);
                        if W != 0 {
                            // AVX-512: 4 activation rows per pass (two per vector)
                            // in either order; a tail of 1-3 rows repeats its last row
                            (
                                (r1 - r).min(4),
                                crate::avx512::panel_run(W, two, f, cur, nb, a4, c4),
                            )
                        } else {
                            // activation rows per pass: 4 (two-lane), else 1 (two
                            // rows sharing panel loads measured no faster in the
                            // vec_dot order, and spilled registers)
                            let per = if two { 4 } else { 1 };
                            let n = if r + per <= r1 { per } else { 1 };
                            let none = Side::NONE;
                            let v: [[f32; 4]; 4] = match (two, f.min) {
                                (true, _) if n == 4 && next.is_some() => {
                                    // pass k of `passes` builds its share of the next panel
                                    let side = Side {
                                        w: next.unwrap_or([std::ptr::null(); 4]),
                                        lo: k * nb / passes,
                                        hi: (k + 1) * nb / passes,
                                        dst: nxt.as_mut_ptr(),
                                    };
                                    k += 1;
                                    match f.kind {
                                        0 => run2::<4, false, 0, true>(f, cur, nb, a4, c4, side),
                                        1 => run2::<4, true, 1, true>(f, cur, nb, a4, c4, side),
                                        2 => run2::<4, false, 2, true>(f, cur, nb, a4, c4, side),
                                        _ => run2::<4, true, 3, true>(f, cur, nb, a4, c4, side),
                                    }
                                }
                                (true, false) if n == 4 => {
                                    run2::<4, false, 0, false>(f, cur, nb, a4, c4, none)
                                }
                                (true, true) if n == 4 => {
                                    run2::<4, true, 0, false>(f, cur, nb, a4, c4, none)
                                }
                                (true, false) => {
                                    let v = run2::<1, false, 0, false>(
                                        f,
                                        cur,
                                        nb,
                                        [a4[0]],
                                        [c4[0]],
                                        none,
                                    );
                                    [v[0]; 4]
                                }
                                (true, true) => {
                                    let v = run2::<1, true, 0, false>(
                                        f,
                                        cur,
                                        nb,
                                        [a4[0]],
                                        [c4[0]],
                                        none,
                                    );
                                    [v[0]; 4]
                                }
                                (false, false) => [run::<1, false>(f, cur, nb, [a4[0]])[0]; 4],
                                (false, true) => [run::<1, true>(f, cur, nb, [a4[0]])[0]; 4],
                            };
                            (n, v)
                        }
                    };
                    for (i, vi) in v.iter().enumerate().take(n) {
                        for (j, &x) in vi.iter().enumerate() {
                            // SAFETY: row r + i < r1, columns o..o+4 of this tile (see above).
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
