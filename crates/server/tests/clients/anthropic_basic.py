"""The real `anthropic` package against hearth serve: messages.create,
messages.stream (Anthropic's exact event order), count_tokens, stop
sequences, a tool round trip (qwen2.5-coder's template takes tools), the
assistant prefill, errors in Anthropic's shape, x-api-key."""
import json

import anthropic
import httpx

from common import API_KEY, MODEL, URL, check, done, expect_error

c = anthropic.Anthropic(base_url=URL, api_key=API_KEY or "none", max_retries=0, timeout=120)
MSG = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]

# Whole message, greedy.
m = c.messages.create(model=MODEL, max_tokens=24, temperature=0, messages=MSG)
text = m.content[0].text if m.content else ""
check("create: a text block", m.type == "message" and m.role == "assistant" and m.content[0].type == "text"
      and len(text) > 0, str(m))
check("create: id and model", m.id.startswith("msg_") and m.model == MODEL, str(m))
check("create: stop_reason", m.stop_reason in ("end_turn", "max_tokens") and m.stop_sequence is None, str(m))
check("create: usage", m.usage.input_tokens + (m.usage.cache_read_input_tokens or 0) > 0
      and 0 < m.usage.output_tokens <= 24, str(m.usage))

# count_tokens counts the prompt create reads (cache reads included).
n = c.messages.count_tokens(model=MODEL, messages=MSG)
check("count_tokens == the prompt create read", n.input_tokens == m.usage.input_tokens + (m.usage.cache_read_input_tokens or 0),
      f"{n.input_tokens} vs {m.usage}")
# (smollm2's template has a default system prompt of its own: a long one replaces it)
LONG = "You are a geography teacher. " * 30
n2 = c.messages.count_tokens(model=MODEL, messages=MSG, system=LONG)
n3 = c.messages.count_tokens(model=MODEL, messages=MSG, system=LONG + LONG)
check("count_tokens counts the system prompt", n3.input_tokens - n2.input_tokens > 100, f"{n2.input_tokens} vs {n3.input_tokens}")

# The same request streamed: the same text, Anthropic's event order, the final message.
with c.messages.stream(model=MODEL, max_tokens=24, temperature=0, messages=MSG) as s:
    events = list(s)
    final = s.get_final_message()
types = [e.type for e in events]
raw_types = [t for t in types if t in ("message_start", "content_block_start", "content_block_delta",
                                       "content_block_stop", "message_delta", "message_stop")]
check("stream: event order", raw_types[0] == "message_start" and raw_types[1] == "content_block_start"
      and raw_types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
      and set(raw_types[2:-3]) == {"content_block_delta"}, str(raw_types))
check("stream: same text", final.content[0].text == text, f"{final.content[0].text!r} vs {text!r}")
check("stream: final message", final.stop_reason == m.stop_reason and final.usage.output_tokens == m.usage.output_tokens,
      str(final))
check("stream: text_stream", "".join(e.delta.text for e in events if e.type == "content_block_delta") == text)
# the repeated prompt came from the cache, and usage says so in message_delta
check("stream: cache_read_input_tokens", (final.usage.cache_read_input_tokens or 0) > 0
      and final.usage.input_tokens + final.usage.cache_read_input_tokens == n.input_tokens, str(final.usage))

# Raw SSE: `event:` lines naming each data's type.
with httpx.Client(timeout=120) as h:
    hdr = {"x-api-key": API_KEY} if API_KEY else {}
    raw = h.post(URL + "/v1/messages", headers=hdr,
                 json={"model": MODEL, "max_tokens": 4, "stream": True, "messages": MSG, "temperature": 0})
    blocks = [b for b in raw.text.split("\n\n") if b.strip()]
    ok = raw.headers["content-type"].startswith("text/event-stream")
    for b in blocks:
        ev, data = b.split("\n", 1)
        ok = ok and ev.startswith("event: ") and json.loads(data[len("data: "):])["type"] == ev[len("event: "):]
    check("raw SSE: event lines match data types", ok, raw.text[:300])
    e = h.post(URL + "/v1/messages", headers=hdr, json={"model": MODEL, "messages": MSG}).json()
    check("error shape: missing max_tokens", e.get("type") == "error" and e["error"]["type"] == "invalid_request_error"
          and "max_tokens" in e["error"]["message"], str(e))
    e = h.post(URL + "/v1/messages", headers=hdr, json={"model": "nope", "max_tokens": 5, "messages": MSG})
    check("error shape: unknown model is not_found_error", e.status_code == 404 and e.json()["error"]["type"] == "not_found_error", e.text)

# Stop sequences: the answer stops before one, and says which. The stop text
# is taken from the middle of the same request's greedy answer without it,
# so it is met whatever this model answers.
COUNT = [{"role": "user", "content": "Count from 1 to 10, separated by spaces."}]
free = c.messages.create(model=MODEL, max_tokens=40, temperature=0, messages=COUNT)
ft = free.content[0].text if free.content else ""
cut = len(ft) // 2
stop = ft[cut:cut + 3]
check("a greedy answer to cut", len(ft) >= 8 and len(stop) == 3, str(free))
m = c.messages.create(model=MODEL, max_tokens=40, temperature=0, stop_sequences=[stop], messages=COUNT)
t = m.content[0].text if m.content else ""
check("stop_sequence named", m.stop_reason == "stop_sequence" and m.stop_sequence == stop, str(m))
check("the answer ends before the stop text", t == ft[:ft.find(stop)], f"{t!r} vs {ft!r} cut at {stop!r}")

# Prefill: a final assistant message is the start of the answer.
m = c.messages.create(model=MODEL, max_tokens=10, temperature=0, messages=[
    {"role": "user", "content": "Say a color."}, {"role": "assistant", "content": "My favourite color is"}])
check("prefill continues the answer", m.content and not m.content[0].text.startswith("My favourite"), str(m))

# Errors through the client.
expect_error("temperature out of Anthropic's range is 400", lambda: c.messages.create(
    model=MODEL, max_tokens=5, temperature=1.5, messages=MSG), 400, "temperature")
expect_error("unknown model is 404", lambda: c.messages.create(model="nope", max_tokens=5, messages=MSG), 404)
expect_error("images are refused", lambda: c.messages.create(model=MODEL, max_tokens=5, messages=[
    {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]),
    400, "not supported")
expect_error("server tools are refused", lambda: c.messages.create(model=MODEL, max_tokens=5, messages=MSG,
    tools=[{"type": "web_search_20250305", "name": "web_search"}]), 400, "server tools")

# Tools: a call comes back as a tool_use block, its result goes back in.
ids = [x["id"] for x in httpx.get(URL + "/v1/models", headers={"x-api-key": API_KEY} if API_KEY else {}).json()["data"]]
TOOLS = [{"name": "get_weather", "description": "Current weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
if "qwen-coder" in ids:
    m = c.messages.create(model="qwen-coder", max_tokens=80, temperature=0, tools=TOOLS, messages=ASK)
    uses = [b for b in m.content if b.type == "tool_use"]
    check("tool_use block", m.stop_reason == "tool_use" and len(uses) == 1 and uses[0].name == "get_weather"
          and uses[0].id.startswith("toolu_") and uses[0].input.get("city") == "Paris", str(m))
    with c.messages.stream(model="qwen-coder", max_tokens=80, temperature=0, tools=TOOLS, messages=ASK) as s:
        tevs = list(s)
        sm = s.get_final_message()
    # live: the input streams in pieces as the model writes it
    n_json = sum(1 for e in tevs if e.type == "content_block_delta" and e.delta.type == "input_json_delta")
    check("streamed tool_use input in pieces", n_json > 2, str([e.type for e in tevs]))
    su = [b for b in sm.content if b.type == "tool_use"]
    check("streamed tool_use (input_json_delta)", sm.stop_reason == "tool_use" and len(su) == 1
          and su[0].input == uses[0].input if uses else False, str(sm))
    if uses:
        back = ASK + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                                    "content": json.dumps({"temp_c": 18, "sky": "clear"})}]}]
        m2 = c.messages.create(model="qwen-coder", max_tokens=40, temperature=0, tools=TOOLS, messages=back)
        t2 = "".join(b.text for b in m2.content if b.type == "text")
        check("the tool result goes back in and is answered", m2.stop_reason in ("end_turn", "max_tokens") and "18" in t2, str(m2))
        n3 = c.messages.count_tokens(model="qwen-coder", tools=TOOLS, messages=back)
        check("count_tokens with tools and a tool result", n3.input_tokens > 0, str(n3))
    m = c.messages.create(model="qwen-coder", max_tokens=60, temperature=0, tools=TOOLS,
                          tool_choice={"type": "tool", "name": "get_weather"},
                          messages=[{"role": "user", "content": "Hello! How are you?"}])
    check("tool_choice tool forces the call", m.stop_reason == "tool_use"
          and [b.name for b in m.content if b.type == "tool_use"] == ["get_weather"], str(m))
    m = c.messages.create(model="qwen-coder", max_tokens=30, temperature=0, tools=TOOLS, tool_choice={"type": "none"}, messages=ASK)
    check("tool_choice none: no tool_use", all(b.type != "tool_use" for b in m.content) and m.stop_reason != "tool_use", str(m))
    expect_error("tool_choice naming an undeclared tool is 400", lambda: c.messages.create(
        model="qwen-coder", max_tokens=5, tools=TOOLS, tool_choice={"type": "tool", "name": "nope"}, messages=ASK), 400, "tool_choice")
else:
    check("qwen-coder is served (tools test)", False, str(ids))
done()
