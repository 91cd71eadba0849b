#!/usr/bin/env python3
"""Record llama.cpp's logits on the synthetic models, as test fixtures.

What it makes
-------------
For each model of scripts/make-synthetic-models.py (files in
~/.cache/hearth/synthetic, checked against tests/fixtures/synthetic/SHA256SUMS)
it writes tests/fixtures/synthetic/<name>.json with, for every `Run` of the
model's family:

  * `tokens`: seeded random token ids (no tokenizer involved);
  * `n_ctx`: the llama.cpp context size used (it chooses LongRoPE's factors);
  * `top`: at every position, llama.cpp's top-4 `[id, logit, id, logit, ...]`
    after evaluating the whole sequence in one `eval` (batches of n_batch);
  * for runs with greedy steps: `greedy` (the argmax continuation of the
    first `prompt` tokens, one token per decode step, as generation does) and
    `greedy_top` (llama.cpp's top-2 at each step, to tell near ties).

How to run (by hand; CI only reads the fixtures)
----------
    bash scripts/setup-synthetic-models.sh        # the files
    PYTHONPATH=~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36 \\
    LLAMA_CPP_LIB_PATH=~/.cache/hearth/llamacpp/build/bin \\
    ~/.cache/hearth/venv-ref/bin/python scripts/make-synthetic-fixtures.py [name ...]
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import llama_cpp
from llama_cpp import Llama

# the generator's package (scripts/synthetic/), next to this script
sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic.families import FAMILIES, MODELS
from synthetic.paths import LLAMA_CPP, ROOT, SUMS, sha256

TOP_N = 4
SETTINGS = dict(n_batch=512, n_ubatch=512, n_threads=2, n_threads_batch=2, n_gpu_layers=0,
                seed=1234, logits_all=True, flash_attn=False, use_mmap=True, offload_kqv=True)


def top_n(row, n=TOP_N):
    """Top-n as a flat [id, logit, ...]; ties broken by lower id."""
    order = np.lexsort((np.arange(row.shape[0]), -row))[:n]
    out = []
    for i in order:
        out += [int(i), round(float(row[i]), 3)]
    return out


def run_tokens(model_name, run, n_vocab):
    """The run's token ids: raw PCG64 bits modulo the vocabulary."""
    seed = int.from_bytes(f"{model_name}/{run.name}".encode(), "little") % (1 << 63)
    raw = np.random.PCG64(seed).random_raw(run.n_tokens)
    return [int(x % n_vocab) for x in raw]


def record(llm, model_name, run):
    n_vocab = llm.n_vocab()
    tokens = run_tokens(model_name, run, n_vocab)
    llm.reset()
    llm.eval(tokens)
    scores = llm.scores[: len(tokens)]
    out = {"name": run.name, "n_ctx": run.n_ctx, "tokens": tokens,
           "top": [top_n(scores[i]) for i in range(len(tokens))]}
    if run.greedy:
        llm.reset()
        llm.eval(tokens[: run.prompt])
        greedy, steps = [], []
        for _ in range(run.greedy):
            row = llm.scores[llm.n_tokens - 1]
            steps.append(top_n(row, 2))
            t = int(np.argmax(row))
            greedy.append(t)
            llm.eval([t])
        out.update(prompt=run.prompt, greedy=greedy, greedy_top=steps)
    return out


# Texts whose llama.cpp tokenization (special tokens parsed) the fixtures of
# families with a vocabulary of their own (`Family.vocab` not a sdist file:
# gpt-oss's o200k_harmony) record: the split, the merges, the specials.
TOKENIZE = [
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "don't I'M we'LL they've  tabs\tand\n\nnewlines   \n  ",
    "fn main() { let x = 12345678 + 3.14159; println!(\"{x:?}\"); }",
    "Ünïcödé: naïve café, 東京の天気は？ 🦀🚀 ½ × ∑ — “quotes”",
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.<|end|>"
    "<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant<|channel|>analysis<|message|>"
    "Simple sum.<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>",
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
    "<|message|>{\"city\":\"Paris\"}<|call|>",
]


def record_tokenize(path):
    """llama.cpp's ids for TOKENIZE (no BOS, specials parsed), its BOS/EOS
    and which of the vocabulary's control tokens end generation."""
    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n = llm.n_vocab()
    controls = [i for i in range(n) if llama_cpp.llama_vocab_get_attr(vocab, i) & 8]  # LLAMA_TOKEN_ATTR_CONTROL
    out = {"bos": llama_cpp.llama_vocab_bos(vocab), "eos": llama_cpp.llama_vocab_eos(vocab),
           "eog": [i for i in controls if llama_cpp.llama_vocab_is_eog(vocab, i)],
           "texts": [{"text": t, "ids": llm.tokenize(t.encode(), add_bos=False, special=True)}
                     for t in TOKENIZE]}
    llm.close()
    return out


def dump(obj, path):
    """One position per line: small and diffable."""
    lines = ["{"]
    head = {k: v for k, v in obj.items() if k not in ("runs", "tokenize")}
    for k, v in head.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v)},")
    lines.append(' "runs": [')
    for ri, r in enumerate(obj["runs"]):
        lines.append("  {")
        items = list(r.items())
        for j, (k, v) in enumerate(items):
            comma = "," if j + 1 < len(items) else ""
            if k in ("top", "greedy_top"):
                rows = ",\n    ".join(json.dumps(x) for x in v)
                lines.append(f"   {json.dumps(k)}: [\n    {rows}\n   ]{comma}")
            else:
                lines.append(f"   {json.dumps(k)}: {json.dumps(v)}{comma}")
        lines.append("  }" + ("," if ri + 1 < len(obj["runs"]) else ""))
    lines.append(" ]" + ("," if "tokenize" in obj else ""))
    if "tokenize" in obj:
        tk = obj["tokenize"]
        lines.append(' "tokenize": {')
        lines.append(f'  "bos": {json.dumps(tk["bos"])}, "eos": {json.dumps(tk["eos"])}, "eog": {json.dumps(tk["eog"])},')
        rows = ",\n   ".join(json.dumps(x, ensure_ascii=False) for x in tk["texts"])
        lines.append(f'  "texts": [\n   {rows}\n  ]')
        lines.append(" }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == obj
    path.write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/hearth/synthetic"))
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "synthetic"))
    ap.add_argument("--tokenize-only", action="store_true",
                    help="only (re)record the tokenization of the existing fixtures")
    args = ap.parse_args()
    sums = dict(reversed(line.split()) for line in SUMS.read_text().splitlines())
    out_dir = Path(args.out)
    for m in MODELS:
        if args.names and m.name not in args.names:
            continue
        path = Path(args.models) / f"{m.name}.gguf"
        digest = sha256(path)
        if sums.get(path.name) != digest:
            sys.exit(f"{path}: sha256 {digest} is not the one in {SUMS}; regenerate")
        fam = FAMILIES[m.family]
        own_vocab = not (LLAMA_CPP / "models" / f"ggml-vocab-{fam.vocab}.gguf").exists()
        if args.tokenize_only:
            dest = out_dir / f"{m.name}.json"
            result = json.loads(dest.read_text())
            if own_vocab:
                result["tokenize"] = record_tokenize(path)
                dump(result, dest)
                print(f"wrote {dest}")
            continue
        runs = [r for r in fam.runs if r.name != "long" or m.wtype in fam.long_types]
        result = {"model": m.name, "file": path.name, "sha256": digest, "arch": fam.arch,
                  "family": m.family, "type": m.wtype,
                  "llama_cpp_python_version": llama_cpp.__version__,
                  "settings": dict(SETTINGS, top_n=TOP_N, kv_cache="f16",
                                   logits="all positions of one eval; greedy: one token per eval"),
                  "runs": []}
        for run in runs:
            llm = Llama(model_path=str(path), n_ctx=run.n_ctx, verbose=False, **SETTINGS)
            result["runs"].append(record(llm, m.name, run))
            llm.close()
        if own_vocab:
            result["tokenize"] = record_tokenize(path)
        dest = out_dir / f"{m.name}.json"
        dump(result, dest)
        print(f"wrote {dest} ({dest.stat().st_size // 1024} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
