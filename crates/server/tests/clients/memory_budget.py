"""Under a memory budget that holds one of the two models, loading the
second unloads the least recently used idle one."""
import os

import ollama

from common import API_KEY, MODEL, URL, check, done

if not os.path.exists(os.path.join(os.environ["MODELS_DIR"], "qwen-coder.gguf")):
    print("skipping: qwen2.5-coder not fetched")
    raise SystemExit(0)
c = ollama.Client(host=URL, headers={"Authorization": f"Bearer {API_KEY}"} if API_KEY else None, timeout=300)
c.generate(model=MODEL, prompt="Hi", options={"num_predict": 1})
check("first model loaded", [m.model for m in c.ps().models] == [MODEL], str(c.ps()))
c.generate(model="qwen-coder", prompt="Hi", options={"num_predict": 1})
check("LRU model unloaded for the second", [m.model for m in c.ps().models] == ["qwen-coder"], str(c.ps()))
c.generate(model=MODEL, prompt="Hi", options={"num_predict": 1})
check("and back", [m.model for m in c.ps().models] == [MODEL], str(c.ps()))
done()
