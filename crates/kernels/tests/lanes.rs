//! The lane orders' batched kernels at the level this CPU runs (each level's
//! own panels: 8 rows on AVX2 and with AVX-VNNI, 16 with AVX-512 VNNI),
//! bit for bit against the scalar reference of the order, with and without
//! the panel cache. `scripts/test.sh` runs this file again capped at each
//! lower level the CPU has (`HEARTH_SIMD`, checked by `HEARTH_EXPECT_SIMD`).

mod common;

use common::{check_matmul, Rng};
use kernels::{simd_level, GgmlType, ThreadPool};

/// The one-lane formats' panels (16 rows with AVX-512 VNNI, 8 else) for every
/// activation-row count the panel kernel splits into passes (8, 4, 2, 1
/// rows), last panels of 4, 8 and 12 rows, several tiles per matrix,
/// with and without the panel cache, random and extreme quants.
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
    }
}
