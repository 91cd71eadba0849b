"""Ollama's model files through the real `ollama` client: create (its
current body and the older `modelfile` text), show (modelfile, parameters,
system, template), and the created model's settings applied on every API
(the same greedy answer as asking the base model with them spelled out)."""
import anthropic
import httpx
import ollama
import openai

from common import API_KEY, MODEL, URL, check, done, expect_error

hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else None
c = ollama.Client(host=URL, headers=hdr, timeout=120)
oa = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=120)
an = anthropic.Anthropic(base_url=URL, api_key=API_KEY or "none", max_retries=0, timeout=120)

SYSTEM = "You are Mario from Super Mario Bros. Answer as Mario, briefly."
PRESET = [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "It's-a me, Mario!"}]
Q = "What do you like to eat?"

r = c.create(model="mario", from_=MODEL, system=SYSTEM, parameters={"temperature": 0, "num_predict": 9, "top_k": 1},
             messages=PRESET, license="MIT", stream=False)
check("create: success", r.status == "success", str(r))
names = [m.model for m in c.list().models]
check("the created model is listed", "mario:latest" in names, str(names))
s = c.show("mario")
check("show: modelfile", "SYSTEM" in s.modelfile and "PARAMETER temperature 0" in s.modelfile
      and "MESSAGE assistant" in s.modelfile and s.modelfile.count("FROM ") >= 1, s.modelfile)
check("show: parameters", "num_predict" in s.parameters and "temperature" in s.parameters, s.parameters)
raw = httpx.post(URL + "/api/show", headers=hdr, json={"model": "mario"}).json()
check("show: system, license, messages", raw.get("system") == SYSTEM and raw.get("license") == "MIT"
      and raw.get("messages") == PRESET, str(raw)[:300])

# The same greedy answer as the base model asked with the settings spelled out.
want = c.chat(model=MODEL, messages=[{"role": "system", "content": SYSTEM}] + PRESET + [{"role": "user", "content": Q}],
              options={"temperature": 0, "num_predict": 9, "top_k": 1})
got = c.chat(model="mario", messages=[{"role": "user", "content": Q}])
check("ollama chat: the model's system, messages and parameters apply", got.message.content == want.message.content
      and got.eval_count == want.eval_count <= 9, f"{got.message.content!r} vs {want.message.content!r}")
o = oa.chat.completions.create(model="mario", messages=[{"role": "user", "content": Q}])
check("openai chat: the same", o.choices[0].message.content == want.message.content, o.choices[0].message.content)
a = an.messages.create(model="mario", max_tokens=9, messages=[{"role": "user", "content": Q}])
check("anthropic: the same", a.content and a.content[0].text == want.message.content, str(a))
rr = oa.responses.create(model="mario", input=Q)
check("responses: the same", rr.output_text == want.message.content, rr.output_text)
g = c.generate(model="mario", prompt=Q)
check("ollama generate: the same", g.response == want.message.content, g.response)
# a request's own values win
o = oa.chat.completions.create(model="mario", messages=[{"role": "user", "content": Q}], max_tokens=3)
check("request fields override the model's", o.usage.completion_tokens <= 3, str(o.usage))

# TEMPLATE: a Jinja template replaces the file's.
TPL = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
r = c.create(model="plain-talk", from_=MODEL, template=TPL, parameters={"temperature": 0, "num_predict": 8}, stream=False)
check("create with a template", r.status == "success", str(r))
got = c.chat(model="plain-talk", messages=[{"role": "user", "content": Q}])
want = c.generate(model=MODEL, prompt=f"user: {Q}\nassistant:", raw=True, options={"temperature": 0, "num_predict": 8})
check("the template renders the prompt", got.message.content == want.response, f"{got.message.content!r} vs {want.response!r}")
check("show: the template", c.show("plain-talk").template == TPL)

# Ollama's Go templates get a clear error; so do bad parameters.
expect_error("a Go template is refused, saying so", lambda: c.create(model="go-tpl", from_=MODEL,
             template="{{ if .System }}{{ .System }}{{ end }}{{ .Prompt }}", stream=False), 400, "Go template")
expect_error("an unknown parameter", lambda: c.create(model="x", from_=MODEL, parameters={"mirostat": 1}, stream=False), 400, "mirostat")
expect_error("a parameter out of range", lambda: c.create(model="x", from_=MODEL, parameters={"top_p": 7}, stream=False), 400, "top_p")
expect_error("an unknown base model", lambda: c.create(model="x", from_="no-such-model", stream=False), 404, "no-such-model")
expect_error("uploaded files are refused", lambda: c.create(model="x", files={"a.gguf": "sha256:00"}, stream=False), 400, "files")

# The older body: a Modelfile's text; num_ctx sets the model's context.
mf = f'FROM {MODEL}\nSYSTEM """You are Luigi."""\nPARAMETER num_ctx 96\nPARAMETER stop "\\n"\n'
lines = httpx.post(URL + "/api/create", headers=hdr, json={"model": "luigi", "modelfile": mf}, timeout=120)
check("create from modelfile text (streamed status lines)", lines.status_code == 200
      and lines.text.strip().split("\n")[-1] == '{"status":"success"}', lines.text)
s = c.show("luigi")
check("its settings", "You are Luigi." in s.modelfile and 'stop' in s.parameters, s.modelfile)
c.chat(model="luigi", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 2})
ctx = [m.context_length for m in c.ps().models if m.model == "luigi:latest"]
check("num_ctx is the model's context", ctx == [96], str(c.ps()))
expect_error("a prompt past num_ctx is refused", lambda: c.chat(model="luigi", messages=[{"role": "user", "content": "word " * 200}]), 400, "context")
# a created model made again replaces it
r = c.create(model="luigi", from_=MODEL, system="You are Luigi, Mario's brother.", stream=False)
check("create again replaces a created model", r.status == "success" and "brother" in c.show("luigi").modelfile)
# a model created from a created model inherits its settings
r = c.create(model="mario2", from_="mario", parameters={"num_predict": 4}, stream=False)
s2 = c.show("mario2")
check("inherits the base's settings, its own win", SYSTEM in s2.modelfile and "num_predict         4" in s2.parameters
      and "temperature" in s2.parameters, s2.parameters)
done()
