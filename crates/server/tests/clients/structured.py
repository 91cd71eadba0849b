"""Structured output through both APIs with the real clients: the openai
package's `chat.completions.parse` with pydantic models (and its streaming
helper), response_format json_schema / json_object, llama-server's `grammar`
and `json_schema`, hearth's `regex`, the ollama package's `format` with a
pydantic schema and "json"; every fixture schema validates; unsupported
schema features are a 400 naming them."""
import json
import os
import pathlib
import re
from enum import Enum
from typing import Literal, Optional, Union

import httpx
import jsonschema
import ollama
import openai
from pydantic import BaseModel, Field

from common import API_KEY, URL, check, done, expect_error

MODEL = "qwen-coder"
c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=300)
o = ollama.Client(host=URL)
SCHEMAS = pathlib.Path(os.environ["FIXTURES"]) / "schemas"


class Color(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"
    white = "white"


class Address(BaseModel):
    city: str = Field(max_length=30)
    zip: str = Field(pattern=r"^[0-9]{5}$")


class Person(BaseModel):
    name: str = Field(max_length=40)
    age: int = Field(ge=18, le=99)
    address: Address
    colors: list[Color] = Field(min_length=1, max_length=3)
    score: float = Field(ge=0, le=1)
    stops: Union[int, Literal["unknown"]]
    nickname: Optional[str] = None


ASK = [{"role": "user", "content": "Make up a person from Lyon: name, age, address, favourite colours, "
                                   "a score between 0 and 1, and how many stops their commute has."}]

# chat.completions.parse: the client sends a strict json_schema and parses the answer with pydantic.
r = c.chat.completions.parse(model=MODEL, messages=ASK, response_format=Person, temperature=0, max_tokens=200)
p = r.choices[0].message.parsed
check("parse: pydantic model back", isinstance(p, Person), str(r.choices[0].message))
text = r.choices[0].message.content
keys = list(json.loads(text).keys())
check("parse: keys in the schema's order", keys == list(Person.model_fields.keys()), str(keys))
check("parse: finish stop", r.choices[0].finish_reason == "stop", r.choices[0].finish_reason)

# The streaming helper: content deltas as they come, the parsed model at the end.
stream_api = getattr(c.chat.completions, "stream", None) or c.beta.chat.completions.stream
with stream_api(model=MODEL, messages=ASK, response_format=Person, temperature=0, max_tokens=200) as s:
    deltas = [e.delta for e in s if e.type == "content.delta"]
    final = s.get_final_completion()
check("stream helper: streamed in pieces", len(deltas) > 5, str(len(deltas)))
check("stream helper: parsed", isinstance(final.choices[0].message.parsed, Person))
check("stream helper == parse", "".join(deltas) == text, f"{''.join(deltas)!r} vs {text!r}")

# Sampled (not greedy) answers follow the schema too.
for seed in (1, 2, 3):
    r = c.chat.completions.parse(model=MODEL, messages=ASK, response_format=Person, temperature=1.0, seed=seed, max_tokens=250)
    check(f"parse at temperature 1, seed {seed}", isinstance(r.choices[0].message.parsed, Person), str(r.choices[0].message.content))

# Every fixture schema, through both APIs, validates.
for f in sorted(SCHEMAS.glob("*.json")):
    fx = json.loads(f.read_text())
    msgs = [{"role": "user", "content": fx["prompt"]}]
    rf = {"type": "json_schema", "json_schema": {"name": f.stem, "schema": fx["schema"], "strict": True}}
    r = c.chat.completions.create(model=MODEL, messages=msgs, response_format=rf, temperature=0, max_tokens=200)
    out = r.choices[0].message.content
    try:
        jsonschema.validate(json.loads(out), fx["schema"])
        check(f"openai json_schema {f.stem}", True)
    except Exception as e:  # noqa: BLE001
        check(f"openai json_schema {f.stem}", False, f"{out!r}: {e}")
    # streamed: the same text, in pieces
    chunks = list(c.chat.completions.create(model=MODEL, messages=msgs, response_format=rf, temperature=0, max_tokens=200, stream=True))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    check(f"openai json_schema {f.stem} streamed", streamed == out and len(chunks) > 4, f"{streamed!r} vs {out!r}")
    od = o.chat(model=MODEL, messages=msgs, format=fx["schema"], options={"temperature": 0, "num_predict": 200})
    try:
        jsonschema.validate(json.loads(od.message.content), fx["schema"])
        check(f"ollama format {f.stem}", True)
    except Exception as e:  # noqa: BLE001
        check(f"ollama format {f.stem}", False, f"{od.message.content!r}: {e}")
    g = o.generate(model=MODEL, prompt=fx["prompt"], format=fx["schema"], options={"temperature": 0, "num_predict": 200})
    try:
        jsonschema.validate(json.loads(g.response), fx["schema"])
        check(f"ollama generate format {f.stem}", True)
    except Exception as e:  # noqa: BLE001
        check(f"ollama generate format {f.stem}", False, f"{g.response!r}: {e}")

# Ollama with a pydantic schema, streamed and not.
od = o.chat(model=MODEL, messages=ASK, format=Person.model_json_schema(), options={"temperature": 0, "num_predict": 200})
check("ollama pydantic format", Person.model_validate_json(od.message.content) is not None)
parts = [ch.message.content for ch in o.chat(model=MODEL, messages=ASK, format=Person.model_json_schema(),
                                             options={"temperature": 0, "num_predict": 200}, stream=True)]
check("ollama format streams in pieces", len(parts) > 5 and "".join(parts) == od.message.content,
      f"{len(parts)} {''.join(parts)!r}")
# format "json" and json_object: some JSON object
od = o.chat(model=MODEL, messages=[{"role": "user", "content": "Describe a dog."}], format="json", options={"temperature": 0, "num_predict": 240})
check("ollama format json is an object", isinstance(json.loads(od.message.content), dict), od.message.content)
r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Describe a dog."}],
                              response_format={"type": "json_object"}, temperature=0.8, seed=5, max_tokens=80)
check("json_object is an object", r.choices[0].finish_reason == "length" or isinstance(json.loads(r.choices[0].message.content), dict),
      r.choices[0].message.content)

# llama-server's grammar (GBNF) and json_schema, hearth's regex; on /v1/completions too.
GBNF = 'root ::= "The answer is " ("yes" | "no") "."\n'
r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Is Paris in France?"}], temperature=0,
                              max_tokens=20, extra_body={"grammar": GBNF})
check("GBNF grammar", r.choices[0].message.content in ("The answer is yes.", "The answer is no."), r.choices[0].message.content)
r = c.completions.create(model=MODEL, prompt="Three prime numbers:", temperature=0, max_tokens=20,
                         extra_body={"regex": "( [0-9]{1,3},){2} [0-9]{1,3}"})
check("regex on completions", re.fullmatch(r"( [0-9]{1,3},){2} [0-9]{1,3}", r.choices[0].text) is not None, repr(r.choices[0].text))
r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Pick a number."}], temperature=0, max_tokens=20,
                              extra_body={"json_schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 7}}, "required": ["n"]}})
n = json.loads(r.choices[0].message.content)["n"]
check("llama-server json_schema", 3 <= n <= 7, r.choices[0].message.content)

# What cannot be enforced is refused, naming it; so is a broken grammar.
bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array", "items": {"type": "string"}, "contains": {"const": "a"}}}}
expect_error("unsupported schema keyword is 400 naming it", lambda: c.chat.completions.create(
    model=MODEL, messages=ASK, response_format=bad, max_tokens=5), 400, "contains")
expect_error("unknown string format is 400 naming it", lambda: c.chat.completions.create(
    model=MODEL, messages=ASK, max_tokens=5, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"p": {"type": "string", "format": "phone"}}}}}), 400, "phone")
expect_error("json_schema without schema is 400", lambda: c.chat.completions.create(
    model=MODEL, messages=ASK, max_tokens=5, response_format={"type": "json_schema", "json_schema": {"name": "x"}}), 400, "schema")
expect_error("broken GBNF is 400 naming the rule", lambda: c.chat.completions.create(
    model=MODEL, messages=ASK, max_tokens=5, extra_body={"grammar": "root ::= thing\n"}), 400, "thing")
expect_error("two grammars at once is 400", lambda: c.chat.completions.create(
    model=MODEL, messages=ASK, max_tokens=5, response_format={"type": "json_object"}, extra_body={"regex": "a+"}), 400, "only one")
with httpx.Client(timeout=120) as h:
    hdr = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
    e = h.post(URL + "/api/chat", headers=hdr, json={"model": MODEL, "messages": ASK, "stream": False,
                                                     "format": {"type": "object", "properties": {"a": {"type": "string", "format": "phone"}}}})
    check("ollama: unsupported format is 400 naming it", e.status_code == 400 and "phone" in e.json()["error"], e.text)

done()
