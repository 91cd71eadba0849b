"""Writing a decoder model: its tensors in the converter's order (tensors),
their shapes, and the GGUF file (write_model)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

from .families import FAMILIES
from .paths import LLAMA_CPP
from .quants import FILE_TYPE, encode, expert_type, weight_types
from .rng import Rng
from .shapes import Family, Shape, Synth
from .vocab import vocab


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
