//! The one-lane order (Q4_0, Q5_0, Q8_0; scalar reference
//! `crate::orders::one_lane`) with AVX-VNNI (`Level::Avx2Vnni`): the panels
//! of 8 weight rows of `super::one_lane` ([`OBlock`], cached or built per
//! tile by the same code), passes by the 256-bit `vpdpbusd`.
//!
//! The activations enter as `y + 128` (unsigned, one dword broadcast per
//! 4 quants) against the panels' signed quants `w` as memory operands:
//! `vpdpbusd` adds the four products `w (y + 128)` of each dword lane exactly
//! (no i16 stage, so Q8_0's full 8-bit quants need no sign trick), and the
//! rows' `128 Σ w` (`OBlock::cw`) taken off once per block gives `T = Σ w y`;
//! then, as everywhere in this order, `acc = fma(d_w * d_y, T, acc)`. A pass
//! is 2 activation rows x 2 panels (the 16 ymm registers hold the 4 integer
//! sums, 4 accumulators and the broadcasts); decode stays AVX2's `rows4`.

use super::one_lane::{block_b, build, rows4_at, OBlock};
use crate::block::Block32;
use crate::matmul::{PrepKey, Tile};
use crate::panel_cache::Panels;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// A thread's working memory: the tile's activations as `y + 128` and their
/// scales (row-major: `(r - r0) * nb + block`), and, without a cache, the
/// (up to two) panels being read, and what the activations were made from
/// (the thread's next tile on the same rows skips making them).
type Scratch = (Vec<[u8; 32]>, Vec<f32>, Vec<OBlock>, Option<PrepKey>);

thread_local! {
    static SCRATCH: RefCell<Scratch> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new(), None)) };
}

/// `P` consecutive panels (`p[j * nb..(j + 1) * nb]`) against `R` activation
/// rows (`nb` blocks of `y + 128` at `xu[r]`, scales at `dx[r]`): lane `i` of
/// result `[r][j]` is output (row `r`, row `i` of panel `j`). The blocks of
/// the `P` panels at `next` are prefetched (a hint: any address is fine).
///
/// # Safety
/// AVX2, FMA, F16C, AVX-VNNI; the blocks and scales above readable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
unsafe fn run<const R: usize, const P: usize>(
    p: &[OBlock],
    nb: usize,
    xu: [*const [u8; 32]; R],
    dx: [*const f32; R],
    next: *const OBlock,
) -> [[__m256; P]; R] {
    assert!(p.len() >= P * nb);
    let mut acc = [[_mm256_setzero_ps(); P]; R];
    for b in 0..nb {
        let bp = block_b::<P>(p, nb, b, next);
        // SAFETY: `nb` blocks at every `xu[r]` and `dx[r]` (caller); block b
        // of every panel at `bp[j]` (b < nb, P * nb <= p.len(): asserted).
        unsafe {
            // [row][panel]: Σ w (y + 128), exact
            let mut s = [[_mm256_setzero_si256(); P]; R];
            let x: [*const i32; R] = std::array::from_fn(|r| xu[r].add(b) as *const i32);
            for k in 0..8 {
                let bc: [__m256i; R] = std::array::from_fn(|r| _mm256_set1_epi32(*x[r].add(k)));
                for j in 0..P {
                    let w = _mm256_load_si256(&(*bp[j]).w[k]);
                    for r in 0..R {
                        s[r][j] = _mm256_dpbusd_avx_epi32(s[r][j], bc[r], w);
                    }
                }
            }
            for r in 0..R {
                let dxr = _mm256_broadcast_ss(&*dx[r].add(b));
                for j in 0..P {
                    let blk = &*bp[j];
                    let t = _mm256_sub_epi32(s[r][j], blk.cw);
                    let dv = _mm256_mul_ps(_mm256_load_ps(blk.d.as_ptr()), dxr);
                    acc[r][j] = _mm256_fmadd_ps(dv, _mm256_cvtepi32_ps(t), acc[r][j]);
                }
            }
        }
    }
    acc
}

/// [`run`] for `R` prepared activation rows (the first's `nb` blocks at `xu`,
/// scales at `dx`; rows `nb` blocks apart) and the `P` panels at `p`, stored
/// at `dst` (output rows `n_out` apart).
///
/// # Safety
/// As [`run`]; outputs `dst[i * n_out + 0..8 P]`, `i < R`, writable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
unsafe fn run_store<const R: usize, const P: usize>(
    p: &[OBlock],
    nb: usize,
    xu: *const [u8; 32],
    dx: *const f32,
    next: *const OBlock,
    dst: *mut f32,
    n_out: usize,
) {
    // SAFETY: rows i < R of the prepared activations are `nb` apart (caller).
    unsafe {
        let xu = std::array::from_fn(|i| xu.add(i * nb));
        let dx = std::array::from_fn(|i| dx.add(i * nb));
        let v = run::<R, P>(p, nb, xu, dx, next);
        for (i, vi) in v.iter().enumerate() {
            for (j, vj) in vi.iter().enumerate() {
                _mm256_storeu_ps(dst.add(i * n_out + 8 * j), *vj);
            }
        }
    }
}

/// The tile `t` of one-lane format `F` (the `PanelFn` contract): whole panels
/// of 8 rows from the cache's panels (`super::one_lane::cache`) when given,
/// else built here per panel; a last group of 4 rows by AVX2's decode rows.
///
/// # Safety
/// AVX2, FMA, F16C and AVX-VNNI available; the tile's contract (`t.o0` a
/// multiple of 8); a cache built from this matrix.
pub(crate) unsafe fn panels<F: Block32>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::OneLane(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<F>(t, cache) }
}

/// [`panels`] with the cache's blocks, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
unsafe fn matmul<F: Block32>(t: &Tile<'_>, cache: Option<&[OBlock]>) {
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
    assert!(o0.is_multiple_of(8) && r0 < r1 && o1 <= n_out && w.len() >= o1 * rb);
    if let Some(c) = cache {
        assert!(c.len() >= o1 / 8 * nb);
    }
    let key = t.prep_key(nb, 0);
    SCRATCH.with(|s| {
        let (xs, ds, tmp, made) = &mut *s.borrow_mut();
        let n = (r1 - r0) * nb;
        if cache.is_none() {
            // SAFETY: all-zero bytes are valid blocks.
            tmp.resize(2 * nb, unsafe { std::mem::zeroed() });
        }
        let flip = _mm256_set1_epi8(-128);
        // SAFETY: rows r0..r1 of the tile hold nb Q8_0 blocks (caller).
        unsafe { super::one_lane::prepare_acts(t, nb, flip, key, xs, ds, made) };
        assert!(xs.len() >= n && ds.len() >= n);
        let (xp, dp) = (xs.as_ptr(), ds.as_ptr());
        let mut o = o0;
        // two panels at a time (16 rows), then one
        while o + 8 <= o1 {
            let np = if o + 16 <= o1 { 2 } else { 1 };
            let (p, next): (&[OBlock], *const OBlock) = match cache {
                Some(c) => {
                    let i = o / 8 * nb;
                    (&c[i..i + np * nb], c.as_ptr().wrapping_add(i + np * nb))
                }
                None => {
                    for h in 0..np {
                        let rows: [*const u8; 8] =
                            std::array::from_fn(|j| w[(o + 8 * h + j) * rb..].as_ptr());
                        // SAFETY: rows o..o+8 np hold nb blocks (asserted above).
                        unsafe { build::<F>(rows, nb, &mut tmp[h * nb..(h + 1) * nb]) };
                    }
                    // (the hint reads the panels just built: harmless)
                    (&tmp[..np * nb], tmp.as_ptr())
                }
            };
            let mut r = r0;
            while r < r1 {
                let two = r + 2 <= r1;
                let (x, d) = (
                    xp.wrapping_add((r - r0) * nb),
                    dp.wrapping_add((r - r0) * nb),
                );
                let dst = out.wrapping_add(r * n_out + o);
                // SAFETY: rows r (and r + 1) of the prepared activations;
                // outputs (r.., o..o + 8 np) are this call's to write (caller).
                unsafe {
                    match (two, np) {
                        (true, 2) => run_store::<2, 2>(p, nb, x, d, next, dst, n_out),
                        (false, 2) => run_store::<1, 2>(p, nb, x, d, next, dst, n_out),
                        (true, _) => run_store::<2, 1>(p, nb, x, d, next, dst, n_out),
                        (false, _) => run_store::<1, 1>(p, nb, x, d, next, dst, n_out),
                    }
                }
                r += if two { 2 } else { 1 };
            }
            o += 8 * np;
        }
        if o < o1 {
            // a last group of 4 rows (n_out % 8 == 4)
            let ws: [*const u8; 4] = std::array::from_fn(|j| w[(o + j) * rb..].as_ptr());
            for r in r0..r1 {
                // SAFETY: rows o..o+4 hold nb blocks; activation row r nb
                // Q8_0 blocks (caller); outputs (r, o..o+4) are this call's.
                unsafe {
                    let v = rows4_at::<F, false>(ws, nb, a0.add(r * stride));
                    for (j, x) in v.iter().enumerate() {
                        *out.add(r * n_out + o + j) = *x;
                    }
                }
            }
        }
    });
}
