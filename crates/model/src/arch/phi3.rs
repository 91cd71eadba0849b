//! `phi3` (Phi-3.5-mini, Phi-4-mini): Q, K and V in one `attn_qkv` matrix
//! (split into three views at load; separate ones are read too), gate and up
//! in one `ffn_up` of 2·n_ff rows (gate first), NeoX RoPE over the first
//! `rope.dimension_count` dims of each head (Phi-4-mini: 96 of 128), LongRoPE
//! frequency factors (`rope_factors_short` / `rope_factors_long`, the long
//! ones for a context beyond `rope.scaling.original_context_length`, as
//! llama.cpp chooses them) with `rope.scaling.attn_factor` on sine and
//! cosine, queries scaled by 1/sqrt(head_dim) before attention (scale 1).
//!
//! `attention.sliding_window` is read and ignored, as llama.cpp does ("Phi
//! SWA is currently disabled", llama.cpp PR #13676): hearth computes what
//! llama.cpp computes. Reference: llama.cpp `src/models/phi3.cpp`.

use crate::config::{Config, FactorTensors, Meta, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    rope.style = RopeStyle::Neox;
    rope.factors = FactorTensors::LongShort;
    if c.q_dim() != c.n_embd {
        return Err(m.bad(
            &m.key("attention.head_count"),
            "times the head size is not embedding_length, which a phi3 model needs",
        ));
    }
    let _ = m.u("attention.sliding_window")?; // a malformed value is still an error
    c.q_scale = Some(1.0 / (c.head_dim as f32).sqrt());
    c.attn_scale = 1.0;
    c.fused_gate_up = true;
    Ok(())
}
