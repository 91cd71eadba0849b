"""Shared by the scripts that make reference fixtures with llama.cpp."""
import hashlib


def sha256(path):
    """The SHA-256 of a file, read in 1 MiB pieces (model files are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
