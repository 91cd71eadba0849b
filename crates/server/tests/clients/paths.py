"""Error bodies never name a path on the server: a broken model file, a
file that is not GGUF, a model whose load fails, store errors."""
import os

import httpx

from common import URL, check, done

DIR = os.environ["MODELS_DIR"]
secrets = {DIR, os.path.realpath(DIR), os.path.expanduser("~"), "/tmp/", "/home/", "/root"}
h = httpx.Client(timeout=120)
with open(os.path.join(DIR, "broken.gguf"), "wb") as f:
    f.write(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
with open(os.path.join(DIR, "notgguf.gguf"), "wb") as f:
    f.write(b"hello, this is not a model")
os.makedirs(os.path.join(DIR, "store-model"), exist_ok=True)
with open(os.path.join(DIR, "store-model", "1b.gguf"), "wb") as f:
    f.write(b"GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00")
with open(os.path.join(DIR, "store-model", "1b.json"), "w") as f:
    f.write("{}")


def clean(name, r):
    leaked = [s for s in secrets if s in r.text]
    check(f"{name}: {r.status_code}, no server path in the body", r.status_code >= 400 and not leaked,
          f"{r.status_code} leaked {leaked}: {r.text[:300]}")


for m in ["broken", "notgguf", "store-model:1b"]:
    clean(f"/api/chat {m}", h.post(URL + "/api/chat", json={"model": m, "messages": [{"role": "user", "content": "hi"}], "stream": False}))
    clean(f"/api/generate {m}", h.post(URL + "/api/generate", json={"model": m, "prompt": "hi", "stream": False}))
    clean(f"/v1/chat/completions {m}", h.post(URL + "/v1/chat/completions", json={"model": m, "messages": [{"role": "user", "content": "hi"}]}))
    clean(f"/v1/completions {m}", h.post(URL + "/v1/completions", json={"model": m, "prompt": "hi"}))
    clean(f"/v1/embeddings {m}", h.post(URL + "/v1/embeddings", json={"model": m, "input": "hi"}))
    clean(f"/api/embed {m}", h.post(URL + "/api/embed", json={"model": m, "input": "hi"}))
clean("/api/copy onto an existing name", h.post(URL + "/api/copy", json={"source": "broken", "destination": "notgguf"}))
clean("/api/delete of a model that is not there", h.request("DELETE", URL + "/api/delete", json={"model": "store-model:9z"}))
clean("/api/pull of a name that is not in the catalog", h.post(URL + "/api/pull", json={"model": "nosuchmodel", "stream": False}))
r = h.post(URL + "/api/pull", json={"model": "nosuchmodel"})
check("/api/pull streamed: no server path", not [s for s in secrets if s in r.text], r.text[:300])
done()
