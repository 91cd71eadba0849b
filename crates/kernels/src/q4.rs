//! Q4_0 and Q4_1 (32 elements per block).
//!
//! Layouts (`ggml/src/ggml-common.h`): `block_q4_0 { d: f16, qs: [u8; 16] }`,
//! `block_q4_1 { d: f16, m: f16, qs: [u8; 16] }`. Element j is the low nibble of
//! `qs[j]`, element j+16 the high nibble. Dequantization per `dequantize_row_q4_0/1`
//! (`ggml/src/ggml-quants.c`), dot products per `ggml_vec_dot_q4_0_q8_0_generic` /
//! `ggml_vec_dot_q4_1_q8_1_generic` (`ggml/src/ggml-cpu/quants.c`), with the
//! float op order of the AVX2 versions (`arch/x86/quants.c`; see `block::Lanes8`).

use crate::block::{assert_block_size, lane, Block32, Lanes8, QuantBlock, Quants};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockQ4_0;
pub struct BlockQ4_1;
assert_block_size!(BlockQ4_0, 32, 18);
assert_block_size!(BlockQ4_1, 32, 20);

impl QuantBlock for BlockQ4_0 {
    const TYPE: GgmlType = GgmlType::Q4_0;
    const BLOCK: usize = 32;
    const BYTES: usize = 18;
    const DOT_TYPE: GgmlType = GgmlType::Q8_0;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        let qs = &b[2..18];
        for j in 0..16 {
            y[j] = ((qs[j] & 0x0F) as i32 - 8) as f32 * d;
            y[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_0_BYTES)) {
            let mut lanes = [0i32; 8];
            for j in 0..16 {
                let v0 = (x[2 + j] & 0x0F) as i32 - 8;
                let v1 = (x[2 + j] >> 4) as i32 - 8;
                lanes[lane(j)] += v0 * (y[2 + j] as i8 as i32);
                lanes[lane(16 + j)] += v1 * (y[18 + j] as i8 as i32);
            }
            acc.fma(f16_at(x, 0) * f16_at(y, 0), &lanes);
        }
        acc.hsum()
    }
}

impl Block32 for BlockQ4_0 {
    const MIN: bool = false;
    const QUANTS: Quants = Quants::Nibbles { qs: 2 };
    const OFFSET: i8 = 8;
}

impl QuantBlock for BlockQ4_1 {
    const TYPE: GgmlType = GgmlType::Q4_1;
    const BLOCK: usize = 32;
    const BYTES: usize = 20;
    const DOT_TYPE: GgmlType = GgmlType::Q8_1;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        let qs = &b[4..20];
        for j in 0..16 {
            y[j] = (qs[j] & 0x0F) as f32 * d + m;
            y[j + 16] = (qs[j] >> 4) as f32 * d + m;
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        let mut summs = 0.0f32;
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_1_BYTES)) {
            summs = f16_at(x, 2).mul_add(f16_at(y, 2), summs);
            let mut lanes = [0i32; 8];
            for j in 0..16 {
                let v0 = (x[4 + j] & 0x0F) as i32;
                let v1 = (x[4 + j] >> 4) as i32;
                lanes[lane(j)] += v0 * (y[4 + j] as i8 as i32);
                lanes[lane(16 + j)] += v1 * (y[20 + j] as i8 as i32);
            }
            acc.fma(f16_at(x, 0) * f16_at(y, 0), &lanes);
        }
        acc.hsum() + summs
    }
}

impl Block32 for BlockQ4_1 {
    const MIN: bool = true;
    const QUANTS: Quants = Quants::Nibbles { qs: 4 };
    const OFFSET: i8 = 0;
}
