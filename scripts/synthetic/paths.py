"""Where the generator's inputs and checksums are, and a file's sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# llama.cpp's tree in the llama-cpp-python sdist (scripts/fetch-llamacpp-sdist.sh)
LLAMA_CPP = Path(os.environ.get(
    "HEARTH_LLAMACPP_SDIST",
    os.path.expanduser("~/.cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp")))
ROOT = Path(__file__).resolve().parent.parent.parent
SUMS = ROOT / "tests" / "fixtures" / "synthetic" / "SHA256SUMS"
# the embedding models' (ENCODERS), kept apart from the decoders'
EMBED_SUMS = ROOT / "tests" / "fixtures" / "synthetic" / "embed" / "SHA256SUMS"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
