"""The tables: the decoder families (FAMILIES), the synthetic models made
for the tests (MODELS) and the real-shaped ones made by hand for speed
(BIG)."""

from __future__ import annotations

from .blocks import (G4, PHI3_DIMS, gemma4_block, gemma4_glob, gemma4_meta, gemma4_rope_freqs,
                     llama3_meta, mistral3_meta, phi3_factors, phi3_meta, qwen35_block, qwen35_meta,
                     qwen35moe_block, qwen35moe_meta, rope_freqs_llama3)
from .shapes import Family, Run, Shape, Synth


SHORT = Run("short", 512, 48, prompt=32, greedy=16)
MEDIUM = Run("medium", 512, 400)


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
