"""For operators: /health and /tokenize, /detokenize in llama-server's
shapes, /metrics read by prometheus_client's own parser (the counters match
the requests made; no prompt or answer text in it)."""
import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from common import API_KEY, MODEL, URL, check, done

hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
h = httpx.Client(timeout=120, headers=hdr)
c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=120)


def metrics():
    r = h.get(URL + "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers["content-type"]
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    return r.text, fams


def value(fams, name, **labels):
    """The sample of `name` (a counter's family name is without _total) with these labels."""
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


# Health before any model is loaded.
r = h.get(URL + "/health")
check("health ok", r.status_code == 200 and r.json()["status"] == "ok", r.text)
r = h.get(URL + "/health", params={"model": MODEL})
check("health of a model not loaded is 503 (llama-server's error shape)", r.status_code == 503
      and r.json()["error"]["code"] == 503 and r.json()["error"]["type"] == "unavailable_error", r.text)
r = h.get(URL + "/health", params={"model": "nope"})
check("health of an unknown model is 404", r.status_code == 404, r.text)

# Two generations with a secret in the prompt.
SECRET = "zebra-quartz-secret-7731"
usages = []
for q in [f"Repeat this word: {SECRET}", "Name a fruit."]:
    x = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": q}], temperature=0, max_tokens=12)
    usages.append(x.usage)
r = h.get(URL + "/health", params={"model": MODEL})
check("health of a loaded model is ok", r.status_code == 200 and r.json()["status"] == "ok", r.text)

# Tokenize / detokenize (llama-server's shapes, plus "model").
TEXT = "Hello, world! Ünïcödé and <|im_start|> text."
t = h.post(URL + "/tokenize", json={"model": MODEL, "content": TEXT}).json()
check("tokenize gives ids", isinstance(t["tokens"], list) and all(isinstance(i, int) for i in t["tokens"]), str(t))
d = h.post(URL + "/detokenize", json={"model": MODEL, "tokens": t["tokens"]}).json()
check("detokenize(tokenize(x)) == x", d["content"] == TEXT, repr(d))
p = h.post(URL + "/tokenize", json={"model": MODEL, "content": "Hello world", "with_pieces": True}).json()
check("with_pieces: id and piece", all(set(x) == {"id", "piece"} for x in p["tokens"])
      and "".join(x["piece"] for x in p["tokens"]) == "Hello world", str(p))
sp = h.post(URL + "/tokenize", json={"model": MODEL, "content": "<|im_start|>"}).json()["tokens"]
plain = h.post(URL + "/tokenize", json={"model": MODEL, "content": "<|im_start|>", "parse_special": False}).json()["tokens"]
check("parse_special: one special token, or its text", len(sp) == 1 and len(plain) > 1, f"{sp} {plain}")
bad = h.post(URL + "/detokenize", json={"model": MODEL, "tokens": [10**9]})
check("a token id past the vocabulary is 400", bad.status_code == 400 and bad.json()["error"]["code"] == 400, bad.text)
one = h.post(URL + "/tokenize", json={"content": "Hello world"}).json()
check("no model named: the one loaded", one["tokens"] == [x["id"] for x in p["tokens"]], str(one))

# Metrics: parsed by prometheus_client; counters agree with the requests.
text, fams = metrics()
check("no prompt or answer text in metrics", SECRET not in text and "fruit" not in text)
check("requests by route and status", value(fams, "hearth_requests_total", route="/v1/chat/completions", method="POST", status="200") == 2,
      str(fams.get("hearth_requests").samples if "hearth_requests" in fams else fams.keys()))
check("prompt tokens counted", value(fams, "hearth_prompt_tokens_total", model=MODEL) == sum(u.prompt_tokens for u in usages))
check("generated tokens counted", value(fams, "hearth_generated_tokens_total", model=MODEL) == sum(u.completion_tokens for u in usages))
check("tokens/s gauge", (value(fams, "hearth_generation_tokens_per_second", model=MODEL) or 0) > 0)
check("a model load counted", value(fams, "hearth_model_loads_total", model=MODEL) == 1)
check("idle: queue and sequences at 0", value(fams, "hearth_queue_depth", model=MODEL) == 0
      and value(fams, "hearth_active_sequences", model=MODEL) == 0)
check("KV budget", (value(fams, "hearth_kv_cache_budget_positions", model=MODEL) or 0) > 0)
check("models loaded", value(fams, "hearth_models_loaded") == 1)
check("unmatched routes are not labelled with their path",
      h.get(URL + "/v1/secret-path-" + SECRET).status_code == 404 and SECRET not in metrics()[0])

# While a long generation runs: an active sequence and KV positions in use.
import threading
th = threading.Thread(target=lambda: c.completions.create(model=MODEL, prompt="Once upon a time", temperature=0,
                                                          max_tokens=200, extra_body={"ignore_eos": True}))
th.start()
busy = False
for _ in range(200):
    _, f = metrics()
    if value(f, "hearth_active_sequences", model=MODEL) == 1 and (value(f, "hearth_kv_cache_used_positions", model=MODEL) or 0) > 0:
        busy = True
        break
th.join()
check("busy: one active sequence, KV positions used", busy)

# An unload counted (keep_alive 0).
h.post(URL + "/api/generate", json={"model": MODEL, "keep_alive": 0})
_, fams = metrics()
check("an unload counted", value(fams, "hearth_model_unloads_total", model=MODEL, reason="request") == 1
      and value(fams, "hearth_models_loaded") == 0)
amb = h.post(URL + "/tokenize", json={"content": "x"})
check("no model named, none loaded, several served: 400 naming model", amb.status_code == 400
      and "model" in amb.json()["error"]["message"], amb.text)
done()
