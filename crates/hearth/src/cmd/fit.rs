//! `hearth fit` and `hearth doctor`: memory and speed, before loading.

use crate::cli::{DoctorArgs, FitArgs};
use crate::exit::InputError;
use engine::fit::{self, gib, MemoryEstimate, Verdict};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// What the machine offers, measured once.
struct MachineInfo {
    total: Option<u64>,
    available: Option<u64>,
    bandwidth: Option<f64>,
}

fn machine(threads: usize) -> MachineInfo {
    let mem = fit::memory_info();
    MachineInfo {
        total: mem.map(|m| m.0),
        available: mem.map(|m| m.1),
        bandwidth: fit::probe_bandwidth(threads, Duration::from_millis(1500)),
    }
}

struct Assessment {
    n_ctx: usize,
    n_ctx_train: usize,
    e: MemoryEstimate,
    verdict: Option<Verdict>,
    max_ctx: Option<usize>,
    tg: Option<f64>,
}

fn assess(path: &Path, ctx: Option<usize>, m: &MachineInfo) -> anyhow::Result<Assessment> {
    let f = gguf::GgufFile::open(path)?;
    let n_vocab = f.tensor("token_embd.weight").and_then(|t| t.dims.get(1).copied()).unwrap_or(1) as usize;
    let c = model::Config::from_gguf(&f, n_vocab)?;
    let n_ctx = match ctx {
        Some(0) => return Err(InputError("--ctx must be at least 1".into()).into()),
        Some(n) if n > c.n_ctx_train => {
            return Err(InputError(format!(
                "--ctx {n} is larger than this model's trained context of {} tokens; use at most {}",
                c.n_ctx_train, c.n_ctx_train
            ))
            .into())
        }
        Some(n) => n,
        None => c.n_ctx_train.min(4096),
    };
    let e = fit::estimate(&f, n_ctx)?;
    Ok(Assessment {
        n_ctx,
        n_ctx_train: c.n_ctx_train,
        verdict: m.available.map(|a| fit::verdict(e.memory_bytes, a)),
        max_ctx: m.available.map(|a| fit::max_ctx(&e, c.n_ctx_train, a)),
        tg: m.bandwidth.map(|b| fit::predict_tg(&e, 0, b)),
        e,
    })
}

fn to_json(path: &Path, a: &Assessment) -> Value {
    json!({
        "model": path.display().to_string(),
        "ctx": a.n_ctx,
        "n_ctx_train": a.n_ctx_train,
        "memory_bytes": a.e.memory_bytes,
        "weights_bytes": a.e.weights_bytes,
        "kv_cache_bytes": a.e.kv_cache_bytes,
        "scratch_bytes": a.e.scratch_bytes,
        "overhead_bytes": a.e.overhead_bytes,
        "fits": a.verdict.map(|v| v != Verdict::DoesNotFit),
        "verdict": a.verdict.map(|v| v.as_str()),
        "max_ctx": a.max_ctx,
        "predicted_tg_tok_per_s": a.tg.map(|t| (t * 10.0).round() / 10.0),
    })
}

fn print_human(path: &Path, a: &Assessment) {
    println!("{}", path.display());
    println!(
        "  needs {} at context {} (weights {}, KV cache {}, scratch {}, other {})",
        gib(a.e.memory_bytes),
        a.n_ctx,
        gib(a.e.weights_bytes),
        gib(a.e.kv_cache_bytes),
        gib(a.e.scratch_bytes),
        gib(a.e.overhead_bytes)
    );
    match (a.verdict, a.max_ctx) {
        (Some(v), Some(mc)) => println!("  {} — largest context that fits: {mc} (trained: {})", v.as_str(), a.n_ctx_train),
        _ => println!("  fit unknown: available memory could not be read"),
    }
    match a.tg {
        Some(t) => println!("  predicted generation: about {t:.0} tokens/s"),
        None => println!("  predicted generation: unknown (bandwidth probe failed)"),
    }
}

pub fn run(a: FitArgs) -> anyhow::Result<()> {
    let m = machine(kernels::default_threads());
    let s = assess(&super::pull::resolve_model(&a.model)?, a.ctx, &m)?;
    if a.json {
        println!("{}", to_json(&a.model, &s));
    } else {
        print_human(&a.model, &s);
    }
    Ok(())
}

pub fn doctor(a: DoctorArgs) -> anyhow::Result<()> {
    let threads = kernels::default_threads();
    let m = machine(threads);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|v| v.trim().to_string()));
    // Models named on the command line, then every model in the store.
    let store = store::Store::from_env();
    let (installed, broken) = store.list();
    let mut paths: Vec<std::path::PathBuf> = a.models.clone();
    for man in &installed {
        paths.push(store.gguf_path(&store.resolve_ref(&man.name, Some(&man.tag))));
    }
    let mut models = Vec::new();
    for p in &paths {
        match assess(p, None, &m) {
            Ok(s) => models.push((p.clone(), Ok(s))),
            Err(e) => models.push((p.clone(), Err(format!("{e:#}")))),
        }
    }
    // Catalog models not downloaded: judged from their file size alone (the
    // KV cache is known only once the file's metadata can be read).
    let have: Vec<String> = installed.iter().map(|m| format!("{}:{}", m.name, m.tag)).collect();
    let catalog: Vec<(String, Option<u64>)> = store::catalog::entries()
        .into_iter()
        .map(|e| (format!("{}:{}", e.name, e.tag), e.size))
        .filter(|(n, _)| !have.contains(n))
        .collect();
    let catalog_view = |size: Option<u64>| {
        let verdict = match (size, m.available) {
            (Some(b), Some(av)) => Some(fit::verdict(b + b / 8, av)),
            _ => None,
        };
        let tg = match (size, m.bandwidth) {
            (Some(b), Some(bw)) => Some(bw * 0.75 / b as f64),
            _ => None,
        };
        (verdict, tg)
    };
    if a.json {
        let v = json!({
            "cpu": cpu,
            "cores": threads,
            "simd": kernels::simd_level(),
            "memory_total_bytes": m.total,
            "memory_available_bytes": m.available,
            "bandwidth_bytes_per_s": m.bandwidth.map(|b| b.round()),
            "models": models.iter().map(|(p, r)| match r {
                Ok(s) => to_json(p, s),
                Err(e) => json!({"model": p.display().to_string(), "error": e}),
            }).collect::<Vec<_>>(),
            "store_errors": broken.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "catalog": catalog.iter().map(|(name, size)| {
                let (verdict, tg) = catalog_view(*size);
                json!({
                    "model": name,
                    "file_bytes": size,
                    "fits": verdict.map(|v| v != Verdict::DoesNotFit),
                    "verdict": verdict.map(|v| v.as_str()),
                    "predicted_tg_tok_per_s": tg.map(|t| (t * 10.0).round() / 10.0),
                    "estimate": "from the file size (about 1/8 added for cache and runtime); exact after `hearth pull`",
                })
            }).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!("CPU:        {}", cpu.as_deref().unwrap_or("unknown (could not read /proc/cpuinfo)"));
    println!("cores:      {threads} (threads hearth uses by default)");
    println!("SIMD:       {}", kernels::simd_level());
    match (m.total, m.available) {
        (Some(t), Some(av)) => println!("memory:     {} total, {} available", gib(t), gib(av)),
        _ => println!("memory:     unknown (could not read /proc/meminfo)"),
    }
    match m.bandwidth {
        Some(b) => println!("bandwidth:  {:.1} GB/s memory read (measured)", b / 1e9),
        None => println!("bandwidth:  unknown (the probe failed)"),
    }
    if models.is_empty() {
        println!("models:     none in the store ({}) — `hearth pull NAME` fetches one", store.root.display());
    }
    for (p, r) in &models {
        match r {
            Ok(s) => print_human(p, s),
            Err(e) => println!("{}: {e}", p.display()),
        }
    }
    for e in &broken {
        println!("store problem: {e}");
    }
    if !catalog.is_empty() {
        println!("catalog (not downloaded; judged from file size, exact after `hearth pull`):");
        for (name, size) in &catalog {
            let (verdict, tg) = catalog_view(*size);
            println!(
                "  {name:<24} {:>9}  {:<13} {}",
                size.map(gib).unwrap_or_else(|| "size ?".into()),
                verdict.map(|v| v.as_str()).unwrap_or("fit unknown"),
                tg.map(|t| format!("~{t:.0} tok/s")).unwrap_or_default()
            );
        }
    }
    Ok(())
}
