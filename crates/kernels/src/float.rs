//! Plain float formats F32, F16, BF16 (one element per "block").
//! F16 is IEEE half (`ggml_fp16_t`), BF16 is the top 16 bits of an f32
//! (`ggml_bf16_t`, llama.cpp `ggml/src/ggml-impl.h`). Dot products follow
//! llama.cpp's AVX2 `ggml_vec_dot_f32/f16/bf16` (`ggml/src/ggml-cpu/vec.cpp`)
//! op for op, so the scalar reference and our AVX2 versions agree bit for bit.

use crate::block::{assert_block_size, QuantBlock};
use crate::util::{bf16_to_f32, f16_at, f32_at};

use gguf::GgmlType;

pub struct BlockF32;
pub struct BlockF16;
pub struct BlockBF16;
assert_block_size!(BlockF32, 1, 4);
assert_block_size!(BlockF16, 1, 2);
assert_block_size!(BlockBF16, 1, 2);

/// Scalar emulation of llama.cpp's AVX2 `ggml_vec_dot_f32` / `ggml_vec_dot_f16`
/// (`ggml/src/ggml-cpu/vec.cpp`, `GGML_F32x8_REDUCE` in `simd-mappings.h`): four
/// 8-lane FMA accumulators over the first `n & !31` elements, reduced as
/// `(a0+a2)+(a1+a3)`, halves added, then two `hadd`s.
#[inline(always)]
pub(crate) fn fma4x8_reduce(
    np: usize,
    get_w: impl Fn(usize) -> f32,
    get_a: impl Fn(usize) -> f32,
) -> f32 {
    let mut sum = [[0f32; 8]; 4];
    let mut i = 0;
    while i < np {
        for (j, acc) in sum.iter_mut().enumerate() {
            for (l, v) in acc.iter_mut().enumerate() {
                let e = i + 8 * j + l;
                *v = get_w(e).mul_add(get_a(e), *v);
            }
        }
        i += 32;
    }
    let mut x0 = [0f32; 8];
    for l in 0..8 {
        let a = sum[0][l] + sum[2][l];
        let b = sum[1][l] + sum[3][l];
        x0[l] = a + b;
    }
    let t0 = [x0[0] + x0[4], x0[1] + x0[5], x0[2] + x0[6], x0[3] + x0[7]];
    (t0[0] + t0[1]) + (t0[2] + t0[3])
}

impl QuantBlock for BlockF32 {
    const TYPE: GgmlType = GgmlType::F32;
    const BLOCK: usize = 1;
    const BYTES: usize = 4;
    const DOT_TYPE: GgmlType = GgmlType::F32;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        y[0] = f32_at(b, 0);
    }

    /// As llama.cpp's AVX2 `ggml_vec_dot_f32`: f32 result, leftovers `sumf += x*y`
    /// (contracted to an FMA by the C compiler).
    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let n = w.len() / 4;
        let np = n & !31;
        let s = fma4x8_reduce(np, |i| f32_at(w, 4 * i), |i| f32_at(a, 4 * i));
        tail_f32(w, a, np, n, s)
    }
}

impl QuantBlock for BlockF16 {
    const TYPE: GgmlType = GgmlType::F16;
    const BLOCK: usize = 1;
    const BYTES: usize = 2;
    const DOT_TYPE: GgmlType = GgmlType::F16;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        y[0] = f16_at(b, 0);
    }

    /// As llama.cpp's AVX2 `ggml_vec_dot_f16`: the reduced SIMD part plus the
    /// leftovers summed in f64 (`ggml_float`).
    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let n = w.len() / 2;
        let np = n & !31;
        let s = fma4x8_reduce(np, |i| f16_at(w, 2 * i), |i| f16_at(a, 2 * i)) as f64;
        tail_f16(w, a, np, n, s) as f32
    }
}

#[inline(always)]
fn bf16_at(b: &[u8], i: usize) -> f32 {
    bf16_to_f32(u16::from_le_bytes([b[2 * i], b[2 * i + 1]]))
}

/// The leftovers of llama.cpp's F32 dot (elements `from..n` after the vector
/// part) FMA'd into `s`; shared by the scalar reference and the SIMD kernels.
#[inline]
pub(crate) fn tail_f32(w: &[u8], a: &[u8], from: usize, n: usize, mut s: f32) -> f32 {
    for i in from..n {
        s = f32_at(w, 4 * i).mul_add(f32_at(a, 4 * i), s);
    }
    s
}

/// The leftovers of llama.cpp's F16 dot: f32 products added in f64.
#[inline]
pub(crate) fn tail_f16(w: &[u8], a: &[u8], from: usize, n: usize, mut s: f64) -> f64 {
    for i in from..n {
        s += (f16_at(w, 2 * i) * f16_at(a, 2 * i)) as f64;
    }
    s
}

/// The leftovers of llama.cpp's BF16 dot: f32 products added in f64.
#[inline]
pub(crate) fn tail_bf16(w: &[u8], a: &[u8], from: usize, n: usize, mut s: f64) -> f64 {
    for i in from..n {
        s += (bf16_at(w, i) * bf16_at(a, i)) as f64;
    }
    s
}

impl QuantBlock for BlockBF16 {
    const TYPE: GgmlType = GgmlType::BF16;
    const BLOCK: usize = 1;
    const BYTES: usize = 2;
    const DOT_TYPE: GgmlType = GgmlType::BF16;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        y[0] = bf16_at(b, 0);
    }

    /// As llama.cpp's AVX2 `ggml_vec_dot_bf16`: four 8-lane accumulators with
    /// separate multiply and add, combined `(c1+c3)+(c2+c4)`, `hsum_float_8`,
    /// then leftovers in f64.
    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let n = w.len() / 2;
        let mut c = [[0f32; 8]; 4];
        let mut i = 0;
        while i + 32 <= n {
            for (j, acc) in c.iter_mut().enumerate() {
                for (l, v) in acc.iter_mut().enumerate() {
                    let e = i + 8 * j + l;
                    *v += bf16_at(w, e) * bf16_at(a, e);
                }
            }
            i += 32;
        }
        let mut acc = crate::block::Lanes8::new();
        for l in 0..8 {
            acc.0[l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l]);
        }
        tail_bf16(w, a, i, n, acc.hsum() as f64) as f32
    }
}

/// Dequantize a whole F32 row quickly (a plain copy).
pub fn copy_f32(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(4).zip(dst.iter_mut()) {
        *y = f32_at(b, 0);
    }
}
