"""Embedding models (bert, nomic-bert) through the server with the real
clients: /v1/embeddings, /api/embed and /api/embeddings give llama.cpp's
vectors (the committed fixtures of the synthetic models served as
`bert-embed` and `nomic-embed`); chat and generate requests to them are a
clear 400 saying they are embedding models; /api/show says "embedding"."""
import json
import os

import httpx
import ollama
import openai

from common import API_KEY, URL, check, done, expect_error

FIXTURES = os.environ["EMBED_FIXTURES"]
headers = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
oa = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=300)
ol = ollama.Client(host=URL, headers=headers)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(x * x for x in b) ** 0.5
    return dot / (na * nb)


for name, fixture in [("bert-embed", "bert-f32.json"), ("nomic-embed", "nomic-bert-f16.json")]:
    fx = json.load(open(os.path.join(FIXTURES, fixture)))
    texts = [t["text"] for t in fx["texts"][:4]]
    want = [t["embedding"] for t in fx["texts"][:4]]
    n_tokens = sum(len(t["tokens"]) for t in fx["texts"][:4])

    e = oa.embeddings.create(model=name, input=texts)
    got = [d.embedding for d in e.data]
    worst = min(cosine(a, b) for a, b in zip(got, want))
    check(f"{name}: /v1/embeddings are llama.cpp's", worst > 0.99999, f"worst cosine {worst}")
    check(f"{name}: /v1/embeddings usage counts llama.cpp's tokens", e.usage.prompt_tokens == n_tokens,
          f"{e.usage.prompt_tokens} vs {n_tokens}")
    r = ol.embed(model=name, input=texts)
    check(f"{name}: /api/embed gives the same vectors", r.embeddings == got)
    check(f"{name}: /api/embed counts the tokens", r.prompt_eval_count == n_tokens)
    old = ol.embeddings(model=name, prompt=texts[0])
    check(f"{name}: /api/embeddings gives the same vector", list(old.embedding) == got[0])

    expect_error(f"{name}: chat is a 400 naming an embedding model",
                 lambda: oa.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}]),
                 400, "embedding model")
    expect_error(f"{name}: completion is a 400",
                 lambda: oa.completions.create(model=name, prompt="hi"), 400, "embedding model")
    expect_error(f"{name}: ollama chat is a 400",
                 lambda: ol.chat(model=name, messages=[{"role": "user", "content": "hi"}]), 400, "embedding model")
    expect_error(f"{name}: ollama generate is a 400",
                 lambda: ol.generate(model=name, prompt="hi"), 400, "embedding model")
    show = httpx.post(URL + "/api/show", headers=headers, json={"model": name}).json()
    check(f"{name}: /api/show says embedding", show.get("capabilities") == ["embedding"], str(show)[:300])

# a decoder keeps embedding and chatting
MODEL = os.environ.get("MODEL", "smollm2")
d = oa.embeddings.create(model=MODEL, input="The cat sat on the mat.").data[0].embedding
check("a decoder still embeds", abs(sum(x * x for x in d) - 1) < 1e-3)
show = httpx.post(URL + "/api/show", headers=headers, json={"model": MODEL}).json()
check("a decoder's /api/show says completion", show.get("capabilities") == ["completion"], str(show)[:300])
done()
