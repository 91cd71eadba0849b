// Cross-check harness: links llama.cpp's own sources (ggml/src/ggml-quants.c,
// ggml/src/ggml-cpu/quants.c, ggml/src/ggml-cpu/arch/x86/quants.c,
// ggml/src/ggml-cpu/vec.cpp) and prints a
// JSON fixture with weights quantized by llama.cpp's reference quantizers,
// activations quantized by its reference and x86 quantizers, and the dot
// products of its generic and AVX2 kernels. Built and run by
// scripts/make-kernel-fixtures.py; not part of the Rust build.
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdarg.h>
#include <stdlib.h>
#include "ggml.h"
#include "ggml-impl.h"
#include "ggml-quants.h"
#include "ggml-cpu/quants.h"

#define K 512
#define R 3

float ggml_table_f32_f16[1 << 16];
float ggml_table_f32_e8m0_half[1 << 8];
float ggml_table_f32_ue4m3[1 << 8];
void ggml_abort(const char * file, int line, const char * fmt, ...) { fprintf(stderr, "abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(enum ggml_type t, int64_t ne) { (void)t; (void)ne; return 0; }
size_t ggml_type_size(enum ggml_type t) { (void)t; return 0; }
const char * ggml_type_name(enum ggml_type t) { (void)t; return "?"; }

static uint64_t rs = 0x1234567887654321ull;
static float rnd(void) { // roughly normal
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27;
        uint64_t x = rs * 0x2545F4914F6CDD1Dull;
        s += ((float)(x >> 40) / (float)(1u << 24)) * 2.0f - 1.0f;
    }
    return s * 0.866f;
}

static const void * act_for(const char * act, int x86, int r, uint8_t (*q80r)[K / 32 * 34], uint8_t (*q80x)[K / 32 * 34],
                            uint8_t (*q81r)[K / 32 * 36], uint8_t (*q81x)[K / 32 * 36], uint8_t (*q8k)[K / 256 * 292],
                            uint8_t (*f32)[K * 4], uint8_t (*f16)[K * 2], uint8_t (*bf16)[K * 2]) {
    if (!strcmp(act, "Q8_0")) return x86 ? q80x[r] : q80r[r];
    if (!strcmp(act, "Q8_1")) return x86 ? q81x[r] : q81r[r];
    if (!strcmp(act, "Q8_K")) return q8k[r];
    if (!strcmp(act, "F32")) return f32[r];
    if (!strcmp(act, "F16")) return f16[r];
    return bf16[r];
}

static void hex(const char * key, const void * p, size_t n) {
    printf("\"%s\":\"", key);
    for (size_t i = 0; i < n; i++) printf("%02x", ((const uint8_t *)p)[i]);
    printf("\"");
}

// from ggml/src/ggml-cpu/vec.cpp (C linkage; pointer arguments only)
void ggml_vec_dot_f32(int n, float * s, size_t bs, const float * x, size_t bx, const float * y, size_t by, int nrc);
void ggml_vec_dot_f16(int n, float * s, size_t bs, ggml_fp16_t * x, size_t bx, ggml_fp16_t * y, size_t by, int nrc);
void ggml_vec_dot_bf16(int n, float * s, size_t bs, ggml_bf16_t * x, size_t bx, ggml_bf16_t * y, size_t by, int nrc);

static void q_f32(const float * x, void * y, int64_t k) { memcpy(y, x, k * 4); }
static void q_f16(const float * x, void * y, int64_t k) { for (int64_t i = 0; i < k; i++) ((ggml_fp16_t *)y)[i] = GGML_FP32_TO_FP16(x[i]); }
static void q_bf16(const float * x, void * y, int64_t k) { for (int64_t i = 0; i < k; i++) ((ggml_bf16_t *)y)[i] = GGML_FP32_TO_BF16(x[i]); }

typedef void (*qfn)(const float *, void *, int64_t);
typedef void (*dfn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

struct wt { const char * name; int bs, ts; qfn q; const char * act; dfn gen, simd; };

int main(void) {
    for (int i = 0; i < (1 << 16); i++) ggml_table_f32_f16[i] = ggml_compute_fp16_to_fp32((uint16_t)i);
    for (int i = 0; i < (1 << 8); i++) ggml_table_f32_e8m0_half[i] = GGML_E8M0_TO_FP32_HALF(i); // as ggml_cpu_init
    static float x[R * K], wf[R * K];
    for (int i = 0; i < R * K; i++) x[i] = rnd() * ((i % 17) == 0 ? 8.0f : 1.0f);
    for (int i = 0; i < R * K; i++) wf[i] = rnd() * 0.02f;
    static uint8_t a_f32[R][K * 4], a_f16[R][K * 2], a_bf16[R][K * 2];
    static uint8_t a_q80r[R][K / 32 * 34], a_q80x[R][K / 32 * 34], a_q81r[R][K / 32 * 36], a_q81x[R][K / 32 * 36], a_q8k[R][K / 256 * 292];
    printf("{\"k\":%d,\"rows\":%d,\"acts_bits\":[", K, R);
    for (int i = 0; i < R * K; i++) { uint32_t b; memcpy(&b, &x[i], 4); printf("%s%u", i ? "," : "", b); }
    printf("],\"acts\":{");
    for (int r = 0; r < R; r++) {
        quantize_row_q8_0_ref(x + r * K, (block_q8_0 *)a_q80r[r], K);
        quantize_row_q8_0(x + r * K, a_q80x[r], K);
        quantize_row_q8_1_ref(x + r * K, (block_q8_1 *)a_q81r[r], K);
        quantize_row_q8_1(x + r * K, a_q81x[r], K);
        quantize_row_q8_K_ref(x + r * K, (block_q8_K *)a_q8k[r], K);
        q_f32(x + r * K, a_f32[r], K);
        q_f16(x + r * K, a_f16[r], K);
        q_bf16(x + r * K, a_bf16[r], K);
    }
    const char * names[7] = {"Q8_0_ref", "Q8_0_x86", "Q8_1_ref", "Q8_1_x86", "Q8_K_ref", "F16", "BF16"};
    uint8_t * bufs[7] = {&a_q80r[0][0], &a_q80x[0][0], &a_q81r[0][0], &a_q81x[0][0], &a_q8k[0][0], &a_f16[0][0], &a_bf16[0][0]};
    size_t sizes[7] = {sizeof a_q80r[0], sizeof a_q80x[0], sizeof a_q81r[0], sizeof a_q81x[0], sizeof a_q8k[0], sizeof a_f16[0], sizeof a_bf16[0]};
    for (int t = 0; t < 7; t++) {
        printf("%s\"%s\":[", t ? "," : "", names[t]);
        for (int r = 0; r < R; r++) { printf("%s{", r ? "," : ""); hex("b", bufs[t] + r * sizes[t], sizes[t]); printf("}"); }
        printf("]");
    }
    printf("},\"weights\":[");
    struct wt types[] = {
        {"Q4_0", 32, 18, (qfn)quantize_row_q4_0_ref, "Q8_0", ggml_vec_dot_q4_0_q8_0_generic, ggml_vec_dot_q4_0_q8_0},
        {"Q4_1", 32, 20, (qfn)quantize_row_q4_1_ref, "Q8_1", ggml_vec_dot_q4_1_q8_1_generic, ggml_vec_dot_q4_1_q8_1},
        {"Q5_0", 32, 22, (qfn)quantize_row_q5_0_ref, "Q8_0", ggml_vec_dot_q5_0_q8_0_generic, ggml_vec_dot_q5_0_q8_0},
        {"Q5_1", 32, 24, (qfn)quantize_row_q5_1_ref, "Q8_1", ggml_vec_dot_q5_1_q8_1_generic, ggml_vec_dot_q5_1_q8_1},
        {"Q8_0", 32, 34, (qfn)quantize_row_q8_0_ref, "Q8_0", ggml_vec_dot_q8_0_q8_0_generic, ggml_vec_dot_q8_0_q8_0},
        {"Q2_K", 256, 84, (qfn)quantize_row_q2_K_ref, "Q8_K", ggml_vec_dot_q2_K_q8_K_generic, ggml_vec_dot_q2_K_q8_K},
        {"Q3_K", 256, 110, (qfn)quantize_row_q3_K_ref, "Q8_K", ggml_vec_dot_q3_K_q8_K_generic, ggml_vec_dot_q3_K_q8_K},
        {"Q4_K", 256, 144, (qfn)quantize_row_q4_K_ref, "Q8_K", ggml_vec_dot_q4_K_q8_K_generic, ggml_vec_dot_q4_K_q8_K},
        {"Q5_K", 256, 176, (qfn)quantize_row_q5_K_ref, "Q8_K", ggml_vec_dot_q5_K_q8_K_generic, ggml_vec_dot_q5_K_q8_K},
        {"Q6_K", 256, 210, (qfn)quantize_row_q6_K_ref, "Q8_K", ggml_vec_dot_q6_K_q8_K_generic, ggml_vec_dot_q6_K_q8_K},
        {"MXFP4", 32, 17, (qfn)quantize_row_mxfp4_ref, "Q8_0", ggml_vec_dot_mxfp4_q8_0_generic, ggml_vec_dot_mxfp4_q8_0},
        // float types: no separate generic kernel; both entries are vec.cpp's AVX2 one
        {"F32", 1, 4, q_f32, "F32", (dfn)ggml_vec_dot_f32, (dfn)ggml_vec_dot_f32},
        {"F16", 1, 2, q_f16, "F16", (dfn)ggml_vec_dot_f16, (dfn)ggml_vec_dot_f16},
        {"BF16", 1, 2, q_bf16, "BF16", (dfn)ggml_vec_dot_bf16, (dfn)ggml_vec_dot_bf16},
    };
    int nt = sizeof types / sizeof types[0];
    for (int t = 0; t < nt; t++) {
        struct wt * w = &types[t];
        size_t rb = (size_t)K / w->bs * w->ts;
        uint8_t * wb = malloc(rb * R);
        for (int r = 0; r < R; r++) w->q(wf + r * K, wb + r * rb, K);
        printf("%s{\"type\":\"%s\",\"act\":\"%s\",\"rows\":[", t ? "," : "", w->name, w->act);
        for (int r = 0; r < R; r++) { printf("%s{", r ? "," : ""); hex("b", wb + r * rb, rb); printf("}"); }
        // dots[o][r] with reference-rounded activations (generic) and x86-rounded ones (AVX2 kernel)
        printf("],\"generic_ref_bits\":[");
        for (int o = 0; o < R; o++) for (int r = 0; r < R; r++) {
            const void * a = act_for(w->act, 0, r, a_q80r, a_q80x, a_q81r, a_q81x, a_q8k, a_f32, a_f16, a_bf16);
            float s; w->gen(K, &s, 0, wb + o * rb, 0, a, 0, 1);
            uint32_t b; memcpy(&b, &s, 4); printf("%s%u", (o || r) ? "," : "", b);
        }
        printf("],\"avx2_x86_bits\":[");
        for (int o = 0; o < R; o++) for (int r = 0; r < R; r++) {
            const void * a = act_for(w->act, 1, r, a_q80r, a_q80x, a_q81r, a_q81x, a_q8k, a_f32, a_f16, a_bf16);
            float s; w->simd(K, &s, 0, wb + o * rb, 0, a, 0, 1);
            uint32_t b; memcpy(&b, &s, 4); printf("%s%u", (o || r) ? "," : "", b);
        }
        // float types: also a length that leaves a tail after the 32-wide
        // loop; MXFP4: an odd number of blocks (its AVX2 loop takes pairs)
        int mx = !strcmp(w->name, "MXFP4");
        int tn = mx ? K - 32 : K - 5;
        printf("],\"tail_n\":%d,\"avx2_tail_bits\":[", tn);
        if (w->bs == 1 || mx) for (int o = 0; o < R; o++) for (int r = 0; r < R; r++) {
            const void * a = act_for(w->act, 1, r, a_q80r, a_q80x, a_q81r, a_q81x, a_q8k, a_f32, a_f16, a_bf16);
            float s; w->simd(tn, &s, 0, wb + o * rb, 0, a, 0, 1);
            uint32_t b; memcpy(&b, &s, 4); printf("%s%u", (o || r) ? "," : "", b);
        }
        printf("]}");
        free(wb);
    }
    printf("]}\n");
    return 0;
}
