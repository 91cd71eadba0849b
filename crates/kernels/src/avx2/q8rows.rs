//! Q8_0 weights against two or more Q8_0 activation rows in llama.cpp's
//! `vec_dot` order for every output (format: `crate::q8`; order:
//! `legacy::dot_q8_0`): the batched kernel of that order, which the matmul
//! uses when the one-lane order (`one_lane`, the default on AVX2 since the
//! tenth session) is switched off (`set_tile_mask` bit 4, for A/B
//! measurements). It beats the transposed panel of `panel` at every row count.
//!
//! Why a kernel of its own: in the `legacy` tiles every (weight row,
//! activation row) pair pays a scalar `d_x * d_y`, its broadcast and the
//! activation scale's f16 conversion per block, and on Zen 2 those float ops
//! compete with `vpmaddubsw`/`vpmaddwd` for the one integer-multiply pipe.
//! Here the activation scales of up to 8 rows are converted once per tile
//! into a table `dy[block][row]`, each block's 8 products `d_x * d_y` are one
//! vector multiply, stored, and read back as broadcast loads (load ports, no
//! shuffle). Per pair and block that leaves sign, multiply-add, widen,
//! convert and the FMA — the same ops, in the same order, on the same values
//! as the `N = 1` kernel, so each output is bit-identical to `vec_dot`.

use super::hsum_f32_8;
use super::legacy::{f16x2, ld32, PF_DIST};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Activation rows per pass (one accumulator register each).
const ROWS: usize = 8;

thread_local! {
    /// `dy[block * ROWS + j]`: the f32 scale of block `block` of the pass's
    /// activation row `j` (stale past the pass's rows, which are not read).
    static DY: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

#[repr(align(32))]
struct Lanes([f32; ROWS]);

/// `vbroadcastss` from memory, opaque to the optimizer: written as an
/// intrinsic, LLVM forwards the stored vector through register shuffles
/// (two shuffle ops per pair, which take the pipes the FMAs need).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn bcast(p: *const f32) -> __m256 {
    let v: __m256;
    // SAFETY: the caller guarantees 4 readable bytes at `p`; the instruction
    // only loads (AVX is enabled wherever this is inlined).
    unsafe {
        std::arch::asm!(
            "vbroadcastss {v}, dword ptr [{p}]",
            v = out(ymm_reg) v,
            p = in(reg) p,
            options(pure, readonly, nostack, preserves_flags)
        )
    };
    v
}

/// One weight row (`nb` Q8_0 blocks at `x`) against `N` activation rows at
/// `ap` whose block scales are in `dy` (`ROWS` per block).
///
/// # Safety
/// AVX2, FMA and F16C available; `nb` blocks readable at `x` and at every
/// `ap[j]`; `nb * ROWS` floats at `dy`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn row<const N: usize>(
    x: *const u8,
    nb: usize,
    ap: [*const u8; N],
    dy: *const f32,
) -> [f32; N] {
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); N];
    let mut d = Lanes([0.0; ROWS]);
    // SAFETY: every pointer below stays inside block i of its row (caller's
    // contract); the prefetch is a hint and may point past the row.
    unsafe {
        for i in 0..nb {
            let xb = x.add(i * Q8_0_BYTES);
            _mm_prefetch::<_MM_HINT_T0>(xb.wrapping_add(PF_DIST) as *const i8);
            // lane j: d_x * d_y(row j), the same single rounding as the scalar product
            let dx = _mm256_broadcastss_ps(f16x2(xb));
            _mm256_store_ps(
                d.0.as_mut_ptr(),
                _mm256_mul_ps(dx, _mm256_loadu_ps(dy.add(i * ROWS))),
            );
            let qx = ld32(xb.add(2));
            let ax = _mm256_sign_epi8(qx, qx);
            for j in 0..N {
                let sy = _mm256_sign_epi8(ld32(ap[j].add(i * Q8_0_BYTES + 2)), qx);
                let q = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), ones));
                let dj = bcast(d.0.as_ptr().add(j));
                acc[j] = _mm256_fmadd_ps(dj, q, acc[j]);
            }
        }
        acc.map(|a| hsum_f32_8(a))
    }
}

/// `out[r * n_out + o]` for `o in o0..o0 + 4 * n4`, `r in r0..r1`: Q8_0 weight
/// rows (`rb` bytes each, at `w`) dotted with Q8_0 activation rows (`stride`
/// bytes apart, at `a0`), each bit-identical to `legacy::dot_q8_0` (a
/// [`crate::PanelFn`]; `ty` is Q8_0).
///
/// # Safety
/// As `panel::matmul_panel`: AVX2, FMA and F16C available; `w` holds rows
/// `o0..o0 + 4 * n4` of `rb` bytes (a multiple of 34); activation rows
/// `r0..r1` at `a0 + r * stride` hold `rb / 34` blocks each; `out` holds
/// `r1 * n_out` floats of which this call alone writes the listed ones.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matmul_q8_0_rows(
    ty: gguf::GgmlType,
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
    debug_assert_eq!(ty, gguf::GgmlType::Q8_0);
    let nb = rb / Q8_0_BYTES;
    let o1 = o0 + 4 * n4;
    assert!(rb.is_multiple_of(Q8_0_BYTES) && w.len() >= o1 * rb && o1 <= n_out);
    DY.with(|t| {
        let mut dy = t.borrow_mut();
        // (rows past a pass's last are never read: no need to clear them)
        if dy.len() < nb * ROWS {
            dy.resize(nb * ROWS, 0.0);
        }
        let mut r = r0;
        while r < r1 {
            let n = (r1 - r).min(ROWS);
            let ap: [*const u8; ROWS] = std::array::from_fn(|j| {
                // SAFETY: rows r0..r1 exist (caller); past the pass's rows the
                // last one is repeated (never read: only N = n rows are).
                unsafe { a0.add((r + j.min(n - 1)) * stride) }
            });
            for (j, &a) in ap.iter().enumerate().take(n) {
                for i in 0..nb {
                    // SAFETY: block i of activation row r + j (caller's contract).
                    dy[i * ROWS + j] = unsafe { _mm_cvtss_f32(f16x2(a.add(i * Q8_0_BYTES))) };
                }
            }
            for o in o0..o1 {
                let x = w[o * rb..(o + 1) * rb].as_ptr();
                let mut v = [0f32; ROWS];
                // SAFETY: weight row o holds nb blocks (asserted), each of the
                // first n activation rows nb blocks (caller), dy nb * ROWS floats.
                unsafe {
                    let p = dy.as_ptr();
                    macro_rules! go {
                        ($n:literal) => {{
                            let a: [*const u8; $n] = std::array::from_fn(|j| ap[j]);
                            v[..$n].copy_from_slice(&row::<$n>(x, nb, a, p));
                        }};
                    }
                    match n {
                        8 => go!(8),
                        7 => go!(7),
                        6 => go!(6),
                        5 => go!(5),
                        4 => go!(4),
                        3 => go!(3),
                        2 => go!(2),
                        _ => go!(1),
                    }
                }
                for (j, &x) in v.iter().enumerate().take(n) {
                    // SAFETY: row r + j < r1, column o of this tile (caller).
                    unsafe { *out.add((r + j) * n_out + o) = x };
                }
            }
            r += n;
        }
    });
}
