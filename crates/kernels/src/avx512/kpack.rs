//! The K-quants' panel cache at AVX-512 VNNI, packed: the blocks of
//! `avx512::klane`'s 16-row panels ([`KZBlk`]: every quant in a byte, every
//! scale in a dword, 5,760 bytes per super-block of 16 rows, 1.41 bytes per
//! weight) stored as [`KP4`] (Q4_K: 2,432 bytes, 0.59 per weight) and
//! [`KP6`] (Q6_K: 3,392 bytes, 0.83), about what the file holds. A batched
//! decode step of a few sequences streams the whole cache (Llama-3.2-3B's
//! was 4.5 GB against its 2 GB file), so what it reads is what it costs.
//!
//! The passes unpack them in registers ([`KRead`]): per sub-block of 16 rows
//! a few shifts, masks and (Q6_K) ternary merges, shared by the activation
//! rows of the pass; per block the scales widened from bytes. The vectors
//! and scales they give are [`KZBlk`]'s exactly, so the integer sums, and
//! every bit after them, are those of the unpacked panels.

use crate::avx2::kpanel::KPanel;
use crate::avx512::klane::KZBlk;
use std::arch::x86_64::*;

/// A panel super-block as `klane`'s passes read it.
pub(crate) trait KRead: Copy {
    /// Sub-block `s`'s weight vectors (the first `dw` of `klane::shape`:
    /// dword `j` of vector `k` is row `j`'s quants `4k..4k + 4` of the
    /// sub-block) and the 16 rows' scales of it (i32 lanes).
    ///
    /// # Safety
    /// AVX-512 F/BW/VL/VNNI available; `s` below the sub-blocks of `B`.
    unsafe fn sub<B: KPanel>(&self, s: usize) -> ([__m512i; 8], __m512i);
    /// The 8 pair vectors `vpdpwssd` takes against the activation's `bsums`
    /// (see [`KZBlk`]'s `e`).
    ///
    /// # Safety
    /// As [`Self::sub`].
    unsafe fn e<B: KPanel>(&self) -> [__m512i; 8];
    /// The 16 rows' `d`.
    ///
    /// # Safety
    /// As [`Self::sub`].
    unsafe fn d(&self) -> __m512;
    /// The 16 rows' `dmin` (Q4_K).
    ///
    /// # Safety
    /// As [`Self::sub`].
    unsafe fn dmin(&self) -> __m512;
}

/// A Q4_K [`KZBlk`] packed: the 8 vectors of sub-block `s` in `nib[4s..4s +
/// 4]`, vector `k` in the low nibbles of `nib[4s + k % 4]` (`k < 4`) or the
/// high ones; the scales and mins as bytes.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct KP4 {
    nib: [__m512i; 32],
    /// Byte `j` of `sc[s]`: row `j`'s scale of sub-block `s` (6 bits).
    sc: [[u8; 16]; 8],
    /// Byte `j` of `m[s]`: row `j`'s min of sub-block `s` (6 bits).
    m: [[u8; 16]; 8],
    d: [f32; 16],
    dmin: [f32; 16],
}

/// A Q6_K [`KZBlk`] packed: sub-blocks `2q` and `2q + 1` (vectors `8q..8q +
/// 8`) in `nib[4q..4q + 4]` (their quants' low 4 bits, vector `8q + i` in
/// the low nibbles of `nib[4q + i % 4]` for `i < 4`, the high ones else) and
/// `hi[2q..2q + 2]` (bits 4-5 of vector `8q + 4h + i` at bits `2i, 2i + 1`
/// of `hi[2q + h]`); the scales as bytes, in pairs.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct KP6 {
    nib: [__m512i; 32],
    hi: [__m512i; 16],
    /// Bytes `2j, 2j + 1` of `sc[p]`: row `j`'s scales of sub-blocks `2p`
    /// and `2p + 1` (i8).
    sc: [[i8; 32]; 8],
    d: [f32; 16],
}

/// `d` lanes in one vector.
#[inline]
#[target_feature(enable = "avx512f")]
fn load16(v: &[f32; 16]) -> __m512 {
    // SAFETY: 16 floats, 64-byte aligned (the blocks are `align(64)` and
    // the field at a multiple of 64).
    unsafe { _mm512_load_ps(v.as_ptr()) }
}

impl KRead for KZBlk {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn sub<B: KPanel>(&self, s: usize) -> ([__m512i; 8], __m512i) {
        let dw = if B::Q6 { 4 } else { 8 };
        let mut w = [_mm512_setzero_si512(); 8];
        w[..dw].copy_from_slice(&self.w[s * dw..s * dw + dw]);
        // SAFETY: 16 i32, 64-byte aligned (as `load16`).
        (w, unsafe {
            _mm512_load_si512(self.sc[s].as_ptr() as *const __m512i)
        })
    }
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn e<B: KPanel>(&self) -> [__m512i; 8] {
        // SAFETY: 16 i32 each, 64-byte aligned (as `load16`).
        std::array::from_fn(|p| unsafe { _mm512_load_si512(self.e[p].as_ptr() as *const __m512i) })
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn d(&self) -> __m512 {
        load16(&self.d)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn dmin(&self) -> __m512 {
        load16(&self.dmin)
    }
}

/// 16 bytes widened to 16 dwords (zero-extended).
#[inline]
#[target_feature(enable = "avx512f")]
fn bytes_u32(b: &[u8; 16]) -> __m512i {
    // SAFETY: 16 readable bytes.
    _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(b.as_ptr() as *const __m128i) })
}

impl KRead for KP4 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn sub<B: KPanel>(&self, s: usize) -> ([__m512i; 8], __m512i) {
        let m4 = _mm512_set1_epi8(0xF);
        let mut w = [_mm512_setzero_si512(); 8];
        for k in 0..4 {
            let v = self.nib[4 * s + k];
            w[k] = _mm512_and_si512(v, m4);
            w[k + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m4);
        }
        (w, bytes_u32(&self.sc[s]))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn e<B: KPanel>(&self) -> [__m512i; 8] {
        // (m, m) as two i16 per dword
        std::array::from_fn(|p| {
            let m = bytes_u32(&self.m[p]);
            _mm512_or_si512(m, _mm512_slli_epi32::<16>(m))
        })
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn d(&self) -> __m512 {
        load16(&self.d)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn dmin(&self) -> __m512 {
        load16(&self.dmin)
    }
}

/// Pair `p`'s scales as 16 dwords of two i16: (`sc_2p`, `sc_2p+1`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn scale_pairs(b: &[i8; 32]) -> __m512i {
    // SAFETY: 32 readable bytes.
    _mm512_cvtepi8_epi16(unsafe { _mm256_loadu_si256(b.as_ptr() as *const __m256i) })
}

impl KRead for KP6 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn sub<B: KPanel>(&self, s: usize) -> ([__m512i; 8], __m512i) {
        let (q, h) = (s / 2, s % 2);
        let m4 = _mm512_set1_epi8(0xF);
        let m30 = _mm512_set1_epi8(0x30);
        let hi = self.hi[2 * q + h];
        // bits 4-5 of vector i at bits 2i, 2i + 1 of `hi`, moved to 4-5
        let top = [
            _mm512_slli_epi16::<4>(hi),
            _mm512_slli_epi16::<2>(hi),
            hi,
            _mm512_srli_epi16::<2>(hi),
        ];
        let mut w = [_mm512_setzero_si512(); 8];
        for i in 0..4 {
            let v = self.nib[4 * q + i];
            let lo = if h == 0 { v } else { _mm512_srli_epi16::<4>(v) };
            // (lo & 0x0F) | (top & 0x30): A = lo, B = top, C = the masks
            // (one select: bits 0-3 from A, 4-7 from B, then 6-7 cleared)
            let b = _mm512_and_si512(top[i], m30);
            w[i] = _mm512_ternarylogic_epi32::<0xEC>(lo, b, m4);
        }
        let pair = scale_pairs(&self.sc[q]);
        let sc = if h == 0 {
            _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(pair))
        } else {
            _mm512_srai_epi32::<16>(pair)
        };
        (w, sc)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn e<B: KPanel>(&self) -> [__m512i; 8] {
        // (-32 sc_2p, -32 sc_2p+1): |32 sc| <= 4096 fits an i16
        let m32 = _mm512_set1_epi16(-32);
        std::array::from_fn(|p| _mm512_mullo_epi16(scale_pairs(&self.sc[p]), m32))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn d(&self) -> __m512 {
        load16(&self.d)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn dmin(&self) -> __m512 {
        _mm512_setzero_ps()
    }
}

/// A packed block type, made from a [`KZBlk`] of its format.
pub(crate) trait Packed: KRead {
    /// The packed form of `z`.
    ///
    /// # Safety
    /// AVX-512 F/BW/VL/VNNI available.
    unsafe fn pack(z: &KZBlk) -> Self;
}

impl Packed for KP4 {
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn pack(z: &KZBlk) -> KP4 {
        pack4(z)
    }
}

impl Packed for KP6 {
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn pack(z: &KZBlk) -> KP6 {
        pack6(z)
    }
}

/// [`KP4`] of the Q4_K block `z` (its quants below 16).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pack4(z: &KZBlk) -> KP4 {
    let m4 = _mm512_set1_epi8(0xF);
    let mut n = KP4 {
        nib: [_mm512_setzero_si512(); 32],
        sc: [[0; 16]; 8],
        m: [[0; 16]; 8],
        d: z.d,
        dmin: z.dmin,
    };
    for s in 0..8 {
        for k in 0..4 {
            // below 16 after the mask: the shift stays within each byte
            n.nib[4 * s + k] = _mm512_or_si512(
                _mm512_and_si512(z.w[8 * s + k], m4),
                _mm512_slli_epi16::<4>(_mm512_and_si512(z.w[8 * s + k + 4], m4)),
            );
        }
        for j in 0..16 {
            n.sc[s][j] = z.sc[s][j] as u8;
            n.m[s][j] = z.e[s][j] as u8;
        }
    }
    n
}

/// [`KP6`] of the Q6_K block `z` (its quants below 64).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pack6(z: &KZBlk) -> KP6 {
    let m4 = _mm512_set1_epi8(0xF);
    let m3 = _mm512_set1_epi8(0x3);
    let mut n = KP6 {
        nib: [_mm512_setzero_si512(); 32],
        hi: [_mm512_setzero_si512(); 16],
        sc: [[0; 32]; 8],
        d: z.d,
    };
    for q in 0..8 {
        for i in 0..4 {
            n.nib[4 * q + i] = _mm512_or_si512(
                _mm512_and_si512(z.w[8 * q + i], m4),
                _mm512_slli_epi16::<4>(_mm512_and_si512(z.w[8 * q + i + 4], m4)),
            );
        }
        for h in 0..2 {
            let mut v = _mm512_setzero_si512();
            for i in 0..4 {
                // bits 4-5 as 0..3 (masked: the 16-bit shift brings in the
                // next byte's bits), then to bits 2i, 2i + 1 (within the byte)
                let t = _mm512_and_si512(_mm512_srli_epi16::<4>(z.w[8 * q + 4 * h + i]), m3);
                let t = _mm512_sllv_epi16(t, _mm512_set1_epi16(2 * i as i16));
                v = _mm512_or_si512(v, t);
            }
            n.hi[2 * q + h] = v;
        }
        for j in 0..16 {
            n.sc[q][2 * j] = z.sc[2 * q][j] as i8;
            n.sc[q][2 * j + 1] = z.sc[2 * q + 1][j] as i8;
        }
    }
    n
}
