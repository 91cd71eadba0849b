//! `gemma4` (Gemma 4 text decoders: E2B, E4B, 31B, 26B-A4B). A Gemma 3-like block
//! (pre- and post-norms around attention and MLP, GELU(tanh)-gated MLP,
//! embeddings × sqrt(n_embd), NeoX RoPE, final logit soft-capping) with:
//!
//! - sliding-window and global layers as an explicit per-layer flag array
//!   (`attention.sliding_window_pattern`), each kind with its own head size
//!   (`attention.key_length_swa` / `key_length`), K/V head count (a
//!   per-layer `attention.head_count_kv`), RoPE base (`rope.freq_base_swa` /
//!   `rope.freq_base`) and rotated dims (`rope.dimension_count_swa` /
//!   `rope.dimension_count`); the global layers' "proportional" RoPE is the
//!   `rope_freqs` factors (1e30 for the pairs left unrotated);
//! - Q and K RMS-normed per head with weights, V RMS-normed per head
//!   without; attention scale 1 (the norms set the scale);
//! - the last `attention.shared_kv_layers` layers keep no K/V: each attends
//!   over the cache of the last non-shared layer of its kind;
//! - per-layer embeddings (`embedding_length_per_layer_input` > 0): a second
//!   embedding table of n_layer × that width per token, mixed with a
//!   projection of the scaled token embedding, fed into each layer's
//!   residual after its MLP through a GELU gate;
//! - an optional scalar per layer (`layer_output_scale`) on its output;
//! - a global layer may have no `attn_v` (V is the K projection);
//! - 26B-A4B: a mixture of experts (`expert_count`, `expert_used_count`,
//!   `expert_feed_forward_length`) beside the dense MLP of every layer with
//!   an `ffn_gate_inp` (see `gemma4.rs` for the block).
//!
//! Reference: llama.cpp `src/models/gemma4.cpp` (graph, hparams, tensors),
//! `src/llama-model.cpp` (the KV `reuse` callback), `conversion/gemma.py`
//! (`Gemma4Model`: the metadata and the `rope_freqs` tensor).

use crate::config::{Activation, Config, FactorTensors, Gating, Gemma4Spec, Meta, Moe, RopeSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    let n_layer = c.n_layer;
    c.act = Activation::GeluTanh;
    c.qk_norm = true;
    c.post_norms = true;
    c.scales.embed = Some((c.n_embd as f32).sqrt());
    c.attn_scale = 1.0;
    rope.style = RopeStyle::Neox;
    rope.factors = FactorTensors::Freqs;
    c.scales.final_softcap = m.f("final_logit_softcapping")?.filter(|&v| v > 0.0);

    // which layers slide
    let key = m.key("attention.sliding_window_pattern");
    let swa: Vec<bool> = match m.f.get(&key) {
        None => return Err(m.bad(&key, "is missing; the file is not a complete gemma4 model")),
        Some(v) => {
            let flags: Option<Vec<bool>> = v.as_array().and_then(|a| {
                a.iter()
                    .map(|x| x.as_bool().or_else(|| x.as_u64().map(|u| u != 0)))
                    .collect()
            });
            match flags {
                Some(f) if f.len() == n_layer => f,
                _ => {
                    return Err(m.bad(
                        &key,
                        &format!("is {}, expected one flag per layer", v.display_short(4)),
                    ))
                }
            }
        }
    };
    for (l, &s) in c.layers.iter_mut().zip(&swa) {
        l.swa = s;
    }
    if swa.iter().any(|&s| s) {
        c.sliding_window = Some(m.req_u("attention.sliding_window")?);
        rope.base_swa = Some(m.f("rope.freq_base_swa")?.unwrap_or(10000.0));
    }

    let head_dim_swa = m.u("attention.key_length_swa")?.unwrap_or(c.head_dim);
    let v_swa = m.u("attention.value_length_swa")?.unwrap_or(head_dim_swa);
    if v_swa != head_dim_swa {
        return Err(m.bad(
            &m.key("attention.value_length_swa"),
            "differs from key_length_swa, which Gemma 4 does not allow",
        ));
    }
    let n_rot_swa = m.u("rope.dimension_count_swa")?.unwrap_or(head_dim_swa);
    if n_rot_swa == 0 || n_rot_swa % 2 != 0 || n_rot_swa > head_dim_swa {
        return Err(m.bad(
            &m.key("rope.dimension_count_swa"),
            &format!("{n_rot_swa} is not an even number up to the head size {head_dim_swa}"),
        ));
    }
    rope.n_rot_swa = Some(n_rot_swa);

    let n_head_kv = m
        .u_layers("attention.head_count_kv", n_layer)?
        .unwrap_or_else(|| vec![c.n_head; n_layer]);
    let n_ff = match m.u_layers("feed_forward_length", n_layer)? {
        Some(a) if a.iter().all(|&x| x > 0) => a,
        _ => {
            return Err(m.bad(
                &m.key("feed_forward_length"),
                "is missing or 0 for a layer; the file is not a complete gemma4 model",
            ))
        }
    };

    // KV sharing (llama.cpp: `n_layer_kv_from_start`, and the cache's
    // `reuse`: a sliding layer past it reads layer n_kv - 2, a global one
    // n_kv - 1, which must be of the same kind)
    let shared = m.u("attention.shared_kv_layers")?.unwrap_or(0);
    let n_kv = n_layer.saturating_sub(shared);
    let mut kv_source: Vec<usize> = (0..n_layer).collect();
    if shared > 0 {
        if n_kv < 2 {
            return Err(m.bad(
                &m.key("attention.shared_kv_layers"),
                &format!("is {shared}: at least 2 of the {n_layer} layers must keep their own K/V"),
            ));
        }
        for (il, src) in kv_source.iter_mut().enumerate().skip(n_kv) {
            *src = if swa[il] { n_kv - 2 } else { n_kv - 1 };
            if swa[*src] != swa[il] {
                return Err(m.bad(
                    &m.key("attention.shared_kv_layers"),
                    &format!(
                        "is {shared}: layer {il} would read the K/V of layer {}, which is not of its kind (sliding / global)",
                        *src
                    ),
                ));
            }
        }
    }
    // 26B-A4B: a mixture of experts beside each layer's dense MLP (which
    // stays, as a shared expert); softmax over every expert, the top
    // `expert_used_count` renormalised (llama.cpp `build_moe_ffn` with
    // `LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX`, `norm_w` true, no scale)
    if m.u("expert_count")?.unwrap_or(0) > 0 {
        let (n_expert, n_expert_used) = super::expert_counts(m)?;
        let key = m.key("expert_feed_forward_length");
        let n_ff_exp = match m.u_layers("expert_feed_forward_length", n_layer)? {
            Some(a) if a.iter().all(|&x| x > 0 && x == a[0]) => a[0],
            Some(_) => {
                return Err(m.bad(
                    &key,
                    "differs between layers (or is 0), which hearth does not support",
                ))
            }
            None => {
                return Err(m.bad(
                    &key,
                    "is missing; the file is not a complete gemma4 mixture of experts",
                ))
            }
        };
        c.moe = Some(Moe {
            n_expert,
            n_expert_used,
            n_ff_exp,
            gating: Gating::Softmax,
            norm_weights: true,
            weights_scale: None,
            n_ff_shexp: 0,
        });
    }
    c.gemma4 = Some(Gemma4Spec {
        head_dim_swa,
        n_head_kv,
        n_ff,
        kv_source,
        n_embd_per_layer: m.u("embedding_length_per_layer_input")?.unwrap_or(0),
    });
    Ok(())
}
