"""8 clients streaming at once get complete, independent answers; greedy
output is identical to the same request made alone."""
import threading

import openai

from common import API_KEY, MODEL, URL, check, done

c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=300)
PROMPTS = [
    "Name a fruit.", "What is 2 + 2?", "Say hello in French.", "Name a color.",
    "What is the largest planet?", "Write one word about the sea.", "Name a dog breed.", "What day comes after Monday?",
]


def stream(p):
    out, fin, usage = [], None, None
    for ch in c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": p}], temperature=0,
                                        max_tokens=40, stream=True, stream_options={"include_usage": True}):
        if ch.choices:
            out.append(ch.choices[0].delta.content or "")
            fin = ch.choices[0].finish_reason or fin
        if ch.usage:
            usage = ch.usage
    return "".join(out), fin, usage


alone = [stream(p) for p in PROMPTS]
results = [None] * len(PROMPTS)
errors = []


def worker(i):
    try:
        results[i] = stream(PROMPTS[i])
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(PROMPTS))]
for t in threads:
    t.start()
for t in threads:
    t.join()
check("no errors", not errors, str(errors))
for i, p in enumerate(PROMPTS):
    r = results[i]
    check(f"complete #{i}", r is not None and r[1] in ("stop", "length") and r[2] is not None, str(r))
    check(f"identical to alone #{i}", r is not None and r[0] == alone[i][0], f"{r and r[0]!r} vs {alone[i][0]!r}")
check("answers are independent", len({r[0] for r in alone}) > 4, str([r[0] for r in alone]))
done()
