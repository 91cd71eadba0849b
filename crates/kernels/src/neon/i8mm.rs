//! The one-lane formats (Q4_0, Q5_0, Q8_0) with FEAT_I8MM: matmul in the
//! one-lane order (`crate::orders::one_lane`: per block the exact integer sum
//! `T = Σ x_i y_i` of its 32 products, then `acc = fma(d_x * d_y, T, acc)`,
//! block by block), which is what lets `SMMLA` pay: one instruction
//! multiplies a 2x8 block of weights by a 2x8 block of activations into the
//! four i32 sums of 2 outputs x 2 activation rows, so four of them (the four
//! 8-element segments of a block) give the exact `T` of four outputs, which
//! then share one conversion and one FMA. (`vec_dot`'s order keeps 8 lanes of
//! 4 products per block and output: `SMMLA`'s 8-product sums cannot form
//! those.)
//!
//! - [`panels`]: tiles of weight-row pairs; each pair's blocks are unpacked
//!   once per tile into `SMMLA`'s layout (8 bytes of row `o`, 8 of row
//!   `o + 1`), the tile's activation rows once per tile the same way in
//!   pairs (an odd last row paired with itself, its copy's sums dropped).
//! - [`rows4`] (decode, one activation row): 4 weight rows by `SDOT` (the
//!   level has dotprod), each row's 4 lanes added pairwise into its exact
//!   `T`, one conversion and FMA for the 4 outputs.
//!
//! Every output's float ops are those of the scalar reference, in its order,
//! whatever the batch, tile or thread count: bit-identical to it.

use super::{f16_at, ld_s8, ld_u8, Dot4, Sdot};
use crate::block::{Block32, Quants};
use crate::matmul::Tile;
use crate::panel_cache::{CacheSpec, Panels};
use crate::q8::Q8_0_BYTES;
use std::arch::aarch64::*;
use std::cell::RefCell;

/// `acc + A · Bᵀ` for the 2x8 i8 matrices `a` (rows: bytes 0..8, 8..16) and
/// `b`: lanes `[a0·b0, a0·b1, a1·b0, a1·b1]`, each a sum of 8 products.
///
/// # Safety
/// FEAT_I8MM available.
#[inline(always)]
unsafe fn mmla(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut r = acc;
    // SAFETY: reached only from kernels listed at `Level::NeonI8mm` in
    // `crate::formats` (i8mm detected at runtime: caller); the asm only
    // reads and writes the named registers. (The `vmmlaq_s32` intrinsic is
    // not stable.)
    unsafe {
        std::arch::asm!(
            ".arch_extension i8mm",
            "smmla {r:v}.4s, {a:v}.16b, {b:v}.16b",
            r = inout(vreg) r,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// The 32 values of block `x` of `B` (stored quant minus `B::OFFSET`) as
/// signed bytes: (elements 0..16, elements 16..32).
#[inline(always)]
unsafe fn values<B: Block32>(x: &[u8]) -> (int8x16_t, int8x16_t) {
    // SAFETY: the loads are bounds-checked (`ld_u8`, `ld_s8`, slicing); the
    // rest are register-only NEON ops.
    unsafe {
        let (lo, hi) = match B::QUANTS {
            Quants::Bytes { qs } => return (ld_s8(&x[qs..]), ld_s8(&x[qs + 16..])),
            Quants::Nibbles { qs } => {
                let q = ld_u8(&x[qs..]);
                (vandq_u8(q, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(q))
            }
            Quants::Mxfp4 { qs } => {
                let q = ld_u8(&x[qs..]);
                let t = ld_u8(&crate::mxfp4::KVALUES_U);
                (
                    vqtbl1q_u8(t, vandq_u8(q, vdupq_n_u8(0x0F))),
                    vqtbl1q_u8(t, vshrq_n_u8::<4>(q)),
                )
            }
            Quants::Nibbles5 { qh, qs } => {
                let q = ld_u8(&x[qs..]);
                let (h0, h1) = super::legacy::q5_high_bits(&x[qh..qh + 4]);
                let b4 = vdupq_n_u8(0x10);
                (
                    vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), vandq_u8(h0, b4)),
                    vorrq_u8(vshrq_n_u8::<4>(q), vandq_u8(h1, b4)),
                )
            }
        };
        let off = vdupq_n_s8(B::OFFSET);
        (
            vsubq_s8(vreinterpretq_s8_u8(lo), off),
            vsubq_s8(vreinterpretq_s8_u8(hi), off),
        )
    }
}

/// Two rows' 32 values `(lo0, hi0)`, `(lo1, hi1)` in `SMMLA`'s layout: segment
/// `s` (elements `8s..8s + 8`) of row 0, then of row 1.
#[inline(always)]
unsafe fn interleave(r0: (int8x16_t, int8x16_t), r1: (int8x16_t, int8x16_t)) -> [int8x16_t; 4] {
    // SAFETY: register-only NEON ops.
    unsafe {
        let z = |a: int8x16_t, b: int8x16_t, hi: bool| {
            let (a, b) = (vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b));
            vreinterpretq_s8_s64(if hi {
                vzip2q_s64(a, b)
            } else {
                vzip1q_s64(a, b)
            })
        };
        [
            z(r0.0, r1.0, false),
            z(r0.0, r1.0, true),
            z(r0.1, r1.1, false),
            z(r0.1, r1.1, true),
        ]
    }
}

/// 4 weight rows (whole blocks of `B`, no min) by one Q8_0 activation row in
/// the one-lane order.
///
/// # Safety
/// NEON with dotprod available.
pub(crate) unsafe fn rows4<B: Block32>(w: [&[u8]; 4], a: &[u8]) -> [f32; 4] {
    // SAFETY: forwarded contract.
    unsafe { rows4_impl::<B>(w, a) }
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn rows4_impl<B: Block32>(w: [&[u8]; 4], a: &[u8]) -> [f32; 4] {
    assert!(!B::MIN && B::ACT_BYTES == Q8_0_BYTES);
    let nb = w[0].len() / B::BYTES;
    assert!(w.iter().all(|r| r.len() >= nb * B::BYTES) && a.len() >= nb * Q8_0_BYTES);
    // SAFETY: every load below is bounds-checked (block slices of the rows,
    // whose lengths were checked above); dotprod as the caller guarantees.
    unsafe {
        let mut acc = vdupq_n_f32(0.0);
        let z = vdupq_n_s32(0);
        for i in 0..nb {
            let y = &a[i * Q8_0_BYTES..(i + 1) * Q8_0_BYTES];
            let (ylo, yhi) = (ld_s8(&y[2..]), ld_s8(&y[18..]));
            let t: [int32x4_t; 4] = std::array::from_fn(|j| {
                let x = &w[j][i * B::BYTES..(i + 1) * B::BYTES];
                let (lo, hi) = values::<B>(x);
                Sdot::dot4(Sdot::dot4(z, lo, ylo), hi, yhi)
            });
            // [T0, T1, T2, T3], exact
            let t = vpaddq_s32(vpaddq_s32(t[0], t[1]), vpaddq_s32(t[2], t[3]));
            let dx: [f32; 4] = std::array::from_fn(|j| f16_at(&w[j][i * B::BYTES..], 0));
            let d = vmulq_n_f32(vld1q_f32(dx.as_ptr()), f16_at(y, 0));
            acc = vfmaq_f32(acc, vcvtq_f32_s32(t), d);
        }
        let mut out = [0f32; 4];
        vst1q_f32(out.as_mut_ptr(), acc);
        out
    }
}

/// One block of a row pair in `SMMLA`'s layout, with its scales as the
/// products take them: weights `[d_o, d_o, d_o1, d_o1]`, activations
/// `[d_r, d_r1, d_r, d_r1]`. (80 bytes per 64 weights in a cache.)
#[derive(Clone, Copy)]
pub(crate) struct Pair {
    q: [int8x16_t; 4],
    d: float32x4_t,
}

thread_local! {
    /// The weight pair being read, and the tile's activation pairs.
    static SCRATCH: RefCell<(Vec<Pair>, Vec<Pair>)> =
        const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Weight rows `o`, `o + 1` (`nb` blocks of `B` each, `rb` bytes apart at
/// `w`) in `SMMLA`'s layout into `dst`.
///
/// # Safety
/// NEON available (the aarch64 baseline).
#[inline(always)]
unsafe fn build_pair<B: Block32>(w: &[u8], rb: usize, o: usize, dst: &mut [Pair]) {
    for (i, dst) in dst.iter_mut().enumerate() {
        let x0 = &w[o * rb + i * B::BYTES..o * rb + (i + 1) * B::BYTES];
        let x1 = &w[(o + 1) * rb + i * B::BYTES..(o + 1) * rb + (i + 1) * B::BYTES];
        // SAFETY: bounds-checked loads of the two rows' block i; register
        // and stack-array NEON ops otherwise.
        unsafe {
            let q = interleave(values::<B>(x0), values::<B>(x1));
            let (d0, d1) = (f16_at(x0, 0), f16_at(x1, 0));
            *dst = Pair {
                q,
                d: vld1q_f32([d0, d0, d1, d1].as_ptr()),
            };
        }
    }
}

/// The cache of `B` at this level: every row pair as [`tile`] lays it out.
pub(crate) const fn cache<B: Block32>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes,
        build: build_cache::<B>,
    }
}

/// The bytes of `n_out` rows (in pairs) of `nb` blocks.
fn cache_bytes(n_out: usize, nb: usize) -> Option<usize> {
    Some(n_out / 2 * nb * std::mem::size_of::<Pair>())
}

/// Every row pair of a `B` matrix (`n_out` rows of `rb` bytes at `w`, `n_out`
/// even): pair `o / 2`'s blocks at `[o / 2 * nb..]`.
///
/// # Safety
/// NEON available; `w` holds the rows.
unsafe fn build_cache<B: Block32>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / B::BYTES;
    assert!(w.len() >= n_out * rb && n_out.is_multiple_of(2));
    // SAFETY: register-only NEON ops (zero values).
    let zero = unsafe {
        Pair {
            q: [vdupq_n_s8(0); 4],
            d: vdupq_n_f32(0.0),
        }
    };
    let mut v = vec![zero; n_out / 2 * nb];
    for (p, dst) in v.chunks_exact_mut(nb.max(1)).enumerate().take(n_out / 2) {
        // SAFETY: rows 2p, 2p + 1 < n_out hold nb blocks (asserted above).
        unsafe { build_pair::<B>(w, rb, 2 * p, dst) };
    }
    Panels::Pairs(v)
}

/// The tile `t` of `B` (the `PanelFn` contract, see [`Tile`]), reading the
/// row pairs from the cache when given (same bits).
///
/// # Safety
/// NEON with dotprod and i8mm available; the tile's contract; a cache built
/// from this matrix.
pub(crate) unsafe fn panels<B: Block32>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::Pairs(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: forwarded contract.
    unsafe { tile::<B>(t, cache) }
}

#[target_feature(enable = "neon,dotprod,i8mm")]
unsafe fn tile<B: Block32>(t: &Tile<'_>, cache: Option<&[Pair]>) {
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
    assert!(!B::MIN && B::ACT_BYTES == Q8_0_BYTES);
    let nb = rb / B::BYTES;
    assert!(
        w.len() >= o1 * rb
            && o1 <= n_out
            && (o1 - o0).is_multiple_of(2)
            && r0 < r1
            && nb * Q8_0_BYTES <= stride
            && o0.is_multiple_of(2)
    );
    if let Some(c) = cache {
        assert!(c.len() >= o1 / 2 * nb);
    }
    let n_pairs = (r1 - r0).div_ceil(2);
    let zero = Pair {
        q: [vdupq_n_s8(0); 4],
        d: vdupq_n_f32(0.0),
    };
    SCRATCH.with(|s| {
        let (wp, ap) = &mut *s.borrow_mut();
        wp.resize(nb, zero);
        ap.resize(n_pairs * nb, zero);
        // the activation rows in pairs (an odd last one with itself)
        for p in 0..n_pairs {
            let ra = r0 + 2 * p;
            let rb1 = (ra + 1).min(r1 - 1);
            // SAFETY: rows ra, rb1 < r1 hold nb Q8_0 blocks at a0 + r * stride
            // (the caller's contract); register-only NEON ops otherwise.
            unsafe {
                let y0 = std::slice::from_raw_parts(a0.add(ra * stride), nb * Q8_0_BYTES);
                let y1 = std::slice::from_raw_parts(a0.add(rb1 * stride), nb * Q8_0_BYTES);
                for i in 0..nb {
                    let (b0, b1) = (&y0[i * Q8_0_BYTES..], &y1[i * Q8_0_BYTES..]);
                    let q = interleave(
                        (ld_s8(&b0[2..]), ld_s8(&b0[18..])),
                        (ld_s8(&b1[2..]), ld_s8(&b1[18..])),
                    );
                    let (d0, d1) = (f16_at(b0, 0), f16_at(b1, 0));
                    let d = vld1q_f32([d0, d1, d0, d1].as_ptr());
                    ap[p * nb + i] = Pair { q, d };
                }
            }
        }
        let mut o = o0;
        while o < o1 {
            let wq: &[Pair] = match cache {
                Some(c) => &c[o / 2 * nb..(o / 2 + 1) * nb],
                None => {
                    // SAFETY: rows o, o + 1 < o1 hold nb blocks (asserted).
                    unsafe { build_pair::<B>(w, rb, o, wp) };
                    wp
                }
            };
            let mut p = 0;
            while p < n_pairs {
                let n = match n_pairs - p {
                    4.. => 4,
                    2.. => 2,
                    _ => 1,
                };
                let a = &ap[p * nb..(p + n) * nb];
                let store = |v: &[[f32; 4]]| {
                    for (k, lanes) in v.iter().enumerate() {
                        let r = r0 + 2 * (p + k);
                        let cols = [(r, o, 0), (r + 1, o, 1), (r, o + 1, 2), (r + 1, o + 1, 3)];
                        for (row, col, l) in cols {
                            if row < r1 {
                                // SAFETY: (row, col) is in this tile (row <
                                // r1, col < o1 <= n_out): the caller lets
                                // this call write it.
                                unsafe { *out.add(row * n_out + col) = lanes[l] };
                            }
                        }
                    }
                };
                // SAFETY: i8mm available (caller); the pairs hold nb blocks.
                unsafe {
                    match n {
                        4 => store(&run::<4>(wq, a, nb)),
                        2 => store(&run::<2>(wq, a, nb)),
                        _ => store(&run::<1>(wq, a, nb)),
                    }
                }
                p += n;
            }
            o += 2;
        }
    });
}

/// The weight pair `w` (nb blocks) by `P` activation pairs (`a[p * nb + i]`):
/// per pair the lanes `[(o, r), (o, r + 1), (o + 1, r), (o + 1, r + 1)]`.
///
/// # Safety
/// NEON with i8mm available.
#[inline(always)]
unsafe fn run<const P: usize>(w: &[Pair], a: &[Pair], nb: usize) -> [[f32; 4]; P] {
    assert!(w.len() >= nb && a.len() >= P * nb);
    // SAFETY: register-only NEON ops; i8mm as the caller guarantees.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); P];
        let z = vdupq_n_s32(0);
        for i in 0..nb {
            let x = &w[i];
            for p in 0..P {
                let y = &a[p * nb + i];
                let t = mmla(z, x.q[0], y.q[0]);
                let t = mmla(t, x.q[1], y.q[1]);
                let t = mmla(t, x.q[2], y.q[2]);
                let t = mmla(t, x.q[3], y.q[3]);
                let d = vmulq_f32(x.d, y.d);
                acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(t), d);
            }
        }
        std::array::from_fn(|p| {
            let mut o = [0f32; 4];
            vst1q_f32(o.as_mut_ptr(), acc[p]);
            o
        })
    }
}
