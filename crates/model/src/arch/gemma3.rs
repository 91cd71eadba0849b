//! `gemma3` (Gemma 3): interleaved sliding-window and global attention, each
//! with its own RoPE base (global: `rope.freq_base`; sliding: `rope.freq_base_swa`,
//! default 10000), every 6th layer global (`attention.sliding_window_pattern`);
//! RMS QK-norm per head; pre- and post-norms around attention and MLP;
//! embeddings scaled by sqrt(n_embd); GELU(tanh)-gated MLP; q scaled by
//! 1/sqrt(head_dim) (by 1/sqrt(n_embd/n_head) for the 27B model); NeoX RoPE;
//! optional final logit soft-capping. Norm weights in GGUF already include
//! Gemma's "+1". Reference: llama.cpp `src/models/gemma3.cpp`,
//! `llama_hparams::set_swa_pattern`, `is_masked_swa`.

use crate::config::{Activation, Config, Meta, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    c.act = Activation::GeluTanh;
    c.qk_norm = true;
    c.post_norms = true;
    c.scales.embed = Some((c.n_embd as f32).sqrt());
    c.attn_scale = if c.n_layer == 62 {
        1.0 / ((c.n_embd / c.n_head) as f32).sqrt()
    } else {
        1.0 / (c.head_dim as f32).sqrt()
    };
    rope.style = RopeStyle::Neox;
    c.scales.final_softcap = m.f("final_logit_softcapping")?.filter(|&v| v > 0.0);
    if let Some(w) = m.u("attention.sliding_window")?.filter(|&w| w > 0) {
        c.sliding_window = Some(w);
        let pattern = m.u("attention.sliding_window_pattern")?.unwrap_or(6);
        for (il, l) in c.layers.iter_mut().enumerate() {
            l.swa = pattern == 0 || il % pattern < pattern - 1;
        }
        rope.base_swa = Some(m.f("rope.freq_base_swa")?.unwrap_or(10000.0));
    }
    Ok(())
}
