"""Each test model (llama, qwen2 with a tools-capable template, gemma3 with
a built-in template) chats through the server, streamed and not."""
import os

import openai

from common import API_KEY, URL, check, done

c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=300)
have = [m.id for m in c.models.list().data]
MSG = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Name one planet."}]
for name in ["smollm2", "qwen-coder", "gemma3"]:
    if name not in have:
        print(f"skipping {name}: not fetched")
        continue
    r = c.chat.completions.create(model=name, messages=MSG, temperature=0, max_tokens=12)
    text = r.choices[0].message.content
    check(f"{name} answers", len(text.strip()) > 0 and r.usage.prompt_tokens > 5, repr(text))
    s = "".join(ch.choices[0].delta.content or "" for ch in
                c.chat.completions.create(model=name, messages=MSG, temperature=0, max_tokens=12, stream=True) if ch.choices)
    check(f"{name} stream == non-stream", s == text, f"{s!r} vs {text!r}")
    # A follow-up turn (prefix of the conversation reused by the scheduler) still answers the same as fresh.
    conv = MSG + [{"role": "assistant", "content": text}, {"role": "user", "content": "And another?"}]
    a = c.chat.completions.create(model=name, messages=conv, temperature=0, max_tokens=12).choices[0].message.content
    b = c.chat.completions.create(model=name, messages=conv, temperature=0, max_tokens=12).choices[0].message.content
    check(f"{name} follow-up deterministic", a == b and len(a.strip()) > 0, f"{a!r} vs {b!r}")
done()
