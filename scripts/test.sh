#!/usr/bin/env bash
# The test command: README.md names it, .ci/run calls it. It installs what the
# tests need (nothing beyond the machine's Rust toolchain, python3 and pip),
# fetches the three real test models into a fixed cache directory once
# (~/.cache/hearth/test-models, or $HEARTH_TEST_MODELS), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-test-models.sh
bash scripts/setup-test-clients.sh   # venv with the real openai/ollama/anthropic clients (+ prometheus_client, pydantic) for crates/server tests
export HEARTH_REQUIRE_MODELS=1   # a missing model is a failure, not a skip

cargo test --workspace --release --no-fail-fast 2>&1

# NEON kernels (aarch64) under qemu user-mode emulation.
bash scripts/test-neon.sh

# AVX-512 (+VNNI) kernels under emulation: bochs boots a small Linux VM with a
# Tiger Lake CPU model (AVX-512 + VNNI) and a Skylake-X one (no VNNI) and runs
# the kernel tests there (this CPU has no AVX-512; qemu does not emulate it).
bash scripts/test-avx512.sh
AVX512_TEST=simd bash scripts/test-avx512.sh
