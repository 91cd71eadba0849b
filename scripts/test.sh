#!/usr/bin/env bash
# The test command: README.md names it, .ci/run calls it. It installs what the
# tests need (beyond the machine's Rust toolchain, python3 and pip: Debian's
# chromium by apt and playwright-core by npm, for the chat page's browser test),
# fetches the three real test models into a fixed cache directory once
# (~/.cache/hearth/test-models, or $HEARTH_TEST_MODELS) and llama.cpp's
# reference files (~/.cache/hearth/llamacpp, or $HEARTH_LLAMACPP_SDIST), then
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Habits first (they take a minute, not the tests' ten): the code is
# formatted, and clippy finds nothing (the workspace's [workspace.lints] in
# Cargo.toml included). A no-op when the components are already installed.
if command -v rustup >/dev/null; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings 2>&1

bash scripts/fetch-test-models.sh
bash scripts/fetch-llamacpp-sdist.sh  # llama.cpp's vocab test pairs and chat templates (tokenizer tests)
bash scripts/setup-test-clients.sh   # venv with the real openai/ollama/anthropic clients (+ prometheus_client, pydantic) for crates/server tests
bash scripts/setup-synthetic-models.sh  # today's families as small random-weight GGUFs (crates/model/tests/synthetic.rs)
bash scripts/setup-browser-test.sh   # Debian's chromium + playwright-core for the chat page's browser test
bash scripts/web-vendor.sh --check   # the page's vendored marked/highlight.js are the pinned npm releases
export HEARTH_REQUIRE_MODELS=1   # a missing model is a failure, not a skip

# Every test, with the kernels at the best level this CPU has.
cargo test --workspace --release --no-fail-fast 2>&1

# The SIMD levels below the best, on x86_64: an AVX-512 CPU runs them natively
# by capping the dispatch (HEARTH_SIMD); one without AVX-512 runs the AVX-512
# kernel tests under emulation instead.
cpu_has() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }
if [ "$(uname -m)" = x86_64 ] && cpu_has avx512f && cpu_has avx512bw && cpu_has avx512vl; then
    # Kernels and forward passes again at AVX2, the level of CPUs without
    # AVX-512 (but for the test that the AVX-512 kernels are dispatched).
    HEARTH_SIMD=avx2 cargo test -p kernels -p model --release --no-fail-fast \
        -- --skip avx512_kernels_match_the_scalar_reference 2>&1
    # engine::load builds weight panels where the kernels cache them (AVX2)
    HEARTH_SIMD=avx2 cargo test -p engine --release --test load 2>&1
    # AVX-512 without VNNI (Skylake-X's level): the kernel tests that compare
    # the AVX-512 kernels with the scalar reference, checking the dispatch.
    if cpu_has avx512_vnni; then
        HEARTH_SIMD=avx512 HEARTH_EXPECT_SIMD=avx512 \
            cargo test -p kernels --release --no-fail-fast --test avx512 --test simd --test batched 2>&1
    fi
    # AVX2 with AVX-VNNI (the level of Intel laptops without AVX-512): the
    # kernel tests against the scalar reference, and the real models' batched
    # logits with and without panels.
    if cpu_has avx_vnni; then
        HEARTH_SIMD=avx2-vnni HEARTH_EXPECT_SIMD=avx2+vnni \
            cargo test -p kernels --release --no-fail-fast --test simd --test batched --test panel_cache 2>&1
        HEARTH_SIMD=avx2-vnni cargo test -p model --release --no-fail-fast --test panels 2>&1
    fi
else
    # AVX-512 (+VNNI) kernels under emulation: bochs boots a small Linux VM with a
    # Tiger Lake CPU model (AVX-512 + VNNI) and a Skylake-X one (no VNNI) and runs
    # the kernel tests there (qemu does not emulate AVX-512).
    bash scripts/test-avx512.sh
    AVX512_TEST=simd bash scripts/test-avx512.sh
    # With AVX-VNNI (the best level above ran its kernels), AVX2 alone too.
    if [ "$(uname -m)" = x86_64 ] && cpu_has avx_vnni; then
        HEARTH_SIMD=avx2 HEARTH_EXPECT_SIMD=avx2 \
            cargo test -p kernels --release --no-fail-fast --test simd --test batched --test panel_cache 2>&1
    fi
fi

# NEON kernels (aarch64) under qemu user-mode emulation.
bash scripts/test-neon.sh
