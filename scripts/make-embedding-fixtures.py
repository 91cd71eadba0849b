#!/usr/bin/env python3
"""Reference sentence embeddings from llama.cpp for hearth's embedding checks.

For smollm2-135m and qwen2.5-coder-0.5b it writes
tests/fixtures/reference/embeddings.json: per model, a few texts with
llama.cpp's token count and its embedding — the final hidden states after the
output norm, mean-pooled over the text's tokens (LLAMA_POOLING_TYPE_MEAN) and
L2-normalized (llama-cpp-python `Llama.embed(..., normalize=True)`), BOS added
exactly when the vocabulary says so.

Run by hand with the reference venv (never by CI, which reads the fixture):

    /root/.cache/hearth-ref/venv/bin/python scripts/make-embedding-fixtures.py
"""
import datetime
import json
import os

import llama_cpp
from fixturelib import sha256

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct.gguf",
}
TEXTS = [
    "The cat sat on the mat.",
    "A kitten was sitting on the rug.",
    "Quarterly revenue grew by twelve percent, driven by exports.",
]
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests/fixtures/reference/embeddings.json")
MODEL_DIR = os.path.expanduser(os.environ.get("HEARTH_TEST_MODELS", "~/.cache/hearth/test-models"))



def main():
    out = {"llama_cpp_python": llama_cpp.__version__, "date": datetime.date.today().isoformat(),
           "pooling": "mean", "normalize": True, "models": {}}
    for short, fname in MODELS.items():
        path = os.path.join(MODEL_DIR, fname)
        llm = llama_cpp.Llama(model_path=path, embedding=True, n_ctx=512, n_batch=512, n_threads=2,
                              pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, verbose=False)
        items = []
        for t in TEXTS:
            n = len(llm.tokenize(t.encode("utf-8")))
            e = llm.embed(t, normalize=True)
            items.append({"text": t, "n_tokens": n, "embedding": [round(float(x), 6) for x in e]})
        out["models"][short] = {"file": fname, "sha256": sha256(path), "texts": items}
        del llm
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
