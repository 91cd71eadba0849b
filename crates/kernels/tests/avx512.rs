//! AVX-512 kernels vs the scalar reference, bit for bit: every tile shape the
//! matmul hands to them (1x4, the two-lane 4x1, panels of 4 weight rows with
//! 1-4 activation rows per pass) and the float dots.
//!
//! On a CPU without AVX-512 there is nothing to test and the test says so;
//! `scripts/test-avx512.sh` runs this file under emulation (Bochs: a Tiger
//! Lake CPU model with VNNI, a Skylake-X one without) and sets
//! `HEARTH_EXPECT_SIMD` to the level that emulated CPU must get, so a
//! dispatch that silently fell back to AVX2 fails instead of passing.

mod common;

use common::{check_matmul, check_vec_dot, Rng, WEIGHT_TYPES};
use kernels::{simd_level, GgmlType, ThreadPool};

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the AVX-512 kernels are dispatched here (checking the level an
/// emulated CPU must get); false (and said) when there is nothing to test.
fn avx512_dispatched() -> bool {
    if let Ok(want) = std::env::var("HEARTH_EXPECT_SIMD") {
        assert_eq!(
            simd_level(),
            want,
            "the emulated CPU should get this SIMD level"
        );
    } else if !has_avx512() {
        eprintln!("avx512: this CPU has no AVX-512; scripts/test-avx512.sh runs these tests under emulation");
        return false;
    } else if matches!(
        std::env::var("HEARTH_SIMD").as_deref(),
        Ok("avx2") | Ok("avx2-vnni") | Ok("scalar")
    ) || std::env::var("HEARTH_FORCE_SCALAR").as_deref() == Ok("1")
    {
        eprintln!(
            "avx512: capped below AVX-512 (HEARTH_SIMD / HEARTH_FORCE_SCALAR): nothing to test"
        );
        return false;
    }
    eprintln!("simd level: {}", simd_level());
    assert!(
        simd_level().starts_with("avx512"),
        "AVX-512 present but not dispatched: {}",
        simd_level()
    );
    true
}

#[test]
fn avx512_kernels_match_the_scalar_reference() {
    if !avx512_dispatched() {
        return;
    }
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(512);

    // float dots: a 512-bit vector holds two of the AVX2 kernel's accumulators
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
        for k in [1usize, 31, 32, 33, 64, 100, 257] {
            check_vec_dot(&mut rng, ty, k, "");
        }
    }

    // tile shapes: rows 1-3 (decode rows, 1x4 / single dots), 4-11 (panels
    // of the 32-element formats, 1x4 tiles of the K-quants), 12+ (panels; 13
    // and 14 leave tails of 1 and 2 rows); odd output counts leave single rows
    for ty in WEIGHT_TYPES {
        let k = if ty.block_size() == 256 { 256 } else { 96 };
        for (n_out, n_rows) in [
            (5usize, 1usize),
            (9, 3),
            (8, 4),
            (9, 7),
            (8, 12),
            (9, 13),
            (12, 14),
        ] {
            check_matmul(&pool, &mut rng, ty, k, n_out, n_rows, false);
        }
        check_matmul(&pool, &mut rng, ty, k, 8, 1, true);
        check_matmul(&pool, &mut rng, ty, k, 8, 13, true);
    }
}

/// Decode (one activation row) of Q4_K and Q6_K: at AVX-512 VNNI its own
/// dot kernels (`avx512::kdec`), which unpack the scales and mins by vector
/// shuffles: every row of several lengths, random and extreme activations,
/// bit for bit against the reference, and through `vec_dot` too.
#[test]
fn k_quant_decode_matches_the_scalar_reference() {
    if !avx512_dispatched() {
        return;
    }
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(4096);
    for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
        for k in [256usize, 512, 1280, 4096] {
            for n_out in [1usize, 3, 4, 7] {
                for extreme in [false, true] {
                    check_matmul(&pool, &mut rng, ty, k, n_out, 1, extreme);
                }
            }
            check_vec_dot(&mut rng, ty, k, " vec_dot");
        }
    }
}
