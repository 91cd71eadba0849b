#!/usr/bin/env bash
# aarch64 (NEON) kernel tests under qemu user-mode emulation on an x86_64 host.
# Installs what it needs idempotently (rust target, cross linker + libc, qemu),
# then runs the kernels crate's tests for aarch64-unknown-linux-gnu; the runner
# and linker come from .cargo/config.toml. qemu's default CPU (max) has dotprod
# and i8mm (level neon+i8mm); QEMU_CPU=neoverse-n1 (dotprod without i8mm) and
# HEARTH_SIMD=neon-dotprod cover the dotprod level, QEMU_CPU=cortex-a53 (a core
# without FEAT_DotProd) the baseline-NEON dispatch.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu

skip() { echo "test-neon: NEON tests SKIPPED: $1" >&2; exit 0; }

# A no-op when already installed. If the toolchain server or the package
# mirror cannot be reached, say so loudly and skip rather than fail the run.
rustup target add "$TARGET" >/dev/null || skip "could not install the $TARGET Rust target"

if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
    || [ ! -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update || skip "apt-get update failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross || skip "could not install qemu-user and the aarch64 cross toolchain"
fi

cargo test -p kernels --release --target "$TARGET" 2>&1
QEMU_CPU=neoverse-n1 cargo test -p kernels --release --target "$TARGET" --test neon --test batched 2>&1
HEARTH_SIMD=neon-dotprod cargo test -p kernels --release --target "$TARGET" --test neon --test batched 2>&1
QEMU_CPU=cortex-a53 cargo test -p kernels --release --target "$TARGET" --lib -- neon:: 2>&1
QEMU_CPU=cortex-a53 cargo test -p kernels --release --target "$TARGET" --test neon 2>&1
