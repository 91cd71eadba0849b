#!/usr/bin/env bash
# Makes (once) the synthetic models of today's decoder families that
# crates/model/tests/synthetic.rs compares with llama.cpp's fixtures:
# scripts/make-synthetic-models.py run in its own venv (numpy pinned, gguf-py
# from the llama-cpp-python sdist), into ~/.cache/hearth/synthetic (or
# $HEARTH_SYNTHETIC), every file checked against the committed
# tests/fixtures/synthetic/SHA256SUMS. Idempotent: files that already match
# are left alone (a check of their sha256 only).
#
#   HEARTH_SYNTHETIC        output directory
#   HEARTH_SYNTH_VENV       the generator's venv (default ~/.cache/hearth/venv-synth)
#   HEARTH_LLAMACPP_SDIST   llama.cpp's tree (see scripts/fetch-llamacpp-sdist.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${HEARTH_SYNTHETIC:-$HOME/.cache/hearth/synthetic}"
sums="$root/tests/fixtures/synthetic/SHA256SUMS"
venv="${HEARTH_SYNTH_VENV:-$HOME/.cache/hearth/venv-synth}"
numpy=2.4.6   # the files are the same bytes with any numpy; pinned all the same

matches() { [ -d "$out" ] && (cd "$out" && sha256sum --quiet --strict -c "$sums") >/dev/null 2>&1; }

if matches; then
  echo "have the synthetic models ($(wc -l < "$sums") files)"
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

mkdir -p "$out"
HEARTH_LLAMACPP_SDIST="$llamacpp" "$venv/bin/python" scripts/make-synthetic-models.py --out "$out"
if ! (cd "$out" && sha256sum --quiet --strict -c "$sums"); then
  echo "the synthetic models differ from $sums: the generator is not deterministic here, or it changed without the sums being rewritten (make-synthetic-models.py --sums)" >&2
  exit 1
fi
echo "made the synthetic models in $out"
