//! `qwen3moe` (Qwen3-30B-A3B, Qwen3-235B-A22B, Qwen3-Coder-30B-A3B): the
//! qwen3 attention block (per-head Q/K RMS norm, NeoX RoPE, no biases) with a
//! mixture-of-experts feed-forward: a router (`ffn_gate_inp`, n_expert x
//! n_embd), softmax over all experts, the top `expert_used_count`, their
//! probabilities renormalised to sum 1 (llama.cpp passes `norm_w = true`
//! for this architecture whatever the metadata says), and per expert a
//! SwiGLU MLP of `expert_feed_forward_length` (default: feed_forward_length
//! / expert_used_count) read from the 3-D `ffn_{gate,up,down}_exps`. No shared
//! expert (a file with one is refused, as llama.cpp refuses it).
//! Reference: llama.cpp `src/models/qwen3moe.cpp`,
//! `llm_graph_context::build_moe_ffn`.

use crate::config::{Config, Gating, Meta, Moe, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    c.qk_norm = true;
    rope.style = RopeStyle::Neox;
    let (n_expert, n_expert_used) = super::expert_counts(m)?;
    let n_ff_exp = match m.u("expert_feed_forward_length")?.filter(|&n| n > 0) {
        Some(n) => n,
        None => c.n_ff / n_expert_used,
    };
    if n_ff_exp == 0 {
        return Err(m.bad(
            &m.key("expert_feed_forward_length"),
            "is missing (and feed_forward_length does not give it); the file is not a complete qwen3moe model",
        ));
    }
    c.moe = Some(Moe {
        n_expert,
        n_expert_used,
        n_ff_exp,
        gating: Gating::Softmax,
        norm_weights: true,
        weights_scale: None,
        n_ff_shexp: 0,
    });
    Ok(())
}
