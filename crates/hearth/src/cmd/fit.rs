//! `hearth fit` and `hearth doctor`: memory and speed, before loading.
//!
//! A model file at hand is judged from its own metadata and tensor sizes; a
//! catalog model not downloaded yet from the catalog's facts about it (its
//! file size and shape). Both go through the same `engine::fit` formula.

use crate::cli::{DoctorArgs, FitArgs};
use crate::exit::InputError;
use engine::fit::{self, gib, MemoryEstimate, ModelShape, Verdict};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use store::catalog::{Entry, Facts};
use store::name::Spec;
use store::Store;

/// What the machine offers, measured once.
struct MachineInfo {
    total: Option<u64>,
    available: Option<u64>,
    bandwidth: Option<f64>,
    /// The share of the CPU other programs used while the bandwidth was
    /// measured (the best of the probe's passes is kept, but a busy machine
    /// still reads low).
    busy: Option<f64>,
}

fn machine(threads: usize) -> MachineInfo {
    let mem = fit::memory_info();
    let (bandwidth, busy) =
        fit::others_busy_during(|| fit::probe_bandwidth(threads, Duration::from_millis(1500)));
    MachineInfo {
        total: mem.map(|m| m.0),
        available: mem.map(|m| m.1),
        bandwidth,
        busy,
    }
}

/// A line for a bandwidth measured beside other busy programs.
fn busy_note(m: &MachineInfo) -> Option<String> {
    let b = m.busy.filter(|b| *b > fit::BUSY_SHARE)?;
    Some(format!(
        "note: other programs used {:.0} % of the CPU while the bandwidth was measured, so it and the speed predictions may read low; run this again when the machine is idle",
        b * 100.0
    ))
}

struct Assessment {
    n_ctx: usize,
    n_ctx_train: usize,
    e: MemoryEstimate,
    verdict: Option<Verdict>,
    max_ctx: Option<usize>,
    /// Predicted generation speed (none for an embedding model).
    tg: Option<f64>,
    /// An embedding model: it makes embeddings, not text.
    embedding: bool,
}

/// The context to assess: the one asked for (at most the trained context),
/// else the model's default.
fn pick_ctx(shape: &ModelShape, ctx: Option<usize>) -> anyhow::Result<usize> {
    match ctx {
        Some(0) => Err(InputError("--ctx must be at least 1".into()).into()),
        Some(n) if n > shape.n_ctx_train => Err(InputError(format!(
            "--ctx {n} is larger than this model's trained context of {} tokens; use at most {}",
            shape.n_ctx_train, shape.n_ctx_train
        ))
        .into()),
        Some(n) => Ok(n),
        None => Ok(shape.default_ctx()),
    }
}

fn assess(shape: &ModelShape, n_ctx: usize, m: &MachineInfo) -> Assessment {
    let e = fit::estimate_shape(shape, n_ctx);
    Assessment {
        n_ctx,
        n_ctx_train: shape.n_ctx_train,
        verdict: m.available.map(|a| fit::verdict(e.memory_bytes, a)),
        max_ctx: m.available.map(|a| fit::max_ctx(&e, shape.n_ctx_train, a)),
        tg: m
            .bandwidth
            .filter(|_| !shape.embedding)
            .map(|b| fit::predict_tg(&e, 0, b)),
        embedding: shape.embedding,
        e,
    }
}

fn file_shape(path: &Path) -> anyhow::Result<ModelShape> {
    Ok(ModelShape::from_file(path)?)
}

/// The estimate's input for a model not downloaded: its catalog facts (the
/// tokenizer's heap estimated from the vocabulary; the rest as in the file).
fn catalog_shape(f: &Facts) -> ModelShape {
    let (kv_layers, recurrent_bytes) =
        fit::catalog_parts(f.n_layer, f.n_head * f.head_dim, f.ssm());
    ModelShape {
        n_layer: f.n_layer,
        kv_layers: f.kv_layers.unwrap_or(kv_layers),
        kv_per_token: f.kv_per_token,
        row_table_bytes: f.row_table_bytes,
        recurrent_bytes,
        n_embd: f.n_embd,
        n_head: f.n_head,
        n_head_kv: f.n_head_kv,
        head_dim: f.head_dim,
        n_ff: f.n_ff,
        n_vocab: f.n_vocab,
        n_ctx_train: f.n_ctx_train,
        tensor_bytes: f.tensor_bytes,
        embd_bytes: f.embd_bytes,
        output_tensor: f.output_tensor,
        metadata_bytes: fit::metadata_bytes_estimate(f.n_vocab, f.n_merges, f.token_scores),
        header_bytes: f.file_bytes.saturating_sub(f.tensor_bytes),
        // a mixture of experts: the experts a token leaves idle
        idle_expert_bytes: f.idle_expert_bytes(),
        embedding: fit::is_embedding_arch(&f.arch),
    }
}

fn supported(f: &Facts) -> bool {
    fit::arch_supported(&f.arch)
}

/// The catalog entry `spec` names when it is a name (not a path or URL) of a
/// catalog model that is not in the store.
fn not_downloaded(store: &Store, spec: &str) -> Option<&'static Entry> {
    let Ok(Spec::Name(n, t)) = store::name::parse_spec(spec) else {
        return None;
    };
    let r = store.resolve_ref(&n, t.as_deref());
    if !matches!(store.installed(&r), Ok(None)) {
        return None;
    }
    store::catalog::find(&r.name, Some(&r.tag))
}

fn full_name(e: &Entry) -> String {
    e.reference()
}

/// A file size, with "≈" when it was computed rather than read.
fn file_size(f: &Facts) -> String {
    format!(
        "{}{}",
        if f.size_is_estimate { "≈" } else { "" },
        gib(f.file_bytes)
    )
}

fn to_json(model: &str, a: &Assessment) -> Value {
    json!({
        "model": model,
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
        "bytes_per_token": a.e.bytes_per_token,
        "embedding_model": a.embedding,
    })
}

/// The JSON of a catalog model not downloaded: its assessment from the
/// catalog's facts, or why there is none.
fn catalog_json(e: &Entry, a: Option<&Assessment>) -> Value {
    let f = &e.facts;
    let mut v = match a {
        Some(a) => to_json(&full_name(e), a),
        None => json!({
            "model": full_name(e),
            "fits": null,
            "verdict": "architecture not supported yet",
            "n_ctx_train": f.n_ctx_train,
        }),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("downloaded".into(), json!(false));
        o.insert("architecture".into(), json!(f.arch));
        o.insert("supported".into(), json!(supported(f)));
        o.insert("file_bytes".into(), json!(f.file_bytes));
        o.insert("size_is_estimate".into(), json!(f.size_is_estimate));
        o.insert(
            "estimate_from".into(),
            json!("catalog facts (the model is not downloaded)"),
        );
        o.insert(
            "pull".into(),
            json!(format!("hearth pull {}", full_name(e))),
        );
    }
    v
}

/// Tokens/s: one decimal below 10.
fn tok_s(t: f64) -> String {
    if t < 10.0 {
        format!("~{t:.1} tok/s")
    } else {
        format!("~{t:.0} tok/s")
    }
}

fn print_human(label: &str, a: &Assessment) {
    println!("{label}");
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
        (Some(v), Some(mc)) => println!(
            "  {} — largest context that fits: {mc} (trained: {})",
            v.as_str(),
            a.n_ctx_train
        ),
        _ => println!("  fit unknown: available memory could not be read"),
    }
    match a.tg {
        _ if a.embedding => println!(
            "  embedding model: it makes embeddings (hearth embed, /v1/embeddings, /api/embed), not text"
        ),
        Some(t) => println!(
            "  predicted generation: about {}",
            tok_s(t).trim_start_matches('~')
        ),
        None => println!("  predicted generation: unknown (bandwidth probe failed)"),
    }
}

pub fn run(a: FitArgs) -> anyhow::Result<()> {
    let threads = engine::default_threads();
    let store = Store::from_env();
    // A catalog model not downloaded: judged from the catalog, not pulled.
    if let Some(e) = a.model.to_str().and_then(|s| not_downloaded(&store, s)) {
        let name = full_name(e);
        if !supported(&e.facts) {
            return Err(fit::unsupported_arch(&name, &e.facts.arch).into());
        }
        let shape = catalog_shape(&e.facts);
        let m = machine(threads);
        let s = assess(&shape, pick_ctx(&shape, a.ctx)?, &m);
        if a.json {
            println!("{}", catalog_json(e, Some(&s)));
        } else {
            print_human(&format!("{name} (not downloaded: judged from the catalog; `hearth pull {name}` fetches it, {})", file_size(&e.facts)), &s);
            if let Some(n) = busy_note(&m) {
                println!("  {n}");
            }
        }
        return Ok(());
    }
    let path = super::pull::resolve_model(&a.model)?;
    let shape = file_shape(&path)?;
    let m = machine(threads);
    let s = assess(&shape, pick_ctx(&shape, a.ctx)?, &m);
    if a.json {
        println!("{}", to_json(&a.model.display().to_string(), &s));
    } else {
        print_human(&a.model.display().to_string(), &s);
        if let Some(n) = busy_note(&m) {
            println!("  {n}");
        }
    }
    Ok(())
}

pub fn doctor(a: DoctorArgs) -> anyhow::Result<()> {
    let threads = engine::default_threads();
    let m = machine(threads);
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    });
    // Models named on the command line, then every model in the store.
    let store = Store::from_env();
    let (installed, broken) = store.list();
    let mut paths: Vec<std::path::PathBuf> = a.models.clone();
    for man in &installed {
        paths.push(store.gguf_path(&store.resolve_ref(&man.name, Some(&man.tag))));
    }
    let models: Vec<(std::path::PathBuf, Result<Assessment, String>)> = paths
        .into_iter()
        .map(|p| {
            let r = file_shape(&p)
                .map(|s| assess(&s, s.default_ctx(), &m))
                .map_err(|e| format!("{e:#}"));
            (p, r)
        })
        .collect();
    // Catalog models not downloaded: judged from the catalog's facts.
    let have: Vec<String> = installed
        .iter()
        .map(|m| format!("{}:{}", m.name, m.tag))
        .collect();
    let catalog: Vec<(&Entry, Option<Assessment>)> = store::catalog::entries()
        .iter()
        .filter(|e| !have.contains(&full_name(e)))
        .map(|e| {
            let shape = catalog_shape(&e.facts);
            let a = supported(&e.facts).then(|| assess(&shape, shape.default_ctx(), &m));
            (e, a)
        })
        .collect();
    if a.json {
        let v = json!({
            "cpu": cpu,
            "cores": threads,
            "simd": engine::simd_level(),
            "memory_total_bytes": m.total,
            "memory_available_bytes": m.available,
            "bandwidth_bytes_per_s": m.bandwidth.map(|b| b.round()),
            "transparent_huge_pages": engine::fit::huge_page_mode(),
            "cpu_share_used_by_others_while_measured": m.busy,
            "models": models.iter().map(|(p, r)| match r {
                Ok(s) => to_json(&p.display().to_string(), s),
                Err(e) => json!({"model": p.display().to_string(), "error": e}),
            }).collect::<Vec<_>>(),
            "store_errors": broken.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "catalog": catalog.iter().map(|(e, a)| catalog_json(e, a.as_ref())).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "CPU:        {}",
        cpu.as_deref()
            .unwrap_or("unknown (could not read /proc/cpuinfo)")
    );
    println!("cores:      {threads} (threads hearth uses by default)");
    println!("SIMD:       {}", engine::simd_level());
    match (m.total, m.available) {
        (Some(t), Some(av)) => println!("memory:     {} total, {} available", gib(t), gib(av)),
        _ => println!("memory:     unknown (could not read /proc/meminfo)"),
    }
    match m.bandwidth {
        Some(b) => println!("bandwidth:  {:.1} GB/s memory read (measured)", b / 1e9),
        None => println!("bandwidth:  unknown (the probe failed)"),
    }
    if let Some(n) = busy_note(&m) {
        println!("            {n}");
    }
    match engine::fit::huge_page_mode().as_deref() {
        Some(mode @ ("always" | "madvise")) => println!(
            "huge pages: {mode} (a model that fits comfortably is copied into 2 MB pages: faster decode; --mmap keeps the file mapped)"
        ),
        Some(mode) => println!(
            "huge pages: {mode} (the weights' copy gets 4 KB pages; `echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled` allows 2 MB ones: faster decode)"
        ),
        None => println!("huge pages: unknown (not Linux, or no transparent huge pages)"),
    }
    if models.is_empty() {
        println!(
            "models:     none in the store ({}) — `hearth pull NAME` fetches one",
            store.root.display()
        );
    }
    for (p, r) in &models {
        match r {
            Ok(s) => print_human(&p.display().to_string(), s),
            Err(e) => println!("{}: {e}", p.display()),
        }
    }
    for e in &broken {
        println!("store problem: {e}");
    }
    if !catalog.is_empty() {
        println!("catalog, not downloaded (judged from the catalog's facts; ≈: file size computed from the model's shape; `hearth pull NAME` fetches one):");
        for (e, a) in &catalog {
            let head = format!("  {:<20} {:>10} file", full_name(e), file_size(&e.facts));
            let Some(a) = a else {
                println!("{head}  architecture {} not supported yet", e.facts.arch);
                continue;
            };
            println!(
                "{head}  needs {:>9} at context {:<5}  {:<13} {}",
                gib(a.e.memory_bytes),
                a.n_ctx,
                a.verdict.map(|v| v.as_str()).unwrap_or("fit unknown"),
                if a.embedding {
                    "embedding model".into()
                } else {
                    a.tg.map(tok_s).unwrap_or_else(|| "tok/s unknown".into())
                }
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate from the catalog's facts is the one from the file, for the
    /// three models whose files can be checked: identical but for the
    /// tokenizer's heap, which the facts only approximate.
    #[test]
    fn catalog_estimate_equals_file_estimate() {
        for (short, name, tag) in [
            ("smollm2-135m", "smollm2", "135m"),
            ("gemma3-270m", "gemma3", "270m"),
            ("qwen2.5-coder-0.5b", "qwen2.5-coder", "0.5b"),
        ] {
            let Some(path) = test_models::model(short) else {
                continue;
            };
            let from_file = file_shape(&path).unwrap();
            let from_facts = catalog_shape(&store::catalog::find(name, Some(tag)).unwrap().facts);
            assert_eq!(
                ModelShape {
                    metadata_bytes: 0,
                    ..from_file.clone()
                },
                ModelShape {
                    metadata_bytes: 0,
                    ..from_facts.clone()
                },
                "{short}"
            );
            for ctx in [256, from_file.default_ctx()] {
                let (a, b) = (
                    fit::estimate_shape(&from_file, ctx),
                    fit::estimate_shape(&from_facts, ctx),
                );
                assert_eq!(
                    (
                        a.weights_bytes,
                        a.kv_cache_bytes,
                        a.scratch_bytes,
                        a.bytes_per_token
                    ),
                    (
                        b.weights_bytes,
                        b.kv_cache_bytes,
                        b.scratch_bytes,
                        b.bytes_per_token
                    ),
                    "{short}"
                );
                let off = (b.memory_bytes as f64 - a.memory_bytes as f64) / a.memory_bytes as f64;
                assert!(
                    off.abs() < 0.01,
                    "{short} at {ctx}: facts {} vs file {} ({:+.2} %)",
                    b.memory_bytes,
                    a.memory_bytes,
                    off * 100.0
                );
            }
        }
    }
}
