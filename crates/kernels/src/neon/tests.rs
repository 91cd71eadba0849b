//! Both NEON variants (baseline and `SDOT`) against the scalar reference, bit
//! for bit, on random rows of every format (the dispatched path only reaches
//! one of the two variants on a given CPU).

use crate::formats::{format, DotFn};
use crate::{GgmlType, QuantizedActs};

/// The NEON dot product of `ty` in `crate::formats` (with `dotprod`: the
/// `SDOT` variant's).
fn dot_fn(ty: GgmlType, dotprod: bool) -> Option<DotFn> {
    let f = format(ty)?;
    Some(if dotprod {
        f.neon_dotprod.dot
    } else {
        f.neon.dot
    })
}

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.uniform()).sum::<f32>() * 0.866
    }
}

const TYPES: [GgmlType; 14] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
    GgmlType::Q5_1,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q5_K,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
    GgmlType::MXFP4,
];

/// f16 scale fields per block (ggml-common.h layouts).
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    use GgmlType::*;
    match ty {
        Q4_0 | Q5_0 | Q8_0 => &[0],
        Q4_1 | Q5_1 | Q4_K | Q5_K => &[0, 2],
        Q2_K => &[80, 82],
        Q3_K => &[108],
        Q6_K => &[208],
        _ => &[],
    }
}

fn weights(rng: &mut Rng, ty: GgmlType, k: usize, special: bool) -> Vec<u8> {
    let f16 = |v: f32| half::f16::from_f32(v).to_le_bytes();
    match ty {
        GgmlType::F32 => (0..k).flat_map(|_| rng.normal().to_le_bytes()).collect(),
        GgmlType::F16 if special => (0..k)
            // subnormals, zeros of both signs, max/min normals
            .flat_map(|i| match i % 6 {
                0 => (rng.next_u64() as u16 & 0x83ff).to_le_bytes(),
                1 => [0x00, 0x80],
                2 => [0xff, 0x7b],
                _ => f16(rng.normal()),
            })
            .collect(),
        GgmlType::F16 => (0..k).flat_map(|_| f16(rng.normal())).collect(),
        GgmlType::BF16 => (0..k)
            .flat_map(|_| half::bf16::from_f32(rng.normal()).to_le_bytes())
            .collect(),
        _ => {
            let bs = ty.type_size();
            let nb = k / ty.block_size();
            let mut b: Vec<u8> = (0..nb * bs).map(|_| rng.next_u64() as u8).collect();
            for i in 0..nb {
                if ty == GgmlType::MXFP4 {
                    // E8M0 scale byte: 2^-9 .. 2^6, as real weights have
                    b[i * bs] = 118 + (rng.next_u64() % 16) as u8;
                }
                for &off in f16_fields(ty) {
                    let v = f16(rng.normal() * 0.05);
                    b[i * bs + off..i * bs + off + 2].copy_from_slice(&v);
                }
            }
            b
        }
    }
}

fn sizes(ty: GgmlType) -> &'static [usize] {
    match ty.block_size() {
        1 => &[1, 7, 31, 32, 33, 64, 95, 129, 1000],
        32 => &[32, 64, 96, 320, 1056],
        _ => &[256, 512, 1280],
    }
}

#[test]
fn neon_variants_match_scalar_bit_for_bit() {
    let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
    eprintln!("dotprod detected: {dotprod}");
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for ty in TYPES {
        let reference = format(ty).unwrap().scalar.dot;
        let base = dot_fn(ty, false).unwrap();
        for &k in sizes(ty) {
            for rep in 0..4 {
                let w = weights(&mut rng, ty, k, rep == 2);
                let x: Vec<f32> = (0..k)
                    .map(|i| match rep {
                        // saturating activations and zeros
                        3 => [0.0, 1.0, -1.0, 1.0, -1.0][i % 5],
                        _ => {
                            rng.normal()
                                * if rng.next_u64().is_multiple_of(17) {
                                    8.0
                                } else {
                                    1.0
                                }
                        }
                    })
                    .collect();
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, 1, k);
                let a = acts.row(0);
                // SAFETY: the scalar kernel needs nothing, the baseline NEON
                // one NEON (the aarch64 baseline).
                let (want, got) = unsafe { (reference(&w, a), base(&w, a)) };
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{ty} k={k} rep={rep}: neon {got} scalar {want}"
                );
                if dotprod {
                    // SAFETY: dotprod detected above.
                    let got = unsafe { dot_fn(ty, true).unwrap()(&w, a) };
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{ty} k={k} rep={rep}: neon+dotprod {got} scalar {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn f16_conversion_is_exact_for_every_half() {
    // all 65536 halves against `half` (the scalar reference's conversion), one
    // element per row so the F16 kernel's tail path is not involved: use rows of
    // 32 with a one-hot activation instead
    let one = half::f16::from_f32(1.0).to_le_bytes();
    let mut a = vec![0u8; 64];
    let f = dot_fn(GgmlType::F16, false).unwrap();
    for bits in 0..=u16::MAX {
        let h = half::f16::from_bits(bits);
        let mut w = vec![0u8; 64];
        w[0..2].copy_from_slice(&bits.to_le_bytes());
        a[0..2].copy_from_slice(&one);
        // SAFETY: baseline NEON (the aarch64 baseline).
        let got = unsafe { f(&w, &a) };
        let want = h.to_f32() * 1.0 + 0.0;
        if want.is_nan() {
            assert!(got.is_nan(), "{bits:#06x}");
        } else {
            assert_eq!(
                got.to_bits(),
                (want + 0.0).to_bits(),
                "{bits:#06x}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn fcvt_scale_conversion_is_exact_for_every_half() {
    for bits in 0..=u16::MAX {
        let b = bits.to_le_bytes();
        let (got, want) = (super::f16_at(&b, 0), crate::util::f16_at(&b, 0));
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{bits:#06x}: {got} vs {want}"
        );
    }
}

/// The 1 weight row x 4 activation rows kernels (MXFP4's batched rows) of
/// both variants: each output bit-identical to the scalar reference of that
/// row alone.
#[test]
fn neon_1x4_variants_match_scalar_bit_for_bit() {
    let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    for ty in TYPES {
        let f = format(ty).unwrap();
        let reference = f.scalar.dot;
        for (variant, k4) in [(false, f.neon.dot_1x4), (true, f.neon_dotprod.dot_1x4)] {
            let Some(k4) = k4 else { continue };
            if variant && !dotprod {
                continue;
            }
            for &k in sizes(ty) {
                let w = weights(&mut rng, ty, k, false);
                let x: Vec<f32> = (0..4 * k).map(|_| rng.normal()).collect();
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, 4, k);
                let a = [acts.row(0), acts.row(1), acts.row(2), acts.row(3)];
                // SAFETY: the scalar kernel needs nothing, the baseline one
                // NEON (the aarch64 baseline), the SDOT one dotprod (detected).
                let got = unsafe { k4(&w, a) };
                for r in 0..4 {
                    // SAFETY: the scalar kernel needs nothing.
                    let want = unsafe { reference(&w, a[r]) };
                    assert_eq!(
                        got[r].to_bits(),
                        want.to_bits(),
                        "{ty} k={k} row {r} dotprod={variant}"
                    );
                }
            }
        }
    }
}
