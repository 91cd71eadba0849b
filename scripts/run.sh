#!/usr/bin/env bash
# The main job on the default model: build hearth and ask it. The first run
# pulls qwen2.5-coder:0.5b into the model store (once); later runs are offline.
#   ./scripts/run.sh ["your prompt"]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p hearth
exec ./target/release/hearth run "${1:-Write a haiku about owning your own computer}"
