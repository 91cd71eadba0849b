"""The embedding models (encoders): their families (ENCODER_FAMILIES), the
files made for the tests (ENCODERS), their tensors and write_encoder."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

from .quants import FILE_TYPE, encode, weight_types
from .rng import Rng
from .shapes import Shape
from .vocab import vocab
from .writer import add_kv, nbytes


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
