//! AVX2 dot products for the 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
//! (formats: see `crate::q4`, `crate::q5`, `crate::q8`).
//!
//! Each kernel is generic over `N`, the number of activation rows dotted with
//! one weight row: the weight block is loaded and unpacked once and then used
//! for every activation row. Every output keeps its own accumulator and sees
//! exactly the op sequence of the `N = 1` kernel (which is llama.cpp's AVX2
//! kernel op for op), so results are bit-identical whatever `N` is.
//! Inner loops use raw pointers after one up-front length check per row.

use super::{mul_sum_i8_pairs_i32, mul_sum_us8_pairs_i32};
use crate::q8::{Q8_0_BYTES, Q8_1_BYTES};
use std::arch::x86_64::*;

/// The two f16 at `p` as f32 in lanes 0 and 1 (F16C; exact). Reads 4 bytes
/// with `vmovd`, which zeroes the rest of the register: a scalar `vpinsrw`
/// load would merge into (and wait on) whatever register LLVM picks, which
/// in these loops was the accumulator, serializing every block.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16x2(p: *const u8) -> __m128 {
    // SAFETY: caller guarantees 4 readable bytes at `p`.
    let bits = unsafe { std::ptr::read_unaligned(p as *const i32) };
    _mm_cvtph_ps(_mm_cvtsi32_si128(bits))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn ld32(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 32 readable bytes at `p`.
    unsafe { _mm256_loadu_si256(p as *const __m256i) }
}

/// 16 packed bytes at `p` -> 32 nibbles: low nibbles in bytes 0..16, high in 16..32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn nibbles(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 16 readable bytes at `p`.
    let tmp = unsafe { _mm_loadu_si128(p as *const __m128i) };
    let both = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// The 32 bits at `p` spread to 32 bytes: byte j = 0xFF if bit j is set.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn bits32(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 4 readable bytes at `p`.
    let x = unsafe { std::ptr::read_unaligned(p as *const u32) };
    let shuf = _mm256_set_epi64x(
        0x0303030303030303,
        0x0202020202020202,
        0x0101010101010101,
        0,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x as i32), shuf);
    let bit_mask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    _mm256_cmpeq_epi8(_mm256_or_si256(bytes, bit_mask), _mm256_set1_epi64x(-1))
}

/// Number of blocks, after checking every weight row holds `nb` blocks and
/// every activation row as many.
#[inline(always)]
fn n_blocks<const M: usize, const N: usize>(
    w: &[&[u8]; M],
    wb: usize,
    a: &[&[u8]; N],
    ab: usize,
) -> usize {
    let nb = w[0].len() / wb;
    for r in w {
        assert!(r.len() >= nb * wb, "weight row too short");
    }
    for r in a {
        assert!(r.len() >= nb * ab, "activation row too short");
    }
    nb
}

/// Software prefetch distance in bytes for the weight stream.
pub(crate) const PF_DIST: usize = 1024;
#[doc(hidden)]
pub static PREFETCH: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

macro_rules! legacy_kernel {
    (
        $name:ident, wbytes = $wb:expr, abytes = $ab:expr, qoff = $qoff:expr,
        min = $has_min:expr, unpack = |$x:ident| $unpack:expr, mul = $mul:ident
    ) => {
        /// `M` weight rows x `N` activation rows; output `[m][n]`.
        #[inline]
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(super) unsafe fn $name<const M: usize, const N: usize>(
            w: [&[u8]; M],
            a: [&[u8]; N],
        ) -> [[f32; N]; M] {
            let nb = n_blocks(&w, $wb, &a, $ab);
            let wp: [*const u8; M] = w.map(|s| s.as_ptr());
            let ap: [*const u8; N] = a.map(|s| s.as_ptr());
            let mut acc = [[_mm256_setzero_ps(); N]; M];
            let mut summs = [[_mm_setzero_ps(); N]; M];
            let pf = PREFETCH.load(std::sync::atomic::Ordering::Relaxed);
            // prefetch distance: the same block of the next group of M rows
            // (rows are consecutive in the matrix), or PF_DIST for one row
            let ahead: isize = if M >= 2 {
                M as isize * (wp[1] as isize).wrapping_sub(wp[0] as isize)
            } else {
                PF_DIST as isize
            };
            // SAFETY: block i of each weight row is bytes [i*wb, (i+1)*wb) <= len; of
            // each activation row [i*ab, (i+1)*ab) <= len (checked by n_blocks).
            unsafe {
                for i in 0..nb {
                    // lanes: (d, m) for Q4_1/Q5_1, (d, _) otherwise
                    let mut xdm = [_mm_setzero_ps(); M];
                    let mut qx = [_mm256_setzero_si256(); M];
                    for m in 0..M {
                        let $x = wp[m].add(i * $wb);
                        if pf {
                            // stream ahead (a hint: may point past the row, never faults)
                            _mm_prefetch::<_MM_HINT_T0>($x.wrapping_offset(ahead) as *const i8);
                        }
                        xdm[m] = f16x2($x);
                        qx[m] = $unpack;
                    }
                    for r in 0..N {
                        let y = ap[r].add(i * $ab);
                        // lanes: (d, s) for Q8_1, (d, _) for Q8_0
                        let yds = f16x2(y);
                        let qy = ld32(y.add($qoff));
                        for m in 0..M {
                            if $has_min {
                                // llama.cpp's `summs += m * s` is contracted to an FMA by
                                // the C compiler; lane 1 here is exactly that scalar FMA.
                                summs[m][r] = _mm_fmadd_ps(xdm[m], yds, summs[m][r]);
                            }
                            // lane 0: dx * dy, the same single rounding as the scalar product
                            let d = _mm256_broadcastss_ps(_mm_mul_ps(xdm[m], yds));
                            let q = _mm256_cvtepi32_ps($mul(qx[m], qy));
                            acc[m][r] = _mm256_fmadd_ps(d, q, acc[m][r]);
                        }
                    }
                }
                let mut out = [[0f32; N]; M];
                for m in 0..M {
                    for r in 0..N {
                        out[m][r] = super::hsum_f32_8(acc[m][r]);
                        if $has_min {
                            out[m][r] += _mm_cvtss_f32(_mm_movehdup_ps(summs[m][r]));
                        }
                    }
                }
                out
            }
        }
    };
}

legacy_kernel!(
    dot_q4_0,
    wbytes = 18,
    abytes = Q8_0_BYTES,
    qoff = 2,
    min = false,
    unpack = |x| _mm256_sub_epi8(nibbles(x.add(2)), _mm256_set1_epi8(8)),
    mul = mul_sum_i8_pairs_i32
);
legacy_kernel!(
    dot_q4_1,
    wbytes = 20,
    abytes = Q8_1_BYTES,
    qoff = 4,
    min = true,
    unpack = |x| nibbles(x.add(4)),
    mul = mul_sum_us8_pairs_i32
);
// Q5_0: high bit clear -> OR 0xF0 makes the byte (nibble - 16) as i8.
legacy_kernel!(
    dot_q5_0,
    wbytes = 22,
    abytes = Q8_0_BYTES,
    qoff = 2,
    min = false,
    unpack = |x| _mm256_or_si256(
        nibbles(x.add(6)),
        _mm256_andnot_si256(bits32(x.add(2)), _mm256_set1_epi8(0xF0u8 as i8))
    ),
    mul = mul_sum_i8_pairs_i32
);
legacy_kernel!(
    dot_q5_1,
    wbytes = 24,
    abytes = Q8_1_BYTES,
    qoff = 4,
    min = true,
    unpack = |x| _mm256_or_si256(
        nibbles(x.add(8)),
        _mm256_and_si256(bits32(x.add(4)), _mm256_set1_epi8(0x10))
    ),
    mul = mul_sum_us8_pairs_i32
);
legacy_kernel!(
    dot_q8_0,
    wbytes = Q8_0_BYTES,
    abytes = Q8_0_BYTES,
    qoff = 2,
    min = false,
    unpack = |x| ld32(x.add(2)),
    mul = mul_sum_i8_pairs_i32
);
