"""A client killed mid-stream frees its sequence: the server runs one
sequence at a time here, so the next request finishing quickly proves the
killed one stopped."""
import os
import subprocess
import sys
import time

import httpx
import openai

from common import API_KEY, MODEL, URL, check, done

hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
child = f"""
import httpx, sys
with httpx.stream("POST", {URL!r} + "/v1/chat/completions", headers={hdr!r}, timeout=300,
                  json={{"model": {MODEL!r}, "stream": True, "max_tokens": 1500, "temperature": 1.0,
                         "messages": [{{"role": "user", "content": "Write a very long story about a dragon."}}]}}) as r:
    n = 0
    for line in r.iter_lines():
        if line.startswith("data: "):
            n += 1
            if n == 5:
                print("streaming", flush=True)
"""
p = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
first = p.stdout.readline()
check("child was streaming", first.strip() == "streaming", first)
p.kill()
p.wait()

# The sequence is gone within a moment.
deadline = time.time() + 10
active = None
while time.time() < deadline:
    ps = httpx.get(URL + "/api/ps", headers=hdr).json()["models"]
    active = sum(m["active_requests"] for m in ps)
    if active == 0:
        break
    time.sleep(0.1)
check("no active request after the kill", active == 0, f"active={active}")

c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=60)
t0 = time.time()
r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Say hi."}], temperature=0, max_tokens=8)
check("next request runs at once", r.choices[0].message.content and time.time() - t0 < 20, f"{time.time() - t0:.1f}s")
done()
