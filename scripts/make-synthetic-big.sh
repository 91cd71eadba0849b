#!/usr/bin/env bash
# By hand, never in CI: random-weight GGUF files with the exact shapes of
# Llama-3.2-3B and Qwen3-8B in Q4_K_M, for speed side by side with llama.cpp
# (scripts/bench-vs-llamacpp.py --models llama3.2-3b-synth,qwen3-8b-synth);
# and, named as arguments, the mixtures of experts qwen3-30b-a3b (Q4_K_M,
# 16 of its 48 layers unless QWEN3MOE_LAYERS says otherwise: ~6 GB) and
# gpt-oss-20b (MXFP4 experts, 12 of 24 layers unless GPT_OSS_LAYERS: ~6 GB),
# every layer of the real per-layer shape (--models qwen3-30b-a3b-synth,
# gpt-oss-20b-synth). gpt-oss's vocabulary needs tiktoken's o200k_base
# (scripts/setup-synthetic-models.sh fetches it).
# Qwen3.5-4B's shape too, named as an argument (qwen3.5-4b: F16 made, Q4_K_M kept).
# Gemma-4-E4B's, named as an argument (gemma-4-e4b: written in Q4_K_M by the
# generator itself, all 42 layers unless GEMMA4_LAYERS; ~4.5 GB;
# bench-vs-llamacpp.py --models ~/.cache/hearth/synthetic-big/gemma-4-e4b-q4_k_m.gguf).
# Cutting its layers keeps the last 18 sharing
# K/V only if GEMMA4_LAYERS > 20.
# Each is written as F16 by scripts/make-synthetic-models.py --big (real
# metadata, vocabulary and tensor names; 6.4 / 16.4 GB), quantized with
# llama.cpp's own llama-quantize, and the F16 file removed. Skips files that
# exist.
#
#   HEARTH_SYNTHETIC_BIG  output directory (default ~/.cache/hearth/synthetic-big)
#   LLAMA_QUANTIZE        llama-quantize (default ~/.cache/hearth/llamacpp/build/bin/llama-quantize)
#   PY                    a python with numpy and gguf-py (default: the venv
#                         scripts/setup-synthetic-models.sh makes)
#   THREADS               llama-quantize threads (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${HEARTH_SYNTHETIC_BIG:-$HOME/.cache/hearth/synthetic-big}"
quantize="${LLAMA_QUANTIZE:-$HOME/.cache/hearth/llamacpp/build/bin/llama-quantize}"
py="${PY:-$HOME/.cache/hearth/venv-synth/bin/python}"
mkdir -p "$out"
for name in "${@:-llama3.2-3b qwen3-8b}"; do
  for n in $name; do
    case "$n" in
      # mixtures of experts: written quantized by the generator itself
      # (their F16 files would not fit), layers cut to fit the memory
      qwen3-30b-a3b | gpt-oss-20b | gemma-4-e4b)
        if [ "$n" = gpt-oss-20b ]; then
          dst="$out/$n-mxfp4.gguf" layers="${GPT_OSS_LAYERS:-12}"
        elif [ "$n" = gemma-4-e4b ]; then
          dst="$out/$n-q4_k_m.gguf" layers="${GEMMA4_LAYERS:-42}"
        else
          dst="$out/$n-q4_k_m.gguf" layers="${QWEN3MOE_LAYERS:-16}"
        fi
        if [ -f "$dst" ]; then
          echo "have $dst"
          continue
        fi
        HEARTH_O200K="${HEARTH_O200K:-$HOME/.cache/hearth/o200k/o200k_base.tiktoken}" \
          "$py" scripts/make-synthetic-models.py --big "$n" --layers "$layers" --out "$out"
        mv "$out/$n.gguf" "$dst"
        echo "made $dst ($(du -h "$dst" | cut -f1), $layers layers)"
        continue
        ;;
    esac
    dst="$out/$n-q4_k_m.gguf"
    if [ -f "$dst" ]; then
      echo "have $dst"
      continue
    fi
    "$py" scripts/make-synthetic-models.py --big "$n" --out "$out"
    "$quantize" "$out/$n.gguf" "$dst.tmp" Q4_K_M "${THREADS:-2}"
    mv "$dst.tmp" "$dst"
    rm "$out/$n.gguf"
    echo "made $dst ($(du -h "$dst" | cut -f1))"
  done
done
