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
//! repeats its last row (those lanes are computed and not stored). The
//! cache of Q4_0 and Q5_0 holds its panels packed ([`NBlock`]: nibbles and
//! fifth-bit masks, 0.75 bytes per weight instead of 1.125), unpacked in
//! registers by each pass ([`weights`]): a batched decode step of 8 rows
//! streams the whole cache, and qwen2.5-coder's went from 253 to 277
//! tokens/s with it (BENCHMARKS.md, eighth session; unpacking into a
//! scratch copy of the panel first was 5 % slower than no packing).
//!
//! Decode (one activation row) is `super::rowdec`'s.

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
pub(crate) const fn off<F: Block32>() -> i32 {
    if F::BYTE_QUANTS {
        128
    } else {
        F::OFFSET as i32
    }
}

/// The cache of a one-lane format `F` at AVX-512 VNNI: panels of 16 rows, the
/// last one padded; for the 4- and 5-bit formats packed ([`NBlock`]).
pub(crate) const fn cache<F: Block32>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes::<F>,
        build: build_cache::<F>,
    }
}

/// The cache of `F` holds [`NBlock`]s (Q4_0, Q5_0), else [`ZBlock`]s.
const fn packed<F: Block32>() -> bool {
    matches!(F::QUANTS, Quants::Nibbles { .. } | Quants::Nibbles5 { .. })
}

/// The bytes of the panels of `n_out` rows of `nb` blocks.
fn cache_bytes<F: Block32>(n_out: usize, nb: usize) -> Option<usize> {
    let block = if packed::<F>() {
        std::mem::size_of::<NBlock>()
    } else {
        std::mem::size_of::<ZBlock>()
    };
    Some(n_out.div_ceil(16) * nb * block)
}

/// A [`ZBlock`] of a 4- or 5-bit format packed for the cache (384 bytes
/// instead of 576: a batched decode step streams the whole cache): vector
/// `k` of the block's `u` quants in the low nibbles of `nib[k % 4]` (`k <
/// 4`) or the high ones (`k >= 4`), the fifth bits of vector `k` as the byte
/// mask `hi[k]` (Q5_0), the scales. Unpacked in registers by the passes
/// ([`weights`]).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct NBlock {
    nib: [__m512i; 4],
    hi: [u64; 8],
    d: [f32; 16],
}

/// [`NBlock`] of `z` (its quants below 32).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pack(z: &ZBlock) -> NBlock {
    let m = _mm512_set1_epi8(0x0F);
    let mut n = NBlock {
        nib: [_mm512_setzero_si512(); 4],
        hi: [0; 8],
        d: z.d,
    };
    for k in 0..4 {
        // below 16 after the mask: the shift stays within each byte
        n.nib[k] = _mm512_or_si512(
            _mm512_and_si512(z.w[k], m),
            _mm512_slli_epi16::<4>(_mm512_and_si512(z.w[k + 4], m)),
        );
    }
    for k in 0..8 {
        n.hi[k] = _mm512_test_epi8_mask(z.w[k], _mm512_set1_epi8(0x10));
    }
    n
}

/// [`build`] packed: 16 rows' `nb` blocks as [`NBlock`]s.
///
/// # Safety
/// As [`build`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_packed<F: Block32>(rows: [*const u8; 16], nb: usize, dst: &mut [NBlock]) {
    // the unpacked panel in the thread's tile buffer (no tile runs on this
    // thread while a cache is built)
    SCRATCH.with(|s| {
        let tmp = &mut s.borrow_mut().2;
        // SAFETY: all-zero bytes are valid blocks.
        crate::util::grow(tmp, nb, unsafe { std::mem::zeroed() });
        // SAFETY: the caller's.
        unsafe { build::<F>(rows, nb, tmp) };
        for (d, z) in dst.iter_mut().zip(tmp.iter()) {
            *d = pack(z);
        }
    });
}

/// The `[n_out, k]` matrix's panels of 16 rows (`n_out.div_ceil(16)` of them,
/// `rb / F::BYTES` blocks each).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; `w` holds `n_out` rows
/// of `rb` bytes of `F`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_cache<F: Block32>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / F::BYTES;
    // SAFETY: the caller's; all-zero bytes are valid blocks.
    unsafe {
        if packed::<F>() {
            Panels::OneLaneN(panels16(w, rb, n_out, nb, build_packed::<F>))
        } else {
            Panels::OneLaneZ(panels16(w, rb, n_out, nb, build::<F>))
        }
    }
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
unsafe fn run<const R: usize, const P: bool>(
    p: *const u8,
    nb: usize,
    a: *const ActZ,
) -> [__m512; R] {
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..nb {
        // SAFETY: block b < nb of the panel and of every row (caller).
        unsafe {
            let (w, dw) = weights::<P>(p, b);
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

/// Block `b` of the panel at `p` ([`NBlock`]s if `P`, else [`ZBlock`]s): its
/// 8 vectors of `u` quants and its scales.
///
/// # Safety
/// The features of [`build_cache`]; block `b` at `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn weights<const P: bool>(p: *const u8, b: usize) -> ([__m512i; 8], __m512) {
    let mut w = [_mm512_setzero_si512(); 8];
    // SAFETY: block b at p (caller).
    unsafe {
        if P {
            let n = &*(p as *const NBlock).add(b);
            let m = _mm512_set1_epi8(0x0F);
            let sixteen = _mm512_set1_epi8(0x10);
            for k in 0..4 {
                let v = _mm512_load_si512(&n.nib[k]);
                let lo = _mm512_and_si512(v, m);
                let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m);
                w[k] = _mm512_mask_add_epi8(lo, n.hi[k], lo, sixteen);
                w[k + 4] = _mm512_mask_add_epi8(hi, n.hi[k + 4], hi, sixteen);
            }
            (w, _mm512_load_ps(n.d.as_ptr()))
        } else {
            let z = &*(p as *const ZBlock).add(b);
            for k in 0..8 {
                w[k] = _mm512_load_si512(&z.w[k]);
            }
            (w, _mm512_load_ps(z.d.as_ptr()))
        }
    }
}

/// [`run`], its results stored at `dst` (output rows `n_out` apart), the
/// lanes of `mask` only.
///
/// # Safety
/// As [`run`]; outputs `dst[i * n_out + j]` for `i < R` and the lanes `j` of
/// `mask` writable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run_store<const R: usize, const P: bool>(
    p: *const u8,
    nb: usize,
    a: *const ActZ,
    dst: *mut f32,
    n_out: usize,
    mask: __mmask16,
) {
    // SAFETY: forwarded (caller).
    unsafe {
        let v = run::<R, P>(p, nb, a);
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
        Some(Panels::OneLaneZ(c)) => Some(Cached::Z(c.as_slice())),
        Some(Panels::OneLaneN(c)) => Some(Cached::N(c.as_slice())),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<F>(t, cache) }
}

/// The panel at `p` against `n` prepared activation rows at `xp` (`nb`
/// blocks apart), 8, 4, 2 or 1 at a time; row `i`'s outputs at `dst + i
/// n_out`, the lanes of `mask`.
///
/// # Safety
/// As [`run_store`] for each pass.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn passes<const P: bool>(
    p: *const u8,
    nb: usize,
    xp: *const ActZ,
    n: usize,
    dst: *mut f32,
    n_out: usize,
    mask: __mmask16,
) {
    let mut r = 0;
    while r < n {
        let x = xp.wrapping_add(r * nb);
        let d = dst.wrapping_add(r * n_out);
        // SAFETY: forwarded (caller).
        r += unsafe {
            match n - r {
                8.. => {
                    run_store::<8, P>(p, nb, x, d, n_out, mask);
                    8
                }
                4.. => {
                    run_store::<4, P>(p, nb, x, d, n_out, mask);
                    4
                }
                2.. => {
                    run_store::<2, P>(p, nb, x, d, n_out, mask);
                    2
                }
                _ => {
                    run_store::<1, P>(p, nb, x, d, n_out, mask);
                    1
                }
            }
        };
    }
}

/// A cache's panels as [`matmul`] reads them.
#[derive(Clone, Copy)]
enum Cached<'a> {
    Z(&'a [ZBlock]),
    N(&'a [NBlock]),
}

impl Cached<'_> {
    /// Blocks held.
    fn len(self) -> usize {
        match self {
            Cached::Z(c) => c.len(),
            Cached::N(c) => c.len(),
        }
    }
}

/// [`panels`] with the cache's blocks, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn matmul<F: Block32>(t: &Tile<'_>, cache: Option<Cached<'_>>) {
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
            let (p, packed) = match cache {
                Some(Cached::Z(c)) => (c[o / 16 * nb..].as_ptr() as *const u8, false),
                Some(Cached::N(c)) => (c[o / 16 * nb..].as_ptr() as *const u8, true),
                None => {
                    // SAFETY: rows o..o + rows (< o1) hold nb blocks (asserted).
                    unsafe { build::<F>(rows16(w, rb, o, o1), nb, tmp) };
                    (tmp.as_ptr() as *const u8, false)
                }
            };
            let (n, d) = (r1 - r0, out.wrapping_add(r0 * n_out + o));
            // SAFETY: the panel's nb blocks; the prepared activations of
            // rows r0..r1; outputs (r0..r1, o..o + rows) are this call's to
            // write (caller).
            unsafe {
                if packed {
                    passes::<true>(p, nb, xp, n, d, n_out, mask)
                } else {
                    passes::<false>(p, nb, xp, n, d, n_out, mask)
                }
            }
            o += 16;
        }
    });
}
