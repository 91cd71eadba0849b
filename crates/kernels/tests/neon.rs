//! aarch64: the dispatched kernels are the NEON ones (`simd_level()` says so)
//! and reproduce the scalar reference bit for bit for every format, through the
//! public API (`vec_dot`, `matmul`), independent of batch size and threads.
//! Run under qemu by `scripts/test-neon.sh`; `QEMU_CPU=cortex-a53` exercises the
//! baseline (no `dotprod`) dispatch. On other targets it checks nothing.

#![cfg(target_arch = "aarch64")]

mod common;

use common::{random_acts, random_weights, Rng, WEIGHT_TYPES};
use kernels::{
    matmul, matmul_reference_raw, simd_level, vec_dot, vec_dot_scalar_raw, GgmlType, QuantizedActs,
    ThreadPool,
};

fn sizes(ty: GgmlType) -> &'static [usize] {
    match ty.block_size() {
        1 => &[1, 3, 8, 31, 32, 33, 65, 128, 129, 4099],
        32 => &[32, 64, 96, 160, 1024, 4096 + 32],
        _ => &[256, 512, 768, 2816],
    }
}

#[test]
fn dispatch_selects_neon() {
    let cap = std::env::var("HEARTH_SIMD").unwrap_or_default();
    let want = if std::env::var("HEARTH_FORCE_SCALAR").as_deref() == Ok("1") || cap == "scalar" {
        "scalar"
    } else if cap != "neon"
        && cap != "neon-dotprod"
        && std::arch::is_aarch64_feature_detected!("dotprod")
        && std::arch::is_aarch64_feature_detected!("i8mm")
    {
        "neon+i8mm"
    } else if cap != "neon" && std::arch::is_aarch64_feature_detected!("dotprod") {
        "neon+dotprod"
    } else {
        "neon"
    };
    assert_eq!(simd_level(), want);
    eprintln!("simd level: {}", simd_level());
}

#[test]
fn dispatched_matches_scalar_bit_for_bit() {
    let mut rng = Rng::new(4242);
    for ty in WEIGHT_TYPES {
        for &k in sizes(ty) {
            for rep in 0..3 {
                let w = random_weights(&mut rng, ty, k);
                let mut x = random_acts(&mut rng, k);
                if rep == 2 {
                    for (i, v) in x.iter_mut().enumerate() {
                        *v = [0.0, 1.0, -1.0][i % 3];
                    }
                }
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, 1, k);
                let want = vec_dot_scalar_raw(ty, &w, acts.row(0)).unwrap();
                let got = vec_dot(ty, &w, &acts, 0);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{ty} k={k} rep={rep}: {} {got} scalar {want}",
                    simd_level()
                );
            }
        }
    }
}

#[test]
fn matmul_is_batch_and_thread_independent() {
    let mut rng = Rng::new(77);
    for ty in WEIGHT_TYPES {
        let k = if ty.block_size() == 256 { 512 } else { 96 };
        let (n_out, n_rows) = (9, 5);
        let w: Vec<u8> = (0..n_out)
            .flat_map(|_| random_weights(&mut rng, ty, k))
            .collect();
        let x = random_acts(&mut rng, n_rows * k);
        let mut acts = QuantizedActs::new();
        acts.quantize(ty, &x, n_rows, k);
        let mut out = vec![0f32; n_rows * n_out];
        matmul(&ThreadPool::new(2), ty, &w, n_out, k, &acts, &mut out).unwrap();
        let rb = w.len() / n_out;
        for r in 0..n_rows {
            let mut one = QuantizedActs::new();
            one.quantize(ty, &x[r * k..(r + 1) * k], 1, k);
            let mut out1 = vec![0f32; n_out];
            matmul(&ThreadPool::new(1), ty, &w, n_out, k, &one, &mut out1).unwrap();
            for o in 0..n_out {
                // the reference of the level's order (the one-lane order for
                // Q4_0/Q5_0/Q8_0 with i8mm, vec_dot's else)
                let s = matmul_reference_raw(ty, &w[o * rb..(o + 1) * rb], one.row(0)).unwrap();
                assert_eq!(
                    out[r * n_out + o].to_bits(),
                    s.to_bits(),
                    "{ty} r={r} o={o}"
                );
                assert_eq!(out1[o].to_bits(), s.to_bits(), "{ty} batch r={r} o={o}");
            }
        }
    }
}
