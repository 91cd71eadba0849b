//! Which SIMD level the kernels run at: detected once per process from the
//! CPU (`is_x86_feature_detected!` / `is_aarch64_feature_detected!`), capped
//! by `HEARTH_SIMD`, forced to the scalar reference by `HEARTH_FORCE_SCALAR=1`
//! or [`set_force_scalar`]. Nothing is compiled with `target-cpu=native`: a
//! level's kernels are only reached after its features were detected.

use crate::KernelError;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// A set of CPU features the kernels have code for. Each format lists its
/// kernels per level in `crate::formats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Level {
    /// The scalar reference kernels (any CPU).
    Scalar = 1,
    /// x86_64 with AVX2, FMA and F16C.
    Avx2 = 2,
    /// `Avx2` and AVX-VNNI (the 256-bit `vpdpbusd`: Intel from Alder Lake
    /// on, AMD from Zen 5), on a CPU without AVX-512 or capped below it.
    Avx2Vnni = 7,
    /// `Avx2` and AVX-512 F/BW/VL.
    Avx512 = 3,
    /// `Avx512` and AVX-512 VNNI.
    Avx512Vnni = 4,
    /// aarch64 NEON (the aarch64 baseline).
    Neon = 5,
    /// NEON and FEAT_DotProd (`SDOT`).
    NeonDotprod = 6,
    /// `NeonDotprod` and FEAT_I8MM (`SMMLA`: Apple M2 on, Arm v8.6+ cores).
    NeonI8mm = 8,
}

impl Level {
    /// Every x86 level from AVX2 up (they all have the AVX2 kernels).
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn has_avx2(self) -> bool {
        matches!(
            self,
            Level::Avx2 | Level::Avx2Vnni | Level::Avx512 | Level::Avx512Vnni
        )
    }

    /// The AVX-512 levels (AVX-512 F/BW/VL).
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn has_avx512(self) -> bool {
        matches!(self, Level::Avx512 | Level::Avx512Vnni)
    }

    /// The name [`simd_level`] reports.
    fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2",
            Level::Avx2Vnni => "avx2+vnni",
            Level::Avx512 => "avx512",
            Level::Avx512Vnni => "avx512+vnni",
            Level::Neon => "neon",
            Level::NeonDotprod => "neon+dotprod",
            Level::NeonI8mm => "neon+i8mm",
        }
    }

    fn from_u8(v: u8) -> Option<Level> {
        [
            Level::Scalar,
            Level::Avx2,
            Level::Avx2Vnni,
            Level::Avx512,
            Level::Avx512Vnni,
            Level::Neon,
            Level::NeonDotprod,
            Level::NeonI8mm,
        ]
        .into_iter()
        .find(|l| *l as u8 == v)
    }
}

static FORCE_SCALAR: AtomicBool = AtomicBool::new(false);
/// The detected [`Level`] as its `u8`, 0 before the first use.
static DETECTED: AtomicU8 = AtomicU8::new(0);

/// Force the scalar reference kernels (for tests/benchmarks). The environment
/// variable `HEARTH_FORCE_SCALAR=1` does the same at first use, and
/// `HEARTH_SIMD` caps the level a CPU would otherwise get (see [`SIMD_CAPS`]).
pub fn set_force_scalar(force: bool) {
    FORCE_SCALAR.store(force, Ordering::SeqCst);
}

/// The values `HEARTH_SIMD` takes (unset or empty: the best the CPU has):
/// `scalar` (the reference kernels), `avx2` (AVX2 alone: no AVX-VNNI, no
/// AVX-512), `avx2-vnni` (AVX2 with AVX-VNNI, no AVX-512), `avx512` (AVX-512
/// without VNNI), `neon` (NEON without the dot product instructions),
/// `neon-dotprod` (NEON with `SDOT`, without the i8mm `SMMLA`). A cap above
/// what the CPU has changes nothing, and so does one of the other
/// architecture.
pub const SIMD_CAPS: [&str; 6] = [
    "scalar",
    "avx2",
    "avx2-vnni",
    "avx512",
    "neon",
    "neon-dotprod",
];

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

/// The best level this CPU has, within `HEARTH_SIMD` (detected once).
fn detected() -> Level {
    if let Some(l) = Level::from_u8(DETECTED.load(Ordering::Relaxed)) {
        return l;
    }
    let cap = simd_env();
    let env_scalar = std::env::var("HEARTH_FORCE_SCALAR")
        .map(|v| v == "1")
        .unwrap_or(false)
        || cap == "scalar";
    let mut level = Level::Scalar;
    #[cfg(target_arch = "x86_64")]
    {
        if !env_scalar
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
        {
            level = Level::Avx2;
            if cap != "avx2"
                && cap != "avx2-vnni"
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
            {
                level = if cap != "avx512" && is_x86_feature_detected!("avx512vnni") {
                    Level::Avx512Vnni
                } else {
                    Level::Avx512
                };
            } else if cap != "avx2" && is_x86_feature_detected!("avxvnni") {
                level = Level::Avx2Vnni;
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if !env_scalar && std::arch::is_aarch64_feature_detected!("neon") {
            level = if cap == "neon" || !std::arch::is_aarch64_feature_detected!("dotprod") {
                Level::Neon
            } else if cap != "neon-dotprod" && std::arch::is_aarch64_feature_detected!("i8mm") {
                Level::NeonI8mm
            } else {
                Level::NeonDotprod
            };
        }
    }
    let _ = env_scalar;
    DETECTED.store(level as u8, Ordering::Relaxed);
    level
}

/// The level in use: the detected one, or `Scalar` while forced.
pub(crate) fn level() -> Level {
    if FORCE_SCALAR.load(Ordering::Relaxed) {
        Level::Scalar
    } else {
        detected()
    }
}

/// Whether the AVX2 kernels may run (AVX2 detected, not forced off). Also
/// true at the AVX-512 levels.
#[cfg(target_arch = "x86_64")]
pub(crate) fn use_avx2() -> bool {
    level().has_avx2()
}

/// The SIMD level in use: `"avx512+vnni"`, `"avx512"`, `"avx2+vnni"`,
/// `"avx2"`, `"neon"`, `"neon+dotprod"`, `"neon+i8mm"` or `"scalar"`.
pub fn simd_level() -> &'static str {
    level().name()
}
