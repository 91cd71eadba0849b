"""A thinking model's reasoning kept apart from its answer, with the real
clients. The model `thinker` is qwen2.5-coder with a DeepSeek-R1-style chat
template beside it (`thinker.jinja`: the generation prompt opens `<think>`),
so the server really parses what the model writes: OpenAI
`reasoning_content` (message and stream deltas), Ollama `message.thinking`
and `/api/generate` `thinking`, streamed as it comes; `thinking_budget`
closes the reasoning; `think: false` / `reasoning_effort: "none"` skip it;
a JSON schema applies to the answer, not the reasoning. The same split
through the `anthropic` client (`thinking` blocks, `thinking_delta` events;
no thinking unless asked) and the Responses API (a `reasoning` item,
`response.reasoning_text.delta` events; `reasoning.effort` none skips it)."""
import json

import anthropic
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

# Anthropic: thinking blocks when asked (budget_tokens caps them), none otherwise.
a = anthropic.Anthropic(base_url=URL, api_key=API_KEY or "none", max_retries=0, timeout=300)
am = a.messages.create(model=MODEL, max_tokens=120, temperature=0, messages=ASK,
                       thinking={"type": "enabled", "budget_tokens": 30})
kinds = [b.type for b in am.content]
th_blocks = [b for b in am.content if b.type == "thinking"]
answer = "".join(b.text for b in am.content if b.type == "text")
check("anthropic: a thinking block, then the answer", kinds[:1] == ["thinking"] and "text" in kinds
      and len(th_blocks[0].thinking) > 10 and th_blocks[0].signature and "</think>" not in answer
      and "</think>" not in th_blocks[0].thinking and answer.strip(), str(am))
check("anthropic: the same reasoning as the OpenAI route", th_blocks[0].thinking == reasoning if th_blocks else False,
      f"{th_blocks} vs {reasoning!r}")
with a.messages.stream(model=MODEL, max_tokens=120, temperature=0, messages=ASK,
                       thinking={"type": "enabled", "budget_tokens": 30}) as s:
    evs = list(s)
    sm = s.get_final_message()
deltas = [e.delta.type for e in evs if e.type == "content_block_delta"]
check("anthropic stream: thinking_delta pieces, a signature, then text_delta",
      deltas.count("thinking_delta") > 5 and "signature_delta" in deltas and "text_delta" in deltas
      and deltas.index("signature_delta") < deltas.index("text_delta"), str(deltas))
def blocks(m):
    return [(b.type, getattr(b, "thinking", None), getattr(b, "text", None)) for b in m.content]
check("anthropic stream == whole", blocks(sm) == blocks(am), f"{sm.content} vs {am.content}")
plain = a.messages.create(model=MODEL, max_tokens=60, temperature=0, messages=ASK)
check("anthropic: no thinking unless asked", [b.type for b in plain.content] == ["text"]
      and "<think>" not in plain.content[0].text, str(plain))

# Responses: a reasoning item before the message; streamed as reasoning_text deltas.
rr = c.responses.create(model=MODEL, input=ASK[0]["content"], temperature=0, max_output_tokens=120,
                        reasoning={"effort": "low"}, extra_body={"thinking_budget": 30})
items = [o.type for o in rr.output]
rtext = "".join(p.text for o in rr.output if o.type == "reasoning" for p in (o.content or []))
check("responses: a reasoning item, then the message", items == ["reasoning", "message"] and len(rtext) > 10
      and "</think>" not in rr.output_text and rr.output_text.strip() and rr.usage.output_tokens > 0, str(rr.output))
with c.responses.stream(model=MODEL, input=ASK[0]["content"], temperature=0, max_output_tokens=120,
                        reasoning={"effort": "low"}, extra_body={"thinking_budget": 30}) as s:
    evs = [e.type for e in s]
    fr = s.get_final_response()
check("responses stream: reasoning_text deltas before output_text deltas",
      evs.count("response.reasoning_text.delta") > 5 and "response.output_text.delta" in evs
      and max(i for i, e in enumerate(evs) if e == "response.reasoning_text.delta")
      < evs.index("response.output_text.delta"), str(evs)[:400])
check("responses stream == whole", fr.output_text == rr.output_text
      and "".join(p.text for o in fr.output if o.type == "reasoning" for p in (o.content or [])) == rtext, str(fr.output))
rn = c.responses.create(model=MODEL, input=ASK[0]["content"], temperature=0, max_output_tokens=60,
                        reasoning={"effort": "none"})
check("responses: effort none skips the reasoning", [o.type for o in rn.output] == ["message"]
      and rn.output_text.strip(), str(rn.output))

done()
