#!/usr/bin/env python3
"""Sizes of the catalog's Hugging Face models (crates/store/src/catalog.toml),
computed from each model's shape, for judging a model before it is
downloaded (`hearth fit NAME`, `hearth doctor`).

Tensor bytes follow llama.cpp's type choice for LLAMA_FTYPE_MOSTLY_Q4_K_M
(`llama_tensor_get_type`): the output projection (or the embedding table when
it is also the output) Q6_K; attn_v and ffn_down Q6_K on the layers
`use_more_bits` picks, else Q4_K; every other matrix Q4_K; norms and biases
F32; a matrix whose rows are not a multiple of 256 falls back (Q4_K -> Q5_0,
Q6_K -> Q8_0). These rules reproduce the two Q4_K_M test files
(gemma3:270m, qwen2.5-coder:0.5b) byte for byte: run with --check.

The header (metadata, tokenizer, tensor index) is estimated from the
vocabulary, within about 5 % of the three test files' headers (well under 1 %
of a file), so the catalog marks these sizes `size_is_estimate`.

The mixtures of experts (MOE) also print exps_bytes (all `*_exps` tensors,
their biases included), of which a token reads expert_used_count /
expert_count (`hearth fit`'s speed prediction).

Usage: scripts/catalog-facts.py [--check]   (--check reads ~/.cache/hearth/test-models)
"""
import os
import struct
import sys

BLOCK = {"F32": (1, 4), "F16": (1, 2), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
         "Q5_0": (32, 22), "Q8_0": (32, 34)}
FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
BLOCK["Q5_1"] = (32, 24)
BLOCK["MXFP4"] = (32, 17)


def nbytes(ty, ne0, ne1):
    if ty in FALLBACK and ne0 % 256:
        ty = FALLBACK[ty]
    b, s = BLOCK[ty]
    return ne0 * ne1 // b * s


def more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensors(arch, n_layer, n_embd, n_head, n_kv, head_dim, n_ff, n_vocab, output_tensor, rope_freqs=False):
    """[(name, bytes)] of a Q4_K_M file; token_embd first."""
    if arch in ("bert", "nomic-bert"):
        return encoder_tensors(arch, n_layer, n_embd, n_ff, n_vocab, rope_freqs)
    q, kv = n_head * head_dim, n_kv * head_dim
    t = [("token_embd", nbytes("Q4_K" if output_tensor else "Q6_K", n_embd, n_vocab))]
    if output_tensor:
        t.append(("output", nbytes("Q6_K", n_embd, n_vocab)))
    t.append(("output_norm", n_embd * 4))
    if rope_freqs and arch == "phi3":  # LongRoPE's short and long factors (rotary dims / 2 each)
        t += [("rope_factors_short", rope_freqs * 4), ("rope_factors_long", rope_freqs * 4)]
    elif rope_freqs:  # Llama 3's RoPE frequency factors
        t.append(("rope_freqs", head_dim // 2 * 4))
    for i in range(n_layer):
        hi = "Q6_K" if more_bits(i, n_layer) else "Q4_K"
        if arch == "phi3":  # fused q/k/v (Q5_K in Q4_K_M) and gate+up in one ffn_up
            t += [("attn_qkv", nbytes("Q5_K", n_embd, q + 2 * kv)),
                  ("ffn_up", nbytes("Q4_K", n_embd, 2 * n_ff))]
        else:
            t += [("attn_q", nbytes("Q4_K", n_embd, q)), ("attn_k", nbytes("Q4_K", n_embd, kv)),
                  ("attn_v", nbytes(hi, n_embd, kv)),
                  ("ffn_gate", nbytes("Q4_K", n_embd, n_ff)), ("ffn_up", nbytes("Q4_K", n_embd, n_ff))]
        t += [("attn_output", nbytes("Q4_K", q, n_embd)), ("ffn_down", nbytes(hi, n_ff, n_embd)),
              ("attn_norm", n_embd * 4), ("ffn_norm", n_embd * 4)]
        if arch == "qwen2":
            t += [("attn_q.bias", q * 4), ("attn_k.bias", kv * 4), ("attn_v.bias", kv * 4)]
        if arch in ("qwen3", "gemma3"):
            t += [("attn_q_norm", head_dim * 4), ("attn_k_norm", head_dim * 4)]
        if arch == "gemma3":
            t += [("post_attention_norm", n_embd * 4), ("post_ffw_norm", n_embd * 4)]
    return t


def hybrid_tensors(arch, n_layer, n_embd, n_head, n_kv, head_dim, n_ff, n_vocab, output_tensor, ssm, moe):
    """[(name, bytes)] of a Qwen3.5 (qwen35 / qwen35moe) Q4_K_M file; token_embd
    first. `ssm`: (conv kernel, head size, key heads, value heads), a full
    attention layer every 4th; `moe`: (experts, expert length, shared expert
    length) or None. llama.cpp's Q4_K_M rules as for the others: attn_qkv
    (here the DeltaNet's fused q/k/v) Q5_K, attn_v Q6_K on the attention
    layers `use_more_bits` picks, every ffn_down (routed and shared experts'
    too) Q6_K on the layers it picks; ssm_conv1d, the routers
    (ffn_gate_inp) and vectors stay F32."""
    d_conv, hd, nk, nv = ssm
    kd, vd = nk * hd, nv * hd
    q, kv = n_head * head_dim, n_kv * head_dim
    t = [("token_embd", nbytes("Q4_K" if output_tensor else "Q6_K", n_embd, n_vocab))]
    if output_tensor:
        t.append(("output", nbytes("Q6_K", n_embd, n_vocab)))
    t.append(("output_norm", n_embd * 4))
    n_attn = n_layer // 4
    j = 0
    for i in range(n_layer):
        hi = "Q6_K" if more_bits(i, n_layer) else "Q4_K"
        t += [("attn_norm", n_embd * 4), ("post_attention_norm", n_embd * 4)]
        if (i + 1) % 4 == 0:
            vty = "Q6_K" if more_bits(j, n_attn) else "Q4_K"
            j += 1
            t += [("attn_q", nbytes("Q4_K", n_embd, 2 * q)), ("attn_k", nbytes("Q4_K", n_embd, kv)),
                  ("attn_v", nbytes(vty, n_embd, kv)), ("attn_output", nbytes("Q4_K", q, n_embd)),
                  ("attn_q_norm", head_dim * 4), ("attn_k_norm", head_dim * 4)]
        else:
            t += [("attn_qkv", nbytes("Q5_K", n_embd, 2 * kd + vd)), ("attn_gate", nbytes("Q4_K", n_embd, vd)),
                  ("ssm_conv1d", d_conv * (2 * kd + vd) * 4), ("ssm_dt", nv * 4), ("ssm_a", nv * 4),
                  ("ssm_beta", nbytes("Q4_K", n_embd, nv)), ("ssm_alpha", nbytes("Q4_K", n_embd, nv)),
                  ("ssm_norm", hd * 4), ("ssm_out", nbytes("Q4_K", vd, n_embd))]
        if moe:
            ne, ff, sff = moe
            t += [("ffn_gate_inp", ne * n_embd * 4),
                  ("ffn_gate_exps", ne * nbytes("Q4_K", n_embd, ff)), ("ffn_up_exps", ne * nbytes("Q4_K", n_embd, ff)),
                  ("ffn_down_exps", ne * nbytes(hi, ff, n_embd)),
                  ("ffn_gate_inp_shexp", n_embd * 4),
                  ("ffn_gate_shexp", nbytes("Q4_K", n_embd, sff)), ("ffn_up_shexp", nbytes("Q4_K", n_embd, sff)),
                  ("ffn_down_shexp", nbytes(hi, sff, n_embd))]
        else:
            t += [("ffn_gate", nbytes("Q4_K", n_embd, n_ff)), ("ffn_up", nbytes("Q4_K", n_embd, n_ff)),
                  ("ffn_down", nbytes(hi, n_ff, n_embd))]
    return t


def moe_tensors(arch, n_layer, n_embd, n_head, n_kv, head_dim, n_vocab, n_expert, n_ff_exp):
    """[(name, bytes)] of a mixture of experts' file as it ships; token_embd
    first. qwen3moe in Q4_K_M (llama-quantize's rules: the experts' gate and
    up Q4_K, their down Q6_K on the `use_more_bits` layers as ffn_down, the
    router ffn_gate_inp left F32; no Q8_0 bump, which is for 8 experts only).
    gpt-oss as ggml-org's MXFP4 file (llama.cpp's MXFP4_MOE): the experts
    MXFP4, every other matrix Q8_0 (assumed: it reproduces that file's
    recalled 12.1 GB; the synthetic files are written so too), biases, norms,
    sinks and the router F32."""
    q, kv = n_head * head_dim, n_kv * head_dim
    if arch == "qwen3moe":
        t = [("token_embd", nbytes("Q4_K", n_embd, n_vocab)), ("output", nbytes("Q6_K", n_embd, n_vocab)),
             ("output_norm", n_embd * 4)]
        for i in range(n_layer):
            hi = "Q6_K" if more_bits(i, n_layer) else "Q4_K"
            t += [("attn_q", nbytes("Q4_K", n_embd, q)), ("attn_k", nbytes("Q4_K", n_embd, kv)),
                  ("attn_v", nbytes(hi, n_embd, kv)), ("attn_output", nbytes("Q4_K", q, n_embd)),
                  ("attn_q_norm", head_dim * 4), ("attn_k_norm", head_dim * 4),
                  ("attn_norm", n_embd * 4), ("ffn_norm", n_embd * 4),
                  ("ffn_gate_inp", n_embd * n_expert * 4),
                  ("ffn_gate_exps", n_expert * nbytes("Q4_K", n_embd, n_ff_exp)),
                  ("ffn_up_exps", n_expert * nbytes("Q4_K", n_embd, n_ff_exp)),
                  ("ffn_down_exps", n_expert * nbytes(hi, n_ff_exp, n_embd))]
        return t
    assert arch == "gpt-oss", arch
    q8 = lambda a, b: nbytes("Q8_0", a, b)  # noqa: E731
    t = [("token_embd", q8(n_embd, n_vocab)), ("output", q8(n_embd, n_vocab)), ("output_norm", n_embd * 4)]
    for _ in range(n_layer):
        t += [("attn_norm", n_embd * 4), ("post_attention_norm", n_embd * 4),
              ("attn_q", q8(n_embd, q) + q * 4), ("attn_k", q8(n_embd, kv) + kv * 4),
              ("attn_v", q8(n_embd, kv) + kv * 4), ("attn_output", q8(q, n_embd) + n_embd * 4),
              ("attn_sinks", n_head * 4), ("ffn_gate_inp", (n_embd + 1) * n_expert * 4),
              ("ffn_gate_exps", n_expert * (nbytes("MXFP4", n_embd, n_ff_exp) + n_ff_exp * 4)),
              ("ffn_up_exps", n_expert * (nbytes("MXFP4", n_embd, n_ff_exp) + n_ff_exp * 4)),
              ("ffn_down_exps", n_expert * (nbytes("MXFP4", n_ff_exp, n_embd) + n_embd * 4))]
    return t


def encoder_tensors(arch, n_layer, n_embd, n_ff, n_vocab, n_ctx):
    """[(name, bytes)] of an embedding model's Q8_0 file (llama.cpp's
    quantize with LLAMA_FTYPE_MOSTLY_Q8_0 from an F16 conversion): every
    matrix Q8_0 except position_embd and token_types, which quantize leaves
    as they are (F16); norms and biases F32. bert: separate q/k/v with biases,
    biased GELU MLP, learned positions (n_ctx rows); nomic-bert: fused qkv,
    SwiGLU, no biases, RoPE."""
    q8 = lambda a, b: nbytes("Q8_0", a, b)  # noqa: E731
    ln = 2 * n_embd * 4  # LayerNorm weight + bias
    t = [("token_embd", q8(n_embd, n_vocab)), ("token_types", 2 * n_embd * 2), ("token_embd_norm", ln)]
    if arch == "bert":
        t.append(("position_embd", n_ctx * n_embd * 2))
    for _ in range(n_layer):
        if arch == "bert":
            t += [("attn_q", q8(n_embd, n_embd) + n_embd * 4), ("attn_k", q8(n_embd, n_embd) + n_embd * 4),
                  ("attn_v", q8(n_embd, n_embd) + n_embd * 4), ("attn_output", q8(n_embd, n_embd) + n_embd * 4),
                  ("ffn_up", q8(n_embd, n_ff) + n_ff * 4), ("ffn_down", q8(n_ff, n_embd) + n_embd * 4)]
        else:
            t += [("attn_qkv", q8(n_embd, 3 * n_embd)), ("attn_output", q8(n_embd, n_embd)),
                  ("ffn_up", q8(n_embd, n_ff)), ("ffn_gate", q8(n_embd, n_ff)), ("ffn_down", q8(n_ff, n_embd))]
        t += [("attn_output_norm", ln), ("layer_output_norm", ln)]
    return t


def header(n_vocab, n_merges, scores, n_tensors):
    """GGUF header bytes: per token its string (8 + ~8.5) and type (4), a score
    (4) for SentencePiece, per merge 8 + ~9, per tensor ~64 of index, plus the
    chat template and other keys."""
    return int(n_vocab * (8 + 8.5 + 4 + (4 if scores else 0)) + n_merges * (8 + 9) + n_tensors * 64 + (16 << 10))


# name: arch, n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab,
#       own output.weight, rope_freqs tensor, merges, token scores
MODELS = {
    "gemma3:1b": ("gemma3", 26, 1152, 4, 1, 256, 6912, 262144, False, False, 0, True),
    "gemma3:4b": ("gemma3", 34, 2560, 8, 4, 256, 10240, 262144, False, False, 0, True),
    "llama3.2:1b": ("llama", 16, 2048, 32, 8, 64, 8192, 128256, False, True, 280147, False),
    "llama3.2:3b": ("llama", 28, 3072, 24, 8, 128, 8192, 128256, False, True, 280147, False),
    "qwen2.5:1.5b": ("qwen2", 28, 1536, 12, 2, 128, 8960, 151936, True, False, 151387, False),
    "qwen2.5:3b": ("qwen2", 36, 2048, 16, 2, 128, 11008, 151936, True, False, 151387, False),
    "qwen2.5:7b": ("qwen2", 28, 3584, 28, 4, 128, 18944, 152064, True, False, 151387, False),
    "mistral:7b": ("llama", 32, 4096, 32, 8, 128, 14336, 32768, True, False, 0, True),
    # phi3 fuses q/k/v and gate/up; laid out like a llama here (same weights)
    "phi3:mini": ("llama", 32, 3072, 32, 32, 96, 8192, 32064, True, False, 0, True),
    # Issue 22's families. qwen3: Q/K norms, no biases; 0.6b-4b tie the output.
    "qwen3:0.6b": ("qwen3", 28, 1024, 16, 8, 128, 3072, 151936, False, False, 151387, False),
    "qwen3:1.7b": ("qwen3", 28, 2048, 16, 8, 128, 6144, 151936, False, False, 151387, False),
    "qwen3:4b": ("qwen3", 36, 2560, 32, 8, 128, 9728, 151936, False, False, 151387, False),
    "qwen3:8b": ("qwen3", 36, 4096, 32, 8, 128, 12288, 151936, True, False, 151387, False),
    "llama3.1:8b": ("llama", 32, 4096, 32, 8, 128, 14336, 128256, True, True, 280147, False),
    # rope_freqs here: LongRoPE's factors per rotary pair (128 * 0.75 / 2)
    "phi4-mini:3.8b": ("phi3", 32, 3072, 24, 8, 128, 8192, 200064, False, 48, 199742, False),
    "smollm3:3b": ("smollm3", 36, 2048, 16, 4, 128, 11008, 128256, False, False, 280147, False),
    "granite3.3:2b": ("granite", 40, 2048, 32, 8, 64, 8192, 49159, False, False, 48891, False),
    "granite3.3:8b": ("granite", 40, 4096, 32, 8, 128, 12800, 49159, False, False, 48891, False),
    "ministral:8b": ("mistral3", 34, 4096, 32, 8, 128, 14336, 131072, True, False, 129816, False),
    # embedding models, Q8_0 (rope_freqs here: the trained context, bert's
    # position_embd rows)
    "nomic-embed-text:v1.5": ("nomic-bert", 12, 768, 12, 12, 64, 3072, 30522, False, 2048, 0, False),
    "all-minilm:22m": ("bert", 6, 384, 12, 12, 32, 1536, 30522, False, 512, 0, False),
}

# Qwen3.5 (hybrid: Gated DeltaNet + gated attention, every 4th layer full
# attention; 248320 embedding rows, ~247k merges as recalled). name: arch,
# n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, own
# output.weight, (ssm conv kernel, head size, key heads, value heads),
# (experts, expert length, shared expert length) or None, merges.
# Shapes: 0.8B, 27B, 35B-A3B, 397B-A17B from THUDM/slime's
# scripts/models/qwen3.5-*.sh (Megatron arguments transcribing the
# config.json files; their DeltaNet heads where given); 4B from the
# make-synthetic-models.py entry (`qwen3.5-4b` of BIG in
# scripts/synthetic/families.py, from config.json); 2B, 9B, 122B-A10B and the
# DeltaNet heads of 0.8B/2B/27B/397B recalled, not checked here.
HYBRID = {
    "qwen3.5:0.8b": ("qwen35", 24, 1024, 8, 2, 256, 3584, 248320, False, (4, 128, 16, 16), None, 247587),
    "qwen3.5:2b": ("qwen35", 24, 2048, 8, 2, 256, 6144, 248320, False, (4, 128, 16, 16), None, 247587),
    "qwen3.5:4b": ("qwen35", 32, 2560, 16, 4, 256, 9216, 248320, False, (4, 128, 16, 32), None, 247587),
    "qwen3.5:9b": ("qwen35", 32, 4096, 16, 4, 256, 12288, 248320, True, (4, 128, 16, 32), None, 247587),
    "qwen3.5:27b": ("qwen35", 64, 5120, 24, 4, 256, 17408, 248320, True, (4, 128, 16, 48), None, 247587),
    "qwen3.5:35b-a3b": ("qwen35moe", 40, 2048, 16, 2, 256, 512, 248320, True, (4, 128, 16, 32),
                        (256, 512, 512), 247587),
    "qwen3.5:122b-a10b": ("qwen35moe", 48, 3072, 32, 2, 256, 1024, 248320, True, (4, 128, 16, 64),
                          (256, 1024, 1024), 247587),
    "qwen3.5:397b-a17b": ("qwen35moe", 60, 4096, 32, 2, 256, 1024, 248320, True, (4, 128, 16, 64),
                          (512, 1024, 1024), 247587),
}

# The mixtures of experts (issue 25), each with its own output.weight.
# name: arch, n_layer, n_embd, n_head, n_head_kv, head_dim, n_vocab,
#       expert_count, expert_used_count, expert_feed_forward_length, merges
MOE = {
    # Qwen/Qwen3-30B-A3B config.json
    "qwen3:30b-a3b": ("qwen3moe", 48, 2048, 32, 4, 128, 151936, 128, 8, 768, 151387),
    # Qwen/Qwen3-Coder-30B-A3B-Instruct: the same shape (its model card: 48
    # layers, 32/4 heads, 128 experts, 8 active)
    "qwen3-coder:30b": ("qwen3moe", 48, 2048, 32, 4, 128, 151936, 128, 8, 768, 151387),
    # openai/gpt-oss-20b config.json; o200k_harmony's 201088 tokens and
    # 199742 merges as llama.cpp converts them (the synthetic gpt-oss file's)
    "gpt-oss:20b": ("gpt-oss", 24, 2880, 64, 8, 64, 201088, 32, 4, 2880, 199742),
}

# The Q4_K_M test files, checked by --check.
CHECKS = {
    "gemma-3-270m-q4_k_m.gguf": ("gemma3", 18, 640, 4, 1, 256, 2048, 262144, False, False),
    "qwen2.5-coder-0.5b-instruct.gguf": ("qwen2", 24, 896, 14, 2, 64, 4864, 151936, True, False),
}


# Gemma 4 (its own layout: per-layer shapes, shared K/V, per-layer embeddings):
# name: n_layer, n_embd, n_head, (kv heads sliding, global), (head size
#       sliding, global), n_ff, double-wide MLP on the shared layers, shared
#       K/V layers, per-layer embedding width, global every `period`-th layer,
#       global layers without attn_v, context[, (expert_count,
#       expert_used_count, expert_feed_forward_length) of a mixture of experts]
GEMMA4 = {
    "gemma4:e2b": (35, 1536, 8, (1, 1), (256, 512), 6144, True, 20, 256, 5, False, 131072),
    "gemma4:e4b": (42, 2560, 8, (2, 2), (256, 512), 10240, False, 18, 256, 6, False, 131072),
    "gemma4:31b": (60, 5376, 32, (16, 4), (256, 512), 21504, False, 0, 0, 6, True, 262144),
    # 26B-A4B, RECALLED from google/gemma-4-26B-A4B-it's config.json, not
    # read here: 30 layers, 2816 wide, 16 heads, K/V heads 8 (sliding) / 2
    # (global), head sizes 256 / 512, every 6th layer global without attn_v,
    # the dense MLP (2112) beside 128 experts of 704, 8 per token, no shared
    # K/V, no per-layer embeddings, 262144 context. (25.2 B parameters, 3.8 B
    # read per token with the embedding table: "26B-A4B".)
    "gemma4:26b": (30, 2816, 16, (8, 2), (256, 512), 2112, False, 0, 0, 6, True, 262144, (128, 8, 704)),
}


def gemma4_facts(n_layer, n_embd, n_head, kvh, hd, n_ff, wide, shared, n_pl, period, k_eq_v, ctx,
                 moe=None, n_vocab=262144):
    """([(name, bytes)], kv_layers, kv_per_token, row_table_bytes) of a Q4_K_M
    Gemma 4 file by the rules above (tied output: token_embd Q6_K;
    per_layer_token_embd and per_layer_model_proj Q4_K, as any other matrix;
    a mixture of experts' router and scales F32, ffn_gate_up_exps Q4_K,
    ffn_down_exps as ffn_down)."""
    t = [("token_embd", nbytes("Q6_K", n_embd, n_vocab)), ("output_norm", n_embd * 4),
         ("rope_freqs", hd[1] // 2 * 4)]
    table = 0
    if n_pl:
        table = nbytes("Q4_K", n_layer * n_pl, n_vocab)
        t += [("per_layer_token_embd", table), ("per_layer_model_proj", nbytes("Q4_K", n_embd, n_layer * n_pl)),
              ("per_layer_proj_norm", n_pl * 4)]
    kv_layers, kv_per_token = 0, 0
    first_shared = n_layer - shared
    for i in range(n_layer):
        swa = (i + 1) % period != 0
        h, nkv = (hd[0], kvh[0]) if swa else (hd[1], kvh[1])
        q, kv = n_head * h, nkv * h
        ff = n_ff * 2 if wide and i >= first_shared else n_ff
        hi = "Q6_K" if more_bits(i, n_layer) else "Q4_K"
        t += [("attn_q", nbytes("Q4_K", n_embd, q)), ("attn_output", nbytes("Q4_K", q, n_embd)),
              ("ffn_gate", nbytes("Q4_K", n_embd, ff)), ("ffn_up", nbytes("Q4_K", n_embd, ff)),
              ("ffn_down", nbytes(hi, ff, n_embd)), ("norms", (5 * n_embd + 2 * h) * 4 + 4)]
        if i < first_shared:
            kv_layers += 1
            kv_per_token += kv
            t.append(("attn_k", nbytes("Q4_K", n_embd, kv)))
            if swa or not k_eq_v:
                t.append(("attn_v", nbytes(hi, n_embd, kv)))
        if n_pl:
            t += [("inp_gate", nbytes("Q4_K", n_embd, n_pl)), ("proj", nbytes("Q4_K", n_pl, n_embd)),
                  ("post_norm", n_embd * 4)]
        if moe:
            ne, _, fe = moe
            t += [("ffn_gate_inp", nbytes("F32", n_embd, ne)), ("moe_norms_scale", 4 * n_embd * 4),
                  ("ffn_gate_up_exps", ne * nbytes("Q4_K", n_embd, 2 * fe)),
                  ("ffn_down_exps", ne * nbytes(hi, fe, n_embd)), ("ffn_down_exps.scale", ne * 4)]
    return t, kv_layers, kv_per_token, table


def file_tensor_bytes(path):
    """(tensor bytes, token_embd bytes) of a GGUF file, from its tensor index."""
    types = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
             10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210)}
    scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with open(path, "rb") as f:
        def u(fmt, n):
            return struct.unpack("<" + fmt, f.read(n))[0]

        def skip(t):
            if t == 8:
                f.seek(u("Q", 8), 1)
            elif t == 9:
                it, n = u("I", 4), u("Q", 8)
                if it in scalar:
                    f.seek(scalar[it] * n, 1)
                else:
                    for _ in range(n):
                        skip(it)
            else:
                f.seek(scalar[t], 1)

        assert f.read(4) == b"GGUF"
        u("I", 4)
        n_tensors, n_kv = u("Q", 8), u("Q", 8)
        for _ in range(n_kv):
            f.seek(u("Q", 8), 1)
            skip(u("I", 4))
        total = embd = 0
        for _ in range(n_tensors):
            name = f.read(u("Q", 8)).decode()
            dims = [u("Q", 8) for _ in range(u("I", 4))]
            b, s = types[u("I", 4)]
            u("Q", 8)
            n = 1
            for d in dims:
                n *= d
            total += n // b * s
            if name == "token_embd.weight":
                embd = n // b * s
        return total, embd


def main():
    if "--check" in sys.argv:
        d = os.environ.get("HEARTH_TEST_MODELS", os.path.expanduser("~/.cache/hearth/test-models"))
        for file, shape in CHECKS.items():
            t = tensors(*shape)
            want = file_tensor_bytes(os.path.join(d, file))
            got = (sum(b for _, b in t), t[0][1])
            print(f"{file}: computed {got}, file {want}", "ok" if got == want else "MISMATCH")
            if got != want:
                sys.exit(1)
    for name, (*shape, merges, scores) in MODELS.items():
        t = tensors(*shape[:8], shape[8], rope_freqs=shape[9])
        tb, eb = sum(b for _, b in t), t[0][1]
        fb = tb + header(shape[7], merges, scores, len(t))
        print(f"{name:14} file_bytes = {fb:_}, tensor_bytes = {tb:_}, embd_bytes = {eb:_}  ({fb / 1e9:.3f} GB)")
    for name, (*shape, ssm, moe, merges) in HYBRID.items():
        t = hybrid_tensors(*shape, ssm, moe)
        tb, eb = sum(b for _, b in t), t[0][1]
        fb = tb + header(shape[7], merges, False, len(t))
        ex = sum(b for n, b in t if n.endswith("_exps"))
        extra = f", exps_bytes = {ex:_}" if moe else ""
        print(f"{name:18} file_bytes = {fb:_}, tensor_bytes = {tb:_}, embd_bytes = {eb:_}{extra}  ({fb / 1e9:.3f} GB)")
    for name, shape in GEMMA4.items():
        t, kv_layers, kv_per_token, table = gemma4_facts(*shape)
        tb, eb = sum(b for _, b in t), t[0][1]
        fb = tb + header(262144, 0, True, len(t))
        ex = sum(b for n, b in t if "_exps" in n)
        extra = ""
        if len(shape) > 12:
            n_expert, n_used, _ = shape[12]
            active = tb - ex // n_expert * (n_expert - n_used)  # tied: the table is the output
            extra = f", exps_bytes = {ex:_} (a token reads {active / 1e9:.3f} GB)"
        print(f"{name:14} file_bytes = {fb:_}, tensor_bytes = {tb:_}, embd_bytes = {eb:_}, "
              f"kv_layers = {kv_layers}, kv_per_token = {kv_per_token}, row_table_bytes = {table:_}{extra}  ({fb / 1e9:.3f} GB)")
    for name, (*shape, n_used, n_ff_exp, merges) in MOE.items():
        t = moe_tensors(*shape, n_ff_exp)
        tb, eb = sum(b for _, b in t), t[0][1]
        xb = sum(b for n, b in t if n.endswith("_exps"))
        n_expert = shape[7]
        active = tb - eb - xb // n_expert * (n_expert - n_used)  # what a token reads
        fb = tb + header(shape[6], merges, False, len(t))
        print(f"{name:14} file_bytes = {fb:_}, tensor_bytes = {tb:_}, embd_bytes = {eb:_}, "
              f"exps_bytes = {xb:_}  ({fb / 1e9:.3f} GB, a token reads {active / 1e9:.3f} GB)")


if __name__ == "__main__":
    main()
