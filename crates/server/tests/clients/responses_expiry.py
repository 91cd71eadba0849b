"""A server keeping responses 2 s: previous_response_id works within that,
and afterwards is refused saying the response expired."""
import time

import openai

from common import API_KEY, MODEL, URL, check, done, expect_error

c = openai.OpenAI(base_url=URL + "/v1", api_key=API_KEY or "none", max_retries=0, timeout=120)
a = c.responses.create(model=MODEL, input="Hi", temperature=0, max_output_tokens=4)
b = c.responses.create(model=MODEL, previous_response_id=a.id, input="Again", temperature=0, max_output_tokens=4)
check("within its time", b.previous_response_id == a.id)
time.sleep(2.5)
expect_error("after it, refused as expired", lambda: c.responses.create(
    model=MODEL, previous_response_id=a.id, input="x"), 400, "expired")
expect_error("retrieve says so too", lambda: c.responses.retrieve(b.id), 404, "expired")
done()
