"""API key on every endpoint, CORS only for allowed origins, body limit.
MODE=open: a server without key or CORS flags sends no CORS headers."""
import os

import httpx
import ollama
import openai

from common import API_KEY, MODEL, URL, check, done, expect_error

MODE = os.environ.get("MODE", "secure")
h = httpx.Client(timeout=120)
ENDPOINTS = [("GET", "/v1/models", None), ("GET", "/v1/models/" + MODEL, None), ("GET", "/api/tags", None),
             ("GET", "/api/version", None), ("GET", "/api/ps", None), ("GET", "/", None),
             ("POST", "/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}),
             ("POST", "/v1/completions", {"model": MODEL, "prompt": "hi", "max_tokens": 1}),
             ("POST", "/api/chat", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}),
             ("POST", "/api/generate", {"model": MODEL, "prompt": "hi", "stream": False}),
             ("POST", "/api/show", {"model": MODEL}), ("DELETE", "/api/delete", {"model": MODEL}),
             ("POST", "/api/copy", {"source": MODEL, "destination": "x"}), ("POST", "/api/pull", {"model": MODEL})]

if MODE == "secure":
    for method, path, body in ENDPOINTS:
        r = h.request(method, URL + path, json=body)
        check(f"no key -> 401 {method} {path}", r.status_code == 401, f"{r.status_code} {r.text[:100]}")
        r = h.request(method, URL + path, json=body, headers={"Authorization": "Bearer wrong"})
        check(f"wrong key -> 401 {method} {path}", r.status_code == 401, str(r.status_code))
    r = h.get(URL + "/v1/models")
    check("401 is an OpenAI error", r.json()["error"]["code"] == "invalid_api_key", r.text)
    r = h.get(URL + "/api/tags")
    check("401 is an Ollama error on /api", isinstance(r.json()["error"], str), r.text)

    bad = openai.OpenAI(base_url=URL + "/v1", api_key="wrong", max_retries=0)
    expect_error("openai client with wrong key", lambda: bad.models.list(), 401)
    good = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY, max_retries=0, timeout=120)
    check("openai client with key", MODEL in [m.id for m in good.models.list().data])
    r = good.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    check("chat with key", r.choices[0].message.content is not None)
    oc = ollama.Client(host=URL, headers={"Authorization": f"Bearer {API_KEY}"})
    check("ollama client with key", MODEL in [m.model for m in oc.list().models])
    expect_error("ollama client without key", lambda: ollama.Client(host=URL).list(), 401)

    # CORS: the allowed origin gets headers (preflight without a key works), others do not.
    pre = h.options(URL + "/v1/chat/completions", headers={"Origin": "http://allowed.example", "Access-Control-Request-Method": "POST",
                                                              "Access-Control-Request-Headers": "authorization,content-type"})
    check("preflight allowed origin", pre.status_code == 200 and pre.headers.get("access-control-allow-origin") == "http://allowed.example",
          f"{pre.status_code} {dict(pre.headers)}")
    r = h.get(URL + "/v1/models", headers={"Origin": "http://allowed.example", "Authorization": f"Bearer {API_KEY}"})
    check("GET allowed origin", r.headers.get("access-control-allow-origin") == "http://allowed.example", str(dict(r.headers)))
    r = h.get(URL + "/v1/models", headers={"Origin": "http://evil.example", "Authorization": f"Bearer {API_KEY}"})
    check("other origin gets no CORS header", "access-control-allow-origin" not in r.headers, str(dict(r.headers)))
    pre = h.options(URL + "/v1/chat/completions", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    check("preflight other origin refused", "access-control-allow-origin" not in pre.headers, str(dict(pre.headers)))

    # Body limit (64 KiB on this server). The server answers 413 without
    # reading the rest of the body and may then close the connection (as HTTP
    # allows), so each oversized request goes on a connection of its own.
    big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 200_000}]}
    with httpx.Client(timeout=60) as c:
        r = c.post(URL + "/v1/chat/completions", json=big, headers={"Authorization": f"Bearer {API_KEY}"})
    check("big body -> 413", r.status_code == 413 and "error" in r.json(), f"{r.status_code} {r.text[:200]}")
    with httpx.Client(timeout=60) as c:
        r = c.post(URL + "/api/chat", json=big, headers={"Authorization": f"Bearer {API_KEY}"})
    check("big body -> 413 on /api", r.status_code == 413 and isinstance(r.json()["error"], str), f"{r.status_code} {r.text[:200]}")
else:
    r = h.get(URL + "/v1/models", headers={"Origin": "http://somewhere.example"})
    check("open server answers without key", r.status_code == 200)
    check("no CORS header by default", "access-control-allow-origin" not in r.headers, str(dict(r.headers)))
    pre = h.options(URL + "/v1/chat/completions", headers={"Origin": "http://somewhere.example", "Access-Control-Request-Method": "POST"})
    check("no preflight approval by default", "access-control-allow-origin" not in pre.headers, str(dict(pre.headers)))
done()
