//! What a file says about rotary embeddings (`{arch}.rope.*` keys and the
//! frequency-factor tensors), turned into the `Rope`s of the forward pass as
//! llama.cpp's `llama_context` and ggml's `rope_yarn` do.

use crate::ops::{Rope, RopeStyle, Yarn};
use crate::ModelError;
use gguf::GgufFile;

/// How RoPE is scaled beyond the trained context (`rope.scaling.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scaling {
    None,
    Linear,
    Yarn,
    LongRope,
}

/// Which frequency-factor tensors an architecture reads (llama.cpp's
/// `load_arch_tensors`): none, Llama 3's `rope_freqs` (or LongRoPE's pair
/// when the scaling type says so), or always LongRoPE's pair (Phi-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FactorTensors {
    None,
    Freqs,
    LongShort,
}

/// What the file says about rotary embeddings, before the `Rope`s are
/// built; an architecture's `configure` adjusts it.
pub(crate) struct RopeSpec {
    pub style: RopeStyle,
    pub n_rot: usize,
    pub base: f32,
    /// Base of the sliding-window layers' RoPE, if they have their own.
    pub base_swa: Option<f32>,
    /// Dimensions those layers rotate, if not `n_rot` (Gemma 4's
    /// `rope.dimension_count_swa`).
    pub n_rot_swa: Option<usize>,
    /// Their frequency scale (llama.cpp `rope_freq_scale_train_swa`: 1
    /// unless the architecture says otherwise).
    pub freq_scale_swa: f32,
    pub scaling: Scaling,
    pub freq_scale: f32,
    /// `rope.scaling.attn_factor` (llama.cpp `hparams.rope_attn_factor`).
    pub attn_factor: f32,
    pub beta_fast: f32,
    pub beta_slow: f32,
    /// `rope.scaling.yarn_log_multiplier` (`mscale_all_dim`), 0 if unused.
    pub yarn_log_mul: f32,
    pub factors: FactorTensors,
    /// Multi-section RoPE (`rope.dimension_sections`) and whether its
    /// sections interleave (Qwen3.5's `imrope`).
    pub sections: Option<([usize; 4], bool)>,
}

impl RopeSpec {
    /// The attention factor YaRN gives sine and cosine, as
    /// `llama_context::llama_context` computes `cparams.yarn_attn_factor`
    /// (cancelled again inside ggml's `rope_yarn`, so a plain YaRN model
    /// ends up with factor 1).
    pub(super) fn attn_factor(&self) -> f32 {
        let mut a = 1.0f32;
        if self.scaling == Scaling::Yarn {
            let mscale = |scale: f32, m: f32| {
                if scale <= 1.0 {
                    1.0
                } else {
                    0.1 * m * scale.ln() + 1.0
                }
            };
            let factor = 1.0 / self.freq_scale;
            a = if self.yarn_log_mul != 0.0 {
                mscale(factor, 1.0) / mscale(factor, self.yarn_log_mul)
            } else {
                mscale(factor, 1.0)
            };
            a *= 1.0 / (1.0 + 0.1 * factor.ln());
        }
        a * self.attn_factor
    }

    pub(super) fn build(
        &self,
        n_rot: usize,
        base: f32,
        freq_scale: f32,
        n_ctx_orig: usize,
        factors: Option<&[f32]>,
    ) -> Rope {
        let ext_factor = if self.scaling == Scaling::Yarn {
            1.0
        } else {
            0.0
        };
        let rope = Rope::new(self.style, n_rot, base, freq_scale, factors)
            .with_yarn(Yarn::new(
                ext_factor,
                n_rot,
                n_ctx_orig,
                base,
                self.beta_fast,
                self.beta_slow,
            ))
            .with_attn_factor(self.attn_factor());
        match self.sections {
            Some((s, interleaved)) => rope.with_sections(s, interleaved),
            None => rope,
        }
    }
}

/// An f32 vector tensor of `n` elements named `name`, if the file has it.
pub(super) fn factor_tensor(
    f: &GgufFile,
    name: &str,
    n: usize,
) -> Result<Option<Vec<f32>>, ModelError> {
    match f.tensor(name) {
        Some(t) if t.ty == gguf::GgmlType::F32 && t.n_elements() as usize == n => Ok(Some(
            f.tensor_data(t)
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
        )),
        Some(t) => Err(ModelError::BadShape {
            path: f.path().to_path_buf(),
            tensor: t.name.clone(),
            got: t.dims.clone(),
            want: vec![n as u64],
        }),
        None => Ok(None),
    }
}
