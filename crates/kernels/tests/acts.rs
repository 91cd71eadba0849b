//! Activation quantization reuses its buffer without zeroing it: every byte
//! of the rows laid out is written by the row quantizers. A quantization into
//! a buffer that held other rows (more rows, fewer, other values) gives the
//! bytes of a fresh buffer, for every activation type, both roundings, the
//! SIMD quantizers and the scalar ones (taken for rows holding a NaN or an
//! infinity), on one thread and over the pool.

mod common;

use common::{random_acts, Rng};
use kernels::{ActRounding, GgmlType, QuantizedActs, ThreadPool};

#[test]
fn a_reused_buffer_gives_the_bytes_of_a_fresh_one() {
    let mut rng = Rng::new(77);
    let pool = ThreadPool::new(2);
    let k = 512;
    // one weight type per activation type: Q8_0, Q8_1, Q8_K, F16, BF16, F32
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q4_K,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::F32,
    ] {
        for rounding in [ActRounding::Reference, ActRounding::LlamaCppX86] {
            for (before, rows, non_finite) in [
                (3usize, 2usize, false),
                (1, 5, false),
                (64, 50, false),
                (4, 3, true),
            ] {
                let old = random_acts(&mut rng, before * k);
                let mut x = random_acts(&mut rng, rows * k);
                if non_finite {
                    x[k + 7] = f32::NAN;
                    x[2 * k + 100] = f32::INFINITY;
                }
                let mut fresh = QuantizedActs::new();
                fresh.set_rounding(rounding);
                fresh.quantize(ty, &x, rows, k);
                let mut reused = QuantizedActs::new();
                reused.set_rounding(rounding);
                reused.quantize(ty, &old, before, k);
                reused.quantize(ty, &x, rows, k);
                assert_eq!(
                    reused.bytes(),
                    fresh.bytes(),
                    "{ty} {rounding:?} {before} -> {rows} rows"
                );
                reused.quantize_on(&pool, ty, &old, before, k);
                reused.quantize_on(&pool, ty, &x, rows, k);
                assert_eq!(
                    reused.bytes(),
                    fresh.bytes(),
                    "{ty} {rounding:?} {before} -> {rows} rows, pool"
                );
            }
        }
    }
}
