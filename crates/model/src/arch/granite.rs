//! `granite` (Granite 3.x dense): the llama block with four multipliers —
//! token embeddings × `embedding_scale`, each attention and MLP output ×
//! `residual_scale` before its residual add, q·k × `attention.scale` (instead
//! of 1/sqrt(head_dim)), logits × 1/`logit_scale`; RoPE on every layer unless
//! `rope.scaling.finetuned` is false. Reference: llama.cpp
//! `src/models/granite.cpp`, `llm_graph_context::build_inp_embd`.

use crate::config::{Config, FactorTensors, Meta, RopeSpec};
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    rope.factors = FactorTensors::Freqs;
    let logit_scale = m.f("logit_scale")?.ok_or_else(|| {
        m.bad(
            &m.key("logit_scale"),
            "is missing; the file is not a complete granite model",
        )
    })?;
    if logit_scale == 0.0 {
        return Err(m.bad(&m.key("logit_scale"), "is 0"));
    }
    c.scales.logit = Some(1.0 / logit_scale);
    // llama.cpp treats 0 as "not set" for the three optional ones
    c.scales.residual = m.f("residual_scale")?.filter(|&s| s != 0.0);
    c.scales.embed = m.f("embedding_scale")?.filter(|&s| s != 0.0);
    if let Some(s) = m.f("attention.scale")?.filter(|&s| s != 0.0) {
        c.attn_scale = s;
    }
    // Granite uses rope_finetuned as the switch for RoPE (default: on)
    let rope_on = m.b("rope.scaling.finetuned")?.unwrap_or(true);
    for l in &mut c.layers {
        l.rope = rope_on;
    }
    Ok(())
}
