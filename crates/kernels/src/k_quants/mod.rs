//! K-quants: 256-element super-blocks (`QK_K`), dotted against Q8_K activations.
//! Layouts: llama.cpp `ggml/src/ggml-common.h`; dequantization:
//! `ggml/src/ggml-quants.c`; dot products: `ggml/src/ggml-cpu/quants.c`.
//!
//! The scalar dot products compute, per super-block, exact integer sums split
//! into the 8 lanes llama.cpp's AVX2 kernels (`ggml/src/ggml-cpu/arch/x86/quants.c`)
//! produce, then do those kernels' float ops (see `crate::block::Lanes8`), so
//! scalar, our AVX2 and llama.cpp's AVX2 results agree bit for bit.

pub mod q2_k;
pub mod q3_k;
pub mod q4_k;
pub mod q5_k;
pub mod q6_k;

pub use crate::q8::{Q8_K_BSUMS, Q8_K_BYTES, QK_K};

/// `get_scale_min_k4` (ggml-quants.c): 6-bit scale and min number `j` (0..8)
/// packed in the 12 `scales` bytes of Q4_K/Q5_K.
#[inline(always)]
pub fn get_scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// All 8 (scale, min) pairs of a Q4_K/Q5_K block.
#[inline(always)]
pub fn scales_mins_k4(q: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..8 {
        let (a, b) = get_scale_min_k4(j, q);
        sc[j] = a;
        m[j] = b;
    }
    (sc, m)
}

/// Q3_K's 16 6-bit scales (already minus 32) from its 12 `scales` bytes,
/// the `kmask1/kmask2` shuffle of `dequantize_row_q3_K`.
#[inline(always)]
pub fn q3k_scales(s: &[u8]) -> [i8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let a0 = crate::util::u32_at(s, 0);
    let a1 = crate::util::u32_at(s, 4);
    let tmp = crate::util::u32_at(s, 8);
    let aux = [
        (a0 & KMASK2) | (((tmp) & KMASK1) << 4),
        (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
    ];
    let mut out = [0i8; 16];
    for (i, w) in aux.iter().enumerate() {
        for (k, byte) in w.to_le_bytes().iter().enumerate() {
            out[i * 4 + k] = (*byte as i8).wrapping_sub(32);
        }
    }
    out
}

/// Activation block accessors (Q8_K layout).
#[inline(always)]
pub fn q8k_d(y: &[u8]) -> f32 {
    crate::util::f32_at(y, 0)
}

#[inline(always)]
pub fn q8k_q(y: &[u8], i: usize) -> i32 {
    y[4 + i] as i8 as i32
}

#[inline(always)]
pub fn q8k_bsum(y: &[u8], j: usize) -> i32 {
    crate::util::i16_at(y, Q8_K_BSUMS + 2 * j) as i32
}
