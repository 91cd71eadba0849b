#!/usr/bin/env python3
"""Serving side by side (issue 5's target): `hearth serve` and llama.cpp's
`llama-server` with 8 parallel slots, same GGUF, same threads, each measured
with one stream alone and N streams at once (scripts/bench-serve.py's
measurement), alternated --reps times; medians and the ratios printed, and
with --append a dated section added to BENCHMARKS.md.

llama-server is not on the package index: build it once from the
llama-cpp-python sdist's vendored llama.cpp (about 30 minutes here at -j1):

  cmake -S LLAMA_CPP_SRC -B ~/.cache/hearth-ref/server-build -DCMAKE_BUILD_TYPE=Release \\
      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=ON
  cmake --build ~/.cache/hearth-ref/server-build --target llama-server

Run with the client venv (httpx):
  ~/.cache/hearth/venv-clients/bin/python scripts/bench-serve-vs-llamacpp.py --append BENCHMARKS.md

Not under `chrt -f` (SCHED_FIFO): there the compute threads, which spin
between steps, starve the server's I/O threads, the stream reaches the
client in bursts of tens of tokens, and the single stream's rate (timed from
its first token) comes out wrong for both servers.
"""
import argparse
import datetime
import importlib.util
import os
import socket
import statistics
import subprocess
import time

from benchlib import cpu_line, publish

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
spec = importlib.util.spec_from_file_location("bench_serve", os.path.join(HERE, "bench-serve.py"))
bs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bs)

MODELS = os.path.expanduser(os.environ.get("HEARTH_TEST_MODELS", "~/.cache/hearth/test-models"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(url, proc, what):
    import httpx
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up")




def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(MODELS, "qwen2.5-coder-0.5b-instruct.gguf"))
    ap.add_argument("--hearth", default=os.path.join(ROOT, "target/release/hearth"))
    ap.add_argument("--llama-server", default=os.path.expanduser("~/.cache/hearth-ref/server-build/bin/llama-server"))
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--append")
    a = ap.parse_args()
    hp, lp = free_port(), free_port()
    stem = os.path.splitext(os.path.basename(a.model))[0]
    servers = {
        "hearth": (subprocess.Popen([a.hearth, "serve", "--port", str(hp), "--model", a.model, "--parallel", str(a.streams),
                                     "-t", str(a.threads), "--models-dir", "/nonexistent"],
                                    stderr=subprocess.DEVNULL), f"http://127.0.0.1:{hp}", stem),
        "llama-server": (subprocess.Popen([a.llama_server, "-m", a.model, "--port", str(lp), "-np", str(a.streams),
                                           "-c", str(a.streams * 1024), "-t", str(a.threads), "-tb", str(a.threads)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), f"http://127.0.0.1:{lp}", "any"),
    }
    try:
        for name, (proc, url, _) in servers.items():
            wait_up(url, proc, name)
        res = {n: {"single": [], "multi": []} for n in servers}
        for rep in range(a.reps):
            for name, (_, url, model) in servers.items():
                bs.run(url, model, 1, 8)  # warm-up
                s = bs.run(url, model, 1, a.max_tokens)["agg_tok_s"]
                m = bs.run(url, model, a.streams, a.max_tokens)["agg_tok_s"]
                res[name]["single"].append(s)
                res[name]["multi"].append(m)
                print(f"rep {rep + 1} {name}: 1 stream {s:.1f} tok/s, {a.streams} streams {m:.1f} tok/s")
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait()
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in res.items()}
    h, l = med["hearth"], med["llama-server"]
    lines = [
        f"### {datetime.date.today()} — serving side by side, {os.path.basename(a.model)}, {a.threads} threads, "
        f"{a.streams} streams × {a.max_tokens} tokens, greedy, medians of {a.reps} ({cpu_line()})",
        "",
        "| server | 1 stream tok/s | {0} streams aggregate tok/s | {0} / 1 |".format(a.streams),
        "|---|---:|---:|---:|",
        f"| hearth serve | {h['single']:.1f} | {h['multi']:.1f} | {h['multi'] / h['single']:.2f}× |",
        f"| llama-server -np {a.streams} | {l['single']:.1f} | {l['multi']:.1f} | {l['multi'] / l['single']:.2f}× |",
        f"| hearth / llama-server | {h['single'] / l['single']:.2f} | {h['multi'] / l['multi']:.2f} | |",
        "",
    ]
    text = "\n".join(lines)
    publish(text, a.append)


if __name__ == "__main__":
    main()
