//! `qwen35` (Qwen3.5 / 3.6 dense): a hybrid of Gated DeltaNet linear
//! attention and gated full attention, three recurrent layers then one
//! attention layer (`full_attention_interval`, 4; or the explicit
//! `attention.recurrent_layers`). Every block is pre-norm with the FFN's norm
//! named `post_attention_norm`.
//!
//! - Recurrent layers: `attn_qkv` (q, k, v of the DeltaNet) through a causal
//!   depthwise conv1d (`ssm_conv1d`, `ssm.conv_kernel` taps, state: the last
//!   taps−1 inputs) and SiLU; q and k L2-normed per head; the gated delta
//!   rule per value head, S ← S·exp(g); S ← S + k ⊗ β(v − Sᵀk); o = Sᵀq/√d,
//!   with g = softplus(x·`ssm_alpha` + `ssm_dt`)·`ssm_a`, β = σ(x·`ssm_beta`);
//!   o RMS-normed per head (`ssm_norm`) times SiLU(x·`attn_gate`), then
//!   `ssm_out`. The rule runs in its chunked form (`delta.rs`), bit for bit
//!   the same however a sequence's tokens are split into calls.
//! - Attention layers: `attn_q` gives query and gate interleaved per head;
//!   per-head RMS norm of q and k, interleaved multi-section RoPE (`imrope`:
//!   NeoX pairs over `rope.dimension_count` dims, for text the same position
//!   in the first three sections), softmax attention, output × σ(gate), then
//!   `attn_output`.
//!
//! `qwen35moe` (Qwen3.5-35B-A3B, -122B-A10B, -397B-A17B) is the same hybrid
//! with a mixture-of-experts feed-forward in every block: a softmax router
//! over `expert_count` experts, the top `expert_used_count` renormalised
//! (as qwen3moe), plus a shared expert every token goes through, a SwiGLU
//! MLP of `expert_shared_feed_forward_length` (`ffn_{gate,up,down}_shexp`)
//! whose output is scaled by σ(x·`ffn_gate_inp_shexp`) and added to the
//! routed experts' sum (llama.cpp `src/models/qwen35moe.cpp`,
//! `build_layer_ffn`).
//!
//! A multi-token-prediction block (`nextn_predict_layers`, the last blocks of
//! the file) is not run: its tensors are accepted and ignored, as llama.cpp's
//! main graph does. Reference: llama.cpp `src/models/qwen35.cpp`,
//! `delta-net-base.cpp`, ggml-cpu `ggml_compute_forward_gated_delta_net`,
//! `ssm_conv`, `ggml_mrope_cache_init`.

use crate::config::{Config, Gating, Meta, Moe, RopeSpec, SsmSpec};
use crate::ops::RopeStyle;
use crate::ModelError;

pub(crate) fn configure(c: &mut Config, m: &Meta, rope: &mut RopeSpec) -> Result<(), ModelError> {
    rope.style = RopeStyle::Neox;
    let key = m.key("rope.dimension_sections");
    let sections = match m.f.get(&key) {
        None => return Err(m.bad(&key, "is missing; the file is not a complete qwen35 model")),
        Some(v) => {
            let items: Option<Vec<usize>> = v
                .as_array()
                .map(|a| a.iter().map(|x| x.as_u64().map(|u| u as usize)).collect())
                .unwrap_or_else(|| v.as_u64().map(|u| vec![u as usize; 4]));
            match items {
                Some(s) if !s.is_empty() && s.len() <= 4 => {
                    let mut out = [0usize; 4];
                    out[..s.len()].copy_from_slice(&s);
                    out
                }
                _ => {
                    return Err(m.bad(
                        &key,
                        &format!("is {}, expected up to 4 integers", v.display_short(4)),
                    ))
                }
            }
        }
    };
    rope.sections = Some((sections, true));
    c.qk_norm = true;

    // A multi-token-prediction head is stored as the last blocks: not run.
    let nextn = m.u("nextn_predict_layers")?.unwrap_or(0);
    if nextn >= c.n_layer {
        return Err(m.bad(
            &m.key("nextn_predict_layers"),
            &format!("is {nextn}, not fewer than block_count {}", c.n_layer),
        ));
    }
    c.n_layer -= nextn;
    c.layers.truncate(c.n_layer);

    let d_conv = m.req_u("ssm.conv_kernel")?;
    if !(1..=crate::hybrid::MAX_CONV_TAPS).contains(&d_conv) {
        return Err(m.bad(
            &m.key("ssm.conv_kernel"),
            &format!(
                "is {d_conv}, not 1 to {} taps (Qwen3.5 has 4)",
                crate::hybrid::MAX_CONV_TAPS
            ),
        ));
    }
    let d_inner = m.req_u("ssm.inner_size")?;
    let head_dim = m.req_u("ssm.state_size")?;
    let n_v_heads = m.req_u("ssm.time_step_rank")?;
    let n_k_heads = m.req_u("ssm.group_count")?;
    if d_inner != head_dim * n_v_heads {
        return Err(m.bad(
            &m.key("ssm.inner_size"),
            &format!("is {d_inner}, not state_size {head_dim} × time_step_rank {n_v_heads}"),
        ));
    }
    if n_v_heads % n_k_heads != 0 {
        return Err(m.bad(
            &m.key("ssm.group_count"),
            &format!("{n_k_heads} does not divide time_step_rank {n_v_heads}"),
        ));
    }
    let rkey = m.key("attention.recurrent_layers");
    let recurrent: Vec<bool> = match m.f.get(&rkey) {
        Some(v) => {
            let flags: Option<Vec<bool>> = v.as_array().and_then(|a| {
                a.iter()
                    .map(|x| x.as_bool().or_else(|| x.as_u64().map(|u| u != 0)))
                    .collect::<Option<Vec<bool>>>()
            });
            match flags {
                Some(f) if f.len() >= c.n_layer => f[..c.n_layer].to_vec(),
                _ => {
                    return Err(m.bad(
                        &rkey,
                        &format!("is {}, expected one flag per layer", v.display_short(4)),
                    ))
                }
            }
        }
        None => {
            let interval = m.u("full_attention_interval")?.unwrap_or(4);
            if interval == 0 {
                return Err(m.bad(&m.key("full_attention_interval"), "is 0"));
            }
            (0..c.n_layer).map(|i| (i + 1) % interval != 0).collect()
        }
    };
    c.ssm = Some(SsmSpec {
        recurrent,
        d_conv,
        head_dim,
        n_k_heads,
        n_v_heads,
    });
    Ok(())
}

/// `qwen35moe`: the `qwen35` configuration plus its experts (llama.cpp
/// `llama_model_qwen35moe::load_arch_hparams`; no `expert_weights_scale`
/// there, and `norm_w` is always on in its `build_moe_ffn` call).
pub(crate) fn configure_moe(
    c: &mut Config,
    m: &Meta,
    rope: &mut RopeSpec,
) -> Result<(), ModelError> {
    configure(c, m, rope)?;
    let (n_expert, n_expert_used) = super::expert_counts(m)?;
    if n_expert_used == 0 {
        return Err(m.bad(&m.key("expert_used_count"), "is 0"));
    }
    let n_ff_exp = match m.u("expert_feed_forward_length")?.filter(|&n| n > 0) {
        Some(n) => n,
        None => c.n_ff / n_expert_used,
    };
    let n_ff_shexp = match m.u("expert_shared_feed_forward_length")?.filter(|&n| n > 0) {
        Some(n) => n,
        None => c.n_ff,
    };
    if n_ff_exp == 0 || n_ff_shexp == 0 {
        return Err(m.bad(
            &m.key("expert_feed_forward_length"),
            "or expert_shared_feed_forward_length is missing (and feed_forward_length does not give it); the file is not a complete qwen35moe model",
        ));
    }
    c.moe = Some(Moe {
        n_expert,
        n_expert_used,
        n_ff_exp,
        gating: Gating::Softmax,
        norm_weights: true,
        weights_scale: None,
        n_ff_shexp,
    });
    Ok(())
}
