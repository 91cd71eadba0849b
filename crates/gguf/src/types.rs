//! ggml tensor element types as GGUF stores them.
//!
//! Ids, block sizes and bytes per block follow ggml's `ggml_type` enum and its
//! `type_traits` table (llama.cpp `ggml/include/ggml.h`, `ggml/src/ggml.c`).

/// A ggml tensor element type. Every id that ggml has assigned is named here so
/// error messages can say which type a file uses; [`GgmlType::is_supported`]
/// says whether hearth's kernels compute with it.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

use GgmlType::*;

/// (type, id, elements per block, bytes per block, name)
const TABLE: &[(GgmlType, u32, usize, usize, &str)] = &[
    (F32, 0, 1, 4, "F32"),
    (F16, 1, 1, 2, "F16"),
    (Q4_0, 2, 32, 18, "Q4_0"),
    (Q4_1, 3, 32, 20, "Q4_1"),
    (Q5_0, 6, 32, 22, "Q5_0"),
    (Q5_1, 7, 32, 24, "Q5_1"),
    (Q8_0, 8, 32, 34, "Q8_0"),
    (Q8_1, 9, 32, 36, "Q8_1"),
    (Q2_K, 10, 256, 84, "Q2_K"),
    (Q3_K, 11, 256, 110, "Q3_K"),
    (Q4_K, 12, 256, 144, "Q4_K"),
    (Q5_K, 13, 256, 176, "Q5_K"),
    (Q6_K, 14, 256, 210, "Q6_K"),
    (Q8_K, 15, 256, 292, "Q8_K"),
    (IQ2_XXS, 16, 256, 66, "IQ2_XXS"),
    (IQ2_XS, 17, 256, 74, "IQ2_XS"),
    (IQ3_XXS, 18, 256, 98, "IQ3_XXS"),
    (IQ1_S, 19, 256, 50, "IQ1_S"),
    (IQ4_NL, 20, 32, 18, "IQ4_NL"),
    (IQ3_S, 21, 256, 110, "IQ3_S"),
    (IQ2_S, 22, 256, 82, "IQ2_S"),
    (IQ4_XS, 23, 256, 136, "IQ4_XS"),
    (I8, 24, 1, 1, "I8"),
    (I16, 25, 1, 2, "I16"),
    (I32, 26, 1, 4, "I32"),
    (I64, 27, 1, 8, "I64"),
    (F64, 28, 1, 8, "F64"),
    (IQ1_M, 29, 256, 56, "IQ1_M"),
    (BF16, 30, 1, 2, "BF16"),
    (TQ1_0, 34, 256, 54, "TQ1_0"),
    (TQ2_0, 35, 256, 66, "TQ2_0"),
    (MXFP4, 39, 32, 17, "MXFP4"),
];

impl GgmlType {
    fn row(self) -> &'static (GgmlType, u32, usize, usize, &'static str) {
        TABLE
            .iter()
            .find(|r| r.0 == self)
            .expect("every variant is in TABLE")
    }

    /// The type with this on-disk id, if ggml has one.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TABLE.iter().find(|r| r.1 == id).map(|r| r.0)
    }

    /// The on-disk id.
    pub fn id(self) -> u32 {
        self.row().1
    }

    /// Elements per block (1 for plain float/int types).
    pub fn block_size(self) -> usize {
        self.row().2
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.row().3
    }

    /// ggml's name for the type (`Q4_K`, `F16`, ...).
    pub fn name(self) -> &'static str {
        self.row().4
    }

    /// Whether hearth can compute with tensors of this type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            F32 | F16
                | BF16
                | Q4_0
                | Q4_1
                | Q5_0
                | Q5_1
                | Q8_0
                | Q2_K
                | Q3_K
                | Q4_K
                | Q5_K
                | Q6_K
                | MXFP4
        )
    }

    /// Bytes taken by `n` elements, or `None` if `n` is not a whole number of
    /// blocks or the size overflows.
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        let bs = self.block_size() as u64;
        if !n.is_multiple_of(bs) {
            return None;
        }
        (n / bs).checked_mul(self.type_size() as u64)
    }

    /// Every type ggml names.
    pub fn all() -> impl Iterator<Item = GgmlType> {
        TABLE.iter().map(|r| r.0)
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for t in GgmlType::all() {
            assert_eq!(GgmlType::from_id(t.id()), Some(t));
        }
        let mut ids: Vec<u32> = GgmlType::all().map(|t| t.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), TABLE.len());
        assert_eq!(GgmlType::from_id(4), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(Q4_K.bytes_for(512), Some(288));
        assert_eq!(Q4_0.bytes_for(33), None);
        assert_eq!(F32.bytes_for(3), Some(12));
    }
}
