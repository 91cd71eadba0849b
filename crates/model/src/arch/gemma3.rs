//! `gemma3` (Gemma 3): interleaved sliding-window and global attention, each
//! with its own RoPE base (global: `rope.freq_base`; sliding: `rope.freq_base_swa`,
//! default 10000), every 6th layer global (`attention.sliding_window_pattern`);
//! RMS QK-norm per head; pre- and post-norms around attention and MLP;
//! embeddings scaled by sqrt(n_embd); GELU(tanh)-gated MLP; q scaled by
//! 1/sqrt(head_dim) (by 1/sqrt(n_embd/n_head) for the 27B model); NeoX RoPE;
//! optional final logit soft-capping. Norm weights in GGUF already include
//! Gemma's "+1". Reference: llama.cpp `src/models/gemma3.cpp`,
//! `llama_hparams::set_swa_pattern`, `is_masked_swa`.

use crate::config::{Activation, Config, Meta};
use crate::ops::{Rope, RopeStyle};
use crate::ModelError;

pub(crate) fn configure(
    c: &mut Config,
    m: &Meta,
    base: f32,
    freq_scale: f32,
) -> Result<(), ModelError> {
    c.act = Activation::GeluTanh;
    c.qk_norm = true;
    c.post_norms = true;
    c.embed_scale = Some((c.n_embd as f32).sqrt());
    c.attn_scale = if c.n_layer == 62 {
        1.0 / ((c.n_embd / c.n_head) as f32).sqrt()
    } else {
        1.0 / (c.head_dim as f32).sqrt()
    };
    c.rope = Rope::new(RopeStyle::Neox, c.rope.n_rot, base, freq_scale, None);
    c.final_softcap = m.f("final_logit_softcapping")?.filter(|&v| v > 0.0);
    if let Some(w) = m.u("attention.sliding_window")?.filter(|&w| w > 0) {
        c.sliding_window = Some(w);
        let pattern = m.u("attention.sliding_window_pattern")?.unwrap_or(6);
        for (il, swa) in c.swa_layers.iter_mut().enumerate() {
            *swa = pattern == 0 || il % pattern < pattern - 1;
        }
        let base_swa = m.f("rope.freq_base_swa")?.unwrap_or(10000.0);
        c.rope_swa = Some(Rope::new(
            RopeStyle::Neox,
            c.rope.n_rot,
            base_swa,
            1.0,
            None,
        ));
    }
    Ok(())
}
