//! Test support shared by the crates' tests: where the three real models of
//! `shared/MODELS.md` are cached (fetched by `scripts/fetch-test-models.sh`)
//! and where the committed reference fixtures live.

use std::path::PathBuf;

/// The real test models: (short name, file name in the cache, architecture).
pub const MODELS: &[(&str, &str, &str)] = &[
    ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", "llama"),
    ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", "gemma3"),
    ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct.gguf", "qwen2"),
];

/// The model cache directory: `$HEARTH_TEST_MODELS`, else
/// `~/.cache/hearth/test-models`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_TEST_MODELS") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/hearth/test-models")
}

/// Path to a real model by short name (`smollm2-135m`, ...), or `None` when it
/// has not been fetched. Under CI (`CI` set) a missing model is a failure, not
/// a skip: `.ci/run` fetches them first, so absence means the set-up broke.
pub fn model(short: &str) -> Option<PathBuf> {
    let (_, file, _) = MODELS
        .iter()
        .find(|m| m.0 == short)
        .unwrap_or_else(|| panic!("unknown test model {short}"));
    let p = cache_dir().join(file);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("HEARTH_REQUIRE_MODELS").is_some() {
        panic!("test model {} missing; run scripts/fetch-test-models.sh", p.display());
    }
    eprintln!("skipping: {} not fetched (run scripts/fetch-test-models.sh)", p.display());
    None
}

/// The workspace's `tests/fixtures` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}
