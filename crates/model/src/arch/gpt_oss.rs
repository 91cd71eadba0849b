//! `gpt-oss` (gpt-oss-20b, gpt-oss-120b): pre-norm blocks whose attention
//! has q/k/v and output biases and a learned sink logit per head
//! (`attn_sinks`, joining every softmax without a value), NeoX RoPE with YaRN
//! (the same scaling on every layer, `rope.freq_base_swa` only if the file
//! has one), sliding-window attention (`attention.sliding_window`, 128) on
//! every other layer starting with the first (`sliding_window_pattern`,
//! default 2), q·k scaled by 1/sqrt(head size); the feed-forward is a mixture
//! of experts normed by `post_attention_norm`: a biased router, the top
//! `expert_used_count` logits and a softmax over those (`SOFTMAX_WEIGHT`, no
//! renormalisation), experts with biases on gate, up and down, and the
//! clamped SwiGLU (`ggml_swiglu_oai`, alpha 1.702, limit 7). Experts ship in
//! MXFP4. YaRN's beta_fast/beta_slow keys are not read (llama.cpp keeps its
//! defaults, 32 and 1, for this architecture).
//! Reference: llama.cpp `src/models/openai-moe.cpp`,
//! `llm_graph_context::build_moe_ffn`, `ggml_compute_forward_swiglu_oai_f32`,
//! `ggml_compute_forward_soft_max_f32` (sinks).

use crate::config::{Activation, Config, Gating, Meta, Moe, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    rope.style = RopeStyle::Neox;
    c.attn_scale = 1.0 / (rope.n_rot as f32).sqrt();
    c.attn_sinks = true;
    c.wo_bias = true;
    c.act = Activation::SwigluOai;
    let (n_expert, n_expert_used) = super::expert_counts(m)?;
    let n_ff_exp = m.req_u("expert_feed_forward_length")?;
    c.moe = Some(Moe {
        n_expert,
        n_expert_used,
        n_ff_exp,
        gating: Gating::SoftmaxTopK,
        norm_weights: false,
        weights_scale: None,
        n_ff_shexp: 0,
    });
    let window = m.req_u("attention.sliding_window")?;
    c.sliding_window = Some(window);
    let pattern = m.u("attention.sliding_window_pattern")?.unwrap_or(2);
    for (il, l) in c.layers.iter_mut().enumerate() {
        l.swa = pattern == 0 || il % pattern < pattern - 1;
    }
    // sliding layers: the global scaling, their own base only if given
    rope.base_swa = m.f("rope.freq_base_swa")?;
    rope.freq_scale_swa = rope.freq_scale;
    Ok(())
}
