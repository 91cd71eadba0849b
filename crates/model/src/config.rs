//! Hyper-parameters: what a forward pass needs to know about a model, read
//! from the `{arch}.*` metadata keys (names per llama.cpp `src/llama-arch.cpp`).

use crate::ops::{Rope, RopeStyle};
use crate::ModelError;
use gguf::GgufFile;

/// Architectures hearth runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `llama`: SmolLM2, Llama 2/3, Mistral.
    Llama,
    /// `qwen2`: llama with q/k/v biases and NeoX RoPE.
    Qwen2,
    /// `gemma3`: sliding-window/global attention, QK-norm, post-norms.
    Gemma3,
}

pub const SUPPORTED: &str = "llama, qwen2, gemma3";

impl Arch {
    pub fn from_name(name: &str) -> Option<Arch> {
        match name {
            "llama" => Some(Arch::Llama),
            "qwen2" => Some(Arch::Qwen2),
            "gemma3" => Some(Arch::Gemma3),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3",
        }
    }
}

/// Gated-MLP activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Silu,
    GeluTanh,
}

/// Everything the forward pass needs besides the weights.
#[derive(Clone, Debug)]
pub struct Config {
    pub arch: Arch,
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub n_ctx_train: usize,
    pub rms_eps: f32,
    /// RoPE of global-attention layers.
    pub rope: Rope,
    /// RoPE of sliding-window layers (their own base), if any.
    pub rope_swa: Option<Rope>,
    /// Sliding window size, for layers marked in `swa_layers`.
    pub sliding_window: Option<usize>,
    /// [n_layer]: whether each layer uses the sliding window.
    pub swa_layers: Vec<bool>,
    /// Scale applied to q·k.
    pub attn_scale: f32,
    /// Multiplier on token embeddings (Gemma: sqrt(n_embd)).
    pub embed_scale: Option<f32>,
    pub act: Activation,
    pub qkv_bias: bool,
    pub qk_norm: bool,
    pub post_norms: bool,
    pub final_softcap: Option<f32>,
}

/// Typed metadata access with errors that name the key.
pub(crate) struct Meta<'a> {
    pub f: &'a GgufFile,
    pub arch: &'static str,
}

impl<'a> Meta<'a> {
    fn bad(&self, key: &str, problem: &str) -> ModelError {
        ModelError::BadMetadata {
            path: self.f.path().to_path_buf(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    pub fn key(&self, k: &str) -> String {
        format!("{}.{}", self.arch, k)
    }

    pub fn u(&self, k: &str) -> Result<Option<usize>, ModelError> {
        let key = self.key(k);
        match self.f.get(&key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(x) if x <= (1 << 32) => Ok(Some(x as usize)),
                _ => Err(self.bad(
                    &key,
                    &format!("is {}, expected a non-negative integer", v.display_short(4)),
                )),
            },
        }
    }

    pub fn req_u(&self, k: &str) -> Result<usize, ModelError> {
        match self.u(k)? {
            Some(0) => Err(self.bad(&self.key(k), "is 0")),
            Some(x) => Ok(x),
            None => Err(self.bad(&self.key(k), "is missing; the file is not a complete model")),
        }
    }

    pub fn f(&self, k: &str) -> Result<Option<f32>, ModelError> {
        let key = self.key(k);
        match self.f.get(&key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x as f32)),
                _ => Err(self.bad(
                    &key,
                    &format!("is {}, expected a number", v.display_short(4)),
                )),
            },
        }
    }
}

impl Config {
    /// Read the configuration of a supported architecture.
    pub fn from_gguf(f: &GgufFile, n_vocab_tensor: usize) -> Result<Config, ModelError> {
        let arch_name = f.architecture().unwrap_or("(none)");
        let arch = Arch::from_name(arch_name).ok_or_else(|| ModelError::UnsupportedArch {
            path: f.path().to_path_buf(),
            arch: arch_name.to_string(),
            supported: SUPPORTED,
        })?;
        let m = Meta {
            f,
            arch: arch.name(),
        };
        let n_embd = m.req_u("embedding_length")?;
        let n_layer = m.req_u("block_count")?;
        let n_head = m.req_u("attention.head_count")?;
        let n_head_kv = m.u("attention.head_count_kv")?.unwrap_or(n_head);
        if n_head_kv == 0 || n_head % n_head_kv != 0 {
            return Err(m.bad(
                &m.key("attention.head_count_kv"),
                &format!("{n_head_kv} does not divide head_count {n_head}"),
            ));
        }
        let head_dim = m.u("attention.key_length")?.unwrap_or(n_embd / n_head);
        let v_dim = m.u("attention.value_length")?.unwrap_or(head_dim);
        if v_dim != head_dim {
            return Err(m.bad(
                &m.key("attention.value_length"),
                "differs from key_length, which hearth does not support",
            ));
        }
        let n_rot = m.u("rope.dimension_count")?.unwrap_or(head_dim);
        if n_rot > head_dim || n_rot % 2 != 0 {
            return Err(m.bad(
                &m.key("rope.dimension_count"),
                &format!("{n_rot} is not an even number up to the head size {head_dim}"),
            ));
        }
        let base = m.f("rope.freq_base")?.unwrap_or(10000.0);
        let mut freq_scale = 1.0;
        if let Some(kind) = f.get_str(&m.key("rope.scaling.type")) {
            match kind {
                "none" => {}
                "linear" => {
                    let factor = m.f("rope.scaling.factor")?.unwrap_or(1.0);
                    if factor > 0.0 {
                        freq_scale = 1.0 / factor;
                    }
                }
                other => {
                    return Err(m.bad(
                        &m.key("rope.scaling.type"),
                        &format!("{other:?} is not supported (only linear)"),
                    ))
                }
            }
        }
        let rms_eps = m.f("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-5);
        let n_ff = m.req_u("feed_forward_length")?;
        let n_ctx_train = m.u("context_length")?.unwrap_or(2048);

        let factors: Option<Vec<f32>> = match f.tensor("rope_freqs.weight") {
            Some(t) if t.ty == gguf::GgmlType::F32 && t.n_elements() as usize == n_rot / 2 => Some(
                f.tensor_data(t)
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            ),
            Some(t) => {
                return Err(ModelError::BadShape {
                    path: f.path().to_path_buf(),
                    tensor: t.name.clone(),
                    got: t.dims.clone(),
                    want: vec![(n_rot / 2) as u64],
                })
            }
            None => None,
        };

        let mut c = Config {
            arch,
            n_vocab: n_vocab_tensor,
            n_embd,
            n_layer,
            n_head,
            n_head_kv,
            head_dim,
            n_ff,
            n_ctx_train,
            rms_eps,
            rope: Rope::new(
                RopeStyle::Normal,
                n_rot,
                base,
                freq_scale,
                factors.as_deref(),
            ),
            rope_swa: None,
            sliding_window: None,
            swa_layers: vec![false; n_layer],
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
            embed_scale: None,
            act: Activation::Silu,
            qkv_bias: false,
            qk_norm: false,
            post_norms: false,
            final_softcap: None,
        };
        match arch {
            Arch::Llama => crate::arch::llama::configure(&mut c, &m, base, freq_scale)?,
            Arch::Qwen2 => crate::arch::qwen2::configure(&mut c, &m, base, freq_scale)?,
            Arch::Gemma3 => crate::arch::gemma3::configure(&mut c, &m, base, freq_scale)?,
        }
        Ok(c)
    }

    /// Floats of K (and of V) cached per token per layer.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    /// Floats of Q per token.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }
}
