//! Rough timings (ignored by default):
//! `cargo test -p kernels --release --test bench -- --ignored --nocapture`

mod common;

use common::{random_acts, random_weights, Rng, WEIGHT_TYPES};
use kernels::{matmul, set_force_scalar, simd_level, GgmlType, QuantizedActs, ThreadPool};
use std::time::Instant;

fn time_matmul(
    pool: &ThreadPool,
    ty: GgmlType,
    n_out: usize,
    k: usize,
    n_rows: usize,
    rng: &mut Rng,
) -> f64 {
    let w: Vec<u8> = (0..n_out)
        .flat_map(|_| random_weights(rng, ty, k))
        .collect();
    let x = random_acts(rng, n_rows * k);
    let mut acts = QuantizedActs::new();
    acts.quantize(ty, &x, n_rows, k);
    let mut out = vec![0f32; n_rows * n_out];
    matmul(pool, ty, &w, n_out, k, &acts, &mut out).unwrap();
    // minimum over repetitions: the box is shared, the minimum is the least noisy
    let mut best = f64::MAX;
    for _ in 0..30 {
        let t = Instant::now();
        matmul(pool, ty, &w, n_out, k, &acts, &mut out).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

#[test]
#[ignore]
fn bench_matmul() {
    let mut rng = Rng::new(1);
    let (n_out, k) = (2048, 2048);
    for threads in [1, 2] {
        let pool = ThreadPool::new(threads);
        let filter = std::env::var("HEARTH_BENCH_TYPES").unwrap_or_default();
        for ty in WEIGHT_TYPES {
            if !filter.is_empty() && !filter.split(',').any(|f| f == ty.name()) {
                continue;
            }
            let mut line = format!("{threads}t {:>5} {n_out}x{k} n_rows=1:", ty.name());
            for force in [true, false] {
                set_force_scalar(force);
                let s = time_matmul(&pool, ty, n_out, k, 1, &mut rng);
                let gbs = ty.bytes_for((n_out * k) as u64).unwrap() as f64 / s / 1e9;
                line += &format!("  {}: {:8.3} ms ({gbs:5.1} GB/s)", simd_level(), s * 1e3);
            }
            eprintln!("{line}");
        }
    }
}
