//! `qwen2` (Qwen2, Qwen2.5, Qwen2.5-Coder): the llama block with biases on the
//! q/k/v projections and RoPE in the NeoX layout (pairs (i, i + n_rot/2)).
//! Reference: llama.cpp `src/models/qwen2.cpp` and `llama_model_rope_type`.

use crate::config::{Config, Meta, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, _m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    c.qkv_bias = true;
    rope.style = RopeStyle::Neox;
    Ok(())
}
