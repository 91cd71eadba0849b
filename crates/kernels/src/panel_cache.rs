//! Weight panels built once per matrix ([`PanelCache`]) for the batched
//! matmul of Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 on AVX2 (panels of 8 rows in the
//! one-lane order for Q4_0/Q5_0/Q8_0, of 4 in the two-lane order for the others;
//! and Q4_K/Q6_K rows unpacked as `kpanel` does per tile, 1.75 bytes per
//! weight): the
//! batched decode step of a few sequences otherwise unpacks every weight block
//! once per step (about an eighth of the step at 8 sequences on
//! qwen2.5-coder:0.5b). The price is memory: 1.25 bytes per weight on top of
//! the file's (Q5_0 is 0.69), so callers decide (hearth builds them for
//! `serve` and `batch` when the memory preflight has room). Results are
//! bit-identical with or without a cache.

use crate::{GgmlType, KernelError};

/// The panels of one weight matrix, built by [`PanelCache::build`] and passed
/// with it to [`crate::matmul_multi`] ([`crate::MatmulJob::cache`]).
pub struct PanelCache {
    pub(crate) ty: GgmlType,
    pub(crate) n_out: usize,
    pub(crate) k: usize,
    /// Address and length of the matrix it was built from (checked at use).
    pub(crate) src: (usize, usize),
    #[cfg(target_arch = "x86_64")]
    pub(crate) blocks: Vec<crate::avx2::two_lane::CBlock>,
    /// Q4_0/Q5_0/Q8_0: the one-lane order's panels of 8 rows (then `blocks` is empty).
    #[cfg(target_arch = "x86_64")]
    pub(crate) blocks8: Vec<crate::avx2::one_lane::OBlock>,
    /// Q4_K/Q6_K: every row unpacked as `kpanel` unpacks it per tile.
    #[cfg(target_arch = "x86_64")]
    pub(crate) kblocks: Vec<crate::avx2::kpanel::KBlk>,
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

/// Whether the current SIMD level reads cached panels for `ty`.
pub(crate) fn applies(ty: GgmlType) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::use_avx2()
            && crate::two_lane_enabled()
            && crate::avx512_level() == 0
            && (crate::lanes2::has_lanes1(ty)
                || crate::lanes2::has_lanes2(ty)
                || crate::avx2::kpanel::has_kpanel(ty))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = ty;
        false
    }
}

impl PanelCache {
    /// Bytes a cache of a `[n_out, k]` matrix of `ty` takes, or `None` when
    /// this CPU's kernels have no cached panels for it.
    pub fn bytes_for(ty: GgmlType, n_out: usize, k: usize) -> Option<usize> {
        if !applies(ty) || !n_out.is_multiple_of(4) || !k.is_multiple_of(32) || n_out == 0 {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if crate::avx2::kpanel::has_kpanel(ty) {
                if !k.is_multiple_of(256) {
                    return None;
                }
                return Some(n_out * (k / 256) * std::mem::size_of::<crate::avx2::kpanel::KBlk>());
            }
            if crate::lanes2::has_lanes1(ty) {
                // panels of 8 rows (a last 4 are read from the matrix)
                if n_out < 8 {
                    return None;
                }
                Some(n_out / 8 * (k / 32) * std::mem::size_of::<crate::avx2::one_lane::OBlock>())
            } else {
                Some(n_out / 4 * (k / 32) * std::mem::size_of::<crate::avx2::two_lane::CBlock>())
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// The panels of the `[n_out, k]` matrix `w` of `ty`, or `None` when this
    /// CPU's kernels have no cached panels for it (see [`Self::bytes_for`]).
    pub fn build(
        ty: GgmlType,
        w: &[u8],
        n_out: usize,
        k: usize,
    ) -> Result<Option<Self>, KernelError> {
        if Self::bytes_for(ty, n_out, k).is_none() {
            return Ok(None);
        }
        let rb = crate::matmul::weight_row_bytes(ty, w, n_out, k)?;
        #[cfg(target_arch = "x86_64")]
        {
            use crate::avx2::{kpanel, one_lane, panel, two_lane};
            let (mut blocks, mut blocks8, mut kblocks) = (Vec::new(), Vec::new(), Vec::new());
            // SAFETY: `applies` saw AVX2, FMA and F16C at runtime; `w` holds
            // n_out rows of rb bytes (checked above), n_out a multiple of 4
            // (Q4_K/Q6_K: rows; Q4_0/Q5_0/Q8_0: panels of 8 rows, the
            // one-lane order's; the others: of 4, the two-lane order's).
            unsafe {
                if kpanel::has_kpanel(ty) {
                    kblocks = kpanel::build_cache(ty, w, rb, n_out);
                } else if crate::lanes2::has_lanes1(ty) {
                    blocks8 = one_lane::build_cache_ty(ty, w, rb, n_out);
                } else {
                    let f = panel::fmt(ty).expect("two-lane formats have panels");
                    blocks = two_lane::build_cache(f, w, rb, n_out);
                }
            }
            Ok(Some(PanelCache {
                ty,
                n_out,
                k,
                src: (w.as_ptr() as usize, w.len()),
                blocks,
                blocks8,
                kblocks,
            }))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Ok(None)
        }
    }

    /// Memory it holds, in bytes.
    pub fn bytes(&self) -> usize {
        #[cfg(target_arch = "x86_64")]
        {
            self.blocks.len() * std::mem::size_of::<crate::avx2::two_lane::CBlock>()
                + self.blocks8.len() * std::mem::size_of::<crate::avx2::one_lane::OBlock>()
                + self.kblocks.len() * std::mem::size_of::<crate::avx2::kpanel::KBlk>()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            0
        }
    }

    /// The matmul tile `out[r * n_out + o]`, `o in o0..o0 + 4 * n4`,
    /// `r in r0..r1`, of the matrix this cache was built from, read from it
    /// (the `PanelFn` contract, see `avx2::panel::matmul_panel`).
    ///
    /// # Safety
    /// As a `PanelFn`; the cache built from `w` (of `ty`, rows of `rb` bytes)
    /// at this SIMD level (`applies`), `o0` a multiple of 8 for Q4_0/Q5_0/Q8_0.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn run(
        &self,
        ty: GgmlType,
        w: &[u8],
        rb: usize,
        o0: usize,
        n4: usize,
        a0: *const u8,
        stride: usize,
        r0: usize,
        r1: usize,
        out: *mut f32,
        n_out: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forwarded contract.
        unsafe {
            use crate::avx2::{kpanel, one_lane, panel, two_lane};
            if kpanel::has_kpanel(ty) {
                let c = Some(self.kblocks.as_slice());
                kpanel::matmul_kpanel_cached(ty, w, rb, o0, n4, a0, stride, r0, r1, out, n_out, c)
            } else if crate::lanes2::has_lanes1(ty) {
                let c = Some(self.blocks8.as_slice());
                one_lane::matmul_ty(ty, w, rb, o0, n4, a0, stride, r0, r1, out, n_out, c)
            } else {
                let f = panel::fmt(ty).expect("two-lane formats have panels");
                two_lane::matmul(f, rb, o0, n4, a0, stride, r0, r1, out, n_out, &self.blocks)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (ty, w, rb, o0, n4, a0, stride, r0, r1, out, n_out);
            unreachable!("no panel caches are built on this architecture")
        }
    }

    /// Whether it was built from the `[n_out, k]` matrix `w` of `ty`.
    pub(crate) fn matches(&self, ty: GgmlType, w: &[u8], n_out: usize, k: usize) -> bool {
        self.ty == ty
            && self.n_out == n_out
            && self.k == k
            && self.src == (w.as_ptr() as usize, w.len())
    }
}
