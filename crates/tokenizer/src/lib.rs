//! Tokenizers built from GGUF `tokenizer.ggml.*` metadata alone, producing
//! exactly llama.cpp's token ids, plus chat templates.
//!
//! Behaviour follows llama.cpp `src/llama-vocab.cpp` (vocab loading, special
//! tokens, `tokenizer_st_partition`, `llm_tokenizer_spm`, `llm_tokenizer_bpe`,
//! `llm_tokenizer_wpm`, `token_to_piece`) and `src/unicode.cpp` (pre-tokenizer
//! splits); the code here is our own. Chat templates render as Hugging Face
//! transformers' Jinja2 environment does (see [`RenderOptions`]).
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
//! `encode_with_bos` to force it. For WordPiece (BERT-style embedding
//! models) `add_special` means `[CLS] text [SEP]`, as in llama.cpp.

mod chat;
mod encode;
mod load;
mod pre;
mod pyjinja;
mod specials;
mod split;
mod stream;
pub mod unicode;
mod vocab;
mod wpm;

pub use chat::{pin_template_clock, ChatTemplate, Message, RenderOptions, RenderedChat};
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
    #[error("tokenizer model `tokenizer.ggml.model = {0:?}` is not one hearth implements (supported: \"gpt2\" byte-level BPE, \"gemma4\" SentencePiece-style BPE, \"llama\" SentencePiece, \"bert\" WordPiece); this model cannot be run")]
    UnknownModel(String),
    #[error("pre-tokenizer `tokenizer.ggml.pre = {0:?}` is not one hearth implements: its prompts would be split into different tokens than the model was trained on, so the model is refused (models converted with llama-bpe, qwen2, qwen35, tekken, llama4, gpt-2, gemma4, deepseek-llm, deepseek-coder, falcon, starcoder, command-r, refact, smollm, mpt ... pre-tokenizers work)")]
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
    /// The caller stopped a rendering (`ChatTemplate::render_cancellable`).
    #[error("the chat template rendering was cancelled")]
    Cancelled,
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
    /// WordPiece (`tokenizer.ggml.model = bert`): BERT-style embedding models.
    Wpm,
}

/// WordPiece normalization (`tokenizer.ggml.normalizer.*`; both default to true).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WpmOptions {
    pub lowercase: bool,
    pub strip_accents: bool,
}

pub struct Tokenizer {
    kind: ModelKind,
    pre_name: String,
    /// BPE: how text is split and encoded (`tokenizer.ggml.pre`).
    pre: pre::Pre,
    wpm: WpmOptions,
    /// Longest token text in bytes (WordPiece's longest-match bound).
    max_token_len: usize,
    tokens: vocab::Vocab,
    scores: Vec<f32>,
    attrs: Vec<u16>,
    /// (left id, right id) -> rank
    merges: HashMap<(u32, u32), u32>,
    /// Byte-level BPE: token id of each byte's GPT-2 unicode char; SPM and
    /// SentencePiece-style BPE: the `<0xNN>` token.
    byte_tokens: [Option<u32>; 256],
    /// token_to_piece(special=false) and (special=true), concatenated.
    piece_bytes: Vec<u8>,
    piece_off: Vec<(u32, u32, u32)>, // (start, len_plain, len_special): special piece equals plain piece when len_plain>0
    special: load::SpecialCache,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    pad: Option<u32>,
    unk: Option<u32>,
    /// WordPiece's separator (`[SEP]`), added after the text with `add_special`.
    sep: Option<u32>,
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

impl Tokenizer {
    pub fn kind(&self) -> ModelKind {
        self.kind
    }
    pub fn pre(&self) -> &str {
        &self.pre_name
    }
    /// Non-fatal problems found while loading (missing pre-tokenizer name, bad ids).
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
    /// WordPiece's `[SEP]`, which `encode(.., add_bos = true, ..)` appends.
    pub fn sep(&self) -> Option<u32> {
        self.sep
    }
    /// WordPiece normalization options.
    pub fn wpm_options(&self) -> WpmOptions {
        self.wpm
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
}
