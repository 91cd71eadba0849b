//! Q6_K: `block_q6_K { ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16 }` (210 bytes).
//! In each 128-element half `n` (ql += 64n, qh += 32n), for l < 32:
//! element `l` = low nibble of `ql[l]` | bits 0-1 of `qh[l]` << 4, `l+32` = low nibble
//! of `ql[l+32]` | bits 2-3, `l+64` = high nibble of `ql[l]` | bits 4-5, `l+96` = high
//! nibble of `ql[l+32]` | bits 6-7; all minus 32. Scale per 16 elements.
//! Per `dequantize_row_q6_K` (`ggml/src/ggml-quants.c`) and
//! `ggml_vec_dot_q6_K_q8_K_generic` (`ggml/src/ggml-cpu/quants.c`).

use super::{q8k_bsum, q8k_d, q8k_q, Q8_K_BYTES, QK_K};
use crate::block::{assert_block_size, lane, Lanes8, QuantBlock};
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockQ6K;
assert_block_size!(BlockQ6K, 256, 210);

/// The 256 signed 6-bit values of a block, in element order.
#[inline(always)]
pub fn q6k_values(b: &[u8]) -> [i8; QK_K] {
    let mut a = [0i8; QK_K];
    for n in 0..2 {
        let ql = &b[n * 64..n * 64 + 64];
        let qh = &b[128 + n * 32..128 + n * 32 + 32];
        let o = n * 128;
        for l in 0..32 {
            a[o + l] = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i8 - 32;
            a[o + l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            a[o + l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            a[o + l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
        }
    }
    a
}

impl QuantBlock for BlockQ6K {
    const TYPE: GgmlType = GgmlType::Q6_K;
    const BLOCK: usize = QK_K;
    const BYTES: usize = 210;
    const DOT_TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 208);
        let a = q6k_values(b);
        for s in 0..16 {
            let ds = d * (b[192 + s] as i8) as f32;
            for l in 0..16 {
                y[s * 16 + l] = ds * a[s * 16 + l] as f32;
            }
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        for (x, y) in w.chunks_exact(Self::BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
            // As llama.cpp's AVX2 kernel: dot the unsigned values u = v + 32, then
            // subtract 32 * scale * bsum with lane l taking 16-groups 2l and 2l+1.
            let v = q6k_values(x);
            let mut lanes = [0i32; 8];
            for e in 0..QK_K {
                lanes[lane(e)] += (x[192 + e / 16] as i8) as i32 * (v[e] as i32 + 32) * q8k_q(y, e);
            }
            for l in 0..8 {
                let s = q8k_bsum(y, 2 * l) * (x[192 + 2 * l] as i8) as i32
                    + q8k_bsum(y, 2 * l + 1) * (x[193 + 2 * l] as i8) as i32;
                lanes[l] -= 32 * s;
            }
            acc.fma(q8k_d(y) * f16_at(x, 208), &lanes);
        }
        acc.hsum()
    }
}
