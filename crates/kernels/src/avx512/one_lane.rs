//! The one-lane order (Q4_0, Q5_0, Q8_0; scalar reference
//! `crate::orders::one_lane`) with AVX-512 VNNI: panels of 16 weight rows,
//! `vpdpbusd` forming each block's exact integer sums for all 16 at once.
//!
//! Per output and block the order wants `T = Σ w_i y_i` exactly (`w` the
//! signed weight values, `y` the Q8_0 activation quants), then `acc =
//! fma(d_w * d_y, T, acc)`. `vpdpbusd` multiplies unsigned by signed bytes, so
//! the panels hold the weights as `u = w + OFF` (Q4_0: the stored nibble,
//! `OFF` 8; Q5_0: the stored 5 bits, 16; Q8_0: `q ^ 0x80`, 128) and each
//! activation block brings `c = -OFF Σ y`: starting a block's i32 lanes at
//! `c` and adding `Σ u y` gives `Σ (u - OFF) y = T` (no saturation:
//! `vpdpbusd` does not saturate, and |T|, |c|, |Σ u y| < 2^21).
//!
//! A panel block ([`ZBlock`]) is 8 vectors: vector `k` holds in dword `j`
//! row `j`'s `u` quants `4k..4k+4`. With the activation's dword `k`
//! broadcast (`vpdpbusd`'s memory operand), 8 instructions give the 16 rows'
//! `T` in 16 lanes, one conversion, one multiply (`d_w * d_y`, exact: two
//! f16) and one FMA finish the block for 16 outputs. The weights stay in
//! registers while up to 8 activation rows pass ([`run`]: with more, LLVM
//! keeps the accumulators in memory).
//!
//! Panels come from a `crate::PanelCache` (built once per matrix, [`cache`])
//! or are built per tile ([`panels`]); a last panel of 4, 8 or 12 rows
//! repeats its last row (those lanes are computed and not stored).
//!
//! Decode (one activation row, [`decode`]) reads the
//! weights straight from the file's layout one row after the other: a single
//! sequential stream per thread, with software prefetch hints
//! `super::PF_DIST` ahead (AVX2's `rows4`, two rows interleaved block by block, streams Q8_0 from
//! memory at about 10 GB/s per core here; one row at a time, 15-17). Per 16
//! blocks of a row, two blocks' `u` to a vector against the two activation
//! blocks, `vpdpbusd` leaves each block in 8 i32 lanes (started at its share
//! of `c`), a transposed reduction ([`reduce16`]) adds each block's 8 lanes
//! into one lane, and the 16 `d_w * d_y` from one multiply (the scales read
//! by scalar loads: [`scales16`]);
//! then the FMAs run block by block in order, four rows' chains side by side
//! (one chain alone is bound by the FMA's latency): the same `T`, the same
//! float ops as the panels and the scalar reference. Q4_0, Q5_0 and MXFP4
//! take two blocks' nibbles to a vector by one shift and mask, Q5_0 its fifth
//! bits by a byte mask made of the two `qh` words, MXFP4 its codes by a
//! lookup ([`pair_u`]). (With AVX2's unpacking one block at a time this row
//! kernel was no faster than `rows4` for Q4_0 and Q5_0; with the pairs Q5_0
//! streams about 1.5 times as fast from memory on one core: BENCHMARKS.md,
//! eighth session.)

use crate::avx2::legacy::unpack_u;
use crate::block::{Block32, Quants};
use crate::matmul::{PrepKey, Tile};
use crate::panel_cache::{CacheSpec, Panels};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One block (32 elements) of a panel of 16 weight rows (see the module doc).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct ZBlock {
    w: [__m512i; 8],
    /// Row `j`'s scale.
    d: [f32; 16],
}

/// One activation block prepared for [`run`]: the 32 quants (as 8 dwords),
/// `c = -OFF Σ y` and the scale.
#[derive(Clone, Copy, Default)]
#[repr(C, align(8))]
struct ActZ {
    y: [i32; 8],
    c: i32,
    d: f32,
}

/// A thread's working memory: the tile's prepared activations (row-major:
/// `(r - r0) * nb + block`), what they were prepared from (the thread's
/// next tile on the same rows skips the preparation), and, without a cache,
/// the panel being read.
type Scratch = (Vec<ActZ>, Option<PrepKey>, Vec<ZBlock>);

thread_local! {
    static SCRATCH: RefCell<Scratch> =
        const { RefCell::new((Vec::new(), None, Vec::new())) };
}

/// What a stored quant of `F` is offset by in the panels (`u = w + OFF`).
const fn off<F: Block32>() -> i32 {
    if F::BYTE_QUANTS {
        128
    } else {
        F::OFFSET as i32
    }
}

/// The cache of a one-lane format `F` at AVX-512 VNNI: panels of 16 rows, the
/// last one padded.
pub(crate) const fn cache<F: Block32>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes,
        build: build_cache::<F>,
    }
}

/// The bytes of the panels of `n_out` rows of `nb` blocks.
fn cache_bytes(n_out: usize, nb: usize) -> Option<usize> {
    Some(n_out.div_ceil(16) * nb * std::mem::size_of::<ZBlock>())
}

/// The `[n_out, k]` matrix's panels of 16 rows (`n_out.div_ceil(16)` of them,
/// `rb / F::BYTES` blocks each).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; `w` holds `n_out` rows
/// of `rb` bytes of `F`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_cache<F: Block32>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    // SAFETY: the caller's; all-zero bytes are valid blocks.
    Panels::OneLaneZ(unsafe { panels16(w, rb, n_out, rb / F::BYTES, build::<F>) })
}

/// The `[n_out, k]` matrix's panels of 16 rows (`n_out.div_ceil(16)` of
/// them, `nb` blocks each), each made by `build` from its 16 rows (the last
/// panel repeating its last row: [`rows16`]). Shared by the 16-row caches
/// (this order's and `avx512::klane`'s).
///
/// # Safety
/// `build`'s CPU features available; `w` holds `n_out` rows of `rb` bytes,
/// each `nb` blocks of `build`'s format; all-zero bytes are a valid `T`.
pub(crate) unsafe fn panels16<T: Copy>(
    w: &[u8],
    rb: usize,
    n_out: usize,
    nb: usize,
    build: unsafe fn([*const u8; 16], usize, &mut [T]),
) -> Vec<T> {
    assert!(n_out > 0 && w.len() >= n_out * rb);
    // SAFETY: all-zero bytes are a valid `T` (caller).
    let mut v = vec![unsafe { std::mem::zeroed::<T>() }; n_out.div_ceil(16) * nb];
    for (g, dst) in v.chunks_exact_mut(nb.max(1)).enumerate() {
        // SAFETY: rows 16g.. (at most n_out) hold nb blocks each (asserted,
        // caller); the features (caller).
        unsafe { build(rows16(w, rb, 16 * g, n_out), nb, dst) };
    }
    v
}

/// Pointers to the 16 rows of the panel starting at row `o`, rows at or past
/// `end` replaced by row `end - 1` (`o < end`, rows of `rb` bytes in `w`).
pub(crate) fn rows16(w: &[u8], rb: usize, o: usize, end: usize) -> [*const u8; 16] {
    std::array::from_fn(|j| w[(o + j).min(end - 1) * rb..].as_ptr())
}

/// 32 bytes of each of 16 rows (`q[j]`: row `j`) as 8 vectors of 16 dwords:
/// dword `j` of result `k` is row `j`'s dword `k`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) fn transpose16(q: [__m256i; 16]) -> [__m512i; 8] {
    // the 64-bit halves of two 256-bit lanes: [a0 a1 b0 b1 | a4 a5 b4 b5]
    // and [a2 a3 b2 b3 | a6 a7 b6 b7] (AVX2's permute2x128 0x20 / 0x31 on
    // each 256-bit half)
    let lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    let hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    // rows j and j + 8 side by side, then the 8x8 dword transpose of
    // `avx2::one_lane::build` on both halves at once: out[k] dword j = row
    // j's dword k
    let z: [__m512i; 8] =
        std::array::from_fn(|j| _mm512_inserti64x4::<1>(_mm512_castsi256_si512(q[j]), q[j + 8]));
    let t0 = _mm512_unpacklo_epi32(z[0], z[1]);
    let t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    let t2 = _mm512_unpacklo_epi32(z[2], z[3]);
    let t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    let t4 = _mm512_unpacklo_epi32(z[4], z[5]);
    let t5 = _mm512_unpackhi_epi32(z[4], z[5]);
    let t6 = _mm512_unpacklo_epi32(z[6], z[7]);
    let t7 = _mm512_unpackhi_epi32(z[6], z[7]);
    let u0 = _mm512_unpacklo_epi64(t0, t2);
    let u1 = _mm512_unpackhi_epi64(t0, t2);
    let u2 = _mm512_unpacklo_epi64(t1, t3);
    let u3 = _mm512_unpackhi_epi64(t1, t3);
    let u4 = _mm512_unpacklo_epi64(t4, t6);
    let u5 = _mm512_unpackhi_epi64(t4, t6);
    let u6 = _mm512_unpacklo_epi64(t5, t7);
    let u7 = _mm512_unpackhi_epi64(t5, t7);
    [
        _mm512_permutex2var_epi64(u0, lo, u4),
        _mm512_permutex2var_epi64(u1, lo, u5),
        _mm512_permutex2var_epi64(u2, lo, u6),
        _mm512_permutex2var_epi64(u3, lo, u7),
        _mm512_permutex2var_epi64(u0, hi, u4),
        _mm512_permutex2var_epi64(u1, hi, u5),
        _mm512_permutex2var_epi64(u2, hi, u6),
        _mm512_permutex2var_epi64(u3, hi, u7),
    ]
}

/// `nb` blocks of the 16 weight rows at `rows` into `dst` (see [`ZBlock`]).
///
/// # Safety
/// The features of [`build_cache`]; `nb` blocks of `F` at each `rows[j]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build<F: Block32>(rows: [*const u8; 16], nb: usize, dst: &mut [ZBlock]) {
    assert!(dst.len() >= nb);
    // Q8_0: q + 128 as an unsigned byte
    let flip = _mm256_set1_epi8(if F::BYTE_QUANTS { -128 } else { 0 });
    for (b, blk) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: block b of every row (caller).
        unsafe {
            // plain loops: `array::map`'s closures were left out of line
            // (a call and a round trip through memory per row)
            let mut xs = [std::ptr::null::<u8>(); 16];
            let mut q = [_mm256_setzero_si256(); 16];
            for j in 0..16 {
                xs[j] = rows[j].add(b * F::BYTES);
                q[j] = _mm256_xor_si256(unpack_u::<F>(xs[j]), flip);
            }
            blk.w = transpose16(q);
            if F::E8M0 {
                for j in 0..16 {
                    blk.d[j] = crate::mxfp4::e8m0_half(*xs[j]);
                }
            } else {
                let mut d = [0u16; 16];
                for j in 0..16 {
                    d[j] = u16::from_le_bytes([*xs[j], *xs[j].add(1)]);
                }
                _mm512_store_ps(
                    blk.d.as_mut_ptr(),
                    _mm512_cvtph_ps(_mm256_loadu_si256(d.as_ptr() as *const __m256i)),
                );
            }
        }
    }
}

/// The panel at `p` (`nb` blocks) against `R` prepared activation rows (the
/// first's `nb` blocks at `a`, the next `nb` blocks apart): lane `j` of
/// result `r` is output (activation row `r`, panel row `j`).
///
/// # Safety
/// The features of [`build_cache`]; `nb` blocks at `p` and `R * nb` at `a`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run<const R: usize>(p: *const ZBlock, nb: usize, a: *const ActZ) -> [__m512; R] {
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..nb {
        // SAFETY: block b < nb of the panel and of every row (caller).
        unsafe {
            let blk = &*p.add(b);
            let w: [__m512i; 8] = std::array::from_fn(|k| _mm512_load_si512(&blk.w[k]));
            let dw = _mm512_load_ps(blk.d.as_ptr());
            for (r, acc) in acc.iter_mut().enumerate() {
                let y = &*a.add(r * nb + b);
                // the block's exact sums: c + Σ u y (see the module doc), in
                // two chains (their sum is exact too): a row's chain is the
                // latency the next block waits on
                let mut s0 = _mm512_set1_epi32(y.c);
                let mut s1 = _mm512_setzero_si512();
                for k in 0..4 {
                    s0 = _mm512_dpbusd_epi32(s0, w[2 * k], _mm512_set1_epi32(y.y[2 * k]));
                    s1 = _mm512_dpbusd_epi32(s1, w[2 * k + 1], _mm512_set1_epi32(y.y[2 * k + 1]));
                }
                let s = _mm512_add_epi32(s0, s1);
                let dv = _mm512_mul_ps(dw, _mm512_set1_ps(y.d));
                *acc = _mm512_fmadd_ps(dv, _mm512_cvtepi32_ps(s), *acc);
            }
        }
    }
    acc
}

/// [`run`], its results stored at `dst` (output rows `n_out` apart), the
/// lanes of `mask` only.
///
/// # Safety
/// As [`run`]; outputs `dst[i * n_out + j]` for `i < R` and the lanes `j` of
/// `mask` writable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run_store<const R: usize>(
    p: *const ZBlock,
    nb: usize,
    a: *const ActZ,
    dst: *mut f32,
    n_out: usize,
    mask: __mmask16,
) {
    // SAFETY: forwarded (caller).
    unsafe {
        let v = run::<R>(p, nb, a);
        for (i, v) in v.iter().enumerate() {
            _mm512_mask_storeu_ps(dst.add(i * n_out), mask, *v);
        }
    }
}

/// The tile `t` of one-lane format `F` (the `PanelFn` contract): panels of 16
/// rows from the cache when given, else built here per panel.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; the tile's contract
/// (`t.o0` a multiple of 16); a cache built from this matrix.
pub(crate) unsafe fn panels<F: Block32>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::OneLaneZ(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<F>(t, cache) }
}

/// [`panels`] with the cache's blocks, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn matmul<F: Block32>(t: &Tile<'_>, cache: Option<&[ZBlock]>) {
    const { assert!(!F::MIN, "the one-lane kernels take formats without a min") };
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
    assert!(o0.is_multiple_of(16) && r0 < r1 && o1 <= n_out && w.len() >= o1 * rb);
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
    let off = off::<F>();
    let key = t.prep_key(nb, off as i64);
    SCRATCH.with(|s| {
        let (xs, made, tmp) = &mut *s.borrow_mut();
        if cache.is_none() {
            // SAFETY: all-zero bytes are valid blocks.
            crate::util::grow(tmp, nb, unsafe { std::mem::zeroed() });
        }
        let bias = _mm256_set1_epi8(-128);
        key.make_once(made, || {
            crate::util::grow(xs, (r1 - r0) * nb, ActZ::default());
            for r in r0..r1 {
                for b in 0..nb {
                    // SAFETY: block b of activation row r (caller).
                    unsafe {
                        let y = a0.add(r * stride + b * Q8_0_BYTES);
                        let q = _mm256_loadu_si256(y.add(2) as *const __m256i);
                        // Σ (y + 128) over the 32 quants, then minus 32 * 128
                        let s4 = _mm256_sad_epu8(_mm256_xor_si256(q, bias), _mm256_setzero_si256());
                        let s2 = _mm_add_epi64(
                            _mm256_castsi256_si128(s4),
                            _mm256_extracti128_si256::<1>(s4),
                        );
                        let sum = _mm_cvtsi128_si32(_mm_add_epi64(s2, _mm_unpackhi_epi64(s2, s2)))
                            - 32 * 128;
                        let x = &mut xs[(r - r0) * nb + b];
                        _mm256_storeu_si256(x.y.as_mut_ptr() as *mut __m256i, q);
                        x.c = -off * sum;
                        x.d = crate::avx2::f16_ptr(y);
                    }
                }
            }
        });
        assert!(xs.len() >= (r1 - r0) * nb);
        let xp = xs.as_ptr();
        let mut o = o0;
        while o < o1 {
            let rows = (o1 - o).min(16);
            let mask: __mmask16 = if rows == 16 { !0 } else { (1 << rows) - 1 };
            let p: *const ZBlock = match cache {
                Some(c) => c[o / 16 * nb..].as_ptr(),
                None => {
                    // SAFETY: rows o..o + rows (< o1) hold nb blocks (asserted).
                    unsafe { build::<F>(rows16(w, rb, o, o1), nb, tmp) };
                    tmp.as_ptr()
                }
            };
            let mut r = r0;
            while r < r1 {
                let n = r1 - r;
                let x = xp.wrapping_add((r - r0) * nb);
                let dst = out.wrapping_add(r * n_out + o);
                // SAFETY: the panel's nb blocks; rows r.. of the prepared
                // activations; outputs (r.., o..o + rows) are this call's to
                // write (caller).
                let step = unsafe {
                    match n {
                        8.. => {
                            run_store::<8>(p, nb, x, dst, n_out, mask);
                            8
                        }
                        4.. => {
                            run_store::<4>(p, nb, x, dst, n_out, mask);
                            4
                        }
                        2.. => {
                            run_store::<2>(p, nb, x, dst, n_out, mask);
                            2
                        }
                        _ => {
                            run_store::<1>(p, nb, x, dst, n_out, mask);
                            1
                        }
                    }
                };
                r += step;
            }
            o += 16;
        }
    });
}

/// Which blocks of a group of 16 vector `p` of [`row`] holds in its halves:
/// `(p, p + 4)` for `p < 4`, `(p + 4, p + 8)` after, so that [`reduce16`]
/// leaves the blocks in order.
const fn group_pair(p: usize) -> (usize, usize) {
    if p < 4 {
        (p, p + 4)
    } else {
        (p + 4, p + 8)
    }
}

/// 16 activation blocks prepared for [`decode`]: vector `p` holds the quants
/// of blocks [`group_pair`]`(p)` side by side, `c[p]` `-OFF` times each of
/// their dwords' 4 quants summed (a block's 8 lanes add up to its `c`), `d`
/// the 16 scales in order; blocks past the row's end are zero.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct ActGroup {
    y: [__m512i; 8],
    c: [__m512i; 8],
    d: [f32; 16],
}

thread_local! {
    /// [`decode`]'s prepared activation row, and its rows' block sums.
    static DECODE: RefCell<(Vec<ActGroup>, Vec<f32>)> =
        const { RefCell::new((Vec::new(), Vec::new())) };
}

/// One-lane order, weight rows `o0..o1` of the matrix `w` (rows of `rb` bytes
/// of `F`) x one Q8_0 activation row `a` (decode): `out[j]` is row `o0 + j`,
/// bit-identical to `crate::orders::one_lane` (see the module doc).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available (the lengths are
/// checked here).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn decode<F: Block32>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    a: &[u8],
    out: &mut [f32],
) {
    const { assert!(!F::MIN, "the one-lane kernels take formats without a min") };
    let nb = rb / F::BYTES;
    assert!(
        o0 <= o1 && w.len() >= o1 * rb && a.len() >= nb * Q8_0_BYTES && out.len() >= o1 - o0,
        "row too short"
    );
    DECODE.with(|s| {
        let (acts, sums) = &mut *s.borrow_mut();
        // SAFETY: the features (caller); the lengths (checked above).
        unsafe {
            prepare::<F>(a, nb, acts);
            rows::<F>(w, rb, o0, o1, nb, (acts, sums), out);
        }
    });
}

/// The activation row `a` (`nb` Q8_0 blocks) prepared for [`row`] into `acts`.
///
/// # Safety
/// The features of [`decode`]; `a` holds `nb` blocks.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn prepare<F: Block32>(a: &[u8], nb: usize, acts: &mut Vec<ActGroup>) {
    assert!(a.len() >= nb * Q8_0_BYTES);
    let offv = _mm512_set1_epi8(off::<F>() as u8 as i8);
    acts.clear();
    for g in 0..nb.div_ceil(16) {
        let mut ys = [_mm256_setzero_si256(); 16];
        let mut d = [0f32; 16];
        for (j, (y, d)) in ys.iter_mut().zip(&mut d).enumerate() {
            let b = 16 * g + j;
            if b < nb {
                // SAFETY: block b < nb of the row (asserted).
                unsafe {
                    let p = a.as_ptr().add(b * Q8_0_BYTES);
                    *y = _mm256_loadu_si256(p.add(2) as *const __m256i);
                    *d = crate::avx2::f16_ptr(p);
                }
            }
        }
        let mut y = [_mm512_setzero_si512(); 8];
        let mut c = [_mm512_setzero_si512(); 8];
        for p in 0..8 {
            let (b0, b1) = group_pair(p);
            y[p] = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(ys[b0]), ys[b1]);
            c[p] = _mm512_sub_epi32(
                _mm512_setzero_si512(),
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), offv, y[p]),
            );
        }
        acts.push(ActGroup { y, c, d });
    }
}

/// Rows `o0..o1` (of `nb` blocks, `rb` bytes) against the prepared `acts`,
/// four at a time: each row's blocks are reduced to their `T` and `d_w * d_y`
/// ([`row_sums`], one row after the other: one stream), then the four rows'
/// FMA chains run side by side (each a chain of `nb` dependent FMAs: alone,
/// its latency would bound the row).
///
/// # Safety
/// The features of [`decode`]; the rows in `w`, `acts` prepared for `nb`
/// blocks, `out` long enough.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn rows<F: Block32>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    nb: usize,
    (acts, sums): (&[ActGroup], &mut Vec<f32>),
    out: &mut [f32],
) {
    let nbp = 16 * nb.div_ceil(16);
    assert!(w.len() >= o1 * rb && acts.len() >= nbp / 16 && out.len() >= o1 - o0);
    // per row: nbp T's, then nbp products
    sums.resize(4 * 2 * nbp, 0.0);
    let mut o = o0;
    while o < o1 {
        let m = (o1 - o).min(4);
        for j in 0..m {
            let (t, p) = sums[2 * j * nbp..2 * (j + 1) * nbp].split_at_mut(nbp);
            // SAFETY: row o + j holds nb blocks, `acts` its groups (asserted).
            unsafe { row_sums::<F>(w.as_ptr().add((o + j) * rb), nb, acts.as_ptr(), t, p) };
        }
        // SAFETY: 4 rows of 2 * nbp sums (resized above), blocks below nb.
        let acc = unsafe { chains(sums.as_ptr(), nbp, nb) };
        out[o - o0..o - o0 + m].copy_from_slice(&acc[..m]);
        o += m;
    }
}

/// The FMA chains of 4 rows whose sums [`row_sums`] left at `sums` (row `j`'s
/// `T`s at `2 j nbp`, its products `nbp` after): per row, block by block,
/// `acc = fma(p, T, acc)`; 4 blocks at a time with the rows in the lanes of
/// one vector (a 4x4 transpose of each), the last `nb % 4` blocks one by one.
/// Rows whose sums were not written give lanes nobody reads.
///
/// # Safety
/// The features of [`decode`]; `8 * nbp` sums readable, `nb <= nbp`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn chains(sums: *const f32, nbp: usize, nb: usize) -> [f32; 4] {
    // rows j's 4 values at block b, transposed: lane j of result i is row
    // j's value at block b + i
    let load4 = |base: usize, b: usize| {
        // SAFETY: blocks b..b + 4 <= nb of the 4 rows (caller).
        let r: [__m128; 4] =
            std::array::from_fn(|j| unsafe { _mm_loadu_ps(sums.add(2 * j * nbp + base + b)) });
        let t0 = _mm_unpacklo_ps(r[0], r[1]);
        let t1 = _mm_unpackhi_ps(r[0], r[1]);
        let t2 = _mm_unpacklo_ps(r[2], r[3]);
        let t3 = _mm_unpackhi_ps(r[2], r[3]);
        [
            _mm_movelh_ps(t0, t2),
            _mm_movehl_ps(t2, t0),
            _mm_movelh_ps(t1, t3),
            _mm_movehl_ps(t3, t1),
        ]
    };
    let mut acc = _mm_setzero_ps();
    let mut b = 0;
    while b + 4 <= nb {
        let (t, p) = (load4(0, b), load4(nbp, b));
        for i in 0..4 {
            acc = _mm_fmadd_ps(p[i], t[i], acc);
        }
        b += 4;
    }
    let mut out = [0f32; 4];
    // SAFETY: 4 floats fit in `out`.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), acc) };
    for (j, acc) in out.iter_mut().enumerate() {
        for b in b..nb {
            // SAFETY: block b < nb of row j (caller).
            let (t, p) = unsafe { (*sums.add(2 * j * nbp + b), *sums.add((2 * j + 1) * nbp + b)) };
            *acc = p.mul_add(t, *acc);
        }
    }
    out
}

/// One weight row (`nb` blocks of `F` at `x`) against the prepared activation
/// groups at `y` (`nb.div_ceil(16)` of them): each block's `T` into `t` and
/// `d_w * d_y` into `p` (whole groups of 16; past `nb`, zero).
///
/// # Safety
/// The features of [`decode`]; the blocks and groups readable, `t` and `p`
/// hold `16 * nb.div_ceil(16)` values.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn row_sums<F: Block32>(
    x: *const u8,
    nb: usize,
    y: *const ActGroup,
    t: &mut [f32],
    p: &mut [f32],
) {
    // Q8_0: q + 128 as an unsigned byte
    let flip = _mm512_set1_epi8(if F::BYTE_QUANTS { -128 } else { 0 });
    assert!(t.len() >= 16 * nb.div_ceil(16) && p.len() >= t.len());
    let mut g = 0;
    while g < nb {
        let n = (nb - g).min(16);
        // SAFETY: blocks g..g + n of the row and group g / 16 (caller).
        unsafe {
            let ag = &*y.add(g / 16);
            super::prefetch_ahead(x.wrapping_add(g * F::BYTES), n * F::BYTES);
            let mut s = [_mm512_setzero_si512(); 8];
            for (q, s) in s.iter_mut().enumerate() {
                let (b0, b1) = group_pair(q);
                let u = pair_u::<F>(x, g + b0, g + b1, g + n);
                *s = _mm512_dpbusd_epi32(ag.c[q], _mm512_xor_si512(u, flip), ag.y[q]);
            }
            _mm512_storeu_ps(t.as_mut_ptr().add(g), _mm512_cvtepi32_ps(reduce16(s)));
            let dw = scales16::<F>(x.add(g * F::BYTES), n);
            _mm512_storeu_ps(
                p.as_mut_ptr().add(g),
                _mm512_mul_ps(dw, _mm512_loadu_ps(ag.d.as_ptr())),
            );
        }
        g += 16;
    }
}

/// The f32 scales of the first `n` (at most 16) blocks of `F` at `x`, zero
/// past them: each block's scale field read by a scalar load, packed into
/// dwords by integer shifts, and converted in one vector. (A `vpgatherdd` of
/// the 16 fields took about a third of the row kernel's time on Zen 4; the
/// integer ports are otherwise idle here.)
///
/// # Safety
/// The features of [`decode`]; the first `n` blocks at `x` readable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn scales16<F: Block32>(x: *const u8, n: usize) -> __m512 {
    debug_assert!(n <= 16);
    if F::E8M0 {
        // one byte per block: 4 blocks per dword
        let byte = |j: usize| -> u32 {
            if j < n {
                // SAFETY: block j < n is readable (caller).
                unsafe { *x.add(j * F::BYTES) as u32 }
            } else {
                0
            }
        };
        let d = |q: usize| {
            (byte(4 * q) | byte(4 * q + 1) << 8 | byte(4 * q + 2) << 16 | byte(4 * q + 3) << 24)
                as i32
        };
        e8m0_half16(_mm512_cvtepu8_epi32(_mm_setr_epi32(d(0), d(1), d(2), d(3))))
    } else {
        // an f16 per block: 2 blocks per dword
        let half = |j: usize| -> u32 {
            if j < n {
                // SAFETY: block j < n is readable (caller): its 2 leading
                // bytes.
                unsafe {
                    u16::from_le_bytes([*x.add(j * F::BYTES), *x.add(j * F::BYTES + 1)]) as u32
                }
            } else {
                0
            }
        };
        let d = |q: usize| (half(2 * q) | half(2 * q + 1) << 16) as i32;
        _mm512_cvtph_ps(_mm256_setr_epi32(
            d(0),
            d(1),
            d(2),
            d(3),
            d(4),
            d(5),
            d(6),
            d(7),
        ))
    }
}

/// `crate::mxfp4::e8m0_half` of the low byte of each lane: 2^(e-128) as
/// f32 bits, `(e - 1) << 23` for `e >= 2`, the subnormals `0x200000 << e`
/// below.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn e8m0_half16(v: __m512i) -> __m512 {
    let e = _mm512_and_si512(v, _mm512_set1_epi32(0xFF));
    let normal = _mm512_slli_epi32::<23>(_mm512_sub_epi32(e, _mm512_set1_epi32(1)));
    let sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x0020_0000), e);
    let small = _mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(2));
    _mm512_castsi512_ps(_mm512_mask_blend_epi32(small, normal, sub))
}

/// Block `b` of the row at `x` as `u` quants (see the module doc), zero at
/// or past `end`.
///
/// # Safety
/// The features of [`decode`]; block `b` readable if `b < end`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn half<F: Block32>(x: *const u8, b: usize, end: usize) -> __m256i {
    if b < end {
        // SAFETY: block b is readable (caller).
        unsafe { unpack_u::<F>(x.add(b * F::BYTES)) }
    } else {
        _mm256_setzero_si256()
    }
}

/// Blocks `b0` and `b1` of the row at `x` as `u` quants in the two halves of
/// one vector (a block at or past `end` zero). The 4-bit formats take both
/// blocks' 16 bytes in one vector, each twice, and split the nibbles with one
/// shift and mask (`super::mxfp4::nibbles2`); Q5_0 adds its fifth bits under
/// a byte mask made of the two blocks' `qh` words, MXFP4 looks its codes up:
/// the bytes of `unpack_u`, in about half the instructions (MXFP4: 11.3
/// against 10.2 GB/s per core from memory here).
///
/// # Safety
/// The features of [`decode`]; blocks below `end` readable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn pair_u<F: Block32>(x: *const u8, b0: usize, b1: usize, end: usize) -> __m512i {
    let (p0, p1) = (x.wrapping_add(b0 * F::BYTES), x.wrapping_add(b1 * F::BYTES));
    match F::QUANTS {
        Quants::Nibbles { qs } if b1 < end => {
            // SAFETY: blocks b0 < b1 < end (matched) are readable (caller).
            unsafe { super::mxfp4::nibbles2(p0.add(qs), p1.add(qs)) }
        }
        // SAFETY: blocks b0 < b1 < end (matched) are readable (caller).
        Quants::Nibbles5 { qh, qs } if b1 < end => unsafe {
            let n = super::mxfp4::nibbles2(p0.add(qs), p1.add(qs));
            // byte j of the vector is element j % 32 of block b0 (j < 32)
            // or b1: its fifth bit is bit j of the two qh words side by side
            let h0 = (p0.add(qh) as *const u32).read_unaligned() as u64;
            let h1 = (p1.add(qh) as *const u32).read_unaligned() as u64;
            // n < 16: adding 16 sets the bit
            _mm512_mask_add_epi8(n, _cvtu64_mask64(h0 | h1 << 32), n, _mm512_set1_epi8(0x10))
        },
        Quants::Mxfp4 { qs } if b1 < end => {
            // SAFETY: as above; KVALUES_U is 16 bytes.
            unsafe {
                let nib = super::mxfp4::nibbles2(p0.add(qs), p1.add(qs));
                let t = _mm_loadu_si128(crate::mxfp4::KVALUES_U.as_ptr() as *const __m128i);
                _mm512_shuffle_epi8(_mm512_broadcast_i32x4(t), nib)
            }
        }
        // SAFETY: forwarded (caller).
        _ => unsafe {
            _mm512_inserti64x4::<1>(
                _mm512_castsi256_si512(half::<F>(x, b0, end)),
                half::<F>(x, b1, end),
            )
        },
    }
}

/// The transposed reduction of [`row`]: `s[p]` holds blocks
/// [`group_pair`]`(p)` in its 256-bit halves, 8 i32 lanes each; lane `j` of
/// the result is block `j`'s 8 lanes added (exact).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn reduce16(s: [__m512i; 8]) -> __m512i {
    // per 128-bit lane: dwords (0 + 2, 1 + 3) of both vectors interleaved
    let l1 = |a: __m512i, b: __m512i| {
        _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b))
    };
    // per 128-bit lane: one sum for each of the 4 vectors
    let l2 = |a: __m512i, b: __m512i| {
        _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
    };
    // b0: 128-bit lanes (0, 1) hold blocks 0..4's halves, (2, 3) blocks
    // 4..8's; b1 the same for blocks 8..16
    let b0 = l2(l1(s[0], s[1]), l1(s[2], s[3]));
    let b1 = l2(l1(s[4], s[5]), l1(s[6], s[7]));
    // the halves of each block added: lanes (0 + 1, 2 + 3) of b0, then of b1
    _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b10_00_10_00>(b0, b1),
        _mm512_shuffle_i32x4::<0b11_01_11_01>(b0, b1),
    )
}
