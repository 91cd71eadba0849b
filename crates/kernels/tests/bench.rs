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

/// `HEARTH_BENCH_THREADS` (default 1).
fn bench_threads() -> usize {
    std::env::var("HEARTH_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn types_filter() -> Vec<GgmlType> {
    let filter = std::env::var("HEARTH_BENCH_TYPES").unwrap_or_default();
    WEIGHT_TYPES
        .into_iter()
        .filter(|ty| filter.is_empty() || filter.split(',').any(|f| f == ty.name()))
        .collect()
}

/// Decode-like: one activation row against weights that do not fit in cache
/// (several matrices of 2048x2048, round-robin, > 64 MB in total; with
/// `HEARTH_BENCH_HOT` set, one matrix read again and again: the kernel's
/// speed from cache, not from memory).
#[test]
#[ignore]
fn bench_decode_stream() {
    let mut rng = Rng::new(3);
    // HEARTH_BENCH_SHAPE=N_OUTxK (default 2048x2048; gemma3-270m's vocabulary: 262144x640)
    let (n_out, k) = std::env::var("HEARTH_BENCH_SHAPE")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((2048, 2048));
    for ty in types_filter() {
        let mb = ty.bytes_for((n_out * k) as u64).unwrap() as usize;
        let hot = std::env::var("HEARTH_BENCH_HOT").is_ok();
        let copies = if hot { 1 } else { (64 << 20) / mb + 1 };
        // from cache: the one matrix as many times as the copies would be
        let passes = if hot { (64 << 20) / mb + 1 } else { 1 };
        let ws: Vec<Vec<u8>> = (0..copies)
            .map(|_| {
                (0..n_out)
                    .flat_map(|_| random_weights(&mut rng, ty, k))
                    .collect()
            })
            .collect();
        let x = random_acts(&mut rng, k);
        let mut acts = QuantizedActs::new();
        acts.quantize(ty, &x, 1, k);
        let mut out = vec![0f32; n_out];
        let mut line = format!("{:>5} stream {}x{}x{copies}:", ty.name(), n_out, k);
        for threads in [1, 2] {
            let pool = ThreadPool::new(threads);
            let mut best = f64::MAX;
            for _ in 0..6 {
                let t = Instant::now();
                for _ in 0..passes {
                    for w in &ws {
                        matmul(&pool, ty, w, n_out, k, &acts, &mut out).unwrap();
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gbs = (mb * copies * passes) as f64 / best / 1e9;
            line += &format!("  {threads}t {gbs:5.1} GB/s");
        }
        eprintln!("{line}");
    }
}

/// Prefill-like: 64 activation rows, 2048x2048 weights.
#[test]
#[ignore]
fn bench_prefill() {
    let mut rng = Rng::new(5);
    let (n_out, k, n_rows) = (2048, 2048, 64);
    for ty in types_filter() {
        let mut line = format!("{:>5} {n_out}x{k} n_rows={n_rows}:", ty.name());
        for threads in [1, 2] {
            let pool = ThreadPool::new(threads);
            let s = time_matmul(&pool, ty, n_out, k, n_rows, &mut rng);
            let gops = 2.0 * (n_out * k * n_rows) as f64 / s / 1e9;
            line += &format!("  {threads}t {:7.2} ms ({gops:5.1} GFLOP/s)", s * 1e3);
        }
        eprintln!("{line}");
    }
}

/// Activation quantization of 64 rows x 2048.
#[test]
#[ignore]
fn bench_quantize() {
    let mut rng = Rng::new(6);
    let (n_rows, k) = (64, 2048);
    let x = random_acts(&mut rng, n_rows * k);
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q4_K,
        GgmlType::F16,
    ] {
        let mut acts = QuantizedActs::new();
        acts.quantize(ty, &x, n_rows, k);
        let mut best = f64::MAX;
        for _ in 0..50 {
            let t = Instant::now();
            acts.quantize(ty, &x, n_rows, k);
            best = best.min(t.elapsed().as_secs_f64());
        }
        eprintln!(
            "quantize for {:>5} ({:?}) {n_rows}x{k}: {:7.1} us",
            ty.name(),
            kernels::vec_dot_type(ty),
            best * 1e6
        );
    }
}

/// `ThreadPool::run` overhead with trivial tasks.
#[test]
#[ignore]
fn bench_pool_overhead() {
    for threads in [1, 2] {
        let pool = ThreadPool::new(threads);
        let n = 20000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..n {
                pool.run(2 * threads, |i| {
                    std::hint::black_box(i);
                });
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        eprintln!(
            "pool {threads}t: run(2*threads, noop) {:6.2} us/run",
            best / n as f64 * 1e6
        );
    }
}

/// The tile kernels, one thread, weights in L2 (256 x 2048), minimum over
/// repetitions: ns per (weight row x activation row) dot
/// (`HEARTH_BENCH_TYPES=Q5_0,Q4_K` to pick formats).
#[test]
#[ignore]
fn bench_tiles() {
    let mut rng = Rng::new(8);
    let (n_out, k) = (256, 2048);
    let pool = ThreadPool::new(1);
    for ty in types_filter() {
        let w: Vec<u8> = (0..n_out)
            .flat_map(|_| random_weights(&mut rng, ty, k))
            .collect();
        let mut line = format!("{:>5} ns/dot:", ty.name());
        for n_rows in [1usize, 4, 8, 16, 64] {
            let x = random_acts(&mut rng, n_rows * k);
            let mut acts = QuantizedActs::new();
            acts.quantize(ty, &x, n_rows, k);
            let mut out = vec![0f32; n_rows * n_out];
            let mut best = f64::MAX;
            for _ in 0..(1600 / n_rows).max(20) {
                let t = Instant::now();
                matmul(&pool, ty, &w, n_out, k, &acts, &mut out).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            let per = best * 1e9 / (n_out * n_rows) as f64;
            line += &format!("  {n_rows}r {per:6.1}");
        }
        eprintln!("{line}");
    }
}

/// Multi-row throughput on qwen2.5-coder-0.5b's shapes (the batched decode
/// step of `hearth serve` / `hearth batch`), one thread by default
/// (`HEARTH_BENCH_THREADS`): G multiply-adds per second per row count.
#[test]
#[ignore]
fn bench_rows() {
    let mut rng = Rng::new(12);
    let threads = bench_threads();
    let pool = ThreadPool::new(threads);
    let shapes = [
        (GgmlType::Q5_0, 4864usize, 896usize),
        (GgmlType::Q5_0, 896, 4864),
        (GgmlType::Q8_0, 4864, 896),
        (GgmlType::Q8_0, 32768, 896),
        (GgmlType::Q4_K, 896, 4864),
        (GgmlType::Q6_K, 896, 4864),
    ];
    let filter = types_filter();
    for (ty, n_out, k) in shapes {
        if !filter.contains(&ty) {
            continue;
        }
        let mut line = format!("{threads}t {:>5} {n_out}x{k}:", ty.name());
        for n_rows in [1usize, 4, 8, 16, 64] {
            let s = time_matmul(&pool, ty, n_out, k, n_rows, &mut rng);
            let gmac = (n_out * k * n_rows) as f64 / s / 1e9;
            line += &format!("  {n_rows}r {gmac:5.1}");
        }
        eprintln!("{line}  (G multiply-adds/s)");
    }
}

/// The cached panels of `hearth serve`/`batch` (`PanelCache`) on
/// qwen2.5-coder-0.5b's shapes (`HEARTH_BENCH_THREADS`, default 1): G
/// multiply-adds per second per row count, minimum over repetitions.
#[test]
#[ignore]
fn bench_cached() {
    let mut rng = Rng::new(13);
    let threads = bench_threads();
    let pool = ThreadPool::new(threads);
    let filter = types_filter();
    for (ty, n_out, k) in [
        (GgmlType::Q5_0, 4864usize, 896usize),
        (GgmlType::Q8_0, 4864, 896),
        (GgmlType::Q8_0, 32768, 896),
        (GgmlType::Q6_K, 896, 4864),
        // Llama-3.2-3B's FFN shapes (Q4_K_M): larger than the L3 cache
        (GgmlType::Q4_K, 8192, 3072),
        (GgmlType::Q6_K, 3072, 8192),
    ] {
        if !filter.contains(&ty) {
            continue;
        }
        let w: Vec<u8> = (0..n_out)
            .flat_map(|_| random_weights(&mut rng, ty, k))
            .collect();
        let Some(cache) = kernels::PanelCache::build(ty, &w, n_out, k).unwrap() else {
            eprintln!("{ty}: no cached panels on this CPU");
            continue;
        };
        let mut line = format!("{threads}t {:>5} {n_out}x{k} cached:", ty.name());
        for n_rows in [4usize, 8, 16, 32] {
            let x = random_acts(&mut rng, n_rows * k);
            let mut acts = QuantizedActs::new();
            acts.quantize(ty, &x, n_rows, k);
            let mut out = vec![0f32; n_rows * n_out];
            let mut best = f64::MAX;
            for _ in 0..20 {
                let t = Instant::now();
                kernels::matmul_multi(
                    &pool,
                    &mut [kernels::MatmulJob {
                        weight_ty: ty,
                        w: &w,
                        n_out,
                        k,
                        acts: &acts,
                        out: &mut out,
                        cache: Some(&cache),
                    }],
                )
                .unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gmac = (n_out * k * n_rows) as f64 / best / 1e9;
            line += &format!("  {n_rows}r {gmac:5.1}");
        }
        eprintln!("{line}  (G multiply-adds/s)");
    }
}

/// The K-quant panel pass on Llama-3.2-3B's shapes (Q4_K_M: Q4_K and Q6_K,
/// `HEARTH_BENCH_THREADS`, default 1), prefill-sized row counts: G
/// multiply-adds per second, minimum over a few repetitions; `cached` with the
/// matrix's `PanelCache` (serve/batch/speculation), else unpacked per tile
/// (prefill). `HEARTH_BENCH_ROWS=64,512` picks the row counts.
#[test]
#[ignore]
fn bench_kquant_3b() {
    let mut rng = Rng::new(14);
    let threads = bench_threads();
    let pool = ThreadPool::new(threads);
    let filter = types_filter();
    let rows: Vec<usize> = std::env::var("HEARTH_BENCH_ROWS")
        .unwrap_or_else(|_| "64,512".into())
        .split(',')
        .filter_map(|v| v.parse().ok())
        .collect();
    for (ty, n_out, k) in [
        (GgmlType::Q4_K, 3072usize, 3072usize),
        (GgmlType::Q4_K, 8192, 3072),
        (GgmlType::Q4_K, 3072, 8192),
        (GgmlType::Q6_K, 3072, 8192),
    ] {
        if !filter.contains(&ty) {
            continue;
        }
        let w: Vec<u8> = (0..n_out)
            .flat_map(|_| random_weights(&mut rng, ty, k))
            .collect();
        let cache = kernels::PanelCache::build(ty, &w, n_out, k).unwrap();
        for cached in [false, true] {
            if cached && cache.is_none() {
                continue;
            }
            let mut line = format!(
                "{threads}t {:>5} {n_out}x{k}{}:",
                ty.name(),
                if cached { " cached" } else { "" }
            );
            for &n_rows in &rows {
                let x = random_acts(&mut rng, n_rows * k);
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, n_rows, k);
                let mut out = vec![0f32; n_rows * n_out];
                let mut best = f64::MAX;
                for _ in 0..(2048 / n_rows).clamp(3, 12) {
                    let t = Instant::now();
                    kernels::matmul_multi(
                        &pool,
                        &mut [kernels::MatmulJob {
                            weight_ty: ty,
                            w: &w,
                            n_out,
                            k,
                            acts: &acts,
                            out: &mut out,
                            cache: if cached { cache.as_ref() } else { None },
                        }],
                    )
                    .unwrap();
                    best = best.min(t.elapsed().as_secs_f64());
                }
                let gmac = (n_out * k * n_rows) as f64 / best / 1e9;
                line += &format!("  {n_rows}r {gmac:5.1}");
            }
            eprintln!("{line}  (G multiply-adds/s)");
        }
    }
}

/// Causal attention of a prefill on one thread: `HEARTH_BENCH_ATTN=HDxPOS`
/// (default gemma3-270m's 256x512: head size 256, 512 positions), one KV
/// head, the query rows 8 at a time as the model calls them. G multiply-adds
/// per second (scores and value sums).
#[test]
#[ignore]
fn bench_attention() {
    use kernels::{attend_rows, f16, KvHead, ATTN_MAX_ROWS};
    let (hd, n) = std::env::var("HEARTH_BENCH_ATTN")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((256usize, 512usize));
    let mut rng = Rng::new(9);
    let k: Vec<f16> = random_acts(&mut rng, n * hd)
        .iter()
        .map(|&x| f16::from_f32(x))
        .collect();
    let v: Vec<f16> = random_acts(&mut rng, n * hd)
        .iter()
        .map(|&x| f16::from_f32(x))
        .collect();
    let q = random_acts(&mut rng, n * hd);
    let mut out = vec![0f32; n * hd];
    let kv = KvHead {
        k: &k,
        v: &v,
        stride: hd,
        off: 0,
    };
    let scale = 1.0 / (hd as f32).sqrt();
    let mut best = f64::MAX;
    for _ in 0..10 {
        let t = Instant::now();
        for (qs, os) in q
            .chunks(ATTN_MAX_ROWS * hd)
            .zip(out.chunks_mut(ATTN_MAX_ROWS * hd))
        {
            let pos0 = (qs.as_ptr() as usize - q.as_ptr() as usize) / 4 / hd;
            let qr: Vec<&[f32]> = qs.chunks(hd).collect();
            let mut or: Vec<&mut [f32]> = os.chunks_mut(hd).collect();
            attend_rows(&qr, kv, 0, pos0, scale, &mut or);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let macs = 2.0 * hd as f64 * (n * (n + 1) / 2) as f64;
    eprintln!(
        "attention hd={hd} positions={n} ({}): {:.2} ms, {:.1} G multiply-adds/s",
        simd_level(),
        best * 1e3,
        macs / best / 1e9
    );
}
