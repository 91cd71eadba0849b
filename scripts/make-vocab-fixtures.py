#!/usr/bin/env python3
"""Record what llama.cpp does with the sdist's vocabulary-only GGUF files
(`models/ggml-vocab-*.gguf`) beyond their own .inp/.out pairs (which only
encode without special tokens): special token ids, add_bos/add_eos/add_sep,
the end-of-generation set, token_to_piece (with and without `special`) for
a sample of tokens, and encoding with special tokens added and parsed. Into
tests/fixtures/tokenizer/vocabs.json; crates/tokenizer/tests/llamacpp_vocab.rs
checks hearth's Tokenizer against it. The vocab files themselves are read
from the sdist at test time (scripts/fetch-llamacpp-sdist.sh).

Pre-tokenizers with no test vocabulary of their own (tekken for Mistral Nemo,
Ministral 3 and Mistral Small 3; gpt-4o/llama4; ...) are recorded on the
llama-bpe vocabulary with `tokenizer.ggml.pre` replaced (a temporary copy
written with gguf-py): the ids differ from the real models', but the split
and the switches that go with the name are llama.cpp's. Into
tests/fixtures/tokenizer/pre-overrides.json.

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
OUT_PRE = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "pre-overrides.json")

# pre-tokenizer names hearth implements with no test vocabulary of their own
OVERRIDES = ["tekken", "llama4", "gpt-4o", "laguna", "chatglm-bpe", "glm4", "dbrx", "exaone", "jais"]
CASED = [
    "RÉSUMÉs CAFÉs ÉTATs LÉGALEment ÀBc naïveTÉ ÜBERall ÇAva",
    "HELLOworld helloWorld HTTPServer XMLHttpRequest iPhone McDonald's ÀBÇdef ÜBERgroß ΣΑΣ σας",
    "don't I'M WE'LL they've SHE'D it's 'tis",
    "a/b\n/\r\npath/to/file.txt //comment\n\n\n  x",
    "12 123 1234 12345 1.5e-10 ١٢٣٤",
    "Tab\tsep, 'quoted' \"double\" ,,, ...!? (parens) [brackets] {braces} <tags> @#$%^&*~`|",
]
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
    overrides()


def read_inp(name):
    with open(os.path.join(SDIST, "models", f"ggml-vocab-{name}.gguf.inp"), encoding="utf-8") as f:
        raw = f.read()
    sep = "\n__ggml_vocab_test__\n"
    texts = raw.split(sep)
    return texts[:-1] if texts[-1] == "" else texts  # as test-tokenizer-0.cpp splits


def with_pre(src, dst, pre):
    """A copy of the vocab-only GGUF `src` with tokenizer.ggml.pre = pre."""
    import gguf

    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    for field in r.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        vt = field.types[0]
        sub = field.types[-1] if vt == gguf.GGUFValueType.ARRAY else None
        val = pre if field.name == "tokenizer.ggml.pre" else field.contents()
        w.add_key_value(field.name, val, vt, sub_type=sub)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()


# llama.cpp's expressions for these (src/llama-vocab.cpp), which it runs
# through std::regex on the "collapsed" text (src/unicode.cpp)
CASED_REGEX = {
    "tekken": "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "gpt-4o": "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
}


def collapsed_split(regex, text):
    """llama.cpp's unicode_regex_split for a `\\p{..}` expression, with
    Python's re (a backtracking engine like std::regex) as the engine: every
    non-ASCII code point becomes one stand-in for its category (whitespace
    U+000B), `\\p{L}`/`\\p{N}` become those stand-ins plus their ASCII
    members; matches and the text between them are the pieces."""
    import re
    import unicodedata

    stand = {"N": "\xd1", "L": "\xd2", "P": "\xd3", "M": "\xd4", "S": "\xd5"}
    ws = set(map(chr, list(range(9, 14)) + list(range(0x2000, 0x200B)))) | set(
        "\u0020\u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000"
    )
    coll = "".join(
        c if ord(c) < 128 else "\x0b" if c in ws else stand.get(unicodedata.category(c)[0], "\xd0")
        for c in text
    )
    # inside [...] the stand-in and ASCII members go in as they are, else bracketed
    out, inside, i = "", False, 0
    classes = {"\\p{L}": "\xd2A-Za-z", "\\p{N}": "\xd10-9"}
    while i < len(regex):
        if regex[i] == "[" and (i == 0 or regex[i - 1] != "\\"):
            inside = True
        elif regex[i] == "]" and inside and regex[i - 1] != "\\":
            inside = False
        for k, v in classes.items():
            if regex.startswith(k, i):
                out += v if inside else f"[{v}]"
                i += len(k)
                break
        else:
            out += regex[i]
            i += 1
    pieces, prev = [], 0
    for m in re.finditer(out, coll):
        if m.start() > prev:
            pieces.append(text[prev : m.start()])
        pieces.append(text[m.start() : m.end()])
        prev = m.end()
    if prev < len(text):
        pieces.append(text[prev:])
    return pieces


def overrides():
    import tempfile

    base = "llama-bpe"
    texts = read_inp(base) + TEXTS + CASED
    out = {"base": base, "texts": texts, "pre": {}}
    out["splits"] = {name: [collapsed_split(rx, t) for t in texts] for name, rx in CASED_REGEX.items()}
    with tempfile.TemporaryDirectory() as tmp:
        for pre in OVERRIDES:
            path = os.path.join(tmp, f"{pre}.gguf")
            with_pre(os.path.join(SDIST, "models", f"ggml-vocab-{base}.gguf"), path, pre)
            llm = Llama(model_path=path, vocab_only=True, verbose=False)
            v = llama_cpp.llama_model_get_vocab(llm.model)
            out["pre"][pre] = {
                "bos": opt(llama_cpp.llama_vocab_bos(v)),
                "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(v)),
                "ids": [llm.tokenize(t.encode(), add_bos=False, special=False) for t in texts],
                "ids_special": [llm.tokenize(t.encode(), add_bos=True, special=True) for t in texts[:8]],
            }
            print(f"{pre}: {len(texts)} texts", file=sys.stderr)
            del llm
    with open(OUT_PRE, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT_PRE} ({os.path.getsize(OUT_PRE)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
