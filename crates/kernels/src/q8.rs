//! 8-bit formats: Q8_0 weights, and the activation quantizers Q8_0, Q8_1, Q8_K.
//!
//! Layouts from llama.cpp `ggml/src/ggml-common.h`:
//! - `block_q8_0`: `d: f16`, `qs: [i8; 32]` (34 bytes)
//! - `block_q8_1`: `d: f16`, `s: f16` (= d * sum(qs)), `qs: [i8; 32]` (36 bytes)
//! - `block_q8_K`: `d: f32`, `qs: [i8; 256]`, `bsums: [i16; 16]` (292 bytes)
//!
//! Quantizers round exactly like `quantize_row_q8_0_ref`, `quantize_row_q8_1_ref`
//! (`roundf`: half away from zero) and `quantize_row_q8_K_ref` (`nearest_int`:
//! half to even) in `ggml/src/ggml-quants.c`. Dot product follows
//! `ggml_vec_dot_q8_0_q8_0_generic` in `ggml/src/ggml-cpu/quants.c`.

use crate::block::{assert_block_size, lane, Block32, Lanes8, QuantBlock, Quants};
use crate::util::{f16_at, f32_to_f16_bits};
use gguf::GgmlType;

pub const QK8_0: usize = 32;
pub const Q8_0_BYTES: usize = 34;
pub const Q8_1_BYTES: usize = 36;
pub const QK_K: usize = 256;
pub const Q8_K_BYTES: usize = 292;
/// Offset of `bsums` inside a Q8_K block.
pub const Q8_K_BSUMS: usize = 4 + QK_K;

pub struct BlockQ8_0;
assert_block_size!(BlockQ8_0, 32, 34);

impl QuantBlock for BlockQ8_0 {
    const TYPE: GgmlType = GgmlType::Q8_0;
    const BLOCK: usize = QK8_0;
    const BYTES: usize = Q8_0_BYTES;
    const DOT_TYPE: GgmlType = GgmlType::Q8_0;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = f16_at(b, 0);
        for (yj, &q) in y.iter_mut().zip(&b[2..34]) {
            *yj = (q as i8) as f32 * d;
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let mut acc = Lanes8::new();
        for (x, y) in w.chunks_exact(Q8_0_BYTES).zip(a.chunks_exact(Q8_0_BYTES)) {
            let mut lanes = [0i32; 8];
            for j in 0..QK8_0 {
                lanes[lane(j)] += (x[2 + j] as i8 as i32) * (y[2 + j] as i8 as i32);
            }
            acc.fma(f16_at(x, 0) * f16_at(y, 0), &lanes);
        }
        acc.hsum()
    }
}

impl Block32 for BlockQ8_0 {
    const MIN: bool = false;
    const QUANTS: Quants = Quants::Bytes { qs: 2 };
    const OFFSET: i8 = 0;
}

fn absmax(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// `quantize_row_q8_0_ref`: `x.len()` a multiple of 32, `out.len() == x.len()/32*34`.
pub fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        let amax = absmax(xb);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb[0..2].copy_from_slice(&f32_to_f16_bits(d).to_le_bytes());
        for (q, &v) in yb[2..].iter_mut().zip(xb) {
            *q = (v * id).round() as i8 as u8;
        }
    }
}

/// `quantize_row_q8_1_ref`: like Q8_0 plus `s = f16(sum(qs) * d)`.
pub fn quantize_row_q8_1(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_1_BYTES)) {
        let amax = absmax(xb);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in yb[4..].iter_mut().zip(xb) {
            let r = (v * id).round() as i8;
            sum += r as i32;
            *q = r as u8;
        }
        yb[0..2].copy_from_slice(&f32_to_f16_bits(d).to_le_bytes());
        yb[2..4].copy_from_slice(&f32_to_f16_bits(sum as f32 * d).to_le_bytes());
    }
}

/// What llama.cpp's x86 AVX/AVX2 build actually runs for Q8_0 activations
/// (`quantize_row_q8_0` in `ggml/src/ggml-cpu/arch/x86/quants.c`): same `d`, but
/// values are scaled by `127/amax` (not `1/d`) and rounded half to even
/// (`_mm256_round_ps(_MM_ROUND_NEAREST)`), so a few elements can differ by one
/// from `quantize_row_q8_0_ref`.
pub fn quantize_row_q8_0_x86(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        let amax = absmax(xb);
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        yb[0..2].copy_from_slice(&f32_to_f16_bits(d).to_le_bytes());
        for (q, &v) in yb[2..].iter_mut().zip(xb) {
            *q = (v * id).round_ties_even() as i8 as u8;
        }
    }
}

/// Q8_1 as llama.cpp's x86 AVX/AVX2 `quantize_row_q8_1` computes it (see
/// [`quantize_row_q8_0_x86`]); `s = f16(d * sum)`.
pub fn quantize_row_q8_1_x86(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_1_BYTES)) {
        let amax = absmax(xb);
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in yb[4..].iter_mut().zip(xb) {
            let r = (v * id).round_ties_even() as i8;
            sum += r as i32;
            *q = r as u8;
        }
        yb[0..2].copy_from_slice(&f32_to_f16_bits(d).to_le_bytes());
        yb[2..4].copy_from_slice(&f32_to_f16_bits(d * sum as f32).to_le_bytes());
    }
}

/// `nearest_int` from ggml-quants.c: the 1.5*2^23 trick, i.e. round half to even.
#[inline(always)]
fn nearest_int(v: f32) -> i32 {
    let val = v + 12582912.0f32;
    ((val.to_bits() & 0x007f_ffff) as i32) - 0x0040_0000
}

/// `quantize_row_q8_K_ref`: scale `-127/max` where `max` is the signed value of
/// largest magnitude (first one on ties), `d = 1/iscale` as f32, plus 16-element sums.
pub fn quantize_row_q8_k(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(Q8_K_BYTES)) {
        let mut max = 0.0f32;
        let mut amax = 0.0f32;
        for &v in xb {
            let ax = v.abs();
            if ax > amax {
                amax = ax;
                max = v;
            }
        }
        if amax == 0.0 {
            yb.fill(0);
            continue;
        }
        let iscale = -127.0f32 / max;
        for (q, &v) in yb[4..4 + QK_K].iter_mut().zip(xb) {
            *q = nearest_int(iscale * v).min(127) as i8 as u8;
        }
        for j in 0..QK_K / 16 {
            let s: i32 = yb[4 + j * 16..4 + j * 16 + 16]
                .iter()
                .map(|&q| q as i8 as i32)
                .sum();
            yb[Q8_K_BSUMS + 2 * j..Q8_K_BSUMS + 2 * j + 2]
                .copy_from_slice(&(s as i16).to_le_bytes());
        }
        yb[0..4].copy_from_slice(&(1.0f32 / iscale).to_le_bytes());
    }
}

/// Decode Q8_1 activations (for tests).
pub fn dequantize_row_q8_1(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(Q8_1_BYTES)
        .zip(dst.chunks_exact_mut(QK8_0))
    {
        let d = f16_at(b, 0);
        for (yj, &q) in y.iter_mut().zip(&b[4..]) {
            *yj = (q as i8) as f32 * d;
        }
    }
}

/// Decode Q8_K activations (`dequantize_row_q8_K`).
pub fn dequantize_row_q8_k(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(Q8_K_BYTES).zip(dst.chunks_exact_mut(QK_K)) {
        let d = crate::util::f32_at(b, 0);
        for (yj, &q) in y.iter_mut().zip(&b[4..4 + QK_K]) {
            *yj = d * (q as i8) as f32;
        }
    }
}
