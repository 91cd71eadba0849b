#!/usr/bin/env python3
"""Side-by-side speed: hearth vs llama.cpp on the same GGUF, same threads, same
token counts, alternating the two programs in one run, medians over repeats.

llama.cpp is driven through llama-cpp-python (built from source from the
package index; it vendors llama.cpp). Build it once into a venv outside the repo:

    python3 -m venv ~/.cache/hearth-ref/venv
    ~/.cache/hearth-ref/venv/bin/pip install llama-cpp-python==0.3.36 numpy

then run this script with that venv's python:

    ~/.cache/hearth-ref/venv/bin/python scripts/bench-vs-llamacpp.py \
        [--models smollm2-135m,gemma3-270m,qwen2.5-coder-0.5b] [-p 512] [-n 128] \
        [-d 0,512] [-t 2] [-r 5] [--append BENCHMARKS.md]

`--models` takes the names below (the three test models; `llama3.2-3b-synth`
and `qwen3-8b-synth`, random-weight Q4_K_M files with the exact shapes of
Llama-3.2-3B and Qwen3-8B that scripts/make-synthetic-big.sh makes into
~/.cache/hearth/synthetic-big, or --big-dir; `qwen3-30b-a3b-synth` and
`gpt-oss-20b-synth`, the mixtures of experts it makes when named) or paths
to GGUF files.

hearth is measured by `hearth bench --json -r 1` (a fresh process each
repetition; load time excluded); llama.cpp by timing `Llama.eval` on the same
number of pseudo-random tokens (prompt: one eval of p tokens with n_batch 512;
generation: n evals of one token each, argmax fed back), after the same depth
of tokens is placed in its KV cache. Never run by CI: speed is measured, not
asserted.
"""
import argparse, datetime, json, os, platform, random, statistics, subprocess, sys, time

from benchlib import cpu_line, publish

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct.gguf",
}

# Real shapes, random weights (speed does not depend on the values).
SYNTHETIC_BIG = {
    "llama3.2-3b-synth": "llama3.2-3b-q4_k_m.gguf",
    "qwen3-8b-synth": "qwen3-8b-q4_k_m.gguf",
    # mixtures of experts, layers cut (make-synthetic-big.sh qwen3-30b-a3b gpt-oss-20b)
    "qwen3-30b-a3b-synth": "qwen3-30b-a3b-q4_k_m.gguf",
    "gpt-oss-20b-synth": "gpt-oss-20b-mxfp4.gguf",
}


def model_path(name, a):
    """(label, path) of a --models entry: a known name or a GGUF path."""
    if name in MODELS:
        return name, os.path.join(a.model_dir, MODELS[name])
    if name in SYNTHETIC_BIG:
        return name, os.path.join(a.big_dir, SYNTHETIC_BIG[name])
    if os.path.isfile(name):
        return os.path.basename(name).removesuffix(".gguf"), name
    sys.exit(f"{name}: not a known model ({', '.join([*MODELS, *SYNTHETIC_BIG])}) nor a file")




def hearth_once(exe, path, p, n, d, t):
    out = subprocess.run([exe, "bench", "--json", "-r", "1", "-p", str(p), "-n", str(n), "-d", str(d), "-t", str(t), path],
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    return (j["pp"]["tok_per_s"]["median"] if p else None, j["tg"]["tok_per_s"]["median"] if n else None)


class LlamaCpp:
    def __init__(self, path, ctx, t):
        from llama_cpp import Llama
        self.llm = Llama(model_path=path, n_ctx=ctx, n_batch=512, n_ubatch=512, n_threads=t,
                         n_threads_batch=t, logits_all=False, verbose=False)
        self.n_vocab = self.llm.n_vocab()

    def last_logits(self):
        import numpy as np
        import llama_cpp
        ptr = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def tokens(self, n, seed):
        r = random.Random(seed)
        return [r.randrange(100, self.n_vocab) for _ in range(n)]

    def once(self, p, n, d):
        import numpy as np
        depth = self.tokens(d, 7)
        pp = tg = None
        if p:
            self.llm.reset()
            if d:
                self.llm.eval(depth)
            prompt = self.tokens(p, 11)
            t0 = time.perf_counter()
            self.llm.eval(prompt)
            pp = p / (time.perf_counter() - t0)
        if n:
            self.llm.reset()
            if d:
                self.llm.eval(depth)
            tok = self.tokens(1, 11)[0]
            t0 = time.perf_counter()
            for _ in range(n):
                self.llm.eval([tok])
                tok = int(np.argmax(self.last_logits()))
            tg = n / (time.perf_counter() - t0)
        return pp, tg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-d", default="0", help="comma-separated depths")
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-r", type=int, default=5)
    ap.add_argument("--hearth", default="target/release/hearth")
    ap.add_argument("--model-dir", default=os.environ.get("HEARTH_TEST_MODELS", os.path.expanduser("~/.cache/hearth/test-models")))
    ap.add_argument("--big-dir", default=os.environ.get("HEARTH_SYNTHETIC_BIG", os.path.expanduser("~/.cache/hearth/synthetic-big")))
    ap.add_argument("--append", help="append the result table to this markdown file")
    a = ap.parse_args()
    import llama_cpp
    rows = []
    for entry in a.models.split(","):
        name, path = model_path(entry, a)
        for d in [int(x) for x in a.d.split(",")]:
            ref = LlamaCpp(path, d + max(a.p, a.n) + 16, a.t)
            hp, ht, lp, lt = [], [], [], []
            for _ in range(a.r):  # alternate the two programs
                x, y = hearth_once(a.hearth, path, a.p, a.n, d, a.t)
                hp.append(x); ht.append(y)
                x, y = ref.once(a.p, a.n, d)
                lp.append(x); lt.append(y)
            del ref
            for test, h, l in ((f"pp{a.p}", hp, lp), (f"tg{a.n}", ht, lt)):
                if h[0] is None:
                    continue
                hm, lm = statistics.median(h), statistics.median(l)
                label = test + (f" @ d{d}" if d else "")
                rows.append((name, label, hm, lm, hm / lm))
                print(f"{name:20} {label:14} hearth {hm:8.2f}  llama.cpp {lm:8.2f}  ratio {hm / lm:5.2f}", flush=True)
    head = (f"### {datetime.date.today().isoformat()} — {cpu_line()}, {a.t} threads, "
            f"{a.r} alternating repetitions, medians (llama-cpp-python {llama_cpp.__version__})\n\n"
            "| model | test | hearth tok/s | llama.cpp tok/s | hearth / llama.cpp |\n|---|---|---:|---:|---:|\n")
    table = head + "".join(f"| {m} | {t} | {h:.2f} | {l:.2f} | {r:.2f} |\n" for m, t, h, l, r in rows)
    print()
    publish(table, a.append)


if __name__ == "__main__":
    main()
