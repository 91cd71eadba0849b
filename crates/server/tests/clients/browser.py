"""What a web page can make a browser send to the local server, sent exactly
as a browser sends it (no CORS preflight: a `fetch(..., {mode: "no-cors"})`
or a `<form>` POST; a DNS-rebinding page whose name now points at 127.0.0.1).
None of it may act; the same-origin page, allowed origins and real clients
keep working.

The server runs with `--cors-origin http://allowed.example` and
`--allowed-host box.lan`; MODELS_DIR is its models directory."""
import os
import socket
import threading
import urllib.parse

import httpx

from common import MODEL, URL, check, done

DIR = os.environ["MODELS_DIR"]
host_port = urllib.parse.urlparse(URL).netloc  # 127.0.0.1:PORT
port = host_port.rsplit(":", 1)[1]
h = httpx.Client(timeout=120)

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Accept": "*/*",
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
    "Sec-Fetch-Dest": "empty",
}


def browser(method, path, body, origin, content_type, host=None, site="cross-site", mode="no-cors"):
    """One request as Chrome sends it for `fetch(url, {method, body, mode})`
    from a page at `origin` (a string body: Content-Type text/plain)."""
    hdrs = dict(BROWSER)
    hdrs["Sec-Fetch-Site"] = site
    hdrs["Sec-Fetch-Mode"] = mode
    if origin is not None:
        hdrs["Origin"] = origin
        hdrs["Referer"] = origin + "/"
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if host is not None:
        hdrs["Host"] = host
    return h.request(method, URL + path, content=body, headers=hdrs)


def listing():
    out = []
    for root, _, files in os.walk(DIR):
        out += [os.path.relpath(os.path.join(root, f), DIR) for f in files]
    return sorted(out)


before = listing()
CHAT = '{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": false}' % MODEL
ROUTES = [
    ("POST", "/api/copy", '{"source": "%s", "destination": "stolen"}' % MODEL),
    ("DELETE", "/api/delete", '{"model": "%s"}' % MODEL),
    ("POST", "/api/pull", '{"model": "http://127.0.0.1:9/x.gguf"}'),
    ("POST", "/api/chat", CHAT),
    ("POST", "/api/generate", '{"model": "%s", "prompt": "hi", "stream": false, "options": {"num_predict": 2}}' % MODEL),
    ("POST", "/api/embed", '{"model": "%s", "input": "hi"}' % MODEL),
    ("POST", "/api/embeddings", '{"model": "%s", "prompt": "hi"}' % MODEL),
    ("POST", "/api/show", '{"model": "%s"}' % MODEL),
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/completions", '{"model": "%s", "prompt": "hi", "max_tokens": 2}' % MODEL),
    ("POST", "/v1/embeddings", '{"model": "%s", "input": "hi"}' % MODEL),
]

# 1. A page on another site: text/plain (no preflight), form encodings, Origin: null.
for method, path, body in ROUTES:
    for ctype in ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]:
        r = browser(method, path, body, "http://evil.example", ctype)
        check(f"cross-site {ctype.split(';')[0]} {method} {path} refused", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
    r = browser(method, path, body, "null", "text/plain;charset=UTF-8")
    check(f"Origin null {method} {path} refused", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
    # even with a JSON content type (which needs a preflight the browser would fail)
    r = browser(method, path, body, "http://evil.example", "application/json", mode="cors")
    check(f"cross-site JSON {method} {path} refused", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
r = browser("GET", "/api/tags", None, "http://evil.example", None, mode="cors")
check("cross-site GET (changes nothing) answered without a CORS header, so the page cannot read it",
      r.status_code == 200 and "access-control-allow-origin" not in r.headers, f"{r.status_code} {dict(r.headers)}")
r = browser("POST", "/api/show", '{"model": "%s"}' % MODEL, "http://evil.example", "text/plain")
check("refusal says what to do", "--cors-origin" in r.text, r.text)

# 2. DNS rebinding: the attacker's name now resolves to 127.0.0.1; to the
# browser the page and the server are one origin, so it sends JSON freely.
evil_host = f"rebind.evil.example:{port}"
for method, path, body in ROUTES + [("GET", "/api/tags", None), ("GET", "/v1/models", None), ("GET", "/api/ps", None)]:
    r = browser(method, path, body, f"http://{evil_host}" if method != "GET" else None,
                "application/json" if body else None, host=evil_host, site="same-origin", mode="cors")
    check(f"rebinding Host {method} {path} refused", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
r = h.get(URL + "/api/tags", headers={"Host": evil_host})
check("rebinding refusal names --allowed-host", "--allowed-host" in r.text, r.text)

# Nothing above acted: no file written or removed, no model loaded.
check("no file written or removed", listing() == before, f"{before} -> {listing()}")
ps = h.get(URL + "/api/ps").json()
check("no model loaded by the attacks", ps["models"] == [], str(ps))

# 3. JSON only: a same-origin page (the server's own), or any client, sending
# another content type gets 415 on every route with a body.
own = f"http://{host_port}"
for method, path, body in ROUTES:
    r = browser(method, path, body, own, "text/plain;charset=UTF-8", site="same-origin", mode="cors")
    check(f"same-origin text/plain {method} {path} -> 415", r.status_code == 415, f"{r.status_code} {r.text[:200]}")
r = h.post(URL + "/api/show", content='{"model": "%s"}' % MODEL)
check("no content type -> 415", r.status_code == 415 and "application/json" in r.text, f"{r.status_code} {r.text[:200]}")
r = h.post(URL + "/v1/chat/completions", content=CHAT, headers={"Content-Type": "text/plain"})
check("415 is an OpenAI error on /v1", r.status_code == 415 and r.json()["error"]["message"], r.text)

# 4. What must keep working: the server's own page, allowed origins and hosts.
r = browser("POST", "/v1/chat/completions", CHAT, own, "application/json", site="same-origin", mode="cors")
check("same-origin JSON chat works", r.status_code == 200 and r.json()["choices"], f"{r.status_code} {r.text[:200]}")
r = browser("POST", "/api/show", '{"model": "%s"}' % MODEL, "http://allowed.example", "application/json; charset=utf-8", mode="cors")
check("allowed origin works, with CORS header", r.status_code == 200 and r.headers.get("access-control-allow-origin") == "http://allowed.example",
      f"{r.status_code} {dict(r.headers)}")
pre = h.options(URL + "/api/chat", headers={**BROWSER, "Origin": "http://allowed.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "content-type", "Sec-Fetch-Mode": "cors"})
check("preflight of an allowed origin approved", pre.status_code == 200 and pre.headers.get("access-control-allow-origin") == "http://allowed.example"
      and "POST" in pre.headers.get("access-control-allow-methods", ""), f"{pre.status_code} {dict(pre.headers)}")
pre = h.options(URL + "/api/chat", headers={**BROWSER, "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "content-type", "Sec-Fetch-Mode": "cors"})
check("preflight of another origin not approved", "access-control-allow-origin" not in pre.headers, str(dict(pre.headers)))
for hh in [f"localhost:{port}", f"127.0.0.1:{port}", "localhost", f"box.lan:{port}", "BOX.LAN", f"[::1]:{port}", f"app.localhost:{port}"]:
    r = h.get(URL + "/api/tags", headers={"Host": hh})
    check(f"Host {hh} accepted", r.status_code == 200, f"{r.status_code} {r.text[:200]}")
for hh in ["example.com", f"box.lan.evil.example:{port}", f"10.1.2.3:{port}", "localhost.evil.example"]:
    r = h.get(URL + "/api/tags", headers={"Host": hh})
    check(f"Host {hh} refused", r.status_code == 403, f"{r.status_code} {r.text[:200]}")

# 5. /api/pull fetches only catalog names, hf.co/ references and https URLs
# of public hosts: never plain http, never this machine or its network.
hits = []
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
lport = srv.getsockname()[1]


def accept():
    while True:
        try:
            c, _ = srv.accept()
        except OSError:
            return
        hits.append(1)
        c.close()


threading.Thread(target=accept, daemon=True).start()
for spec in [f"http://127.0.0.1:{lport}/m.gguf", f"http://localhost:{lport}/m.gguf", f"https://127.0.0.1:{lport}/m.gguf",
             f"https://localhost:{lport}/m.gguf", "https://10.0.0.1/m.gguf", "https://192.168.1.1/m.gguf",
             "https://169.254.169.254/m.gguf", "https://[::1]/m.gguf", "http://example.com/m.gguf"]:
    r = h.post(URL + "/api/pull", json={"model": spec, "stream": False})
    check(f"pull {spec} refused", r.status_code == 403 and "error" in r.json(), f"{r.status_code} {r.text[:200]}")
check("pull refusal names the flag", "--allow-any-pull" in r.text, r.text)
for spec in ["/etc/passwd", "../../etc/hosts.gguf", "/nonexistent/x.gguf"]:
    r = h.post(URL + "/api/pull", json={"model": spec, "stream": False})
    check(f"pull of a path {spec} refused without saying whether it exists", r.status_code == 400 and "exist" not in r.text.replace(spec, "")
          and "/etc" not in r.text.replace(spec, ""), f"{r.status_code} {r.text[:200]}")
check("no connection was made to the local listener", hits == [], str(hits))
srv.close()
done()
