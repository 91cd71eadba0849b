//! Q5_0 and Q5_1 (32 elements per block).
//!
//! Layouts (`ggml/src/ggml-common.h`): `block_q5_0 { d: f16, qh: [u8; 4], qs: [u8; 16] }`,
//! `block_q5_1 { d: f16, m: f16, qh: [u8; 4], qs: [u8; 16] }`. Element j (0..32)
//! takes its 5th bit from bit j of the little-endian u32 `qh`; low 4 bits as in
//! Q4. Dequantization per `dequantize_row_q5_0/1` (`ggml/src/ggml-quants.c`), dot
//! products per `ggml_vec_dot_q5_0_q8_0_generic` / `..._q5_1_q8_1_generic`
//! (`ggml/src/ggml-cpu/quants.c`), with the float op order of the AVX2 versions
//! (`arch/x86/quants.c`; see `block::Lanes8`).

use crate::block::{assert_block_size, lane, Block32, Lanes8, QuantBlock, Quants};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use crate::util::{f16_at, u32_at};
use gguf::GgmlType;

pub struct BlockQ5_0;
pub struct BlockQ5_1;
assert_block_size!(BlockQ5_0, 32, 22);
assert_block_size!(BlockQ5_1, 32, 24);

/// The 32 unsigned 5-bit values of a block whose `qh` starts at `off`.
#[inline(always)]
pub(crate) fn q5_values(b: &[u8], off: usize) -> [i32; 32] {
    let qh = u32_at(b, off);
    let qs = &b[off + 4..off + 20];
    let mut v = [0i32; 32];
    for j in 0..16 {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        v[j] = ((qs[j] & 0x0F) as u32 | h0) as i32;
        v[j + 16] = ((qs[j] >> 4) as u32 | h1) as i32;
    }
    v
}

impl QuantBlock for BlockQ5_0 {
    const TYPE: GgmlType = GgmlType::Q5_0;
    const BLOCK: usize = 32;
    const BYTES: usize = 22;
    const DOT_TYPE: GgmlType = GgmlType::Q8_0;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        let v = q5_values(b, 2);
        for j in 0..32 {
            y[j] = (v[j] - 16) as f32 * d;
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_0_BYTES)) {
            let v = q5_values(x, 2);
            let mut lanes = [0i32; 8];
            for j in 0..32 {
                lanes[lane(j)] += (v[j] - 16) * (y[2 + j] as i8 as i32);
            }
            acc.fma(f16_at(x, 0) * f16_at(y, 0), &lanes);
        }
        acc.hsum()
    }
}

impl Block32 for BlockQ5_0 {
    const MIN: bool = false;
    const QUANTS: Quants = Quants::Nibbles5 { qh: 2, qs: 6 };
    const OFFSET: i8 = 16;
}

impl QuantBlock for BlockQ5_1 {
    const TYPE: GgmlType = GgmlType::Q5_1;
    const BLOCK: usize = 32;
    const BYTES: usize = 24;
    const DOT_TYPE: GgmlType = GgmlType::Q8_1;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        let v = q5_values(b, 4);
        for j in 0..32 {
            y[j] = v[j] as f32 * d + m;
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        let mut summs = 0.0f32;
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_1_BYTES)) {
            summs = f16_at(x, 2).mul_add(f16_at(y, 2), summs);
            let v = q5_values(x, 4);
            let mut lanes = [0i32; 8];
            for j in 0..32 {
                lanes[lane(j)] += v[j] * (y[4 + j] as i8 as i32);
            }
            acc.fma(f16_at(x, 0) * f16_at(y, 0), &lanes);
        }
        acc.hsum() + summs
    }
}

impl Block32 for BlockQ5_1 {
    const MIN: bool = true;
    const QUANTS: Quants = Quants::Nibbles5 { qh: 4, qs: 8 };
    const OFFSET: i8 = 0;
}
