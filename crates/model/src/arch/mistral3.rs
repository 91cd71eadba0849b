//! `mistral3` (Ministral 3 3B/8B/14B, Mistral Small 3.x text decoders): the
//! llama block; Ministral 3 scales RoPE with YaRN (`rope.scaling.type` yarn,
//! its factor, `original_context_length`, `yarn_beta_fast`/`yarn_beta_slow`,
//! `yarn_log_multiplier` = `mscale_all_dim`) and multiplies queries by the
//! Llama-4-style temperature `ln(floor(pos / n_ctx_orig) + 1) *
//! attention.temperature_scale + 1` after RoPE. Reference: llama.cpp
//! `src/models/mistral3.cpp`, `llm_graph_input_attn_temp::set_input`.

use crate::config::{AttnTemp, Config, FactorTensors, Meta, RopeSpec};
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    rope.factors = FactorTensors::Freqs;
    if let Some(b) = m.f("rope.scaling.yarn_beta_fast")? {
        rope.beta_fast = b;
    }
    if let Some(b) = m.f("rope.scaling.yarn_beta_slow")? {
        rope.beta_slow = b;
    }
    if let Some(x) = m.f("rope.scaling.yarn_log_multiplier")? {
        rope.yarn_log_mul = x;
    }
    if let Some(scale) = m.f("attention.temperature_scale")?.filter(|&s| s != 0.0) {
        c.pos.attn_temp = Some(AttnTemp {
            scale,
            floor_scale: c.pos.n_ctx_orig,
        });
    }
    Ok(())
}
