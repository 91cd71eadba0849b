//! Q2_K: `block_q2_K { scales: [u8; 16] (4-bit scale | 4-bit min << 4), qs: [u8; 64], d: f16, dmin: f16 }`
//! (84 bytes). Element `n*128 + j*32 + l` is bits `2j..2j+2` of `qs[n*32 + l]`,
//! sub-block (16 elements) `n*8 + j*2 + l/16`. Per `dequantize_row_q2_K`
//! (`ggml/src/ggml-quants.c`) and `ggml_vec_dot_q2_K_q8_K_generic` (`ggml/src/ggml-cpu/quants.c`).

use super::{q8k_bsum, q8k_d, q8k_q, Q8_K_BYTES, QK_K};
use crate::block::{assert_block_size, lane, Lanes8, QuantBlock};
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockQ2K;
assert_block_size!(BlockQ2K, 256, 84);

impl QuantBlock for BlockQ2K {
    const TYPE: GgmlType = GgmlType::Q2_K;
    const BLOCK: usize = QK_K;
    const BYTES: usize = 84;
    const DOT_TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 80);
        let min = f16_at(b, 82);
        let mut out = 0;
        for n in 0..2 {
            let q = &b[16 + n * 32..16 + n * 32 + 32];
            for j in 0..4 {
                let shift = 2 * j;
                for half in 0..2 {
                    let sc = b[n * 8 + j * 2 + half];
                    let dl = d * (sc & 0xF) as f32;
                    let ml = min * (sc >> 4) as f32;
                    for l in 0..16 {
                        y[out] = dl * ((q[half * 16 + l] >> shift) & 3) as f32 - ml;
                        out += 1;
                    }
                }
            }
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
            let sc = &x[0..16];
            // mins: lane l = m[2l]*bsum[2l] + m[2l+1]*bsum[2l+1], scaled by -dmin first
            let mut mins = [0i32; 8];
            for (j, &s) in sc.iter().enumerate() {
                mins[j / 2] += q8k_bsum(y, j) * (s >> 4) as i32;
            }
            let mut lanes = [0i32; 8];
            for n in 0..2 {
                let q = &x[16 + n * 32..16 + n * 32 + 32];
                for j in 0..4 {
                    for b in 0..32 {
                        let d = (sc[n * 8 + j * 2 + b / 16] & 0xF) as i32;
                        let e = n * 128 + j * 32 + b;
                        lanes[lane(b)] += d * q8k_q(y, e) * ((q[b] >> (2 * j)) & 3) as i32;
                    }
                }
            }
            let yd = q8k_d(y);
            acc.fma(-yd * f16_at(x, 82), &mins);
            acc.fma(yd * f16_at(x, 80), &lanes);
        }
        acc.hsum()
    }
}
