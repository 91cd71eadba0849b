//! `nomic-bert` (nomic-embed-text v1, v1.5): the `bert` encoder with rotary
//! position embeddings (NeoX layout, `rope.freq_base`) on Q and K instead of
//! learned positions, Q/K/V fused in `attn_qkv`, and a SwiGLU MLP
//! (`ffn_gate`, `ffn_up`, `ffn_down`). Reference: llama.cpp
//! `src/models/nomic-bert.cpp` and `bert.cpp` (its graph).

use crate::config::{Config, Meta, RopeSpec};
use crate::encoder::{self, EncoderFfn, EncoderPositions};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    rope.style = RopeStyle::Neox;
    encoder::configure(c, m, EncoderFfn::SwiGlu, EncoderPositions::Rope)
}
