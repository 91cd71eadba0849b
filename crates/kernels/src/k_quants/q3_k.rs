//! Q3_K: `block_q3_K { hmask: [u8; 32], qs: [u8; 64], scales: [u8; 12], d: f16 }`
//! (110 bytes). Element `n*128 + j*32 + l` is bits `2j..2j+2` of `qs[n*32 + l]`
//! minus 4 unless bit `n*4 + j` of `hmask[l]` is set; sub-block scale
//! `n*8 + j*2 + l/16` (6-bit, minus 32). Per `dequantize_row_q3_K`
//! (`ggml/src/ggml-quants.c`) and `ggml_vec_dot_q3_K_q8_K_generic` (`ggml/src/ggml-cpu/quants.c`).

use super::{q3k_scales, q8k_d, q8k_q, Q8_K_BYTES, QK_K};
use crate::block::{assert_block_size, lane, Lanes8, QuantBlock};
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockQ3K;
assert_block_size!(BlockQ3K, 256, 110);

/// The 256 signed 3-bit values of a block, in element order.
#[inline(always)]
pub fn q3k_values(b: &[u8]) -> [i8; QK_K] {
    let hm = &b[0..32];
    let mut a = [0i8; QK_K];
    for n in 0..2 {
        let q = &b[32 + n * 32..32 + n * 32 + 32];
        for j in 0..4 {
            let m = 1u8 << (n * 4 + j);
            for l in 0..32 {
                let v = ((q[l] >> (2 * j)) & 3) as i8;
                a[n * 128 + j * 32 + l] = v - if hm[l] & m != 0 { 0 } else { 4 };
            }
        }
    }
    a
}

impl QuantBlock for BlockQ3K {
    const TYPE: GgmlType = GgmlType::Q3_K;
    const BLOCK: usize = QK_K;
    const BYTES: usize = 110;
    const DOT_TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d_all = f16_at(b, 108);
        let scales = q3k_scales(&b[96..108]);
        let a = q3k_values(b);
        for s in 0..16 {
            let dl = d_all * scales[s] as f32;
            for l in 0..16 {
                y[s * 16 + l] = dl * a[s * 16 + l] as f32;
            }
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
            let scales = q3k_scales(&x[96..108]);
            let v = q3k_values(x);
            let mut lanes = [0i32; 8];
            for e in 0..QK_K {
                lanes[lane(e)] += scales[e / 16] as i32 * v[e] as i32 * q8k_q(y, e);
            }
            acc.fma(q8k_d(y) * f16_at(x, 108), &lanes);
        }
        acc.hsum()
    }
}
