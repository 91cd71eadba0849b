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
