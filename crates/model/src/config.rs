//! Hyper-parameters: what a forward pass needs to know about a model, read
//! from the `{arch}.*` metadata keys (names per llama.cpp `src/llama-arch.cpp`,
//! defaults and derived values per `src/llama-model.cpp` `load_hparams` and
//! `src/llama-context.cpp`). Each architecture's file in `arch/` adjusts them.
//!
//! The variations are grouped by concern: the shape; [`LayerSpec`] (what
//! differs between layers); [`Positions`] (RoPE and position-dependent
//! attention temperature); the attention flags; [`Scales`] (multipliers on
//! the residual stream and the logits); the block's MLP.

use crate::encoder::EncoderSpec;
mod meta;
mod rope;

pub(crate) use meta::Meta;
use rope::factor_tensor;
pub(crate) use rope::{FactorTensors, RopeSpec, Scaling};

use crate::ops::{Rope, RopeStyle};
use crate::pooling::Pooling;
use crate::ModelError;
use gguf::GgufFile;

/// Architectures hearth runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `llama`: SmolLM2, Llama 2/3.x, Mistral.
    Llama,
    /// `qwen2`: llama with q/k/v biases and NeoX RoPE.
    Qwen2,
    /// `gemma3`: sliding-window/global attention, QK-norm, post-norms.
    Gemma3,
    /// `qwen3`: per-head Q/K RMS norm, NeoX RoPE, no biases.
    Qwen3,
    /// `phi3`: Phi-3.5-mini, Phi-4-mini: fused QKV and gate+up, LongRoPE.
    Phi3,
    /// `smollm3`: llama with no RoPE on every 4th layer.
    SmolLm3,
    /// `granite`: llama with embedding/residual/attention/logit multipliers.
    Granite,
    /// `mistral3`: Ministral 3 / Mistral Small 3.x text decoders (YaRN,
    /// Llama-4-style attention temperature).
    Mistral3,
    /// `qwen3moe`: Qwen3-30B-A3B, Qwen3-Coder-30B-A3B: the qwen3 block with
    /// a mixture-of-experts feed-forward.
    Qwen3Moe,
    /// `gpt-oss`: gpt-oss-20b/120b: mixture of experts (MXFP4), attention
    /// sinks, alternating sliding/full attention, YaRN, biases.
    GptOss,
    /// `bert`: BERT encoders (all-MiniLM, bge): an embedding model.
    Bert,
    /// `nomic-bert`: nomic-embed-text v1/v1.5: an embedding model.
    NomicBert,
    /// `qwen35`: Qwen3.5 dense, Gated DeltaNet layers interleaved with gated
    /// full attention (see `arch/qwen35.rs`, `hybrid.rs`).
    Qwen35,
    /// `gemma4`: Gemma 4 text decoders (E2B/E4B, 31B, 26B-A4B): per-layer
    /// embeddings, KV shared across layers, sliding and global layers with
    /// their own head sizes and RoPE (see `arch/gemma4.rs`, `gemma4.rs`).
    Gemma4,
    /// `qwen35moe`: Qwen3.5 mixtures of experts (35B-A3B, 122B-A10B,
    /// 397B-A17B): the `qwen35` hybrid with a routed mixture of experts plus
    /// a gated shared expert in every block.
    Qwen35Moe,
}

pub const SUPPORTED: &str =
    "llama, qwen2, qwen3, gemma3, phi3, smollm3, granite, mistral3, qwen3moe, gpt-oss, bert, nomic-bert, qwen35, gemma4, qwen35moe";

impl Arch {
    pub fn from_name(name: &str) -> Option<Arch> {
        Some(match name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "gemma3" => Arch::Gemma3,
            "qwen3" => Arch::Qwen3,
            "phi3" => Arch::Phi3,
            "smollm3" => Arch::SmolLm3,
            "granite" => Arch::Granite,
            "mistral3" => Arch::Mistral3,
            "qwen3moe" => Arch::Qwen3Moe,
            "gpt-oss" => Arch::GptOss,
            "bert" => Arch::Bert,
            "nomic-bert" => Arch::NomicBert,
            "qwen35" => Arch::Qwen35,
            "gemma4" => Arch::Gemma4,
            "qwen35moe" => Arch::Qwen35Moe,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3",
            Arch::Qwen3 => "qwen3",
            Arch::Phi3 => "phi3",
            Arch::SmolLm3 => "smollm3",
            Arch::Granite => "granite",
            Arch::Mistral3 => "mistral3",
            Arch::Qwen3Moe => "qwen3moe",
            Arch::GptOss => "gpt-oss",
            Arch::Bert => "bert",
            Arch::NomicBert => "nomic-bert",
            Arch::Qwen35 => "qwen35",
            Arch::Gemma4 => "gemma4",
            Arch::Qwen35Moe => "qwen35moe",
        }
    }

    /// Whether the architecture's feed-forward is a mixture of experts.
    pub fn is_moe(self) -> bool {
        matches!(self, Arch::Qwen3Moe | Arch::GptOss | Arch::Qwen35Moe)
    }

    /// An embedding model (a bidirectional encoder, `encoder.rs`): it makes
    /// embeddings, never text.
    pub fn is_embedding(self) -> bool {
        matches!(self, Arch::Bert | Arch::NomicBert)
    }
}

/// Gated-MLP activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Silu,
    GeluTanh,
    /// gpt-oss's clamped SwiGLU (llama.cpp `ggml_swiglu_oai`): gate clamped
    /// to at most `limit`, up to ±`limit`, `gate * sigmoid(alpha * gate) *
    /// (up + 1)` with alpha 1.702 and limit 7 (constants in llama.cpp too).
    SwigluOai,
}

/// How a mixture-of-experts router turns its logits into the experts a
/// token goes to and their weights (llama.cpp `llama_expert_gating_func_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gating {
    /// Softmax over every expert's logit; the top-k probabilities are the
    /// weights (qwen3moe: `SOFTMAX`).
    Softmax,
    /// The top-k logits, softmax over those k (gpt-oss: `SOFTMAX_WEIGHT`).
    SoftmaxTopK,
}

/// A mixture-of-experts feed-forward: a router (`ffn_gate_inp`) picks
/// `n_expert_used` of `n_expert` gated MLPs of `n_ff_exp` per token, whose
/// outputs are summed with the router's weights (llama.cpp
/// `llm_graph_context::build_moe_ffn`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moe {
    pub n_expert: usize,
    pub n_expert_used: usize,
    pub n_ff_exp: usize,
    pub gating: Gating,
    /// The chosen weights divided by their sum (floored at 2^-14, as
    /// llama.cpp clamps it).
    pub norm_weights: bool,
    /// The chosen weights times this.
    pub weights_scale: Option<f32>,
    /// A shared expert every token goes through (qwen35moe), its gated MLP's
    /// length (`expert_shared_feed_forward_length`); 0: none.
    pub n_ff_shexp: usize,
}

/// Most experts a file may have (llama.cpp `LLAMA_MAX_EXPERTS`).
pub const MAX_EXPERTS: usize = 512;

/// What differs from one layer to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// Attention limited to the sliding window (`Config::sliding_window`),
    /// with the sliding layers' RoPE (`Positions::rope_swa`) if any.
    pub swa: bool,
    /// Q and K are rotated (SmolLM3 leaves every 4th layer unrotated).
    pub rope: bool,
}

/// How positions enter attention: rotary embeddings and, for Mistral 3, a
/// position-dependent temperature on the queries.
#[derive(Clone, Debug)]
pub struct Positions {
    /// RoPE of global-attention layers (with LongRoPE: the short factors).
    pub rope: Rope,
    /// RoPE of sliding-window layers (their own base), if any.
    pub rope_swa: Option<Rope>,
    /// LongRoPE's long factors: used by sessions whose context exceeds
    /// `n_ctx_orig` (llama.cpp `llama_model::get_rope_factors`: the choice is
    /// per context, not per position).
    pub rope_long: Option<Rope>,
    /// The context the model was first trained at
    /// (`rope.scaling.original_context_length`, else `context_length`).
    pub n_ctx_orig: usize,
    /// Llama-4-style query temperature (`attention.temperature_scale`).
    pub attn_temp: Option<AttnTemp>,
}

/// Queries at position p are multiplied by `ln(floor(p / floor_scale) + 1) *
/// scale + 1` after RoPE (llama.cpp `llm_graph_input_attn_temp`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttnTemp {
    pub scale: f32,
    pub floor_scale: usize,
}

impl AttnTemp {
    /// The multiplier at `pos`, computed as llama.cpp does (in double, from
    /// float operands).
    pub fn at(&self, pos: usize) -> f32 {
        let steps = (pos as f32 / self.floor_scale as f32).floor();
        ((steps as f64 + 1.0).ln() * self.scale as f64 + 1.0) as f32
    }
}

/// Multipliers some families put on the residual stream and the logits.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scales {
    /// Token embeddings × this (Gemma: sqrt(n_embd); Granite: `embedding_scale`).
    pub embed: Option<f32>,
    /// Each block's attention and MLP outputs × this before they are added
    /// to the residual stream (Granite: `residual_scale`).
    pub residual: Option<f32>,
    /// Logits × this (Granite: 1 / `logit_scale`).
    pub logit: Option<f32>,
    /// Logits soft-capped to ±cap: `tanh(x / cap) * cap` (Gemma 2/3).
    pub final_softcap: Option<f32>,
}

/// Everything the forward pass needs besides the weights.
#[derive(Clone, Debug)]
pub struct Config {
    pub arch: Arch,
    // ---- shape ----
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub n_ctx_train: usize,
    pub rms_eps: f32,
    // ---- per layer ----
    /// [n_layer]
    pub layers: Vec<LayerSpec>,
    // ---- positions ----
    pub pos: Positions,
    // ---- attention ----
    /// Sliding window size, for layers marked `swa`.
    pub sliding_window: Option<usize>,
    /// Scale applied to q·k.
    pub attn_scale: f32,
    /// Queries × this after RoPE, before attention (Phi-3 scales q by
    /// 1/sqrt(head_dim) there and attends with scale 1).
    pub q_scale: Option<f32>,
    pub qkv_bias: bool,
    pub qk_norm: bool,
    // ---- multipliers ----
    pub scales: Scales,
    // ---- block ----
    pub act: Activation,
    pub post_norms: bool,
    /// Gate and up projections in one `ffn_up` of 2·n_ff rows, gate first
    /// (Phi-3).
    pub fused_gate_up: bool,
    /// A mixture-of-experts feed-forward instead of the dense MLP.
    pub moe: Option<Moe>,
    /// Per-head attention sinks (gpt-oss `attn_sinks`): a logit per head
    /// that joins every row's softmax without a value.
    pub attn_sinks: bool,
    /// A bias on the attention output projection (gpt-oss).
    pub wo_bias: bool,
    /// Frequency-factor tensors the configuration was built from (the
    /// weights' loader counts them as used).
    pub(crate) rope_tensors: Vec<&'static str>,
    // ---- embeddings ----
    /// How a text's embedding is pooled from its hidden states
    /// (`{arch}.pooling_type`).
    pub pooling: Pooling,
    /// The encoder's own switches, for an embedding model (`bert`,
    /// `nomic-bert`); `None` for a decoder.
    pub encoder: Option<EncoderSpec>,
    /// Linear-attention (Gated DeltaNet) shape of a hybrid model (Qwen3.5):
    /// which layers are recurrent and their sizes; `None` for the others.
    pub ssm: Option<SsmSpec>,
    /// Gemma 4's per-layer shapes (heads, head sizes, MLP widths, which
    /// layer's K/V a layer reads, per-layer embeddings); `None` for the
    /// others.
    pub gemma4: Option<Gemma4Spec>,
}

/// Gemma 4's per-layer variations (llama.cpp `llama_model_gemma4`,
/// `llama_hparams::n_embd_head_k(il)`, `has_kv`, the KV cache's `reuse`).
/// `Config::head_dim` is the global layers' head size and `n_head_kv` /
/// `n_ff` are the largest of any layer (the scratch is sized by them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gemma4Spec {
    /// Head size of the sliding-window layers (`attention.key_length_swa`).
    pub head_dim_swa: usize,
    /// [n_layer] K/V heads (`attention.head_count_kv`, a per-layer array).
    pub n_head_kv: Vec<usize>,
    /// [n_layer] MLP width (`feed_forward_length`, per layer when the
    /// KV-sharing layers' MLP is double-wide).
    pub n_ff: Vec<usize>,
    /// [n_layer] the layer whose K/V cache layer il attends over: itself
    /// for the first `n_layer - attention.shared_kv_layers`, else the last
    /// of those of its own kind (sliding or global).
    pub kv_source: Vec<usize>,
    /// Per-layer embedding width (`embedding_length_per_layer_input`), 0
    /// when the model has none (31B).
    pub n_embd_per_layer: usize,
}

/// A hybrid model's Gated DeltaNet layers (llama.cpp `ssm.*` keys,
/// `llama_model_qwen35::load_arch_hparams`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsmSpec {
    /// [n_layer]: the layer is a linear-attention (recurrent) one.
    pub recurrent: Vec<bool>,
    /// Taps of the causal depthwise convolution (`ssm.conv_kernel`).
    pub d_conv: usize,
    /// Size of a key/query head and of a value head (`ssm.state_size`).
    pub head_dim: usize,
    /// Key/query heads (`ssm.group_count`).
    pub n_k_heads: usize,
    /// Value heads (`ssm.time_step_rank`); value head h reads key head
    /// h % n_k_heads, as llama.cpp's `ggml_gated_delta_net` does.
    pub n_v_heads: usize,
}

impl SsmSpec {
    /// Width of q (and of k) of one token.
    pub fn key_dim(&self) -> usize {
        self.n_k_heads * self.head_dim
    }
    /// Width of v (and of the output before `ssm_out`) of one token.
    pub fn value_dim(&self) -> usize {
        self.n_v_heads * self.head_dim
    }
    /// Channels of the convolution: q, k and v together.
    pub fn conv_dim(&self) -> usize {
        2 * self.key_dim() + self.value_dim()
    }
    /// Floats of one layer's recurrent state (the delta rule's matrices).
    pub fn state_len(&self) -> usize {
        self.n_v_heads * self.head_dim * self.head_dim
    }
    /// Floats of one layer's convolution state (the last `d_conv - 1` inputs).
    pub fn conv_len(&self) -> usize {
        (self.d_conv - 1) * self.conv_dim()
    }
    /// Floats of one layer's unfinished block of the chunked delta rule
    /// (`delta.rs`): key rows, u rows and decays of up to `CHUNK` positions.
    pub fn pending_len(&self) -> usize {
        crate::delta::CHUNK * (self.key_dim() + self.value_dim() + self.n_v_heads)
    }

    /// Bytes a session holds whatever its length: the recurrent state of
    /// every recurrent layer, its snapshots (the pinned one too) and the
    /// hybrid blocks' own scratch for `batch` rows (`q_dim`: the attention
    /// layers' query width).
    pub fn session_bytes(&self, q_dim: usize, batch: usize) -> usize {
        let layers = self.recurrent.iter().filter(|&&r| r).count();
        let state = layers * (self.conv_len() + self.state_len() + self.pending_len());
        let scratch_row =
            2 * q_dim + 2 * self.conv_dim() + 2 * self.value_dim() + 2 * self.n_v_heads;
        let states = 1 + crate::hybrid::MAX_SNAPSHOTS + crate::hybrid::PINNED_SNAPSHOTS;
        4 * (state * states + batch * scratch_row)
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
        // (gemma4 is dense or a mixture of experts: its `configure` reads
        // the experts when the file has them)
        if let Some(n) = m
            .u("expert_count")?
            .filter(|&n| n > 0 && !arch.is_moe() && arch != Arch::Gemma4)
        {
            return Err(m.bad(
                &m.key("expert_count"),
                &format!("is {n}: a mixture-of-experts {arch_name} model, which hearth does not run; use a dense {arch_name} model or a qwen3moe / gpt-oss / qwen35moe / gemma4 one"),
            ));
        }
        let n_embd = m.req_u("embedding_length")?;
        let n_layer = m.req_u("block_count")?;
        let n_head = m.req_u("attention.head_count")?;
        // Gemma 4 gives K/V heads (and MLP widths) per layer; its
        // `configure` reads the arrays, the shape keeps the largest.
        let per_layer = arch == Arch::Gemma4;
        let n_head_kv = if per_layer {
            let a = m.u_layers("attention.head_count_kv", n_layer)?;
            let a = a.unwrap_or_else(|| vec![n_head; n_layer]);
            if let Some(&bad) = a.iter().find(|&&h| h == 0 || n_head % h != 0) {
                return Err(m.bad(
                    &m.key("attention.head_count_kv"),
                    &format!("{bad} does not divide head_count {n_head}"),
                ));
            }
            a.into_iter().max().unwrap_or(n_head)
        } else {
            m.u("attention.head_count_kv")?.unwrap_or(n_head)
        };
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
        if n_rot > head_dim || n_rot % 2 != 0 || n_rot == 0 {
            return Err(m.bad(
                &m.key("rope.dimension_count"),
                &format!("{n_rot} is not an even number up to the head size {head_dim}"),
            ));
        }
        let rms_eps = m.f("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-5);
        // a mixture of experts has its own length (`expert_feed_forward_length`)
        let n_ff = if arch.is_moe() {
            m.u("feed_forward_length")?.unwrap_or(0)
        } else if per_layer {
            let ff = m.u_layers("feed_forward_length", n_layer)?;
            match ff.and_then(|a| a.into_iter().max()).filter(|&x| x > 0) {
                Some(x) => x,
                None => m.req_u("feed_forward_length")?,
            }
        } else {
            m.req_u("feed_forward_length")?
        };
        let n_ctx_train = m.u("context_length")?.unwrap_or(2048);

        // RoPE scaling, as llama.cpp's common `load_hparams` reads it.
        let scaling = match f.get_str(&m.key("rope.scaling.type")).unwrap_or("linear") {
            "none" => Scaling::None,
            "linear" => Scaling::Linear,
            "yarn" => Scaling::Yarn,
            "longrope" => Scaling::LongRope,
            other => {
                return Err(m.bad(
                    &m.key("rope.scaling.type"),
                    &format!("{other:?} is not supported (none, linear, yarn, longrope)"),
                ))
            }
        };
        let factor = match m.f("rope.scaling.factor")? {
            Some(x) => x,
            None => m.f("rope.scale_linear")?.unwrap_or(0.0),
        };
        let freq_scale = if scaling == Scaling::None || factor == 0.0 {
            1.0
        } else {
            1.0 / factor
        };
        let mut spec = RopeSpec {
            style: RopeStyle::Normal,
            n_rot,
            base: m.f("rope.freq_base")?.unwrap_or(10000.0),
            base_swa: None,
            n_rot_swa: None,
            freq_scale_swa: 1.0,
            scaling,
            freq_scale,
            attn_factor: m.f("rope.scaling.attn_factor")?.unwrap_or(1.0),
            beta_fast: 32.0,
            beta_slow: 1.0,
            yarn_log_mul: 0.0,
            factors: FactorTensors::None,
            sections: None,
        };
        let n_ctx_orig = match m.u("rope.scaling.original_context_length")? {
            Some(n) if n > 0 => n,
            _ => n_ctx_train,
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
            layers: vec![
                LayerSpec {
                    swa: false,
                    rope: true
                };
                n_layer
            ],
            pos: Positions {
                rope: Rope::new(RopeStyle::Normal, n_rot, spec.base, 1.0, None),
                rope_swa: None,
                rope_long: None,
                n_ctx_orig,
                attn_temp: None,
            },
            sliding_window: None,
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
            q_scale: None,
            qkv_bias: false,
            qk_norm: false,
            scales: Scales::default(),
            act: Activation::Silu,
            post_norms: false,
            fused_gate_up: false,
            moe: None,
            attn_sinks: false,
            wo_bias: false,
            rope_tensors: Vec::new(),
            pooling: Pooling::from_meta(&m)?,
            encoder: None,
            ssm: None,
            gemma4: None,
        };
        match arch {
            Arch::Llama => crate::arch::llama::configure(&mut c, &m, &mut spec)?,
            Arch::Qwen2 => crate::arch::qwen2::configure(&mut c, &m, &mut spec)?,
            Arch::Gemma3 => crate::arch::gemma3::configure(&mut c, &m, &mut spec)?,
            Arch::Qwen3 => crate::arch::qwen3::configure(&mut c, &m, &mut spec)?,
            Arch::Phi3 => crate::arch::phi3::configure(&mut c, &m, &mut spec)?,
            Arch::SmolLm3 => crate::arch::smollm3::configure(&mut c, &m, &mut spec)?,
            Arch::Granite => crate::arch::granite::configure(&mut c, &m, &mut spec)?,
            Arch::Mistral3 => crate::arch::mistral3::configure(&mut c, &m, &mut spec)?,
            Arch::Qwen3Moe => crate::arch::qwen3moe::configure(&mut c, &m, &mut spec)?,
            Arch::GptOss => crate::arch::gpt_oss::configure(&mut c, &m, &mut spec)?,
            Arch::Bert => crate::arch::bert::configure(&mut c, &m, &mut spec)?,
            Arch::NomicBert => crate::arch::nomic_bert::configure(&mut c, &m, &mut spec)?,
            Arch::Qwen35 => crate::arch::qwen35::configure(&mut c, &m, &mut spec)?,
            Arch::Gemma4 => crate::arch::gemma4::configure(&mut c, &m, &mut spec)?,
            Arch::Qwen35Moe => crate::arch::qwen35::configure_moe(&mut c, &m, &mut spec)?,
        }
        c.build_ropes(f, &spec)?;
        Ok(c)
    }

    /// The `Rope`s of `spec`, with the frequency factors the architecture
    /// reads (llama.cpp `get_rope_factors`: `rope_freqs` when present, else
    /// LongRoPE's long factors for a context beyond `n_ctx_orig` and the
    /// short ones otherwise).
    fn build_ropes(&mut self, f: &GgufFile, spec: &RopeSpec) -> Result<(), ModelError> {
        let half = spec.n_rot / 2;
        let orig = self.pos.n_ctx_orig;
        let mut freqs = None;
        let (mut long, mut short) = (None, None);
        let long_short = match spec.factors {
            FactorTensors::None => false,
            FactorTensors::LongShort => true,
            FactorTensors::Freqs => spec.scaling == Scaling::LongRope,
        };
        if spec.factors == FactorTensors::Freqs && !long_short {
            freqs = factor_tensor(f, "rope_freqs.weight", half)?;
            if freqs.is_some() {
                self.rope_tensors.push("rope_freqs.weight");
            }
        }
        if long_short {
            long = factor_tensor(f, "rope_factors_long.weight", half)?;
            short = factor_tensor(f, "rope_factors_short.weight", half)?;
            if long.is_some() {
                self.rope_tensors.push("rope_factors_long.weight");
            }
            if short.is_some() {
                self.rope_tensors.push("rope_factors_short.weight");
            }
        }
        let global = |factors: Option<&Vec<f32>>| {
            spec.build(
                spec.n_rot,
                spec.base,
                spec.freq_scale,
                orig,
                factors.map(|v| &v[..]),
            )
        };
        self.pos.rope = global(freqs.as_ref().or(short.as_ref()));
        self.pos.rope_long = (long.is_some() || short.is_some()).then(|| global(long.as_ref()));
        self.pos.rope_swa = spec.base_swa.map(|b| {
            let n_rot = spec.n_rot_swa.unwrap_or(spec.n_rot);
            spec.build(n_rot, b, spec.freq_scale_swa, orig, None)
        });
        Ok(())
    }

    /// The RoPE of layer `il` for a session that uses LongRoPE's long factors
    /// (`long`) or not; `None` when the layer does not rotate.
    pub fn rope_for(&self, il: usize, long: bool) -> Option<&Rope> {
        let l = self.layers[il];
        if !l.rope {
            return None;
        }
        if l.swa {
            if let Some(r) = &self.pos.rope_swa {
                return Some(r);
            }
        }
        match (&self.pos.rope_long, long) {
            (Some(r), true) => Some(r),
            _ => Some(&self.pos.rope),
        }
    }

    /// What queries at `pos` are multiplied by after RoPE, if anything.
    pub fn q_mul(&self, pos: usize) -> Option<f32> {
        let temp = self.pos.attn_temp.map(|t| t.at(pos)).filter(|&t| t != 1.0);
        match (self.q_scale, temp) {
            (None, None) => None,
            (Some(s), None) => Some(s),
            (None, Some(t)) => Some(t),
            (Some(s), Some(t)) => Some(s * t),
        }
    }

    /// Whether a session of `n_ctx` positions uses LongRoPE's long factors
    /// (llama.cpp: the context per sequence exceeds the original one).
    pub fn long_rope(&self, n_ctx: usize) -> bool {
        self.pos.rope_long.is_some() && n_ctx > self.pos.n_ctx_orig
    }

    /// Floats of K (and of V) cached per token per layer.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.max_head_dim()
    }

    /// The largest head size of any layer (Gemma 4: the larger of its
    /// global and sliding ones).
    pub fn max_head_dim(&self) -> usize {
        match &self.gemma4 {
            Some(g) => self.head_dim.max(g.head_dim_swa),
            None => self.head_dim,
        }
    }

    /// Floats of Q per token.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.max_head_dim()
    }

    /// Layers with a KV cache (a hybrid model's recurrent layers have none,
    /// nor do Gemma 4's layers that read another layer's).
    pub fn kv_layers(&self) -> usize {
        (0..self.n_layer)
            .filter(|&il| self.layer_kv_dim(il) > 0)
            .count()
    }

    /// Floats of K (and of V) that layer `il` caches per token: 0 for a
    /// layer without a cache of its own (a recurrent layer, a Gemma 4 layer
    /// reading another layer's K/V).
    pub fn layer_kv_dim(&self, il: usize) -> usize {
        if let Some(h) = &self.ssm {
            if h.recurrent[il] {
                return 0;
            }
        }
        match &self.gemma4 {
            Some(g) if g.kv_source[il] != il => 0,
            Some(g) => g.n_head_kv[il] * self.layer_head_dim(il),
            None => self.kv_dim(),
        }
    }

    /// Floats of K and V cached per token, all layers together.
    pub fn kv_elems_per_token(&self) -> usize {
        (0..self.n_layer).map(|il| self.layer_kv_dim(il)).sum()
    }

    /// Head size of layer `il` (Gemma 4's sliding layers have their own).
    pub fn layer_head_dim(&self, il: usize) -> usize {
        match &self.gemma4 {
            Some(g) if self.layers[il].swa => g.head_dim_swa,
            _ => self.head_dim,
        }
    }

    /// Bytes a session of a hybrid model holds whatever its length: the
    /// recurrent state (conv and delta-rule state of every recurrent layer),
    /// its snapshots for prefix reuse, and the hybrid blocks' own scratch
    /// for `batch` rows. 0 for other models.
    pub fn recurrent_session_bytes(&self, batch: usize) -> usize {
        self.ssm
            .as_ref()
            .map_or(0, |h| h.session_bytes(self.q_dim(), batch))
    }
}
