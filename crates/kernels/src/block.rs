//! The per-format trait, in the spirit of candle's `quantized/k_quants.rs`
//! `GgmlType` trait: a block of `BLOCK` elements stored in `BYTES` bytes, a
//! dequantizer for one block and a scalar reference dot product against
//! activations of `DOT_TYPE`.

use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use gguf::GgmlType;

pub trait QuantBlock {
    /// The ggml type this block implements.
    const TYPE: GgmlType;
    /// Elements per block.
    const BLOCK: usize;
    /// Bytes per block.
    const BYTES: usize;
    /// The activation type weights of this type are dotted against.
    const DOT_TYPE: GgmlType;

    /// Decode one block: `b.len() == BYTES`, `y.len() == BLOCK`.
    fn dequantize_block(b: &[u8], y: &mut [f32]);

    /// Scalar reference dot product of whole rows: `w` holds `nb` blocks of this
    /// type, `a` holds the same number of elements quantized to `DOT_TYPE`.
    fn vec_dot_scalar(w: &[u8], a: &[u8]) -> f32;

    /// Decode a whole row. Lengths must already be validated.
    fn dequantize_row(src: &[u8], dst: &mut [f32]) {
        debug_assert_eq!(src.len() / Self::BYTES * Self::BLOCK, dst.len());
        for (b, y) in src
            .chunks_exact(Self::BYTES)
            .zip(dst.chunks_exact_mut(Self::BLOCK))
        {
            Self::dequantize_block(b, y);
        }
    }
}

/// Where the 32 quants of a [`Block32`] block are stored.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 kernels
pub(crate) enum Quants {
    /// 4 bits: 16 bytes at `qs`; element `j` is the low nibble of byte `j`,
    /// element `j + 16` its high nibble.
    Nibbles { qs: usize },
    /// 5 bits: the low 4 as [`Quants::Nibbles`] at `qs`, the fifth of
    /// element `j` bit `j` of the little-endian u32 at `qh`.
    Nibbles5 { qh: usize, qs: usize },
    /// 8 bits: 32 signed bytes at `qs`.
    Bytes { qs: usize },
    /// MXFP4's 4-bit codes, laid out as [`Quants::Nibbles`] at `qs`; code `n`
    /// stands for `crate::mxfp4::KVALUES[n]` (E2M1 doubled, -12..=12), taken
    /// here as the stored quant `KVALUES[n] + 12` (so `OFFSET` 12).
    Mxfp4 { qs: usize },
}

/// The 32-element formats with a scale `d` at byte 0 (an f16 for Q4_0, Q4_1,
/// Q5_0, Q5_1, Q8_0; MXFP4's E8M0 byte): the layout facts their SIMD kernels
/// are generic over.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // used by the x86 kernels
pub(crate) trait Block32: QuantBlock {
    /// Blocks carry a min `m` (f16 at byte 2; element = `d * q + m`, quants
    /// unsigned) and are dotted against Q8_1; else element = `d * (q - OFFSET)`
    /// against Q8_0.
    const MIN: bool;
    /// Where the quants are stored.
    const QUANTS: Quants;
    /// What a stored quant exceeds the value it stands for (Q4_0: 8, Q5_0:
    /// 16; 0 for the formats with a min and for Q8_0's signed bytes).
    const OFFSET: i8;
    /// Bytes of the activation block (Q8_1 with a min, else Q8_0) and where
    /// its 32 quants start.
    const ACT_BYTES: usize = if Self::MIN { Q8_1_BYTES } else { Q8_0_BYTES };
    const ACT_QS: usize = if Self::MIN { 4 } else { 2 };
    /// The quants are signed bytes spanning all 8 bits (Q8_0).
    const BYTE_QUANTS: bool = matches!(Self::QUANTS, Quants::Bytes { .. });
    /// The scale is an E8M0 byte at 0 (MXFP4: `d` = half its power of two,
    /// llama.cpp's `GGML_E8M0_TO_FP32_HALF`), not an f16.
    const E8M0: bool = false;

    /// The block's scale `d` (block `b`'s first bytes).
    fn scale(b: &[u8]) -> f32 {
        if Self::E8M0 {
            crate::mxfp4::e8m0_half(b[0])
        } else {
            crate::util::f16_at(b, 0)
        }
    }

    /// The 32 integer values of block `b` (stored quant minus [`Self::OFFSET`];
    /// the min, if any, apart).
    fn values(b: &[u8]) -> [i32; 32] {
        let mut v = [0i32; 32];
        match Self::QUANTS {
            Quants::Nibbles { qs } => {
                for j in 0..16 {
                    v[j] = (b[qs + j] & 0x0F) as i32;
                    v[j + 16] = (b[qs + j] >> 4) as i32;
                }
            }
            Quants::Nibbles5 { qh, .. } => v = crate::q5::q5_values(b, qh),
            Quants::Bytes { qs } => {
                for (j, x) in v.iter_mut().enumerate() {
                    *x = b[qs + j] as i8 as i32;
                }
            }
            Quants::Mxfp4 { qs } => {
                let k = |n: u8| crate::mxfp4::KVALUES[n as usize] as i32 + 12;
                for j in 0..16 {
                    v[j] = k(b[qs + j] & 0x0F);
                    v[j + 16] = k(b[qs + j] >> 4);
                }
            }
        }
        v.iter_mut().for_each(|x| *x -= Self::OFFSET as i32);
        v
    }
}

/// Compile-time check that a block type's constants agree with gguf's table
/// sizes written out by hand (the table itself is not const).
macro_rules! assert_block_size {
    ($t:ty, $block:expr, $bytes:expr) => {
        const _: () = assert!(<$t as $crate::block::QuantBlock>::BLOCK == $block);
        const _: () = assert!(<$t as $crate::block::QuantBlock>::BYTES == $bytes);
    };
}
pub(crate) use assert_block_size;

/// Scalar emulation of an AVX2 `__m256` accumulator, so the scalar reference
/// performs exactly the float ops of the AVX2 kernels (and of llama.cpp's AVX2
/// kernels): per block, `acc[l] = fma(d, lane_sum[l], acc[l])`, then
/// `hsum_float_8`. Integer lane `l` of a 32-byte product vector holds the
/// products of bytes `4l..4l+4` (`_mm256_maddubs_epi16` + `_mm256_madd_epi16`).
#[derive(Clone, Copy)]
pub(crate) struct Lanes8(pub [f32; 8]);

impl Lanes8 {
    #[inline(always)]
    pub fn new() -> Self {
        Lanes8([0.0; 8])
    }

    /// `acc = fma(d, (f32)lanes, acc)` (`_mm256_fmadd_ps(set1(d), cvtepi32_ps(lanes), acc)`).
    #[inline(always)]
    pub fn fma(&mut self, d: f32, lanes: &[i32; 8]) {
        for l in 0..8 {
            self.0[l] = d.mul_add(lanes[l] as f32, self.0[l]);
        }
    }

    /// llama.cpp's `hsum_float_8`: (hi + lo) halves, then pairs, then the last two.
    #[inline(always)]
    pub fn hsum(&self) -> f32 {
        let a = &self.0;
        let r = [a[4] + a[0], a[5] + a[1], a[6] + a[2], a[7] + a[3]];
        (r[0] + r[2]) + (r[1] + r[3])
    }
}

/// Integer lane of byte `b` of a 32-byte vector.
#[inline(always)]
pub(crate) const fn lane(b: usize) -> usize {
    (b % 32) / 4
}
