"""--api-key guards the new endpoints too; Anthropic's clients send it as
x-api-key, which counts as much as a Bearer token."""
import anthropic
import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from common import API_KEY, MODEL, URL, check, done, expect_error

MSG = [{"role": "user", "content": "hi"}]
ENDPOINTS = [("POST", "/v1/messages", {"model": MODEL, "max_tokens": 1, "messages": MSG}),
             ("POST", "/v1/messages/count_tokens", {"model": MODEL, "messages": MSG}),
             ("POST", "/v1/responses", {"model": MODEL, "input": "hi", "max_output_tokens": 1}),
             ("GET", "/v1/responses/resp_x", None), ("DELETE", "/v1/responses/resp_x", None),
             ("POST", "/api/create", {"model": "x", "from": MODEL}),
             ("GET", "/health", None), ("GET", "/metrics", None),
             ("POST", "/tokenize", {"model": MODEL, "content": "hi"}),
             ("POST", "/detokenize", {"model": MODEL, "tokens": [1]})]
# every request says it is JSON (the web-page guard refuses a DELETE without
# that before the key is looked at: 415, not 401)
h = httpx.Client(timeout=120, headers={"Content-Type": "application/json"})
for method, path, body in ENDPOINTS:
    r = h.request(method, URL + path, json=body)
    check(f"no key -> 401 {method} {path}", r.status_code == 401, f"{r.status_code} {r.text[:100]}")
    r = h.request(method, URL + path, json=body, headers={"x-api-key": "wrong"})
    check(f"wrong x-api-key -> 401 {method} {path}", r.status_code == 401, str(r.status_code))
r = h.post(URL + "/v1/messages", json=ENDPOINTS[0][2])
check("401 on /v1/messages is Anthropic's error", r.json().get("type") == "error"
      and r.json()["error"]["type"] == "authentication_error", r.text)
for hdr in [{"x-api-key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}]:
    r = h.post(URL + "/v1/messages/count_tokens", json=ENDPOINTS[1][2], headers=hdr)
    check(f"the key as {list(hdr)[0]}", r.status_code == 200 and r.json()["input_tokens"] > 0, r.text)
r = h.get(URL + "/v1/models", headers={"x-api-key": API_KEY})
check("x-api-key on the OpenAI API too", r.status_code == 200, r.text)

good = anthropic.Anthropic(base_url=URL, api_key=API_KEY, max_retries=0, timeout=120)
m = good.messages.create(model=MODEL, max_tokens=2, messages=MSG)
check("anthropic client with the key", m.type == "message", str(m))
bad = anthropic.Anthropic(base_url=URL, api_key="wrong", max_retries=0)
expect_error("anthropic client with a wrong key", lambda: bad.messages.create(model=MODEL, max_tokens=2, messages=MSG), 401)
oa = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY, max_retries=0, timeout=120)
check("responses with the key", oa.responses.create(model=MODEL, input="hi", max_output_tokens=2).object == "response")
r = h.get(URL + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
fams = {f.name for f in text_string_to_metric_families(r.text)}
check("metrics with the key (401s counted)", r.status_code == 200 and "hearth_requests" in fams
      and 'status="401"' in r.text, r.text[:200])
done()
