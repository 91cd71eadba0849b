//! Element-wise steps of the forward pass. Plain loops; the compiler
//! vectorises them well enough that they are a small part of the time next to
//! the matrix products.

/// RMS norm of each row of `x` (shape [rows][n]) in place, times `w` ([n]).
///
/// A row's squares are summed in f32 one after the other (`ss`), the order
/// its result is defined by. That chain of dependent adds bounds a row's time
/// by the add's latency, so rows go [`NORM_ROWS`] at a time, each with its own
/// chain (same bits, several chains in flight: a prompt's per-head Q/K norms
/// are thousands of short rows).
pub fn rms_norm(x: &mut [f32], n: usize, w: &[f32], eps: f32) {
    if n == 0 {
        return;
    }
    for group in x.chunks_mut(NORM_ROWS * n) {
        let mut ss = [0f32; NORM_ROWS];
        if group.len() == NORM_ROWS * n {
            let rows: [&[f32]; NORM_ROWS] = std::array::from_fn(|r| &group[r * n..(r + 1) * n]);
            for i in 0..n {
                for (s, row) in ss.iter_mut().zip(&rows) {
                    *s += row[i] * row[i];
                }
            }
        } else {
            for (s, row) in ss.iter_mut().zip(group.chunks_exact(n)) {
                *s = row.iter().map(|v| v * v).sum::<f32>();
            }
        }
        for (row, &s) in group.chunks_exact_mut(n).zip(&ss) {
            let scale = 1.0 / (s / n as f32 + eps).sqrt();
            for (v, &g) in row.iter_mut().zip(w) {
                *v = *v * scale * g;
            }
        }
    }
}

/// Rows [`rms_norm`] sums side by side.
const NORM_ROWS: usize = 8;

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

/// YaRN's extrapolation mix (llama.cpp `rope_yarn`, `ggml_rope_yarn_corr_dims`):
/// pairs below `corr_dims[0]` keep their original (extrapolated) angle, pairs
/// above `corr_dims[1]` are interpolated by `freq_scale`, a ramp in between.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Yarn {
    pub ext_factor: f32,
    pub corr_dims: [f32; 2],
}

impl Yarn {
    /// The correction range of ggml's `ggml_rope_yarn_corr_dims` for `n_rot`
    /// rotated dims trained at `n_ctx_orig` positions.
    pub fn new(
        ext_factor: f32,
        n_rot: usize,
        n_ctx_orig: usize,
        base: f32,
        beta_fast: f32,
        beta_slow: f32,
    ) -> Yarn {
        let corr_dim = |n_rot_turns: f32| {
            n_rot as f32 * (n_ctx_orig as f32 / (n_rot_turns * 2.0 * std::f32::consts::PI)).ln()
                / (2.0 * base.ln())
        };
        let start = corr_dim(beta_fast).floor();
        let end = corr_dim(beta_slow).ceil();
        Yarn {
            ext_factor,
            corr_dims: [start.max(0.0), end.min(n_rot as f32 - 1.0)],
        }
    }

    /// `rope_yarn_ramp` of pair `i`.
    fn ramp(&self, i: usize) -> f32 {
        let [low, high] = self.corr_dims;
        let y = (i as f32 - low) / (high - low).max(0.001);
        1.0 - y.clamp(0.0, 1.0)
    }
}

/// One RoPE configuration, computed as ggml's CPU `rope` does
/// (`ggml_rope_cache_init` / `rope_yarn` in `ggml-cpu/ops.cpp`): the angle of
/// pair i at position p is `p * theta_scale^i` (the power taken by repeated
/// multiplication, as ggml does), divided by the pair's frequency factor
/// (Llama 3's `rope_freqs`, LongRoPE's short/long factors), times
/// `freq_scale`, mixed with the unscaled angle by YaRN; sine and cosine are
/// multiplied by `attn_factor` (YaRN's / LongRoPE's magnitude scaling).
#[derive(Clone, Debug)]
pub struct Rope {
    pub style: RopeStyle,
    pub n_rot: usize,
    theta_scale: f32,
    freq_scale: f32,
    /// [n_rot/2] frequency factors, if the file has them.
    factors: Option<Vec<f32>>,
    yarn: Option<Yarn>,
    attn_factor: f32,
    /// [n_rot/2]: pairs that multi-section RoPE turns by the 4th section's
    /// position, which is 0 for text (angle 0), if any.
    still: Option<Vec<bool>>,
}

impl Rope {
    pub fn new(
        style: RopeStyle,
        n_rot: usize,
        base: f32,
        freq_scale: f32,
        factors: Option<&[f32]>,
    ) -> Rope {
        Rope {
            style,
            n_rot,
            theta_scale: base.powf(-2.0 / n_rot as f32),
            freq_scale,
            factors: factors.map(|f| f[..n_rot / 2].to_vec()),
            yarn: None,
            attn_factor: 1.0,
            still: None,
        }
    }

    /// Multi-section RoPE for text tokens (ggml `ggml_rope_multi`, whose
    /// positions for a text token are (p, p, p, 0)): interleaved (`imrope`,
    /// Qwen3-VL, Qwen3.5) or in blocks; each pair turns by the position of
    /// its section, so pairs of the 4th section keep angle 0. As
    /// `ggml_mrope_cache_init` assigns them.
    pub fn with_sections(mut self, sections: [usize; 4], interleaved: bool) -> Rope {
        let total: usize = sections.iter().sum();
        if total == 0 {
            return self;
        }
        let [s0, s1, s2, _] = sections;
        let still: Vec<bool> = (0..self.n_rot / 2)
            .map(|i| {
                let sector = i % total;
                if interleaved {
                    !((sector % 3 == 1 && sector < 3 * s1)
                        || (sector % 3 == 2 && sector < 3 * s2)
                        || (sector.is_multiple_of(3) && sector < 3 * s0))
                } else {
                    sector >= s0 + s1 + s2
                }
            })
            .collect();
        self.still = still.iter().any(|&b| b).then_some(still);
        self
    }

    /// With YaRN's extrapolation mix (`ext_factor != 0`).
    pub fn with_yarn(mut self, yarn: Yarn) -> Rope {
        self.yarn = (yarn.ext_factor != 0.0).then_some(yarn);
        self
    }

    /// With sine and cosine scaled by `attn_factor` (ggml's `attn_factor`
    /// argument, `mscale` inside `rope_yarn`).
    pub fn with_attn_factor(mut self, attn_factor: f32) -> Rope {
        self.attn_factor = attn_factor;
        self
    }

    /// Rotate each head (of `head_dim`, first `n_rot` dims) of one row at `pos`.
    pub fn apply(&self, row: &mut [f32], head_dim: usize, pos: usize) {
        let mut sc = [(0.0f32, 1.0f32); 256];
        if self.n_rot / 2 <= sc.len() {
            let sc = &mut sc[..self.n_rot / 2];
            self.sin_cos(pos, sc);
            self.apply_with(row, head_dim, sc);
        } else {
            let mut sc = vec![(0.0f32, 1.0f32); self.n_rot / 2];
            self.sin_cos(pos, &mut sc);
            self.apply_with(row, head_dim, &sc);
        }
    }

    /// The (sin, cos) of each rotated pair's angle at `pos` (`sc.len() == n_rot / 2`),
    /// in ggml's float operations and order.
    pub fn sin_cos(&self, pos: usize, sc: &mut [(f32, f32)]) {
        // YaRN's magnitude correction, as `rope_yarn` computes it per pair
        let yarn_mscale = self.attn_factor * (1.0 + 0.1 * (1.0 / self.freq_scale).ln());
        let mut theta = pos as f32;
        for (i, v) in sc.iter_mut().enumerate() {
            let extrap = match &self.factors {
                Some(f) => theta / f[i],
                None => theta,
            };
            let interp = self.freq_scale * extrap;
            let (angle, mscale) = match &self.yarn {
                None => (interp, self.attn_factor),
                Some(y) => {
                    let mix = y.ramp(i) * y.ext_factor;
                    (interp * (1.0 - mix) + extrap * mix, yarn_mscale)
                }
            };
            *v = match &self.still {
                Some(st) if st[i] => (0.0, mscale),
                _ => (angle.sin() * mscale, angle.cos() * mscale),
            };
            theta *= self.theta_scale;
        }
    }

    /// [`Self::apply`] with the angles' (sin, cos) from [`Self::sin_cos`] (shared by
    /// every head, and by q and k, of one position).
    pub fn apply_with(&self, row: &mut [f32], head_dim: usize, sc: &[(f32, f32)]) {
        let half = self.n_rot / 2;
        assert!(sc.len() >= half, "one (sin, cos) per rotated pair");
        for head in row.chunks_exact_mut(head_dim) {
            for (i, &(s, c)) in sc.iter().enumerate().take(half) {
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

/// GELU, tanh approximation (as ggml's `ggml_gelu`).
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
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

/// `gelu_ggml` of every f16 value, indexed by its bits (256 KB, built once):
/// what ggml's `GGML_GELU_FP16` table holds, as f32.
fn gelu_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Box<[f32]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|b| round_f16(gelu_tanh(half::f16::from_bits(b).to_f32())))
            .collect()
    })
}

/// Gated activation: `gate[i] = act(gate[i]) * up[i]`.
pub fn glu(gate: &mut [f32], up: &[f32], act: fn(f32) -> f32) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = act(*g) * u;
    }
}

/// `glu(gate, up, gelu_ggml)`, bit for bit, through the f16 table: the input
/// is rounded to f16 (many at a time) and its GELU looked up.
pub fn glu_gelu(gate: &mut [f32], up: &[f32]) {
    use half::slice::HalfFloatSliceExt;
    let table = gelu_table();
    let mut h = [half::f16::ZERO; 64];
    for (g, u) in gate.chunks_mut(64).zip(up.chunks(64)) {
        let h = &mut h[..g.len()];
        h.convert_from_f32_slice(g);
        for ((x, &hb), &u) in g.iter_mut().zip(h.iter()).zip(u) {
            let v = if *x <= -10.0 {
                0.0
            } else if *x >= 10.0 {
                *x
            } else {
                table[hb.to_bits() as usize]
            };
            *x = v * u;
        }
    }
}

/// `x[i] = gelu_ggml(x[i])`, bit for bit, through the f16 table (ggml's
/// `ggml_vec_gelu_f32`: BERT's ungated MLP).
pub fn gelu_in_place(x: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    let table = gelu_table();
    let mut h = [half::f16::ZERO; 64];
    for c in x.chunks_mut(64) {
        let h = &mut h[..c.len()];
        h.convert_from_f32_slice(c);
        for (x, &hb) in c.iter_mut().zip(h.iter()) {
            if *x <= -10.0 {
                *x = 0.0;
            } else if *x < 10.0 {
                *x = table[hb.to_bits() as usize];
            }
        }
    }
}

/// gpt-oss's clamped SwiGLU in place, as ggml's `swiglu_oai` computes it:
/// with `x = min(gate, 7)` and `y = clamp(up, -7, 7)`, `gate` becomes
/// `x / (1 + exp(-1.702 x)) * (y + 1)` (llama.cpp
/// `ggml_compute_forward_swiglu_oai_f32`; alpha and limit are constants there
/// too).
pub fn glu_swiglu_oai(gate: &mut [f32], up: &[f32]) {
    const ALPHA: f32 = 1.702;
    const LIMIT: f32 = 7.0;
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = g.min(LIMIT);
        let y = u.clamp(-LIMIT, LIMIT);
        *g = x / (1.0 + (ALPHA * -x).exp()) * (y + 1.0);
    }
}

/// `round_f16` of every element, many at a time (F16C where available).
pub fn round_f16_slice(x: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    let mut h = [half::f16::ZERO; 64];
    for c in x.chunks_mut(64) {
        let h = &mut h[..c.len()];
        h.convert_from_f32_slice(c);
        h.convert_to_f32_slice(c);
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

    /// Rows summed side by side give each row's bits alone: the same
    /// sequential sum per row (full groups of 8 and a short last group).
    #[test]
    fn rms_norm_rows_together_equal_rows_alone() {
        let n = 37;
        let w: Vec<f32> = (0..n).map(|i| 0.5 + i as f32 / 40.0).collect();
        for rows in [1usize, 7, 8, 9, 19] {
            let x: Vec<f32> = (0..rows * n)
                .map(|i| ((i * 7919 % 1000) as f32 / 250.0 - 2.0) * (1.0 + (i % 13) as f32))
                .collect();
            let mut together = x.clone();
            rms_norm(&mut together, n, &w, 1e-6);
            for (r, row) in x.chunks_exact(n).enumerate() {
                let ss: f32 = row.iter().map(|v| v * v).sum::<f32>() / n as f32;
                let scale = 1.0 / (ss + 1e-6).sqrt();
                for i in 0..n {
                    let want = row[i] * scale * w[i];
                    assert_eq!(
                        together[r * n + i].to_bits(),
                        want.to_bits(),
                        "rows {rows} row {r} i {i}"
                    );
                }
            }
        }
    }

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
    fn table_gelu_and_bulk_rounding_match_the_scalar_forms() {
        let xs: Vec<f32> = (0..5000)
            .map(|i| (i as f32 - 2500.0) * 0.00731 + (i % 7) as f32 * 1e-4)
            .chain([
                -10.0, 10.0, -9.99, 9.99, 0.0, -0.0, 1e-8, 65504.0, 70000.0, -1e30,
            ])
            .collect();
        let up: Vec<f32> = xs.iter().map(|x| 0.5 - x * 0.1).collect();
        let mut a = xs.clone();
        glu(&mut a, &up, gelu_ggml);
        let mut b = xs.clone();
        glu_gelu(&mut b, &up);
        for ((x, y), v) in a.iter().zip(&b).zip(&xs) {
            assert_eq!(x.to_bits(), y.to_bits(), "gelu at {v}");
        }
        let mut g = xs.clone();
        gelu_in_place(&mut g);
        for (x, v) in g.iter().zip(&xs) {
            assert_eq!(x.to_bits(), gelu_ggml(*v).to_bits(), "gelu at {v}");
        }
        let mut r = xs.clone();
        round_f16_slice(&mut r);
        for (x, v) in r.iter().zip(&xs) {
            assert_eq!(x.to_bits(), round_f16(*v).to_bits());
        }
    }

    #[test]
    fn rope_matches_the_textbook_rotation() {
        for style in [RopeStyle::Normal, RopeStyle::Neox] {
            let r = Rope::new(style, 8, 10000.0, 1.0, None);
            let x: Vec<f32> = (0..32).map(|i| i as f32 * 0.3 - 2.0).collect();
            let mut a = x.clone();
            for head in a.chunks_exact_mut(16) {
                for i in 0..4 {
                    let angle = 37.0 * 10000f32.powf(-2.0 * i as f32 / 8.0);
                    let (s, c) = angle.sin_cos();
                    let (p, q) = match style {
                        RopeStyle::Normal => (2 * i, 2 * i + 1),
                        RopeStyle::Neox => (i, i + 4),
                    };
                    let (x0, x1) = (head[p], head[q]);
                    head[p] = x0 * c - x1 * s;
                    head[q] = x0 * s + x1 * c;
                }
            }
            let mut b = x.clone();
            r.apply(&mut b, 16, 37);
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() < 1e-5, "{p} vs {q}");
            }
        }
    }

    #[test]
    fn gelu_values() {
        assert!((gelu_tanh(1.0) - 0.841192).abs() < 1e-5);
        assert!(gelu_tanh(-10.0).abs() < 1e-5);
        assert!((kernels::silu(1.0) - 0.7310586).abs() < 1e-6);
    }
}
