//! `exp` as llama.cpp's vector code computes it (`ggml_v_expf`,
//! `ggml/src/ggml-cpu/vec.h`, after ARM's optimized-routines `expf`): range
//! reduction by ln 2 (`n = round(x / ln 2)`, `b = x - n ln 2` in two parts),
//! a degree-5 polynomial, the scale `2^n` put into the exponent bits; past
//! |n| > 126 the scale in two steps, past 192 overflow to inf or 0. Max error
//! about 1.5 ULP. This scalar form performs the vector version's operations
//! one lane at a time (each FMA fused, the integer steps on the bits), so it
//! gives the same bits as `avx2::act::v_expf` — the attention kernels use one
//! or the other and stay bit-identical to their scalar reference.

/// The constants of `ggml_v_expf`, as f32 bits (hex floats in the source).
pub(crate) const SHIFT: u32 = 0x4b40_0000; // 0x1.8p23
pub(crate) const LOG2E: u32 = 0x3fb8_aa3b; // 0x1.715476p+0
pub(crate) const LN2_HI: u32 = 0x3f31_7200; // 0x1.62e4p-1
pub(crate) const LN2_LO: u32 = 0x35bf_be8e; // 0x1.7f7d1cp-20
pub(crate) const C: [u32; 5] = [
    0x3f7f_fff6, // 0x1.ffffecp-1
    0x3eff_fedb, // 0x1.fffdb6p-2
    0x3e2a_af33, // 0x1.555e66p-3
    0x3d2b_9f17, // 0x1.573e2ep-5
    0x3c07_2010, // 0x1.0e4020p-7
];

#[inline(always)]
fn f(bits: u32) -> f32 {
    f32::from_bits(bits)
}

/// `e^x` (see the module docs).
#[inline]
pub fn exp_ggml(x: f32) -> f32 {
    let r = f(SHIFT);
    let z = x.mul_add(f(LOG2E), r);
    let n = z - r;
    let b = (-n).mul_add(f(LN2_LO), (-n).mul_add(f(LN2_HI), x));
    let e = z.to_bits().wrapping_shl(23);
    let k = f(e.wrapping_add(1.0f32.to_bits()));
    let u = b * b;
    let j = f(C[4])
        .mul_add(b, f(C[3]))
        .mul_add(u, f(C[2]).mul_add(b, f(C[1])))
        .mul_add(u, f(C[0]) * b);
    let an = n.abs();
    if an.is_nan() || an <= 126.0 {
        return j.mul_add(k, k);
    }
    let g: u32 = if n <= 0.0 { 0x8200_0000 } else { 0 };
    let s1 = f(g.wrapping_add(0x7f00_0000));
    let s2 = f(e.wrapping_sub(g));
    if an > 192.0 {
        s1 * s1
    } else {
        s2.mul_add(j, s2) * s1
    }
}
