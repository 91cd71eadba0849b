#!/usr/bin/env python3
"""Renders an assistant turn with two parallel tool calls (and one with text
before a call) through the real chat templates of llama.cpp's sdist
(models/templates/*.jinja) with Jinja2, as transformers' apply_chat_template
does, and writes what the assistant turn adds to the prompt as
tests/fixtures/tool-calls/<family>.json: the text a model of that family
writes when it calls tools, which hearth's tool-call readers must parse.

Run by hand (needs jinja2: ~/.cache/hearth/venv-ref/bin/python):
  ~/.cache/hearth/venv-ref/bin/python scripts/make-tool-call-fixtures.py
"""
import json
import pathlib
import sys
from datetime import datetime

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

SDIST = pathlib.Path.home() / ".cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp/models/templates"
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/tool-calls"

# family -> (template file, special tokens, whether it renders two calls in one turn)
FAMILIES = {
    "hermes-qwen2.5": "Qwen-Qwen2.5-7B-Instruct.jinja",
    "hermes-2-pro": "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
    "qwen3": "Qwen-Qwen3-0.6B.jinja",
    "llama-3.1": "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "llama-3.2": "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "llama-3.3": "meta-llama-Llama-3.3-70B-Instruct.jinja",
    "mistral-nemo": "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    "mistral-small-3.2": "Mistral-Small-3.2-24B-Instruct-2506.jinja",
    "devstral": "unsloth-mistral-Devstral-Small-2507.jinja",
    "qwen3-coder": "Qwen3-Coder.jinja",
    "gpt-oss": "openai-gpt-oss-120b.jinja",
    "granite-3.3": "ibm-granite-granite-3.3-2B-Instruct.jinja",
    "granite-4.0": "ibm-granite-granite-4.0.jinja",
    "deepseek-r1": "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
}

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Current time in a timezone",
                                      "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}},
]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}},
    {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]


def tool_calls(calls):
    return [{"id": f"call{i}abcd", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for i, c in enumerate(calls)]


def render(src, messages, add_generation_prompt):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])

    def raise_exception(m):
        raise jinja2.exceptions.TemplateError(m)

    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda f: datetime(2026, 1, 2).strftime(f)
    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: json.dumps(
        x, indent=indent, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys)
    return env.from_string(src).render(messages=messages, tools=TOOLS, add_generation_prompt=add_generation_prompt,
                                       bos_token="<s>", eos_token="</s>")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    user = {"role": "user", "content": "Weather in Paris for 2 days, and the time there?"}
    for fam, fname in FAMILIES.items():
        src = (SDIST / fname).read_text()
        cases = []
        for label, calls, content in [("two calls", CALLS, ""), ("one call", CALLS[:1], ""),
                                      ("text then a call", CALLS[1:], "Let me check.")]:
            asst = {"role": "assistant", "content": content, "tool_calls": tool_calls(calls)}
            try:
                prompt = render(src, [user], True)
                full = render(src, [user, asst], False)
            except Exception as e:  # noqa: BLE001 - a template that refuses this case
                print(f"{fam}: {label}: {e}", file=sys.stderr)
                continue
            if not full.startswith(prompt):
                # the generation prompt differs from the assistant turn's opening
                # (e.g. a thinking block); cut at the longest common prefix,
                # not inside a `<...>` marker
                n = 0
                while n < min(len(full), len(prompt)) and full[n] == prompt[n]:
                    n += 1
                if full.rfind("<", 0, n) > full.rfind(">", 0, n):
                    n = full.rfind("<", 0, n)
                text = full[n:]
            else:
                text = full[len(prompt):]
            if fam == "granite-3.3":
                # its template does not render calls; its system prompt declares
                # the format: "<|tool_call|> followed by a JSON list of tools used"
                assert "<|tool_call|> followed by a JSON list" in src
                text = (content + "\n" if content else "") + "<|tool_call|>" + json.dumps(
                    [{"name": c["name"], "arguments": c["arguments"]} for c in calls])
            cases.append({"case": label, "text": text, "content": content, "calls": calls})
        (OUT / f"{fam}.json").write_text(json.dumps({"template": fname, "cases": cases}, indent=1, ensure_ascii=False) + "\n")
        print(fam, len(cases), repr(cases[0]["text"][:160]) if cases else "-")


if __name__ == "__main__":
    main()
