"""With one sequence running and a queue of one, more requests get 503 with
Retry-After instead of hanging."""
import threading

import httpx

from common import API_KEY, MODEL, URL, check, done

hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
body = {"model": MODEL, "max_tokens": 200, "temperature": 0, "messages": [{"role": "user", "content": "Tell a long story."}]}
# Load the model first, so all requests meet it loaded.
httpx.post(URL + "/v1/chat/completions", headers=hdr, json={**body, "max_tokens": 1}, timeout=120)
codes, retry = [], []


def go():
    r = httpx.post(URL + "/v1/chat/completions", headers=hdr, json=body, timeout=300)
    codes.append(r.status_code)
    if r.status_code == 503:
        retry.append(r.headers.get("retry-after"))
        check("503 is an OpenAI error object", "error" in r.json() and "retry" in r.json()["error"]["message"], r.text)


ts = [threading.Thread(target=go) for _ in range(5)]
for t in ts:
    t.start()
for t in ts:
    t.join()
check("some answered 200", codes.count(200) >= 2, str(codes))
check("the rest 503", codes.count(503) >= 1 and set(codes) <= {200, 503}, str(codes))
check("Retry-After set", retry and all(x for x in retry), str(retry))
r = httpx.post(URL + "/v1/chat/completions", headers=hdr, json={**body, "max_tokens": 4}, timeout=120)
check("served again afterwards", r.status_code == 200, r.text)
done()
