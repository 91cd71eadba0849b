"""The decoder families' own parts: metadata keys, extra tensors and, for
the families whose blocks are not the llama block, the tensors of each
block (see `Family.block` in shapes.py). FAMILIES in families.py wires them
together."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .shapes import Shape


def rope_freqs_llama3(s: Shape, base: float, factor=32.0, low=1.0, high=4.0, old_ctx=8192):
    """Llama 3.x `rope_freqs` as llama.cpp's converter computes it
    (conversion/llama.py, `generate_extra_tensors`), rounded to 1/1024."""
    out = []
    for i in range(0, s.head_dim, 2):
        freq = 1.0 / (base ** (i / s.head_dim))
        wavelen = 2 * math.pi / freq
        if wavelen < old_ctx / high:
            f = 1.0
        elif wavelen > old_ctx / low:
            f = factor
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            f = 1 / ((1 - smooth) / factor + smooth)
        out.append(round(f * 1024) / 1024)
    return np.array(out, dtype=np.float32)


def llama3_meta(s):
    return {"rope.freq_base": 500000.0, "context_length": 131072,
            "attention.layer_norm_rms_epsilon": 1e-5, "vocab_size": s.n_vocab}


# Phi-3.5-style LongRoPE: original context 512 here (4096 in the real models)
# so short sequences already cross it; a context of 1024 takes the long factors.
PHI3_ORIG, PHI3_CTX = 512, 16384


def phi3_meta(s):
    scale = PHI3_CTX / PHI3_ORIG
    attn_factor = math.sqrt(1 + math.log(scale) / math.log(PHI3_ORIG))
    return {"context_length": PHI3_CTX, "rope.scaling.original_context_length": PHI3_ORIG,
            "rope.freq_base": 10000.0, "attention.layer_norm_rms_epsilon": 1e-5,
            "rope.scaling.attn_factor": round(attn_factor, 4),
            # read and ignored by llama.cpp (Phi SWA disabled); shorter than
            # the sequences, so computing it would show
            "attention.sliding_window": 256}


def phi3_factors(s, r):
    n = PHI3_DIMS(s) // 2
    short = [1.0 + 0.25 * i / n for i in range(n)]
    long = [1.0 + 39.0 * (i / (n - 1)) ** 2 for i in range(n)]
    return {"rope_factors_short.weight": np.array(short, dtype=np.float32),
            "rope_factors_long.weight": np.array(long, dtype=np.float32)}


def PHI3_DIMS(s):
    return s.head_dim * 3 // 4  # Phi-4-mini: partial_rotary_factor 0.75


# Ministral 3: YaRN factor 16 over an original context of 256 here (16384
# in the real models) and the Llama-4 query temperature past it.
MISTRAL3_ORIG = 256


def mistral3_meta(s):
    return {"context_length": MISTRAL3_ORIG * 16, "rope.freq_base": 1000000.0,
            "attention.layer_norm_rms_epsilon": 1e-5,
            "rope.scaling.type": "yarn", "rope.scaling.factor": 16.0,
            "rope.scaling.original_context_length": MISTRAL3_ORIG,
            "rope.scaling.yarn_beta_fast": 32.0, "rope.scaling.yarn_beta_slow": 1.0,
            "rope.scaling.yarn_log_multiplier": 1.0,
            "attention.temperature_scale": 0.1, "vocab_size": s.n_vocab}


# Qwen3.5 dense (Gated DeltaNet + gated attention): the linear-attention
# sizes of the real models relative to the attention's (Qwen3.5-4B: 16 key
# heads and 32 value heads of 128 for 16 query heads of 256), a 4-tap
# convolution, a full-attention layer every 4th, a quarter of each head
# rotated by interleaved multi-section RoPE ([11, 11, 10, 0] of 32 pairs).
def qwen35_ssm(s):
    """(d_conv, head_dim, key heads, value heads) of the DeltaNet layers."""
    return s.ssm or (4, s.head_dim // 2, s.n_head // 2, s.n_head)


def qwen35_meta(s):
    d_conv, hd, nk, nv = qwen35_ssm(s)
    pairs = s.head_dim // 8
    return {"rope.freq_base": 10000000.0, "context_length": 262144,
            "attention.layer_norm_rms_epsilon": 1e-6,
            "rope.dimension_sections": qwen35_sections(pairs),
            "ssm.conv_kernel": d_conv, "ssm.inner_size": hd * nv, "ssm.state_size": hd,
            "ssm.time_step_rank": nv, "ssm.group_count": nk, "full_attention_interval": 4}


def qwen35_sections(pairs):
    """Qwen3.5's mrope_section [11, 11, 10] scaled to `pairs` rotated pairs."""
    a = (pairs + 2) // 3
    b = (pairs + 1) // 3
    return [a, b, pairs - a - b, 0]


def qwen35_block(s, i):
    d = s.n_embd
    d_conv, hd, nk, nv = qwen35_ssm(s)
    kd, vd = nk * hd, nv * hd
    if (i + 1) % 4 == 0:  # gated full attention
        mixer = [("attn_q.weight", "mat", 2 * s.q_dim, d, "qk"),
                 ("attn_k.weight", "mat", s.kv_dim, d, "qk"),
                 ("attn_v.weight", "vd", s.kv_dim, d, 1.0),
                 ("attn_q_norm.weight", "norm", 1, s.head_dim, "qk"),
                 ("attn_k_norm.weight", "norm", 1, s.head_dim, "qk"),
                 ("attn_output.weight", "mat", d, s.q_dim, 1.0)]
    else:  # Gated DeltaNet
        mixer = [("attn_qkv.weight", "mat", 2 * kd + vd, d, 1.0),
                 ("attn_gate.weight", "mat", vd, d, 1.0),
                 ("ssm_conv1d.weight", "f32", 2 * kd + vd, d_conv, lambda r, n: np.float32(0.5) * r.uniform(n)),
                 # dt bias around 0, A = -exp(A_log) in [-1, -0.2): decays of 0.3-0.9
                 ("ssm_dt.bias", "f32", 1, nv, lambda r, n: np.float32(0.5) * r.uniform(n)),
                 ("ssm_a", "f32", 1, nv, lambda r, n: np.float32(-0.6) + np.float32(0.4) * r.uniform(n)),
                 ("ssm_beta.weight", "mat", nv, d, 1.0),
                 ("ssm_alpha.weight", "mat", nv, d, 1.0),
                 ("ssm_norm.weight", "norm", 1, hd, 1.0),
                 ("ssm_out.weight", "mat", d, vd, 1.0)]
    return [("attn_norm.weight", "norm", 1, d, 1.0)] + mixer + [
        ("post_attention_norm.weight", "norm", 1, d, 1.0),
        ("ffn_gate.weight", "mat", s.n_ff, d, 1.0),
        ("ffn_up.weight", "mat", s.n_ff, d, 1.0),
        ("ffn_down.weight", "vd", d, s.n_ff, 1.0)]


def qwen35moe_meta(s):
    return {**qwen35_meta(s), "expert_count": s.n_expert, "expert_used_count": s.n_expert_used,
            "expert_feed_forward_length": s.n_ff, "expert_shared_feed_forward_length": s.n_ff}


def qwen35moe_block(s, i):
    """The qwen35 block with llama.cpp's qwen35moe feed-forward: a router,
    the experts (3-D, kinds "exps"/"exps_vd": rows and cols per expert) and
    the shared expert with its 1-D gate (F32, as the converter keeps it)."""
    d = s.n_embd
    dense = qwen35_block(s, i)
    mixer = [t for t in dense if not t[0].startswith("ffn_")]
    a = math.sqrt(3.0 / d)
    return mixer + [
        ("ffn_gate_inp.weight", "router", s.n_expert, d, "router"),
        ("ffn_gate_exps.weight", "exps", s.n_ff, d, 1.0),
        ("ffn_up_exps.weight", "exps", s.n_ff, d, 1.0),
        ("ffn_down_exps.weight", "exps_vd", d, s.n_ff, 1.0),
        # the shared expert's gate logit of ~2: its weight σ between ~0.1 and ~0.9
        ("ffn_gate_inp_shexp.weight", "f32", 1, d, lambda r, n: np.float32(2.0 * a) * r.uniform(n)),
        ("ffn_gate_shexp.weight", "mat", s.n_ff, d, 1.0),
        ("ffn_up_shexp.weight", "mat", s.n_ff, d, 1.0),
        ("ffn_down_shexp.weight", "vd", d, s.n_ff, 1.0)]


# Gemma 4 (conversion/gemma.py `Gemma4Model`, llama.cpp src/models/gemma4.cpp):
# sliding and global layers of their own head size and K/V heads (a
# per-layer `head_count_kv`), the last `shared` layers reading the K/V of
# the last non-shared layer of their kind, per-layer embeddings of `n_pl`
# per layer (E2B/E4B; 0 for 31B), a double-wide MLP on the shared layers
# (E2B's `use_double_wide_mlp`), global layers without `attn_v` (31B's
# `attention_k_eq_v`), proportional RoPE on the global layers (a quarter of
# the pairs turned, `rope_freqs` 1e30 for the rest), `layer_output_scale`.
# 26B-A4B (Shape.n_expert > 0): every layer's dense MLP kept as a shared
# expert beside a routed mixture of `n_ff_exp`-long experts (gemma4.cpp's
# `is_moe_layer` branch): the router `ffn_gate_inp` with its per-dim
# `.scale` (HF `router.scale`), gate and up fused in `ffn_gate_up_exps` as
# the converter writes them (HF `experts.gate_up_proj`) or as two tensors
# (llama.cpp's fallback), `ffn_down_exps` with its per-expert `.scale` (HF
# `router.per_expert_scale`), and the norms pre_ffw_norm_2 /
# post_ffw_norm_1 / post_ffw_norm_2.
@dataclass(frozen=True)
class G4:
    head_dim_swa: int
    n_head_kv_full: int
    shared: int
    n_pl: int
    window: int
    k_eq_v: bool = False
    double_wide: bool = False
    period: int = 3      # every period-th layer (1-based) is global
    n_ff_exp: int = 0    # experts' length (a mixture of experts: Shape.n_expert > 0)
    fused_exps: bool = True  # ffn_gate_up_exps, else ffn_gate_exps + ffn_up_exps


def g4_swa(s, i):
    return (i + 1) % s.g4.period != 0


def g4_layer(s, i):
    """(head_dim, K/V heads, n_ff, own K/V) of layer i."""
    g = s.g4
    swa = g4_swa(s, i)
    hd = g.head_dim_swa if swa else s.head_dim
    nkv = s.n_head_kv if swa else g.n_head_kv_full
    first_shared = s.n_layer - g.shared
    ff = s.n_ff * 2 if g.double_wide and i >= first_shared else s.n_ff
    return hd, nkv, ff, i < first_shared


def gemma4_meta(s):
    g = s.g4
    layers = [g4_layer(s, i) for i in range(s.n_layer)]
    return {"context_length": 131072, "attention.layer_norm_rms_epsilon": 1e-6,
            "rope.freq_base": 1000000.0, "rope.freq_base_swa": 10000.0,
            "final_logit_softcapping": 30.0, "attention.sliding_window": g.window,
            "attention.sliding_window_pattern": [g4_swa(s, i) for i in range(s.n_layer)],
            "attention.shared_kv_layers": g.shared,
            "embedding_length_per_layer_input": g.n_pl,
            "attention.key_length": s.head_dim, "attention.value_length": s.head_dim,
            "attention.key_length_swa": g.head_dim_swa, "attention.value_length_swa": g.head_dim_swa,
            "attention.head_count_kv": [l[1] for l in layers],
            "feed_forward_length": [l[2] for l in layers],
            "rope.dimension_count": s.head_dim, "rope.dimension_count_swa": g.head_dim_swa,
            **({"expert_count": s.n_expert, "expert_used_count": s.n_expert_used,
                "expert_feed_forward_length": g.n_ff_exp} if s.n_expert else {})}


def gemma4_rope_freqs(s, r):
    n = s.head_dim // 2
    rot = int(s.head_dim * 0.25 / 2)
    return {"rope_freqs.weight": np.array([1.0] * rot + [1e30] * (n - rot), dtype=np.float32)}


def gemma4_glob(s):
    g = s.g4
    if not g.n_pl:
        return []
    all_pl = s.n_layer * g.n_pl
    # the per-layer table's rows of ~1/sqrt(n_pl) per dim (× sqrt(n_pl) in the graph)
    return [("per_layer_token_embd.weight", "emb", s.n_vocab, all_pl, 1.0),
            ("per_layer_model_proj.weight", "mat", all_pl, s.n_embd, 1.0),
            ("per_layer_proj_norm.weight", "norm", 1, g.n_pl, 1.0)]


def gemma4_block(s, i):
    d = s.n_embd
    hd, nkv, ff, own = g4_layer(s, i)
    g = s.g4
    swa = g4_swa(s, i)
    out = [("attn_norm.weight", "norm", 1, d, 1.0),
           ("attn_q.weight", "mat", s.n_head * hd, d, 1.0)]
    # the shared layers keep their K/V projections in the file (unused)
    out.append(("attn_k.weight", "mat", nkv * hd, d, 1.0))
    if not (g.k_eq_v and not swa):
        out.append(("attn_v.weight", "vd", nkv * hd, d, 1.0))
    out += [("attn_output.weight", "mat", d, s.n_head * hd, 1.0),
            # q and k are normed per head and attention's scale is 1: scores
            # of std ~0.5 sqrt(head_dim) (3-4 here) in the F32/F16 files,
            # ~0.12 sqrt(head_dim) in the quantized ones. At gain 1 (std 6-8)
            # llama.cpp's flash and standard paths differ by up to 0.96
            # over the top-4 logits of the "medium" run (mean 0.03) of F32
            # weights; at 0.7 with Q8_0 weights by up to 3.6 (mean 0.43).
            ("attn_q_norm.weight", "norm", 1, hd, ("qk", 0.35)),
            ("attn_k_norm.weight", "norm", 1, hd, ("qk", 0.35)),
            ("post_attention_norm.weight", "norm", 1, d, 1.0),
            ("ffn_norm.weight", "norm", 1, d, 1.0),
            ("ffn_gate.weight", "mat", ff, d, 1.0),
            ("ffn_up.weight", "mat", ff, d, 1.0),
            ("ffn_down.weight", "vd", d, ff, 1.0),
            ("post_ffw_norm.weight", "norm", 1, d, 1.0)]
    if s.n_expert:
        fe, ne = g.n_ff_exp, s.n_expert
        # the router reads rms_norm(x) / sqrt(n_embd) * scale: a scale of
        # ~sqrt(n_embd) (0.5-1.5 of it per dim) gives logits of ~router_gain
        root = np.float32(math.sqrt(d))
        out += [("ffn_gate_inp.weight", "router", ne, d, "router"),
                ("ffn_gate_inp.scale", "f32", 1, d,
                 lambda r, n: root * (np.float32(1.0) + np.float32(0.5) * r.uniform(n))),
                ("pre_ffw_norm_2.weight", "norm", 1, d, 1.0),
                ("post_ffw_norm_1.weight", "norm", 1, d, 1.0),
                ("post_ffw_norm_2.weight", "norm", 1, d, 1.0)]
        if g.fused_exps:
            out.append(("ffn_gate_up_exps.weight", "exps", 2 * fe, d, 1.0))
        else:
            out += [("ffn_gate_exps.weight", "exps", fe, d, 1.0),
                    ("ffn_up_exps.weight", "exps", fe, d, 1.0)]
        # per-expert output scales of 0.25-2: the chosen experts' mix
        # changes without them
        out += [("ffn_down_exps.weight", "exps_vd", d, fe, 1.0),
                ("ffn_down_exps.scale", "f32", 1, ne,
                 lambda r, n: np.float32(1.125) + np.float32(0.875) * r.uniform(n))]
    if g.n_pl:
        out += [("inp_gate.weight", "mat", g.n_pl, d, 1.0),
                ("proj.weight", "mat", d, g.n_pl, 1.0),
                ("post_norm.weight", "norm", 1, d, 1.0)]
    out.append(("layer_output_scale.weight", "f32", 1, 1,
                lambda r, n: np.float32(0.75) + np.float32(0.25) * r.uniform(n)))
    return out
