//! hearth's compute kernels: ggml quantized formats (dequantization, dot
//! products against 8-bit quantized activations), SIMD versions (AVX2,
//! AVX-512, NEON) with runtime dispatch, a persistent thread pool and a
//! matmul built on them.
//!
//! Where to look: `formats.rs` lists every weight format with its block
//! layout and its kernels per SIMD level (`simd.rs` detects the level);
//! `matmul.rs` tiles a product and hands the tiles to those kernels; the
//! formats' definitions and scalar references are `q4.rs`, `q5.rs`, `q8.rs`,
//! `float.rs`, `k_quants/`; the cheaper op orders of the batched kernels are
//! `orders.rs`; the SIMD kernels are under `avx2/`, `avx512/`, `neon/`.
//! Formats and their reference semantics come from llama.cpp (cited per file).
//!
//! # Numerics
//! - Activation quantizers (Q8_0, Q8_1, Q8_K, F16, BF16) round exactly like
//!   llama.cpp's reference quantizers; [`ActRounding::LlamaCppX86`] instead
//!   reproduces what llama.cpp's x86 AVX2 build runs for Q8_0/Q8_1.
//! - Every dot product ([`vec_dot`]) follows llama.cpp's AVX2 `ggml_vec_dot_*`
//!   kernels op for op: exact integer partial sums in 8 lanes per block, then
//!   the same FMAs and horizontal sums. The scalar reference emulates those
//!   lanes, so scalar and SIMD results are bit-identical, and (with the same
//!   activations) identical to llama.cpp's AVX2 `ggml_vec_dot_*` (checked
//!   against llama.cpp's own code in `tests/llama_ref.rs`). Note that a
//!   default llama.cpp build does not always use those kernels: Q4_0/Q4_K
//!   weights are repacked on AVX2 (`--no-repack` turns that off) and batches
//!   of 2+ rows may go through llamafile's sgemm (`GGML_LLAMAFILE=OFF` at
//!   build time turns that off).
//! - [`matmul`] computes every output element as one dot product whose op
//!   sequence depends only on the format and the SIMD level (its scalar
//!   reference: [`matmul_reference_raw`]): `vec_dot`'s, or on x86 for the
//!   32-element formats a cheaper order of `orders.rs` ("one-lane" for
//!   Q4_0/Q5_0/Q8_0, also on NEON with i8mm; "two-lane" for Q4_1/Q5_1),
//!   whichever kernel computes it
//!   (each keeps separate accumulators per output). So a row's result does not
//!   depend on the batch around it, the tiling or the thread count.
//! - Activation quantizers have AVX2 versions that write the scalar reference's
//!   bytes exactly (checked in `tests/simd.rs`).
//! - [`matmul_serial`] is [`matmul`] on the calling thread (same bits), for
//!   small products computed inside a pool task.
//! - [`matmul_multi`] runs several products (e.g. Q/K/V, gate/up) in one pool
//!   pass with one barrier, bit-identical to separate [`matmul`] calls.

#![allow(clippy::needless_range_loop)] // index-heavy kernels read clearer with explicit indices

mod acts;
mod attn;
mod block;
mod expf;
mod float;
mod formats;
mod k_quants;
mod matmul;
mod mxfp4;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // two-lane: the x86 matmul only
mod orders;
mod panel_cache;
mod pool;
mod q4;
mod q5;
mod q8;
mod simd;
mod util;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

pub use acts::{ActRounding, QuantizedActs};
pub use attn::{
    attend_row, attend_row_scalar, attend_row_scalar_sink, attend_row_sink, attend_rows,
    attend_rows_sink, KvHead, MAX_ROWS as ATTN_MAX_ROWS,
};
pub use expf::exp_ggml;
pub use gguf::GgmlType;
pub use half::f16;
pub use matmul::{matmul, matmul_multi, matmul_serial, MatmulJob};
pub use panel_cache::PanelCache;
pub use pool::{default_threads, ThreadPool};
pub use simd::{check_simd_env, set_force_scalar, simd_level, SIMD_CAPS};

use formats::{format, kernels, Order};
#[cfg(target_arch = "x86_64")]
pub(crate) use simd::use_avx2;

/// Errors from kernel entry points.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("tensor type {0} is not supported by the kernels")]
    Unsupported(GgmlType),
    #[error("{ty}: {n} elements is not a multiple of the block size {block}")]
    BadElementCount {
        ty: GgmlType,
        n: usize,
        block: usize,
    },
    #[error("{ty}: {what}: expected {expected} bytes/elements, got {got}")]
    Length {
        ty: GgmlType,
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("activations are {acts} (quantized for another weight type) but {weights} weights need {needed}")]
    ActsType {
        weights: GgmlType,
        acts: GgmlType,
        needed: GgmlType,
    },
    #[error("a panel cache was passed with a matrix it was not built from ({0})")]
    PanelCache(String),
    #[error("HEARTH_SIMD={0:?} is not a SIMD level: use one of scalar, avx2, avx2-vnni, avx512, neon, neon-dotprod or unset it (the best this CPU has)")]
    SimdEnv(String),
}

/// Whether `ty` has kernels here.
pub fn is_supported(ty: GgmlType) -> bool {
    format(ty).is_some()
}

/// The activation type weights of `ty` are dotted against (llama.cpp's
/// `vec_dot_type`). Unsupported types map to `F32`.
pub fn vec_dot_type(ty: GgmlType) -> GgmlType {
    format(ty).map_or(GgmlType::F32, |f| f.act)
}

/// Bytes taken by `n` elements of `ty`, or an error naming the type.
pub(crate) fn row_bytes(ty: GgmlType, n: usize) -> Result<usize, KernelError> {
    ty.bytes_for(n as u64)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or(KernelError::BadElementCount {
            ty,
            n,
            block: ty.block_size(),
        })
}

/// The format `ty`, once `src` is checked to hold exactly `dst.len()`
/// elements of it.
fn checked_dequant(
    ty: GgmlType,
    src: &[u8],
    dst: &[f32],
) -> Result<&'static formats::Format, KernelError> {
    let f = format(ty).ok_or(KernelError::Unsupported(ty))?;
    let need = row_bytes(ty, dst.len())?;
    if src.len() != need {
        return Err(KernelError::Length {
            ty,
            what: "source bytes",
            expected: need,
            got: src.len(),
        });
    }
    Ok(f)
}

/// Decode `dst.len()` elements of type `ty` from `src`
/// (`src.len() == ty.bytes_for(dst.len())`). Errors, never panics, on a length
/// mismatch or an unsupported type.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), KernelError> {
    let f = checked_dequant(ty, src, dst)?;
    // SAFETY: the kernel of the current SIMD level (its features detected at
    // runtime); lengths checked above.
    unsafe { (f.at(simd::level()).dequant)(src, dst) };
    Ok(())
}

/// One dot product: weight row `w_row` (raw bytes of `acts.k()` elements of
/// `weight_ty`) against activation row `act_row`. Panics on mismatched
/// lengths/types (use [`try_vec_dot`] for a `Result`).
pub fn vec_dot(weight_ty: GgmlType, w_row: &[u8], acts: &QuantizedActs, act_row: usize) -> f32 {
    match try_vec_dot(weight_ty, w_row, acts, act_row) {
        Ok(v) => v,
        Err(e) => panic!("vec_dot: {e}"),
    }
}

/// [`vec_dot`] returning errors instead of panicking.
pub fn try_vec_dot(
    weight_ty: GgmlType,
    w_row: &[u8],
    acts: &QuantizedActs,
    act_row: usize,
) -> Result<f32, KernelError> {
    let f = kernels(weight_ty)
        .ok_or(KernelError::Unsupported(weight_ty))?
        .dot;
    acts.check_for(weight_ty)?;
    let need = row_bytes(weight_ty, acts.k())?;
    if w_row.len() != need {
        return Err(KernelError::Length {
            ty: weight_ty,
            what: "weight row bytes",
            expected: need,
            got: w_row.len(),
        });
    }
    if act_row >= acts.n_rows() {
        return Err(KernelError::Length {
            ty: acts.ty(),
            what: "activation row index bound",
            expected: acts.n_rows(),
            got: act_row,
        });
    }
    // SAFETY: the kernel of the current SIMD level (its features detected at
    // runtime); it checks the rows' lengths (also checked above).
    Ok(unsafe { f(w_row, acts.row(act_row)) })
}

/// SiLU, `x / (1 + exp(-x))` with the scalar `expf` (ggml's `ggml_silu_f32`).
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// SwiGLU in place: `gate[i] = silu(gate[i]) * up[i]`. On AVX2 machines the
/// vector `exp` of llama.cpp's AVX2 build (`ggml_v_expf`, within ~1.5 ULP of
/// `expf`) for every element, as llama.cpp computes it there (but for its
/// last < 8 elements, which it takes through `expf`); the scalar [`silu`] on
/// other CPUs. Element-wise, whatever the slice: a row's result never depends
/// on the rows around it or on how the buffer is split across threads.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    assert!(up.len() >= gate.len(), "swiglu: up shorter than gate");
    #[cfg(target_arch = "x86_64")]
    if simd::use_avx2() {
        // SAFETY: AVX2 and FMA were detected at runtime (`use_avx2`).
        unsafe { avx2::act::swiglu(gate, up) };
        return;
    }
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// The scalar reference of the op order [`matmul`] uses for `ty` at the
/// current SIMD level (see `orders.rs`), for one weight row and one
/// activation row (for tests).
pub fn matmul_reference_raw(weight_ty: GgmlType, w: &[u8], a: &[u8]) -> Result<f32, KernelError> {
    let f = format(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
    Ok(match f.at(simd::level()).order {
        Order::OneLane(r) | Order::TwoLane(r) => r(w, a),
        // SAFETY: the scalar kernel needs no CPU feature.
        Order::VecDot => unsafe { (f.scalar.dot)(w, a) },
    })
}

/// Scalar-reference dot product of raw rows (for tests and tools): `w` holds
/// `k` elements of `weight_ty`, `a` holds `k` elements of `vec_dot_type(weight_ty)`.
pub fn vec_dot_scalar_raw(weight_ty: GgmlType, w: &[u8], a: &[u8]) -> Result<f32, KernelError> {
    let f = format(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
    // SAFETY: the scalar kernel needs no CPU feature.
    Ok(unsafe { (f.scalar.dot)(w, a) })
}

/// [`dequantize`] with the scalar reference, ignoring SIMD dispatch (for tests).
pub fn dequantize_scalar_raw(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), KernelError> {
    let f = checked_dequant(ty, src, dst)?;
    // SAFETY: the scalar kernel needs no CPU feature; lengths checked above.
    unsafe { (f.scalar.dequant)(src, dst) };
    Ok(())
}

/// Quantize one row of `x` to activation type `act_ty` (`Q8_0`, `Q8_1`,
/// `Q8_K`, `F16`, `BF16`, `F32`) with the scalar reference quantizer, ignoring
/// SIMD dispatch (for tests: `QuantizedActs` must produce the same bytes).
pub fn quantize_row_scalar_raw(
    act_ty: GgmlType,
    rounding: ActRounding,
    x: &[f32],
    out: &mut [u8],
) -> Result<(), KernelError> {
    let need = row_bytes(act_ty, x.len())?;
    if out.len() != need {
        return Err(KernelError::Length {
            ty: act_ty,
            what: "output bytes",
            expected: need,
            got: out.len(),
        });
    }
    acts::quantize_row_scalar(act_ty, rounding, x, out);
    Ok(())
}

/// Decode activation bytes of an activation type (`F32`, `F16`, `BF16`, `Q8_0`,
/// `Q8_1`, `Q8_K`) back to floats (for tests).
pub fn dequantize_acts(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), KernelError> {
    let need = row_bytes(ty, dst.len())?;
    if src.len() != need {
        return Err(KernelError::Length {
            ty,
            what: "source bytes",
            expected: need,
            got: src.len(),
        });
    }
    match ty {
        GgmlType::Q8_1 => q8::dequantize_row_q8_1(src, dst),
        GgmlType::Q8_K => q8::dequantize_row_q8_k(src, dst),
        _ => return dequantize(ty, src, dst),
    }
    Ok(())
}
