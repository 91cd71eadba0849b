//! Element-wise steps of the forward pass. Plain loops; the compiler
//! vectorises them well enough that they are a small part of the time next to
//! the matrix products.

/// RMS norm of each row of `x` (shape [rows][n]) in place, times `w` ([n]).
pub fn rms_norm(x: &mut [f32], n: usize, w: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(n) {
        let ss: f32 = row.iter().map(|v| v * v).sum::<f32>() / n as f32;
        let scale = 1.0 / (ss + eps).sqrt();
        for (v, &g) in row.iter_mut().zip(w) {
            *v = *v * scale * g;
        }
    }
}

/// `out = rms_norm(x) * w` without touching `x`.
pub fn rms_norm_into(out: &mut [f32], x: &[f32], n: usize, w: &[f32], eps: f32) {
    out.copy_from_slice(x);
    rms_norm(out, n, w, eps);
}

/// How a model pairs the dimensions it rotates (llama.cpp `LLAMA_ROPE_TYPE_NORM`
/// rotates adjacent pairs (2i, 2i+1); `NEOX` rotates (i, i + n_rot/2)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    Normal,
    Neox,
}

/// Precomputed inverse frequencies for one RoPE configuration.
#[derive(Clone, Debug)]
pub struct Rope {
    pub style: RopeStyle,
    pub n_rot: usize,
    /// [n_rot/2]: base^(-2i/n_rot) * freq_scale / freq_factor[i]
    inv_freq: Vec<f32>,
}

impl Rope {
    pub fn new(style: RopeStyle, n_rot: usize, base: f32, freq_scale: f32, factors: Option<&[f32]>) -> Rope {
        let inv_freq = (0..n_rot / 2)
            .map(|i| {
                let theta = base.powf(-2.0 * i as f32 / n_rot as f32) * freq_scale;
                match factors {
                    Some(f) => theta / f[i],
                    None => theta,
                }
            })
            .collect();
        Rope { style, n_rot, inv_freq }
    }

    /// Rotate each head (of `head_dim`, first `n_rot` dims) of one row at `pos`.
    pub fn apply(&self, row: &mut [f32], head_dim: usize, pos: usize) {
        let half = self.n_rot / 2;
        for head in row.chunks_exact_mut(head_dim) {
            for i in 0..half {
                let angle = pos as f32 * self.inv_freq[i];
                let (s, c) = angle.sin_cos();
                let (a, b) = match self.style {
                    RopeStyle::Normal => (2 * i, 2 * i + 1),
                    RopeStyle::Neox => (i, i + half),
                };
                let x0 = head[a];
                let x1 = head[b];
                head[a] = x0 * c - x1 * s;
                head[b] = x0 * s + x1 * c;
            }
        }
    }
}

#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// GELU, tanh approximation (as ggml's `ggml_gelu`).
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_56;
    const COEF_A: f32 = 0.044715;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + COEF_A * x * x)).tanh())
}

/// Round to the nearest f16 and back, as ggml does wherever it stores f16.
#[inline]
pub fn round_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

/// GELU as ggml computes it on CPU (`ggml_vec_gelu_f32` with `GGML_GELU_FP16`,
/// llama.cpp `ggml/src/ggml-cpu/vec.h`): the input rounded to f16, GELU(tanh)
/// of that, rounded to f16; exactly 0 below -10 and identity above 10.
#[inline]
pub fn gelu_ggml(x: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        round_f16(gelu_tanh(round_f16(x)))
    }
}

/// Gated activation: `gate[i] = act(gate[i]) * up[i]`.
pub fn glu(gate: &mut [f32], up: &[f32], act: fn(f32) -> f32) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = act(*g) * u;
    }
}

pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Add a bias ([n]) to every row of `x` ([rows][n]).
pub fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        add_assign(row, bias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_unit() {
        let mut x = vec![3.0, 4.0];
        rms_norm(&mut x, 2, &[1.0, 2.0], 0.0);
        let r = (12.5f32).sqrt();
        assert!((x[0] - 3.0 / r).abs() < 1e-6 && (x[1] - 8.0 / r).abs() < 1e-6);
    }

    #[test]
    fn rope_preserves_norm_and_pos0_is_identity() {
        for style in [RopeStyle::Normal, RopeStyle::Neox] {
            let r = Rope::new(style, 8, 10000.0, 1.0, None);
            let orig: Vec<f32> = (0..16).map(|i| i as f32 * 0.3 - 2.0).collect();
            let mut x = orig.clone();
            r.apply(&mut x, 8, 0);
            assert_eq!(x, orig);
            r.apply(&mut x, 8, 17);
            let n0: f32 = orig.iter().map(|v| v * v).sum();
            let n1: f32 = x.iter().map(|v| v * v).sum();
            assert!((n0 - n1).abs() < 1e-3);
        }
    }

    #[test]
    fn gelu_values() {
        assert!((gelu_tanh(1.0) - 0.841192).abs() < 1e-5);
        assert!(gelu_tanh(-10.0).abs() < 1e-5);
        assert!((silu(1.0) - 0.7310586).abs() < 1e-6);
    }
}
