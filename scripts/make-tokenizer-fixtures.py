#!/usr/bin/env python3
"""Record reference tokenizer behaviour from llama.cpp (via llama-cpp-python built
from the vendored llama.cpp) for the three test models, into
tests/fixtures/tokenizer/<model>.json. The Rust tests in crates/tokenizer assert
that hearth's tokenizer produces identical ids / bytes / rendered templates.

Usage: /root/.cache/hearth-ref/venv/bin/python scripts/make-tokenizer-fixtures.py
"""
import ctypes
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.sandbox
import llama_cpp
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
CACHE = os.environ.get("HEARTH_TEST_MODELS", os.path.expanduser("~/.cache/hearth/test-models"))

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct.gguf",
}

STRINGS = [
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n",
    "\n\n\n\n",
    " \n \n",
    "\r\n",
    "Hello",
    " Hello",
    "  Hello",
    "Hello world",
    "Hello, world!",
    "hello   world",
    "Hello\tworld\t\ttabs",
    "trailing spaces   ",
    "   leading spaces",
    "line one\nline two\n\nline four",
    "1",
    "12",
    "123",
    "1234",
    "12345678901234567890",
    "3.14159 and 2,718 and -42",
    "The year 2024 had 365 days.",
    "DON'T do it, I'Ll say we'Re fine, they've it's",
    "'s 's 'S 'T 'LL 'll 'Ve",
    "don't won't can't shouldn't y'all",
    "def f(x):\n    return x * 2  # double\n",
    "fn main() {\n\tlet v: Vec<u32> = vec![1, 2, 3];\n\tprintln!(\"{:?}\", v);\n}",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; }",
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
    "<html><body class=\"x\">Hi &amp; bye</body></html>",
    "const f = async (a, b) => { await g(a ?? b); };",
    "a=b&&c||d!=e>=f<=g",
    "$$$ +++ ^^^ ~~~ ||| <<<>>>",
    "😀",
    "Emoji: 😀🎉👍🏽",
    "Family: 👨‍👩‍👧‍👦 and flag 🇯🇵",
    "❤️ ✨ ☕",
    "日本語のテキスト",
    "中文文本，包括标点符号。",
    "한국어 텍스트",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "Привет, мир!",
    "Ελληνικά κείμενα",
    "café naïve résumé Ångström",
    "e\u0301 combining acute, n\u0303, a\u0308",
    "Zalgo: Z\u0351\u036b\u0343a\u0352l\u0357g\u0310o",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>",
    "<start_of_turn>user\nhello<end_of_turn>",
    "<|endoftext|>",
    "<bos>",
    "<eos>",
    "</s>",
    "<s>",
    "<unk>",
    "<|endoftext|><|endoftext|>",
    "Supercalifragilisticexpialidocious" * 8,
    "a" * 300,
    "ab " * 50,
    "\u00a0non-breaking\u00a0space\u2003em\u3000ideo",
    "zero\u200bwidth\u200djoiner",
    "mixed日本English123数字",
    "tab\tsep\tvalues\n1\t2\t3",
    "   \n\t  \n",
    "!!!???...,,,",
    "…—–“”‘’«»",
    "URL: https://example.com/path?q=1&r=2#frag",
    "email@example.com",
    "CamelCaseIdentifier snake_case_identifier kebab-case",
    "x\u0000y",
    "\u2581already\u2581escaped",
    "ﬁ ligature Ⅻ roman ½ fraction ² super",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math",
]

SPECIAL_STRINGS = [
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n",
    "<bos><start_of_turn>user\nhi<end_of_turn>",
    "<|endoftext|>Hello<|endoftext|>",
    "plain text with no specials",
    "<|im_start|>system\nYou are helpful.<|im_end|>",
    "<|im_start|><|im_end|>",
    "x<eos>y</s>z",
]

BOS_STRINGS = ["", "Hello world", " leading", "<bos>hi"]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ],
    [
        {"role": "user", "content": "  spaced  \n\n content\t"},
        {"role": "assistant", "content": "Sure: 日本語 😀"},
    ],
    [{"role": "user", "content": "Write code:\n```python\nprint('hi')\n```"}],
]


def raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def render_hf(template, messages, add_generation_prompt, bos, eos):
    # Same environment as HF transformers / llama-cpp-python's Jinja2ChatFormatter.
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    t = env.from_string(template)
    return t.render(messages=messages, add_generation_prompt=add_generation_prompt,
                    bos_token=bos, eos_token=eos)


def gemma_builtin(messages, add_generation_prompt, bos):
    # Gemma 3's official format; system prompt folded into the first user turn.
    out = bos
    sys_prefix = ""
    msgs = list(messages)
    if msgs and msgs[0]["role"] == "system":
        sys_prefix = msgs[0]["content"] + "\n\n"
        msgs = msgs[1:]
    for i, m in enumerate(msgs):
        role = "model" if m["role"] == "assistant" else m["role"]
        content = m["content"]
        if i == 0 and sys_prefix:
            content = sys_prefix + content
        out += "<start_of_turn>" + role + "\n" + content.strip() + "<end_of_turn>\n"
    if add_generation_prompt:
        out += "<start_of_turn>model\n"
    return out


def piece(llm, tok, special):
    buf = (ctypes.c_char * 256)()
    n = llama_cpp.llama_token_to_piece(llm._model.vocab, llama_cpp.llama_token(tok), buf, 256, 0, special)
    assert 0 <= n <= 256
    return list(bytes(buf[:n]))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, fname in MODELS.items():
        path = os.path.join(CACHE, fname)
        if not os.path.exists(path):
            print("skip", name, "(missing)", file=sys.stderr)
            continue
        llm = Llama(model_path=path, vocab_only=True, verbose=False)
        meta = llm.metadata
        fx = {"model": name, "file": fname, "n_vocab": llm.n_vocab(),
              "bos": llm.token_bos(), "eos": llm.token_eos(),
              "encode": [], "encode_special": [], "encode_bos": [], "pieces": [], "chat": []}
        for s in STRINGS:
            fx["encode"].append({"text": s, "ids": llm.tokenize(s.encode(), add_bos=False, special=False)})
        for s in SPECIAL_STRINGS + STRINGS[50:62]:
            fx["encode_special"].append({"text": s, "ids": llm.tokenize(s.encode(), add_bos=False, special=True)})
        for s in BOS_STRINGS:
            fx["encode_bos"].append({"text": s, "ids": llm.tokenize(s.encode(), add_bos=True, special=True)})
        # Pieces for a spread of ids plus all ids of a few encodings.
        ids = set(range(0, 300)) | set(range(llm.n_vocab() - 50, llm.n_vocab()))
        ids |= set(range(1000, llm.n_vocab(), max(1, llm.n_vocab() // 400)))
        for s in STRINGS[38:52]:
            ids |= set(llm.tokenize(s.encode(), add_bos=False, special=False))
        for t in sorted(ids):
            fx["pieces"].append({"id": t, "piece": piece(llm, t, False), "special": piece(llm, t, True)})

        # detokenize (llama-cpp-python: concatenated pieces, special=False) of id lists
        fx["decode"] = []
        for s in STRINGS[10:20] + STRINGS[38:60]:
            t = llm.tokenize(s.encode(), add_bos=False, special=False)
            fx["decode"].append({"ids": t, "bytes": list(llm.detokenize(t))})
        for s in SPECIAL_STRINGS[:4]:
            t = llm.tokenize(s.encode(), add_bos=False, special=True)
            fx["decode"].append({"ids": t, "bytes": list(llm.detokenize(t))})

        tmpl = meta.get("tokenizer.chat_template")
        bos_text = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        eos_text = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        fx["bos_text"] = bos_text
        fx["eos_text"] = eos_text
        fx["has_template"] = tmpl is not None
        for conv in CONVERSATIONS:
            for agp in (True, False):
                if tmpl is not None:
                    text = render_hf(tmpl, conv, agp, bos_text, eos_text)
                else:
                    text = gemma_builtin(conv, agp, bos_text)
                fx["chat"].append({
                    "messages": conv, "add_generation_prompt": agp, "text": text,
                    "ids": llm.tokenize(text.encode(), add_bos=False, special=True),
                })
        out = os.path.join(OUT, name + ".json")
        with open(out, "w") as f:
            json.dump(fx, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")
        print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
