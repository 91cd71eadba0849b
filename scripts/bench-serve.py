#!/usr/bin/env python3
"""Aggregate generation speed of an OpenAI-compatible server: one stream
alone, then N streams at once (issue 5's target: N=8 on qwen2.5-coder:0.5b,
aggregate >= 3x a single stream, and >= llama-server with 8 parallel slots).

Run by hand against running servers (needs httpx, e.g. the venv made by
scripts/setup-test-clients.sh):

  hearth serve --model ~/.cache/hearth/test-models/qwen2.5-coder-0.5b-instruct.gguf --port 8090 &
  ~/.cache/hearth/venv-clients/bin/python scripts/bench-serve.py --url http://127.0.0.1:8090 \
      --model qwen2.5-coder-0.5b-instruct
  llama-server -m MODEL.gguf -np 8 -c 16384 --port 8091 &
  ~/.cache/hearth/venv-clients/bin/python scripts/bench-serve.py --url http://127.0.0.1:8091 --model any

Prints one JSON line; record it with the CPU and date in BENCHMARKS.md.
"""
import argparse
import json
import threading
import time

import httpx

PROMPTS = [
    "Write a Python function that reverses a linked list.",
    "Explain what a mutex is.",
    "Write a haiku about the sea.",
    "List five uses of a hash map.",
    "Describe the TCP handshake.",
    "Write a bash loop that counts to ten.",
    "What is memoization?",
    "Explain recursion to a child.",
]


def one(url, model, prompt, max_tokens, out, i):
    t0 = time.time()
    first = None
    n = 0
    with httpx.stream("POST", url + "/v1/chat/completions", timeout=600, json={
        "model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
        "temperature": 0, "stream": True, "stream_options": {"include_usage": True},
        "ignore_eos": True,
    }) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            ev = json.loads(line[6:])
            if ev.get("choices") and ev["choices"][0]["delta"].get("content") and first is None:
                first = time.time()
            if ev.get("usage"):
                n = ev["usage"]["completion_tokens"]
    out[i] = (n, t0, first or time.time(), time.time())


def run(url, model, k, max_tokens):
    out = [None] * k
    ts = [threading.Thread(target=one, args=(url, model, PROMPTS[i % len(PROMPTS)], max_tokens, out, i)) for i in range(k)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.time() - t0
    toks = sum(o[0] for o in out)
    gen = max(o[3] for o in out) - min(o[2] for o in out)
    return {"streams": k, "tokens": toks, "wall_s": round(wall, 2), "agg_tok_s": round(toks / max(gen, 1e-9), 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:11434")
    ap.add_argument("--model", required=True)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    a = ap.parse_args()
    run(a.url, a.model, 1, 8)  # warm-up (loads the model)
    single = run(a.url, a.model, 1, a.max_tokens)
    multi = run(a.url, a.model, a.streams, a.max_tokens)
    print(json.dumps({"url": a.url, "model": a.model, "single": single, "concurrent": multi,
                      "speedup": round(multi["agg_tok_s"] / max(single["agg_tok_s"], 1e-9), 2)}))


if __name__ == "__main__":
    main()
