#!/usr/bin/env python3
"""Batch throughput (issue 7's target): N short documents through
`hearth batch` (continuous batching, --parallel P) against the same
documents one after another through `hearth run` (a process per document,
as a shell loop would do it). Same model, prompt, greedy sampling and
token limit; the two are alternated `--reps` times and medians quoted.

  python3 scripts/bench-batch.py                       # 100 docs, qwen2.5-coder:0.5b
  python3 scripts/bench-batch.py --docs 100 --parallel 8 16 --append BENCHMARKS.md

The documents are generated (short paragraphs about different topics) in a
temporary folder; nothing is downloaded.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import cpu_line, publish

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = os.path.expanduser(os.environ.get("HEARTH_TEST_MODELS", "~/.cache/hearth/test-models"))

TOPICS = ["a lighthouse", "a bakery", "a chess club", "a volcano", "a river ferry", "a beehive", "a night train",
          "a library", "a glacier", "a market garden", "a radio mast", "a harbour", "a windmill", "an orchard",
          "a tram line", "a quarry", "a rope bridge", "a salt marsh", "a clock tower", "a post office"]
PROMPT = "Summarise this note in one sentence.\n\n{{content}}"


def make_docs(folder, n):
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        text = (f"Note {i}. This week the volunteers looked after {t} near the village of Elm Row. "
                f"They counted {3 + i % 7} visitors on Monday and {10 + i % 5} on Saturday, fixed a broken gate, "
                f"and agreed to meet again on the first Tuesday of next month to plan the repairs.\n")
        with open(os.path.join(folder, f"note-{i:03}.txt"), "w") as f:
            f.write(text)




def run_batch(hearth, model, folder, parallel, max_tokens, threads):
    out = tempfile.mktemp(suffix=".jsonl")
    t0 = time.time()
    subprocess.run([hearth, "batch", folder, "--prompt", PROMPT, "-n", str(max_tokens), "--parallel", str(parallel),
                    "-m", model, "-o", out, "-q", "-t", str(threads)], check=True)
    wall = time.time() - t0
    recs = [json.loads(l) for l in open(out)]
    os.remove(out)
    return wall, sum(r["output_tokens"] for r in recs), len(recs)


def run_sequential(hearth, model, folder, max_tokens, threads):
    files = sorted(os.listdir(folder))
    prompt_head = PROMPT.split("{{content}}")[0]
    t0 = time.time()
    for f in files:
        content = open(os.path.join(folder, f)).read()
        subprocess.run([hearth, "run", model, prompt_head + content, "-n", str(max_tokens), "--temperature", "0",
                        "-t", str(threads)], check=True, stdout=subprocess.DEVNULL)
    return time.time() - t0, len(files)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(MODELS, "qwen2.5-coder-0.5b-instruct.gguf"))
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--parallel", type=int, nargs="+", default=[8])
    ap.add_argument("-n", "--max-tokens", type=int, default=48)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--hearth", default=os.path.join(ROOT, "target/release/hearth"))
    ap.add_argument("--append", help="append a dated section to this markdown file")
    a = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="hearth-bench-batch-")
    make_docs(folder, a.docs)
    seq, bat = [], {p: [] for p in a.parallel}
    for rep in range(a.reps):
        w, n = run_sequential(a.hearth, a.model, folder, a.max_tokens, a.threads)
        seq.append(w)
        print(f"rep {rep + 1}: sequential hearth run: {n} docs in {w:.1f} s", file=sys.stderr)
        for p in a.parallel:
            w, toks, n = run_batch(a.hearth, a.model, folder, p, a.max_tokens, a.threads)
            bat[p].append(w)
            print(f"rep {rep + 1}: hearth batch --parallel {p}: {n} docs, {toks} output tokens in {w:.1f} s", file=sys.stderr)
    s = statistics.median(seq)
    rows = [("one `hearth run` per document", s, 1.0)]
    for p in a.parallel:
        b = statistics.median(bat[p])
        rows.append((f"`hearth batch --parallel {p}`", b, s / b))
    table = ["| how | wall time (s) | docs/min | speed-up |", "|---|---:|---:|---:|"]
    for name, w, x in rows:
        table.append(f"| {name} | {w:.1f} | {a.docs / w * 60:.1f} | {x:.2f}× |")
    head = (f"### {datetime.date.today()} — batch throughput, {a.docs} short documents, {os.path.basename(a.model)}, "
            f"{a.threads} threads, -n {a.max_tokens}, greedy, medians of {a.reps} ({cpu_line()})")
    text = head + "\n\n" + "\n".join(table) + "\n"
    publish(text, a.append)


if __name__ == "__main__":
    main()
