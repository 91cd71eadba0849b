//! AVX-512 kernels (avx512f + avx512bw + avx512vl, with avx512vnni where the
//! CPU has it), dispatched at runtime like the AVX2 ones: nothing here runs
//! unless `crate::simd` saw the features with `is_x86_feature_detected!`.
//! Every AVX-512 machine also has AVX2, so what has no AVX-512 version here
//! (see `crate::formats`: without VNNI the one-lane formats and the K-quant
//! panels, single-output dots of the 32-element formats; attention,
//! activation quantizers) keeps running the AVX2 kernels.
//!
//! With VNNI, MXFP4 (`one_lane`) and Q4_K/Q6_K (`klane`) run orders of their
//! own (`crate::orders`: one-lane, K one-lane), each bit for bit its scalar
//! reference; the rest is as follows.
//!
//! # Same results as AVX2 and the scalar reference, bit for bit
//! The AVX2 kernels give each output 8 float lanes (llama.cpp's `vec_dot`
//! order) or 2 (the two-lane order of `crate::orders`). Here a 512-bit vector
//! holds the lanes of *two* outputs, one per 256-bit half (two weight rows,
//! or two activation rows of a tile), so each lane sees exactly the same
//! integer partial sum, the same `dx * dy` product and the same FMA chain as
//! in the AVX2 kernel, and the final reductions are the AVX2 ones on each
//! half. What changes is the instruction count: one multiply, conversion and
//! FMA per two outputs.
//!
//! The integer products: `vpdpbusd` (VNNI) adds the four u8 x i8 products of
//! each i32 lane exactly; `vpmaddubsw` + `vpmaddwd` (AVX-512BW) do the same in
//! two steps and are exact because no i16 pair sum can saturate for these
//! operands (unsigned 4/5-bit quants: 2 x 31 x 127). So both variants produce
//! the AVX2 kernels' i32 lanes, and from there the float ops are shared.
//!
//! The kernel bodies are written once (`kernels.rs`) and instantiated twice:
//! module `bw` with avx512f/bw/vl (`Level::Avx512`), module `vnni` with
//! avx512vnni as well, so the `bw` build never contains a VNNI instruction.
//!
//! Testing: `tests/avx512.rs` and the rest of the kernel suite compare these
//! kernels with the scalar reference bit for bit; on a machine without
//! AVX-512 they run under emulation (`scripts/test-avx512.sh`: Bochs with a
//! Tiger Lake CPU model for VNNI and a Skylake-X model without it).

#[macro_use]
mod kernels;

/// A `DecodeNFn`'s dispatch on its number of activation rows (1 to 4,
/// asserted) to `$rows::<$f, N>(w, rb, o0, o1, [a; N], [out; N])`, each
/// instance with its rows in registers (`krows::decode_n`,
/// `rowdec::decode_n`).
macro_rules! rows_by_count {
    ($rows:ident::<$f:ty>($w:expr, $rb:expr, $o0:expr, $o1:expr, $a:expr, $out:expr)) => {{
        let (a, out): (&[&[u8]], &mut [&mut [f32]]) = ($a, $out);
        assert!(a.len() == out.len() && (1..=4).contains(&a.len()));
        match out {
            [o] => $rows::<$f, 1>($w, $rb, $o0, $o1, [a[0]], [o]),
            [o, p] => $rows::<$f, 2>($w, $rb, $o0, $o1, [a[0], a[1]], [o, p]),
            [o, p, q] => $rows::<$f, 3>($w, $rb, $o0, $o1, [a[0], a[1], a[2]], [o, p, q]),
            [o, p, q, s] => {
                $rows::<$f, 4>($w, $rb, $o0, $o1, [a[0], a[1], a[2], a[3]], [o, p, q, s])
            }
            _ => unreachable!("1 to 4 rows (asserted)"),
        }
    }};
}
pub(crate) mod kdec;
pub(crate) mod klane;
pub(crate) mod kpack;
pub(crate) mod kq;
pub(crate) mod krows;
pub(crate) mod mxfp4;
pub(crate) mod one_lane;
pub(crate) mod rowdec;

use crate::avx2::panel::{ActBlock, PBlock, Pass, Side};
use crate::block::Block32;

/// How far ahead of the bytes being decoded the row decoders (`rowdec`'s,
/// `klane`'s Q4_K row, `kdec`'s Q6_K) ask for their weight stream. The
/// hardware prefetchers alone left decode short of this machine's memory
/// rate: gemma3-270m's decode (its Q8_0 output matrix) went from about 79
/// to 90 tokens/s with hints 2-3 KB ahead, the Llama-3.2-3B shape's from
/// 11.6 to 12.4 (BENCHMARKS.md, eighth session; 1 KB ahead did less, 8 KB
/// less again).
pub(crate) const PF_DIST: usize = 2048;

/// Prefetch hints for the `len` bytes `PF_DIST` past `p`, one per 64-byte
/// line.
#[inline(always)]
pub(crate) fn prefetch_ahead(p: *const u8, len: usize) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let mut o = 0;
    while o < len {
        // SAFETY: a prefetch is a hint: it never faults, whatever the
        // address (past the matrix's end included).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(PF_DIST + o) as *const i8) };
        o += 64;
    }
}

avx512_variant!(bw, "avx2,fma,f16c,avx512f,avx512bw,avx512vl", false);
avx512_variant!(
    vnni,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    true
);

/// The passes of the two-lane panel kernel (`avx2::panel::matmul_panel`) at
/// the AVX-512 level: 4 activation rows per pass, two per vector; a tail of
/// 1-3 rows repeats its last row. (No fused build of the next panel.)
pub(crate) struct Bw;
/// As [`Bw`], with VNNI.
pub(crate) struct Vnni;

impl Pass for Bw {
    const FUSE: bool = false;

    unsafe fn pass<F: Block32>(
        p: &[PBlock],
        nb: usize,
        rows: usize,
        a: [*const u8; 4],
        t: [*const ActBlock; 4],
        _side: Option<Side>,
    ) -> (usize, [[f32; 4]; 4]) {
        // SAFETY: the caller's contract (this level's features among it).
        (rows.min(4), unsafe { bw::run2::<F>(p, nb, a, t) })
    }
}

impl Pass for Vnni {
    const FUSE: bool = false;

    unsafe fn pass<F: Block32>(
        p: &[PBlock],
        nb: usize,
        rows: usize,
        a: [*const u8; 4],
        t: [*const ActBlock; 4],
        _side: Option<Side>,
    ) -> (usize, [[f32; 4]; 4]) {
        // SAFETY: the caller's contract (this level's features among it).
        (rows.min(4), unsafe { vnni::run2::<F>(p, nb, a, t) })
    }
}
