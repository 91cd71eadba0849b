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
        for (b, y) in src.chunks_exact(Self::BYTES).zip(dst.chunks_exact_mut(Self::BLOCK)) {
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
