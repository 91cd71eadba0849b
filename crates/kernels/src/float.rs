//! Plain float formats F32, F16, BF16 (one element per "block").
//! F16 is IEEE half (`ggml_fp16_t`), BF16 is the top 16 bits of an f32
//! (`ggml_bf16_t`, llama.cpp `ggml/src/ggml-impl.h`). Dot products follow
//! `ggml_vec_dot_f32/f16/bf16` (`ggml/src/ggml-cpu/vec.cpp`): products in f32,
//! summed in f64 (`ggml_float`) in the scalar reference.

use crate::block::{assert_block_size, QuantBlock};
use crate::util::{bf16_to_f32, f16_at, f32_at};
use gguf::GgmlType;

pub struct BlockF32;
pub struct BlockF16;
pub struct BlockBF16;
assert_block_size!(BlockF32, 1, 4);
assert_block_size!(BlockF16, 1, 2);
assert_block_size!(BlockBF16, 1, 2);

impl QuantBlock for BlockF32 {
    const TYPE: GgmlType = GgmlType::F32;
    const BLOCK: usize = 1;
    const BYTES: usize = 4;
    const DOT_TYPE: GgmlType = GgmlType::F32;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        y[0] = f32_at(b, 0);
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut s = 0.0f64;
        for (x, y) in w.chunks_exact(4).zip(a.chunks_exact(4)) {
            s += (f32_at(x, 0) * f32_at(y, 0)) as f64;
        }
        s as f32
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

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut s = 0.0f64;
        for (x, y) in w.chunks_exact(2).zip(a.chunks_exact(2)) {
            s += (f16_at(x, 0) * f16_at(y, 0)) as f64;
        }
        s as f32
    }
}

impl QuantBlock for BlockBF16 {
    const TYPE: GgmlType = GgmlType::BF16;
    const BLOCK: usize = 1;
    const BYTES: usize = 2;
    const DOT_TYPE: GgmlType = GgmlType::BF16;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        y[0] = bf16_to_f32(u16::from_le_bytes([b[0], b[1]]));
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut s = 0.0f64;
        for (x, y) in w.chunks_exact(2).zip(a.chunks_exact(2)) {
            let xv = bf16_to_f32(u16::from_le_bytes([x[0], x[1]]));
            let yv = bf16_to_f32(u16::from_le_bytes([y[0], y[1]]));
            s += (xv * yv) as f64;
        }
        s as f32
    }
}

/// Dequantize a whole F32 row quickly (a plain copy).
pub fn copy_f32(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(4).zip(dst.iter_mut()) {
        *y = f32_at(b, 0);
    }
}
