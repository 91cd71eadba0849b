//! `qwen3` (Qwen3 0.6B…32B, Qwen3-Coder dense): the llama block with an RMS
//! norm over each head of Q and of K (`attn_q_norm`, `attn_k_norm`, one
//! weight vector of head_dim shared by all heads) before RoPE, NeoX RoPE, no
//! biases; the head size is its own (`attention.key_length`, 128), so the
//! query width is not n_embd. Reference: llama.cpp `src/models/qwen3.cpp`.

use crate::config::{Config, Meta, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, _m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    c.qk_norm = true;
    rope.style = RopeStyle::Neox;
    Ok(())
}
