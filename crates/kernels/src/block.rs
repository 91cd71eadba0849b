//! The per-format trait, in the spirit of candle's `quantized/k_quants.rs`
//! `GgmlType` trait: a block of `BLOCK` elements stored in `BYTES` bytes, a
//! dequantizer for one block and a scalar reference dot product against
//! activations of `DOT_TYPE`.

use gguf::GgmlType;

#[allow(dead_code)] // TYPE and DOT_TYPE are checked in tests
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
