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
    let mut n_ctx = a.depth + a.prompt.max(a.gen) + 1;
    let spec = a.spec.speculation();
    if spec.is_on() {
        // the code edit's prompt and its answer
        n_ctx = n_ctx.max(SPEC_CTX);
    }
    let sequences = if a.parallel > 1 && a.gen > 0 {
        a.parallel as usize
    } else {
        1
    };
    let opts = LoadOptions {
        ctx: Ctx::AtMost(n_ctx),
        cache: Cache::Sequences(sequences),
        panels: None,
        mapped: a.weights.mmap,
    };
    let loaded = super::load_generator(&a.model, &opts)?;
    let weights = loaded.weights;
    let mut lm = loaded.model;
    let load_seconds = t0.elapsed().as_secs_f64();
    let threads = a.threads.unwrap_or_else(engine::default_threads).max(1);
    let pool = ThreadPool::new(threads);
    // Load to first token: the load above, then a short prompt to its first
    // sampled token (weights still cold in this process).
    let first_tokens = engine::bench::first_token(&lm, &pool)?;
    let first_token_seconds = t0.elapsed().as_secs_f64();
    // the speeds are measured on the weights as they will stay: once their
    // copy into memory (if any, in the background) has finished
    lm.model.file().wait_resident();
    let cfg = BenchConfig {
        prompt_tokens: a.prompt,
        gen_tokens: a.gen,
        depth: a.depth,
        reps: a.reps.max(1),
        parallel: a.parallel as usize,
        panel_cache: !a.no_panel_cache,
        grammar: super::grammar_from_flags(a.json_schema.as_deref(), None, None)?.map(|g| g.0),
    };
    if let Some(g) = &cfg.grammar {
        // refused up front, naming the flag, when it cannot be enforced
        super::compile_grammar(&lm, Some(&(g.clone(), "--json-schema".into())), None)?;
    }
    let r = engine::bench::run(&lm, &pool, &cfg)?;
    // speculative decoding, last (the draft model loads after the rest ran)
    let sb = if spec.is_on() {
        super::attach_draft(
            &mut lm,
            a.spec.draft.as_deref(),
            SPEC_CTX,
            1,
            a.weights.mmap,
        )?;
        if !a.no_panel_cache {
            // a verify step is a batched step: as `run --spec` does
            lm.build_panel_caches(pool.n_threads(), None)?;
        }
        let n = if a.gen > 0 { a.gen } else { 128 };
        let sb = engine::spec::bench(&lm, &pool, n, cfg.reps, &spec)?;
        if !sb.identical {
            anyhow::bail!(
                "speculative decoding gave other tokens than plain decoding on the benchmark's code edit: a bug in hearth, please report it"
            );
        }
        Some(sb)
    } else {
        None
    };
    let (pp, tg, tgp) = (
        Spread::of(&r.pp),
        Spread::of(&r.tg),
        Spread::of(&r.tg_parallel),
    );
    let tgs = Spread::of(&r.tg_grammar);
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
            // (after the wait above: the copy finished, not only started)
            "weights_resident": lm.model.file().is_resident(),
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
        if !r.tg_grammar.is_empty() {
            v["tg_schema"] = json!({"tokens": a.gen, "tok_per_s": spread(tgs), "runs": r.tg_grammar,
                "cost_vs_tg": round2(1.0 - tgs.median / tg.median.max(1e-9))});
        }
        if !r.tg_parallel.is_empty() {
            v["tg_parallel"] = json!({"sequences": a.parallel, "tokens": a.gen, "tok_per_s": spread(tgp), "runs": r.tg_parallel, "panel_cache_bytes": r.panel_cache_bytes});
        }
        if let Some(sb) = &sb {
            v["speculative"] = json!({
                "task": "code edit, greedy",
                "tokens": sb.tokens,
                "lookup": spec.lookup,
                "draft": a.spec.draft,
                "draft_max": spec.n_max,
                "plain_tok_per_s": spread(Spread::of(&sb.plain)),
                "spec_tok_per_s": spread(Spread::of(&sb.spec)),
                "speedup": round2(Spread::of(&sb.spec).median / Spread::of(&sb.plain).median.max(1e-9)),
                "identical": sb.identical,
                "drafted_tokens": sb.stats.drafted,
                "accepted_tokens": sb.stats.accepted,
                "verify_steps": sb.stats.steps,
                "acceptance_rate": sb.stats.acceptance(),
                "plain_runs": sb.plain,
                "spec_runs": sb.spec,
            });
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
            "load to first token ({}-token prompt): {:.3} s (load {:.3} s; weights {})",
            first_tokens,
            first_token_seconds,
            load_seconds,
            weights.describe_now(lm.model.file())
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
        if !r.tg_grammar.is_empty() {
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}  (JSON schema: {:.1} % slower than tg)",
                format!("tg{}{} schema", a.gen, at),
                tgs.min,
                tgs.median,
                tgs.max,
                100.0 * (1.0 - tgs.median / tg.median.max(1e-9))
            );
        }
        if !r.tg_parallel.is_empty() {
            let name = format!("tg{}x{}{}", a.gen, a.parallel, at);
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}  (aggregate of {} sequences)",
                name, tgp.min, tgp.median, tgp.max, a.parallel
            );
            if r.panel_cache_bytes > 0 {
                let part = if (r.panel_cache_bytes as usize) < lm.model.panel_cache_bytes() {
                    " (all but the routed experts: the whole would not fit)"
                } else {
                    ""
                };
                println!(
                    "(weight panels unpacked once for the batched steps: {:.0} MB{part}; --no-panel-cache to compare)",
                    r.panel_cache_bytes as f64 / 1e6
                );
            } else if !a.no_panel_cache && lm.model.panel_cache_bytes() > 0 {
                println!(
                    "(no weight panels: {:.0} MB would not fit a quarter of the available memory)",
                    lm.model.panel_cache_bytes() as f64 / 1e6
                );
            }
        }
        if let Some(sb) = &sb {
            let (p, s) = (Spread::of(&sb.plain), Spread::of(&sb.spec));
            let name = format!("edit tg{}", sb.tokens);
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}",
                name, p.min, p.median, p.max
            );
            println!(
                "{:<14} {:>10.2} {:>10.2} {:>10.2}  ({:.2}x, the same tokens)",
                format!("{name} spec"),
                s.min,
                s.median,
                s.max,
                s.median / p.median.max(1e-9)
            );
            println!("{}", super::spec_summary(&sb.stats));
        }
    }
    Ok(())
}

/// Context for the speculation benchmark's code edit and its answer.
const SPEC_CTX: usize = 1024;

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
