//! Q5_K: `block_q5_K { d: f16, dmin: f16, scales: [u8; 12], qh: [u8; 32], qs: [u8; 128] }`
//! (176 bytes). Like Q4_K, plus a 5th bit: element `j*64 + l` takes bit `2j` of
//! `qh[l]`, element `j*64 + 32 + l` bit `2j+1`. Per `dequantize_row_q5_K`
//! (`ggml/src/ggml-quants.c`) and `ggml_vec_dot_q5_K_q8_K_generic` (`ggml/src/ggml-cpu/quants.c`).

use super::{q8k_bsum, q8k_d, q8k_q, scales_mins_k4, Q8_K_BYTES, QK_K};
use crate::block::{assert_block_size, lane, Lanes8, QuantBlock};
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockQ5K;
assert_block_size!(BlockQ5K, 256, 176);

#[inline(always)]
fn q5k_pair(b: &[u8], j: usize, l: usize) -> (i32, i32) {
    let qh = b[16 + l];
    let q = b[48 + j * 32 + l];
    let lo = (q & 0xF) as i32 + if qh & (1 << (2 * j)) != 0 { 16 } else { 0 };
    let hi = (q >> 4) as i32 + if qh & (2 << (2 * j)) != 0 { 16 } else { 0 };
    (lo, hi)
}

impl QuantBlock for BlockQ5K {
    const TYPE: GgmlType = GgmlType::Q5_K;
    const BLOCK: usize = QK_K;
    const BYTES: usize = 176;
    const DOT_TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        let min = f16_at(b, 2);
        let (sc, m) = scales_mins_k4(&b[4..16]);
        for j in 0..4 {
            let d1 = d * sc[2 * j] as f32;
            let m1 = min * m[2 * j] as f32;
            let d2 = d * sc[2 * j + 1] as f32;
            let m2 = min * m[2 * j + 1] as f32;
            for l in 0..32 {
                let (lo, hi) = q5k_pair(b, j, l);
                y[j * 64 + l] = d1 * lo as f32 - m1;
                y[j * 64 + 32 + l] = d2 * hi as f32 - m2;
            }
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        let mut summs = 0.0f32;
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
            let (sc, m) = scales_mins_k4(&x[4..16]);
            let yd = q8k_d(y);
            let mut summ = 0i32;
            for g in 0..16 {
                summ += q8k_bsum(y, g) * m[g / 2] as i32;
            }
            summs = (-yd * f16_at(x, 2)).mul_add(summ as f32, summs);
            let mut lanes = [0i32; 8];
            for j in 0..4 {
                for b in 0..32 {
                    let (vl, vh) = q5k_pair(x, j, b);
                    lanes[lane(b)] += sc[2 * j] as i32 * vl * q8k_q(y, j * 64 + b)
                        + sc[2 * j + 1] as i32 * vh * q8k_q(y, j * 64 + 32 + b);
                }
            }
            acc.fma(yd * f16_at(x, 0), &lanes);
        }
        acc.hsum() + summs
    }
}
