//! The op orders the AVX2 matmul uses for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0
//! (scalar references here): the "two-lane" order below for Q4_1 and Q5_1
//! (AVX2 kernels in `avx2::panel` and `avx2::two_lane`), and the "one-lane"
//! order ([`dot_lanes1`], kernels in `avx2::one_lane`) for Q4_0, Q5_0 and
//! Q8_0.
//!
//! llama.cpp's `vec_dot` order (kept by [`crate::vec_dot`]) gives each output 8
//! float lanes and converts and accumulates every block's 8 partial sums; that
//! costs a multiply-add of i16 pairs, a conversion and an FMA per 4 elements.
//! Here each output has two lanes: per block, the exact integer sums
//! `E = Σ x_i y_i over i mod 8 in 0..4` and `O = Σ over i mod 8 in 4..8`, then
//! `acc_E = fma(d_x * d_y, E, acc_E)`, same for `O` (block by block, in
//! order), and finally `acc_E + acc_O` (+ the `Σ m_x s_y` FMA chain of the
//! formats with a min, as in `vec_dot`). Integer sums are exact, so the kernels
//! may form them in any order (i16 partial sums never overflow: |x| <= 31,
//! |y| <= 127, at most 8 products per i16 lane); the float ops are fixed. The
//! result depends only on the weight row and the activation row.

use crate::q5::q5_values;
use crate::util::f16_at;
use gguf::GgmlType;

/// Whether `ty` uses the two-lane order in the AVX2 matmul.
pub(crate) fn has_lanes2(ty: GgmlType) -> bool {
    matches!(
        ty,
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1
    )
}

/// Whether `ty` uses the one-lane order ([`dot_lanes1`]) in the AVX2 matmul
/// (the 32-element formats without a min: Q4_0, Q5_0, Q8_0).
pub(crate) fn has_lanes1(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0)
}

/// Scalar reference of the one-lane order (`avx2::one_lane`), Q4_0, Q5_0 or
/// Q8_0 weight row `w` against Q8_0 activation row `a`: per block the exact
/// integer sum `T = Σ x_i y_i`, then `acc = fma(d_x * d_y, T, acc)`, block by
/// block.
pub(crate) fn dot_lanes1(ty: GgmlType, w: &[u8], a: &[u8]) -> f32 {
    assert!(has_lanes1(ty), "{ty} has no one-lane order");
    let (wb, _) = layout(ty);
    let nb = w.len() / wb;
    assert!(a.len() >= nb * 34, "activation row too short");
    let mut acc = 0.0f32;
    for i in 0..nb {
        let x = &w[i * wb..(i + 1) * wb];
        let y = &a[i * 34..(i + 1) * 34];
        let xv = values(ty, x);
        let t: i32 = (0..32).map(|j| xv[j] * (y[2 + j] as i8) as i32).sum();
        let d = f16_at(x, 0) * f16_at(y, 0);
        acc = d.mul_add(t as f32, acc);
    }
    acc
}

/// (block bytes, has a min) of a one- or two-lane weight format.
fn layout(ty: GgmlType) -> (usize, bool) {
    match ty {
        GgmlType::Q4_0 => (18, false),
        GgmlType::Q4_1 => (20, true),
        GgmlType::Q5_0 => (22, false),
        GgmlType::Q5_1 => (24, true),
        GgmlType::Q8_0 => (34, false),
        _ => panic!("{ty} has no two-lane order"),
    }
}

/// The 32 signed (Q4_0/Q5_0/Q8_0) or unsigned (Q4_1/Q5_1) quants of a block.
fn values(ty: GgmlType, b: &[u8]) -> [i32; 32] {
    let mut v = [0i32; 32];
    match ty {
        GgmlType::Q4_0 | GgmlType::Q4_1 => {
            let off = if ty == GgmlType::Q4_0 { 2 } else { 4 };
            let qs = &b[off..off + 16];
            for j in 0..16 {
                v[j] = (qs[j] & 0x0F) as i32;
                v[j + 16] = (qs[j] >> 4) as i32;
            }
            if ty == GgmlType::Q4_0 {
                v.iter_mut().for_each(|x| *x -= 8);
            }
        }
        GgmlType::Q5_0 => {
            v = q5_values(b, 2);
            v.iter_mut().for_each(|x| *x -= 16);
        }
        GgmlType::Q8_0 => {
            for (j, x) in v.iter_mut().enumerate() {
                *x = b[2 + j] as i8 as i32;
            }
        }
        _ => v = q5_values(b, 4),
    }
    v
}

/// Scalar reference of the two-lane order: weight row `w` (whole blocks of
/// `ty`) against activation row `a` (Q8_0 for Q4_0/Q5_0, Q8_1 otherwise).
pub(crate) fn dot_lanes2(ty: GgmlType, w: &[u8], a: &[u8]) -> f32 {
    let (wb, min) = layout(ty);
    let ab = if min { 36 } else { 34 };
    let qoff = if min { 4 } else { 2 };
    let nb = w.len() / wb;
    assert!(a.len() >= nb * ab, "activation row too short");
    let (mut acc_e, mut acc_o, mut summ) = (0.0f32, 0.0f32, 0.0f32);
    for i in 0..nb {
        let x = &w[i * wb..(i + 1) * wb];
        let y = &a[i * ab..(i + 1) * ab];
        let xv = values(ty, x);
        let (mut e, mut o) = (0i32, 0i32);
        for j in 0..32 {
            let p = xv[j] * (y[qoff + j] as i8) as i32;
            if j % 8 < 4 {
                e += p;
            } else {
                o += p;
            }
        }
        let d = f16_at(x, 0) * f16_at(y, 0);
        acc_e = d.mul_add(e as f32, acc_e);
        acc_o = d.mul_add(o as f32, acc_o);
        if min {
            summ = f16_at(x, 2).mul_add(f16_at(y, 2), summ);
        }
    }
    let r = acc_e + acc_o;
    if min {
        r + summ
    } else {
        r
    }
}
