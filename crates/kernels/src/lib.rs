//! hearth's compute kernels: ggml quantized formats (dequantization, dot
//! products against 8-bit quantized activations), AVX2 versions with runtime
//! dispatch, a persistent thread pool and a matmul built on them.
//!
//! Formats and their reference semantics come from llama.cpp (cited per file).
//!
//! # Numerics
//! - Activation quantizers (Q8_0, Q8_1, Q8_K, F16, BF16) round exactly like
//!   llama.cpp's reference quantizers; [`ActRounding::LlamaCppX86`] instead
//!   reproduces what llama.cpp's x86 AVX2 build runs for Q8_0/Q8_1.
//! - Every dot product follows llama.cpp's AVX2 `ggml_vec_dot_*` kernels op for
//!   op: exact integer partial sums in 8 lanes per block, then the same FMAs and
//!   horizontal sums. The scalar reference emulates those lanes, so scalar and
//!   AVX2 results are bit-identical, and (with the same activations) identical to
//!   llama.cpp's AVX2 `ggml_vec_dot_*` (checked against llama.cpp's own code in
//!   `tests/llama_ref.rs`). Note that a default llama.cpp build does not always
//!   use those kernels: Q4_0/Q4_K weights are repacked on AVX2 (`--no-repack`
//!   turns that off) and batches of 2+ rows may go through llamafile's sgemm
//!   (`GGML_LLAMAFILE=OFF` at build time turns that off).
//! - [`matmul`] computes every output element as one dot product whose op
//!   sequence depends only on the format and the SIMD level: that of `vec_dot`,
//!   except Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 on AVX2, which use cheaper orders:
//!   "two-lane" for Q4_1/Q5_1, "one-lane" for Q4_0/Q5_0/Q8_0 (`lanes2`; scalar reference:
//!   [`matmul_reference_raw`]), whichever tile
//!   kernel computes it. For the `vec_dot` order the AVX2 tile kernels (2 weight
//!   rows x 1 activation row for decode, 1x4 / 2x4, and 4-row panels for many
//!   rows) unpack each weight block once and reuse it across the tile but keep
//!   separate accumulators per output (llama.cpp's FMA chains per output, with
//!   instruction-level parallelism from the tile's independent outputs); the
//!   two- and one-lane kernels (4x1 for few rows, panels for many) likewise. So a row's
//!   result does not depend on the batch around it, the tiling or the thread
//!   count.
//! - Activation quantizers have AVX2 versions that write the scalar reference's
//!   bytes exactly (checked in `tests/simd.rs`).
//! - [`matmul_multi`] runs several products (e.g. Q/K/V, gate/up) in one pool
//!   pass with one barrier, bit-identical to separate [`matmul`] calls.

#![allow(clippy::needless_range_loop)] // index-heavy kernels read clearer with explicit indices

mod acts;
mod attn;
mod block;
mod expf;
mod float;
mod k_quants;
mod lanes2;
mod matmul;
mod panel_cache;
mod pool;
mod q4;
mod q5;
mod q8;
mod scalar;
mod util;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub use acts::{ActRounding, QuantizedActs};
pub use attn::{attend_row, attend_row_scalar, attend_rows, MAX_ROWS as ATTN_MAX_ROWS};
pub use expf::exp_ggml;
pub use gguf::GgmlType;
pub use half::f16;
pub use matmul::{matmul, matmul_multi, MatmulJob};
pub use panel_cache::PanelCache;
pub use pool::{default_threads, ThreadPool};

/// A row dot product: weight row bytes, activation row bytes (already of the
/// weight type's `vec_dot_type`, same number of elements).
pub(crate) type DotFn = fn(&[u8], &[u8]) -> f32;

/// Tile kernels: several weight rows x activation rows per call, each weight
/// block unpacked once and each activation block loaded once per tile. Every
/// output is bit-identical to the [`DotFn`] of the same type on that pair of
/// rows (each output keeps its own accumulators and op order), so results never
/// depend on the tiling. `None`: not available, use a smaller shape.
pub(crate) type Dot21Fn = fn([&[u8]; 2], &[u8]) -> [f32; 2];
pub(crate) type Dot14Fn = fn(&[u8], [&[u8]; 4]) -> [f32; 4];
pub(crate) type Dot24Fn = fn([&[u8]; 2], [&[u8]; 4]) -> [[f32; 4]; 2];

/// A whole-tile prefill kernel: weight rows `o0..o0 + 4 * n4` x activation
/// rows `r0..r1`, each output bit-identical to the [`DotFn`] of the type.
/// Arguments: type, weight bytes, row bytes, o0, n4, activation base pointer,
/// activation row stride, r0, r1, output pointer, n_out (see
/// `avx2::panel::matmul_panel` for the safety contract).
#[allow(clippy::type_complexity)]
pub(crate) type PanelFn = unsafe fn(
    GgmlType,
    &[u8],
    usize,
    usize,
    usize,
    *const u8,
    usize,
    usize,
    usize,
    *mut f32,
    usize,
);

#[derive(Clone, Copy, Default)]
pub(crate) struct Tiles {
    /// 2 weight rows x 1 activation row (decode: two independent chains).
    pub d21: Option<Dot21Fn>,
    /// 1 weight row x 4 activation rows.
    pub d14: Option<Dot14Fn>,
    /// 2 weight rows x 4 activation rows, `[w][a]`.
    pub d24: Option<Dot24Fn>,
    /// Whole tiles of 4-row weight panels x many activation rows (prefill).
    pub panel: Option<PanelFn>,
    /// 4 weight rows x 1 activation row in the two-lane order (`lanes2`). When
    /// set, every output of the type goes through it or `panel` (which then
    /// also uses that order), never through the `vec_dot`-order kernels above.
    pub rows4: Option<Rows4Fn>,
    /// Whole tiles for a few activation rows (fewer than a `panel` pays for,
    /// at least 2: the batched decode step), same signature as `panel`.
    pub few: Option<PanelFn>,
    /// `panel` reads panels of 8 weight rows (the one-lane order's): its
    /// tiles must start at a multiple of 8 (else 4).
    pub panel8: bool,
}

/// See [`Tiles::rows4`].
pub(crate) type Rows4Fn = fn([&[u8]; 4], &[u8]) -> [f32; 4];

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
    #[error("HEARTH_SIMD={0:?} is not a SIMD level: use one of scalar, avx2, avx512 or unset it (the best this CPU has)")]
    SimdEnv(String),
}

/// Whether `ty` has kernels here.
pub fn is_supported(ty: GgmlType) -> bool {
    scalar::dot_fn(ty).is_some()
}

/// The activation type weights of `ty` are dotted against (llama.cpp's
/// `vec_dot_type`). Unsupported types map to `F32`.
pub fn vec_dot_type(ty: GgmlType) -> GgmlType {
    use GgmlType::*;
    match ty {
        F16 => F16,
        BF16 => BF16,
        Q4_0 | Q5_0 | Q8_0 => Q8_0,
        Q4_1 | Q5_1 => Q8_1,
        Q2_K | Q3_K | Q4_K | Q5_K | Q6_K => Q8_K,
        _ => F32,
    }
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

/// The scalar dequantizer of `ty`, once `src` is checked to hold exactly
/// `dst.len()` elements of it.
fn checked_dequant(
    ty: GgmlType,
    src: &[u8],
    dst: &[f32],
) -> Result<scalar::DequantFn, KernelError> {
    let f = scalar::dequant_fn(ty).ok_or(KernelError::Unsupported(ty))?;
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
    #[cfg(target_arch = "x86_64")]
    {
        if use_avx2() {
            // SAFETY: `use_avx2()` confirmed avx2, fma and f16c at runtime; lengths checked.
            match ty {
                GgmlType::Q8_0 => {
                    unsafe { avx2::quant::dequantize_q8_0(src, dst) };
                    return Ok(());
                }
                GgmlType::F16 => {
                    unsafe { avx2::quant::dequantize_f16(src, dst) };
                    return Ok(());
                }
                _ => {}
            }
        }
    }
    f(src, dst);
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
    let f = dot_fn(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
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
    Ok(f(w_row, acts.row(act_row)))
}

// ---- SIMD dispatch -------------------------------------------------------

static FORCE_SCALAR: AtomicBool = AtomicBool::new(false);
/// 0 = not yet detected, 1 = scalar, 2 = avx2+fma+f16c, 3 = neon, 4 = neon+dotprod,
/// 5 = avx2 level + avx512f/bw/vl, 6 = level 5 + avx512vnni.
static DETECTED: AtomicU8 = AtomicU8::new(0);

/// Force the scalar reference kernels (for tests/benchmarks). The environment
/// variable `HEARTH_FORCE_SCALAR=1` does the same at first use, and
/// `HEARTH_SIMD` caps the level a CPU would otherwise get (see [`SIMD_CAPS`]).
pub fn set_force_scalar(force: bool) {
    FORCE_SCALAR.store(force, Ordering::SeqCst);
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
    if use_avx2() {
        // SAFETY: AVX2 and FMA were detected at runtime (`use_avx2`).
        unsafe { avx2::act::swiglu(gate, up) };
        return;
    }
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// The values `HEARTH_SIMD` takes (unset or empty: the best the CPU has):
/// `scalar` (the reference kernels), `avx2` (no AVX-512 on an AVX-512 CPU),
/// `avx512` (AVX-512 without VNNI). A cap above what the CPU has changes
/// nothing.
pub const SIMD_CAPS: [&str; 3] = ["scalar", "avx2", "avx512"];

/// `HEARTH_SIMD` as set ("" when unset).
fn simd_env() -> String {
    std::env::var("HEARTH_SIMD").unwrap_or_default()
}

/// Check `HEARTH_SIMD` (callers report the error before any kernel runs; an
/// unknown value is otherwise treated as unset).
pub fn check_simd_env() -> Result<(), KernelError> {
    let v = simd_env();
    if v.is_empty() || SIMD_CAPS.contains(&v.as_str()) {
        Ok(())
    } else {
        Err(KernelError::SimdEnv(v))
    }
}

fn detected() -> u8 {
    let d = DETECTED.load(Ordering::Relaxed);
    if d != 0 {
        return d;
    }
    let cap = simd_env();
    let env_scalar = std::env::var("HEARTH_FORCE_SCALAR")
        .map(|v| v == "1")
        .unwrap_or(false)
        || cap == "scalar";
    let mut level = 1;
    #[cfg(target_arch = "x86_64")]
    {
        if !env_scalar
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
        {
            level = 2;
            if cap != "avx2"
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
            {
                level = if cap != "avx512" && is_x86_feature_detected!("avx512vnni") {
                    6
                } else {
                    5
                };
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if !env_scalar && std::arch::is_aarch64_feature_detected!("neon") {
            level = if std::arch::is_aarch64_feature_detected!("dotprod") {
                4
            } else {
                3
            };
        }
    }
    let _ = env_scalar;
    DETECTED.store(level, Ordering::Relaxed);
    level
}

/// Whether the AVX2 kernels are in use (detected, and not forced off). Also
/// true on AVX-512 machines: what has no AVX-512 kernel runs the AVX2 one.
pub(crate) fn use_avx2() -> bool {
    !FORCE_SCALAR.load(Ordering::Relaxed) && matches!(detected(), 2 | 5 | 6)
}

/// The AVX-512 level in use: 0 = none (or forced off), 5 = avx512f/bw/vl,
/// 6 = that and avx512vnni. Implies [`use_avx2`].
pub(crate) fn avx512_level() -> u8 {
    if FORCE_SCALAR.load(Ordering::Relaxed) {
        return 0;
    }
    match detected() {
        d @ (5 | 6) => d,
        _ => 0,
    }
}

/// The NEON level in use (aarch64): 0 = none/forced scalar, 3 = neon, 4 = neon+dotprod.
pub(crate) fn neon_level() -> u8 {
    if FORCE_SCALAR.load(Ordering::Relaxed) {
        return 0;
    }
    match detected() {
        d @ (3 | 4) => d,
        _ => 0,
    }
}

/// The SIMD level in use: `"avx512+vnni"`, `"avx512"`, `"avx2"`, `"neon"`,
/// `"neon+dotprod"` or `"scalar"`.
pub fn simd_level() -> &'static str {
    match avx512_level() {
        6 => return "avx512+vnni",
        5 => return "avx512",
        _ => {}
    }
    if use_avx2() {
        return "avx2";
    }
    match neon_level() {
        3 => "neon",
        4 => "neon+dotprod",
        _ => "scalar",
    }
}

/// The dot product used for `ty` at the current SIMD level.
pub(crate) fn dot_fn(ty: GgmlType) -> Option<DotFn> {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(f) = avx512::dot_fn(avx512_level(), ty) {
            return Some(f);
        }
        if use_avx2() {
            if let Some(f) = avx2::dot_fn(ty) {
                return Some(f);
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let level = neon_level();
        if level != 0 {
            if let Some(f) = neon::dot_fn(ty, level == 4) {
                return Some(f);
            }
        }
    }
    scalar::dot_fn(ty)
}

/// Benchmarking knob: software prefetch in the legacy-format kernels.
#[doc(hidden)]
pub fn set_prefetch(on: bool) {
    #[cfg(target_arch = "x86_64")]
    avx2::legacy_prefetch(on);
    let _ = on;
}

static TILE_MASK: AtomicU8 = AtomicU8::new(0xFF);

/// Benchmarking knob: which tile kernels matmul may use (bit 0: 2x1, bit 1:
/// 1x4, bit 2: 2x4, bit 3: panels, bit 4: the two- and one-lane orders for
/// Q4_0/Q4_1/Q5_0/Q5_1/Q8_0, bit 5: the few-rows kernels; default all). Results are
/// identical across bits 0-3 and 5;
/// bit 4 selects the op order (see [`matmul_reference_raw`]).
#[doc(hidden)]
pub fn set_tile_mask(mask: u8) {
    TILE_MASK.store(mask, Ordering::Relaxed);
}

/// Whether the AVX2 matmul uses the two- and one-lane orders (`lanes2`) for
/// Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 (tile-mask bit 4, default on; off: llama.cpp's
/// `vec_dot` order, for A/B measurements).
pub(crate) fn two_lane_enabled() -> bool {
    TILE_MASK.load(Ordering::Relaxed) & 16 != 0
}

/// The tile kernels for `ty` at the current SIMD level (empty if none).
pub(crate) fn tiles(ty: GgmlType) -> Tiles {
    #[cfg(target_arch = "x86_64")]
    {
        if use_avx2() {
            let mut t = avx2::tiles(ty, two_lane_enabled());
            avx512::override_tiles(avx512_level(), ty, two_lane_enabled(), &mut t);
            let m = TILE_MASK.load(Ordering::Relaxed);
            if m & 1 == 0 {
                t.d21 = None;
            }
            if m & 2 == 0 {
                t.d14 = None;
            }
            if m & 4 == 0 || t.d21.is_none() {
                t.d24 = None;
            }
            if m & 8 == 0 && t.rows4.is_none() {
                t.panel = None;
            }
            if m & 32 == 0 {
                t.few = None;
            }
            return t;
        }
    }
    let _ = ty;
    Tiles::default()
}

/// The scalar reference of the op order [`matmul`] uses for `ty` at the
/// current SIMD level, for one weight row and one activation row (for tests):
/// the one-lane order for Q4_0/Q5_0/Q8_0 and the two-lane order for Q4_1/Q5_1 on
/// AVX2 (see `lanes2`),
/// llama.cpp's `vec_dot` order ([`vec_dot_scalar_raw`]) otherwise.
pub fn matmul_reference_raw(weight_ty: GgmlType, w: &[u8], a: &[u8]) -> Result<f32, KernelError> {
    if use_avx2() && two_lane_enabled() && lanes2::has_lanes1(weight_ty) {
        return Ok(lanes2::dot_lanes1(weight_ty, w, a));
    }
    if use_avx2() && two_lane_enabled() && lanes2::has_lanes2(weight_ty) {
        return Ok(lanes2::dot_lanes2(weight_ty, w, a));
    }
    vec_dot_scalar_raw(weight_ty, w, a)
}

/// Scalar-reference dot product of raw rows (for tests and tools): `w` holds
/// `k` elements of `weight_ty`, `a` holds `k` elements of `vec_dot_type(weight_ty)`.
pub fn vec_dot_scalar_raw(weight_ty: GgmlType, w: &[u8], a: &[u8]) -> Result<f32, KernelError> {
    let f = scalar::dot_fn(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
    Ok(f(w, a))
}

/// [`dequantize`] with the scalar reference, ignoring SIMD dispatch (for tests).
pub fn dequantize_scalar_raw(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), KernelError> {
    let f = checked_dequant(ty, src, dst)?;
    f(src, dst);
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
