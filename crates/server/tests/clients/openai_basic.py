"""The real `openai` package against hearth serve: models, chat, completions,
streaming, usage, logprobs, n, stop, seed, JSON mode, errors."""
import json

import httpx
import openai

from common import API_KEY, MODEL, URL, check, done, expect_error

c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=120)
MSG = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]

# Models.
ids = [m.id for m in c.models.list().data]
check("models.list has the model", MODEL in ids, str(ids))
check("models.retrieve", c.models.retrieve(MODEL).id == MODEL)
expect_error("models.retrieve unknown is 404", lambda: c.models.retrieve("no-such-model"), 404)

# Chat, non-streaming, greedy.
r = c.chat.completions.create(model=MODEL, messages=MSG, temperature=0, max_tokens=24)
text = r.choices[0].message.content
check("chat content", isinstance(text, str) and len(text) > 0, repr(text))
check("chat object", r.object == "chat.completion" and r.id.startswith("chatcmpl-"))
check("chat role", r.choices[0].message.role == "assistant")
check("chat finish_reason", r.choices[0].finish_reason in ("stop", "length"))
check("chat usage", r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 24
      and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, str(r.usage))

# The same request streamed gives the same text, then usage, then [DONE].
chunks = list(c.chat.completions.create(model=MODEL, messages=MSG, temperature=0, max_tokens=24, stream=True,
                                        stream_options={"include_usage": True}))
streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
check("stream text == non-stream text", streamed == text, f"{streamed!r} vs {text!r}")
check("stream chunk object", all(ch.object == "chat.completion.chunk" for ch in chunks))
check("stream first delta has role", chunks[0].choices[0].delta.role == "assistant")
fins = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
check("stream one finish_reason", fins == [r.choices[0].finish_reason], str(fins))
check("stream usage chunk last", chunks[-1].choices == [] and chunks[-1].usage is not None
      and chunks[-1].usage.completion_tokens == r.usage.completion_tokens, str(chunks[-1]))
check("stream ids equal", len({ch.id for ch in chunks}) == 1)
# The repeated prompt was read from the first request's cache (all but the
# last token, which is computed for its logits), and usage says so.
cached = chunks[-1].usage.prompt_tokens_details.cached_tokens
check("stream usage cached_tokens", cached == chunks[-1].usage.prompt_tokens - 1, str(chunks[-1].usage))
check("chat usage cached_tokens present", r.usage.prompt_tokens_details.cached_tokens >= 0, str(r.usage))

with httpx.Client(timeout=120) as h:
    hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
    raw = h.post(URL + "/v1/chat/completions", headers=hdr,
                 json={"model": MODEL, "messages": MSG, "max_tokens": 4, "stream": True, "temperature": 0})
    check("raw SSE content-type", raw.headers["content-type"].startswith("text/event-stream"))
    check("raw SSE ends with [DONE]", raw.text.endswith("data: [DONE]\n\n"), raw.text[-80:])
    check("raw SSE events are data lines", all(b.startswith("data: ") for b in raw.text.strip().split("\n\n")))

    # Malformed JSON and missing fields name what is wrong.
    bad = h.post(URL + "/v1/chat/completions", headers={**hdr, "content-type": "application/json"}, content=b"{not json")
    check("malformed JSON is 400", bad.status_code == 400 and "JSON" in bad.json()["error"]["message"], bad.text)
    miss = h.post(URL + "/v1/chat/completions", headers=hdr, json={"model": MODEL})
    check("missing messages names it", miss.status_code == 400 and "messages" in miss.json()["error"]["message"], miss.text)
    wrong = h.post(URL + "/v1/chat/completions", headers=hdr, json={"model": MODEL, "messages": [{"role": "user", "content": 5}]})
    check("bad content type is 400 naming messages", wrong.status_code == 400 and "messages" in wrong.text, wrong.text)
    r405 = h.get(URL + "/v1/chat/completions", headers=hdr)
    check("405 is an error object", r405.status_code == 405 and "error" in r405.json(), r405.text)
    r404 = h.get(URL + "/v1/nothing", headers=hdr)
    check("404 endpoint is an error object", r404.status_code == 404 and "error" in r404.json(), r404.text)
    e = h.post(URL + "/v1/chat/completions", headers=hdr, json={"model": MODEL, "messages": MSG, "top_p": 7}).json()
    check("error object shape", set(e["error"]) >= {"message", "type", "param", "code"} and e["error"]["param"] == "top_p", str(e))

# Completions.
r = c.completions.create(model=MODEL, prompt="The capital of France is", temperature=0, max_tokens=8)
check("completion text", len(r.choices[0].text) > 0 and r.object == "text_completion", str(r))
check("completion usage", r.usage.completion_tokens <= 8 and r.usage.prompt_tokens > 0)
s = "".join(ch.choices[0].text for ch in c.completions.create(model=MODEL, prompt="The capital of France is",
                                                               temperature=0, max_tokens=8, stream=True) if ch.choices)
check("completion stream == non-stream", s == r.choices[0].text, f"{s!r} vs {r.choices[0].text!r}")
r = c.completions.create(model=MODEL, prompt="1, 2, 3, 4,", temperature=0, max_tokens=30, stop=[" 7"])
check("stop string cuts", " 7" not in r.choices[0].text and r.choices[0].finish_reason == "stop", repr(r.choices[0].text))
r = c.completions.create(model=MODEL, prompt="Once upon a time", temperature=0, max_tokens=5)
check("max_tokens -> length", r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5)
r = c.completions.create(model=MODEL, prompt="Hello", temperature=0, max_tokens=3, logprobs=2)
lp = r.choices[0].logprobs
check("completion logprobs", len(lp.tokens) == 3 and all(x <= 0 for x in lp.token_logprobs) and len(lp.top_logprobs[0]) == 2, str(lp))

# Logprobs in chat.
r = c.chat.completions.create(model=MODEL, messages=MSG, temperature=0, max_tokens=4, logprobs=True, top_logprobs=3)
cl = r.choices[0].logprobs.content
check("chat logprobs", len(cl) >= 1 and all(t.logprob <= 0 and len(t.top_logprobs) == 3 for t in cl), str(cl)[:300])
check("greedy token is the top one", cl[0].top_logprobs[0].token == cl[0].token, str(cl[0]))

chunks = list(c.chat.completions.create(model=MODEL, messages=MSG, temperature=0, max_tokens=4, logprobs=True, top_logprobs=2, stream=True))
slp = [t for ch in chunks if ch.choices and ch.choices[0].logprobs for t in ch.choices[0].logprobs.content]
check("stream logprobs", [t.token for t in slp] == [t.token for t in cl] and all(len(t.top_logprobs) == 2 for t in slp), str(slp)[:300])
r = c.completions.create(model=MODEL, prompt="Hello there", temperature=0, max_tokens=3, echo=True)
check("completion echo", r.choices[0].text.startswith("Hello there"), repr(r.choices[0].text))

# n, seed, penalties.
r = c.chat.completions.create(model=MODEL, messages=MSG, temperature=1.0, max_tokens=8, n=2, seed=7)
check("n=2 gives two choices", [ch.index for ch in r.choices] == [0, 1])
a = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0, max_tokens=16, seed=42)
b = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0, max_tokens=16, seed=42)
check("same seed, same text", a.choices[0].message.content == b.choices[0].message.content)
r = c.chat.completions.create(model=MODEL, messages=MSG, max_completion_tokens=6, presence_penalty=0.5, frequency_penalty=0.5, top_p=0.9)
check("penalties accepted", r.usage.completion_tokens <= 6)

# logit_bias: +100 on one token makes greedy decoding repeat it; ignore_eos
# (llama.cpp server's extension) runs to max_tokens.
P = "The capital of France is"
plain = c.completions.create(model=MODEL, prompt=P, temperature=0, max_tokens=3).choices[0].text
one = c.completions.create(model=MODEL, prompt=P, temperature=0, max_tokens=1, logit_bias={"100": 100}).choices[0].text
r = c.completions.create(model=MODEL, prompt=P, temperature=0, max_tokens=3, logit_bias={"100": 100})
check("logit_bias forces a token", len(one) > 0 and r.choices[0].text == one * 3 and r.choices[0].text != plain,
      f"{one!r} {r.choices[0].text!r} {plain!r}")
ask = [{"role": "user", "content": "Say OK."}]
r = c.chat.completions.create(model=MODEL, messages=ask, temperature=0, max_tokens=40)
check("ends early without ignore_eos", r.choices[0].finish_reason == "stop" and r.usage.completion_tokens < 40, str(r.usage))
r = c.chat.completions.create(model=MODEL, messages=ask, temperature=0, max_tokens=40, extra_body={"ignore_eos": True})
check("ignore_eos runs to max_tokens", r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 40, str(r.usage))
expect_error("logit_bias key not an id is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, logit_bias={"abc": 1}), 400, "logit_bias")
expect_error("logit_bias value out of range is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, logit_bias={"5": 500}), 400, "logit_bias")
expect_error("logit_bias id past the vocabulary is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, logit_bias={"99999999": 1}), 400, "vocabulary")

# Embeddings: one unit vector per input, in order; a paraphrase closer than
# unrelated text; base64 (the client's default) and float agree.
texts = ["The cat sat on the mat.", "A kitten was sitting on the rug.",
         "Quarterly revenue grew by twelve percent, driven by exports."]
e = c.embeddings.create(model=MODEL, input=texts)
vs = [d.embedding for d in e.data]
dot = lambda a, b: sum(x * y for x, y in zip(a, b))
check("embeddings: one per input, in order", [d.index for d in e.data] == [0, 1, 2] and len({len(v) for v in vs}) == 1
      and len(vs[0]) > 100, str([len(v) for v in vs]))
check("embeddings are unit vectors", all(abs(dot(v, v) - 1) < 1e-3 for v in vs))
check("a paraphrase is closer than unrelated text", dot(vs[0], vs[1]) > dot(vs[0], vs[2]) + 0.05,
      f"{dot(vs[0], vs[1])} vs {dot(vs[0], vs[2])}")
check("embeddings usage", e.usage.prompt_tokens > 0 and e.usage.total_tokens == e.usage.prompt_tokens, str(e.usage))
f = c.embeddings.create(model=MODEL, input=texts[0], encoding_format="float")
check("float and base64 agree", max(abs(a - b) for a, b in zip(f.data[0].embedding, vs[0])) < 1e-6)
sh = c.embeddings.create(model=MODEL, input=texts[0], dimensions=64, encoding_format="float").data[0].embedding
check("dimensions shortens, unit length", len(sh) == 64 and abs(dot(sh, sh) - 1) < 1e-3)
expect_error("empty embedding input is 400", lambda: c.embeddings.create(model=MODEL, input=""), 400, "input")
expect_error("too long embedding input is 400", lambda: c.embeddings.create(model=MODEL, input="word " * 5000), 400, "context")
expect_error("embeddings of an unknown model is 404", lambda: c.embeddings.create(model="nope", input="x"), 404)

# Function calling: qwen2.5-coder's template takes tools (smollm2's does not).
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
if "qwen-coder" in ids:
    r = c.chat.completions.create(model="qwen-coder", messages=ASK, tools=TOOLS, temperature=0, max_tokens=80)
    ch = r.choices[0]
    calls = ch.message.tool_calls or []
    check("a tool call comes back as tool_calls", ch.finish_reason == "tool_calls" and len(calls) == 1
          and calls[0].function.name == "get_weather" and calls[0].id.startswith("call_")
          and json.loads(calls[0].function.arguments).get("city") == "Paris", str(ch))
    chunks = list(c.chat.completions.create(model="qwen-coder", messages=ASK, tools=TOOLS, temperature=0, max_tokens=80, stream=True))
    deltas = [d for ch in chunks if ch.choices for d in (ch.choices[0].delta.tool_calls or [])]
    fins = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    # OpenAI's chunk format: the first delta of a call has its index, id and
    # name; the arguments follow in pieces that add up to the whole
    args = "".join(d.function.arguments or "" for d in deltas if d.index == 0)
    check("a streamed tool call, in pieces", len(deltas) > 2 and deltas[0].index == 0 and deltas[0].id.startswith("call_")
          and deltas[0].function.name == "get_weather" and all(d.id is None for d in deltas[1:])
          and json.loads(args) == json.loads(calls[0].function.arguments) and fins == ["tool_calls"], str(chunks)[:600])
    # the streaming helper accumulates the same call
    stream_api = getattr(c.chat.completions, "stream", None) or c.beta.chat.completions.stream
    with stream_api(model="qwen-coder", messages=ASK, tools=TOOLS, temperature=0, max_tokens=80) as s:
        for _ in s:
            pass
        fc = s.get_final_completion().choices[0].message.tool_calls or []
    check("stream helper assembles the call", len(fc) == 1 and fc[0].function.name == "get_weather"
          and json.loads(fc[0].function.arguments) == json.loads(calls[0].function.arguments), str(fc))
    if calls:
        back = ASK + [ch.message.model_dump(exclude_none=True),
                      {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temp_c": 18})}]
        r2 = c.chat.completions.create(model="qwen-coder", messages=back, tools=TOOLS, temperature=0, max_tokens=30)
        check("the call and its result go back in", r2.choices[0].finish_reason in ("stop", "length", "tool_calls"))
    r3 = c.chat.completions.create(model="qwen-coder", messages=ASK, tools=TOOLS, tool_choice="none", temperature=0, max_tokens=30)
    check("tool_choice none renders no tools", r3.choices[0].message.tool_calls is None and r3.choices[0].finish_reason != "tool_calls")
    # tool_choice "required": the answer starts as a call, whatever the question
    r4 = c.chat.completions.create(model="qwen-coder", messages=[{"role": "user", "content": "Hi! How are you?"}],
                                   tools=TOOLS, tool_choice="required", temperature=0, max_tokens=60)
    calls4 = r4.choices[0].message.tool_calls or []
    check("tool_choice required gives a call", r4.choices[0].finish_reason == "tool_calls" and len(calls4) >= 1
          and calls4[0].function.name == "get_weather", str(r4.choices[0]))
    # a named function is called even when another fits the question better
    TIME = {"type": "function", "function": {"name": "get_time", "description": "Current time in a time zone",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
    r5 = c.chat.completions.create(model="qwen-coder", messages=ASK, tools=TOOLS + [TIME],
                                   tool_choice={"type": "function", "function": {"name": "get_time"}}, temperature=0, max_tokens=60)
    calls5 = r5.choices[0].message.tool_calls or []
    check("a named tool_choice calls that function", len(calls5) == 1 and calls5[0].function.name == "get_time"
          and isinstance(json.loads(calls5[0].function.arguments), dict), str(r5.choices[0]))
    # strict: the forced call's arguments follow the function's parameters schema
    STRICT = [{"type": "function", "function": {"name": "set_alarm", "strict": True, "description": "Set an alarm",
               "parameters": {"type": "object", "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23},
                                                               "label": {"enum": ["work", "gym", "sleep"]}},
                              "required": ["hour", "label"], "additionalProperties": False}}}]
    for seed in (1, 2):
        r6 = c.chat.completions.create(model="qwen-coder", messages=[{"role": "user", "content": "Wake me up at 30 o'clock for yoga."}],
                                       tools=STRICT, tool_choice="required", temperature=1.0, seed=seed, max_tokens=60)
        calls6 = r6.choices[0].message.tool_calls or []
        a6 = json.loads(calls6[0].function.arguments) if calls6 else {}
        check(f"strict tool arguments follow the schema (seed {seed})", len(calls6) == 1 and set(a6) == {"hour", "label"}
              and isinstance(a6["hour"], int) and 0 <= a6["hour"] <= 23 and a6["label"] in ("work", "gym", "sleep"), str(r6.choices[0]))
    # strict under tool_choice auto: the model decides; a call it makes follows the schema
    def alarm_ok(tc):
        a = json.loads(tc.function.arguments)
        return (tc.function.name == "set_alarm" and set(a) == {"hour", "label"} and isinstance(a["hour"], int)
                and 0 <= a["hour"] <= 23 and a["label"] in ("work", "gym", "sleep"))
    made = []
    for seed in (1, 2, 3):
        r7 = c.chat.completions.create(model="qwen-coder", messages=[{"role": "user", "content": "Wake me up at 30 o'clock for yoga."}],
                                       tools=STRICT, temperature=1.0, seed=seed, max_tokens=60)
        made += [(seed, tc) for tc in (r7.choices[0].message.tool_calls or [])]
    check("strict under auto: the calls made follow the schema", made and all(alarm_ok(tc) for _, tc in made),
          str([(s, tc.function.arguments) for s, tc in made]))
    r8 = c.chat.completions.create(model="qwen-coder", messages=[{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
                                   tools=STRICT, temperature=0, max_tokens=30)
    check("strict under auto: free text stays free", not r8.choices[0].message.tool_calls
          and (r8.choices[0].message.content or "").strip(), str(r8.choices[0]))
    chunks = list(c.chat.completions.create(model="qwen-coder", messages=[{"role": "user", "content": "Wake me up at 30 o'clock for yoga."}],
                                            tools=STRICT, temperature=1.0, seed=1, max_tokens=60, stream=True))
    args = "".join(d.function.arguments or "" for ch in chunks if ch.choices for d in (ch.choices[0].delta.tool_calls or []))
    first = [tc for s_, tc in made if s_ == 1]
    check("strict under auto, streamed: the same call", (json.loads(args) if args else None)
          == (json.loads(first[0].function.arguments) if first else None), args)
    expect_error("tool_choice naming an undeclared function is 400", lambda: c.chat.completions.create(
        model="qwen-coder", messages=ASK, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}}), 400, "tool_choice")
    expect_error("tool_choice required without tools is 400", lambda: c.chat.completions.create(
        model="qwen-coder", messages=ASK, tool_choice="required"), 400, "tool_choice")
    expect_error("a tool without a name is 400", lambda: c.chat.completions.create(model="qwen-coder", messages=ASK, tools=[{"type": "function", "function": {}}]), 400, "tools[0]")
else:
    check("qwen-coder is served (tools test)", False, str(ids))
expect_error("tools for a template without function calling is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, tools=TOOLS), 400, "function calling")

# JSON mode: the output parses.
for q in ["Give me a JSON object describing a cat with name and age.", "List three colors."]:
    r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": q}], max_tokens=60,
                                  response_format={"type": "json_object"}, temperature=0)
    try:
        v = json.loads(r.choices[0].message.content)
        check(f"json_object parses: {q[:20]}", isinstance(v, dict), r.choices[0].message.content)
    except ValueError:
        check(f"json_object parses: {q[:20]}", False, r.choices[0].message.content)

# Errors through the client.
expect_error("unknown model is 404", lambda: c.chat.completions.create(model="nope", messages=MSG), 404, "nope")
expect_error("temperature out of range is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, temperature=5), 400, "temperature")
expect_error("max_tokens 0 is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, max_tokens=0), 400, "max_tokens")
expect_error("n too big is 400", lambda: c.chat.completions.create(model=MODEL, messages=MSG, n=100), 400, "n must")
expect_error("empty messages is 400", lambda: c.chat.completions.create(model=MODEL, messages=[]), 400, "messages")
expect_error("bad role is 400", lambda: c.chat.completions.create(model=MODEL, messages=[{"role": "wizard", "content": "x"}]), 400, "role")
long = "word " * 5000
expect_error("context overflow is 400", lambda: c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": long}]), 400, "context")
done()
