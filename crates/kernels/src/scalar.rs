//! Scalar reference kernels, looked up by type.

use crate::block::QuantBlock;
use crate::float::{BlockBF16, BlockF16, BlockF32};
use crate::k_quants::{
    q2_k::BlockQ2K, q3_k::BlockQ3K, q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K,
};
use crate::q4::{BlockQ4_0, BlockQ4_1};
use crate::q5::{BlockQ5_0, BlockQ5_1};
use crate::q8::BlockQ8_0;
use crate::DotFn;
use gguf::GgmlType;

pub(crate) type DequantFn = fn(&[u8], &mut [f32]);

/// Scalar row dequantizer for a supported weight type.
pub(crate) fn dequant_fn(ty: GgmlType) -> Option<DequantFn> {
    use GgmlType::*;
    Some(match ty {
        F32 => crate::float::copy_f32,
        F16 => BlockF16::dequantize_row,
        BF16 => BlockBF16::dequantize_row,
        Q4_0 => BlockQ4_0::dequantize_row,
        Q4_1 => BlockQ4_1::dequantize_row,
        Q5_0 => BlockQ5_0::dequantize_row,
        Q5_1 => BlockQ5_1::dequantize_row,
        Q8_0 => BlockQ8_0::dequantize_row,
        Q2_K => BlockQ2K::dequantize_row,
        Q3_K => BlockQ3K::dequantize_row,
        Q4_K => BlockQ4K::dequantize_row,
        Q5_K => BlockQ5K::dequantize_row,
        Q6_K => BlockQ6K::dequantize_row,
        _ => return None,
    })
}

/// Scalar reference dot product for a supported weight type.
pub(crate) fn dot_fn(ty: GgmlType) -> Option<DotFn> {
    use GgmlType::*;
    Some(match ty {
        F32 => BlockF32::vec_dot_scalar,
        F16 => BlockF16::vec_dot_scalar,
        BF16 => BlockBF16::vec_dot_scalar,
        Q4_0 => BlockQ4_0::vec_dot_scalar,
        Q4_1 => BlockQ4_1::vec_dot_scalar,
        Q5_0 => BlockQ5_0::vec_dot_scalar,
        Q5_1 => BlockQ5_1::vec_dot_scalar,
        Q8_0 => BlockQ8_0::vec_dot_scalar,
        Q2_K => BlockQ2K::vec_dot_scalar,
        Q3_K => BlockQ3K::vec_dot_scalar,
        Q4_K => BlockQ4K::vec_dot_scalar,
        Q5_K => BlockQ5K::vec_dot_scalar,
        Q6_K => BlockQ6K::vec_dot_scalar,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<B: QuantBlock>() {
        assert_eq!(B::BLOCK, B::TYPE.block_size(), "{}", B::TYPE);
        assert_eq!(B::BYTES, B::TYPE.type_size(), "{}", B::TYPE);
        assert_eq!(B::DOT_TYPE, crate::vec_dot_type(B::TYPE), "{}", B::TYPE);
    }

    #[test]
    fn block_constants_agree_with_gguf_table() {
        check::<BlockF32>();
        check::<BlockF16>();
        check::<BlockBF16>();
        check::<BlockQ4_0>();
        check::<BlockQ4_1>();
        check::<BlockQ5_0>();
        check::<BlockQ5_1>();
        check::<BlockQ8_0>();
        check::<BlockQ2K>();
        check::<BlockQ3K>();
        check::<BlockQ4K>();
        check::<BlockQ5K>();
        check::<BlockQ6K>();
        assert_eq!(crate::q8::Q8_1_BYTES, GgmlType::Q8_1.type_size());
        assert_eq!(crate::q8::Q8_K_BYTES, GgmlType::Q8_K.type_size());
    }
}
