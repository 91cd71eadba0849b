//! AVX2 + FMA (+ F16C) kernels. Every function here is only reachable through
//! [`dot_fn`], which the crate calls only after `use_avx2()` confirmed the CPU
//! features at runtime.

use crate::DotFn;
use gguf::GgmlType;

/// AVX2 dot product for `ty`, if there is one.
pub(crate) fn dot_fn(ty: GgmlType) -> Option<DotFn> {
    let _ = ty;
    None
}
