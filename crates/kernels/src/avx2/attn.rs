//! AVX2 form of `crate::attn::attend_row_scalar`: the same tiles, maxima,
//! rescales and `exp` calls; dot products in 8 FMA lanes reduced by a fixed
//! pairwise tree, and the value sum as FMAs on up to 32 columns at a time held
//! in registers across a tile's keys.
//!
//! [`attend_rows`] (and [`attend_rows_512`], the same code with AVX-512's 32
//! registers, for up to 8 rows) takes `R` query rows of one head at consecutive positions
//! with the same first key, sharing every key/value load (prefill). Each row's
//! float ops are exactly those of the one-row call (same tiles, same per-key
//! reduction, values summed in key order), so a row's result does not depend on
//! the rows computed with it.

use crate::attn::{KvHead, TILE};
use half::f16;
use std::arch::x86_64::*;

/// 8 f16 at `p` as f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld8(p: *const f16) -> __m256 {
    // SAFETY: caller guarantees 8 readable f16 at `p`.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
}

/// Lane sums of two accumulators, each as ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7))
/// (the same tree for every key, however keys are grouped).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn hsum2(a: __m256, b: __m256) -> (f32, f32) {
    let h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_setzero_ps());
    let r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    (_mm_cvtss_f32(r), _mm_cvtss_f32(_mm_movehdup_ps(r)))
}

/// The row kernel, instantiated per feature set: `attend_rows` with AVX2's
/// 16 vector registers (up to 4 rows), `attend_rows_512` with AVX-512 VL's
/// 32 (up to 8 rows: 16 score accumulators and the value sums stay in
/// registers). The same intrinsics, so the same float ops per row.
macro_rules! attend_rows_instance {
    ($name:ident, $feat:literal) => {
        /// `out[r] = attention of q[r]` at position `pos0 + r` over keys `lo..=pos0 + r`,
        /// with a sink logit `sink` in every softmax (`NEG_INFINITY`: none).
        ///
        /// # Safety
        /// The features of the instance (`attend_rows`: AVX2, FMA and F16C;
        /// `attend_rows_512`: and AVX-512 F/VL) must be available. (Every `q[r]` and `out[r]` must have
        /// the same length, a multiple of 8; `kv` hold positions `..pos0 + R`;
        /// `lo <= pos0`: asserted.)
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name<const R: usize>(
            q: [&[f32]; R],
            kv: KvHead<'_>,
            lo: usize,
            pos0: usize,
            scale: f32,
            sink: f32,
            out: [&mut [f32]; R],
        ) {
            let KvHead { k, v, stride, off } = kv;
            let hd = q[0].len();
            let last = pos0 + R - 1;
            assert!(hd.is_multiple_of(8) && off + hd <= stride && lo <= pos0);
            assert!(q.iter().all(|x| x.len() == hd) && out.iter().all(|x| x.len() == hd));
            assert!(k.len() >= last * stride + off + hd && v.len() >= last * stride + off + hd);
            let qp: [*const f32; R] = q.map(|x| x.as_ptr());
            let op: [*mut f32; R] = out.map(|x| {
                x.fill(0.0);
                x.as_mut_ptr()
            });
            let (kp, vp) = (k.as_ptr(), v.as_ptr());
            // the softmax starts from the sink (exp(sink - sink) = 1), if any
            let mut max = [sink; R];
            let mut sum = [if sink == f32::NEG_INFINITY {
                0.0f32
            } else {
                1.0
            }; R];
            let mut p = [[0.0f32; TILE]; R];
            // keys per pass of the score loop: 8 accumulators in registers
            const fn kpass(r: usize) -> usize {
                if r >= 4 {
                    2
                } else {
                    4
                }
            }
            let kp_n = kpass(R);
            let mut j0 = lo;
            // SAFETY: every key/value row read is j * stride + off .. + hd with
            // j <= last (in bounds, asserted above); q and out rows hold hd floats.
            unsafe {
                while j0 <= last {
                    // keys of this tile for each row (0: the row is done)
                    let n: [usize; R] =
                        std::array::from_fn(|r| (j0 + TILE).min(pos0 + r + 1).saturating_sub(j0));
                    let n_max = n[R - 1];
                    // scores, kp_n keys x R rows per pass, each key/value load shared
                    let mut i = 0;
                    while i < n_max {
                        let nk = kp_n.min(n_max - i);
                        let kr: [*const f16; 4] = std::array::from_fn(|t| {
                            kp.add((j0 + i + t.min(nk - 1)) * stride + off)
                        });
                        let mut s = [[_mm256_setzero_ps(); 4]; R];
                        let mut d = 0;
                        while d < hd {
                            let kv: [__m256; 4] = std::array::from_fn(|t| {
                                if t < kp_n {
                                    ld8(kr[t].add(d))
                                } else {
                                    _mm256_setzero_ps()
                                }
                            });
                            for r in 0..R {
                                let qv = _mm256_loadu_ps(qp[r].add(d));
                                for t in 0..kp_n {
                                    s[r][t] = _mm256_fmadd_ps(qv, kv[t], s[r][t]);
                                }
                            }
                            d += 8;
                        }
                        for r in 0..R {
                            let mut t = 0;
                            while t < kp_n {
                                let (a, b) = hsum2(s[r][t], s[r][t + 1]);
                                if i + t < TILE {
                                    p[r][i + t] = a * scale;
                                }
                                if i + t + 1 < TILE {
                                    p[r][i + t + 1] = b * scale;
                                }
                                t += 2;
                            }
                        }
                        i += kp_n;
                    }
                    for r in 0..R {
                        if n[r] == 0 {
                            continue;
                        }
                        let tile_max = p[r][..n[r]]
                            .iter()
                            .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                        if tile_max > max[r] {
                            let corr = crate::exp_ggml(max[r] - tile_max);
                            sum[r] *= corr;
                            let c = _mm256_set1_ps(corr);
                            let mut d = 0;
                            while d < hd {
                                _mm256_storeu_ps(
                                    op[r].add(d),
                                    _mm256_mul_ps(_mm256_loadu_ps(op[r].add(d)), c),
                                );
                                d += 8;
                            }
                            max[r] = tile_max;
                        }
                        // exp eight at a time (the same bits as `exp_ggml`, which the
                        // scalar reference takes), then summed in order as there
                        let ps = &mut p[r][..n[r]];
                        let m8 = _mm256_set1_ps(max[r]);
                        let mut c = ps.chunks_exact_mut(8);
                        for ch in &mut c {
                            let v = _mm256_sub_ps(_mm256_loadu_ps(ch.as_ptr()), m8);
                            _mm256_storeu_ps(ch.as_mut_ptr(), super::act::v_expf(v));
                        }
                        for x in c.into_remainder() {
                            *x = crate::exp_ggml(*x - max[r]);
                        }
                        for &x in ps.iter() {
                            sum[r] += x;
                        }
                    }
                    // values: 32 (one row) or 16 columns at a time, accumulators of
                    // every row in registers
                    let mut d = 0;
                    if R == 1 {
                        while d + 32 <= hd {
                            vsum::<R, 4>(
                                vp.add(j0 * stride + off + d),
                                stride,
                                n,
                                &p,
                                op.map(|o| o.add(d)),
                            );
                            d += 32;
                        }
                    } else {
                        while d + 16 <= hd {
                            vsum::<R, 2>(
                                vp.add(j0 * stride + off + d),
                                stride,
                                n,
                                &p,
                                op.map(|o| o.add(d)),
                            );
                            d += 16;
                        }
                    }
                    while d < hd {
                        vsum::<R, 1>(
                            vp.add(j0 * stride + off + d),
                            stride,
                            n,
                            &p,
                            op.map(|o| o.add(d)),
                        );
                        d += 8;
                    }
                    j0 += TILE;
                }
                for r in 0..R {
                    let inv = _mm256_set1_ps(1.0 / sum[r]);
                    let mut d = 0;
                    while d < hd {
                        _mm256_storeu_ps(
                            op[r].add(d),
                            _mm256_mul_ps(_mm256_loadu_ps(op[r].add(d)), inv),
                        );
                        d += 8;
                    }
                }
            }
        }
    };
}

attend_rows_instance!(attend_rows, "avx2,fma,f16c");
attend_rows_instance!(attend_rows_512, "avx2,fma,f16c,avx512f,avx512vl");

/// `out[r][c] += Σ_{i < n[r]} p[r][i] * v_i[c]` for `8 * NC` columns, keys in
/// order, where `v_i` starts at `v + i * stride`.
///
/// # Safety
/// AVX2, FMA, F16C; `n[R - 1]` value rows of `8 * NC` f16 readable at `v`;
/// `8 * NC` floats at each `out[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn vsum<const R: usize, const NC: usize>(
    v: *const f16,
    stride: usize,
    n: [usize; R],
    p: &[[f32; TILE]; R],
    out: [*mut f32; R],
) {
    // SAFETY: per the contract above.
    unsafe {
        let mut a = [[_mm256_setzero_ps(); NC]; R];
        for r in 0..R {
            for c in 0..NC {
                a[r][c] = _mm256_loadu_ps(out[r].add(8 * c));
            }
        }
        for i in 0..n[R - 1] {
            let vr = v.add(i * stride);
            let vv: [__m256; NC] = std::array::from_fn(|c| ld8(vr.add(8 * c)));
            for r in 0..R {
                if i < n[r] {
                    let pv = _mm256_set1_ps(p[r][i]);
                    for c in 0..NC {
                        a[r][c] = _mm256_fmadd_ps(pv, vv[c], a[r][c]);
                    }
                }
            }
        }
        for r in 0..R {
            for c in 0..NC {
                _mm256_storeu_ps(out[r].add(8 * c), a[r][c]);
            }
        }
    }
}
