"""A thinking model's reasoning kept apart from its answer, with the real
clients. The model `thinker` is qwen2.5-coder with a DeepSeek-R1-style chat
template beside it (`thinker.jinja`: the generation prompt opens `<think>`),
so the server really parses what the model writes: OpenAI
`reasoning_content` (message and stream deltas), Ollama `message.thinking`
and `/api/generate` `thinking`, streamed as it comes; `thinking_budget`
closes the reasoning; `think: false` / `reasoning_effort: "none"` skip it;
a JSON schema applies to the answer, not the reasoning."""
import json

import httpx
import ollama
import openai

from common import API_KEY, URL, check, done, expect_error

MODEL = "thinker"
c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=300)
o = ollama.Client(host=URL)
ASK = [{"role": "user", "content": "What is 17 + 25? Think it through, then give the number."}]

r = c.chat.completions.create(model=MODEL, messages=ASK, temperature=0, max_tokens=120, extra_body={"thinking_budget": 30})
m = r.choices[0].message
reasoning = getattr(m, "reasoning_content", None) or (m.model_extra or {}).get("reasoning_content")
check("reasoning_content apart from the answer", isinstance(reasoning, str) and len(reasoning) > 10
      and "<think>" not in (m.content or "") and "</think>" not in (m.content or "") and "</think>" not in reasoning, str(m))
check("an answer after the reasoning", bool(m.content and m.content.strip()), str(m))

# Streamed: reasoning deltas first, then content deltas; the same texts.
chunks = list(c.chat.completions.create(model=MODEL, messages=ASK, temperature=0, max_tokens=120, stream=True,
                                        extra_body={"thinking_budget": 30}))
kinds = []
rs, cs = "", ""
for ch in chunks:
    if not ch.choices:
        continue
    d = ch.choices[0].delta
    rc = (d.model_extra or {}).get("reasoning_content")
    if rc:
        rs += rc
        kinds.append("r")
    if d.content:
        cs += d.content
        kinds.append("c")
first_c = kinds.index("c") if "c" in kinds else len(kinds)
check("stream: reasoning streams before the answer, in pieces", kinds.count("r") > 5 and "r" not in kinds[first_c:], "".join(kinds))
check("stream == whole", rs == reasoning and cs == m.content, f"{rs!r} {cs!r}")

# The budget caps it: a smaller budget, a shorter reasoning.
r2 = c.chat.completions.create(model=MODEL, messages=ASK, temperature=0, max_tokens=120, extra_body={"thinking_budget": 8})
r2r = (r2.choices[0].message.model_extra or {}).get("reasoning_content") or ""
check("budget 8 < budget 30", 0 < len(r2r) < len(reasoning), f"{r2r!r} vs {reasoning!r}")
# reasoning_effort "none": no reasoning at all
r3 = c.chat.completions.create(model=MODEL, messages=ASK, temperature=0, max_tokens=60, reasoning_effort="none")
check("reasoning_effort none skips it", not (r3.choices[0].message.model_extra or {}).get("reasoning_content")
      and r3.choices[0].message.content, str(r3.choices[0].message))
expect_error("a bad reasoning_effort is 400", lambda: c.chat.completions.create(
    model=MODEL, messages=ASK, max_tokens=5, reasoning_effort="max"), 400, "reasoning_effort")

# Free to think, strict to answer: the schema binds the answer only.
schema = {"type": "object", "properties": {"sum": {"type": "integer"}}, "required": ["sum"], "additionalProperties": False}
r4 = c.chat.completions.create(model=MODEL, messages=ASK, temperature=0, max_tokens=120,
                               response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
                               extra_body={"thinking_budget": 20})
m4 = r4.choices[0].message
r4r = (m4.model_extra or {}).get("reasoning_content") or ""
check("schema answer after free reasoning", len(r4r) > 5 and not r4r.lstrip().startswith("{")
      and isinstance(json.loads(m4.content)["sum"], int), str(m4))

# Ollama: message.thinking, streamed; /api/generate thinking; think false.
od = o.chat(model=MODEL, messages=ASK, options={"temperature": 0, "num_predict": 120}, think=True)
check("ollama message.thinking", bool(od.message.thinking) and "</think>" not in (od.message.content or ""), str(od.message))
th, ct = "", ""
n_th = 0
for ch in o.chat(model=MODEL, messages=ASK, options={"temperature": 0, "num_predict": 120}, think=True, stream=True):
    if ch.message.thinking:
        th += ch.message.thinking
        n_th += 1
    ct += ch.message.content or ""
check("ollama thinking streams", n_th > 5 and th == od.message.thinking and ct == od.message.content, f"{n_th} {th!r}")
g = o.generate(model=MODEL, prompt=ASK[0]["content"], options={"temperature": 0, "num_predict": 120}, think=True)
check("ollama generate thinking", bool(g.thinking) and g.response and "</think>" not in g.response, str(g))
off = o.chat(model=MODEL, messages=ASK, options={"temperature": 0, "num_predict": 60}, think=False)
check("ollama think false: no thinking", not off.message.thinking and off.message.content, str(off.message))
with httpx.Client(timeout=120) as h:
    hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
    e = h.post(URL + "/api/chat", headers=hdr, json={"model": MODEL, "messages": ASK, "think": "extreme", "stream": False})
    check("ollama: a bad think is 400", e.status_code == 400 and "think" in e.json()["error"], e.text)
    # /api/show says the model thinks (its template), and that qwen-coder takes tools
    show = h.post(URL + "/api/show", headers=hdr, json={"model": MODEL}).json()
    check("/api/show: thinking capability", "thinking" in show["capabilities"], str(show["capabilities"]))
    show = h.post(URL + "/api/show", headers=hdr, json={"model": "qwen-coder"}).json()
    check("/api/show: tools capability", "tools" in show["capabilities"] and "thinking" not in show["capabilities"],
          str(show["capabilities"]))

done()
