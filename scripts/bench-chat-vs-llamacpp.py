#!/usr/bin/env python3
"""A multi-turn chat side by side (issue 27's hybrid-model target: a 10-turn
chat's total time >= 2x faster than llama-server's): `hearth serve` and
llama.cpp's `llama-server` (one slot), same GGUF, same threads. Each server
gets one conversation of --turns turns: a system prompt, then per turn a
user message and the server's own greedy answer of exactly --max-tokens
tokens (ignore_eos) appended to the history, every turn sent whole through
/v1/chat/completions, as a chat client does. A server that keeps the
conversation's state computes only each turn's new tokens; one that
reprocesses the history (llama.cpp on hybrid models, whose recurrent state
cannot be cut back) pays for all of it every turn. Alternated --reps times;
total wall time per conversation (medians), per-turn times of the last rep,
the ratio, and with --append a dated section added to BENCHMARKS.md.

Run in a quiet window with the client venv (httpx), e.g. on the Qwen3.5-4B
shape (scripts/make-synthetic-big.sh qwen3.5-4b):

  ~/.cache/hearth/venv-clients/bin/python scripts/bench-chat-vs-llamacpp.py \\
      --model ~/.cache/hearth/synthetic-big/qwen3.5-4b-q4_k_m.gguf --append BENCHMARKS.md
"""
import argparse
import datetime
import importlib.util
import os
import statistics
import subprocess
import time

from benchlib import cpu_line, publish

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
spec = importlib.util.spec_from_file_location("serve_vs", os.path.join(HERE, "bench-serve-vs-llamacpp.py"))
sv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sv)

SYSTEM = ("You are a careful assistant for a small engineering team. Answer plainly, cite the part of "
          "the question you answer, and say so when you do not know. ") * 4
USER = ("Turn {i}: here are some more notes from today's meeting about the build, the tests and "
        "the release. Summarise what changed since the last turn and what is still open.")


def chat(url, model, turns, max_tokens):
    """One conversation: (total seconds, [(seconds, prompt_tokens) per turn])."""
    import httpx
    msgs = [{"role": "system", "content": SYSTEM}]
    per = []
    t_all = time.perf_counter()
    with httpx.Client(timeout=3600) as c:
        for i in range(turns):
            msgs.append({"role": "user", "content": USER.format(i=i + 1)})
            t0 = time.perf_counter()
            r = c.post(url + "/v1/chat/completions", json={
                "model": model, "messages": msgs, "max_tokens": max_tokens,
                "temperature": 0, "ignore_eos": True, "cache_prompt": True})
            r.raise_for_status()
            v = r.json()
            per.append((time.perf_counter() - t0, v["usage"]["prompt_tokens"]))
            msgs.append({"role": "assistant", "content": v["choices"][0]["message"]["content"]})
    return time.perf_counter() - t_all, per


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/hearth/synthetic-big/qwen3.5-4b-q4_k_m.gguf"))
    ap.add_argument("--hearth", default=os.path.join(ROOT, "target/release/hearth"))
    ap.add_argument("--llama-server", default=os.path.expanduser("~/.cache/hearth/llamacpp/build/bin/llama-server"))
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--append")
    a = ap.parse_args()
    hp, lp = sv.free_port(), sv.free_port()
    stem = os.path.splitext(os.path.basename(a.model))[0]
    servers = {
        "hearth": (subprocess.Popen([a.hearth, "serve", "--port", str(hp), "--model", a.model, "--parallel", "1",
                                     "-c", str(a.ctx), "-t", str(a.threads), "--models-dir", "/nonexistent"],
                                    stderr=subprocess.DEVNULL), f"http://127.0.0.1:{hp}", stem),
        "llama-server": (subprocess.Popen([a.llama_server, "-m", a.model, "--port", str(lp), "-np", "1",
                                           "-c", str(a.ctx), "-t", str(a.threads), "-tb", str(a.threads)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), f"http://127.0.0.1:{lp}", "any"),
    }
    res = {n: [] for n in servers}
    last = {}
    try:
        for name, (proc, url, _) in servers.items():
            sv.wait_up(url, proc, name)
        for rep in range(a.reps):
            for name, (_, url, model) in servers.items():
                total, per = chat(url, model, a.turns, a.max_tokens)
                res[name].append(total)
                last[name] = per
                print(f"rep {rep + 1} {name}: {total:.2f} s, turns "
                      + " ".join(f"{s:.2f}s/{n}" for s, n in per))
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait()
    med = {n: statistics.median(v) for n, v in res.items()}
    h, l = med["hearth"], med["llama-server"]
    lines = [
        f"### {datetime.date.today()} — a {a.turns}-turn chat side by side, {os.path.basename(a.model)}, "
        f"{a.threads} threads, {a.max_tokens} tokens per answer, greedy, medians of {a.reps} ({cpu_line()})",
        "",
        "| server | total s | last turn s | last turn's prompt tokens |",
        "|---|---:|---:|---:|",
        f"| hearth serve | {h:.2f} | {last['hearth'][-1][0]:.2f} | {last['hearth'][-1][1]} |",
        f"| llama-server -np 1 | {l:.2f} | {last['llama-server'][-1][0]:.2f} | {last['llama-server'][-1][1]} |",
        f"| llama-server / hearth | {l / h:.2f}× | | |",
        "",
    ]
    publish("\n".join(lines), a.append)


if __name__ == "__main__":
    main()
