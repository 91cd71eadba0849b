#!/usr/bin/env python3
"""Generate dequantization fixtures for the `kernels` crate.

Uses the Python `gguf` package (an implementation independent of ours and of
llama.cpp's C code) as the reference. For every format it builds a few blocks of
deterministic pseudo-random raw bytes, overwrites the f16 scale fields with small
normal f16 values (so nothing decodes to inf/nan), and records the bytes (hex)
and `gguf.quants.dequantize(...)` output in tests/fixtures/kernels/<TYPE>.json.
It also records `gguf.quants.quantize(x, Q8_0)` for some float rows, to check our
Q8_0 activation quantizer's rounding.

If gcc and the vendored llama.cpp source (/root/.cache/hearth-ref/llama.cpp, or
$LLAMA_CPP_DIR) are available, it also builds crates/kernels/tools/llama_ref_harness.c
against llama.cpp's own C/C++ kernel code and records, in llama_ref.json,
weights quantized by llama.cpp's reference quantizers, activations quantized by
its reference and x86 quantizers, and its generic and AVX2 dot products.

Run with: /root/.cache/hearth-ref/venv/bin/python scripts/make-kernel-fixtures.py
"""
import json
import os
import shutil
import struct
import subprocess
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "kernels")

# byte offsets of f16 scale fields inside one block (layouts: llama.cpp ggml/src/ggml-common.h)
F16_FIELDS = {
    "Q4_0": [0],
    "Q4_1": [0, 2],
    "Q5_0": [0],
    "Q5_1": [0, 2],
    "Q8_0": [0],
    "Q2_K": [80, 82],
    "Q3_K": [108],
    "Q4_K": [0, 2],
    "Q5_K": [0, 2],
    "Q6_K": [208],
}


def f16_bytes(rng):
    v = np.float16(rng.normal(0.0, 0.05))
    return struct.pack("<e", float(v))


def make(name, n_blocks, rng):
    qt = getattr(T, name)
    block, size = GGML_QUANT_SIZES[qt]
    if name == "F32":
        raw = rng.normal(0.0, 1.0, size=n_blocks).astype("<f4").tobytes()
    elif name == "F16":
        raw = rng.normal(0.0, 1.0, size=n_blocks).astype("<f2").tobytes()
    elif name == "BF16":
        f = rng.normal(0.0, 1.0, size=n_blocks).astype("<f4")
        raw = (f.view("<u4") >> 16).astype("<u2").tobytes()
    else:
        buf = bytearray(rng.integers(0, 256, size=n_blocks * size, dtype=np.uint8).tobytes())
        for b in range(n_blocks):
            if name == "MXFP4":
                # the E8M0 scale byte (2^(e-127)): every exponent from 2^-10
                # to 2^5, and the subnormal-like 0 and 1 of the first blocks
                buf[b * size] = (0, 1)[b] if b < 2 else int(rng.integers(117, 133))
            for off in F16_FIELDS.get(name, []):
                buf[b * size + off:b * size + off + 2] = f16_bytes(rng)
        raw = bytes(buf)
    data = np.frombuffer(raw, dtype=np.uint8)
    out = gguf.quants.dequantize(data, qt).astype(np.float32).reshape(-1)
    assert out.size == n_blocks * block, (name, out.size)
    assert np.all(np.isfinite(out)), name
    return {
        "type": name,
        "n": int(out.size),
        "bytes": raw.hex(),
        # f32 bit patterns: exact, no decimal round-trip questions
        "values_bits": [int(x) for x in out.view("<u4")],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    plan = {
        "F32": 64, "F16": 64, "BF16": 64,
        "Q4_0": 6, "Q4_1": 6, "Q5_0": 6, "Q5_1": 6, "Q8_0": 6,
        "Q2_K": 3, "Q3_K": 3, "Q4_K": 3, "Q5_K": 3, "Q6_K": 3,
        "MXFP4": 8,
    }
    for i, (name, nb) in enumerate(plan.items()):
        rng = np.random.default_rng(1234 + i)
        fx = make(name, nb, rng)
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(fx, f, separators=(",", ":"))
            f.write("\n")

    # Q8_0 quantization reference (activation quantizer rounding).
    rng = np.random.default_rng(99)
    x = rng.normal(0.0, 1.0, size=8 * 32).astype(np.float32)
    x[32:64] *= 1e-3
    x[64:96] = 0.0
    x[96:128] = np.round(rng.normal(0, 4, size=32)) * 0.5  # ties
    q = gguf.quants.quantize(x.reshape(1, -1), T.Q8_0).reshape(-1)
    with open(os.path.join(OUT, "quantize_Q8_0.json"), "w") as f:
        json.dump({
            "type": "Q8_0",
            "n": int(x.size),
            "input_bits": [int(v) for v in x.view("<u4")],
            "bytes": q.tobytes().hex(),
        }, f, separators=(",", ":"))
        f.write("\n")


def llama_ref():
    root = os.environ.get("LLAMA_CPP_DIR", "/root/.cache/hearth-ref/llama.cpp")
    g = os.path.join(root, "ggml")
    if not shutil.which("gcc") or not shutil.which("g++") or not os.path.isdir(g):
        print("skipping llama_ref.json (no gcc/g++ or llama.cpp source)")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    harness = os.path.join(here, "..", "crates", "kernels", "tools", "llama_ref_harness.c")
    flags = ["-O2", "-mavx2", "-mfma", "-mf16c", "-I", f"{g}/include", "-I", f"{g}/src", "-I", f"{g}/src/ggml-cpu"]
    srcs = [harness, f"{g}/src/ggml-quants.c", f"{g}/src/ggml-cpu/quants.c", f"{g}/src/ggml-cpu/arch/x86/quants.c",
            f"{g}/src/ggml-cpu/vec.cpp"]
    # ggml-quants.c lives in ggml-base, which llama.cpp builds without arch flags
    # (so no FMA contraction there); the ggml-cpu sources get -mavx2 -mfma -mf16c.
    base_flags = [f for f in flags if not f.startswith("-m")]
    with tempfile.TemporaryDirectory() as td:
        objs = []
        for i, src in enumerate(srcs):
            o = os.path.join(td, f"{i}.o")
            fl = base_flags if src.endswith("ggml-quants.c") else flags
            cc = ["g++", "-std=c++17"] if src.endswith(".cpp") else ["gcc"]
            subprocess.run([*cc, *fl, "-c", src, "-o", o], check=True)
            objs.append(o)
        exe = os.path.join(td, "harness")
        subprocess.run(["g++", *objs, "-lm", "-o", exe], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    json.loads(out)
    with open(os.path.join(OUT, "llama_ref.json"), "w") as f:
        f.write(out)


if __name__ == "__main__":
    main()
    llama_ref()
