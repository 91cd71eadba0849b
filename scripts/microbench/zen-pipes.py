#!/usr/bin/env python3
"""Microbenchmarks of the AVX2 instruction mixes hearth's batched kernels are
made of: generated C with inline asm (gcc, x86-64 with AVX2/FMA/F16C), built
and run here, cycles quoted at --ghz (this machine: 3.34). A development tool
for reading the CPU, not part of hearth; BENCHMARKS.md (eighth session) quotes
its output.

  python3 scripts/microbench/zen-pipes.py            # every table
  python3 scripts/microbench/zen-pipes.py pairs      # one: pairs | pass | q8 | layout

pairs:  independent instruction streams, cycles per group (which ops share a pipe).
pass:   the cached two-lane pass (`kernels/src/avx2/two_lane.rs`, `run2::<4,false>`):
        one block of 4 weight rows x 4 activation rows (512 multiply-adds) on
        L1-resident data: LLVM's order as compiled, a hand-pipelined order, and
        the same with one kind of op removed (timing only).
q8:     the Q8_0 kernel for 8 activation rows (the former `kernels/src/avx2/q8rows.rs`, removed with the order knob), one block of
        one weight row x 8 rows (256 multiply-adds), with variants.
layout: an alternative panel (8 weight rows per vector, one i32 lane per output)
        with the same data sizes, for comparison.
"""
import os
import re
import subprocess
import sys
import tempfile

GHZ = 3.34
for i, a in enumerate(sys.argv):
    if a == "--ghz":
        GHZ = float(sys.argv[i + 1])

HEAD = """#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
 static float buf[64] __attribute__((aligned(64))); for(int i=0;i<64;i++)buf[i]=1.0f;
 int nb=28; char *P=aligned_alloc(64,512*(nb+4)); char *A=aligned_alloc(64,34*nb*8+128); char *C=aligned_alloc(64,16*nb*4+128);
 for(int i=0;i<512*(nb+4);i++)P[i]=(char)(i*7); for(int i=0;i<34*nb*8+128;i++)A[i]=(char)(i*3); for(int i=0;i<16*nb*4+128;i++)C[i]=0;
 static float S[16] __attribute__((aligned(64)));
 long R1=34*nb,R2=2*R1,R3=3*R1,R4=4*R1,R5=5*R1,R6=6*R1,R7=7*R1,K1=16*nb,K2=32*nb,K3=48*nb;
 (void)buf;(void)S;(void)R4;(void)R5;(void)R6;(void)R7;(void)K1;(void)K2;(void)K3;
"""
CLOBBER = ",".join(f'"xmm{i}"' for i in range(16)) + ',"memory"'

# ---- pairs: independent streams (12 destinations, sources ymm12/13 never written) ----
OPS = {
    "maddubs": "vpmaddubsw %%ymm12, %%ymm13, %%ymm{d}",
    "maddwd": "vpmaddwd %%ymm12, %%ymm13, %%ymm{d}",
    "cvt": "vcvtdq2ps %%ymm12, %%ymm{d}",
    "fma": "vfmadd231ps %%ymm12, %%ymm13, %%ymm{d}",
    "mulps": "vmulps %%ymm12, %%ymm13, %%ymm{d}",
    "addps": "vaddps %%ymm12, %%ymm13, %%ymm{d}",
    "paddw": "vpaddw %%ymm12, %%ymm13, %%ymm{d}",
    "psubw": "vpsubw %%ymm12, %%ymm13, %%ymm{d}",
    "sign": "vpsignb %%ymm12, %%ymm13, %%ymm{d}",
    "bcastq": "vpbroadcastq (%%rsi), %%ymm{d}",
    "bcastss": "vbroadcastss (%%rsi), %%ymm{d}",
}
PAIRS = ["maddubs", "cvt", "fma", "paddw", "sign", "maddubs+maddwd", "maddubs+cvt", "maddubs+fma",
         "maddubs+mulps", "maddubs+paddw", "maddubs+sign", "maddubs+bcastq", "cvt+fma", "cvt+mulps",
         "maddubs+cvt+fma", "maddubs+fma+addps", "maddubs+paddw+paddw+paddw",
         "maddubs+maddwd+cvt+fma+sign", "maddubs+maddwd+cvt+mulps+addps+sign"]


def pairs_c():
    out = [HEAD]
    for c in PAIRS:
        ops, body, d = c.split("+"), [], 0
        for _ in range(12):
            for op in ops:
                body.append(OPS[op].format(d=d % 12))
                d += 1
        s = "\\n\\t".join(body)
        out.append(f'{{ long n=20000000; double t0=now(); for(long i=0;i<n;i++){{ __asm__ volatile("{s}" :: "S"(buf): {CLOBBER}); }}'
                   f' printf("  %-40s %5.2f cycles per group\\n", "{c}", (now()-t0)/n/12*{GHZ}e9); }}')
    out.append("return 0;}")
    return "\n".join(out)


# ---- pass: the cached two-lane block (registers: P panel, A activations, C per-row terms) ----
def two_lane_block(snew, sold, pipelined):
    """One block's multiplies into `snew` and the previous block's float part from `sold`."""
    mult = []
    for h in range(4):
        for r in range(4):
            a = "(%[A])" if r == 0 else f"(%[A],%[R{r}])"
            t = "ymm13" if r % 2 == 0 else "ymm14"
            g = [f"vpbroadcastq {hex(2 + 8 * h)}{a},%%{t}"]
            if h == 0:
                g.append(f"vpmaddubsw {hex(32 * h)}(%[P]),%%{t},%%{snew[r]}")
            else:
                g += [f"vpmaddubsw {hex(32 * h)}(%[P]),%%{t},%%{t}", f"vpaddw %%{t},%%{snew[r]},%%{snew[r]}"]
            mult.append(g)
    epi = [["vpshuflw $0xa0,-0x20(%[P]),%%xmm15", "vpshufhw $0xa0,%%xmm15,%%xmm15", "vcvtph2ps %%xmm15,%%ymm15"]]
    for r in range(4):
        c = "(%[C])" if r == 0 else f"(%[C],%[K{r}])"
        s = sold[r]
        epi.append([f"vpbroadcastq {c},%%ymm14", f"vpsubw %%ymm14,%%{s},%%{s}", f"vpmaddwd %%ymm0,%%{s},%%{s}",
                    f"vcvtdq2ps %%{s},%%{s}", f"vbroadcastss 0x8{c},%%ymm14", "vmulps %%ymm15,%%ymm14,%%ymm14",
                    f"vfmadd231ps %%{s},%%ymm14,%%ymm{1 + r}"])
    out = []
    if pipelined:
        out += epi[0]
        for i, g in enumerate(mult):
            out += g
            if i % 4 == 1:
                out += epi[1 + i // 4]
    else:
        for g in mult:
            out += g
        for e in epi:
            out += e
    return out


def shift(lines, dp, da, dc):
    def sh(tag, d):
        return lambda m: f"{hex(int(m.group(1) or '0', 16) + d)}(%[{tag}]"
    res = []
    for l in lines:
        l = re.sub(r"(-?0x[0-9a-f]+)?\(%\[P\]", sh("P", dp), l)
        l = re.sub(r"(-?0x[0-9a-f]+)?\(%\[A\]", sh("A", da), l)
        l = re.sub(r"(-?0x[0-9a-f]+)?\(%\[C\]", sh("C", dc), l)
        res.append(l)
    return res


def loop_c(variants, step_p, step_a, step_c, per, blocks_per_asm):
    """Time each variant (asm lines over the panel P, activation rows A at R1.. apart, per-row
    terms C at K1.. apart, scratch S), `blocks_per_asm` blocks of `per` multiply-adds per asm."""
    out = [HEAD]
    for name, lines in variants.items():
        s = "\\n\\t".join(lines)
        regs = ",".join(f'[{r}]"r"({r.lower() if r in "PAC" else r})'
                        for r in ["P", "A", "C", "S", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "K1", "K2", "K3"]
                        if f"%[{r}]" in s)
        out.append(
            f'{{ double best=1e9; for(int rep=0;rep<5;rep++){{ long n=300000; double t0=now();'
            f' for(long it=0;it<n;it++){{ char*p=P+{step_p},*a=A,*c=C; for(int b=0;b<nb;b+={blocks_per_asm}){{'
            f' __asm__ volatile("{s}" :: {regs} : {CLOBBER});'
            f' p+={step_p * blocks_per_asm};a+={step_a * blocks_per_asm};c+={step_c * blocks_per_asm};}} }}'
            f' double t=(now()-t0)/n/nb*{GHZ}e9; if(t<best)best=t; }}'
            f' printf("  %-40s %6.2f cycles per block  %5.1f multiply-adds per cycle  (%d instructions)\\n",'
            f' "{name}", best, {per}/best, {len(lines) // blocks_per_asm}); }}')
    out.append("return 0;}")
    return "\n".join(out)


def pass_c():
    s1, s2 = ["ymm5", "ymm6", "ymm7", "ymm8"], ["ymm9", "ymm10", "ymm11", "ymm12"]
    v = {}
    for name, pip in [("in order (multiplies, then floats)", False), ("pipelined", True)]:
        v[name] = two_lane_block(s1, s2, pip) + shift(two_lane_block(s2, s1, pip), 160, 34, 16)
    base = v["pipelined"]
    for label, pat in [("pipelined without the FMAs", "vfmadd"), ("pipelined without the conversions", "vcvtdq2ps"),
                       ("pipelined without the scale products", "vmulps"), ("pipelined without the i16 sums", "vpaddw"),
                       ("pipelined without the offset subtraction", "vpsubw"),
                       ("pipelined, no float part", "vfmadd|vcvtdq2ps|vmulps|vbroadcastss")]:
        v[label] = [l for l in base if not re.match(pat, l)]
    return loop_c(v, 160, 34, 16, 512, 2)


def layout_c():
    """8 weight rows per vector (dword j = row j's 4 quants of a chunk), signed weights as memory
    operands, activations offset to unsigned (y + 128) broadcast per dword; per block and
    activation row: 8 vpmaddubsw, two widenings, one i32 lane per output, one conversion and one
    FMA per 8 outputs; the offset term a per-block vector of the panel."""
    lines = []
    for r in range(4):
        a = "(%[A])" if r == 0 else f"(%[A],%[R{r}])"
        s, h = f"ymm{5 + r}", f"ymm{9 + r}"
        for c in range(8):
            t = "ymm13" if c % 2 == 0 else "ymm14"
            lines += [f"vpbroadcastd {hex(2 + 4 * c)}{a},%%{t}", f"vpmaddubsw {hex(32 * c)}(%[P]),%%{t},%%{t}"]
            if c in (0, 4):
                if c == 4:
                    lines.append(f"vpmaddwd %%ymm0,%%{s},%%{h}")
                lines.append(f"vmovdqa %%{t},%%{s}")
            else:
                lines.append(f"vpaddw %%{t},%%{s},%%{s}")
        cc = "(%[C])" if r == 0 else f"(%[C],%[K{r}])"
        lines += [f"vpmaddwd %%ymm0,%%{s},%%{s}", f"vpaddd %%{s},%%{h},%%{h}", f"vpsubd 0x100(%[P]),%%{h},%%{h}",
                  f"vcvtdq2ps %%{h},%%{h}", f"vbroadcastss 0x8{cc},%%ymm13", "vmulps 0x120(%[P]),%%ymm13,%%ymm13",
                  f"vfmadd231ps %%{h},%%ymm13,%%ymm{1 + r}"]
    return loop_c({"8 rows per vector, one lane (1024 MACs)": lines}, 0x140, 34, 16, 1024, 1)


def q8_c():
    def block(variant):
        lines = ["vpbroadcastw (%[P]),%%xmm15", "vcvtph2ps %%xmm15,%%ymm15", "vmulps (%[C]),%%ymm15,%%ymm15",
                 "vmovaps %%ymm15,(%[S])", "vmovdqu 0x2(%[P]),%%ymm9", "vpsignb %%ymm9,%%ymm9,%%ymm10"]
        for j in range(8):
            a = f"0x2(%[A],%[R{j}])" if j else "0x2(%[A])"
            t, u = ("ymm11", "ymm13") if j % 2 == 0 else ("ymm12", "ymm14")
            lines += [f"vmovdqu {a},%%{t}"]
            if variant != "without the sign":
                lines += [f"vpsignb %%ymm9,%%{t},%%{t}"]
            lines += [f"vpmaddubsw %%{t},%%ymm10,%%{t}", f"vpmaddwd %%ymm0,%%{t},%%{t}"]
            if variant == "as the kernel (convert, FMA)":
                lines += [f"vcvtdq2ps %%{t},%%{t}", f"vbroadcastss {hex(4 * j)}(%[S]),%%{u}",
                          f"vfmadd231ps %%{t},%%{u},%%ymm{1 + j}"]
            elif variant == "magic-number conversion, FMA":
                lines += [f"vpaddd %%ymm15,%%{t},%%{t}", f"vsubps %%ymm15,%%{t},%%{t}",
                          f"vbroadcastss {hex(4 * j)}(%[S]),%%{u}", f"vfmadd231ps %%{t},%%{u},%%ymm{1 + j}"]
            elif variant == "conversion, integer sums":
                lines += [f"vcvtdq2ps %%{t},%%{t}", f"vpaddd %%{t},%%ymm{1 + j},%%ymm{1 + j}"]
            elif variant == "FMA as multiply + add":
                lines += [f"vcvtdq2ps %%{t},%%{t}", f"vmulps {hex(4 * j)}(%[S]),%%{t},%%{t}",
                          f"vaddps %%{t},%%ymm{1 + j},%%ymm{1 + j}"]
            elif variant in ("integer sums only (vpaddd)", "without the sign"):
                lines += [f"vpaddd %%{t},%%ymm{1 + j},%%ymm{1 + j}"]
        if variant == "one lane (block sums, one conversion)":
            lines = one_lane_q8()
        return lines

    def one_lane_q8():
        # per activation row j: its 8 i32 partial sums in ymm(1+j)... reduced to one vector of the 8 block sums
        lines = ["vpbroadcastw (%[P]),%%xmm15", "vcvtph2ps %%xmm15,%%ymm15", "vmulps (%[C]),%%ymm15,%%ymm15",
                 "vmovdqu 0x2(%[P]),%%ymm9", "vpsignb %%ymm9,%%ymm9,%%ymm10"]
        for j in range(8):
            a = f"0x2(%[A],%[R{j}])" if j else "0x2(%[A])"
            v = f"ymm{1 + j}"
            lines += [f"vmovdqu {a},%%{v}", f"vpsignb %%ymm9,%%{v},%%{v}", f"vpmaddubsw %%{v},%%ymm10,%%{v}",
                      f"vpmaddwd %%ymm0,%%{v},%%{v}"]
        lines += ["vphaddd %%ymm2,%%ymm1,%%ymm1", "vphaddd %%ymm4,%%ymm3,%%ymm3", "vphaddd %%ymm6,%%ymm5,%%ymm5",
                  "vphaddd %%ymm8,%%ymm7,%%ymm7", "vphaddd %%ymm3,%%ymm1,%%ymm1", "vphaddd %%ymm7,%%ymm5,%%ymm5",
                  "vperm2i128 $0x20,%%ymm5,%%ymm1,%%ymm2", "vperm2i128 $0x31,%%ymm5,%%ymm1,%%ymm3",
                  "vpaddd %%ymm3,%%ymm2,%%ymm2", "vcvtdq2ps %%ymm2,%%ymm2", "vfmadd231ps %%ymm2,%%ymm15,%%ymm11"]
        return lines
    names = ["one lane (block sums, one conversion)", "as the kernel (convert, FMA)", "FMA as multiply + add", "magic-number conversion, FMA",
             "conversion, integer sums", "integer sums only (vpaddd)",
             "without the sign", "multiplies only (no accumulation)"]
    return loop_c({v: block(v) for v in names}, 34, 34, 32, 256, 1)


def run(name, src):
    with tempfile.TemporaryDirectory() as d:
        c, exe = os.path.join(d, "m.c"), os.path.join(d, "m")
        open(c, "w").write(src)
        subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-mf16c", c, "-o", exe], check=True)
        print(f"{name}:", flush=True)
        subprocess.run([exe], check=True)


def main():
    which = [a for a in sys.argv[1:] if a in ("pairs", "pass", "q8", "layout")] or ["pairs", "pass", "q8", "layout"]
    for w in which:
        run(w, {"pairs": pairs_c, "pass": pass_c, "q8": q8_c, "layout": layout_c}[w]())


if __name__ == "__main__":
    main()
