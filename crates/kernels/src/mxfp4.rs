//! MXFP4 (gpt-oss's expert weights): 32 elements per block, OCP Microscaling
//! FP4.
//!
//! Layout (`ggml/src/ggml-common.h`): `block_mxfp4 { e: u8, qs: [u8; 16] }`.
//! `e` is an E8M0 scale (a power of two, 2^(e-127)); element j is the E2M1
//! value of the low nibble of `qs[j]`, element j+16 that of its high nibble.
//! llama.cpp stores the E2M1 values doubled as integers (`kvalues_mxfp4`:
//! 0, 1, 2, 3, 4, 6, 8, 12 and their negatives) and halves the scale instead
//! (`GGML_E8M0_TO_FP32_HALF`, 2^(e-128)). Dequantization per
//! `dequantize_row_mxfp4` (`ggml/src/ggml-quants.c`); the dot product against
//! Q8_0 activations per `ggml_vec_dot_mxfp4_q8_0` (`ggml/src/ggml-cpu/arch/x86/
//! quants.c`), whose AVX2 version keeps two accumulators — even blocks in one,
//! odd in the other — adds them before `hsum_float_8`, and finishes an odd
//! last block in plain C (`sumf += d * sumi`, an FMA once compiled with
//! `-mfma`). The scalar reference below performs exactly those float ops.

use crate::block::{assert_block_size, lane, Block32, Lanes8, QuantBlock, Quants};
use crate::q8::Q8_0_BYTES;
use crate::util::f16_at;
use gguf::GgmlType;

pub struct BlockMXFP4;
assert_block_size!(BlockMXFP4, 32, 17);

/// The E2M1 values doubled (`kvalues_mxfp4`), by nibble.
pub(crate) const KVALUES: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// [`KVALUES`] plus 12, by nibble: `crate::block::Quants::Mxfp4`'s stored
/// quants (unsigned, for the one-lane kernels' `u8 x i8` products).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // also read by NEON's i8mm
pub(crate) static KVALUES_U: [u8; 16] = {
    let mut t = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = (KVALUES[i] + 12) as u8;
        i += 1;
    }
    t
};

/// Half the E8M0 scale `e`: 2^(e-128) (`ggml_e8m0_to_fp32_half`; e < 2 are
/// the subnormals 2^-128 and 2^-127).
#[inline(always)]
pub(crate) const fn e8m0_half(e: u8) -> f32 {
    let bits = if e < 2 {
        0x0020_0000u32 << e
    } else {
        ((e - 1) as u32) << 23
    };
    f32::from_bits(bits)
}

/// Block `x`'s 8 integer lanes against the Q8_0 block `y` (AVX2's lanes:
/// lane l sums elements 4l..4l+4).
#[inline(always)]
fn lanes(x: &[u8], y: &[u8]) -> [i32; 8] {
    let mut l = [0i32; 8];
    for j in 0..16 {
        let v0 = KVALUES[(x[1 + j] & 0x0F) as usize] as i32;
        let v1 = KVALUES[(x[1 + j] >> 4) as usize] as i32;
        l[lane(j)] += v0 * (y[2 + j] as i8 as i32);
        l[lane(16 + j)] += v1 * (y[18 + j] as i8 as i32);
    }
    l
}

impl QuantBlock for BlockMXFP4 {
    const TYPE: GgmlType = GgmlType::MXFP4;
    const BLOCK: usize = 32;
    const BYTES: usize = 17;
    const DOT_TYPE: GgmlType = GgmlType::Q8_0;

    fn dequantize_block(b: &[u8], y: &mut [f32]) {
        let d = e8m0_half(b[0]);
        for j in 0..16 {
            y[j] = KVALUES[(b[1 + j] & 0x0F) as usize] as f32 * d;
            y[j + 16] = KVALUES[(b[1 + j] >> 4) as usize] as f32 * d;
        }
    }

    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32 {
        let nb = w.len() / Self::BYTES;
        let block = |i: usize| (&w[i * Self::BYTES..], &a[i * Q8_0_BYTES..]);
        let scale = |x: &[u8], y: &[u8]| f16_at(y, 0) * e8m0_half(x[0]);
        let (mut acc1, mut acc2) = (Lanes8::new(), Lanes8::new());
        let mut i = 0;
        while i + 1 < nb {
            let (x, y) = block(i);
            acc1.fma(scale(x, y), &lanes(x, y));
            let (x, y) = block(i + 1);
            acc2.fma(scale(x, y), &lanes(x, y));
            i += 2;
        }
        let mut sum = Lanes8::new();
        for l in 0..8 {
            sum.0[l] = acc1.0[l] + acc2.0[l];
        }
        let mut out = sum.hsum();
        if i < nb {
            let (x, y) = block(i);
            let s: i32 = lanes(x, y).iter().sum();
            out = scale(x, y).mul_add(s as f32, out);
        }
        out
    }
}

/// MXFP4 as a one-lane format (`crate::orders::one_lane`, the AVX-512 VNNI
/// level's order for it): the codes as values plus 12, the E8M0 scale.
impl Block32 for BlockMXFP4 {
    const MIN: bool = false;
    const QUANTS: Quants = Quants::Mxfp4 { qs: 1 };
    const OFFSET: i8 = 12;
    const E8M0: bool = true;
}
