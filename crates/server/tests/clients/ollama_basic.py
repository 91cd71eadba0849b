"""The real `ollama` package against hearth serve."""
import json
import os
import shutil

import httpx
import ollama

from common import API_KEY, MODEL, URL, check, done, expect_error

headers = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else None
c = ollama.Client(host=URL, headers=headers, timeout=120)
MSG = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
OPT = {"temperature": 0, "num_predict": 24}

names = [m.model for m in c.list().models]
check("list has the model", MODEL in names, str(names))
m0 = [m for m in c.list().models if m.model == MODEL][0]
check("list details", m0.size > 0 and m0.details.format == "gguf" and m0.details.family == "llama", str(m0))
s = c.show(MODEL)
check("show", s.details.family == "llama" and s.modelinfo.get("general.architecture") == "llama", str(s)[:300])
check("version", httpx.get(URL + "/api/version", headers=headers).json()["version"])

r = c.chat(model=MODEL, messages=MSG, options=OPT)
text = r.message.content
check("chat content", r.message.role == "assistant" and len(text) > 0, str(r))
check("chat done + stats", r.done and r.eval_count > 0 and r.prompt_eval_count > 0 and r.eval_duration > 0
      and r.total_duration >= r.eval_duration and r.done_reason in ("stop", "length"), str(r))
parts = list(c.chat(model=MODEL, messages=MSG, options=OPT, stream=True))
check("chat stream == non-stream", "".join(p.message.content for p in parts) == text)
check("chat stream final", parts[-1].done and parts[-1].eval_count == r.eval_count and all(not p.done for p in parts[:-1]))

g = c.generate(model=MODEL, prompt="The capital of France is", raw=True, options={"temperature": 0, "num_predict": 8})
check("generate raw", len(g.response) > 0 and g.done and g.eval_count <= 8, str(g))
gs = list(c.generate(model=MODEL, prompt="The capital of France is", raw=True, options={"temperature": 0, "num_predict": 8}, stream=True))
check("generate stream == non-stream", "".join(p.response for p in gs) == g.response)
g = c.generate(model=MODEL, prompt="Say hello.", system="You are terse.", options={"temperature": 0, "num_predict": 12})
check("generate with template", len(g.response) > 0)
g = c.generate(model=MODEL, prompt="Count: 1, 2, 3,", raw=True, options={"temperature": 0, "num_predict": 30, "stop": [" 6"]})
check("options.stop", " 6" not in g.response and g.done_reason == "stop", repr(g.response))

# enforced while sampling: valid JSON once the model finishes (room to finish it; a
# length cut is cut, not repaired)
# (qwen-coder when served: smollm2 runs on in repeated keys at temperature 0)
JSON_MODEL = "qwen-coder" if "qwen-coder" in [m.model for m in c.list().models] else MODEL
r = c.chat(model=JSON_MODEL, messages=[{"role": "user", "content": "Describe a dog as JSON with name and age."}], format="json", options={"temperature": 0, "num_predict": 160})
check("format json ends by itself", r.done_reason == "stop", r.done_reason)
try:
    check("format json parses", isinstance(json.loads(r.message.content), dict), r.message.content)
except ValueError:
    check("format json parses", False, r.message.content)

ps = c.ps()
check("ps lists the loaded model", any(m.model == MODEL for m in ps.models), str(ps))

raw = httpx.post(URL + "/api/chat", headers=headers, json={"model": MODEL, "messages": MSG, "options": {"num_predict": 3}}, timeout=120)
lines = raw.text.strip().split("\n")
check("raw NDJSON", raw.headers["content-type"].startswith("application/x-ndjson") and all(json.loads(l) for l in lines)
      and json.loads(lines[-1])["done"] is True, raw.text[:300])

expect_error("unknown model is 404", lambda: c.chat(model="nope", messages=MSG), 404)
expect_error("bad option is 400 naming it", lambda: c.chat(model=MODEL, messages=MSG, options={"top_p": 3}), 400, "top_p")
expect_error("bad keep_alive is 400", lambda: c.chat(model=MODEL, messages=MSG, keep_alive="soon"), 400, "keep_alive")

# Function calling through /api/chat (qwen2.5-coder's template takes tools).
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
if "qwen-coder" in [m.model for m in c.list().models]:
    for stream in (False, True):
        if stream:
            parts = list(c.chat(model="qwen-coder", messages=ASK, tools=TOOLS, stream=True, options={"temperature": 0, "num_predict": 80}))
            calls = [tc for p in parts for tc in (p.message.tool_calls or [])]
            last = parts[-1]
        else:
            last = c.chat(model="qwen-coder", messages=ASK, tools=TOOLS, options={"temperature": 0, "num_predict": 80})
            calls = last.message.tool_calls or []
        check(f"ollama tool call (stream={stream})", len(calls) == 1 and calls[0].function.name == "get_weather"
              and calls[0].function.arguments.get("city") == "Paris" and last.done, str(calls))
        if stream:
            # the call comes in a line of its own once complete, before the last line
            at = [i for i, p in enumerate(parts) if p.message.tool_calls]
            check("ollama stream: the call arrives before the final line", len(at) == 1 and not parts[at[0]].done
                  and at[0] < len(parts) - 1, str(parts)[:600])
    # with tools, an answer without a call streams as it comes, not in one piece
    hi = [{"role": "user", "content": "Explain in two sentences what a Python list is."}]
    parts = list(c.chat(model="qwen-coder", messages=hi, tools=TOOLS, stream=True, options={"temperature": 0, "num_predict": 60}))
    whole = c.chat(model="qwen-coder", messages=hi, tools=TOOLS, options={"temperature": 0, "num_predict": 60})
    pieces = [p.message.content for p in parts if p.message.content]
    check("ollama stream with tools: content in pieces", len(pieces) > 5 and not any(p.message.tool_calls for p in parts)
          and "".join(pieces) == whole.message.content, f"{pieces} {parts[:3]} {whole.message}"[:800])
    back = ASK + [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                  {"role": "tool", "content": json.dumps({"temp_c": 18})}]
    r = c.chat(model="qwen-coder", messages=back, tools=TOOLS, options={"temperature": 0, "num_predict": 30})
    check("ollama: the call and its result go back in", r.done)
else:
    check("qwen-coder is served (tools test)", False)
expect_error("ollama tools for a template without them is 400", lambda: c.chat(model=MODEL, messages=MSG, tools=TOOLS), 400, "function calling")

# Embeddings: /api/embed (text or texts) and the older /api/embeddings.
r = c.embed(model=MODEL, input=["The cat sat on the mat.", "A kitten was sitting on the rug."])
check("embed: two unit vectors", len(r.embeddings) == 2 and r.prompt_eval_count > 0
      and all(abs(sum(x * x for x in v) - 1) < 1e-3 for v in r.embeddings), str(r)[:200])
one = c.embed(model=MODEL, input="The cat sat on the mat.")
check("embed of one text equals its entry in a batch", one.embeddings[0] == r.embeddings[0])
old = c.embeddings(model=MODEL, prompt="The cat sat on the mat.")
check("legacy /api/embeddings", list(old.embedding) == r.embeddings[0])
cut = c.embed(model=MODEL, input="word " * 5000)
check("embed cuts a long text by default", len(cut.embeddings[0]) == len(r.embeddings[0]))
expect_error("embed with truncate false is 400", lambda: c.embed(model=MODEL, input="word " * 5000, truncate=False), 400, "context")
expect_error("embed without input is 400", lambda: httpx.post(URL + "/api/embed", headers=headers, json={"model": MODEL}).raise_for_status(), 400)

# /api/pull: the model store's pull into the served directory, NDJSON
# progress then success; a loopback HTTP server stands in for the host.
import functools
import http.server
import os
import tempfile
import threading

host_dir = tempfile.mkdtemp()
os.symlink(os.path.join(os.environ["MODELS_DIR"], "smollm2.gguf"), os.path.join(host_dir, "pulled-smol.gguf"))
host = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=host_dir))
threading.Thread(target=host.serve_forever, daemon=True).start()
src = f"http://127.0.0.1:{host.server_address[1]}/pulled-smol.gguf"
events = list(c.pull(src, stream=True))
check("pull streams progress then success", events[-1].status == "success"
      and any((e.completed or 0) > 0 and e.total for e in events[:-1]), str(events[:3] + events[-2:]))
names = [m.model for m in c.list().models]
check("the pulled model is listed", "pulled-smol:latest" in names, str(names))
r = c.chat(model="pulled-smol:latest", messages=MSG, options={"num_predict": 2})
check("the pulled model answers", r.done and r.eval_count > 0, str(r))
check("pulling it again is success at once", c.pull(src).status == "success")
check("pulling a served name is success", c.pull(MODEL).status == "success")
expect_error("pull of an unknown name is 404", lambda: c.pull("no-such-model-xyz"), 404, "unknown model")
expect_error("pull of a missing file fails with its reason", lambda: c.pull(src.replace("pulled-smol", "gone")), 502, "404")
host.shutdown()

# copy / delete: a store entry (as `hearth import` makes), listed as name:latest.
c.copy(MODEL, "smol-copy")
check("copy shows up", "smol-copy:latest" in [m.model for m in c.list().models], str(c.list()))
c.chat(model="smol-copy", messages=MSG, options={"num_predict": 2})
c.delete("smol-copy")
check("delete removes it", "smol-copy" not in [m.model for m in c.list().models])
expect_error("delete unknown is 404", lambda: c.delete("smol-copy"), 404)

# A short keep_alive unloads after it runs out.
import time
c.generate(model=MODEL, prompt="Hi", options={"num_predict": 1}, keep_alive="1s")
check("loaded during keep_alive", any(m.model == MODEL for m in c.ps().models))
time.sleep(2.5)
check("unloaded after keep_alive", not any(m.model == MODEL for m in c.ps().models), str(c.ps()))

# keep_alive 0 unloads.
c.generate(model=MODEL, prompt="", keep_alive=0)
check("keep_alive 0 unloads", not any(m.model == MODEL for m in c.ps().models), str(c.ps()))
done()
