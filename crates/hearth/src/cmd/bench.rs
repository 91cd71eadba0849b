//! `hearth bench`: llama-bench-style throughput, human table or `--json`.

use crate::cli::BenchArgs;
use crate::exit::InputError;
use engine::bench::{BenchConfig, Spread};
use engine::{Cache, Ctx, LoadOptions, ThreadPool};
use serde_json::json;

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    if a.prompt == 0 && a.gen == 0 {
        return Err(InputError("nothing to measure: -p and -n are both 0".into()).into());
    }
    let t0 = std::time::Instant::now();
    // The memory preflight counts the sessions the measurement makes: one of
    // depth + the longer test, or `--parallel` of them.
    let n_ctx = a.depth + a.prompt.max(a.gen) + 1;
    let sequences = if a.parallel > 1 && a.gen > 0 {
        a.parallel as usize
    } else {
        1
    };
    let opts = LoadOptions {
        ctx: Ctx::AtMost(n_ctx),
        cache: Cache::Sequences(sequences),
        panels: None,
    };
    let lm = super::load_generator(&a.model, &opts)?.model;
    let load_seconds = t0.elapsed().as_secs_f64();
    let threads = a.threads.unwrap_or_else(engine::default_threads).max(1);
    let pool = ThreadPool::new(threads);
    // Load to first token: the load above, then a short prompt to its first
    // sampled token (weights still cold in this process).
    let first_tokens = engine::bench::first_token(&lm, &pool)?;
    let first_token_seconds = t0.elapsed().as_secs_f64();
    let cfg = BenchConfig {
        prompt_tokens: a.prompt,
        gen_tokens: a.gen,
        depth: a.depth,
        reps: a.reps.max(1),
        parallel: a.parallel as usize,
        panel_cache: !a.no_panel_cache,
    };
    let r = engine::bench::run(&lm, &pool, &cfg)?;
    let (pp, tg, tgp) = (
        Spread::of(&r.pp),
        Spread::of(&r.tg),
        Spread::of(&r.tg_parallel),
    );
    let spread =
        |s: Spread| json!({"min": round2(s.min), "median": round2(s.median), "max": round2(s.max)});
    if a.json {
        let mut v = json!({
            "model": a.model.display().to_string(),
            "architecture": lm.model.config.arch.name(),
            "threads": threads,
            "depth": a.depth,
            "repetitions": cfg.reps,
            "simd": engine::simd_level(),
            "cpu": cpu_name(),
            "load_seconds": round2(load_seconds),
            "load_to_first_token_seconds": (first_token_seconds * 1000.0).round() / 1000.0,
            "first_token_prompt_tokens": first_tokens,
            "peak_rss_bytes": peak_rss_bytes(),
        });
        if a.prompt > 0 {
            v["pp"] = json!({"tokens": a.prompt, "tok_per_s": spread(pp), "runs": r.pp});
        }
        if a.gen > 0 {
            v["tg"] = json!({"tokens": a.gen, "tok_per_s": spread(tg), "runs": r.tg});
        }
        if !r.tg_parallel.is_empty() {
            v["tg_parallel"] = json!({"sequences": a.parallel, "tokens": a.gen, "tok_per_s": spread(tgp), "runs": r.tg_parallel, "panel_cache_bytes": r.panel_cache_bytes});
        }
        println!("{v}");
    } else {
        println!(
            "model: {} ({}), {} threads, {} SIMD, {} repetitions",
            a.model.display(),
            lm.model.config.arch.name(),
            threads,
            engine::simd_level(),
            cfg.reps
        );
        println!(
            "load to first token ({}-token prompt): {:.3} s (load {:.3} s)",
            first_tokens, first_token_seconds, load_seconds
        );
        println!(
            "{:<14} {:>10} {:>10} {:>10}",
            "test", "min t/s", "median", "max"
        );
        let at = if a.depth > 0 {
            format!(" @ d{}", a.depth)
        } else {
            String::new()
        };
        if a.prompt > 0 {
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}",
                format!("pp{}{}", a.prompt, at),
                pp.min,
                pp.median,
                pp.max
            );
        }
        if a.gen > 0 {
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}",
                format!("tg{}{}", a.gen, at),
                tg.min,
                tg.median,
                tg.max
            );
        }
        if !r.tg_parallel.is_empty() {
            let name = format!("tg{}x{}{}", a.gen, a.parallel, at);
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}  (aggregate of {} sequences)",
                name, tgp.min, tgp.median, tgp.max, a.parallel
            );
            if r.panel_cache_bytes > 0 {
                println!(
                    "(weight panels unpacked once for the batched steps: {:.0} MB; --no-panel-cache to compare)",
                    r.panel_cache_bytes as f64 / 1e6
                );
            }
        }
    }
    Ok(())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The CPU's model name (Linux), or `None`.
fn cpu_name() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
}

/// Peak resident set size of this process (Linux `VmHWM`), or `None`.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
