#!/usr/bin/env python3
"""Record llama.cpp's embeddings of the synthetic embedding models, as fixtures.

What it makes
-------------
For each model of ENCODERS in scripts/synthetic/encoders.py (`bert`,
`nomic-bert`, made by scripts/make-synthetic-models.py; files in
~/.cache/hearth/synthetic, checked against
tests/fixtures/synthetic/embed/SHA256SUMS) it writes
tests/fixtures/synthetic/embed/<name>.json with llama.cpp's pooling type
(the file's: llama-cpp-python's `pooling_type` left unspecified) and, for
each of a few texts (short, paraphrase, unrelated, mixed case and accents,
one long: hundreds of tokens, past a thousand for nomic-bert's 2048
positions):

  * `tokens`: llama.cpp's token ids (`Llama.tokenize`, special tokens added:
    `[CLS] ... [SEP]`);
  * `embedding`: `Llama.embed(text, normalize=True)`: the final hidden
    states pooled as the file says (mean / cls), L2-normalized.

crates/engine/tests/embed_synthetic.rs compares hearth with them.

How to run (by hand; CI only reads the fixtures)
----------
    bash scripts/setup-synthetic-models.sh        # the files
    PYTHONPATH=~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36 \\
    LLAMA_CPP_LIB_PATH=~/.cache/hearth/llamacpp/build/bin \\
    ~/.cache/hearth/venv-ref/bin/python scripts/make-synthetic-embed-fixtures.py [name ...]
"""

import argparse
import json
import os
import sys
from pathlib import Path

import llama_cpp
from llama_cpp import Llama

# the generator's package (scripts/synthetic/), next to this script
sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic.encoders import ENCODER_FAMILIES, ENCODERS
from synthetic.paths import EMBED_SUMS, sha256

POOLING = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}

WORDS = ("river stone lantern quietly seventeen Budapest algorithm harvest velvet "
         "thunder pencil migrates, orbit; crimson (ledger) whisper 1984 galaxy "
         "orchard fossil compiles! maple journey Zürich copper? spiral meadow").split()


def long_text(n_words):
    """A deterministic text of `n_words` words drawn from WORDS."""
    out, x = [], 7
    for _ in range(n_words):
        x = (x * 1103515245 + 12345) % (1 << 31)
        out.append(WORDS[x % len(WORDS)])
    return " ".join(out)


TEXTS = [
    "The cat sat on the mat.",
    "A kitten was sitting on the rug.",
    "Quarterly revenue grew by twelve percent, driven by exports.",
    "Héllo, WORLD! Ça va? Tokyo 東京 2024-06-01 naïve café",
]
# the long text: past a few hundred positions (bert's 512), past a thousand
# for nomic-bert (2048 positions)
LONG_WORDS = {"bert": 300, "nomic-bert": 900}
N_CTX = {"bert": 512, "nomic-bert": 2048}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/hearth/synthetic"))
    ap.add_argument("--out", default=str(EMBED_SUMS.parent))
    args = ap.parse_args()
    sums = dict(reversed(line.split()) for line in EMBED_SUMS.read_text().splitlines())
    out_dir = Path(args.out)
    for m in ENCODERS:
        if args.names and m.name not in args.names:
            continue
        path = Path(args.models) / f"{m.name}.gguf"
        digest = sha256(path)
        if sums.get(path.name) != digest:
            sys.exit(f"{path}: sha256 {digest} is not the one in {EMBED_SUMS}; regenerate")
        fam = ENCODER_FAMILIES[m.family]
        n_ctx = N_CTX[m.family]
        # a non-causal model reads a whole text in one micro-batch
        llm = Llama(model_path=str(path), embedding=True, n_ctx=n_ctx, n_batch=n_ctx,
                    n_ubatch=n_ctx, n_threads=2, n_threads_batch=2, n_gpu_layers=0,
                    flash_attn=False, verbose=False)
        texts = TEXTS + [long_text(LONG_WORDS[m.family])]
        items = []
        for t in texts:
            tokens = llm.tokenize(t.encode("utf-8"))
            assert len(tokens) <= n_ctx, (m.name, len(tokens))
            e = llm.embed(t, normalize=True)
            items.append({"text": t, "tokens": tokens,
                          "embedding": [round(float(x), 7) for x in e]})
        result = {"model": m.name, "file": path.name, "sha256": digest, "arch": fam.arch,
                  "family": m.family, "type": m.wtype,
                  "pooling": POOLING[llm.pooling_type()], "normalize": "L2",
                  "llama_cpp_python_version": llama_cpp.__version__,
                  "settings": {"n_ctx": n_ctx, "n_batch": n_ctx, "n_ubatch": n_ctx,
                               "flash_attn": False, "n_threads": 2},
                  "texts": items}
        llm.close()
        dest = out_dir / f"{m.name}.json"
        text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
        dest.write_text(text)
        print(f"wrote {dest} ({len(text) // 1024} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
