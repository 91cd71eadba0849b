//! Before/after comparison on the stable public API only (so it also runs on
//! older commits): `cargo test -p kernels --release --test cmp -- --ignored --nocapture`.
mod common;
use common::{random_acts, random_weights, Rng};
use kernels::{matmul, GgmlType, QuantizedActs, ThreadPool};
use std::time::Instant;

#[test]
#[ignore]
fn cmp() {
    let types = [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q6_K,
    ];
    let mut rng = Rng::new(1);
    let k = 2048;
    for ty in types {
        // decode in cache: 1024 x 2048, n_rows = 1; decode streaming: 32 MB+ round robin; prefill: n_rows = 64
        let n_out = 1024;
        let w: Vec<u8> = (0..n_out)
            .flat_map(|_| random_weights(&mut rng, ty, k))
            .collect();
        let copies = (48 << 20) / w.len() + 1;
        let ws: Vec<Vec<u8>> = (0..copies)
            .map(|i| {
                let mut v = w.clone();
                v[0] ^= i as u8;
                v
            })
            .collect();
        let x = random_acts(&mut rng, 64 * k);
        let mut a1 = QuantizedActs::new();
        a1.quantize(ty, &x[..k], 1, k);
        let mut a64 = QuantizedActs::new();
        a64.quantize(ty, &x, 64, k);
        let mut out = vec![0f32; 64 * n_out];
        let mut line = format!("{:>5}", ty.name());
        for threads in [1, 2] {
            let pool = ThreadPool::new(threads);
            let (mut dc, mut ds, mut pf, mut q) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
            for _ in 0..15 {
                let t = Instant::now();
                for _ in 0..10 {
                    matmul(&pool, ty, &w, n_out, k, &a1, &mut out[..n_out]).unwrap();
                }
                dc = dc.min(t.elapsed().as_secs_f64() / 10.0);
                let t = Instant::now();
                for w in &ws {
                    matmul(&pool, ty, w, n_out, k, &a1, &mut out[..n_out]).unwrap();
                }
                ds = ds.min(t.elapsed().as_secs_f64() / copies as f64);
                let t = Instant::now();
                matmul(&pool, ty, &w, n_out, k, &a64, &mut out).unwrap();
                pf = pf.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                a64.quantize(ty, &x, 64, k);
                q = q.min(t.elapsed().as_secs_f64());
            }
            let gb = w.len() as f64 / 1e9;
            line += &format!(" | {threads}t dec-cache {:5.1} GB/s  dec-stream {:5.1} GB/s  prefill64 {:5.1} GFLOP/s",
                gb / dc, gb / ds, 2.0 * (n_out * k * 64) as f64 / pf / 1e9);
            if threads == 1 {
                line += &format!("  quant64x2048 {:5.0} us", q * 1e6);
            }
        }
        eprintln!("{line}");
    }
}
