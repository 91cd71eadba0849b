//! The AVX-512 kernel bodies, instantiated per feature set by
//! `avx512_variant!(module, "features", vnni)` (see the parent module for the
//! numerics). Shapes and op orders mirror the AVX2 kernels they stand in for:
//! `avx2::legacy` (tiles), `avx2::panel::run`/`run2`,
//! `avx2::float`.

macro_rules! avx512_variant {
    ($m:ident, $feat:literal, $vnni:literal) => {
        #[allow(clippy::missing_safety_doc)]
        pub(crate) mod $m {
            use crate::avx2::hsum_f32_8;
            use crate::avx2::panel::{finish2, ActBlock, PBlock};
            use crate::block::Block32;
            use std::arch::x86_64::*;

            /// Whether this instance may use `vpdpbusd`.
            const VNNI: bool = $vnni;

            /// `acc` plus, per i32 lane, the exact sum of the 4 u8 x i8 products of
            /// `ax` and `sy` (operands bounded so that `vpmaddubsw` cannot
            /// saturate): one instruction with VNNI.
            #[inline]
            #[target_feature(enable = $feat)]
            fn dp_acc(acc: __m512i, ax: __m512i, sy: __m512i) -> __m512i {
                if VNNI {
                    // SAFETY: VNNI is in this instance's features (`VNNI` true
                    // only for the avx512vnni instance).
                    unsafe { vnni_dpbusd(acc, ax, sy) }
                } else {
                    _mm512_add_epi32(
                        acc,
                        _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sy), _mm512_set1_epi16(1)),
                    )
                }
            }

            /// `vpdpbusd`, reached only from the VNNI instance.
            #[inline]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
            unsafe fn vnni_dpbusd(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
                _mm512_dpbusd_epi32(acc, a, b)
            }

            /// `[lo | hi]` for floats.
            #[inline]
            #[target_feature(enable = $feat)]
            fn pair_f(lo: __m256, hi: __m256) -> __m512 {
                let v = _mm512_castps256_ps512(lo);
                _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                    _mm512_castps_pd(v),
                    _mm256_castps_pd(hi),
                ))
            }

            /// `[v | v]` for floats.
            #[inline]
            #[target_feature(enable = $feat)]
            fn dup_f(v: __m256) -> __m512 {
                _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(v)))
            }

            #[inline]
            #[target_feature(enable = $feat)]
            fn lo_f(v: __m512) -> __m256 {
                _mm512_castps512_ps256(v)
            }

            #[inline]
            #[target_feature(enable = $feat)]
            fn hi_f(v: __m512) -> __m256 {
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)))
            }

            /// 8 activation quants at `p` (qword) in the low half, 8 at `q`
            /// in the high half, each repeated over its half's 4 qwords.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn qpair(p: *const u8, q: *const u8) -> __m512i {
                // SAFETY: caller guarantees 8 readable bytes at each pointer.
                let (a, b) = unsafe {
                    (
                        std::ptr::read_unaligned(p as *const i64),
                        std::ptr::read_unaligned(q as *const i64),
                    )
                };
                _mm512_mask_set1_epi64(_mm512_set1_epi64(a), 0xF0, b)
            }

            /// `avx2::panel`'s 4-row pass (two-lane order) with activation
            /// rows (0, 1) and (2, 3) sharing vectors: `[row][panel row]`.
            ///
            /// # Safety
            /// This instance's features; `p` holds `nb` blocks built from `F`;
            /// each `a[r]` `nb` Q8_1 activation blocks and each `t[r]` their
            /// `nb` terms.
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn run2<F: Block32>(
                p: &[PBlock],
                nb: usize,
                a: [*const u8; 4],
                t: [*const ActBlock; 4],
            ) -> [[f32; 4]; 4] {
                const { assert!(F::MIN, "the two-lane kernels take formats with a min") };
                assert!(p.len() >= nb);
                let mut acc = [_mm512_setzero_ps(); 2];
                let mut summ = [_mm512_setzero_ps(); 2];
                let ones = _mm512_set1_epi16(1);
                for (b, blk) in p.iter().enumerate().take(nb) {
                    // SAFETY: per the contract above.
                    unsafe {
                        let y = a.map(|q| q.add(b * F::ACT_BYTES));
                        let mut s = [_mm512_setzero_si512(); 2];
                        for h in 0..4 {
                            let x = _mm512_broadcast_i64x4(blk.x[h]);
                            for pr in 0..2 {
                                let o = F::ACT_QS + 8 * h;
                                let qy = qpair(y[2 * pr].add(o), y[2 * pr + 1].add(o));
                                // VNNI: i32 sums at once; else the i16 sums of
                                // the AVX2 kernel (exact), widened below
                                s[pr] = if VNNI {
                                    dp_acc(s[pr], x, qy)
                                } else {
                                    _mm512_add_epi16(s[pr], _mm512_maddubs_epi16(x, qy))
                                };
                            }
                        }
                        for pr in 0..2 {
                            let (t0, t1) = (&*t[2 * pr].add(b), &*t[2 * pr + 1].add(b));
                            let v = if VNNI {
                                s[pr]
                            } else {
                                _mm512_madd_epi16(s[pr], ones)
                            };
                            let dy = pair_f(_mm256_set1_ps(t0.d), _mm256_set1_ps(t1.d));
                            let dv = _mm512_mul_ps(dup_f(blk.d), dy);
                            acc[pr] = _mm512_fmadd_ps(dv, _mm512_cvtepi32_ps(v), acc[pr]);
                        }
                    }
                }
                for (b, blk) in p.iter().enumerate().take(nb) {
                    for pr in 0..2 {
                        // SAFETY: as above.
                        let (t0, t1) = unsafe { (&*t[2 * pr].add(b), &*t[2 * pr + 1].add(b)) };
                        let s = pair_f(_mm256_set1_ps(t0.s), _mm256_set1_ps(t1.s));
                        summ[pr] = _mm512_fmadd_ps(dup_f(blk.m), s, summ[pr]);
                    }
                }
                [
                    finish2(lo_f(acc[0]), lo_f(summ[0])),
                    finish2(hi_f(acc[0]), hi_f(summ[0])),
                    finish2(lo_f(acc[1]), lo_f(summ[1])),
                    finish2(hi_f(acc[1]), hi_f(summ[1])),
                ]
            }

            /// `GGML_F32x8_REDUCE` of the AVX2 kernel over its four
            /// accumulators, held here as `[acc0 | acc1]`, `[acc2 | acc3]`.
            #[inline]
            #[target_feature(enable = $feat)]
            fn reduce4(a01: __m512, a23: __m512) -> f32 {
                let a = _mm256_add_ps(lo_f(a01), lo_f(a23));
                let b = _mm256_add_ps(hi_f(a01), hi_f(a23));
                let x0 = _mm256_add_ps(a, b);
                let t0 = _mm_add_ps(_mm256_castps256_ps128(x0), _mm256_extractf128_ps::<1>(x0));
                let t1 = _mm_hadd_ps(t0, t0);
                _mm_cvtss_f32(_mm_hadd_ps(t1, t1))
            }

            /// 16 f32 at element `i` of `s`.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn ld16_f32(s: &[u8], i: usize) -> __m512 {
                assert!(s.len() >= (i + 16) * 4);
                // SAFETY: 64 readable bytes checked above; unaligned load.
                unsafe { _mm512_loadu_ps(s.as_ptr().add(i * 4) as *const f32) }
            }

            /// 16 f16 at element `i` of `s`, as f32 (exact).
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn ld16_f16(s: &[u8], i: usize) -> __m512 {
                assert!(s.len() >= (i + 16) * 2);
                // SAFETY: 32 readable bytes checked above; unaligned load.
                unsafe {
                    _mm512_cvtph_ps(_mm256_loadu_si256(s.as_ptr().add(i * 2) as *const __m256i))
                }
            }

            /// 16 bf16 at element `i` of `s`, as f32 (exact).
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn ld16_bf16(s: &[u8], i: usize) -> __m512 {
                assert!(s.len() >= (i + 16) * 2);
                // SAFETY: 32 readable bytes checked above; unaligned load.
                let h = unsafe { _mm256_loadu_si256(s.as_ptr().add(i * 2) as *const __m256i) };
                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
            }

            /// llama.cpp's AVX2 `ggml_vec_dot_f32` (see `avx2::float`).
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn vec_dot_f32(w: &[u8], a: &[u8]) -> f32 {
                let n = w.len() / 4;
                let np = n & !31;
                let (mut a01, mut a23) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                let mut i = 0;
                // SAFETY: every load is bounds-checked inside the loader.
                unsafe {
                    while i < np {
                        a01 = _mm512_fmadd_ps(ld16_f32(w, i), ld16_f32(a, i), a01);
                        a23 = _mm512_fmadd_ps(ld16_f32(w, i + 16), ld16_f32(a, i + 16), a23);
                        i += 32;
                    }
                }
                let s = reduce4(a01, a23);
                crate::float::tail_f32(w, a, np, n, s)
            }

            /// llama.cpp's AVX2 `ggml_vec_dot_f16` (see `avx2::float`).
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn vec_dot_f16(w: &[u8], a: &[u8]) -> f32 {
                let n = w.len() / 2;
                let np = n & !31;
                let (mut a01, mut a23) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                let mut i = 0;
                // SAFETY: every load is bounds-checked inside the loader.
                unsafe {
                    while i < np {
                        a01 = _mm512_fmadd_ps(ld16_f16(w, i), ld16_f16(a, i), a01);
                        a23 = _mm512_fmadd_ps(ld16_f16(w, i + 16), ld16_f16(a, i + 16), a23);
                        i += 32;
                    }
                }
                let s = reduce4(a01, a23) as f64;
                crate::float::tail_f16(w, a, np, n, s) as f32
            }

            /// llama.cpp's AVX2 `ggml_vec_dot_bf16` (see `avx2::float`).
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn vec_dot_bf16(w: &[u8], a: &[u8]) -> f32 {
                let n = w.len() / 2;
                let (mut c01, mut c23) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                let mut i = 0;
                // SAFETY: every load is bounds-checked inside the loader.
                unsafe {
                    while i + 32 <= n {
                        c01 = _mm512_add_ps(_mm512_mul_ps(ld16_bf16(w, i), ld16_bf16(a, i)), c01);
                        c23 = _mm512_add_ps(
                            _mm512_mul_ps(ld16_bf16(w, i + 16), ld16_bf16(a, i + 16)),
                            c23,
                        );
                        i += 32;
                    }
                }
                // (c0 + c2) + (c1 + c3), then llama.cpp's hsum
                let c1 = _mm256_add_ps(
                    _mm256_add_ps(lo_f(c01), lo_f(c23)),
                    _mm256_add_ps(hi_f(c01), hi_f(c23)),
                );
                let s = hsum_f32_8(c1) as f64;
                crate::float::tail_bf16(w, a, i, n, s) as f32
            }
        }
    };
}
