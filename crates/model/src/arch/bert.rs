//! `bert` (all-MiniLM-L6/L12, bge-small/base/large, e5, …): an encoder for
//! embeddings. Token + token-type (row 0: "sentence A") + learned absolute
//! position embeddings, LayerNorm; per layer bidirectional attention with
//! biases, residual, LayerNorm, GELU MLP with biases, residual, LayerNorm
//! (post-norm); no output norm, no vocabulary projection; the text's vector
//! pooled as `pooling_type` says. Reference: llama.cpp `src/models/bert.cpp`
//! (the graph shared by `nomic-bert`).

use crate::config::{Config, Meta, RopeSpec};
use crate::encoder::{self, EncoderFfn, EncoderPositions};
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, _rope: &mut RopeSpec) -> Result<(), ModelError> {
    encoder::configure(c, m, EncoderFfn::Gelu, EncoderPositions::Learned)
}
