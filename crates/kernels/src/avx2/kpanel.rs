//! Prefill matmul for Q4_K and Q6_K: each weight row's super-blocks are
//! unpacked once into a scratch layout (quants as bytes, scales as the i16
//! vectors `madd` takes) and then dotted with every activation row of the
//! tile, 4 rows at a time.
//!
//! Bit-identical to `kq::dot_q4_k` / `kq::dot_q6_k` (llama.cpp's AVX2 order,
//! formats in `crate::k_quants`): per super-block each output's 8 i32 lanes
//! `sumi` are exact integer sums (the same products and scales, added in
//! another order: integer addition is associative), and the float ops that
//! follow — `d = d_y * d_x`, the FMA into the 8 float lanes, the min or
//! offset term, the final `hsum` — are the same ops in the same order. What
//! changes is only how often a weight row is unpacked: once per tile instead
//! of once per 4 activation rows.

use super::hsum_f32_8;
use super::kq::scales_mins_k4_fast;
use super::legacy::{f16x2, ld32};
use crate::k_quants::{Q8_K_BSUMS, Q8_K_BYTES};
use gguf::GgmlType;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One super-block (256 elements) of one weight row, unpacked.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct KBlk {
    /// Quants `32 t .. 32 t + 32` as unsigned bytes (Q4_K: 0..16, Q6_K: 0..64),
    /// dotted with activation bytes `4 + 32 t ..` of the Q8_K block.
    v: [__m256i; 8],
    /// The i16 scales `madd` multiplies chunk `t`'s pair sums by.
    s: [__m256i; 8],
    /// Q4_K: the 8 mins as i16 (low half); Q6_K: the 16 scales as i16.
    extra: __m256i,
    /// Q4_K: (d, dmin) as f32; Q6_K: (d, _).
    d: f32,
    m: f32,
}

thread_local! {
    static SCRATCH: RefCell<Vec<KBlk>> = const { RefCell::new(Vec::new()) };
}

/// Weight block bytes of a K-quant panel format.
fn block_bytes(ty: GgmlType) -> Option<usize> {
    match ty {
        GgmlType::Q4_K => Some(144),
        GgmlType::Q6_K => Some(210),
        _ => None,
    }
}

/// Whether `ty` has a K-quant panel kernel.
pub(crate) fn has_kpanel(ty: GgmlType) -> bool {
    block_bytes(ty).is_some()
}

/// Unpack `nb` Q4_K super-blocks at `x` into `dst` (as `kq::dot_q4_k` does).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_q4_k(x: *const u8, nb: usize, dst: &mut [KBlk]) {
    assert!(dst.len() >= nb);
    let m4 = _mm256_set1_epi8(0xF);
    for (i, b) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: the caller guarantees nb blocks of 144 bytes at `x`.
        unsafe {
            let x = x.add(i * 144);
            let dm = f16x2(x);
            b.d = _mm_cvtss_f32(dm);
            b.m = _mm_cvtss_f32(_mm_movehdup_ps(dm));
            let (sc, m) = scales_mins_k4_fast(x.add(4));
            b.extra = _mm256_castsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64(
                m.as_ptr() as *const __m128i
            )));
            for j in 0..4 {
                let q4 = ld32(x.add(16 + j * 32));
                b.v[2 * j] = _mm256_and_si256(q4, m4);
                b.v[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
                b.s[2 * j] = _mm256_set1_epi16(sc[2 * j] as i16);
                b.s[2 * j + 1] = _mm256_set1_epi16(sc[2 * j + 1] as i16);
            }
        }
    }
}

/// Unpack `nb` Q6_K super-blocks at `x` into `dst` (as `kq::dot_q6_k` does).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn build_q6_k(x: *const u8, nb: usize, dst: &mut [KBlk]) {
    assert!(dst.len() >= nb);
    let m4 = _mm256_set1_epi8(0xF);
    let m2 = _mm256_set1_epi8(3);
    for (i, b) in dst.iter_mut().enumerate().take(nb) {
        // SAFETY: the caller guarantees nb blocks of 210 bytes at `x`.
        unsafe {
            let x = x.add(i * 210);
            // d is the f16 at 208..210: read 206..210 (in bounds) and take lane 1.
            b.d = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x.add(206))));
            b.m = 0.0;
            let sc = x.add(192);
            b.extra = _mm256_cvtepi8_epi16(_mm_loadu_si128(sc as *const __m128i));
            for n in 0..2 {
                let ql0 = ld32(x.add(n * 64));
                let ql1 = ld32(x.add(n * 64 + 32));
                let qh = ld32(x.add(128 + n * 32));
                let hi = |sh: i32| -> __m256i {
                    let q = match sh {
                        0 => qh,
                        2 => _mm256_srli_epi16(qh, 2),
                        4 => _mm256_srli_epi16(qh, 4),
                        _ => _mm256_srli_epi16(qh, 6),
                    };
                    _mm256_slli_epi16(_mm256_and_si256(q, m2), 4)
                };
                b.v[4 * n] = _mm256_or_si256(_mm256_and_si256(ql0, m4), hi(0));
                b.v[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), hi(2));
                b.v[4 * n + 2] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), hi(4));
                b.v[4 * n + 3] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), hi(6));
                for k in 0..4 {
                    let g = n * 8 + k * 2;
                    let (lo, hi) = ((*sc.add(g) as i8) as i16, (*sc.add(g + 1) as i8) as i16);
                    b.s[4 * n + k] = _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo));
                }
            }
        }
    }
}

/// Dot products of an unpacked weight row (`nb` super-blocks) with `R`
/// activation rows (Q8_K): the float ops of `dot_q4_k` (`Q6` false) or
/// `dot_q6_k` (`Q6` true), per output.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run<const R: usize, const Q6: bool>(
    p: &[KBlk],
    nb: usize,
    a: [*const u8; R],
) -> [f32; R] {
    assert!(p.len() >= nb);
    let mut acc = [_mm256_setzero_ps(); R];
    let mut acc_m = [_mm_setzero_ps(); R];
    for (i, b) in p.iter().enumerate().take(nb) {
        // SAFETY: the caller guarantees nb Q8_K blocks at each `a[r]`.
        unsafe {
            let y = a.map(|q| q.add(i * Q8_K_BYTES));
            let mut sumi = [_mm256_setzero_si256(); R];
            for t in 0..8 {
                let (v, s) = (b.v[t], b.s[t]);
                for r in 0..R {
                    let prod =
                        _mm256_madd_epi16(_mm256_maddubs_epi16(v, ld32(y[r].add(4 + 32 * t))), s);
                    sumi[r] = _mm256_add_epi32(sumi[r], prod);
                }
            }
            for r in 0..R {
                let yd = std::ptr::read_unaligned(y[r] as *const f32);
                let q8sums = ld32(y[r].add(Q8_K_BSUMS));
                if Q6 {
                    let d = yd * b.d;
                    // values are u - 32 with u in 0..64: subtract 32 * scale * bsum lane-wise.
                    let sub = _mm256_slli_epi32(_mm256_madd_epi16(q8sums, b.extra), 5);
                    let s = _mm256_sub_epi32(sumi[r], sub);
                    acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc[r]);
                } else {
                    let d = yd * b.d;
                    let dmin = -yd * b.m;
                    let q8s = _mm_hadd_epi16(
                        _mm256_castsi256_si128(q8sums),
                        _mm256_extracti128_si256(q8sums, 1),
                    );
                    let mp = _mm_madd_epi16(_mm256_castsi256_si128(b.extra), q8s);
                    acc_m[r] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mp), acc_m[r]);
                    acc[r] =
                        _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
                }
            }
        }
    }
    std::array::from_fn(|r| {
        // SAFETY: target features as for this function.
        unsafe {
            if Q6 {
                hsum_f32_8(acc[r])
            } else {
                let am = acc_m[r];
                let am = _mm_add_ps(am, _mm_movehl_ps(am, am));
                let am = _mm_add_ss(am, _mm_movehdup_ps(am));
                hsum_f32_8(acc[r]) + _mm_cvtss_f32(am)
            }
        }
    })
}

/// `out[r * n_out + o]` for `o in o0..o0 + 4 * n4`, `r in r0..r1` (the
/// `PanelFn` contract, see `panel::matmul_panel`), for Q4_K and Q6_K.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `w` must hold rows `o0..o0 + 4 * n4`
/// of `rb` bytes each (`rb` a multiple of the block size of `ty`), each
/// activation row `r0..r1` at `a0 + r * stride` the matching Q8_K blocks,
/// and `out` `r1 * n_out` floats of which this call alone writes the listed ones.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matmul_kpanel(
    ty: GgmlType,
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
    let wb = block_bytes(ty).expect("K-quant panel format");
    let nb = rb / wb;
    let q6 = ty == GgmlType::Q6_K;
    assert!(w.len() >= (o0 + 4 * n4) * rb && o0 + 4 * n4 <= n_out && nb * Q8_K_BYTES <= stride);
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < nb {
            // SAFETY: all-zero bytes are valid vectors and floats.
            s.resize(nb, unsafe { std::mem::zeroed() });
        }
        for o in o0..o0 + 4 * n4 {
            let row = w[o * rb..(o + 1) * rb].as_ptr();
            // SAFETY: the row holds nb blocks (asserted above).
            unsafe {
                if q6 {
                    build_q6_k(row, nb, &mut s)
                } else {
                    build_q4_k(row, nb, &mut s)
                }
            }
            let mut r = r0;
            while r < r1 {
                let n = if r + 4 <= r1 { 4 } else { 1 };
                // SAFETY: activation rows r0..r1 hold nb Q8_K blocks, and the
                // outputs (row r.., column o) are this call's to write.
                unsafe {
                    let ar = |i: usize| a0.add((r + i) * stride);
                    if n == 4 {
                        let a = [ar(0), ar(1), ar(2), ar(3)];
                        let v = if q6 {
                            run::<4, true>(&s, nb, a)
                        } else {
                            run::<4, false>(&s, nb, a)
                        };
                        for (i, x) in v.iter().enumerate() {
                            *out.add((r + i) * n_out + o) = *x;
                        }
                    } else {
                        let v = if q6 {
                            run::<1, true>(&s, nb, [ar(0)])
                        } else {
                            run::<1, false>(&s, nb, [ar(0)])
                        };
                        *out.add(r * n_out + o) = v[0];
                    }
                }
                r += n;
            }
        }
    });
}
