//! Q4_K: `block_q4_K { d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128] }` (144 bytes).
//! Element `j*64 + l` (l < 32) is the low nibble of `qs[j*32 + l]` with scale/min
//! `2j`; element `j*64 + 32 + l` the high nibble with scale/min `2j+1`
//! (6-bit, `get_scale_min_k4`). Per `dequantize_row_q4_K` (`ggml/src/ggml-quants.c`)
//! and `ggml_vec_dot_q4_K_q8_K_generic` (`ggml/src/ggml-cpu/quants.c`).

use super::{q8k_bsum, q8k_d, q8k_q, scales_mins_k4, Q8_K_BYTES, QK_K};
use crate::block::{assert_block_size, lane, Lanes8, QuantBlock};
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockQ4K;
assert_block_size!(BlockQ4K, 256, 144);

impl QuantBlock for BlockQ4K {
    const TYPE: GgmlType = GgmlType::Q4_K;
    const BLOCK: usize = QK_K;
    const BYTES: usize = 144;
    const DOT_TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        let min = f16_at(b, 2);
        let (sc, m) = scales_mins_k4(&b[4..16]);
        for j in 0..4 {
            let q = &b[16 + j * 32..16 + j * 32 + 32];
            let d1 = d * sc[2 * j] as f32;
            let m1 = min * m[2 * j] as f32;
            let d2 = d * sc[2 * j + 1] as f32;
            let m2 = min * m[2 * j + 1] as f32;
            for l in 0..32 {
                y[j * 64 + l] = d1 * (q[l] & 0xF) as f32 - m1;
                y[j * 64 + 32 + l] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        // llama.cpp's 4-lane `acc_m`: lane i = m[2i]*(bsum[4i]+bsum[4i+1]) + m[2i+1]*(bsum[4i+2]+bsum[4i+3])
        let mut acc_m = [0f32; 4];
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
            let (sc, m) = scales_mins_k4(&x[4..16]);
            let yd = q8k_d(y);
            let dmin = -yd * f16_at(x, 2);
            for i in 0..4 {
                let p = m[2 * i] as i32 * (q8k_bsum(y, 4 * i) + q8k_bsum(y, 4 * i + 1))
                    + m[2 * i + 1] as i32 * (q8k_bsum(y, 4 * i + 2) + q8k_bsum(y, 4 * i + 3));
                acc_m[i] = dmin.mul_add(p as f32, acc_m[i]);
            }
            let mut lanes = [0i32; 8];
            for j in 0..4 {
                let q = &x[16 + j * 32..16 + j * 32 + 32];
                for b in 0..32 {
                    lanes[lane(b)] += sc[2 * j] as i32 * (q[b] & 0xF) as i32 * q8k_q(y, j * 64 + b)
                        + sc[2 * j + 1] as i32 * (q[b] >> 4) as i32 * q8k_q(y, j * 64 + 32 + b);
                }
            }
            acc.fma(yd * f16_at(x, 0), &lanes);
        }
        acc.hsum() + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]))
    }
}
