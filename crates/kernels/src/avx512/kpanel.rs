//! Prefill and batched matmul for Q4_K and Q6_K with AVX-512 VNNI, in their
//! `vec_dot` order (llama.cpp's AVX2 `ggml_vec_dot_q4_K_q8_K` /
//! `q6_K`, bit for bit: see `avx2::kpanel`, whose unpacked rows ([`KBlk`],
//! cached or built per tile by the same code) and regrouped activations
//! ([`GBlk`]) this reads).
//!
//! A 512-bit vector holds two outputs — weight rows `o` and `o + 1` in its
//! 256-bit halves, against one activation row broadcast to both — so each
//! half sees exactly the lanes of `avx2::kpanel::run`: per chunk pair the
//! two `vpmaddubsw` (i16 sums of the 4 products of each group, exact as
//! there), then `vpdpwssd` multiplies them by the pair's scales and adds them
//! to the i32 lanes in one instruction (`vpmaddwd` + `vpaddd` there: the same
//! exact integers). The float ops per output — `d = d_y * d_x`, the FMA into
//! 8 float lanes, Q6_K's offset term, Q4_K's min FMA chain in 4 lanes, the
//! final sums — are those of the AVX2 pass, one conversion and FMA serving
//! two outputs.

use crate::avx2::hsum_f32_8;
use crate::avx2::kpanel::{build, group_acts, GBlk, KBlk, KPanel};
use crate::k_quants::Q8_K_BYTES;
use crate::matmul::Tile;
use crate::panel_cache::Panels;
use std::arch::x86_64::*;
use std::cell::RefCell;

thread_local! {
    /// Without a cache, the two weight rows being read, unpacked; the tile's
    /// activation rows regrouped and their scales.
    static SCRATCH: RefCell<(Vec<KBlk>, Vec<GBlk>, Vec<f32>)> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// `[lo | hi]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pair(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// `[v | v]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn dup(v: __m256i) -> __m512i {
    _mm512_broadcast_i64x4(v)
}

/// The unpacked weight rows `p0`, `p1` (`nb` super-blocks each) dotted with
/// `R` regrouped activation rows (blocks at `g[r]`, scales at `ds[r]`):
/// result `[r]` is (row `p0`, row `p1`) for activation row `r`, each in the
/// float ops of `avx2::kpanel::run`.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C; `nb` blocks and scales at each
/// `g[r]`, `ds[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run2<const R: usize, B: KPanel>(
    p0: &[KBlk],
    p1: &[KBlk],
    nb: usize,
    g: [*const GBlk; R],
    ds: [*const f32; R],
) -> [[f32; 2]; R] {
    assert!(p0.len() >= nb && p1.len() >= nb);
    let mut acc = [_mm512_setzero_ps(); R];
    let mut acc_m = [_mm256_setzero_ps(); R];
    for i in 0..nb {
        let (b0, b1) = (&p0[i], &p1[i]);
        // SAFETY: block i < nb at every `g[r]` and `ds[r]` (caller).
        unsafe {
            let y = g.map(|q| &*q.add(i));
            let mut sumi = [_mm512_setzero_si512(); R];
            for m in 0..4 {
                let v0 = pair(b0.v[2 * m], b1.v[2 * m]);
                let v1 = pair(b0.v[2 * m + 1], b1.v[2 * m + 1]);
                let s = pair(b0.s[m], b1.s[m]);
                for r in 0..R {
                    let x = _mm512_add_epi16(
                        _mm512_maddubs_epi16(v0, dup(y[r].q[2 * m])),
                        _mm512_maddubs_epi16(v1, dup(y[r].q[2 * m + 1])),
                    );
                    sumi[r] = _mm512_dpwssd_epi32(sumi[r], x, s);
                }
            }
            let bd = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castps_pd(_mm512_set1_ps(b0.d)),
                _mm256_castps_pd(_mm256_set1_ps(b1.d)),
            ));
            for r in 0..R {
                let yd = *ds[r].add(i);
                // d_y * d_x per half: the AVX2 pass's scalar product
                let d = _mm512_mul_ps(_mm512_set1_ps(yd), bd);
                if B::Q6 {
                    // values are u - 32 with u in 0..64: 32 * scale * bsum
                    // off lane-wise, as there
                    let sub = _mm512_slli_epi32::<5>(_mm512_madd_epi16(
                        dup(y[r].bsums),
                        pair(b0.extra, b1.extra),
                    ));
                    let s = _mm512_sub_epi32(sumi[r], sub);
                    acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[r]);
                } else {
                    // the min term: lanes 0..4 row p0's, 4..8 row p1's
                    let dmin = _mm256_set_m128(_mm_set1_ps(-yd * b1.m), _mm_set1_ps(-yd * b0.m));
                    let q8s = _mm256_castsi256_si128(y[r].bsums);
                    let mins = _mm256_set_m128i(
                        _mm256_castsi256_si128(b1.extra),
                        _mm256_castsi256_si128(b0.extra),
                    );
                    let mp = _mm256_madd_epi16(mins, _mm256_set_m128i(q8s, q8s));
                    acc_m[r] = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(mp), acc_m[r]);
                    acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[r]), acc[r]);
                }
            }
        }
    }
    std::array::from_fn(|r| {
        let halves = [
            _mm512_castps512_ps256(acc[r]),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[r]))),
        ];
        let mins = [
            _mm256_castps256_ps128(acc_m[r]),
            _mm256_extractf128_ps::<1>(acc_m[r]),
        ];
        std::array::from_fn(|h| {
            if B::Q6 {
                hsum_f32_8(halves[h])
            } else {
                let am = mins[h];
                let am = _mm_add_ps(am, _mm_movehl_ps(am, am));
                let am = _mm_add_ss(am, _mm_movehdup_ps(am));
                hsum_f32_8(halves[h]) + _mm_cvtss_f32(am)
            }
        })
    })
}

/// The tile `t` of K-quant format `B` (the `PanelFn` contract, see [`Tile`]):
/// weight rows in pairs, each unpacked here or read from the cache's rows
/// (`avx2::kpanel::cache`) when given (same bits).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; the tile's contract;
/// a cache built from this matrix.
pub(crate) unsafe fn panels<B: KPanel>(t: &Tile<'_>, cache: Option<&Panels>) {
    let cache = match cache {
        Some(Panels::KQuant(c)) => Some(c.as_slice()),
        _ => None,
    };
    // SAFETY: the caller's contract.
    unsafe { matmul::<B>(t, cache) }
}

/// [`panels`] with the cache's rows, if any.
///
/// # Safety
/// As [`panels`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn matmul<B: KPanel>(t: &Tile<'_>, cache: Option<&[KBlk]>) {
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
    } = *t;
    let nb = rb / B::BYTES;
    assert!(
        w.len() >= o1 * rb
            && o1 <= n_out
            && (o1 - o0).is_multiple_of(2)
            && r0 < r1
            && nb * Q8_K_BYTES <= stride
    );
    if let Some(c) = cache {
        assert!(c.len() >= o1 * nb);
    }
    SCRATCH.with(|s| {
        let (tmp, g, ds) = &mut *s.borrow_mut();
        let n = (r1 - r0) * nb;
        // SAFETY: all-zero bytes are valid vectors and floats.
        unsafe {
            tmp.resize(2 * nb, std::mem::zeroed());
            g.resize(n, std::mem::zeroed());
        }
        ds.resize(n, 0.0);
        // SAFETY: rows r0..r1 hold nb Q8_K blocks (caller).
        unsafe { group_acts(a0.add(r0 * stride), stride, nb, B::Q6, g, ds) };
        let (gp, dp) = (g.as_ptr(), ds.as_ptr());
        let mut o = o0;
        while o < o1 {
            let (p0, p1): (&[KBlk], &[KBlk]) = match cache {
                Some(c) => (&c[o * nb..(o + 1) * nb], &c[(o + 1) * nb..(o + 2) * nb]),
                None => {
                    let (t0, t1) = tmp.split_at_mut(nb);
                    // SAFETY: rows o and o + 1 hold nb blocks (asserted above).
                    unsafe {
                        build::<B>(w[o * rb..].as_ptr(), nb, t0);
                        build::<B>(w[(o + 1) * rb..].as_ptr(), nb, t1);
                    }
                    (t0, t1)
                }
            };
            let mut r = r0;
            while r < r1 {
                let n = match r1 - r {
                    8.. => 8,
                    4.. => 4,
                    2.. => 2,
                    _ => 1,
                };
                // SAFETY: activation rows r..r + n are regrouped at gp / dp
                // (nb blocks each); outputs (rows r.., columns o, o + 1) are
                // this call's to write (caller).
                unsafe {
                    let gr = |i: usize| gp.add((r + i - r0) * nb);
                    let dr = |i: usize| dp.add((r + i - r0) * nb);
                    macro_rules! go {
                        ($n:literal) => {{
                            let v = run2::<$n, B>(
                                p0,
                                p1,
                                nb,
                                std::array::from_fn(gr),
                                std::array::from_fn(dr),
                            );
                            for (i, x) in v.iter().enumerate() {
                                *out.add((r + i) * n_out + o) = x[0];
                                *out.add((r + i) * n_out + o + 1) = x[1];
                            }
                        }};
                    }
                    match n {
                        8 => go!(8),
                        4 => go!(4),
                        2 => go!(2),
                        _ => go!(1),
                    }
                }
                r += n;
            }
            o += 2;
        }
    });
}
