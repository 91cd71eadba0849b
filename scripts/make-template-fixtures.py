#!/usr/bin/env python3
"""Render real chat templates through Python's Jinja2 the way Hugging Face
transformers' `apply_chat_template` does, for a fixed set of conversations,
into tests/fixtures/chat-templates.json. crates/tokenizer/tests/templates.rs
renders the same conversations with hearth's ChatTemplate (minijinja) and
compares byte for byte; where Jinja2 raises, hearth must fail too.

The templates are read at test time from the llama-cpp-python sdist
(`models/templates/*.jinja`, fetched by scripts/fetch-llamacpp-sdist.sh); the
fixture records each template's SHA-256 so a changed file is noticed.

transformers' environment (src/transformers/utils/chat_template_utils.py,
`_compile_jinja_template` and `render_jinja_template`):
  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
      extensions=[AssistantTracker, loopcontrols]), AssistantTracker being the
      `{% generation %}...{% endgeneration %}` tag, which renders its body
      (it only records where, for assistant masks);
  filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=None,
      separators=None, sort_keys=False) with those keyword arguments;
  globals raise_exception (TemplateError) and strftime_now (datetime.now());
  render(messages=..., tools=tools or None, documents=None,
      add_generation_prompt=..., **special tokens, **template kwargs).
strftime_now is pinned to NOW so the output is reproducible; hearth's test
pins its clock to the same instant.

Every other template of the sdist is rendered too; to keep the fixture small
only the SHA-256 and length of those texts are kept (`--full` keeps the texts,
for looking at a mismatch).

Usage: ~/.cache/hearth/venv-ref/bin/python scripts/make-template-fixtures.py [--full]
"""
import hashlib
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "chat-templates.json")
SDIST = os.environ.get(
    "HEARTH_LLAMACPP_SDIST",
    os.path.expanduser("~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp"),
)
TEMPLATES = os.path.join(SDIST, "models", "templates")

# 2025-03-07 14:05:09 UTC
NOW = datetime(2025, 3, 7, 14, 5, 9)
NOW_UNIX = 1741356309

# The families of issue 22 (file name -> bos_token, eos_token as the model's
# tokenizer has them).
FAMILIES = {
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.3-70B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "Qwen-Qwen3-0.6B": ("", "<|im_end|>"),
    "Qwen3.5-4B": ("", "<|im_end|>"),
    "Qwen3-Coder": ("", "<|im_end|>"),
    "Qwen-Qwen2.5-7B-Instruct": ("", "<|im_end|>"),
    "Qwen-QwQ-32B": ("", "<|im_end|>"),
    "microsoft-Phi-3.5-mini-instruct": ("<s>", "<|endoftext|>"),
    "HuggingFaceTB-SmolLM3-3B": ("", "<|im_end|>"),
    "ibm-granite-granite-3.3-2B-Instruct": ("<|end_of_text|>", "<|end_of_text|>"),
    "ibm-granite-granite-4.0": ("<|end_of_text|>", "<|end_of_text|>"),
    "ibm-granite-granite-4.1": ("<|end_of_text|>", "<|end_of_text|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "mistralai-Ministral-3-14B-Reasoning-2512": ("<s>", "</s>"),
    "unsloth-mistral-Devstral-Small-2507": ("<s>", "</s>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "openai-gpt-oss-120b": ("<|startoftext|>", "<|return|>"),
    "google-gemma-4-31B-it": ("<bos>", "<eos>"),
    "google-gemma-4-31B-it-interleaved": ("<bos>", "<eos>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web; returns the top results",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query"],
            },
        },
    },
]

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer in one sentence."}
USER = {"role": "user", "content": "What's the weather like in Paris? <b>Be brief</b> & \"exact\" — ünïcødé ✓"}
ASSISTANT = {"role": "assistant", "content": "It is sunny and 18 °C in Paris."}
USER2 = {"role": "user", "content": "And in Tokyo?\nTwo lines."}
# Mistral templates want 9 alphanumeric characters in a call id.
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call12345",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        }
    ],
}
RESULT = {"role": "tool", "tool_call_id": "call12345", "content": "{\"temperature\": 18, \"sky\": \"sunny\"}"}
ANSWER = {"role": "assistant", "content": "It is 18 °C and sunny in Paris."}
REASONED = {
    "role": "assistant",
    "content": "Paris is the capital of France.",
    "reasoning_content": "The user asks for the capital; that is Paris.",
}

CONVERSATIONS = {
    "basic": {"messages": [SYSTEM, USER]},
    "multi": {"messages": [SYSTEM, USER, ASSISTANT, USER2]},
    "no_system": {"messages": [USER]},
    "ends_with_assistant": {"messages": [USER, ASSISTANT]},
    "tools": {"messages": [SYSTEM, USER], "tools": TOOLS},
    "tool_calls": {"messages": [USER, CALL, RESULT], "tools": TOOLS},
    "tool_calls_done": {"messages": [SYSTEM, USER, CALL, RESULT, ANSWER, USER2], "tools": TOOLS},
    "reasoning": {"messages": [{"role": "user", "content": "Capital of France?"}, REASONED, USER2]},
    # two user turns in a row: templates that insist on alternation refuse it
    "not_alternating": {"messages": [USER, USER2]},
}

# hearth's JSON values (serde_json without `preserve_order`) keep object keys
# sorted, whatever order the client sent them in: render Jinja2 with the same
# order, so that `tojson` of a tool or message is compared like for like.
CONVERSATIONS = json.loads(json.dumps(CONVERSATIONS, sort_keys=True))

# (conversation, add_generation_prompt, template kwargs)
CASES = [
    ("basic", True, {}),
    ("basic", False, {}),
    ("multi", True, {}),
    ("no_system", True, {}),
    ("ends_with_assistant", False, {}),
    ("tools", True, {}),
    ("tool_calls", True, {}),
    ("tool_calls_done", True, {}),
    ("reasoning", True, {}),
    ("basic", True, {"enable_thinking": False}),
    ("tool_calls", True, {"enable_thinking": False}),
    ("reasoning", True, {"enable_thinking": True}),
    ("multi", True, {"reasoning_effort": "high"}),
    ("not_alternating", True, {}),
]


class Generation(jinja2.ext.Extension):
    """transformers' AssistantTracker when not tracking: the body, as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return NOW.strftime(format)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def all_templates():
    """Every template of the sdist: the families above with their tokens, the
    others with "<s>"/"</s>" (the texts only matter as strings both sides print)."""
    names = sorted(f[: -len(".jinja")] for f in os.listdir(TEMPLATES) if f.endswith(".jinja"))
    return {n: FAMILIES.get(n, ("<s>", "</s>")) for n in names}


def main():
    full = "--full" in sys.argv[1:]
    env = environment()
    out = {
        "now_unix": NOW_UNIX,
        "conversations": CONVERSATIONS,
        "templates": [],
    }
    for name, (bos, eos) in all_templates().items():
        path = os.path.join(TEMPLATES, name + ".jinja")
        with open(path, "rb") as f:
            raw = f.read()
        src = raw.decode("utf-8")
        try:
            tmpl = env.from_string(src)
        except jinja2.exceptions.TemplateSyntaxError as e:
            print(f"{name}: not compiled by Jinja2 ({e}); left out", file=sys.stderr)
            continue
        cases = []
        for conv, agp, kwargs in CASES:
            c = CONVERSATIONS[conv]
            case = {"conversation": conv, "add_generation_prompt": agp, "kwargs": kwargs}
            try:
                text = tmpl.render(
                    messages=c["messages"],
                    tools=c.get("tools"),
                    documents=None,
                    add_generation_prompt=agp,
                    bos_token=bos,
                    eos_token=eos,
                    **kwargs,
                )
                if full or name in FAMILIES:
                    case["text"] = text
                else:
                    case["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
                    case["len"] = len(text.encode("utf-8"))
            except Exception as e:  # raise_exception, undefined, TypeError, SecurityError...
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
        out["templates"].append(
            {
                "name": name,
                # the families: texts kept, no divergence tolerated
                "family": name in FAMILIES,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "bos_token": bos,
                "eos_token": eos,
                "cases": cases,
            }
        )
        errs = sum("error" in c for c in cases)
        print(f"{name}: {len(cases) - errs} rendered, {errs} raised", file=sys.stderr)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
