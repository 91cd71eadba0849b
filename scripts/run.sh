#!/usr/bin/env bash
# The main job on the default model: fetch qwen2.5-coder:0.5b if needed (once,
# into ~/.cache/hearth/test-models), build hearth, and chat with it.
#   ./scripts/run.sh ["your prompt"]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-test-models.sh >&2
dir="${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}"
cargo build --release --quiet -p hearth
exec ./target/release/hearth run "$dir/qwen2.5-coder-0.5b-instruct.gguf" "${1:-Write a haiku about owning your own computer}"
