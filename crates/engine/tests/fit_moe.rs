//! `fit` on a mixture of experts: memory counts the whole file, the bytes a
//! decode step reads (what the speed prediction divides the bandwidth by)
//! only the active experts' share of the expert tensors. On the synthetic
//! qwen3moe and gpt-oss files (`scripts/setup-synthetic-models.sh`) and a
//! dense one of the same vocabulary.

use engine::fit::{estimate_shape, ModelShape};

/// (bytes of the `*_exps` tensors, of all tensors, of the embedding table,
/// expert_count, expert_used_count) straight from the file's header.
fn census(path: &std::path::Path) -> (u64, u64, u64, u64, u64) {
    let f = gguf::GgufFile::open(path).unwrap();
    let arch = f.get_str("general.architecture").unwrap().to_string();
    let count = |k: &str| f.get_u64(&format!("{arch}.{k}")).unwrap_or(0);
    let exps = f
        .tensors
        .iter()
        .filter(|t| t.name.ends_with("_exps.weight") || t.name.ends_with("_exps.bias"))
        .map(|t| t.size)
        .sum();
    let all = f.tensors.iter().map(|t| t.size).sum();
    let embd = f.tensor("token_embd.weight").unwrap().size;
    (
        exps,
        all,
        embd,
        count("expert_count"),
        count("expert_used_count"),
    )
}

#[test]
fn a_token_reads_only_its_active_experts() {
    for file in ["qwen3moe-f16.gguf", "gpt-oss-mxfp4.gguf", "qwen3-f16.gguf"] {
        let Some(path) = test_models::synthetic(file) else {
            continue;
        };
        let (exps, all, embd, n_expert, n_used) = census(&path);
        let shape = ModelShape::from_file(&path).unwrap();
        assert_eq!(shape.tensor_bytes, all, "{file}");
        let want_idle = exps
            .checked_div(n_expert)
            .map_or(0, |per| per * (n_expert - n_used));
        assert_eq!(shape.idle_expert_bytes, want_idle, "{file}");
        let e = estimate_shape(&shape, 256);
        // every file here has its own output matrix: the embedding table is
        // read a row at a time
        assert!(shape.output_tensor, "{file}");
        assert_eq!(e.bytes_per_token, all - embd - want_idle, "{file}");
        assert!(
            e.weights_bytes >= all - embd,
            "{file}: memory counts every expert"
        );
        if n_expert > 0 {
            assert!(
                want_idle > 0 && e.bytes_per_token < e.weights_bytes,
                "{file}"
            );
        }
    }
}

/// Gemma 4 26B-A4B (the synthetic gemma4moe file: tied output, every
/// layer's dense MLP beside its experts): the idle experts are its
/// `*_exps` tensors' share (`ffn_gate_up_exps` or `ffn_gate_exps` +
/// `ffn_up_exps`, `ffn_down_exps` and its per-expert `.scale`), the dense
/// MLP and the router are read by every token, and the K/V counted is what
/// a session holds.
#[test]
fn gemma4_moe_counts_its_idle_experts() {
    for file in ["gemma4moe-f32.gguf", "gemma4moe-q8_0.gguf"] {
        let Some(path) = test_models::synthetic(file) else {
            continue;
        };
        let f = gguf::GgufFile::open(&path).unwrap();
        let count = |k: &str| f.get_u64(&format!("gemma4.{k}")).unwrap();
        let (n_expert, n_used) = (count("expert_count"), count("expert_used_count"));
        let exps: u64 = f
            .tensors
            .iter()
            .filter(|t| t.name.contains("_exps."))
            .map(|t| t.size)
            .sum();
        let dense: u64 = f
            .tensors
            .iter()
            .filter(|t| t.name.ends_with("ffn_up.weight") || t.name.contains("ffn_gate_inp"))
            .map(|t| t.size)
            .sum();
        assert!(exps > 0 && dense > 0, "{file}");
        let all: u64 = f.tensors.iter().map(|t| t.size).sum();
        let shape = ModelShape::from_file(&path).unwrap();
        let idle = exps / n_expert * (n_expert - n_used);
        assert_eq!(shape.idle_expert_bytes, idle, "{file}");
        assert!(!shape.output_tensor, "{file}");
        let e = estimate_shape(&shape, 256);
        // tied: the embedding table is the output, read every token
        assert_eq!(e.bytes_per_token, all - idle, "{file}");
        assert_eq!(e.weights_bytes, all, "{file}: memory counts every expert");

        // the cache counted is the session's
        let m = model::Model::load(&path).unwrap();
        let pool = kernels::ThreadPool::new(2);
        let mut s = m.session(256, model::DEFAULT_BATCH).unwrap();
        let ids: Vec<u32> = (100..356).collect();
        m.forward(&pool, &mut s, &ids, model::Logits::None).unwrap();
        assert_eq!(e.kv_cache_bytes, s.kv_bytes() as u64, "{file}");
    }
}
