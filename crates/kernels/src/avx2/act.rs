//! SwiGLU (`gate = silu(gate) * up`) on AVX2 + FMA, as llama.cpp computes it
//! there (`ggml_vec_swiglu_f32` in `ggml/src/ggml-cpu/vec.cpp`, with
//! `ggml_v_silu` / `ggml_v_expf` from `vec.h`): `x / (1 + exp(-x))` with a
//! vector `exp` (a degree-5 polynomial after range reduction by ln 2, max
//! error about 1.5 ULP, special-cased beyond |n| > 126 and > 192), eight
//! elements at a time.

use crate::expf::{C, LN2_HI, LN2_LO, LOG2E, SHIFT};
use std::arch::x86_64::*;

#[inline(always)]
fn c(bits: u32) -> f32 {
    f32::from_bits(bits)
}

/// `exp(x)` per lane (ggml's `ggml_v_expf`, AVX2 branch); lane for lane the
/// same bits as the scalar [`crate::exp_ggml`].
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn v_expf(x: __m256) -> __m256 {
    let r = _mm256_set1_ps(c(SHIFT));
    let z = _mm256_fmadd_ps(x, _mm256_set1_ps(c(LOG2E)), r);
    let n = _mm256_sub_ps(z, r);
    // b = x - n * ln2 (in two parts: 0x1.62e4p-1 + 0x1.7f7d1cp-20)
    let b = _mm256_fnmadd_ps(
        n,
        _mm256_set1_ps(c(LN2_LO)),
        _mm256_fnmadd_ps(n, _mm256_set1_ps(c(LN2_HI)), x),
    );
    let e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    let k = _mm256_castsi256_ps(_mm256_add_epi32(
        e,
        _mm256_castps_si256(_mm256_set1_ps(1.0)),
    ));
    let abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
    let cm = _mm256_cmp_ps::<_CMP_GT_OQ>(abs_n, _mm256_set1_ps(126.0));
    let u = _mm256_mul_ps(b, b);
    let j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(c(C[4])), b, _mm256_set1_ps(c(C[3]))),
            u,
            _mm256_fmadd_ps(_mm256_set1_ps(c(C[2])), b, _mm256_set1_ps(c(C[1]))),
        ),
        u,
        _mm256_mul_ps(_mm256_set1_ps(c(C[0])), b),
    );
    if _mm256_movemask_ps(cm) == 0 {
        return _mm256_fmadd_ps(j, k, k);
    }
    // |n| > 126: scale in two steps (s1, s2) so the result neither overflows
    // nor flushes early; |n| > 192: s1 * s1 (inf or 0)
    let g = _mm256_and_si256(
        _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LE_OQ>(n, _mm256_setzero_ps())),
        _mm256_set1_epi32(0x8200_0000u32 as i32),
    );
    let s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f00_0000)));
    let s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    let dm = _mm256_cmp_ps::<_CMP_GT_OQ>(abs_n, _mm256_set1_ps(192.0));
    _mm256_or_ps(
        _mm256_and_ps(dm, _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(
            dm,
            _mm256_or_ps(
                _mm256_and_ps(cm, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                _mm256_andnot_ps(cm, _mm256_fmadd_ps(k, j, k)),
            ),
        ),
    )
}

/// `gate[i] = silu(gate[i]) * up[i]` (`up` at least as long as `gate`). Every
/// element goes through the vector `exp`, the last < 8 through a padded
/// vector (llama.cpp takes the scalar `expf` there): so an element's result
/// never depends on where a slice of a larger buffer starts or ends.
///
/// # Safety
/// AVX2 and FMA must be available.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn swiglu(gate: &mut [f32], up: &[f32]) {
    assert!(up.len() >= gate.len());
    let one = _mm256_set1_ps(1.0);
    let f = |x: __m256, u: __m256| {
        // SAFETY: this closure runs inside this AVX2 + FMA function.
        unsafe {
            let e = v_expf(_mm256_sub_ps(_mm256_setzero_ps(), x));
            _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), u)
        }
    };
    let n8 = gate.len() / 8 * 8;
    for i in (0..n8).step_by(8) {
        // SAFETY: i + 8 <= n8 <= both lengths.
        unsafe {
            let v = f(
                _mm256_loadu_ps(gate.as_ptr().add(i)),
                _mm256_loadu_ps(up.as_ptr().add(i)),
            );
            _mm256_storeu_ps(gate.as_mut_ptr().add(i), v);
        }
    }
    let rest = gate.len() - n8;
    if rest > 0 {
        let (mut g, mut u) = ([0f32; 8], [0f32; 8]);
        g[..rest].copy_from_slice(&gate[n8..]);
        u[..rest].copy_from_slice(&up[n8..gate.len()]);
        // SAFETY: 8 floats in each array.
        unsafe {
            _mm256_storeu_ps(
                g.as_mut_ptr(),
                f(_mm256_loadu_ps(g.as_ptr()), _mm256_loadu_ps(u.as_ptr())),
            )
        };
        gate[n8..].copy_from_slice(&g[..rest]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector `exp` and the scalar `exp_ggml` give the same bits in every
    /// branch (fast path, |n| > 126, |n| > 192, inf, NaN), and both stay within
    /// 2 ULP of `expf` where the result is a normal number.
    #[test]
    fn vector_exp_equals_scalar_port() {
        if !crate::use_avx2() {
            return;
        }
        let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.06).collect();
        xs.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            87.0,
            88.7,
            89.0,
            -87.0,
            -88.0,
            -100.0,
            -103.0,
            -104.0,
            -140.0,
            150.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ]);
        while !xs.len().is_multiple_of(8) {
            xs.push(1.0);
        }
        for ch in xs.chunks(8) {
            let mut out = [0f32; 8];
            // SAFETY: AVX2 and FMA checked above; 8 floats in and out.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v_expf(_mm256_loadu_ps(ch.as_ptr()))) };
            for (&x, &v) in ch.iter().zip(&out) {
                let s = crate::exp_ggml(x);
                assert!(
                    v.to_bits() == s.to_bits() || (v.is_nan() && s.is_nan()),
                    "x={x}: vector {v} scalar {s}"
                );
                let want = x.exp();
                if want.is_normal() {
                    let ulps = (s.to_bits() as i64 - want.to_bits() as i64).abs();
                    assert!(ulps <= 2, "x={x}: {s} vs expf {want} ({ulps} ULP)");
                } else if want == 0.0 || want.is_infinite() {
                    assert!(s == want || s.abs() < 1e-37, "x={x}: {s} vs {want}");
                }
            }
        }
    }
}
