#!/usr/bin/env bash
# Fetch (once) the llama-cpp-python sdist whose vendored llama.cpp is the
# reference for tokenizers and chat templates, and extract only what tests
# read: vendor/llama.cpp/models/ (ggml-vocab-*.gguf with their .inp/.out test
# pairs, templates/*.jinja) and vendor/llama.cpp/gguf-py/. Nothing is built.
#
#   HEARTH_LLAMACPP_SDIST  the llama.cpp root to use instead (then nothing is
#                          fetched: it must already hold models/)
#
# Default location (what crates/test-models `llamacpp_dir` looks in):
#   ~/.cache/hearth/llamacpp/llama_cpp_python-$VER/vendor/llama.cpp
set -euo pipefail
VER=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
cache="$HOME/.cache/hearth/llamacpp"
root="llama_cpp_python-$VER/vendor/llama.cpp"
py="${PYTHON:-python3}"

have() { # the files tests need are there
  [ -f "$1/models/ggml-vocab-llama-bpe.gguf.out" ] && [ -d "$1/models/templates" ] \
    && [ -f "$1/gguf-py/gguf/constants.py" ]
}

if [ -n "${HEARTH_LLAMACPP_SDIST:-}" ]; then
  have "$HEARTH_LLAMACPP_SDIST" || {
    echo "HEARTH_LLAMACPP_SDIST=$HEARTH_LLAMACPP_SDIST has no models/ and gguf-py/ of llama.cpp" >&2
    exit 1
  }
  exit 0
fi
if have "$cache/$root"; then
  echo "have llama.cpp $VER models/ and gguf-py/"
  exit 0
fi

mkdir -p "$cache"
tarball="$cache/llama_cpp_python-$VER.tar.gz"
if ! [ -f "$tarball" ] || [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$SHA256" ]; then
  tmp="$(mktemp -d "$cache/.dl.XXXXXX")"
  # --no-binary: the source distribution, which vendors llama.cpp's tree
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps \
    --no-binary llama-cpp-python -d "$tmp" "llama-cpp-python==$VER"
  got="$(sha256sum "$tmp/llama_cpp_python-$VER.tar.gz" | cut -d' ' -f1)"
  if [ "$got" != "$SHA256" ]; then
    echo "sha256 mismatch for llama_cpp_python-$VER.tar.gz: got $got want $SHA256" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mv "$tmp/llama_cpp_python-$VER.tar.gz" "$tarball"
  rm -rf "$tmp"
fi
tar -xzf "$tarball" -C "$cache" "$root/models" "$root/gguf-py"
have "$cache/$root" || { echo "extracted sdist lacks models/ or gguf-py/" >&2; exit 1; }
echo "fetched llama.cpp $VER models/ and gguf-py/ into $cache/$root"
