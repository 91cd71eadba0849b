//! The K one-lane order's row decoders at AVX-512 VNNI (Q4_K and Q6_K; scalar
//! references `crate::orders::k_one_lane_q4_k` / `k_one_lane_q6_k`): weight
//! rows one after the other, straight from the file's layout, against 1 to 4
//! activation rows, bit for bit the panels of `super::klane`.
//!
//! One activation row is decode ([`decode`]). Two to four ([`decode_n`]) are
//! a few sequences decoding together without a panel cache (a model whose
//! cache does not fit, `--no-panel-cache`) or a mixture's expert that a
//! batched step routed a few rows to: each weight block is loaded and
//! unpacked once (its quants, scales, mins and `d`) and its integer sums
//! formed against every activation row. The row decoder is close to
//! compute-bound at one row (about 75 G multiply-adds/s on two Zen 4 cores
//! against a Q4_K stream's ~44 from memory), so a second row decoded alone
//! cost nearly its own time even with the weights in L2.
//!
//! Per block and activation row: Q4_K two 64-byte loads give the 8 chunks'
//! nibbles (against the row re-laid as [`ActK`]), `vpdpbusd` each chunk's 8
//! exact dword sums and `vpdpwssd` multiplies them by their chunk's scale;
//! Q6_K (`kdec`'s integer steps) two chunks' 6-bit quants per 64-byte load,
//! `vpmaddubsw` and `vpdpwssd` by their scales, minus `32 sc bsum`. The
//! block's lanes go to the row's 8 FMA chains (`kdec::Chains`): the same `T`
//! (and `M`) and the same float ops as the reference, whatever the number
//! of rows decoded together.

use crate::avx2::kpanel::KPanel;
use crate::avx2::legacy::f16x2;
use crate::avx512::kdec::{self, dpwssd, Chains};
use crate::block::QuantBlock;
use crate::k_quants::{q6_k::BlockQ6K, Q8_K_BSUMS, Q8_K_BYTES};
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One Q8_K activation block laid out for [`q4_k_rows`]: vector `g` holds
/// 32-element chunks `(c, c + 2)` side by side for `c` = 0, 1, 4, 5 (the
/// chunks one 64-byte load of a Q4_K block's nibbles holds, low nibbles then
/// high), `bs` the 8 sums of 32 quants (i16), `d` the scale.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct ActK {
    y: [__m512i; 4],
    bs: __m128i,
    d: f32,
}

thread_local! {
    /// The activation rows laid out for Q4_K, `nb` blocks each.
    static ACTS: RefCell<Vec<ActK>> = const { RefCell::new(Vec::new()) };
}

/// Q4_K weight row `x` (`nb` blocks) against the prepared activation rows
/// `y`, in the K one-lane order, bit for bit: per block two 64-byte loads
/// give the 8 chunks' nibbles and the scales and mins are unpacked, once;
/// per activation row `vpdpbusd` each chunk's 8 exact dword sums (|sum| <=
/// 4 x 15 x 128: an i16), `vpdpwssd` multiplies them by their chunk's scale
/// (the i32 lane read as two i16, the scale's high half 0) into two
/// accumulators; the block's 16 lanes are folded and fed to the row's 8
/// chains with its min lanes.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available; `nb` blocks at `x`
/// and in each `y[r]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q4_k_rows<const A: usize>(x: *const u8, nb: usize, y: [&[ActK]; A]) -> [f32; A] {
    assert!(y.iter().all(|y| y.len() >= nb));
    let m4 = _mm512_set1_epi8(0xF);
    // the 16 lanes [sc0..sc8, m0..m8] -> each vector's two chunk scales
    let idx = [
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
        _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
        _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6),
        _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7),
    ];
    // the 8 mins (bytes 8..16 of the unpacked scales) as i16
    let sh_mins = _mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1);
    let mut ch: [Chains<true>; A] = std::array::from_fn(|_| Chains::new());
    for i in 0..nb {
        // SAFETY: block i < nb at x (caller).
        unsafe {
            let b = x.add(i * 144);
            super::prefetch_ahead(b, 144);
            let u = kdec::scales_mins(_mm_loadu_si128(b as *const __m128i));
            let su = _mm512_cvtepu8_epi32(u);
            let q0 = _mm512_loadu_si512(b.add(16) as *const _);
            let q1 = _mm512_loadu_si512(b.add(80) as *const _);
            let w = [
                _mm512_and_si512(q0, m4),
                _mm512_and_si512(_mm512_srli_epi16::<4>(q0), m4),
                _mm512_and_si512(q1, m4),
                _mm512_and_si512(_mm512_srli_epi16::<4>(q1), m4),
            ];
            let sc: [__m512i; 4] = std::array::from_fn(|g| _mm512_permutexvar_epi32(idx[g], su));
            let mins = _mm_shuffle_epi8(u, sh_mins);
            let dm = f16x2(b);
            let (dx, mx) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
            for (r, ch) in ch.iter_mut().enumerate() {
                let a = &y[r][i];
                let z = _mm512_setzero_si512();
                let s: [__m512i; 4] = std::array::from_fn(|g| _mm512_dpbusd_epi32(z, w[g], a.y[g]));
                let t0 = dpwssd(dpwssd(z, s[0], sc[0]), s[1], sc[1]);
                let t1 = dpwssd(dpwssd(z, s[2], sc[2]), s[3], sc[3]);
                let t = _mm512_add_epi32(t0, t1);
                let t8 =
                    _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64::<1>(t));
                let mp = _mm_madd_epi16(mins, a.bs);
                ch.push(i, t8, mp, a.d * dx, a.d * mx);
                if i % 8 == 7 {
                    ch.flush(8);
                }
            }
        }
    }
    ch.map(|c| c.finish(nb))
}

/// Q6_K weight row `w` against the Q8_K activation rows `a`, in the K
/// one-lane order, bit for bit: per block the 6-bit quants of two chunks to
/// a vector (ql's nibbles and qh's pairs of bits) and the scale vectors, once;
/// per activation row `vpmaddubsw` against its bytes and `vpdpwssd` by the
/// scales, minus `32 sc bsum` lane-wise, into its 8 chains.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available (the lengths are
/// checked).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q6_k_rows<const A: usize>(w: &[u8], a: [&[u8]; A]) -> [f32; A] {
    const WB: usize = BlockQ6K::BYTES;
    let nb = w.len() / WB;
    assert!(
        a.iter().all(|r| r.len() >= nb * Q8_K_BYTES),
        "activation row too short"
    );
    let wp = w.as_ptr();
    let k = kdec::Q6Unpack::new();
    let mut ch: [Chains<false>; A] = std::array::from_fn(|_| Chains::new());
    for i in 0..nb {
        // SAFETY: block i < nb of the weight row (WB bytes at WB i) and of
        // every activation row (Q8_K_BYTES at Q8_K_BYTES i, asserted).
        unsafe {
            let x = wp.add(i * WB);
            super::prefetch_ahead(x, WB);
            // d is the f16 at 208..210: read 206..210 (in bounds), lane 1
            let dx = _mm_cvtss_f32(_mm_movehdup_ps(f16x2(x.add(206))));
            let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(x.add(192) as *const __m128i));
            let (v, s) = k.block(x, sc16);
            for (r, ch) in ch.iter_mut().enumerate() {
                let y = a[r].as_ptr().add(i * Q8_K_BYTES);
                let dy = std::ptr::read_unaligned(y as *const f32);
                let t = kdec::Q6Unpack::lanes(&v, &s, sc16, y);
                ch.push(i, t, _mm_setzero_si128(), dy * dx, 0.0);
                if i % 8 == 7 {
                    ch.flush(8);
                }
            }
        }
    }
    ch.map(|c| c.finish(nb))
}

/// K one-lane order, weight rows `o0..o1` of the matrix `w` (rows of `rb`
/// bytes of `B`) x one Q8_K activation row `a` (decode): `out[j]` is row
/// `o0 + j`, bit-identical to the order's scalar reference.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C available (the lengths are
/// checked).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn decode<B: KPanel>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    a: &[u8],
    out: &mut [f32],
) {
    // SAFETY: the caller's.
    unsafe { rows::<B, 1>(w, rb, o0, o1, [a], [out]) }
}

/// [`decode`] for 2 to 4 activation rows at once (`a[i]`'s outputs in
/// `out[i]`), each weight block unpacked once for all of them; each output
/// the same bits as [`decode`]'s.
///
/// # Safety
/// As [`decode`] (`a` and `out` of the same length, 1 to 4: asserted).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn decode_n<B: KPanel>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    a: &[&[u8]],
    out: &mut [&mut [f32]],
) {
    // SAFETY: (every arm) the caller's; the lengths as matched.
    unsafe { rows_by_count!(rows::<B>(w, rb, o0, o1, a, out)) }
}

/// Weight rows `o0..o1` against the `A` activation rows `a`, outputs in `out`.
///
/// # Safety
/// As [`decode`].
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn rows<B: KPanel, const A: usize>(
    w: &[u8],
    rb: usize,
    o0: usize,
    o1: usize,
    a: [&[u8]; A],
    out: [&mut [f32]; A],
) {
    assert!(o0 <= o1 && w.len() >= o1 * rb && out.iter().all(|o| o.len() >= o1 - o0));
    if B::Q6 {
        for (j, o) in (o0..o1).enumerate() {
            let row = &w[o * rb..(o + 1) * rb];
            // SAFETY: this function's features; the kernel checks the lengths.
            let v = unsafe { q6_k_rows::<A>(row, a) };
            for r in 0..A {
                out[r][j] = v[r];
            }
        }
        return;
    }
    let nb = rb / B::BYTES;
    assert!(
        a.iter().all(|a| a.len() >= nb * Q8_K_BYTES),
        "activation row too short"
    );
    ACTS.with(|s| {
        let acts = &mut *s.borrow_mut();
        // SAFETY: all-zero bytes are valid vectors.
        crate::util::grow(acts, A * nb, unsafe { std::mem::zeroed() });
        for (r, a) in a.iter().enumerate() {
            for (i, act) in acts[r * nb..(r + 1) * nb].iter_mut().enumerate() {
                // SAFETY: block i < nb of `a` (asserted): Q8_K_BYTES bytes.
                unsafe {
                    let y = a.as_ptr().add(i * Q8_K_BYTES);
                    let c = |k: usize| _mm256_loadu_si256(y.add(4 + 32 * k) as *const __m256i);
                    let pair = |lo: usize| {
                        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(c(lo)), c(lo + 2))
                    };
                    act.y = [pair(0), pair(1), pair(4), pair(5)];
                    let bs = _mm256_loadu_si256(y.add(Q8_K_BSUMS) as *const __m256i);
                    act.bs = _mm_hadd_epi16(
                        _mm256_castsi256_si128(bs),
                        _mm256_extracti128_si256::<1>(bs),
                    );
                    act.d = std::ptr::read_unaligned(y as *const f32);
                }
            }
        }
        let ys: [&[ActK]; A] = std::array::from_fn(|r| &acts[r * nb..(r + 1) * nb]);
        for (j, o) in (o0..o1).enumerate() {
            // SAFETY: this function's features; row o < o1 holds nb blocks
            // (asserted), the activations nb each.
            let v = unsafe { q4_k_rows::<A>(w[o * rb..].as_ptr(), nb, ys) };
            for r in 0..A {
                out[r][j] = v[r];
            }
        }
    });
}
