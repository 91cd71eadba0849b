//! The batched (panel) kernels at the level this CPU runs, bit for bit
//! against the scalar reference of the format's order there, with and
//! without the panel cache: the one-lane formats (each level's own panels: 8
//! rows on AVX2 and with AVX-VNNI, 16 with AVX-512 VNNI) and the K-quants
//! with panels (Q4_K, Q6_K: single rows on AVX2, 16 with AVX-512 VNNI),
//! and MXFP4's weight row x 4 activation rows; the decode (one activation
//! row) of the 32-element formats.
//! `scripts/test.sh` runs this file again capped at each lower level the CPU
//! has (`HEARTH_SIMD`, checked by `HEARTH_EXPECT_SIMD`).

mod common;

use common::{check_matmul, Rng};
use kernels::{simd_level, GgmlType, ThreadPool};

/// The one-lane formats' panels (16 rows with AVX-512 VNNI, 8 else) for every
/// activation-row count the panel kernel splits into passes (8, 4, 2, 1
/// rows), last panels of 4, 8 and 12 rows, several tiles per matrix,
/// with and without the panel cache, random and extreme quants; and their
/// decode (one activation row).
#[test]
fn one_lane_panels_match_the_scalar_reference() {
    if let Ok(want) = std::env::var("HEARTH_EXPECT_SIMD") {
        assert_eq!(simd_level(), want, "HEARTH_EXPECT_SIMD");
    }
    eprintln!("simd level: {}", simd_level());
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(1616);
    for ty in [GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0] {
        for (n_out, n_rows) in [
            (16usize, 4usize),
            (20, 5),
            (24, 16),
            (28, 17),
            (36, 31),
            (44, 33),
            (68, 12),
            (260, 8),
        ] {
            check_matmul(&pool, &mut rng, ty, 160, n_out, n_rows, false);
        }
        for n_rows in [2, 3, 7, 19] {
            check_matmul(&pool, &mut rng, ty, 64, 40, n_rows, true);
        }
        // decode (1 row; AVX-512 VNNI: 16 blocks at a time, two to a
        // vector): 5, 16, 28 and 37 blocks (groups with their pairs' second
        // block past the row's end, a whole group, a group and a part)
        for k in [160, 512, 896, 1184] {
            check_matmul(&pool, &mut rng, ty, k, 13, 1, false);
            check_matmul(&pool, &mut rng, ty, k, 6, 1, true);
        }
        // 2 and 3 rows decoded row by row, tiles of several 128 KB chunks
        // (`matmul::run_tile`): 63 weight rows of 4,096 elements per tile
        for n_rows in [2, 3] {
            check_matmul(&pool, &mut rng, ty, 4096, 1000, n_rows, false);
        }
    }
}

/// The two-lane formats (Q4_1, Q5_1) row by row (decode): block counts of
/// 1, 5, 16, 28 and 37, random and extreme values. (An AVX-512 VNNI row
/// decoder like the one-lane formats', each block's even and odd lanes
/// apart, was tried: slower than AVX2's `rows4` for these formats, not
/// kept.)
#[test]
fn two_lane_decode_matches_the_scalar_reference() {
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(4141);
    for ty in [GgmlType::Q4_1, GgmlType::Q5_1] {
        for k in [32, 160, 512, 896, 1184] {
            check_matmul(&pool, &mut rng, ty, k, 13, 1, false);
            check_matmul(&pool, &mut rng, ty, k, 6, 1, true);
        }
    }
}

/// Q4_K and Q6_K panels for every activation-row count their passes split
/// into (8, 4, 2, 1 rows) and the counts below the AVX2 panels' 12, odd
/// output counts (the last row by the dot kernels), several tiles, with and
/// without the cache, random and extreme values.
#[test]
fn k_quant_panels_match_the_scalar_reference() {
    if let Ok(want) = std::env::var("HEARTH_EXPECT_SIMD") {
        assert_eq!(simd_level(), want, "HEARTH_EXPECT_SIMD");
    }
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(256);
    for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
        for (n_out, n_rows) in [
            (4usize, 2usize),
            (6, 3),
            (8, 4),
            (10, 5),
            (18, 6),
            (20, 7),
            (12, 8),
            (14, 9),
            (16, 12),
            (36, 15),
            (9, 23),
        ] {
            check_matmul(&pool, &mut rng, ty, 512, n_out, n_rows, false);
        }
        for n_rows in [2, 7, 13] {
            check_matmul(&pool, &mut rng, ty, 256, 12, n_rows, true);
        }
        // the panels walk a tile in groups of weight rows (64 with AVX-512
        // VNNI, 8 on AVX2) by blocks of activation rows that fit their L2
        // share: one thread's tiles of 68 rows (groups and a part), and k =
        // 57344 (224 super-blocks: blocks of 8 activation rows, then 5, with
        // AVX-512 VNNI; of 4 and a last 1 on AVX2)
        check_matmul(&ThreadPool::new(1), &mut rng, ty, 512, 544, 13, false);
        check_matmul(&pool, &mut rng, ty, 57344, 8, 21, false);
        // the K one-lane order's 8 chains (AVX-512 VNNI) past a first round:
        // 11 and 17 super-blocks, decode (1 row, and the rows past the
        // panels) and panels
        for k in [256 * 11, 256 * 17] {
            for n_rows in [1, 3] {
                check_matmul(&pool, &mut rng, ty, k, 21, n_rows, false);
            }
        }
        // 2 to 7 rows decoded together (AVX-512 VNNI: 4 at a time, then the
        // rest), tiles of several 128 KB chunks (`matmul::run_tile`)
        for n_rows in [2, 5, 7] {
            check_matmul(&pool, &mut rng, ty, 4096, 1000, n_rows, false);
        }
    }
}

/// MXFP4's batched rows (each weight row against 4 activation rows, its
/// blocks decoded once): even and odd block counts (the pairs' loop and its
/// odd tail), row counts that leave 1 to 3 rows to the single dot, several
/// tiles, random and extreme values; every output equal to the row alone.
#[test]
fn mxfp4_batched_rows_match_the_scalar_reference() {
    if let Ok(want) = std::env::var("HEARTH_EXPECT_SIMD") {
        assert_eq!(simd_level(), want, "HEARTH_EXPECT_SIMD");
    }
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(4444);
    for k in [32usize, 64, 96, 288] {
        for (n_out, n_rows) in [(5usize, 4usize), (9, 5), (12, 8), (7, 11), (33, 16)] {
            check_matmul(&pool, &mut rng, GgmlType::MXFP4, k, n_out, n_rows, false);
        }
        check_matmul(&pool, &mut rng, GgmlType::MXFP4, k, 6, 9, true);
    }
}

/// `matmul_serial` (the calling thread alone) gives `matmul`'s bits on a
/// pool, for the F32 products of the chunked delta rule (k of 32 and 128,
/// 1 to 40 rows) and a quantized format.
#[test]
fn matmul_serial_matches_matmul() {
    use kernels::{matmul, matmul_serial, QuantizedActs};
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(99);
    for (ty, k, n_out) in [
        (GgmlType::F32, 128, 128),
        (GgmlType::F32, 32, 128),
        (GgmlType::F32, 128, 7),
        (GgmlType::Q8_0, 64, 20),
    ] {
        let w: Vec<u8> = (0..n_out)
            .flat_map(|_| common::random_weights(&mut rng, ty, k))
            .collect();
        for n_rows in [1, 3, 8, 40] {
            let x = common::random_acts(&mut rng, n_rows * k);
            let mut acts = QuantizedActs::new();
            acts.quantize(ty, &x, n_rows, k);
            let mut want = vec![f32::NAN; n_rows * n_out];
            matmul(&pool, ty, &w, n_out, k, &acts, &mut want).unwrap();
            let mut got = vec![f32::NAN; n_rows * n_out];
            matmul_serial(ty, &w, n_out, k, &acts, &mut got).unwrap();
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{ty} k {k} n_out {n_out} rows {n_rows}"
            );
        }
    }
}

/// Tile kernels prepare their activation rows once per thread and product
/// (keyed on the activations' identity): requantizing the same buffer (same
/// address, shape and type) between products, or passing another one of the
/// same shape, or a different row count, must never reuse a stale
/// preparation. Each product is checked bit for bit against the reference;
/// one thread, so every tile of every product runs where the last one did.
#[test]
fn prepared_activations_are_never_reused_across_products() {
    use kernels::{matmul, matmul_reference_raw, QuantizedActs};
    for threads in [1, 2] {
        let pool = ThreadPool::new(threads);
        let mut rng = Rng::new(4242);
        for ty in [
            GgmlType::Q5_0,
            GgmlType::Q8_0,
            GgmlType::Q4_K,
            GgmlType::Q6_K,
            GgmlType::MXFP4,
        ] {
            let (k, n_out) = (256usize, 64usize);
            let w: Vec<u8> = (0..n_out)
                .flat_map(|_| common::random_weights(&mut rng, ty, k))
                .collect();
            let rb = w.len() / n_out;
            let mut acts = QuantizedActs::new();
            let mut other = QuantizedActs::new();
            for (step, n_rows) in [8usize, 8, 8, 5, 8].into_iter().enumerate() {
                let x = common::random_acts(&mut rng, n_rows * k);
                // steps 0, 1, 3, 4 requantize the same buffer; step 2 uses
                // another of the same shape
                let a = if step == 2 { &mut other } else { &mut acts };
                a.quantize(ty, &x, n_rows, k);
                let mut out = vec![f32::NAN; n_rows * n_out];
                matmul(&pool, ty, &w, n_out, k, a, &mut out).unwrap();
                for r in 0..n_rows {
                    for o in 0..n_out {
                        let want =
                            matmul_reference_raw(ty, &w[o * rb..(o + 1) * rb], a.row(r)).unwrap();
                        assert_eq!(
                            out[r * n_out + o].to_bits(),
                            want.to_bits(),
                            "{ty} threads={threads} step={step} r={r} o={o}"
                        );
                    }
                }
            }
        }
    }
}
