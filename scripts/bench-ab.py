#!/usr/bin/env python3
"""Two hearth builds side by side: `hearth bench --json -r 1` of build A and of
build B alternated on the same files, medians over the repetitions, B / A.
For changes that must not cost speed (a refactor, a new SIMD level's
dispatch): build A from the commit before, B from the change, e.g.

    git worktree add /tmp/before OLD && (cd /tmp/before && cargo build --release -p hearth)
    cargo build --release -p hearth
    python3 scripts/bench-ab.py --a /tmp/before/target/release/hearth \\
        --b target/release/hearth [-p 512] [-n 128] [-t 2] [-r 7] [--append BENCHMARKS.md]

Models: the three test models by name (as scripts/bench-vs-llamacpp.py names
them) or GGUF paths. `--parallel N` measures the batched step instead
(`hearth bench --parallel N`, aggregate tok/s). Speed is measured, never
asserted: CI does not run this.
"""
import argparse, datetime, json, os, statistics, subprocess, sys

from benchlib import cpu_line, publish

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct.gguf",
}


def model_path(name, model_dir):
    if name in MODELS:
        return name, os.path.join(model_dir, MODELS[name])
    if os.path.isfile(name):
        return os.path.basename(name).removesuffix(".gguf"), name
    sys.exit(f"{name}: not a known model ({', '.join(MODELS)}) nor a file")


def once(exe, path, a):
    cmd = [exe, "bench", "--json", "-r", "1", "-p", str(a.p), "-n", str(a.n), "-t", str(a.t)]
    if a.parallel > 1:
        cmd += ["--parallel", str(a.parallel)]
    r = subprocess.run(cmd + [path], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{exe} failed on {path}:\n{r.stderr}")
    j = json.loads(r.stdout)
    get = lambda k: j[k]["tok_per_s"]["median"] if j.get(k) else None
    return get("pp"), get("tg_parallel" if a.parallel > 1 else "tg")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="hearth binary of the baseline")
    ap.add_argument("--b", required=True, help="hearth binary of the change")
    ap.add_argument("--label-a", default="A")
    ap.add_argument("--label-b", default="B")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-r", type=int, default=7)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--model-dir", default=os.environ.get("HEARTH_TEST_MODELS", os.path.expanduser("~/.cache/hearth/test-models")))
    ap.add_argument("--append", help="append the result table to this markdown file")
    a = ap.parse_args()
    rows = []
    for entry in a.models.split(","):
        name, path = model_path(entry, a.model_dir)
        res = {"a": ([], []), "b": ([], [])}
        for i in range(a.r):  # alternate, starting with the other build each time
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            for k in order:
                pp, tg = once(getattr(a, k), path, a)
                res[k][0].append(pp)
                res[k][1].append(tg)
        for idx, test in ((0, f"pp{a.p}"), (1, f"tg{a.n}")):
            if res["a"][idx][0] is None:
                continue
            ma, mb = statistics.median(res["a"][idx]), statistics.median(res["b"][idx])
            label = test + (f" x{a.parallel}" if a.parallel > 1 else "")
            rows.append((name, label, ma, mb, mb / ma))
            print(f"{name:20} {label:10} {a.label_a} {ma:8.2f}  {a.label_b} {mb:8.2f}  ratio {mb / ma:5.3f}", flush=True)
    head = (f"### {datetime.date.today().isoformat()} — {cpu_line()}, {a.t} threads, "
            f"{a.r} alternating repetitions, medians: {a.label_a} vs {a.label_b}\n\n"
            f"| model | test | {a.label_a} tok/s | {a.label_b} tok/s | {a.label_b} / {a.label_a} |\n|---|---|---:|---:|---:|\n")
    publish(head + "".join(f"| {m} | {t} | {x:.2f} | {y:.2f} | {r:.3f} |\n" for m, t, x, y, r in rows), a.append)


if __name__ == "__main__":
    main()
