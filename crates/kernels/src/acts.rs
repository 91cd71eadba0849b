//! Activation rows quantized once to a weight type's `vec_dot_type`.

use crate::q8;
use crate::util::{f32_to_bf16_bits, f32_to_f16_bits};
use crate::{row_bytes, vec_dot_type, GgmlType, KernelError};
use std::sync::atomic::{AtomicU64, Ordering};

/// The next [`QuantizedActs::id`].
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How Q8_0/Q8_1 activations are rounded (Q8_K, F16, BF16 are the same either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActRounding {
    /// llama.cpp's reference quantizers `quantize_row_q8_0_ref` /
    /// `quantize_row_q8_1_ref` (`x * (1/d)`, `roundf`: half away from zero).
    #[default]
    Reference,
    /// What llama.cpp's x86 AVX/AVX2 CPU backend runs at inference time
    /// (`x * (127/amax)`, round half to even). Use this to reproduce the logits of
    /// an AVX2 build of llama.cpp bit for bit in the quantization step.
    LlamaCppX86,
}

/// Activation rows quantized to one activation type (`F32`, `F16`, `BF16`,
/// `Q8_0`, `Q8_1` or `Q8_K`), reused across every weight matrix with that
/// `vec_dot_type`. Rows are stored back to back in ggml layout.
#[derive(Debug, Clone)]
pub struct QuantizedActs {
    buf: Vec<u8>,
    row_stride: usize,
    n_rows: usize,
    k: usize,
    ty: GgmlType,
    rounding: ActRounding,
    /// New at every quantization (see [`Self::id`]).
    id: u64,
}

impl Default for QuantizedActs {
    fn default() -> Self {
        Self::new()
    }
}

impl QuantizedActs {
    pub fn new() -> Self {
        QuantizedActs {
            buf: Vec::new(),
            row_stride: 0,
            n_rows: 0,
            k: 0,
            ty: GgmlType::F32,
            rounding: ActRounding::Reference,
            id: 0,
        }
    }

    /// Choose the Q8_0/Q8_1 rounding used by later `quantize` calls.
    pub fn set_rounding(&mut self, rounding: ActRounding) {
        self.rounding = rounding;
    }

    pub fn rounding(&self) -> ActRounding {
        self.rounding
    }

    /// Quantize `n_rows` rows of `k` floats (`x.len() == n_rows*k`) to
    /// `vec_dot_type(weight_ty)`. Reuses the buffer (no allocation when its
    /// capacity suffices). Panics on bad sizes; see [`Self::try_quantize`].
    pub fn quantize(&mut self, weight_ty: GgmlType, x: &[f32], n_rows: usize, k: usize) {
        if let Err(e) = self.try_quantize(weight_ty, x, n_rows, k) {
            panic!("QuantizedActs::quantize: {e}");
        }
    }

    /// [`Self::quantize`] returning errors instead of panicking.
    pub fn try_quantize(
        &mut self,
        weight_ty: GgmlType,
        x: &[f32],
        n_rows: usize,
        k: usize,
    ) -> Result<(), KernelError> {
        self.lay_out(weight_ty, x.len(), n_rows, k)?;
        if k == 0 {
            return Ok(());
        }
        let (ty, stride) = (self.ty, self.row_stride);
        for (xr, yr) in x.chunks_exact(k).zip(self.buf.chunks_exact_mut(stride)) {
            quantize_row(ty, self.rounding, xr, yr);
        }
        Ok(())
    }

    /// [`Self::quantize`] with the rows split over `pool` when there are many
    /// (see [`Self::try_quantize_on`]).
    ///
    /// # Panics
    /// As [`Self::quantize`].
    pub fn quantize_on(
        &mut self,
        pool: &crate::ThreadPool,
        weight_ty: GgmlType,
        x: &[f32],
        n_rows: usize,
        k: usize,
    ) {
        if let Err(e) = self.try_quantize_on(pool, weight_ty, x, n_rows, k) {
            panic!("QuantizedActs::quantize_on: {e}");
        }
    }

    /// [`Self::try_quantize`] with the rows split over `pool` when there are
    /// many (the same bytes: each row is quantized on its own).
    pub fn try_quantize_on(
        &mut self,
        pool: &crate::ThreadPool,
        weight_ty: GgmlType,
        x: &[f32],
        n_rows: usize,
        k: usize,
    ) -> Result<(), KernelError> {
        // (below this, one thread beats the pool run: a batched decode step)
        const MIN_ROWS: usize = 48;
        if n_rows < MIN_ROWS || pool.n_threads() == 1 || k == 0 {
            return self.try_quantize(weight_ty, x, n_rows, k);
        }
        self.lay_out(weight_ty, x.len(), n_rows, k)?;
        let (ty, stride, rounding) = (self.ty, self.row_stride, self.rounding);
        let per = n_rows.div_ceil(2 * pool.n_threads());
        let out = SharedBuf(self.buf.as_mut_ptr());
        pool.run(n_rows.div_ceil(per), |t| {
            let (r0, r1) = (t * per, ((t + 1) * per).min(n_rows));
            for r in r0..r1 {
                // SAFETY: task t alone writes rows r0..r1 of the buffer
                // (disjoint, in bounds: stride * n_rows bytes), which
                // outlives `run`.
                let y = unsafe { std::slice::from_raw_parts_mut(out.at(r * stride), stride) };
                quantize_row(ty, rounding, &x[r * k..(r + 1) * k], y);
            }
        });
        Ok(())
    }

    /// Check a quantization of `n_rows` rows of `k` floats (`x_len` of them)
    /// for `weight_ty` and lay out the buffer for it. Not zeroed: the row
    /// quantizers write every byte of their rows (`tests/acts.rs`), and a
    /// batched step's zeroing showed as a `memset` on the scheduler's thread
    /// (~1 % of `hearth batch`).
    fn lay_out(
        &mut self,
        weight_ty: GgmlType,
        x_len: usize,
        n_rows: usize,
        k: usize,
    ) -> Result<(), KernelError> {
        if !crate::is_supported(weight_ty) {
            return Err(KernelError::Unsupported(weight_ty));
        }
        let ty = vec_dot_type(weight_ty);
        // The weight's block size must divide k too (e.g. Q4_K rows need k % 256 == 0).
        row_bytes(weight_ty, k)?;
        let stride = row_bytes(ty, k)?;
        let expected = n_rows.checked_mul(k).ok_or(KernelError::Length {
            ty,
            what: "activation floats",
            expected: usize::MAX,
            got: x_len,
        })?;
        if x_len != expected {
            return Err(KernelError::Length {
                ty,
                what: "activation floats (n_rows*k)",
                expected,
                got: x_len,
            });
        }
        self.buf.resize(stride * n_rows, 0);
        // every write to the rows follows a lay-out: a new identity
        self.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.row_stride = stride;
        self.n_rows = n_rows;
        self.k = k;
        self.ty = ty;
        Ok(())
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    pub fn k(&self) -> usize {
        self.k
    }
    /// The activation type the rows are stored in.
    pub fn ty(&self) -> GgmlType {
        self.ty
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    /// An identity of these rows' contents: unique to each quantization
    /// (a copy keeps it, with the same bytes). Tile kernels key what they
    /// prepare from the rows on it (see `matmul::PrepKey`).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
    /// Bytes of activation row `r`.
    pub fn row(&self, r: usize) -> &[u8] {
        &self.buf[r * self.row_stride..(r + 1) * self.row_stride]
    }
    /// All rows' bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.row_stride * self.n_rows]
    }

    /// Error unless these activations fit weights of `weight_ty`.
    pub(crate) fn check_for(&self, weight_ty: GgmlType) -> Result<(), KernelError> {
        let needed = vec_dot_type(weight_ty);
        if self.ty != needed {
            return Err(KernelError::ActsType {
                weights: weight_ty,
                acts: self.ty,
                needed,
            });
        }
        row_bytes(weight_ty, self.k)?;
        Ok(())
    }
}

/// Quantize one row to activation type `ty` (lengths already checked).
pub(crate) fn quantize_row(ty: GgmlType, rounding: ActRounding, x: &[f32], y: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::use_avx2() && all_finite(x) {
            let x86 = rounding == ActRounding::LlamaCppX86;
            match ty {
                GgmlType::Q8_0 => {
                    // SAFETY: `use_avx2()` confirmed avx2, fma and f16c at runtime.
                    return unsafe { crate::avx2::quant::quantize_q8_01(x, y, false, x86) };
                }
                GgmlType::Q8_1 => {
                    // SAFETY: as above.
                    return unsafe { crate::avx2::quant::quantize_q8_01(x, y, true, x86) };
                }
                GgmlType::Q8_K => {
                    // SAFETY: as above.
                    return unsafe { crate::avx2::quant::quantize_q8_k(x, y) };
                }
                _ => {}
            }
        }
    }
    quantize_row_scalar(ty, rounding, x, y)
}

/// No NaN or infinity in `x` (a vectorizable pass: no early exit).
#[cfg(target_arch = "x86_64")]
fn all_finite(x: &[f32]) -> bool {
    x.iter().fold(0u32, |a, v| {
        a | ((v.to_bits() & 0x7f80_0000) == 0x7f80_0000) as u32
    }) == 0
}

/// The scalar reference quantizer for one row (see [`quantize_row`]).
pub(crate) fn quantize_row_scalar(ty: GgmlType, rounding: ActRounding, x: &[f32], y: &mut [u8]) {
    match (ty, rounding) {
        (GgmlType::Q8_0, ActRounding::Reference) => q8::quantize_row_q8_0(x, y),
        (GgmlType::Q8_0, ActRounding::LlamaCppX86) => q8::quantize_row_q8_0_x86(x, y),
        (GgmlType::Q8_1, ActRounding::Reference) => q8::quantize_row_q8_1(x, y),
        (GgmlType::Q8_1, ActRounding::LlamaCppX86) => q8::quantize_row_q8_1_x86(x, y),
        (GgmlType::Q8_K, _) => q8::quantize_row_q8_k(x, y),
        (GgmlType::F16, _) => {
            for (v, o) in x.iter().zip(y.chunks_exact_mut(2)) {
                o.copy_from_slice(&f32_to_f16_bits(*v).to_le_bytes());
            }
        }
        (GgmlType::BF16, _) => {
            for (v, o) in x.iter().zip(y.chunks_exact_mut(2)) {
                o.copy_from_slice(&f32_to_bf16_bits(*v).to_le_bytes());
            }
        }
        _ => {
            for (v, o) in x.iter().zip(y.chunks_exact_mut(4)) {
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// The quantized rows' buffer shared by the tasks of a pool run (each writes
/// its own rows).
#[derive(Clone, Copy)]
struct SharedBuf(*mut u8);
// SAFETY: only used by `try_quantize_on`, whose tasks write disjoint rows.
unsafe impl Send for SharedBuf {}
// SAFETY: as above.
unsafe impl Sync for SharedBuf {}
impl SharedBuf {
    fn at(self, off: usize) -> *mut u8 {
        self.0.wrapping_add(off)
    }
}
