//! `smollm3` (SmolLM3-3B): the llama block without RoPE on every 4th layer
//! (layers 3, 7, 11, …: "NoPE"). llama.cpp fixes the step at 4 in code
//! (`hparams.n_no_rope_layer_step = 4`); no metadata key carries it.
//! Reference: llama.cpp `src/models/smollm3.cpp`.

use crate::config::{Config, Meta, RopeSpec};
use crate::ModelError;

/// Every this-many-th layer (counting from 1) has no RoPE.
const NO_ROPE_LAYER_STEP: usize = 4;

pub(crate) fn configure(c: &mut Config, _m: &Meta, _rope: &mut RopeSpec) -> Result<(), ModelError> {
    for (il, l) in c.layers.iter_mut().enumerate() {
        l.rope = (il + 1) % NO_ROPE_LAYER_STEP != 0;
    }
    Ok(())
}
