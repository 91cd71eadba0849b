//! The AVX-512 kernel bodies, instantiated per feature set by
//! `avx512_variant!(module, "features", vnni)` (see the parent module for the
//! numerics). Shapes and op orders mirror the AVX2 kernels they stand in for:
//! `avx2::legacy` (tiles), `avx2::two_lane::rows4`, `avx2::panel::run`/`run2`,
//! `avx2::float`.

macro_rules! avx512_variant {
    ($m:ident, $feat:literal, $vnni:literal) => {
        #[allow(clippy::missing_safety_doc)]
        pub(crate) mod $m {
            use crate::avx2::hsum_f32_8;
            use crate::avx2::legacy::{f16x2, ld32, PREFETCH};
            use crate::avx2::panel::{finish2, offset, unpack, unpack_u, ActBlock, Fmt, PBlock};
            use crate::avx2::two_lane::rows4_block_end;
            use std::arch::x86_64::*;

            /// Whether this instance may use `vpdpbusd`.
            const VNNI: bool = $vnni;

            /// u8 x i8 bytes -> per i32 lane the exact sum of its 4 products
            /// (operands bounded so that `vpmaddubsw` cannot saturate).
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn mul_us(ax: __m512i, sy: __m512i) -> __m512i {
                if VNNI {
                    // SAFETY: VNNI is in this instance's features (`VNNI` true
                    // only for the avx512vnni instance).
                    unsafe { vnni_dpbusd(_mm512_setzero_si512(), ax, sy) }
                } else {
                    _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sy), _mm512_set1_epi16(1))
                }
            }

            /// `acc + mul_us(ax, sy)`, one instruction with VNNI.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn dp_acc(acc: __m512i, ax: __m512i, sy: __m512i) -> __m512i {
                if VNNI {
                    // SAFETY: as in `mul_us`.
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

            /// Signed x signed bytes (`y` in [-127, 127]) through the sign
            /// trick: `|x|` times `y` negated where `x < 0`.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn mul_ss(x: __m512i, y: __m512i) -> __m512i {
                let ax = _mm512_abs_epi8(x);
                let sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
                // SAFETY: same features.
                unsafe { mul_us(ax, sy) }
            }

            /// `[lo | hi]`.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn pair_i(lo: __m256i, hi: __m256i) -> __m512i {
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
            }

            /// `[lo | hi]` for floats.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn pair_f(lo: __m256, hi: __m256) -> __m512 {
                let v = _mm512_castps256_ps512(lo);
                _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                    _mm512_castps_pd(v),
                    _mm256_castps_pd(hi),
                ))
            }

            /// `[v | v]` for floats.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn dup_f(v: __m256) -> __m512 {
                _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(v)))
            }

            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn lo_f(v: __m512) -> __m256 {
                _mm512_castps512_ps256(v)
            }

            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn hi_f(v: __m512) -> __m256 {
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)))
            }

            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn lo_i(v: __m512i) -> __m256i {
                _mm512_castsi512_si256(v)
            }

            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn hi_i(v: __m512i) -> __m256i {
                _mm512_extracti64x4_epi64::<1>(v)
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

            /// Block bytes of format kind `K` (`avx2::panel` numbering).
            const WB: [usize; 5] = [18, 20, 22, 24, 34];

            /// `M` weight rows x `N` activation rows of format kind `K` in
            /// llama.cpp's `vec_dot` order (`avx2::legacy`), outputs taken two
            /// at a time (`P = M * N / 2` pairs, row-major `[m][n]`): output
            /// `2p` in the low half of vector `p`, `2p + 1` in the high half.
            #[inline]
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn tile<
                const K: u8,
                const M: usize,
                const N: usize,
                const P: usize,
            >(
                w: [&[u8]; M],
                a: [&[u8]; N],
            ) -> [[f32; N]; M] {
                assert!(2 * P == M * N, "outputs must pair up");
                let min = K == 1 || K == 3;
                let wb = WB[K as usize];
                let (ab, qoff) = if min { (36, 4) } else { (34, 2) };
                let nb = w[0].len() / wb;
                assert!(w.iter().all(|r| r.len() >= nb * wb), "weight row too short");
                assert!(
                    a.iter().all(|r| r.len() >= nb * ab),
                    "activation row too short"
                );
                let wp: [*const u8; M] = w.map(|s| s.as_ptr());
                let ap: [*const u8; N] = a.map(|s| s.as_ptr());
                let mut acc = [_mm512_setzero_ps(); P];
                let mut summs = [[_mm_setzero_ps(); N]; M];
                let pf = PREFETCH.load(std::sync::atomic::Ordering::Relaxed);
                let ahead: isize = if M >= 2 {
                    M as isize * (wp[1] as isize).wrapping_sub(wp[0] as isize)
                } else {
                    crate::avx2::legacy::PF_DIST as isize
                };
                // SAFETY: block i of each row lies inside it (asserted above);
                // prefetch hints never fault.
                unsafe {
                    for i in 0..nb {
                        let xs: [*const u8; M] = std::array::from_fn(|m| wp[m].add(i * wb));
                        if pf {
                            for x in xs {
                                _mm_prefetch::<_MM_HINT_T0>(x.wrapping_offset(ahead) as *const i8);
                            }
                        }
                        let qx: [__m256i; M] = std::array::from_fn(|m| unpack::<K>(xs[m]));
                        let xdm: [__m128; M] = std::array::from_fn(|m| f16x2(xs[m]));
                        let ys: [*const u8; N] = std::array::from_fn(|r| ap[r].add(i * ab));
                        let yds: [__m128; N] = std::array::from_fn(|r| f16x2(ys[r]));
                        let qy: [__m256i; N] = std::array::from_fn(|r| ld32(ys[r].add(qoff)));
                        if min {
                            for m in 0..M {
                                for r in 0..N {
                                    summs[m][r] = _mm_fmadd_ps(xdm[m], yds[r], summs[m][r]);
                                }
                            }
                        }
                        for p in 0..P {
                            let (m0, r0) = ((2 * p) / N, (2 * p) % N);
                            let (m1, r1) = ((2 * p + 1) / N, (2 * p + 1) % N);
                            let x = if m0 == m1 {
                                _mm512_broadcast_i64x4(qx[m0])
                            } else {
                                pair_i(qx[m0], qx[m1])
                            };
                            let y = if r0 == r1 {
                                _mm512_broadcast_i64x4(qy[r0])
                            } else {
                                pair_i(qy[r0], qy[r1])
                            };
                            // lane 0: dx * dy, the AVX2 kernel's single rounding
                            let d0 = _mm256_broadcastss_ps(_mm_mul_ps(xdm[m0], yds[r0]));
                            let d1 = _mm256_broadcastss_ps(_mm_mul_ps(xdm[m1], yds[r1]));
                            let q =
                                _mm512_cvtepi32_ps(if min { mul_us(x, y) } else { mul_ss(x, y) });
                            acc[p] = _mm512_fmadd_ps(pair_f(d0, d1), q, acc[p]);
                        }
                    }
                    let mut out = [[0f32; N]; M];
                    for p in 0..P {
                        for (o, half) in [(2 * p, lo_f(acc[p])), (2 * p + 1, hi_f(acc[p]))] {
                            let (m, r) = (o / N, o % N);
                            out[m][r] = hsum_f32_8(half);
                            if min {
                                out[m][r] += _mm_cvtss_f32(_mm_movehdup_ps(summs[m][r]));
                            }
                        }
                    }
                    out
                }
            }

            /// `avx2::two_lane::rows4` (two-lane order, 4 weight rows x one
            /// activation row, decode) with rows (0, 1) and (2, 3) sharing
            /// vectors for the products.
            ///
            /// # Safety
            /// This instance's features; `nb` blocks readable at each `w[j]`
            /// and `nb` activation blocks (Q8_0 for kinds 0 and 2, Q8_1 for 1
            /// and 3) at `a`.
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn rows4<const K: u8, const PF: bool>(
                w: [*const u8; 4],
                nb: usize,
                a: *const u8,
            ) -> [f32; 4] {
                let min = K == 1 || K == 3;
                let wb = WB[K as usize];
                let (ab, qoff) = if min { (36, 4) } else { (34, 2) };
                let off = _mm512_set1_epi8(offset(K) as i8);
                let pf = PF; // a constant, as in the AVX2 kernel
                let ahead = 4 * (w[1] as isize).wrapping_sub(w[0] as isize);
                let mut acc = _mm256_setzero_ps();
                let mut summ = _mm256_setzero_ps();
                // SAFETY: per the contract above; prefetch hints never fault.
                unsafe {
                    for b in 0..nb {
                        let y = a.add(b * ab);
                        let qy = _mm512_broadcast_i64x4(ld32(y.add(qoff)));
                        let xs = w.map(|p| p.add(b * wb));
                        if pf {
                            for x in xs {
                                _mm_prefetch::<_MM_HINT_T0>(x.wrapping_offset(ahead) as *const i8);
                            }
                        }
                        let u01 = pair_i(unpack_u::<K>(xs[0]), unpack_u::<K>(xs[1]));
                        let u23 = pair_i(unpack_u::<K>(xs[2]), unpack_u::<K>(xs[3]));
                        let mut v01 = mul_us(u01, qy);
                        let mut v23 = mul_us(u23, qy);
                        if !min {
                            // x = u - offset: subtract offset * (sum of the 4 y) per lane
                            let corr = mul_us(off, qy);
                            v01 = _mm512_sub_epi32(v01, corr);
                            v23 = _mm512_sub_epi32(v23, corr);
                        }
                        let v = [lo_i(v01), hi_i(v01), lo_i(v23), hi_i(v23)];
                        rows4_block_end(min, v, xs, y, &mut acc, &mut summ);
                    }
                    finish2(min, acc, summ)
                }
            }

            /// `[d_y of a | d_y of b]` each over its half (lane 0 of `f16x2`).
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn dy_pair(a: __m128, b: __m128) -> __m512 {
                pair_f(_mm256_broadcastss_ps(a), _mm256_broadcastss_ps(b))
            }

            /// `avx2::panel::run2` for 4 activation rows, rows (0, 1) and
            /// (2, 3) sharing vectors: `[row][panel row]`.
            ///
            /// # Safety
            /// This instance's features; `p` holds `nb` blocks built with
            /// unsigned quants; each `a[r]` `nb` activation blocks of `f.ab`
            /// bytes and each `t[r]` their `nb` terms.
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn run2<const MIN: bool>(
                f: Fmt,
                p: &[PBlock],
                nb: usize,
                a: [*const u8; 4],
                t: [*const ActBlock; 4],
            ) -> [[f32; 4]; 4] {
                assert!(p.len() >= nb);
                let mut acc = [_mm512_setzero_ps(); 2];
                let mut summ = [_mm512_setzero_ps(); 2];
                let ones = _mm512_set1_epi16(1);
                for (b, blk) in p.iter().enumerate().take(nb) {
                    // SAFETY: per the contract above.
                    unsafe {
                        let y = a.map(|q| q.add(b * f.ab));
                        let mut s = [_mm512_setzero_si512(); 2];
                        for h in 0..4 {
                            let x = _mm512_broadcast_i64x4(blk.x[h]);
                            for pr in 0..2 {
                                let o = f.qoff + 8 * h;
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
                            let mut v = if VNNI {
                                s[pr]
                            } else {
                                _mm512_madd_epi16(s[pr], ones)
                            };
                            if !MIN {
                                let c = _mm512_mask_set1_epi64(
                                    _mm512_set1_epi64(t0.corr),
                                    0xF0,
                                    t1.corr,
                                );
                                v = _mm512_sub_epi32(v, _mm512_madd_epi16(c, ones));
                            }
                            let dy = pair_f(_mm256_set1_ps(t0.d), _mm256_set1_ps(t1.d));
                            let dv = _mm512_mul_ps(dup_f(blk.d), dy);
                            acc[pr] = _mm512_fmadd_ps(dv, _mm512_cvtepi32_ps(v), acc[pr]);
                        }
                    }
                }
                if MIN {
                    for (b, blk) in p.iter().enumerate().take(nb) {
                        for pr in 0..2 {
                            // SAFETY: as above.
                            let (t0, t1) = unsafe { (&*t[2 * pr].add(b), &*t[2 * pr + 1].add(b)) };
                            let s = pair_f(_mm256_set1_ps(t0.s), _mm256_set1_ps(t1.s));
                            summ[pr] = _mm512_fmadd_ps(dup_f(blk.m), s, summ[pr]);
                        }
                    }
                }
                // SAFETY: same features.
                unsafe {
                    [
                        finish2(MIN, lo_f(acc[0]), lo_f(summ[0])),
                        finish2(MIN, hi_f(acc[0]), hi_f(summ[0])),
                        finish2(MIN, lo_f(acc[1]), lo_f(summ[1])),
                        finish2(MIN, hi_f(acc[1]), hi_f(summ[1])),
                    ]
                }
            }

            /// `avx2::panel::run` (`vec_dot` order, panel built with signed
            /// quants and their absolute values, or unsigned with a min) for 4
            /// activation rows, two per vector: `[row][panel row]`.
            ///
            /// # Safety
            /// As [`run2`], without the offset terms.
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn run<const MIN: bool>(
                f: Fmt,
                p: &[PBlock],
                nb: usize,
                a: [*const u8; 4],
            ) -> [[f32; 4]; 4] {
                assert!(p.len() >= nb);
                let mut acc = [[_mm512_setzero_ps(); 4]; 2];
                let mut summ = [_mm512_setzero_ps(); 2];
                let zero = _mm512_setzero_si512();
                for (b, blk) in p.iter().enumerate().take(nb) {
                    // SAFETY: per the contract above.
                    unsafe {
                        let y = a.map(|q| q.add(b * f.ab));
                        let mut dv = [_mm512_setzero_ps(); 2];
                        for pr in 0..2 {
                            let (y0, y1) = (f16x2(y[2 * pr]), f16x2(y[2 * pr + 1]));
                            dv[pr] = _mm512_mul_ps(dup_f(blk.d), dy_pair(y0, y1));
                            if MIN {
                                let s = dy_pair(_mm_movehdup_ps(y0), _mm_movehdup_ps(y1));
                                summ[pr] = _mm512_fmadd_ps(dup_f(blk.m), s, summ[pr]);
                            }
                        }
                        for h in 0..4 {
                            let x = _mm512_broadcast_i64x4(blk.x[h]);
                            let ax = _mm512_broadcast_i64x4(blk.ax[h]);
                            let neg = _mm512_movepi8_mask(x);
                            for pr in 0..2 {
                                let o = f.qoff + 8 * h;
                                let qy = qpair(y[2 * pr].add(o), y[2 * pr + 1].add(o));
                                let prod = if MIN {
                                    mul_us(x, qy)
                                } else {
                                    mul_us(ax, _mm512_mask_sub_epi8(qy, neg, zero, qy))
                                };
                                acc[pr][h] =
                                    _mm512_fmadd_ps(dv[pr], _mm512_cvtepi32_ps(prod), acc[pr][h]);
                            }
                        }
                    }
                }
                let mut out = [[0f32; 4]; 4];
                for pr in 0..2 {
                    let [a0, a1, a2, a3] = acc[pr];
                    let u = _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
                    for (half, uh, sh) in
                        [(0, lo_f(u), lo_f(summ[pr])), (1, hi_f(u), hi_f(summ[pr]))]
                    {
                        let r = 2 * pr + half;
                        let s = _mm256_hadd_ps(uh, uh); // [r0 r1 r0 r1 | r2 r3 r2 r3]
                        let (mut v, mut m) = ([0f32; 8], [0f32; 8]);
                        // SAFETY: 8 floats written to 8-float arrays.
                        unsafe {
                            _mm256_storeu_ps(v.as_mut_ptr(), s);
                            _mm256_storeu_ps(m.as_mut_ptr(), sh);
                        }
                        out[r] = [v[0], v[1], v[4], v[5]];
                        if MIN {
                            for j in 0..4 {
                                out[r][j] += m[2 * j];
                            }
                        }
                    }
                }
                out
            }

            /// `GGML_F32x8_REDUCE` of the AVX2 kernel over its four
            /// accumulators, held here as `[acc0 | acc1]`, `[acc2 | acc3]`.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn reduce4(a01: __m512, a23: __m512) -> f32 {
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
                // SAFETY: same features.
                let s = unsafe { reduce4(a01, a23) };
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
                // SAFETY: same features.
                let s = unsafe { reduce4(a01, a23) } as f64;
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
                // SAFETY: same features.
                let s = unsafe { hsum_f32_8(c1) } as f64;
                crate::float::tail_bf16(w, a, i, n, s) as f32
            }
        }
    };
}
