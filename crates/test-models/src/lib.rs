//! Test support shared by the crates' tests: where the three real models of
//! `shared/MODELS.md` are cached (fetched by `scripts/fetch-test-models.sh`)
//! and where the committed reference fixtures live.

use std::path::PathBuf;

pub mod fuzz;

/// The real test models: (short name, file name in the cache, architecture).
pub const MODELS: &[(&str, &str, &str)] = &[
    ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", "llama"),
    ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", "gemma3"),
    (
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-0.5b-instruct.gguf",
        "qwen2",
    ),
];

/// The model cache directory: `$HEARTH_TEST_MODELS`, else
/// `~/.cache/hearth/test-models`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_TEST_MODELS") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
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
        panic!(
            "test model {} missing; run scripts/fetch-test-models.sh",
            p.display()
        );
    }
    eprintln!(
        "skipping: {} not fetched (run scripts/fetch-test-models.sh)",
        p.display()
    );
    None
}

/// The version of the `llama-cpp-python` sdist whose vendored llama.cpp is
/// the reference (its `models/` vocab files and chat templates, `gguf-py/`).
pub const LLAMACPP_SDIST_VERSION: &str = "0.3.36";

/// The llama.cpp source root inside the `llama-cpp-python` sdist fetched by
/// `scripts/fetch-llamacpp-sdist.sh`: `$HEARTH_LLAMACPP_SDIST`, else
/// `~/.cache/hearth/llamacpp/llama_cpp_python-<ver>/vendor/llama.cpp`.
pub fn llamacpp_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_LLAMACPP_SDIST") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(format!(
        ".cache/hearth/llamacpp/llama_cpp_python-{LLAMACPP_SDIST_VERSION}/vendor/llama.cpp"
    ))
}

/// A file or folder under the sdist's llama.cpp root (`models/ggml-vocab-qwen2.gguf`,
/// `models/templates`), or `None` when the sdist has not been fetched. As with
/// [`model`], `CI` or `HEARTH_REQUIRE_MODELS` makes a missing one a failure.
pub fn llamacpp_file(rel: &str) -> Option<PathBuf> {
    let p = llamacpp_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("HEARTH_REQUIRE_MODELS").is_some() {
        panic!(
            "{} missing; run scripts/fetch-llamacpp-sdist.sh",
            p.display()
        );
    }
    eprintln!(
        "skipping: {} not fetched (run scripts/fetch-llamacpp-sdist.sh)",
        p.display()
    );
    None
}

/// Where the synthetic models of `scripts/make-synthetic-models.py` are:
/// `$HEARTH_SYNTHETIC`, else `~/.cache/hearth/synthetic`
/// (`scripts/setup-synthetic-models.sh` makes them).
pub fn synthetic_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_SYNTHETIC") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/hearth/synthetic")
}

/// Path to a synthetic model file (`llama3-f16.gguf`, ...), or `None` when it
/// has not been generated (a failure under CI / `HEARTH_REQUIRE_MODELS`, as
/// for the real models).
pub fn synthetic(file: &str) -> Option<PathBuf> {
    let p = synthetic_dir().join(file);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("HEARTH_REQUIRE_MODELS").is_some() {
        panic!(
            "synthetic model {} missing; run scripts/setup-synthetic-models.sh",
            p.display()
        );
    }
    eprintln!(
        "skipping: {} not generated (run scripts/setup-synthetic-models.sh)",
        p.display()
    );
    None
}

/// The workspace's `tests/fixtures` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A reference top-2 margin below this is a near tie: llama.cpp's own batched
/// and one-token paths pick different tokens at incremental margins up to
/// 0.519 in the fixtures (gemma3 chat, step 9; see `batch_argmax_first_mismatch`).
pub const NEAR_TIE: f64 = 0.55;

/// The reference fixture of a real model (`tests/fixtures/reference/<short>.json`).
pub fn reference(short: &str) -> serde_json::Value {
    let p = fixtures_dir().join(format!("reference/{short}.json"));
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Check a greedy continuation against llama.cpp's (`case["greedy"]`): the two
/// must agree token for token until they diverge, and a divergence before
/// `min_agree` tokens is allowed only at a step where llama.cpp's own top-2
/// margin is a near tie (below [`NEAR_TIE`]), where its own two code paths
/// disagree too. Returns how many tokens agree.
pub fn check_greedy(
    case: &serde_json::Value,
    got: &[u32],
    min_agree: usize,
) -> Result<usize, String> {
    let want: Vec<u32> = case["greedy"]["tokens"]
        .as_array()
        .expect("greedy.tokens")
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let steps = case["greedy"]["top_logits"]
        .as_array()
        .expect("greedy.top_logits");
    let same = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
    let need = min_agree.min(want.len());
    if same >= need || same >= got.len().min(want.len()) {
        return Ok(same);
    }
    let st = steps[same].as_array().unwrap();
    let margin = st[0][1].as_f64().unwrap() - st[1][1].as_f64().unwrap();
    if margin < NEAR_TIE {
        Ok(same)
    } else {
        Err(format!(
            "diverges from llama.cpp at token {same} where its top-2 margin is {margin:.3} (not a near tie):\n ours   {got:?}\n theirs {want:?}"
        ))
    }
}
