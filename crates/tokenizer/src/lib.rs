//! Tokenizers built from GGUF `tokenizer.ggml.*` metadata alone, producing
//! exactly llama.cpp's token ids, plus chat templates.
//!
//! Behaviour follows llama.cpp `src/llama-vocab.cpp` (vocab loading, special
//! tokens, `tokenizer_st_partition`, `llm_tokenizer_spm`, `llm_tokenizer_bpe`,
//! `token_to_piece`) and `src/unicode.cpp` (pre-tokenizer splits); the code
//! here is our own.
//!
//! ```no_run
//! use tokenizer::{ChatTemplate, Message, StreamDecoder, Tokenizer};
//! let f = gguf::GgufFile::open("model.gguf").unwrap();
//! let tok = Tokenizer::from_gguf(&f).unwrap();
//! let tmpl = ChatTemplate::from_gguf(&f, &tok).unwrap();
//! let chat = tmpl.render(&[Message::user("Hello!")], true).unwrap();
//! let ids = tok.encode_chat(&chat); // user text never becomes special tokens
//! let mut dec = StreamDecoder::new();
//! for &id in &ids {
//!     print!("{}", dec.push(&tok, id));
//! }
//! print!("{}", dec.flush());
//! ```
//!
//! `encode(text, add_bos, parse_special)` has llama.cpp's `add_special`
//! meaning: BOS is added only when the model asks for it
//! (`tokenizer.ggml.add_bos_token`, default per model type); use
//! `encode_with_bos` to force it.

mod chat;
mod stream;
pub mod unicode;
mod vocab;

pub use chat::{ChatTemplate, Message, RenderedChat};
pub use stream::StreamDecoder;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): vocabulary maps are built from the file at load
/// time and hashed a lot; SipHash made a 262k vocab load too slow.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);
impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut c = bytes.chunks_exact(8);
        for w in &mut c {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w.try_into().unwrap())).wrapping_mul(K);
        }
        let r = c.remainder();
        if !r.is_empty() {
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(r);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b) ^ (r.len() as u64) << 59).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

use unicode::Stage;

/// Hard caps on metadata sizes (never trust the file).
pub const MAX_VOCAB: usize = 4 << 20;
pub const MAX_TOKEN_BYTES: usize = 64 << 10;
pub const MAX_MERGES: usize = 8 << 20;
/// Cap on the total size of all token texts.
pub const MAX_VOCAB_BYTES: usize = 1 << 30;
/// Longest input text `encode` accepts, in bytes; longer input is truncated.
pub const MAX_TEXT_BYTES: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("GGUF metadata has no `tokenizer.ggml.tokens` array; this file carries no tokenizer")]
    MissingTokens,
    #[error("`{key}` has the wrong type: expected {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("unknown tokenizer model `tokenizer.ggml.model = {0:?}` (supported: \"gpt2\" byte-level BPE, \"llama\" SentencePiece)")]
    UnknownModel(String),
    #[error(
        "unknown pre-tokenizer `tokenizer.ggml.pre = {0:?}` (llama.cpp would refuse this model)"
    )]
    UnknownPre(String),
    #[error("BPE tokenizer (`tokenizer.ggml.model = gpt2`) has no `tokenizer.ggml.merges`")]
    MissingMerges,
    #[error("`{key}` has {got} entries but the vocabulary has {want} tokens")]
    LengthMismatch {
        key: String,
        got: usize,
        want: usize,
    },
    #[error("`{key}` is too large: {got} (cap {cap})")]
    TooLarge { key: String, got: usize, cap: usize },
    #[error("token id {id} out of range (vocabulary has {n_vocab} tokens)")]
    IdOutOfRange { id: u64, n_vocab: usize },
    #[error("chat template ({which}): {msg}")]
    Template { which: String, msg: String },
    #[error("no chat template: the file has no `tokenizer.chat_template` and no built-in template fits (architecture {arch:?})")]
    NoTemplate { arch: Option<String> },
}

// llama.cpp token attributes (include/llama.h `llama_token_attr`).
pub const ATTR_UNKNOWN: u16 = 1 << 0;
pub const ATTR_UNUSED: u16 = 1 << 1;
pub const ATTR_NORMAL: u16 = 1 << 2;
pub const ATTR_CONTROL: u16 = 1 << 3;
pub const ATTR_USER_DEFINED: u16 = 1 << 4;
pub const ATTR_BYTE: u16 = 1 << 5;
pub const ATTR_LSTRIP: u16 = 1 << 7;
pub const ATTR_RSTRIP: u16 = 1 << 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Byte-level BPE (`tokenizer.ggml.model = gpt2`).
    Bpe,
    /// SentencePiece (`tokenizer.ggml.model = llama`).
    Spm,
}

pub struct Tokenizer {
    kind: ModelKind,
    pre_name: String,
    stages: Vec<Stage>,
    ignore_merges: bool,
    tokens: vocab::Vocab,
    scores: Vec<f32>,
    attrs: Vec<u16>,
    /// (left id, right id) -> rank
    merges: HashMap<(u32, u32), u32>,
    /// BPE: token id of each byte's GPT-2 unicode char; SPM: `<0xNN>` token.
    byte_tokens: [Option<u32>; 256],
    /// token_to_piece(special=false) and (special=true), concatenated.
    piece_bytes: Vec<u8>,
    piece_off: Vec<(u32, u32, u32)>, // (start, len_plain, len_special): special piece equals plain piece when len_plain>0
    special_cache: Vec<u32>,
    special_lens: Vec<usize>,
    special_first: [bool; 256],
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    pad: Option<u32>,
    unk: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    eog: Vec<u32>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("kind", &self.kind)
            .field("pre", &self.pre_name)
            .field("n_vocab", &self.tokens.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish()
    }
}

fn get_str_array<'a>(
    f: &'a gguf::GgufFile,
    key: &str,
) -> Result<Option<Vec<&'a str>>, TokenizerError> {
    let Some(v) = f.get(key) else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| TokenizerError::WrongType {
        key: key.into(),
        expected: "array of strings",
    })?;
    let mut out = Vec::with_capacity(arr.len());
    for it in arr {
        out.push(it.as_str().ok_or_else(|| TokenizerError::WrongType {
            key: key.into(),
            expected: "array of strings",
        })?);
    }
    Ok(Some(out))
}

fn get_num_array(f: &gguf::GgufFile, key: &str) -> Result<Option<Vec<f64>>, TokenizerError> {
    let Some(v) = f.get(key) else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| TokenizerError::WrongType {
        key: key.into(),
        expected: "numeric array",
    })?;
    let mut out = Vec::with_capacity(arr.len());
    for it in arr {
        out.push(it.as_f64().ok_or_else(|| TokenizerError::WrongType {
            key: key.into(),
            expected: "numeric array",
        })?);
    }
    Ok(Some(out))
}

fn get_bool(f: &gguf::GgufFile, key: &str) -> Option<bool> {
    f.get(key)
        .and_then(|v| v.as_bool().or_else(|| v.as_i64().map(|x| x != 0)))
}

/// Maps `tokenizer.ggml.pre` to the stages we implement, as llama-vocab.cpp
/// groups them. Returns (stages, ignore_merges, add_bos default, known).
fn pre_stages(pre: &str) -> Option<(Vec<Stage>, bool, Option<bool>)> {
    use Stage::*;
    let default = vec![PunctRuns, Gpt2, NumberRuns, AsciiDigits3];
    Some(match pre {
        "" | "default" => (default, false, None),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => (vec![Llama3], true, Some(true)),
        "tekken" => return None,
        "gpt-2" | "gpt2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es"
        | "jina-v2-de" | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais"
        | "exaone4" | "jina-v1-en" | "jina-v2-code" | "roberta-bpe" => (vec![Gpt2], false, None),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" | "stablelm2" => {
            (vec![Qwen2], false, None)
        }
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            (vec![EachNumber, Gpt2], false, None)
        }
        _ => return None,
    })
}

const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const FIM_PRE: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP: &[&str] = &["<|file_sep|>"];
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

#[derive(Clone, Copy, Debug)]
enum Frag {
    Raw(usize, usize),
    Tok(u32),
}

impl Tokenizer {
    /// Builds the tokenizer; an unknown `tokenizer.ggml.pre` is reported in
    /// [`Tokenizer::warnings`] and the `default` splits are used.
    pub fn from_gguf(f: &gguf::GgufFile) -> Result<Tokenizer, TokenizerError> {
        Self::build(f, false)
    }

    /// As [`Tokenizer::from_gguf`] but an unknown pre-tokenizer is an error
    /// (what llama.cpp does).
    pub fn from_gguf_strict(f: &gguf::GgufFile) -> Result<Tokenizer, TokenizerError> {
        Self::build(f, true)
    }

    fn build(f: &gguf::GgufFile, strict: bool) -> Result<Tokenizer, TokenizerError> {
        let mut warnings = Vec::new();
        let model = match f.get("tokenizer.ggml.model") {
            None => "llama".to_string(),
            Some(v) => v
                .as_str()
                .ok_or_else(|| TokenizerError::WrongType {
                    key: "tokenizer.ggml.model".into(),
                    expected: "string",
                })?
                .to_string(),
        };
        let kind = match model.as_str() {
            "gpt2" => ModelKind::Bpe,
            "llama" => ModelKind::Spm,
            other => return Err(TokenizerError::UnknownModel(other.to_string())),
        };
        let pre_name = match f.get("tokenizer.ggml.pre") {
            None => String::new(),
            Some(v) => v
                .as_str()
                .ok_or_else(|| TokenizerError::WrongType {
                    key: "tokenizer.ggml.pre".into(),
                    expected: "string",
                })?
                .to_string(),
        };

        let toks =
            get_str_array(f, "tokenizer.ggml.tokens")?.ok_or(TokenizerError::MissingTokens)?;
        let n = toks.len();
        if n == 0 {
            return Err(TokenizerError::MissingTokens);
        }
        if n > MAX_VOCAB {
            return Err(TokenizerError::TooLarge {
                key: "tokenizer.ggml.tokens".into(),
                got: n,
                cap: MAX_VOCAB,
            });
        }
        let scores_raw = get_num_array(f, "tokenizer.ggml.scores")?;
        if let Some(s) = &scores_raw {
            if s.len() < n {
                return Err(TokenizerError::LengthMismatch {
                    key: "tokenizer.ggml.scores".into(),
                    got: s.len(),
                    want: n,
                });
            }
        }
        let types_raw = get_num_array(f, "tokenizer.ggml.token_type")?;
        if let Some(s) = &types_raw {
            if s.len() < n {
                return Err(TokenizerError::LengthMismatch {
                    key: "tokenizer.ggml.token_type".into(),
                    got: s.len(),
                    want: n,
                });
            }
        }

        for (i, t) in toks.iter().enumerate() {
            if t.len() > MAX_TOKEN_BYTES {
                return Err(TokenizerError::TooLarge {
                    key: format!("token {i}"),
                    got: t.len(),
                    cap: MAX_TOKEN_BYTES,
                });
            }
        }
        let total: usize = toks.iter().map(|t| t.len().max(16)).sum();
        if total > MAX_VOCAB_BYTES {
            return Err(TokenizerError::TooLarge {
                key: "tokenizer.ggml.tokens (total bytes)".into(),
                got: total,
                cap: MAX_VOCAB_BYTES,
            });
        }
        let tokens = vocab::Vocab::new(toks.iter().copied());
        let token_to_id = &tokens;
        let mut attrs = Vec::with_capacity(n);
        let mut scores = Vec::with_capacity(n);
        for i in 0..n {
            scores.push(scores_raw.as_ref().map(|s| s[i] as f32).unwrap_or(0.0));
            let attr = match types_raw.as_ref().map(|t| t[i] as i64) {
                None => ATTR_NORMAL,
                Some(1) => ATTR_NORMAL,
                Some(2) => ATTR_UNKNOWN,
                Some(3) => ATTR_CONTROL,
                Some(4) => ATTR_USER_DEFINED,
                Some(5) => ATTR_UNUSED,
                Some(6) => ATTR_BYTE,
                Some(_) => 0,
            };
            attrs.push(attr);
        }

        let mut add_bos;
        let mut add_eos = false;
        let mut add_space_prefix;
        let mut stages = Vec::new();
        let mut ignore_merges = false;
        let mut merges = HashMap::default();
        let (mut bos, mut eos, mut unk): (Option<u32>, Option<u32>, Option<u32>);
        match kind {
            ModelKind::Bpe => {
                let m = get_str_array(f, "tokenizer.ggml.merges")?
                    .ok_or(TokenizerError::MissingMerges)?;
                if m.len() > MAX_MERGES {
                    return Err(TokenizerError::TooLarge {
                        key: "tokenizer.ggml.merges".into(),
                        got: m.len(),
                        cap: MAX_MERGES,
                    });
                }
                merges.reserve(m.len());
                for (rank, w) in m.iter().enumerate() {
                    // llama.cpp: split at the first space after position 0.
                    let Some(pos) = w
                        .as_bytes()
                        .iter()
                        .skip(1)
                        .position(|&b| b == b' ')
                        .map(|p| p + 1)
                    else {
                        continue;
                    };
                    let (a, b) = (&w[..pos], &w[pos + 1..]);
                    let (Some(&ia), Some(&ib)) = (token_to_id.get(a), token_to_id.get(b)) else {
                        continue;
                    };
                    merges.entry((ia, ib)).or_insert(rank as u32);
                }
                add_space_prefix = false;
                add_bos = false;
                match pre_stages(&pre_name) {
                    Some((s, im, ab)) => {
                        stages = s;
                        ignore_merges = im;
                        if let Some(ab) = ab {
                            add_bos = ab;
                        }
                    }
                    None => {
                        if strict {
                            return Err(TokenizerError::UnknownPre(pre_name));
                        }
                        warnings.push(format!(
                            "unknown or unsupported pre-tokenizer {pre_name:?}; using 'default' splits (token ids may differ from llama.cpp)"
                        ));
                        stages = pre_stages("default").unwrap().0;
                    }
                }
                if pre_name.is_empty() {
                    warnings.push("missing tokenizer.ggml.pre; using 'default' (generation quality may degrade)".into());
                }
                bos = Some(11);
                eos = Some(11);
                unk = None;
            }
            ModelKind::Spm => {
                add_space_prefix = true;
                add_bos = true;
                bos = Some(1);
                eos = Some(2);
                unk = Some(0);
            }
        }
        if let Some(v) = get_bool(f, "tokenizer.ggml.add_space_prefix") {
            add_space_prefix = v;
        }

        let in_range = |x: Option<u32>| x.filter(|&i| (i as usize) < n);
        bos = in_range(bos);
        eos = in_range(eos);
        unk = in_range(unk);
        let (mut eot, mut eom, mut pad) = (None, None, None);
        let (mut fim_pre, mut fim_suf, mut fim_mid, mut fim_pad, mut fim_rep, mut fim_sep) =
            (None, None, None, None, None, None);
        for (key, slot) in [
            ("tokenizer.ggml.bos_token_id", &mut bos),
            ("tokenizer.ggml.eos_token_id", &mut eos),
            ("tokenizer.ggml.eot_token_id", &mut eot),
            ("tokenizer.ggml.eom_token_id", &mut eom),
            ("tokenizer.ggml.unknown_token_id", &mut unk),
            ("tokenizer.ggml.padding_token_id", &mut pad),
            ("tokenizer.ggml.fim_pre_token_id", &mut fim_pre),
            ("tokenizer.ggml.fim_suf_token_id", &mut fim_suf),
            ("tokenizer.ggml.fim_mid_token_id", &mut fim_mid),
            ("tokenizer.ggml.fim_pad_token_id", &mut fim_pad),
            ("tokenizer.ggml.fim_rep_token_id", &mut fim_rep),
            ("tokenizer.ggml.fim_sep_token_id", &mut fim_sep),
        ] {
            if let Some(v) = f.get(key) {
                match v.as_u64() {
                    Some(id) if (id as usize) < n => *slot = Some(id as u32),
                    other => warnings.push(format!(
                        "bad special token {key} = {other:?} (vocab size {n}); ignored"
                    )),
                }
            }
        }
        if let Some(v) = get_bool(f, "tokenizer.ggml.add_bos_token") {
            add_bos = v;
        }
        if let Some(v) = get_bool(f, "tokenizer.ggml.add_eos_token") {
            add_eos = v;
        }

        // Auto-detect special tokens by text (llama-vocab.cpp "auto-detect special
        // tokens by text"); the detected ones become CONTROL.
        let find_first = |list: &[&str]| list.iter().find_map(|t| token_to_id.get(t).copied());
        let mark = |id: u32, attrs: &mut Vec<u16>| attrs[id as usize] |= ATTR_CONTROL;
        for (slot, list) in [
            (&mut eot, EOT_TEXTS),
            (&mut eom, &["<|eom_id|>"][..]),
            (&mut fim_pre, FIM_PRE),
            (&mut fim_suf, FIM_SUF),
            (&mut fim_mid, FIM_MID),
            (&mut fim_pad, FIM_PAD),
            (&mut fim_rep, FIM_REP),
            (&mut fim_sep, FIM_SEP),
        ] {
            if slot.is_none() {
                // llama.cpp marks every matching token it meets while the slot is empty;
                // it iterates a hash map so "first" is arbitrary: we take list order.
                if let Some(id) = find_first(list) {
                    *slot = Some(id);
                    mark(id, &mut attrs);
                }
            }
        }
        // unused control tokens
        for (i, t) in tokens.iter().enumerate() {
            if attrs[i] & ATTR_CONTROL != 0 && t.contains("unused") {
                attrs[i] |= ATTR_UNUSED;
            }
        }
        let mut eog: Vec<u32> = Vec::new();
        for x in [fim_pad, fim_rep, fim_sep].into_iter().flatten() {
            eog.push(x);
        }
        for t in EOG_TEXTS {
            if let Some(&id) = token_to_id.get(t) {
                eog.push(id);
                mark(id, &mut attrs);
            }
        }
        for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let Some(&id) = token_to_id.get(t) {
                attrs[id as usize] = ATTR_USER_DEFINED;
            }
        }
        for x in [eos, eot, eom].into_iter().flatten() {
            eog.push(x);
        }
        eog.sort_unstable();
        eog.dedup();
        // o200k_harmony / solar-open: <|end|> is not EOG when <|return|>+<|call|> exist.
        {
            let has = |s: &str| eog.iter().any(|&i| &tokens[i as usize] == s);
            if (has("<|return|>") && has("<|call|>") && has("<|end|>"))
                || (has("<|calls|>") && has("<|flush|>") && has("<|end|>"))
            {
                if let Some(p) = eog.iter().position(|&i| &tokens[i as usize] == "<|end|>") {
                    let id = eog.remove(p);
                    attrs[id as usize] = ATTR_USER_DEFINED;
                }
            }
            let has = |s: &str| eog.iter().any(|&i| &tokens[i as usize] == s);
            if (has("<|tool_response>") || has("<|plamo:eos|>")) && has("</s>") {
                if let Some(p) = eog.iter().position(|&i| &tokens[i as usize] == "</s>") {
                    let id = eog.remove(p);
                    attrs[id as usize] = ATTR_NORMAL;
                }
            }
        }

        // special tokens cache: longest text first
        let mut special_cache: Vec<u32> = (0..n as u32)
            .filter(|&i| attrs[i as usize] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN) != 0)
            .collect();
        special_cache.sort_by(|&a, &b| tokens[b as usize].len().cmp(&tokens[a as usize].len()));
        let mut special_lens: Vec<usize> = special_cache
            .iter()
            .map(|&i| tokens[i as usize].len())
            .collect();
        special_lens.dedup();
        let mut special_first = [false; 256];
        for &i in &special_cache {
            special_first[tokens[i as usize].as_bytes()[0] as usize] = true;
        }

        // byte tokens
        let mut byte_tokens = [None; 256];
        match kind {
            ModelKind::Bpe => {
                let map = unicode::byte_to_unicode();
                for b in 0..256 {
                    byte_tokens[b] = token_to_id.get(map[b].to_string().as_str()).copied();
                }
            }
            ModelKind::Spm =>
            {
                #[allow(clippy::needless_range_loop)]
                for b in 0..256usize {
                    let hex = format!("<0x{b:02X}>");
                    byte_tokens[b] = token_to_id.get(hex.as_str()).copied().or_else(|| {
                        if b < 128 {
                            token_to_id
                                .get(((b as u8) as char).to_string().as_str())
                                .copied()
                        } else {
                            None
                        }
                    });
                }
            }
        }

        let mut tk = Tokenizer {
            kind,
            pre_name,
            stages,
            ignore_merges,
            tokens,
            scores,
            attrs,
            merges,
            byte_tokens,
            piece_bytes: Vec::new(),
            piece_off: Vec::new(),
            special_cache,
            special_lens,
            special_first,
            bos,
            eos,
            eot,
            eom,
            pad,
            unk,
            add_bos,
            add_eos,
            add_space_prefix,
            eog,
            warnings,
        };
        tk.build_pieces();
        Ok(tk)
    }

    fn build_pieces(&mut self) {
        let n = self.tokens.len();
        let mut bytes = Vec::with_capacity(n * 6);
        let mut off = Vec::with_capacity(n);
        let dec = if self.kind == ModelKind::Bpe {
            let map = unicode::byte_to_unicode();
            let mut inv = [None::<u8>; 324];
            for (b, c) in map.iter().enumerate() {
                inv[*c as usize] = Some(b as u8);
            }
            Some(inv)
        } else {
            None
        };
        for i in 0..n {
            let start = bytes.len();
            let attr = self.attrs[i];
            let text = self.tokens.text(i);
            let special_attr = attr & (ATTR_UNKNOWN | ATTR_CONTROL) != 0;
            if attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED) != 0 {
                bytes.extend_from_slice(text.as_bytes());
            } else if attr & ATTR_NORMAL != 0 {
                match &dec {
                    None if text.contains('\u{2581}') => {
                        bytes.extend_from_slice(text.replace('\u{2581}', " ").as_bytes())
                    }
                    None => bytes.extend_from_slice(text.as_bytes()),
                    Some(inv) => {
                        // llama_decode_text
                        for c in text.chars() {
                            match inv.get(c as usize).copied().flatten() {
                                Some(b) => bytes.push(b),
                                None => {
                                    let mut u = [0u8; 4];
                                    bytes.extend_from_slice(b"[UNK_BYTE_0x");
                                    for x in c.encode_utf8(&mut u).bytes() {
                                        bytes.extend_from_slice(format!("{x:02x}").as_bytes());
                                    }
                                    bytes.extend_from_slice(text.as_bytes());
                                    bytes.push(b']');
                                }
                            }
                        }
                    }
                }
            } else if attr & ATTR_BYTE != 0 {
                if let Some(b) = text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    bytes.push(b);
                }
            }
            let len = (bytes.len() - start) as u32;
            let plain = if special_attr { 0 } else { len };
            off.push((start as u32, plain, len));
        }
        self.piece_bytes = bytes;
        self.piece_off = off;
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }
    pub fn pre(&self) -> &str {
        &self.pre_name
    }
    /// Non-fatal problems found while loading (unknown pre-tokenizer, bad ids).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    pub fn n_vocab(&self) -> usize {
        self.tokens.len()
    }
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }
    pub fn eom(&self) -> Option<u32> {
        self.eom
    }
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }
    pub fn add_bos(&self) -> bool {
        self.add_bos && self.bos.is_some()
    }
    pub fn add_eos(&self) -> bool {
        self.add_eos && self.eos.is_some()
    }
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }
    /// The vocabulary string of a token ("" when out of range).
    pub fn token_text(&self, id: u32) -> &str {
        if (id as usize) < self.tokens.len() {
            self.tokens.text(id as usize)
        } else {
            ""
        }
    }
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.tokens.get(text).copied()
    }
    /// llama.cpp token attribute bits (`ATTR_*`), 0 when out of range.
    pub fn token_attr(&self, id: u32) -> u16 {
        self.attrs.get(id as usize).copied().unwrap_or(0)
    }
    pub fn token_score(&self, id: u32) -> f32 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }
    /// Errors on the first id outside the vocabulary.
    pub fn check_ids(&self, ids: &[u32]) -> Result<(), TokenizerError> {
        match ids.iter().find(|&&i| i as usize >= self.tokens.len()) {
            Some(&id) => Err(TokenizerError::IdOutOfRange {
                id: id as u64,
                n_vocab: self.tokens.len(),
            }),
            None => Ok(()),
        }
    }

    /// Control / unknown tokens (rendered empty by `token_to_piece`).
    pub fn is_control(&self, id: u32) -> bool {
        self.token_attr(id) & (ATTR_CONTROL | ATTR_UNKNOWN) != 0
    }

    /// The bytes a token stands for, as llama.cpp's `token_to_piece(special=false)`:
    /// control tokens are empty. Out-of-range ids are empty.
    pub fn token_to_piece(&self, id: u32) -> &[u8] {
        match self.piece_off.get(id as usize) {
            Some(&(s, plain, _)) => &self.piece_bytes[s as usize..(s + plain) as usize],
            None => &[],
        }
    }

    /// As `token_to_piece` with `special = true`: control tokens render as their text.
    pub fn token_to_piece_special(&self, id: u32) -> &[u8] {
        match self.piece_off.get(id as usize) {
            Some(&(s, _, len)) => &self.piece_bytes[s as usize..(s + len) as usize],
            None => &[],
        }
    }

    /// Concatenated pieces (control tokens omitted), invalid UTF-8 replaced by U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids, false)).into_owned()
    }

    pub fn decode_bytes(&self, ids: &[u32], special: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            out.extend_from_slice(if special {
                self.token_to_piece_special(id)
            } else {
                self.token_to_piece(id)
            });
        }
        out
    }

    /// Tokenizes like llama.cpp's `llama_tokenize(text, add_special = add_bos, parse_special)`.
    /// `add_bos` adds BOS (and EOS when the model asks for it) only if the model's
    /// `add_bos_token` says so — use [`Tokenizer::encode_with_bos`] to force it.
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32> {
        let text = truncate(text);
        let frags = self.partition(text, parse_special, None);
        self.encode_frags(text, &frags, add_bos)
    }

    /// Encodes `text` with BOS forced on/off regardless of `add_bos_token`.
    pub fn encode_with_bos(&self, text: &str, bos: bool, parse_special: bool) -> Vec<u32> {
        let mut v = self.encode(text, false, parse_special);
        if let (true, Some(b)) = (bos, self.bos) {
            v.insert(0, b);
        }
        v
    }

    /// Tokenizes a rendered chat: special tokens are recognised in the
    /// template-authored text only, never inside message contents. BOS is
    /// added when the model wants it, unless the text already starts with it.
    pub fn encode_chat(&self, chat: &RenderedChat) -> Vec<u32> {
        let text = truncate(&chat.text);
        let frags = self.partition(text, true, Some(&chat.content_ranges));
        let mut out = self.encode_frags(text, &frags, false);
        if self.add_bos() {
            let b = self.bos.unwrap();
            if out.first() != Some(&b) {
                out.insert(0, b);
            }
        }
        if self.add_eos() {
            out.push(self.eos.unwrap());
        }
        out
    }

    fn encode_frags(&self, text: &str, frags: &[Frag], add_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if add_special && self.add_bos {
            if let Some(b) = self.bos {
                out.push(b);
            }
        }
        match self.kind {
            ModelKind::Spm => {
                let mut prev_special = true;
                let mut buf = String::new();
                for f in frags {
                    match *f {
                        Frag::Raw(s, e) => {
                            buf.clear();
                            if self.add_space_prefix && prev_special {
                                buf.push(' ');
                            }
                            buf.push_str(&text[s..e]);
                            let esc = buf.replace(' ', "\u{2581}");
                            self.spm_tokenize(&esc, &mut out);
                            prev_special = false;
                        }
                        Frag::Tok(t) => {
                            out.push(t);
                            prev_special = true;
                        }
                    }
                }
            }
            ModelKind::Bpe => {
                for f in frags {
                    match *f {
                        Frag::Raw(s, e) => self.bpe_tokenize(&text[s..e], &mut out),
                        Frag::Tok(t) => out.push(t),
                    }
                }
            }
        }
        if add_special && self.add_eos {
            if let Some(e) = self.eos {
                out.push(e);
            }
        }
        out
    }

    /// llama.cpp `tokenizer_st_partition`: for each special token (longest
    /// first) split every raw fragment at its occurrences. `protect` lists byte
    /// ranges where no special token may match.
    fn partition(
        &self,
        text: &str,
        parse_special: bool,
        protect: Option<&[(usize, usize)]>,
    ) -> Vec<Frag> {
        if text.is_empty() {
            return Vec::new();
        }
        let bytes = text.as_bytes();
        let masked: Option<Vec<u8>> = protect.filter(|p| !p.is_empty()).map(|p| {
            let mut m = bytes.to_vec();
            for &(s, e) in p {
                let e = e.min(m.len());
                for b in &mut m[s.min(e)..e] {
                    *b = 0xFF; // never part of valid UTF-8 token text
                }
            }
            m
        });
        // Control/unknown tokens never match inside protected (user-content)
        // ranges; user-defined tokens match everywhere, as llama.cpp does even
        // with parse_special = false.
        let masked_hay: &[u8] = masked.as_deref().unwrap_or(bytes);
        let hay: &[u8] = bytes;
        // Which special-token texts occur at all? (avoids scanning the text once per special token)
        let mut present: Vec<bool> = vec![false; self.special_cache.len()];
        let mut any = false;
        if !self.special_cache.is_empty() {
            let mut present_ids: std::collections::HashSet<u32> = std::collections::HashSet::new();
            for i in 0..hay.len() {
                if !self.special_first[hay[i] as usize] {
                    continue;
                }
                for &l in &self.special_lens {
                    if i + l <= hay.len() {
                        if let Ok(s) = std::str::from_utf8(&hay[i..i + l]) {
                            if let Some(&id) = self.tokens.get(s) {
                                present_ids.insert(id);
                            }
                        }
                    }
                }
            }
            for (k, &id) in self.special_cache.iter().enumerate() {
                if present_ids.contains(&id) {
                    present[k] = true;
                    any = true;
                }
            }
        }
        let mut frags = vec![Frag::Raw(0, text.len())];
        if !any {
            return frags;
        }
        for (k, &sid) in self.special_cache.iter().enumerate() {
            if !present[k] {
                continue;
            }
            let attr = self.attrs[sid as usize];
            if !parse_special && attr & (ATTR_CONTROL | ATTR_UNKNOWN) != 0 {
                continue;
            }
            let tt = self.tokens[sid as usize].as_bytes();
            let hay = if attr & (ATTR_CONTROL | ATTR_UNKNOWN) != 0 {
                masked_hay
            } else {
                hay
            };
            let mut next = Vec::with_capacity(frags.len() + 2);
            for fr in frags {
                let Frag::Raw(mut s, e) = fr else {
                    next.push(fr);
                    continue;
                };
                loop {
                    let Some(m) = find(&hay[s..e], tt).map(|p| p + s) else {
                        next.push(Frag::Raw(s, e));
                        break;
                    };
                    if m > s {
                        let mut l = m - s;
                        if attr & ATTR_LSTRIP != 0 {
                            while l > 0 && bytes[s + l - 1].is_ascii_whitespace() {
                                l -= 1;
                            }
                        }
                        if l > 0 {
                            next.push(Frag::Raw(s, s + l));
                        }
                    }
                    next.push(Frag::Tok(sid));
                    let mut r = m + tt.len();
                    if r < e {
                        if attr & ATTR_RSTRIP != 0 {
                            while r < e && bytes[r].is_ascii_whitespace() {
                                r += 1;
                            }
                        }
                        if r >= e {
                            break;
                        }
                        s = r;
                    } else {
                        break;
                    }
                }
            }
            frags = next;
        }
        frags
    }

    /// llama.cpp `llm_tokenizer_spm_session::tokenize` on already escaped text.
    fn spm_tokenize(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        #[derive(Clone, Copy)]
        struct Sym {
            start: usize,
            n: usize,
            prev: isize,
            next: isize,
        }
        #[derive(PartialEq)]
        struct Big {
            score: f32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Eq for Big {}
        impl PartialOrd for Big {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for Big {
            fn cmp(&self, o: &Self) -> Ordering {
                // max score first, then lowest left
                self.score
                    .partial_cmp(&o.score)
                    .unwrap_or(Ordering::Equal)
                    .then(o.left.cmp(&self.left))
            }
        }
        let mut syms: Vec<Sym> = Vec::with_capacity(text.len());
        let idxs: Vec<(usize, char)> = text.char_indices().collect();
        for (k, &(bi, c)) in idxs.iter().enumerate() {
            syms.push(Sym {
                start: bi,
                n: c.len_utf8(),
                prev: k as isize - 1,
                next: if k + 1 == idxs.len() {
                    -1
                } else {
                    k as isize + 1
                },
            });
        }
        let mut heap = BinaryHeap::new();
        let try_add = |l: isize, r: isize, syms: &[Sym], heap: &mut BinaryHeap<Big>| {
            if l < 0 || r < 0 {
                return;
            }
            let (ls, rs) = (syms[l as usize], syms[r as usize]);
            let s = &text[ls.start..rs.start + rs.n];
            if let Some(&id) = self.tokens.get(s) {
                heap.push(Big {
                    score: self.scores[id as usize],
                    left: l as usize,
                    right: r as usize,
                    size: s.len(),
                });
            }
        };
        for i in 1..syms.len() {
            try_add(i as isize - 1, i as isize, &syms, &mut heap);
        }
        while let Some(b) = heap.pop() {
            let (l, r) = (syms[b.left], syms[b.right]);
            if l.n == 0 || r.n == 0 || l.n + r.n != b.size {
                continue;
            }
            syms[b.left].n += r.n;
            syms[b.right].n = 0;
            syms[b.left].next = r.next;
            if r.next >= 0 {
                syms[r.next as usize].prev = b.left as isize;
            }
            let lp = syms[b.left].prev;
            let ln = syms[b.left].next;
            try_add(lp, b.left as isize, &syms, &mut heap);
            try_add(b.left as isize, ln, &syms, &mut heap);
        }
        let mut i: isize = 0;
        while i != -1 {
            let s = syms[i as usize];
            let piece = &text[s.start..s.start + s.n];
            if let Some(&id) = self.tokens.get(piece) {
                out.push(id);
            } else {
                for &b in piece.as_bytes() {
                    if let Some(t) = self.byte_tokens[b as usize] {
                        out.push(t);
                    }
                }
            }
            i = s.next;
        }
    }

    /// llama.cpp `llm_tokenizer_bpe_session::tokenize`.
    fn bpe_tokenize(&self, text: &str, out: &mut Vec<u32>) {
        let map = byte_map();
        let mut word_enc = String::new();
        for word in unicode::split(text, &self.stages) {
            if self.ignore_merges {
                word_enc.clear();
                for &b in word.as_bytes() {
                    word_enc.push(map[b as usize]);
                }
                if let Some(&id) = self.tokens.get(word_enc.as_str()) {
                    out.push(id);
                    continue;
                }
            }
            self.bpe_word(word.as_bytes(), out);
        }
    }

    #[allow(clippy::type_complexity)]
    fn bpe_word(&self, bytes: &[u8], out: &mut Vec<u32>) {
        #[derive(Clone, Copy)]
        struct Sym {
            id: Option<u32>,
            prev: isize,
            next: isize,
        }
        let mut syms: Vec<Sym> = bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| Sym {
                id: self.byte_tokens[b as usize],
                prev: i as isize - 1,
                next: if i + 1 == bytes.len() {
                    -1
                } else {
                    i as isize + 1
                },
            })
            .collect();
        if syms.len() == 1 {
            if let Some(id) = syms[0].id {
                out.push(id);
            }
            return;
        }
        // heap of (Reverse rank, Reverse left, left id, right id, right)
        let mut heap: BinaryHeap<std::cmp::Reverse<(u32, usize, u32, u32, usize)>> =
            BinaryHeap::new();
        let add =
            |l: isize,
             r: isize,
             syms: &[Sym],
             heap: &mut BinaryHeap<std::cmp::Reverse<(u32, usize, u32, u32, usize)>>| {
                if l < 0 || r < 0 {
                    return;
                }
                let (Some(a), Some(b)) = (syms[l as usize].id, syms[r as usize].id) else {
                    return;
                };
                if let Some(&rank) = self.merges.get(&(a, b)) {
                    heap.push(std::cmp::Reverse((rank, l as usize, a, b, r as usize)));
                }
            };
        for i in 1..syms.len() {
            add(i as isize - 1, i as isize, &syms, &mut heap);
        }
        let mut alive = vec![true; syms.len()];
        let mut cat = String::new();
        while let Some(std::cmp::Reverse((_, l, a, b, r))) = heap.pop() {
            if !alive[l]
                || !alive[r]
                || syms[l].id != Some(a)
                || syms[r].id != Some(b)
                || syms[l].next != r as isize
            {
                continue;
            }
            // the merged text must be a token (llama.cpp would emit it byte-wise otherwise)
            cat.clear();
            cat.push_str(self.tokens.text(a as usize));
            cat.push_str(self.tokens.text(b as usize));
            let Some(&merged) = self.tokens.get(&cat) else {
                continue;
            };
            syms[l].id = Some(merged);
            alive[r] = false;
            let rn = syms[r].next;
            syms[l].next = rn;
            if rn >= 0 {
                syms[rn as usize].prev = l as isize;
            }
            let lp = syms[l].prev;
            add(lp, l as isize, &syms, &mut heap);
            add(l as isize, rn, &syms, &mut heap);
        }
        let mut i: isize = 0;
        while i != -1 {
            if let Some(id) = syms[i as usize].id {
                out.push(id);
            }
            i = syms[i as usize].next;
        }
    }
}

fn byte_map() -> &'static [char; 256] {
    static M: std::sync::OnceLock<[char; 256]> = std::sync::OnceLock::new();
    M.get_or_init(unicode::byte_to_unicode)
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut e = MAX_TEXT_BYTES;
    while !text.is_char_boundary(e) {
        e -= 1;
    }
    &text[..e]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                let j = i + p;
                if &hay[j..j + needle.len()] == needle {
                    return Some(j);
                }
                i = j + 1;
            }
        }
    }
    None
}
