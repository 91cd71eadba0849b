//! The one-lane order (Q4_0, Q5_0, Q8_0; scalar reference
//! `crate::orders::one_lane`) on AVX2: per output and block the exact integer
//! sum `T = Σ w_i y_i` (`w` the signed quants, `y` the Q8_0 activation
//! quants), then `acc = fma(d_w * d_y, T, acc)`, block by block — one float
//! lane per output, so the batched kernels convert and accumulate once per 8
//! outputs.
//!
//! Panels ([`OBlock`]) hold 8 weight rows per block: vector `k` holds in
//! dword `j` row `j`'s signed quants `4k..4k+4`, with the rows' `128 Σ w`
//! (`cw`) and f32 scales. The activations enter as `y + 128` (unsigned,
//! broadcast per dword), so `maddubs(y + 128, w)` forms `Σ w (y + 128)`
//! (exact: |pair| <= 255 * 16 * 2, 4 pairs per i16 lane <= 32640), and `cw` is
//! taken off once per block: `T = Σ w (y + 128) - 128 Σ w`. The weights are
//! memory operands (`maddubs_at`), so a pass of 2 activation rows x 2 panels
//! (16 weight rows, each activation dword broadcast once for both) keeps
//! every accumulator in a register.
//!
//! Q8_0's weights span all 8 bits, so `y + 128` would overflow those i16
//! pairs: its pass ([`run_q8`]) takes the activations as they are and uses the
//! sign trick (`|w|`, once per weight vector, times `y` with `w`'s sign),
//! widening each dword's i16 pair sums to i32 at once (`vpmaddwd`); it reads
//! one panel per pass (two would not fit the registers).
//!
//! Panels are built once per matrix ([`cache`], `crate::PanelCache`) or per
//! tile ([`panels`]); [`rows4`] is the decode kernel (4 weight rows x 1
//! activation row, straight from the weight bytes). All give each output the
//! same integer sums and float ops, so results are bit-identical whichever
//! runs.

use super::legacy::{ld32, unpack, unpack_u};
use crate::block::Block32;
use crate::matmul::{PrepKey, Tile};
use crate::panel_cache::{CacheSpec, Panels};
use crate::q8::Q8_0_BYTES;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One block (32 elements) of 8 weight rows (see the module doc).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct OBlock {
    pub(super) w: [__m256i; 8],
    /// Row `j`'s `128 Σ w` in lane `j` (unused by Q8_0's pass here, which
    /// takes the activations as they are; `one_lane_vnni` reads it for all).
    pub(super) cw: __m256i,
    /// Row `j`'s scale.
    pub(super) d: [f32; 8],
}

/// A thread's working memory: the tile's activations as `y + 128` and their
/// scales (row-major: `(r - r0) * nb + block`), and, without a cache, the
/// (up to two) panels being read, and what the activations were made from
/// (the thread's next tile on the same rows skips making them).
type Scratch = (Vec<[u8; 32]>, Vec<f32>, Vec<OBlock>, Option<PrepKey>);

thread_local! {
    static SCRATCH: RefCell<Scratch> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new(), None)) };
}

/// The cache of a one-lane format `F` at AVX2: panels of 8 rows (a last 4
/// rows are read from the matrix).
pub(crate) const fn cache<F: Block32>() -> CacheSpec {
    CacheSpec {
        bytes: cache_bytes,
        build: build_cache::<F>,
    }
}

/// The bytes of the panels of `n_out` rows of `nb` blocks (none under 8 rows).
fn cache_bytes(n_out: usize, nb: usize) -> Option<usize> {
    (n_out >= 8).then(|| n_out / 8 * nb * std::mem::size_of::<OBlock>())
}

/// The `[n_out, k]` matrix's panels of 8 rows (`n_out / 8` of them, `rb /
/// F::BYTES` blocks each; rows past the last whole group are left to
/// [`rows4_at`]).
///
/// # Safety
/// AVX2, FMA and F16C available; `w` holds `n_out` rows of `rb` bytes of `F`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_cache<F: Block32>(w: &[u8], rb: usize, n_out: usize) -> Panels {
    let nb = rb / F::BYTES;
    assert!(w.len() >= n_out * rb);
    // SAFETY: all-zero bytes are valid blocks.
    let mut v = vec![unsafe { std::mem::zeroed::<OBlock>() }; n_out / 8 * nb];
    for (g, dst) in v.chunks_exact_mut(nb.max(1)).enumerate().take(n_out / 8) {
        let rows: [*const u8; 8] = std::array::from_fn(|j| w[(8 * g + j) * rb..].as_ptr());
        // SAFETY: rows 8g..8g+8 hold nb blocks each (asserted above).
        unsafe { build::<F>(rows, nb, dst) };
    }
    Panels::OneLane(v)
}

/// `nb` blocks of the 8 weight rows at `rows` into `dst` (see [`OBlock`]).
///
/// # Safety
/// AVX2, FMA, F16C; `nb` blocks of `F` at each `rows[j]`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn build<F: Block32>(rows: [*const u8; 8], nb: usize, dst: &mut [OBlock]) {
    const { assert!(!F::E8M0, "the AVX2 one-lane kernels read an f16 scale") };
    assert!(dst.len() >= nb);
    let ones8 = _mm256_set1_epi8(1);
    let ones16 = _mm256_set1_epi16(1);
    for (b, blk) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: block b of every row (caller).
        unsafe {
            let xs = rows.map(|r| r.add(b * F::BYTES));
            // row j's 32 signed quants, element order: 8 dwords each
            let q: [__m256i; 8] = xs.map(|x| unpack::<F>(x));
            // 8x8 dword transpose: out[k] dword j = q[j] dword k
            let t0 = _mm256_unpacklo_epi32(q[0], q[1]);
            let t1 = _mm256_unpackhi_epi32(q[0], q[1]);
            let t2 = _mm256_unpacklo_epi32(q[2], q[3]);
            let t3 = _mm256_unpackhi_epi32(q[2], q[3]);
            let t4 = _mm256_unpacklo_epi32(q[4], q[5]);
            let t5 = _mm256_unpackhi_epi32(q[4], q[5]);
            let t6 = _mm256_unpacklo_epi32(q[6], q[7]);
            let t7 = _mm256_unpackhi_epi32(q[6], q[7]);
            let u0 = _mm256_unpacklo_epi64(t0, t2);
            let u1 = _mm256_unpackhi_epi64(t0, t2);
            let u2 = _mm256_unpacklo_epi64(t1, t3);
            let u3 = _mm256_unpackhi_epi64(t1, t3);
            let u4 = _mm256_unpacklo_epi64(t4, t6);
            let u5 = _mm256_unpackhi_epi64(t4, t6);
            let u6 = _mm256_unpacklo_epi64(t5, t7);
            let u7 = _mm256_unpackhi_epi64(t5, t7);
            blk.w = [
                _mm256_permute2x128_si256::<0x20>(u0, u4),
                _mm256_permute2x128_si256::<0x20>(u1, u5),
                _mm256_permute2x128_si256::<0x20>(u2, u6),
                _mm256_permute2x128_si256::<0x20>(u3, u7),
                _mm256_permute2x128_si256::<0x31>(u0, u4),
                _mm256_permute2x128_si256::<0x31>(u1, u5),
                _mm256_permute2x128_si256::<0x31>(u2, u6),
                _mm256_permute2x128_si256::<0x31>(u3, u7),
            ];
            // lane j: Σ of row j's quants times 128 (each vector's dword j is
            // 4 of them; the i16 sums of 16 quants are within ±2048)
            blk.cw = {
                let mut s16 = _mm256_maddubs_epi16(ones8, blk.w[0]);
                for v in &blk.w[1..] {
                    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(ones8, *v));
                }
                _mm256_slli_epi32::<7>(_mm256_madd_epi16(s16, ones16))
            };
            let d: [u16; 8] = xs.map(|x| u16::from_le_bytes([*x, *x.add(1)]));
            _mm256_store_ps(
                blk.d.as_mut_ptr(),
                _mm256_cvtph_ps(_mm_loadu_si128(d.as_ptr() as *const __m128i)),
            );
        }
    }
}

/// `vpmaddubsw` of `a` (unsigned) with the signed vector at byte `O` of `p`,
/// kept a memory operand (LLVM otherwise holds a block's 8 weight vectors in
/// registers across the activation rows and spills).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn maddubs_at<const O: usize>(a: __m256i, p: *const OBlock) -> __m256i {
    let d: __m256i;
    // SAFETY: 32 readable bytes at `p + O` (caller); AVX2 is enabled wherever
    // this is inlined; the instruction only reads memory.
    unsafe {
        std::arch::asm!(
            "vpmaddubsw {d}, {a}, ymmword ptr [{p} + {o}]",
            d = lateout(ymm_reg) d,
            a = in(ymm_reg) a,
            p = in(reg) p,
            o = const O,
            options(pure, readonly, nostack, preserves_flags)
        )
    };
    d
}

/// Block `b` of each of the `P` panels in `p` (`nb` blocks each; the
/// pointers are only valid for `P * nb <= p.len()` and `b < nb`, which the
/// callers assert), with the same blocks of the panels at `next` prefetched
/// (320 bytes, 5 lines each; a hint: any address is fine).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn block_b<const P: usize>(
    p: &[OBlock],
    nb: usize,
    b: usize,
    next: *const OBlock,
) -> [*const OBlock; P] {
    for j in 0..P {
        let q = next.wrapping_add(j * nb + b) as *const i8;
        for l in [0, 64, 128, 192, 256] {
            _mm_prefetch::<_MM_HINT_T0>(q.wrapping_add(l));
        }
    }
    let p = p.as_ptr();
    std::array::from_fn(|j| p.wrapping_add(j * nb + b))
}

/// `P` consecutive panels (`p[j * nb..(j + 1) * nb]`) against `R` activation
/// rows (`nb` blocks of `y + 128` at each `xu[r]`, scales at `dx[r]`): lane
/// `i` of result `[r][j]` is output (row `r`, row `i` of panel `j`). Each
/// activation dword is broadcast once for the `P` panels. The blocks of the
/// `P` panels at `next` are prefetched as `p` is read (a hint: any address is
/// fine).
///
/// # Safety
/// AVX2, FMA, F16C; the blocks and scales above readable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run<const R: usize, const P: usize>(
    p: &[OBlock],
    nb: usize,
    xu: [*const [u8; 32]; R],
    dx: [*const f32; R],
    next: *const OBlock,
) -> [[__m256; P]; R] {
    assert!(p.len() >= P * nb);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_ps(); P]; R];
    for b in 0..nb {
        let bp = block_b::<P>(p, nb, b, next);
        // SAFETY: `nb` blocks at every `xu[r]` and `dx[r]` (caller); block b
        // of every panel at `bp[j]` (b < nb, P * nb <= p.len(): asserted).
        unsafe {
            for r in 0..R {
                let x = xu[r].add(b) as *const i32;
                // [panel][half]: the i16 sums of dwords 0..4 and 4..8
                let mut t = [[_mm256_setzero_si256(); 2]; P];
                macro_rules! step {
                    ($k:literal) => {{
                        let bc = _mm256_set1_epi32(*x.add($k));
                        for j in 0..P {
                            let m = maddubs_at::<{ $k * 32 }>(bc, bp[j]);
                            let h = &mut t[j][$k / 4];
                            *h = if $k % 4 == 0 {
                                m
                            } else {
                                _mm256_add_epi16(*h, m)
                            };
                        }
                    }};
                }
                step!(0);
                step!(1);
                step!(2);
                step!(3);
                step!(4);
                step!(5);
                step!(6);
                step!(7);
                let dxr = _mm256_broadcast_ss(&*dx[r].add(b));
                for j in 0..P {
                    let blk = &*bp[j];
                    let s = _mm256_add_epi32(
                        _mm256_madd_epi16(t[j][0], ones),
                        _mm256_madd_epi16(t[j][1], ones),
                    );
                    let tt = _mm256_sub_epi32(s, blk.cw);
                    let dv = _mm256_mul_ps(_mm256_load_ps(blk.d.as_ptr()), dxr);
                    acc[r][j] = _mm256_fmadd_ps(dv, _mm256_cvtepi32_ps(tt), acc[r][j]);
                }
            }
        }
    }
    acc
}

/// [`run`] for Q8_0 (activation quants `y` themselves at `xu[r]`, not
/// `y + 128`): its weights span all 8 bits, so `y + 128` would overflow the
/// i16 pairs of `vpmaddubsw`. Instead the sign trick (`|w|` times `y` with `w`'s sign,
/// exact: |pair| <= 2 * 128 * 127; `|w|` once per weight vector for the `R`
/// rows) and each dword's pair sum widened to i32 before the next is added.
///
/// # Safety
/// AVX2, FMA, F16C; the blocks and scales above readable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run_q8<const R: usize, const P: usize>(
    p: &[OBlock],
    nb: usize,
    xu: [*const [u8; 32]; R],
    dx: [*const f32; R],
    next: *const OBlock,
) -> [[__m256; P]; R] {
    assert!(p.len() >= P * nb);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_ps(); P]; R];
    for b in 0..nb {
        let bp = block_b::<P>(p, nb, b, next);
        // SAFETY: `nb` blocks at every `xu[r]` and `dx[r]` (caller); block b
        // of every panel at `bp[j]` (b < nb, P * nb <= p.len(): asserted).
        unsafe {
            // [row][panel]: the block's exact i32 sums (lane = weight row)
            let mut s = [[_mm256_setzero_si256(); P]; R];
            let x: [*const i32; R] = std::array::from_fn(|r| xu[r].add(b) as *const i32);
            for k in 0..8 {
                let bc: [__m256i; R] = std::array::from_fn(|r| _mm256_set1_epi32(*x[r].add(k)));
                for j in 0..P {
                    let w = _mm256_load_si256(&(*bp[j]).w[k]);
                    // |w| as unsigned (128 for -128), y with w's sign
                    let aw = _mm256_abs_epi8(w);
                    for r in 0..R {
                        let m = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bc[r], w));
                        let m = _mm256_madd_epi16(m, ones);
                        s[r][j] = if k == 0 {
                            m
                        } else {
                            _mm256_add_epi32(s[r][j], m)
                        };
                    }
                }
            }
            for r in 0..R {
                let dxr = _mm256_broadcast_ss(&*dx[r].add(b));
                for j in 0..P {
                    let blk = &*bp[j];
                    let dv = _mm256_mul_ps(_mm256_load_ps(blk.d.as_ptr()), dxr);
                    acc[r][j] = _mm256_fmadd_ps(dv, _mm256_cvtepi32_ps(s[r][j]), acc[r][j]);
                }
            }
        }
    }
    acc
}

/// [`run`] (`Q8`: [`run_q8`]) for `R` prepared activation rows (the first's
/// `nb` blocks of quants at `xu`, scales at `dx`; rows `nb` blocks apart) and
/// the `P` panels at `p`, stored at `dst` (output rows `n_out` apart).
/// (Generic over `Q8`, not the format, so Q4_0 and Q5_0 share one instance
/// that is `run`'s only caller, which LLVM then inlines.)
///
/// # Safety
/// As [`run`]; outputs `dst[i * n_out + 0..8 P]`, `i < R`, writable.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run_store<const Q8: bool, const R: usize, const P: usize>(
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
        let v = if Q8 {
            run_q8::<R, P>(p, nb, xu, dx, next)
        } else {
            run::<R, P>(p, nb, xu, dx, next)
        };
        for (i, vi) in v.iter().enumerate() {
            for (j, vj) in vi.iter().enumerate() {
                _mm256_storeu_ps(dst.add(i * n_out + 8 * j), *vj);
            }
        }
    }
}

/// One-lane order, 4 weight rows x one Q8_0 activation row `a` (decode): the
/// rows' lengths checked, then [`rows4_at`].
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
    unsafe { rows4_at::<F, true>(w.map(|r| r.as_ptr()), nb, a.as_ptr()) }
}

/// One-lane order, 4 weight rows (`nb` blocks of `F` at each `w[j]`) x one
/// Q8_0 activation row `a`, straight from the weight bytes (decode, and the
/// rows past a tile's whole panels of 8); with `PF` the same blocks of the
/// next 4 rows are prefetched.
///
/// # Safety
/// AVX2, FMA, F16C; `nb` blocks readable at each `w[j]` and `nb` Q8_0 blocks at `a`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn rows4_at<F: Block32, const PF: bool>(
    w: [*const u8; 4],
    nb: usize,
    a: *const u8,
) -> [f32; 4] {
    const { assert!(!F::MIN, "the one-lane kernels take formats without a min") };
    const { assert!(!F::E8M0, "the AVX2 one-lane kernels read an f16 scale") };
    if F::BYTE_QUANTS {
        // SAFETY: forwarded contract.
        return unsafe { rows4_q8::<PF>(w, nb, a) };
    }
    let ones = _mm256_set1_epi16(1);
    let off = _mm256_set1_epi8(F::OFFSET);
    // the 4 rows are usually consecutive: prefetch the same block of the next
    // group of 4 rows (a hint: any address is fine)
    let ahead = 4 * (w[1] as isize).wrapping_sub(w[0] as isize);
    let mut acc = _mm_setzero_ps();
    // SAFETY: per the contract above; prefetch hints never fault.
    unsafe {
        for b in 0..nb {
            let y = a.add(b * Q8_0_BYTES);
            let qy = ld32(y.add(2));
            // w = u - offset, so w.y = u.y - offset.y per i16 pair (exact:
            // |u.y pair| <= 2*31*128, |offset.y pair| <= 2*16*128)
            let corr = _mm256_maddubs_epi16(off, qy);
            let xs = w.map(|p| p.add(b * F::BYTES));
            let v: [__m256i; 4] = std::array::from_fn(|j| {
                if PF {
                    _mm_prefetch::<_MM_HINT_T0>(xs[j].wrapping_offset(ahead) as *const i8);
                }
                let prod = _mm256_sub_epi16(_mm256_maddubs_epi16(unpack_u::<F>(xs[j]), qy), corr);
                _mm256_madd_epi16(prod, ones)
            });
            // each row's 8 lanes summed: [T0, T1, T2, T3] (exact)
            let h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
            let t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h));
            let d: [u16; 4] = xs.map(|x| u16::from_le_bytes([*x, *x.add(1)]));
            let dw = _mm_cvtph_ps(_mm_loadl_epi64(d.as_ptr() as *const __m128i));
            let dy = _mm_cvtph_ps(_mm_set1_epi16(u16::from_le_bytes([*y, *y.add(1)]) as i16));
            acc = _mm_fmadd_ps(_mm_mul_ps(dw, dy), _mm_cvtepi32_ps(t), acc);
        }
        let mut out = [0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), acc);
        out
    }
}

/// [`rows4_at`] for Q8_0: the rows in two pairs, one after the other (2
/// weight streams at a time, not 4: faster from memory on long matrices); the
/// same integer sums and float ops per output.
///
/// # Safety
/// As [`rows4_at`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn rows4_q8<const PF: bool>(w: [*const u8; 4], nb: usize, a: *const u8) -> [f32; 4] {
    let mut out = [0f32; 4];
    for p in 0..2 {
        let (w0, w1) = (w[2 * p], w[2 * p + 1]);
        // the same block of the next pair of rows (a hint: any address is fine)
        let ahead = 2 * (w1 as isize).wrapping_sub(w0 as isize);
        let mut acc = _mm_setzero_ps();
        // SAFETY: per the contract of `rows4_at`; prefetch hints never fault.
        unsafe {
            for b in 0..nb {
                let y = a.add(b * Q8_0_BYTES);
                let qy = ld32(y.add(2));
                let (x0, x1) = (w0.add(b * Q8_0_BYTES), w1.add(b * Q8_0_BYTES));
                if PF {
                    _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_offset(ahead) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_offset(ahead) as *const i8);
                }
                // the sign trick (y in [-127, 127])
                let v0 = super::mul_sum_i8_pairs_i32(ld32(x0.add(2)), qy);
                let v1 = super::mul_sum_i8_pairs_i32(ld32(x1.add(2)), qy);
                // [T0, T1, T0, T1] (exact)
                let h = _mm256_hadd_epi32(v0, v1);
                let t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h));
                let t = _mm_hadd_epi32(t, t);
                let d = u16::from_le_bytes([*x0, *x0.add(1)]) as u32
                    | (u16::from_le_bytes([*x1, *x1.add(1)]) as u32) << 16;
                let dw = _mm_cvtph_ps(_mm_set1_epi32(d as i32));
                let dy = _mm_cvtph_ps(_mm_set1_epi16(u16::from_le_bytes([*y, *y.add(1)]) as i16));
                acc = _mm_fmadd_ps(_mm_mul_ps(dw, dy), _mm_cvtepi32_ps(t), acc);
            }
            let mut v = [0f32; 4];
            _mm_storeu_ps(v.as_mut_ptr(), acc);
            out[2 * p] = v[0];
            out[2 * p + 1] = v[1];
        }
    }
    out
}

/// The tile `t` of one-lane format `F` (the `PanelFn` contract): whole panels
/// of 8 rows from the cache's panels when given, else built here per panel;
/// a last group of 4 rows by [`rows4_at`].
///
/// # Safety
/// AVX2, FMA and F16C available; the tile's contract (`t.o0` a multiple of
/// 8); a cache built from this matrix.
pub(crate) unsafe fn panels<F: Block32>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::OneLane(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<F>(t, cache) }
}

/// The tile's activation rows (`t.r0..t.r1`, `nb` Q8_0 blocks each) as
/// `y ^ flip` and their scales into `xs`, `ds` (row-major: `(r - r0) * nb +
/// block`), unless `made` says they were made from the same rows (`key`, see
/// `matmul::PrepKey`). Shared by the AVX2 one-lane passes with and without
/// AVX-VNNI.
///
/// # Safety
/// AVX2, FMA, F16C; rows `t.r0..t.r1` at `t.a0` hold `nb` Q8_0 blocks.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn prepare_acts(
    t: &Tile<'_>,
    nb: usize,
    flip: __m256i,
    key: PrepKey,
    xs: &mut Vec<[u8; 32]>,
    ds: &mut Vec<f32>,
    made: &mut Option<PrepKey>,
) {
    key.make_once(made, || {
        let (r0, r1, a0, stride) = (t.r0, t.r1, t.a0, t.stride);
        let n = (r1 - r0) * nb;
        xs.resize(n, [0; 32]);
        ds.resize(n, 0.0);
        for r in r0..r1 {
            for b in 0..nb {
                // SAFETY: block b of activation row r (caller).
                unsafe {
                    let y = a0.add(r * stride + b * Q8_0_BYTES);
                    let i = (r - r0) * nb + b;
                    let u = _mm256_xor_si256(ld32(y.add(2)), flip);
                    _mm256_storeu_si256(xs[i].as_mut_ptr() as *mut __m256i, u);
                    ds[i] = crate::avx2::f16_ptr(y);
                }
            }
        }
    });
}

/// [`panels`] with the cache's blocks, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn matmul<F: Block32>(t: &Tile<'_>, cache: Option<&[OBlock]>) {
    const { assert!(!F::E8M0, "the AVX2 one-lane kernels read an f16 scale") };
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
    let key = t.prep_key(nb, F::BYTE_QUANTS as i64);
    SCRATCH.with(|s| {
        let (xs, ds, tmp, made) = &mut *s.borrow_mut();
        let n = (r1 - r0) * nb;
        if cache.is_none() {
            // SAFETY: all-zero bytes are valid blocks.
            tmp.resize(2 * nb, unsafe { std::mem::zeroed() });
        }
        // Q4_0/Q5_0: y + 128 (see the module doc); Q8_0: y (see `run_q8`)
        let flip = _mm256_set1_epi8(if F::BYTE_QUANTS { 0 } else { -128 });
        // SAFETY: rows r0..r1 of the tile hold nb Q8_0 blocks (caller).
        unsafe { prepare_acts(t, nb, flip, key, xs, ds, made) };
        assert!(xs.len() >= n && ds.len() >= n);
        let (xp, dp) = (xs.as_ptr(), ds.as_ptr());
        let mut o = o0;
        // two panels at a time (16 rows), then one (Q8_0: one, see `run_q8`)
        while o + 8 <= o1 {
            let np = if !F::BYTE_QUANTS && o + 16 <= o1 {
                2
            } else {
                1
            };
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
                    macro_rules! go {
                        ($r:literal, $p:literal) => {
                            if F::BYTE_QUANTS {
                                run_store::<true, $r, $p>(p, nb, x, d, next, dst, n_out)
                            } else {
                                run_store::<false, $r, $p>(p, nb, x, d, next, dst, n_out)
                            }
                        };
                    }
                    match (two, np) {
                        (true, 2) => go!(2, 2),
                        (false, 2) => go!(1, 2),
                        (true, _) => go!(2, 1),
                        (false, _) => go!(1, 1),
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
