//! `llama` (SmolLM2, Llama 2, Llama 3.x, Mistral 7B): RMS-norm pre-norm
//! blocks, SwiGLU MLP, RoPE in the "normal" layout (llama.cpp
//! `LLAMA_ROPE_TYPE_NORM`: its GGUF converter permutes Q/K so adjacent pairs
//! rotate), no biases, output tied to the embeddings when the file has no
//! `output.weight` (Llama 3.2 1B/3B). Llama 3.x's RoPE scaling is the
//! `rope_freqs` tensor of per-pair frequency factors (or LongRoPE's pair when
//! `rope.scaling.type` says so). Reference: llama.cpp `src/models/llama.cpp`.

use crate::config::{Config, FactorTensors, Meta, RopeSpec};
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    // llama.cpp refuses a partial rotation for this architecture
    if rope.n_rot != c.head_dim {
        return Err(m.bad(
            &m.key("rope.dimension_count"),
            &format!(
                "is {}, but a llama model rotates whole heads of {}",
                rope.n_rot, c.head_dim
            ),
        ));
    }
    rope.factors = FactorTensors::Freqs;
    Ok(())
}
