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
quantizers of synthetic/quants.py, and gpt-oss's MXFP4 (experts by gguf-py's
MXFP4 quantizer, Q8_0 elsewhere) — simple (one min/max pass per sub-block, not
llama-quantize's search) but valid blocks, checked against gguf-py's
dequantizers. Every float operation here is elementwise or an exact reduction
(max, min) on float32, and the random numbers are raw PCG64 bits, so the files
are the same bytes on every machine: scripts/setup-synthetic-models.sh checks
them against tests/fixtures/synthetic/SHA256SUMS.

`scripts/make-synthetic-fixtures.py` runs llama.cpp on these files and
records the reference logits the Rust tests (crates/model/tests/synthetic.rs)
compare hearth with.

Where things are
----------------
This file is the command line; the generator is the package next to it,
scripts/synthetic/:

    shapes.py     the dataclasses: Shape, Run, Family, Synth
    blocks.py     the families' metadata, extra tensors and non-llama blocks
    families.py   the tables: FAMILIES, MODELS, BIG
    rng.py        the random numbers (Rng)
    quants.py     Q4_K / Q6_K quantizers, encode, the types of each file type
    vocab.py      the vocabularies (the sdist's files, o200k_harmony)
    writer.py     a decoder's tensors and its GGUF file (write_model)
    encoders.py   the embedding models (ENCODERS, write_encoder)
    paths.py      LLAMA_CPP, ROOT, the SHA256SUMS files, sha256

Adding a family
---------------
One `Family` entry in FAMILIES (its metadata keys, which tensors it has, its
vocabulary, which sequences the fixtures run; its helpers in blocks.py) and
its MODELS entries; then regenerate (this script, `--sums` to rewrite
SHA256SUMS, and the fixtures script) and add the family to the `families!`
list of synthetic.rs.

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
import os
import sys
from dataclasses import replace
from pathlib import Path

from synthetic.encoders import ENCODERS, write_encoder
from synthetic.families import BIG, MODELS
from synthetic.paths import EMBED_SUMS, ROOT, SUMS, sha256
from synthetic.writer import write_model


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
