//! NEON kernels for aarch64, with an optional `dotprod` (`SDOT`) variant.
//!
//! NEON is part of the aarch64 baseline, so the plain NEON kernels are always
//! usable there; the `neon+dotprod` variants are only handed out after
//! `is_aarch64_feature_detected!("dotprod")` succeeded (see `crate::detected`).
//!
//! # Accumulation order (numerics)
//! The NEON kernels compute exactly the same integer partial sums and float ops
//! as the scalar reference, so their results are bit-identical to it (and hence
//! to our AVX2 path and llama.cpp's AVX2 kernels):
//! - quantized formats: per block, 8 exact i32 lanes, lane `l` holding the
//!   products of bytes `4l..4l+4` of each 32-element chunk (`crate::block::Lanes8`);
//!   a NEON `int32x4_t` pair holds lanes 0-3 (bytes 0..16) and 4-7 (bytes 16..32).
//!   The 4-product sums come from `SDOT` (dotprod) or, on baseline NEON, from
//!   `SMULL` + two pairwise widening adds; both are exact, so the two variants
//!   agree bit for bit. Then `acc = fma(d, (f32)lanes, acc)` per block in two
//!   `float32x4_t` accumulators and the `hsum_float_8` order
//!   `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`.
//! - F32/F16: four 8-lane FMA accumulators (eight `float32x4_t`), the
//!   `GGML_F32x8_REDUCE` order, tails as in `crate::float`.
//! - BF16: four 8-lane accumulators with separate multiply and add, as
//!   `crate::float::BlockBF16`.
//!
//! Every row's result depends only on that row's bytes, never on the batch or
//! thread count, and the order is fixed, so results are deterministic.
//!
//! Approach (facts only) after llama.cpp `ggml/src/ggml-cpu/arch/arm/quants.c`:
//! split nibbles with `AND`/`USHR`, expand high bits with bit tests, multiply
//! 8-bit values into 32-bit lanes (`vdotq_s32` there, inline `SDOT` here since
//! the Rust intrinsic is still unstable).

pub(crate) mod float;
pub(crate) mod i8mm;
pub(crate) mod kq;
pub(crate) mod legacy;
pub(crate) mod mxfp4;

use std::arch::aarch64::*;

/// How 16 signed byte products are summed into 4 i32 lanes (lane `i` = bytes
/// `4i..4i+4`). Both implementations are exact.
pub(super) trait Dot4 {
    /// `acc + [sum_{k<4} a[4i+k]*b[4i+k] for i in 0..4]`.
    unsafe fn dot4(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;
}

/// Baseline NEON: `SMULL`/`SMULL2` to i16, pairwise widen to i32, pairwise add.
pub(super) struct Base;
/// `SDOT` (FEAT_DotProd).
pub(super) struct Sdot;

impl Dot4 for Base {
    #[inline(always)]
    unsafe fn dot4(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: register-only NEON ops; NEON is mandatory on aarch64.
        unsafe {
            let p0 = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
            let p1 = vpaddlq_s16(vmull_high_s8(a, b));
            vaddq_s32(acc, vpaddq_s32(p0, p1))
        }
    }
}

impl Dot4 for Sdot {
    #[inline(always)]
    unsafe fn dot4(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        let mut r = acc;
        // SAFETY: `Sdot` kernels are only reachable after runtime detection of
        // `dotprod` (listed at `Level::NeonDotprod` in `crate::formats`); the
        // asm only reads/writes the named registers.
        unsafe {
            std::arch::asm!(
                ".arch_extension dotprod",
                "sdot {r:v}.4s, {a:v}.16b, {b:v}.16b",
                r = inout(vreg) r,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
}

/// Wrap kernels generic over `Dot4` as plain `DotFn`s: a baseline NEON one and a
/// `neon,dotprod` one.
macro_rules! dispatchable {
    ($base:ident, $sdot:ident => $imp:ident) => {
        #[target_feature(enable = "neon")]
        unsafe fn base_impl(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: forwarded from the caller (NEON present).
            unsafe { $imp::<Base>(w, a) }
        }
        #[target_feature(enable = "neon,dotprod")]
        unsafe fn sdot_impl(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: forwarded from the caller (NEON and dotprod present).
            unsafe { $imp::<Sdot>(w, a) }
        }
        pub(crate) fn $base(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: NEON is mandatory on aarch64.
            unsafe { base_impl(w, a) }
        }
        /// # Safety
        /// FEAT_DotProd available.
        pub(crate) unsafe fn $sdot(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: dotprod available (caller: listed at `Level::NeonDotprod`
            // in `crate::formats`, used after `is_aarch64_feature_detected!`).
            unsafe { sdot_impl(w, a) }
        }
    };
}
pub(super) use dispatchable;

/// Wrap a float kernel (no integer dot products) as a plain `DotFn`.
macro_rules! dispatchable_neon {
    ($name:ident => $imp:ident) => {
        pub(crate) fn $name(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: the kernel needs only NEON, mandatory on aarch64.
            unsafe { $imp(w, a) }
        }
    };
}
pub(super) use dispatchable_neon;

// ---- shared helpers ------------------------------------------------------

/// The f16 at byte offset `off` of `b` as f32 via `FCVT` (base ARMv8 FP, exact;
/// the same value as `crate::util::f16_at`, without `half`'s per-call runtime
/// feature check).
#[inline(always)]
pub(super) fn f16_at(b: &[u8], off: usize) -> f32 {
    let bits = u16::from_le_bytes([b[off], b[off + 1]]);
    let out: f32;
    // SAFETY: FCVT (half to single) is part of the aarch64 baseline; register-only.
    unsafe {
        std::arch::asm!(
            "fcvt {o:s}, {i:h}",
            i = in(vreg) f32::from_bits(bits as u32),
            o = lateout(vreg) out,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Load 16 bytes from the start of `s` (which must hold at least 16).
#[inline(always)]
pub(super) unsafe fn ld_u8(s: &[u8]) -> uint8x16_t {
    assert!(s.len() >= 16);
    // SAFETY: 16 readable bytes checked above; `vld1q_u8` has no alignment requirement.
    unsafe { vld1q_u8(s.as_ptr()) }
}

/// Load 16 bytes from the start of `s` as signed bytes.
#[inline(always)]
pub(super) unsafe fn ld_s8(s: &[u8]) -> int8x16_t {
    assert!(s.len() >= 16);
    // SAFETY: 16 readable bytes checked above; `vld1q_s8` has no alignment requirement.
    unsafe { vld1q_s8(s.as_ptr() as *const i8) }
}

/// Emulation of `crate::block::Lanes8` in two `float32x4_t` (lanes 0-3, 4-7).
#[derive(Clone, Copy)]
pub(super) struct Acc8 {
    lo: float32x4_t,
    hi: float32x4_t,
}

impl Acc8 {
    #[inline(always)]
    pub unsafe fn new() -> Self {
        // SAFETY: register-only NEON ops.
        unsafe {
            Acc8 {
                lo: vdupq_n_f32(0.0),
                hi: vdupq_n_f32(0.0),
            }
        }
    }

    /// `acc[l] = fma(d, (f32)lanes[l], acc[l])` (exactly `Lanes8::fma`).
    #[inline(always)]
    pub unsafe fn fma(&mut self, d: f32, lo: int32x4_t, hi: int32x4_t) {
        // SAFETY: register-only NEON ops.
        unsafe {
            let dv = vdupq_n_f32(d);
            self.lo = vfmaq_f32(self.lo, vcvtq_f32_s32(lo), dv);
            self.hi = vfmaq_f32(self.hi, vcvtq_f32_s32(hi), dv);
        }
    }

    /// `hsum_float_8`, as `Lanes8::hsum`.
    #[inline(always)]
    pub unsafe fn hsum(&self) -> f32 {
        // SAFETY: register-only NEON ops.
        unsafe { hsum_8(self.lo, self.hi) }
    }
}

/// `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))` for lanes `lo` = a0..3, `hi` = a4..7.
#[inline(always)]
pub(super) unsafe fn hsum_8(lo: float32x4_t, hi: float32x4_t) -> f32 {
    // SAFETY: register-only NEON ops.
    unsafe {
        let r = vaddq_f32(hi, lo);
        let t = vadd_f32(vget_low_f32(r), vget_high_f32(r));
        vget_lane_f32::<0>(t) + vget_lane_f32::<1>(t)
    }
}

#[cfg(test)]
mod tests;
