#!/usr/bin/env python3
"""Record what llama.cpp does with the sdist's vocabulary-only GGUF files
(`models/ggml-vocab-*.gguf`) beyond their own .inp/.out pairs (which only
encode without special tokens): special token ids, add_bos/add_eos/add_sep,
the end-of-generation set, token_to_piece (with and without `special`) for
a sample of tokens, and encoding with special tokens added and parsed. Into
tests/fixtures/tokenizer/vocabs.json; crates/tokenizer/tests/llamacpp_vocab.rs
checks hearth's Tokenizer against it. The vocab files themselves are read
from the sdist at test time (scripts/fetch-llamacpp-sdist.sh).

Usage:
  PYTHONPATH=~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36 \
  LLAMA_CPP_LIB_PATH=~/.cache/hearth/llamacpp/build/bin \
  ~/.cache/hearth/venv-ref/bin/python scripts/make-vocab-fixtures.py
"""
import ctypes
import json
import os
import sys

import llama_cpp
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "vocabs.json")
SDIST = os.environ.get(
    "HEARTH_LLAMACPP_SDIST",
    os.path.expanduser("~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp"),
)

VOCABS = [
    "llama-bpe", "llama-spm", "qwen2", "qwen35", "phi-3", "gemma-4", "gpt-2", "bert-bge",
    "deepseek-llm", "deepseek-coder", "command-r", "falcon", "starcoder", "refact", "mpt",
]

TEXTS = [
    "",
    "Hello world",
    " Hello  World!\n\nHow are you?",
    "Äpfel café naïve ½ 日本語 😀 👨‍👩‍👧",
    "def f(x):\n\treturn x * 2\n",
    "  leading and trailing  ",
    # combining marks (qwen35 keeps them with the letters), scripts built on them
    "cafe\u0301s n\u0303o a\u0308b \u0301x नमस्ते दुनिया สวัสดีครับ",
    # newline runs (gemma4 takes a run that is a token whole)
    "a\n\n\n\n\n\nb\n\n\n\n\n\n\n\n\n\n\n\n",
    "\n\n\n\n\n\n\n",
    "İstanbul ΣΑΣ ǅ 'S 'LL I'm don't 3.14159 1234567 ١٢٣ x\u200by\u00a0z",
]


def piece(vocab, tok, special):
    buf = (ctypes.c_char * 512)()
    n = llama_cpp.llama_token_to_piece(vocab, llama_cpp.llama_token(tok), buf, 512, 0, special)
    assert 0 <= n <= 512, n
    return bytes(buf[:n]).hex()


def text(vocab, tok):
    return llama_cpp.llama_vocab_get_text(vocab, tok).decode("utf-8", "replace")


def opt(x):
    return None if x < 0 else x


def main():
    out = {}
    for name in VOCABS:
        path = os.path.join(SDIST, "models", f"ggml-vocab-{name}.gguf")
        llm = Llama(model_path=path, vocab_only=True, verbose=False)
        v = llama_cpp.llama_model_get_vocab(llm.model)
        n = llama_cpp.llama_vocab_n_tokens(v)
        ids = {
            "bos": opt(llama_cpp.llama_vocab_bos(v)),
            "eos": opt(llama_cpp.llama_vocab_eos(v)),
            "eot": opt(llama_cpp.llama_vocab_eot(v)),
            "sep": opt(llama_cpp.llama_vocab_sep(v)),
            "pad": opt(llama_cpp.llama_vocab_pad(v)),
        }
        eog = [t for t in range(n) if llama_cpp.llama_vocab_is_eog(v, t)]
        # control / user-defined / unknown tokens: what special parsing sees
        special = [
            t
            for t in range(n)
            if llama_cpp.llama_vocab_get_attr(v, t) & (1 | 8 | 16)  # UNKNOWN | CONTROL | USER_DEFINED
        ]
        sample = sorted(set(list(range(min(n, 120))) + list(range(0, n, max(1, n // 120))) + special[:60]))
        pieces = [[t, piece(v, t, False), piece(v, t, True)] for t in sample]
        # encode with special tokens: the texts, and the texts around special tokens
        spec_texts = [text(v, t) for t in special[:4]] + [
            text(v, t) for t in (ids["bos"], ids["eos"], ids["eot"]) if t is not None
        ]
        enc_texts = TEXTS + [f"{a}Hi there{b} ok" for a, b in zip(spec_texts, reversed(spec_texts))]
        encode = []
        for s in enc_texts:
            for add, parse in [(True, True), (True, False), (False, True)]:
                encode.append([s, add, parse, llm.tokenize(s.encode(), add_bos=add, special=parse)])
        out[name] = {
            "n_vocab": n,
            "ids": ids,
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(v)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(v)),
            "add_sep": bool(llama_cpp.llama_vocab_get_add_sep(v)),
            "eog": eog,
            "pieces": pieces,
            "encode": encode,
        }
        print(f"{name}: {n} tokens, {len(eog)} eog, {len(pieces)} pieces, {len(encode)} encodings", file=sys.stderr)
        del llm
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
