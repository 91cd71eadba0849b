#!/usr/bin/env python3
"""Generate llama.cpp reference fixtures for hearth's end-to-end checks.

What it makes
-------------
For each of the three real test models (see scripts/fetch-test-models.sh) it
writes tests/fixtures/reference/<short>.json with:

  * the model file name and sha256, the llama-cpp-python version and every
    llama.cpp setting used (n_ctx, n_threads, n_batch, ...);
  * `prompts`: a few raw prompts with llama.cpp's tokenization (BOS added
    exactly when the vocab's add_bos flag says so), the greedy (pure argmax)
    continuation of up to 32 tokens and its text, and, for every position of
    prompt + continuation evaluated in one batch ("teacher forcing"), the
    top-10 [token_id, logit] pairs;
  * `chat`: the same for a one-message chat rendered through the model's chat
    template (llama-cpp-python's Jinja2 formatter semantics), or Gemma 3's
    official turn format for the gemma3 base model, which has no template.

tests/fixtures/reference/README.md documents every field.

How to run
----------
It needs llama-cpp-python (0.3.36 was used) with numpy and jinja2; a venv
built for this lives at /root/.cache/hearth-ref/venv:

    scripts/fetch-test-models.sh
    /root/.cache/hearth-ref/venv/bin/python scripts/make-reference.py [short ...]

Models are read from $HEARTH_TEST_MODELS (default ~/.cache/hearth/test-models).
Output goes to tests/fixtures/reference/ (or --out DIR).

This script is NEVER run by CI: CI only reads the committed fixtures. Rerun it
by hand when the prompts or the reference llama.cpp version change, and
commit the regenerated JSON together with the change.
"""

import argparse
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
import numpy as np
from jinja2.sandbox import ImmutableSandboxedEnvironment

import llama_cpp
from fixturelib import sha256
from llama_cpp import Llama

MODELS = [
    # short name, file name
    ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf"),
    ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct.gguf"),
]

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    (
        "The old lighthouse keeper climbed the spiral stairs every evening, "
        "carrying a small lantern and a notebook. For forty years he had "
        "recorded the weather, the ships that passed, and the birds that "
        "rested on the railing. One night, as the fog rolled in from the sea, "
        "he noticed"
    ),
    "On 2024-03-15, the invoice total was $1,234.56 (incl. 20% VAT); item #7 cost",
]

CHAT_MESSAGES = [{"role": "user", "content": "Write a haiku about owning your own computer"}]

# Gemma 3's official turn format (the gemma3 270m base GGUF has no template).
GEMMA3_TURN_FORMAT = "<bos><start_of_turn>user\n{content}<end_of_turn>\n<start_of_turn>model\n"

SETTINGS = dict(
    n_ctx=512,
    n_batch=512,
    n_ubatch=512,
    n_threads=2,
    n_threads_batch=2,
    n_gpu_layers=0,
    seed=1234,
    logits_all=True,
    flash_attn=False,
    use_mmap=True,
    offload_kqv=True,
)

N_PREDICT = 32
TOP_N = 10



def top_n(row, n=TOP_N):
    """Top-n (id, logit) pairs; ties broken by lower id (stable sort)."""
    order = np.lexsort((np.arange(row.shape[0]), -row))[:n]
    return [[int(i), round(float(row[i]), 4)] for i in order]


def argmax(row):
    return int(np.argmax(row))  # numpy returns the first (lowest id) maximum


def is_eog(llm, tok):
    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, tok))


def run_case(llm, tokens):
    """Greedy-decode up to N_PREDICT tokens incrementally, then re-evaluate
    prompt + continuation in one batch and record top-N logits at every
    position."""
    llm.reset()
    llm.eval(tokens)
    generated = []
    stopped = False
    step_top = []
    for _ in range(N_PREDICT):
        row = llm.scores[llm.n_tokens - 1]
        step_top.append(top_n(row))
        tok = argmax(row)
        generated.append(tok)
        if is_eog(llm, tok):
            stopped = True
            break
        llm.eval([tok])

    # Teacher forcing: one fresh batch over prompt + continuation (without the
    # final EOG token, whose logits predict nothing useful).
    forced = tokens + [t for t in generated if not is_eog(llm, t)]
    llm.reset()
    llm.eval(forced)
    scores = llm.scores[: len(forced)]
    positions = [top_n(scores[i]) for i in range(len(forced))]
    batch_argmax = [argmax(scores[i]) for i in range(len(tokens) - 1, len(forced))]
    agrees = batch_argmax[: len(generated)] == generated
    mismatch = None
    for i, (b, g) in enumerate(zip(batch_argmax, generated)):
        if b != g:
            row = scores[len(tokens) - 1 + i]
            mismatch = {"step": i, "greedy_token": g, "batch_token": b,
                        "batch_logit_of_greedy_token": round(float(row[g]), 4),
                        "batch_logit_of_batch_token": round(float(row[b]), 4)}
            break

    # Teacher forcing one token at a time: llama.cpp's decode path (one row per
    # matrix product) at every position, the path hearth's kernels reproduce.
    llm.reset()
    incremental = []
    for t in forced:
        llm.eval([t])
        incremental.append(top_n(llm.scores[llm.n_tokens - 1]))

    text_tokens = [t for t in generated if not is_eog(llm, t)]
    text = llm.detokenize(text_tokens).decode("utf-8", errors="replace")
    return {
        "greedy": {
            "tokens": generated,
            "text": text,
            "stopped_at_eog": stopped,
            "batch_argmax_agrees": agrees,
            "batch_argmax_first_mismatch": mismatch,
            "top_logits": step_top,
        },
        "teacher_forcing": {
            "tokens": forced,
            "top_logits": positions,
            "top_logits_incremental": incremental,
        },
    }


def render_chat(llm, short):
    meta = llm.metadata
    tmpl = meta.get("tokenizer.chat_template")
    model = llm._model
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos_token = model.token_get_text(eos_id) if eos_id != -1 else ""
    bos_token = model.token_get_text(bos_id) if bos_id != -1 else ""
    if tmpl is None:
        assert short.startswith("gemma3"), short
        return GEMMA3_TURN_FORMAT.format(content=CHAT_MESSAGES[0]["content"]), {
            "template_source": "gemma3 official turn format (no tokenizer.chat_template in file)",
        }
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )

    def raise_exception(message):
        raise ValueError(message)

    rendered = env.from_string(tmpl).render(
        messages=CHAT_MESSAGES,
        eos_token=eos_token,
        bos_token=bos_token,
        raise_exception=raise_exception,
        add_generation_prompt=True,
        strftime_now=lambda f: datetime.datetime.now().strftime(f),
    )
    return rendered, {
        "template_source": "tokenizer.chat_template (jinja2, trim_blocks, lstrip_blocks, add_generation_prompt=True)",
        "bos_token": bos_token,
        "eos_token": eos_token,
    }


def dump(obj, path):
    """JSON with one teacher-forcing position per line: small and diffable."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    # Collapse the innermost [id, logit] pairs and per-position lists.
    import re

    text = re.sub(r"\[\s+(-?\d+),\s+(-?[\d.e+-]+)\s+\]", r"[\1, \2]", text)
    text = re.sub(r"\[\s+((?:\[-?\d+, -?[\d.e+-]+\],?\s*)+)\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1).strip()) + "]", text)
    # Token id lists on one line.
    text = re.sub(r"\[\s+((?:-?\d+,\s+)*-?\d+)\s+\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def make(short, fname, model_dir, out_dir):
    path = os.path.join(model_dir, fname)
    llm = Llama(model_path=path, verbose=False, **SETTINGS)
    model = llm._model
    add_bos = bool(model.add_bos_token())
    add_eos = bool(model.add_eos_token())
    assert not add_eos, "fixtures assume the vocab does not append EOS"
    out = {
        "model_file": fname,
        "model_sha256": sha256(path),
        "architecture": llm.metadata.get("general.architecture"),
        "llama_cpp_python_version": llama_cpp.__version__,
        "settings": dict(SETTINGS, n_predict=N_PREDICT, top_n=TOP_N,
                         sampling="pure argmax over raw logits (no temperature, no penalties), ties -> lowest id",
                         logit_rounding=4),
        "n_vocab": llm.n_vocab(),
        "bos_id": llm.token_bos(),
        "eos_id": llm.token_eos(),
        "metadata_add_bos_token": llm.metadata.get("tokenizer.ggml.add_bos_token"),
        "add_bos": add_bos,
        "prompts": [],
    }
    for text in PROMPTS:
        toks = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)
        case = {"text": text, "add_bos": add_bos, "tokens": toks}
        case.update(run_case(llm, toks))
        out["prompts"].append(case)
        print(f"[{short}] {text[:30]!r} -> {case['greedy']['text']!r}", file=sys.stderr)

    rendered, info = render_chat(llm, short)
    toks = llm.tokenize(rendered.encode("utf-8"), add_bos=False, special=True)
    chat = {"messages": CHAT_MESSAGES, "rendered": rendered, **info,
            "add_bos": False, "special": True, "tokens": toks}
    chat.update(run_case(llm, toks))
    out["chat"] = chat
    print(f"[{short}] chat -> {chat['greedy']['text']!r}", file=sys.stderr)

    dest = os.path.join(out_dir, f"{short}.json")
    dump(out, dest)
    # Sanity: the compact writer must still produce the same JSON.
    with open(dest, encoding="utf-8") as f:
        assert json.load(f) == json.loads(json.dumps(out)), dest
    print(f"wrote {dest} ({os.path.getsize(dest)} bytes)", file=sys.stderr)
    llm.close()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", help="short names (default: all)")
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "reference"))
    args = ap.parse_args()
    model_dir = os.environ.get("HEARTH_TEST_MODELS",
                               os.path.expanduser("~/.cache/hearth/test-models"))
    os.makedirs(args.out, exist_ok=True)
    for short, fname in MODELS:
        if args.models and short not in args.models:
            continue
        make(short, fname, model_dir, args.out)


if __name__ == "__main__":
    main()
