//! Weight panels built once per matrix ([`PanelCache`]) for the batched
//! matmul: a level's panel kernel reads them instead of unpacking every
//! weight block once per tile (the batched decode step of a few sequences
//! otherwise spends about an eighth of its time on that). Which formats have
//! them, at which level, is in `crate::formats` (`Kernels::cache`): on AVX2
//! for Q4_0/Q5_0/Q8_0 (the one-lane order's panels of 8 rows), Q4_1/Q5_1
//! (the two-lane order's of 4) and Q4_K/Q6_K (each row unpacked as
//! `avx2::kpanel` does per tile); with AVX-512 VNNI for Q4_0/Q5_0/Q8_0 (the
//! one-lane order's panels of 16 rows, `avx512::one_lane`) and Q4_K/Q6_K
//! (the K one-lane order's panels of 16 rows, `avx512::klane`); with NEON
//! i8mm for Q4_0/Q5_0/Q8_0 (row pairs in `SMMLA`'s layout, `neon::i8mm`). The
//! price is memory: about 1.25 bytes per weight on AVX2 (Q4_K/Q6_K 1.75);
//! with AVX-512 VNNI the 4- to 6-bit formats' panels are packed and
//! unpacked in registers by each pass (Q4_0/Q5_0 0.75, Q4_K 0.59, Q6_K 0.83;
//! Q8_0 1.125) on top of the file's, so callers decide (hearth builds them for `serve` and
//! `batch` when the memory preflight has room). Results are bit-identical
//! with or without a cache.

use crate::formats::format;
use crate::{GgmlType, KernelError};

/// The panels of one weight matrix, built by [`PanelCache::build`] and passed
/// with it to [`crate::matmul_multi`] ([`crate::MatmulJob::cache`]).
pub struct PanelCache {
    ty: GgmlType,
    n_out: usize,
    k: usize,
    /// Address and length of the matrix it was built from (checked at use).
    src: (usize, usize),
    pub(crate) panels: Panels,
}

/// The panels of a matrix, by the kernel that reads them.
pub(crate) enum Panels {
    /// The one-lane order's panels of 8 rows (`avx2::one_lane`).
    #[cfg(target_arch = "x86_64")]
    OneLane(Vec<crate::avx2::one_lane::OBlock>),
    /// The one-lane order's panels of 16 rows at AVX-512 VNNI
    /// (`avx512::one_lane`).
    #[cfg(target_arch = "x86_64")]
    OneLaneZ(Vec<crate::avx512::one_lane::ZBlock>),
    /// The same for the 4- and 5-bit formats, packed (`avx512::one_lane`).
    #[cfg(target_arch = "x86_64")]
    OneLaneN(Vec<crate::avx512::one_lane::NBlock>),
    /// The two-lane order's panels of 4 rows (`avx2::two_lane`).
    #[cfg(target_arch = "x86_64")]
    TwoLane(Vec<crate::avx2::two_lane::CBlock>),
    /// K-quant rows unpacked as `avx2::kpanel` unpacks them per tile.
    #[cfg(target_arch = "x86_64")]
    KQuant(Vec<crate::avx2::kpanel::KBlk>),
    /// Q4_K panels of 16 rows at AVX-512 VNNI (`avx512::klane`), packed
    /// (`avx512::kpack`).
    #[cfg(target_arch = "x86_64")]
    KQuantP4(Vec<crate::avx512::kpack::KP4>),
    /// The same for Q6_K.
    #[cfg(target_arch = "x86_64")]
    KQuantP6(Vec<crate::avx512::kpack::KP6>),
    /// The one-lane formats' row pairs in `SMMLA`'s layout (`neon::i8mm`).
    #[cfg(target_arch = "aarch64")]
    Pairs(Vec<crate::neon::i8mm::Pair>),
}

impl Panels {
    fn bytes(&self) -> usize {
        match *self {
            #[cfg(target_arch = "x86_64")]
            Panels::OneLane(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "x86_64")]
            Panels::OneLaneZ(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "x86_64")]
            Panels::OneLaneN(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "x86_64")]
            Panels::TwoLane(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "x86_64")]
            Panels::KQuant(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "x86_64")]
            Panels::KQuantP4(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "x86_64")]
            Panels::KQuantP6(ref v) => std::mem::size_of_val(v.as_slice()),
            #[cfg(target_arch = "aarch64")]
            Panels::Pairs(ref v) => std::mem::size_of_val(v.as_slice()),
        }
    }
}

/// How a level builds a format's panels (`crate::formats::Kernels::cache`).
#[derive(Clone, Copy)]
pub(crate) struct CacheSpec {
    /// Bytes the panels of `n_out` rows of `nb` blocks take (`n_out` a
    /// positive multiple of 4), `None` when such a matrix has none.
    pub(crate) bytes: fn(n_out: usize, nb: usize) -> Option<usize>,
    /// The panels of the `n_out` rows of `rb` bytes at `w`. Unsafe: the
    /// level's features must be present, and `w` hold those rows.
    pub(crate) build: unsafe fn(w: &[u8], rb: usize, n_out: usize) -> Panels,
}

impl std::fmt::Debug for PanelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PanelCache({} {}x{}, {} bytes)",
            self.ty,
            self.n_out,
            self.k,
            self.bytes()
        )
    }
}

/// The current level's cache spec for a `[n_out, k]` matrix of `ty` and its
/// blocks per row, if the matrix gets panels.
fn spec(ty: GgmlType, n_out: usize, k: usize) -> Option<(CacheSpec, usize)> {
    let f = format(ty)?;
    let spec = f.at(crate::simd::level()).cache?;
    if n_out == 0 || !n_out.is_multiple_of(4) || !k.is_multiple_of(f.block) {
        return None;
    }
    Some((spec, k / f.block))
}

impl PanelCache {
    /// Bytes a cache of a `[n_out, k]` matrix of `ty` takes, or `None` when
    /// this CPU's kernels have no cached panels for it.
    pub fn bytes_for(ty: GgmlType, n_out: usize, k: usize) -> Option<usize> {
        let (spec, nb) = spec(ty, n_out, k)?;
        (spec.bytes)(n_out, nb)
    }

    /// The panels of the `[n_out, k]` matrix `w` of `ty`, or `None` when this
    /// CPU's kernels have no cached panels for it (see [`Self::bytes_for`]).
    // (no level of another architecture builds any: `Panels` has no variant there)
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(unreachable_code, unused_variables)
    )]
    pub fn build(
        ty: GgmlType,
        w: &[u8],
        n_out: usize,
        k: usize,
    ) -> Result<Option<Self>, KernelError> {
        let Some((spec, nb)) = spec(ty, n_out, k) else {
            return Ok(None);
        };
        if (spec.bytes)(n_out, nb).is_none() {
            return Ok(None);
        }
        let rb = crate::matmul::weight_row_bytes(ty, w, n_out, k)?;
        // SAFETY: the spec is the current level's (its features detected at
        // runtime); `w` holds n_out rows of rb bytes (checked above), n_out a
        // positive multiple of 4 and whole blocks per row (`spec`).
        let panels = unsafe { (spec.build)(w, rb, n_out) };
        Ok(Some(PanelCache {
            ty,
            n_out,
            k,
            src: (w.as_ptr() as usize, w.len()),
            panels,
        }))
    }

    /// Memory it holds, in bytes.
    pub fn bytes(&self) -> usize {
        self.panels.bytes()
    }

    /// Whether it was built from the `[n_out, k]` matrix `w` of `ty`.
    pub(crate) fn matches(&self, ty: GgmlType, w: &[u8], n_out: usize, k: usize) -> bool {
        self.ty == ty
            && self.n_out == n_out
            && self.k == k
            && self.src == (w.as_ptr() as usize, w.len())
    }
}
