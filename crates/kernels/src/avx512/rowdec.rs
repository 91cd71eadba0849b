//! The row decoder of the one-lane formats (Q4_0, Q5_0, Q8_0, MXFP4) with
//! AVX-512 VNNI: weight rows one after the other against one activation row
//! (decode), bit for bit `crate::orders::one_lane` (and so the panels of
//! `super::one_lane`).
//!
//! The weights are read straight from the file's layout, one row after the
//! other: a single sequential stream per thread, with software prefetch
//! hints `super::PF_DIST` ahead (AVX2's `rows4`, two rows interleaved block
//! by block, streams Q8_0 from memory at about 10 GB/s per core here; one
//! row at a time, 15-17). Per 16 blocks of a row, two blocks' `u` to a
//! vector against the two activation blocks ([`pair_u`]: Q4_0, Q5_0 and
//! MXFP4 take both blocks' nibbles in one shift and mask, Q5_0 its fifth
//! bits by a byte mask made of the two `qh` words, MXFP4 its codes by a
//! lookup), `vpdpbusd` leaves each block in 8 i32 lanes (started at its
//! share of `c`, see `super::one_lane`), a transposed reduction adds each
//! block's 8 lanes into one lane ([`reduce16`]), and the 16 `d_w * d_y` come
//! from one multiply (the scales read by scalar loads: [`scales16`]). Then
//! the FMAs run block by block in order, four rows' chains side by side (one
//! chain alone is bound by the FMA's latency): the same integer sums and the
//! same float ops as the scalar reference.
//!
//! [`decode_n`] takes 2 to 4 activation rows (a tile of so few rows without
//! a panel cache; MXFP4 has none, so every few-row expert of gpt-oss): each
//! group's quants and scales unpacked once, its sums formed against every
//! row, each row's chains as [`decode`]'s.
//!
//! (With AVX2's unpacking one block at a time this kernel was no faster than
//! `rows4` for Q4_0 and Q5_0; with the pairs Q5_0 streams about 1.5 times as
//! fast from memory on one core: BENCHMARKS.md, eighth session. The same
//! kernel for Q4_1 and Q5_1, each block's even and odd lanes kept apart for
//! the two-lane order and the min read as a second scale, was slower than
//! AVX2's `rows4`: not kept.)

use super::one_lane::off;
use crate::avx2::legacy::unpack_u;
use crate::block::{Block32, Quants};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Which blocks of a group of 16 vector `p` of [`row_sums`] holds in its halves:
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

/// [`decode`] for 1 to 4 activation rows at once (`a[i]`'s outputs in
/// `out[i]`): each weight group's quants and scales unpacked once, its sums
/// formed against every row; each output the same bits as [`decode`]'s.
///
/// # Safety
/// As [`decode`] (`a` and `out` of the same length, 1 to 4: asserted).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn decode_n<F: Block32>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    a: &[&[u8]],
    out: &mut [&mut [f32]],
) {
    // SAFETY: (every arm) the caller's; the lengths as matched.
    unsafe { rows_by_count!(rows_n::<F>(w, rb, o0, o1, a, out)) }
}

/// Rows `o0..o1` against the `A` activation rows `a`, four weight rows at a
/// time: each weight row's sums against every activation row
/// ([`row_sums_n`]), then each activation row's four FMA chains
/// ([`chains`]).
///
/// # Safety
/// As [`decode`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn rows_n<F: Block32, const A: usize>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    a: [&[u8]; A],
    mut out: [&mut [f32]; A],
) {
    const { assert!(!F::MIN, "the one-lane kernels take formats without a min") };
    let nb = rb / F::BYTES;
    let (ng, nbp) = (nb.div_ceil(16), 16 * nb.div_ceil(16));
    assert!(
        o0 <= o1
            && w.len() >= o1 * rb
            && a.iter().all(|a| a.len() >= nb * Q8_0_BYTES)
            && out.iter().all(|o| o.len() >= o1 - o0),
        "row too short"
    );
    DECODE.with(|s| {
        let (acts, sums) = &mut *s.borrow_mut();
        acts.clear();
        for a in a {
            // SAFETY: the features (caller); the lengths (asserted).
            unsafe { prepare_more::<F>(a, nb, acts) };
        }
        assert!(acts.len() == A * ng);
        // per activation row: 4 weight rows of nbp T's then nbp products
        let per = 4 * 2 * nbp;
        sums.resize(A * per, 0.0);
        let ys: [*const ActGroup; A] = std::array::from_fn(|r| acts[r * ng..].as_ptr());
        let mut o = o0;
        while o < o1 {
            let m = (o1 - o).min(4);
            for j in 0..m {
                // SAFETY: row o + j holds nb blocks, each activation row its
                // ng groups (asserted); A * per sums (resized above).
                unsafe {
                    row_sums_n::<F, A>(
                        w.as_ptr().add((o + j) * rb),
                        nb,
                        ys,
                        sums.as_mut_ptr().add(2 * j * nbp),
                        per,
                        nbp,
                    )
                };
            }
            for (r, out) in out.iter_mut().enumerate() {
                // SAFETY: activation row r's 4 rows of 2 * nbp sums, blocks
                // below nb.
                let acc = unsafe { chains(sums.as_ptr().add(r * per), nbp, nb) };
                out[o - o0..o - o0 + m].copy_from_slice(&acc[..m]);
            }
            o += m;
        }
    });
}

/// [`row_sums`] of one weight row against `A` prepared activation rows: its
/// quants and scales unpacked once per group of 16 blocks; activation row
/// `r`'s `T`s at `t + r * per`, its products `nbp` after them.
///
/// # Safety
/// The features of [`decode`]; the blocks and groups readable; `nbp` T's
/// and `nbp` products writable at `t + r * per` for each `r < A`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn row_sums_n<F: Block32, const A: usize>(
    x: *const u8,
    nb: usize,
    y: [*const ActGroup; A],
    t: *mut f32,
    per: usize,
    nbp: usize,
) {
    // Q8_0: q + 128 as an unsigned byte
    let flip = _mm512_set1_epi8(if F::BYTE_QUANTS { -128 } else { 0 });
    let mut g = 0;
    while g < nb {
        let n = (nb - g).min(16);
        // SAFETY: blocks g..g + n of the row, group g / 16 of every
        // activation row, the sums (caller).
        unsafe {
            super::prefetch_ahead(x.wrapping_add(g * F::BYTES), n * F::BYTES);
            let u: [__m512i; 8] = std::array::from_fn(|q| {
                let (b0, b1) = group_pair(q);
                _mm512_xor_si512(pair_u::<F>(x, g + b0, g + b1, g + n), flip)
            });
            let dw = scales16::<F>(x.add(g * F::BYTES), n);
            for (r, y) in y.iter().enumerate() {
                let ag = &*y.add(g / 16);
                let s: [__m512i; 8] =
                    std::array::from_fn(|q| _mm512_dpbusd_epi32(ag.c[q], u[q], ag.y[q]));
                let tr = t.add(r * per);
                _mm512_storeu_ps(tr.add(g), _mm512_cvtepi32_ps(reduce16(s)));
                _mm512_storeu_ps(
                    tr.add(nbp + g),
                    _mm512_mul_ps(dw, _mm512_loadu_ps(ag.d.as_ptr())),
                );
            }
        }
        g += 16;
    }
}

/// The activation row `a` (`nb` Q8_0 blocks) prepared for [`row_sums`] into `acts`.
///
/// # Safety
/// The features of [`decode`]; `a` holds `nb` blocks.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn prepare<F: Block32>(a: &[u8], nb: usize, acts: &mut Vec<ActGroup>) {
    acts.clear();
    // SAFETY: the caller's.
    unsafe { prepare_more::<F>(a, nb, acts) }
}

/// [`prepare`] appending to `acts` (another row's groups before it).
///
/// # Safety
/// As [`prepare`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn prepare_more<F: Block32>(a: &[u8], nb: usize, acts: &mut Vec<ActGroup>) {
    assert!(a.len() >= nb * Q8_0_BYTES);
    let offv = _mm512_set1_epi8(off::<F>() as u8 as i8);
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

/// Block `b` of the row at `x` as `u` quants (see `super::one_lane`), zero
/// at or past `end`.
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

/// The transposed reduction of [`row_sums`]: `s[p]` holds blocks
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
