//! AVX-512 kernels (avx512f + avx512bw + avx512vl, with avx512vnni where the
//! CPU has it), dispatched at runtime like the AVX2 ones: nothing here runs
//! unless `crate::avx512_level()` saw the features with
//! `is_x86_feature_detected!`. Every AVX-512 machine also has AVX2, so what has
//! no AVX-512 version here (the K-quant prefill panels, single-output dots of
//! the 32-element formats, attention, activation quantizers) keeps running
//! the AVX2 kernels.
//!
//! # Same results as AVX2 and the scalar reference, bit for bit
//! The AVX2 kernels give each output 8 float lanes (llama.cpp's `vec_dot`
//! order, or the two-lane order of `crate::lanes2`). Here a 512-bit vector
//! holds the 8 lanes of *two* outputs, one per 256-bit half (two weight rows,
//! or two activation rows of a tile), so each lane sees exactly the same
//! integer partial sum, the same `dx * dy` product and the same FMA chain as
//! in the AVX2 kernel, and the final reductions are the AVX2 ones on each
//! half. What changes is the instruction count: one multiply, conversion and
//! FMA per two outputs.
//!
//! The integer products: `vpdpbusd` (VNNI) adds the four u8 x i8 products of
//! each i32 lane exactly; `vpmaddubsw` + `vpmaddwd` (AVX-512BW) do the same in
//! two steps and are exact because no i16 pair sum can saturate for these
//! operands (the sign trick bounds them by 2 x 128 x 127; unsigned 4/5-bit
//! quants by 2 x 31 x 127). AVX-512 has no `vpsignb`: the sign trick becomes
//! `|x|` and `y` negated under the mask of `x`'s negative bytes (where `x` is
//! 0 the product is 0 either way). So both variants produce the AVX2 kernels'
//! i32 lanes, and from there the float ops are shared.
//!
//! The kernel bodies are written once (`kernels.rs`) and instantiated twice:
//! module `bw` with the features of level 5, module `vnni` with avx512vnni as
//! well, so the level-5 build never contains a VNNI instruction.
//!
//! Testing: `tests/avx512.rs` and the rest of the kernel suite compare these
//! kernels with the scalar reference bit for bit; on a machine without
//! AVX-512 they run under emulation (`scripts/test-avx512.sh`: Bochs with a
//! Tiger Lake CPU model for VNNI and a Skylake-X model without it).

#[macro_use]
mod kernels;
mod kq;

use crate::avx2::panel::{ActBlock, Fmt, PBlock};
use crate::{DotFn, Tiles};
use gguf::GgmlType;

avx512_variant!(bw, "avx2,fma,f16c,avx512f,avx512bw,avx512vl", false);
avx512_variant!(
    vnni,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    true
);

/// Wrap the kernels of one variant module as the crate's plain fn types.
macro_rules! wrappers {
    ($w:ident, $m:ident) => {
        mod $w {
            use super::$m;
            // SAFETY (every wrapper below): only handed out by `dot_fn` /
            // `override_tiles` for the level whose features `avx512_level()`
            // detected at runtime; the kernels check row lengths themselves.
            pub(super) fn f32(w: &[u8], a: &[u8]) -> f32 {
                // SAFETY: handed out only at the level whose features were detected (see above).
                unsafe { $m::vec_dot_f32(w, a) }
            }
            pub(super) fn f16(w: &[u8], a: &[u8]) -> f32 {
                // SAFETY: handed out only at the level whose features were detected (see above).
                unsafe { $m::vec_dot_f16(w, a) }
            }
            pub(super) fn bf16(w: &[u8], a: &[u8]) -> f32 {
                // SAFETY: handed out only at the level whose features were detected (see above).
                unsafe { $m::vec_dot_bf16(w, a) }
            }
            pub(super) fn d21<const K: u8>(w: [&[u8]; 2], a: &[u8]) -> [f32; 2] {
                // SAFETY: handed out only at the level whose features were detected (see above).
                let o = unsafe { $m::tile::<K, 2, 1, 1>(w, [a]) };
                [o[0][0], o[1][0]]
            }
            pub(super) fn d14<const K: u8>(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
                // SAFETY: handed out only at the level whose features were detected (see above).
                unsafe { $m::tile::<K, 1, 4, 2>([w], a)[0] }
            }
            pub(super) fn d24<const K: u8>(w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
                // SAFETY: handed out only at the level whose features were detected (see above).
                unsafe { $m::tile::<K, 2, 4, 4>(w, a) }
            }
            pub(super) fn rows4<const K: u8>(w: [&[u8]; 4], a: &[u8]) -> [f32; 4] {
                let wb = [18, 20, 22, 24][K as usize];
                let ab = if K == 1 || K == 3 { 36 } else { 34 };
                let nb = w[0].len() / wb;
                assert!(
                    w.iter().all(|r| r.len() >= nb * wb) && a.len() >= nb * ab,
                    "row too short"
                );
                // nb blocks checked in every row
                // SAFETY: handed out only at the level whose features were detected (see above).
                unsafe {
                    if crate::avx2::legacy::PREFETCH.load(std::sync::atomic::Ordering::Relaxed) {
                        $m::rows4::<K, true>(w.map(|r| r.as_ptr()), nb, a.as_ptr())
                    } else {
                        $m::rows4::<K, false>(w.map(|r| r.as_ptr()), nb, a.as_ptr())
                    }
                }
            }
        }
    };
}
wrappers!(w_bw, bw);
wrappers!(w_vnni, vnni);

/// K-quant wrappers (one instance for both levels: see `kq`).
mod w_kq {
    use super::kq;
    // SAFETY (every wrapper below): only handed out by `dot_fn` /
    // `override_tiles` at an AVX-512 level, whose features (avx512f/bw/vl,
    // with AVX2, FMA and F16C) were detected at runtime; the kernels check
    // row lengths themselves.
    pub(super) fn q2_k(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::vec_dot_q2_k(w, a) }
    }
    pub(super) fn q3_k(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::vec_dot_q3_k(w, a) }
    }
    pub(super) fn q5_k(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::vec_dot_q5_k(w, a) }
    }
    pub(super) fn q4_k(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::dot_q4_k::<1>(w, [a])[0] }
    }
    pub(super) fn q4_k_14(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::dot_q4_k::<4>(w, a) }
    }
    pub(super) fn q6_k(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::dot_q6_k::<1>(w, [a])[0] }
    }
    pub(super) fn q6_k_14(w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
        // SAFETY: handed out only at the level whose features were detected (see above).
        unsafe { kq::dot_q6_k::<4>(w, a) }
    }
}

/// The AVX-512 dot product for `ty` at `level` (see `crate::avx512_level`),
/// if there is one: the float formats (a single output fills a 512-bit
/// vector with two of the AVX2 kernel's accumulators) and the K-quants (two
/// chunks of a super-block per vector). The 32-element formats' single
/// outputs stay AVX2: a lone output cannot fill a 512-bit vector in their
/// order; matmul reaches their AVX-512 tiles instead.
pub(crate) fn dot_fn(level: u8, ty: GgmlType) -> Option<DotFn> {
    use GgmlType::*;
    if level == 5 || level == 6 {
        match ty {
            Q2_K => return Some(w_kq::q2_k),
            Q3_K => return Some(w_kq::q3_k),
            Q4_K => return Some(w_kq::q4_k),
            Q5_K => return Some(w_kq::q5_k),
            Q6_K => return Some(w_kq::q6_k),
            _ => {}
        }
    }
    macro_rules! pick {
        ($w:ident) => {
            match ty {
                F32 => Some($w::f32 as DotFn),
                F16 => Some($w::f16 as DotFn),
                BF16 => Some($w::bf16 as DotFn),
                _ => None,
            }
        };
    }
    match level {
        5 => pick!(w_bw),
        6 => pick!(w_vnni),
        _ => None,
    }
}

/// Format kind of the 32-element formats, as `avx2::panel` numbers them.
fn kind(ty: GgmlType) -> Option<u8> {
    use GgmlType::*;
    Some(match ty {
        Q4_0 => 0,
        Q4_1 => 1,
        Q5_0 => 2,
        Q5_1 => 3,
        Q8_0 => 4,
        _ => return None,
    })
}

/// Replace the AVX2 tile kernels of `ty` in `t` with AVX-512 ones at `level`
/// (0: leave them). Same shapes, same results.
pub(crate) fn override_tiles(level: u8, ty: GgmlType, two_lane: bool, t: &mut Tiles) {
    if level == 5 || level == 6 {
        // the AVX2 few-rows kernels are not used there: the AVX-512 tiles
        // below hold two outputs per vector
        t.few = None;
    }
    if level == 5 || level == 6 {
        // K-quants: the 1x4 tile (prefill panels stay AVX2's `kpanel`)
        match ty {
            GgmlType::Q4_K => t.d14 = t.d14.map(|_| w_kq::q4_k_14 as crate::Dot14Fn),
            GgmlType::Q6_K => t.d14 = t.d14.map(|_| w_kq::q6_k_14 as crate::Dot14Fn),
            _ => {}
        }
    }
    let Some(k) = kind(ty) else { return };
    if two_lane && crate::lanes2::has_lanes1(ty) {
        // Q4_0/Q5_0/Q8_0: the one-lane order's AVX2 kernels (`avx2::one_lane`)
        return;
    }
    macro_rules! per_kind {
        ($t:ident, $w:ident, $k:literal) => {{
            if $t.rows4.is_some() {
                $t.rows4 = Some($w::rows4::<$k>);
            } else {
                $t.d21 = $t.d21.map(|_| $w::d21::<$k> as crate::Dot21Fn);
                $t.d14 = $t.d14.map(|_| $w::d14::<$k> as crate::Dot14Fn);
                $t.d24 = $t.d24.map(|_| $w::d24::<$k> as crate::Dot24Fn);
            }
        }};
    }
    macro_rules! set {
        ($t:ident, $w:ident, $lvl:literal) => {{
            match k {
                0 => per_kind!($t, $w, 0),
                1 => per_kind!($t, $w, 1),
                2 => per_kind!($t, $w, 2),
                3 => per_kind!($t, $w, 3),
                _ => per_kind!($t, $w, 4),
            }
            if $t.panel.is_some() {
                $t.panel = Some(if two_lane {
                    crate::avx2::panel::matmul_panel::<true, $lvl>
                } else {
                    crate::avx2::panel::matmul_panel::<false, $lvl>
                });
            }
        }};
    }
    match level {
        5 => set!(t, w_bw, 5),
        6 => set!(t, w_vnni, 6),
        _ => {}
    }
}

/// One pass of the panel matmul over 4 activation rows (see
/// `avx2::panel::matmul_panel`): the two-lane order when `two` (Q4_0, Q4_1,
/// Q5_0, Q5_1), llama.cpp's `vec_dot` order otherwise; `[row][panel row]`.
///
/// # Safety
/// `level` must be an AVX-512 level detected at runtime (5 or 6); `p` holds
/// `nb` built blocks of the panel; each `a[r]` `nb` activation blocks of
/// `f.ab` bytes; with `two`, each `t[r]` their `nb` terms.
pub(crate) unsafe fn panel_run(
    level: u8,
    two: bool,
    f: Fmt,
    p: &[PBlock],
    nb: usize,
    a: [*const u8; 4],
    t: [*const ActBlock; 4],
) -> [[f32; 4]; 4] {
    assert!(level == 5 || level == 6, "panel_run needs an AVX-512 level");
    // SAFETY: forwarded contract; the level's features were detected.
    unsafe {
        match (level, two, f.min) {
            (5, true, false) => bw::run2::<false>(f, p, nb, a, t),
            (5, true, true) => bw::run2::<true>(f, p, nb, a, t),
            (5, false, false) => bw::run::<false>(f, p, nb, a),
            (5, false, true) => bw::run::<true>(f, p, nb, a),
            (_, true, false) => vnni::run2::<false>(f, p, nb, a, t),
            (_, true, true) => vnni::run2::<true>(f, p, nb, a, t),
            (_, false, false) => vnni::run::<false>(f, p, nb, a),
            (_, false, true) => vnni::run::<true>(f, p, nb, a),
        }
    }
}
