//! AVX2 form of `crate::attn::attend_row_scalar`: the same tiles, maxima,
//! rescales and `exp` calls; dot products in 8 FMA lanes (4 keys at a time,
//! sharing each load of q) and the value sum as FMAs on 32 columns at a time
//! held in registers across a tile's keys.

use super::hsum_f32_8;
use crate::attn::TILE;
use half::f16;
use std::arch::x86_64::*;

/// 8 f16 at `p` as f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld8(p: *const f16) -> __m256 {
    // SAFETY: caller guarantees 8 readable f16 at `p`.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
}

/// See `crate::attn::attend_row`.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `q.len() == out.len()` is a multiple
/// of 8; `off + q.len() <= stride`; `lo <= pos`; `k` and `v` hold at least
/// `pos * stride + off + q.len()` elements.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn attend_row(q: &[f32], k: &[f16], v: &[f16], stride: usize, off: usize, lo: usize, pos: usize, scale: f32, out: &mut [f32]) {
    let hd = q.len();
    assert!(hd % 8 == 0 && out.len() == hd && off + hd <= stride && lo <= pos);
    assert!(k.len() >= pos * stride + off + hd && v.len() >= pos * stride + off + hd);
    let (qp, kp, vp, op) = (q.as_ptr(), k.as_ptr(), v.as_ptr(), out.as_mut_ptr());
    out.fill(0.0);
    let mut max = f32::NEG_INFINITY;
    let mut sum = 0.0f32;
    let mut scores = [0.0f32; TILE];
    let mut j0 = lo;
    // SAFETY: every key/value row read is j * stride + off .. + hd with
    // j <= pos (in bounds, asserted above); q and out hold hd floats.
    unsafe {
        while j0 <= pos {
            let j1 = (j0 + TILE).min(pos + 1);
            let n = j1 - j0;
            let mut i = 0;
            while i + 4 <= n {
                let kr: [*const f16; 4] = std::array::from_fn(|t| kp.add((j0 + i + t) * stride + off));
                let mut s = [_mm256_setzero_ps(); 4];
                let mut d = 0;
                while d < hd {
                    let qv = _mm256_loadu_ps(qp.add(d));
                    for t in 0..4 {
                        s[t] = _mm256_fmadd_ps(qv, ld8(kr[t].add(d)), s[t]);
                    }
                    d += 8;
                }
                let h = _mm256_hadd_ps(_mm256_hadd_ps(s[0], s[1]), _mm256_hadd_ps(s[2], s[3]));
                let r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
                _mm_storeu_ps(scores.as_mut_ptr().add(i), _mm_mul_ps(r, _mm_set1_ps(scale)));
                i += 4;
            }
            while i < n {
                let kr = kp.add((j0 + i) * stride + off);
                let mut s = _mm256_setzero_ps();
                let mut d = 0;
                while d < hd {
                    s = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(d)), ld8(kr.add(d)), s);
                    d += 8;
                }
                scores[i] = hsum_f32_8(s) * scale;
                i += 1;
            }
            let tile_max = scores[..n].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            if tile_max > max {
                let corr = (max - tile_max).exp();
                sum *= corr;
                let c = _mm256_set1_ps(corr);
                let mut d = 0;
                while d < hd {
                    _mm256_storeu_ps(op.add(d), _mm256_mul_ps(_mm256_loadu_ps(op.add(d)), c));
                    d += 8;
                }
                max = tile_max;
            }
            for p in scores[..n].iter_mut() {
                *p = (*p - max).exp();
                sum += *p;
            }
            let mut d = 0;
            while d + 32 <= hd {
                let mut a: [__m256; 4] = std::array::from_fn(|c| _mm256_loadu_ps(op.add(d + 8 * c)));
                for (i, &p) in scores[..n].iter().enumerate() {
                    let pv = _mm256_set1_ps(p);
                    let vr = vp.add((j0 + i) * stride + off + d);
                    for c in 0..4 {
                        a[c] = _mm256_fmadd_ps(pv, ld8(vr.add(8 * c)), a[c]);
                    }
                }
                for c in 0..4 {
                    _mm256_storeu_ps(op.add(d + 8 * c), a[c]);
                }
                d += 32;
            }
            while d < hd {
                let mut a = _mm256_loadu_ps(op.add(d));
                for (i, &p) in scores[..n].iter().enumerate() {
                    a = _mm256_fmadd_ps(_mm256_set1_ps(p), ld8(vp.add((j0 + i) * stride + off + d)), a);
                }
                _mm256_storeu_ps(op.add(d), a);
                d += 8;
            }
            j0 = j1;
        }
        let inv = _mm256_set1_ps(1.0 / sum);
        let mut d = 0;
        while d < hd {
            _mm256_storeu_ps(op.add(d), _mm256_mul_ps(_mm256_loadu_ps(op.add(d)), inv));
            d += 8;
        }
    }
}
