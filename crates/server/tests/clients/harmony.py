"""gpt-oss's harmony format read back through the server, with the real
clients, on the synthetic gpt-oss file (real o200k_harmony vocabulary and
chat template, random weights). The model's own tokens carry the markers:
`gpt-oss-think` is the file with its template's generation prompt opening
the analysis channel (`<|start|>assistant<|channel|>analysis<|message|>`),
so what the model writes is `analysis` until the thinking budget writes
`<|end|><|start|>assistant<|channel|>final<|message|>` for it, and the rest
is `final`; `gpt-oss` is the file as it ships, whose forced `tool_choice`
opens a `commentary to=functions.NAME` message. Checked: analysis ->
OpenAI `reasoning_content` / Ollama `message.thinking`, final -> the
answer, the commentary call -> `tool_calls`; streamed and not; no harmony
marker leaks into any of them."""
import json

import httpx
import ollama
import openai

from common import API_KEY, URL, check, done

c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=300)
o = ollama.Client(host=URL)
hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
MARKERS = ["<|channel|>", "<|message|>", "<|start|>", "<|end|>", "<|call|>", "<|return|>", "<|constrain|>",
           "analysis", "commentary"]
BUDGET = 6


def clean(s):
    return isinstance(s, str) and not any(m in s for m in MARKERS)


def extra(obj, key):
    return (getattr(obj, "model_extra", None) or {}).get(key)


# --- analysis -> reasoning, final -> answer (OpenAI) ---
r = c.chat.completions.create(model="gpt-oss-think", messages=ASK, temperature=0, max_tokens=24,
                              extra_body={"thinking_budget": BUDGET})
m = r.choices[0].message
reasoning = extra(m, "reasoning_content") or ""
print(f"reasoning {reasoning!r}, answer {m.content!r}")
check("openai: analysis is reasoning_content", len(reasoning) > 0 and clean(reasoning), repr(m))
check("openai: final is the answer", bool(m.content) and clean(m.content), repr(m))

chunks = list(c.chat.completions.create(model="gpt-oss-think", messages=ASK, temperature=0, max_tokens=24, stream=True,
                                        extra_body={"thinking_budget": BUDGET}))
rs, cs, kinds = "", "", []
for ch in chunks:
    if not ch.choices:
        continue
    d = ch.choices[0].delta
    rc = extra(d, "reasoning_content")
    if rc:
        rs += rc
        kinds.append("r")
    if d.content:
        cs += d.content
        kinds.append("c")
first_c = kinds.index("c") if "c" in kinds else len(kinds)
check("openai stream: reasoning deltas, then answer deltas", "r" in kinds and "c" in kinds
      and "r" not in kinds[first_c:], "".join(kinds))
check("openai stream == whole", rs == reasoning and cs == m.content, f"{rs!r} {cs!r} vs {reasoning!r} {m.content!r}")

# --- the same through Ollama's /api/chat (same prompt, greedy: same split) ---
body = {"model": "gpt-oss-think", "messages": ASK, "stream": False, "thinking_budget": BUDGET,
        "options": {"temperature": 0, "num_predict": 24}}
od = httpx.post(URL + "/api/chat", headers=hdr, json=body, timeout=300).json()
check("ollama: analysis is message.thinking, final the content",
      od["message"].get("thinking") == reasoning and od["message"]["content"] == m.content, json.dumps(od)[:600])
th, ct = "", ""
with httpx.stream("POST", URL + "/api/chat", headers=hdr, json=dict(body, stream=True), timeout=300) as s:
    for line in s.iter_lines():
        if line.strip():
            msg = json.loads(line)["message"]
            th += msg.get("thinking") or ""
            ct += msg.get("content") or ""
check("ollama stream == whole", th == reasoning and ct == m.content, f"{th!r} {ct!r}")

# the real Ollama client, no budget: all of it stays in the analysis channel
oc = o.chat(model="gpt-oss-think", messages=ASK, options={"temperature": 0, "num_predict": 12}, think=True)
check("ollama client: message.thinking", bool(oc.message.thinking) and clean(oc.message.thinking)
      and not (oc.message.content or ""), str(oc.message))
oth = "".join(ch.message.thinking or "" for ch in o.chat(
    model="gpt-oss-think", messages=ASK, options={"temperature": 0, "num_predict": 12}, think=True, stream=True))
check("ollama client: thinking streams", oth == oc.message.thinking, f"{oth!r}")

# --- commentary to=functions.NAME -> a tool call (the template as shipped) ---
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
FORCE = {"type": "function", "function": {"name": "get_weather"}}
r = c.chat.completions.create(model="gpt-oss", messages=ASK, tools=TOOLS, tool_choice=FORCE, temperature=0, max_tokens=16)
ch = r.choices[0]
calls = ch.message.tool_calls or []
print(f"calls {calls!r}, content {ch.message.content!r}")
# (the random model's free, not strict, call runs on to the limit: the answer
# ends "length", as OpenAI's does at the limit, calls or not)
check("openai: a commentary call to functions.get_weather is a tool call",
      ch.finish_reason == "length" and len(calls) == 1 and calls[0].function.name == "get_weather"
      and clean(ch.message.content or "") and clean(calls[0].function.arguments), repr(ch))
chunks = list(c.chat.completions.create(model="gpt-oss", messages=ASK, tools=TOOLS, tool_choice=FORCE, temperature=0,
                                        max_tokens=16, stream=True))
deltas = [d for x in chunks if x.choices for d in (x.choices[0].delta.tool_calls or [])]
fins = [x.choices[0].finish_reason for x in chunks if x.choices and x.choices[0].finish_reason]
names = "".join(d.function.name or "" for d in deltas if d.function)
args = "".join(d.function.arguments or "" for d in deltas if d.function)
text = "".join(x.choices[0].delta.content or "" for x in chunks if x.choices)
check("openai stream: the call streams as tool_calls", names == "get_weather" and fins == ["length"]
      and clean(text) and args == (calls[0].function.arguments if calls else None), f"{names!r} {fins} {args!r} {text!r}")

# --- strict calls: the grammar holds a random-weights model to the schema ---
SCHEMA = {"type": "object", "properties": {"unit": {"type": "string", "enum": ["c", "f"]},
                                            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
          "required": ["unit", "days"], "additionalProperties": False}


def valid(args):
    try:
        a = json.loads(args)
    except (TypeError, ValueError):
        return False
    return set(a) == {"unit", "days"} and a["unit"] in ("c", "f") and type(a["days"]) is int and 1 <= a["days"] <= 7


STRICT = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "strict": True,
                                            "parameters": SCHEMA}},
          {"type": "function", "function": {"name": "get_time", "description": "Time in a zone", "parameters": {
              "type": "object", "properties": {"tz": {"type": "string"}}}}}]
for choice in ["required", FORCE]:
    r = c.chat.completions.create(model="gpt-oss", messages=ASK, tools=STRICT, tool_choice=choice, temperature=0,
                                  max_tokens=60)
    calls = r.choices[0].message.tool_calls or []
    print(f"strict {choice}: {calls!r}")
    check(f"openai strict ({choice}): a call whose arguments follow the schema",
          len(calls) == 1 and calls[0].function.name in ("get_weather", "get_time")
          and (calls[0].function.name != "get_weather" or valid(calls[0].function.arguments)), repr(r.choices[0]))
chunks = list(c.chat.completions.create(model="gpt-oss", messages=ASK, tools=STRICT, tool_choice=FORCE, temperature=0,
                                        max_tokens=60, stream=True))
sargs = "".join(d.function.arguments or "" for x in chunks if x.choices
                for d in (x.choices[0].delta.tool_calls or []) if d.function)
check("openai strict stream: the same call", valid(sargs) and json.loads(sargs) == json.loads(calls[0].function.arguments),
      f"{sargs!r}")
# the Responses API: `strict` left out is strict (OpenAI's default)
RT = [{"type": "function", "name": "get_weather", "description": "Weather of a city", "parameters": SCHEMA}]
rr = c.responses.create(model="gpt-oss", input=ASK, tools=RT, tool_choice="required", temperature=0,
                        max_output_tokens=60)
fcs = [o for o in rr.output if o.type == "function_call"]
check("responses: strict by default, the call follows the schema", len(fcs) == 1 and valid(fcs[0].arguments),
      str(rr.output))
evs = list(c.responses.create(model="gpt-oss", input=ASK, tools=RT, tool_choice="required", temperature=0,
                              max_output_tokens=60, stream=True))
ad = "".join(e.delta for e in evs if e.type == "response.function_call_arguments.delta")
check("responses stream: the call's arguments live, the same call", fcs and valid(ad)
      and json.loads(ad) == json.loads(fcs[0].arguments)
      and evs[-1].type == "response.completed", f"{ad!r} {[e.type for e in evs]}")

# /api/show: the template's harmony says thinking and tools
show = httpx.post(URL + "/api/show", headers=hdr, json={"model": "gpt-oss"}).json()
check("/api/show: thinking and tools", {"thinking", "tools"} <= set(show["capabilities"]), str(show["capabilities"]))

done()
