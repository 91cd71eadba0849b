//! `llama` (SmolLM2, Llama 2/3, Mistral): RMS-norm pre-norm blocks, SwiGLU MLP,
//! RoPE in the "normal" layout (llama.cpp `LLAMA_ROPE_TYPE_NORM`: its GGUF
//! converter permutes Q/K so adjacent pairs rotate), no biases.
//! Reference: llama.cpp `src/models/llama.cpp`.

use crate::config::{Config, Meta};
use crate::ModelError;

pub(crate) fn configure(
    _c: &mut Config,
    _m: &Meta,
    _base: f32,
    _freq_scale: f32,
) -> Result<(), ModelError> {
    Ok(())
}
