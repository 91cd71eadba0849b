//! Building a [`Tokenizer`] from GGUF metadata (llama.cpp `llama_vocab::impl::load`),
//! one step per function: the model type and pre-tokenizer, the vocabulary,
//! the merges, the special tokens (`specials.rs`), the byte tokens and the
//! decoded pieces.

use super::*;
use crate::pre::{pre_tokenizer, Pre};
use crate::specials::Specials;

pub(crate) fn get_str_array<'a>(
    f: &'a gguf::GgufFile,
    key: &str,
) -> Result<Option<Vec<&'a str>>, TokenizerError> {
    let Some(v) = f.get(key) else { return Ok(None) };
    let wrong = || TokenizerError::WrongType {
        key: key.into(),
        expected: "array of strings",
    };
    let arr = v.as_array().ok_or_else(wrong)?;
    arr.iter()
        .map(|it| it.as_str().ok_or_else(wrong))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn get_num_array(f: &gguf::GgufFile, key: &str) -> Result<Option<Vec<f64>>, TokenizerError> {
    let Some(v) = f.get(key) else { return Ok(None) };
    let wrong = || TokenizerError::WrongType {
        key: key.into(),
        expected: "numeric array",
    };
    let arr = v.as_array().ok_or_else(wrong)?;
    arr.iter()
        .map(|it| it.as_f64().ok_or_else(wrong))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(crate) fn get_bool(f: &gguf::GgufFile, key: &str) -> Option<bool> {
    f.get(key)
        .and_then(|v| v.as_bool().or_else(|| v.as_i64().map(|x| x != 0)))
}

fn get_string(f: &gguf::GgufFile, key: &str) -> Result<Option<String>, TokenizerError> {
    match f.get(key) {
        None => Ok(None),
        Some(v) => {
            v.as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| TokenizerError::WrongType {
                    key: key.into(),
                    expected: "string",
                })
        }
    }
}

/// The tokenizer model (`tokenizer.ggml.model`) and, for BPE, the
/// pre-tokenizer (`tokenizer.ggml.pre`); anything hearth does not implement
/// is refused here, naming it.
fn read_kind(f: &gguf::GgufFile) -> Result<(ModelKind, String, Pre), TokenizerError> {
    let model = get_string(f, "tokenizer.ggml.model")?.unwrap_or_else(|| "llama".into());
    let mut pre_name = get_string(f, "tokenizer.ggml.pre")?.unwrap_or_default();
    let kind = match model.as_str() {
        "llama" => ModelKind::Spm,
        "gpt2" => ModelKind::Bpe,
        "bert" => ModelKind::Wpm,
        "gemma4" => {
            pre_name = "gemma4".into(); // llama.cpp: the model type implies it
            ModelKind::Bpe
        }
        _ => return Err(TokenizerError::UnknownModel(model)),
    };
    // Only BPE vocabularies have pre-tokenizers (llama.cpp ignores the name otherwise).
    let pre = match kind {
        ModelKind::Bpe => {
            pre_tokenizer(&pre_name).ok_or_else(|| TokenizerError::UnknownPre(pre_name.clone()))?
        }
        ModelKind::Spm | ModelKind::Wpm => pre_tokenizer("default").expect("default pre"),
    };
    Ok((kind, pre_name, pre))
}

/// `tokenizer.ggml.tokens`, `.scores` and `.token_type`: the vocabulary,
/// checked against the size caps, with each token's score and attributes.
fn read_vocab(f: &gguf::GgufFile) -> Result<(vocab::Vocab, Vec<f32>, Vec<u16>), TokenizerError> {
    let toks = get_str_array(f, "tokenizer.ggml.tokens")?.ok_or(TokenizerError::MissingTokens)?;
    let n = toks.len();
    if n == 0 {
        return Err(TokenizerError::MissingTokens);
    }
    let too_large = |key: String, got, cap| Err(TokenizerError::TooLarge { key, got, cap });
    if n > MAX_VOCAB {
        return too_large("tokenizer.ggml.tokens".into(), n, MAX_VOCAB);
    }
    if let Some((i, t)) = toks
        .iter()
        .enumerate()
        .find(|(_, t)| t.len() > MAX_TOKEN_BYTES)
    {
        return too_large(format!("token {i}"), t.len(), MAX_TOKEN_BYTES);
    }
    let total: usize = toks.iter().map(|t| t.len().max(16)).sum();
    if total > MAX_VOCAB_BYTES {
        return too_large(
            "tokenizer.ggml.tokens (total bytes)".into(),
            total,
            MAX_VOCAB_BYTES,
        );
    }
    let per_token = |key: &str| -> Result<Option<Vec<f64>>, TokenizerError> {
        let v = get_num_array(f, key)?;
        match v {
            Some(s) if s.len() < n => Err(TokenizerError::LengthMismatch {
                key: key.into(),
                got: s.len(),
                want: n,
            }),
            v => Ok(v),
        }
    };
    let scores_raw = per_token("tokenizer.ggml.scores")?;
    let types_raw = per_token("tokenizer.ggml.token_type")?;
    let scores = (0..n)
        .map(|i| scores_raw.as_ref().map_or(0.0, |s| s[i] as f32))
        .collect();
    // llama.cpp `llama_token_type` -> `llama_token_attr`
    let attrs = (0..n)
        .map(|i| match types_raw.as_ref().map(|t| t[i] as i64) {
            None | Some(1) => ATTR_NORMAL,
            Some(2) => ATTR_UNKNOWN,
            Some(3) => ATTR_CONTROL,
            Some(4) => ATTR_USER_DEFINED,
            Some(5) => ATTR_UNUSED,
            Some(6) => ATTR_BYTE,
            Some(_) => 0,
        })
        .collect();
    Ok((vocab::Vocab::new(toks.iter().copied()), scores, attrs))
}

/// `tokenizer.ggml.merges` as (left id, right id) -> rank. A merge whose
/// halves are not both tokens can never apply here and is skipped.
fn read_merges(
    f: &gguf::GgufFile,
    tokens: &vocab::Vocab,
) -> Result<HashMap<(u32, u32), u32>, TokenizerError> {
    let m = get_str_array(f, "tokenizer.ggml.merges")?.ok_or(TokenizerError::MissingMerges)?;
    if m.len() > MAX_MERGES {
        return Err(TokenizerError::TooLarge {
            key: "tokenizer.ggml.merges".into(),
            got: m.len(),
            cap: MAX_MERGES,
        });
    }
    let mut merges = HashMap::default();
    merges.reserve(m.len());
    for (rank, w) in m.iter().enumerate() {
        // llama.cpp: split at the first space after position 0.
        let Some(pos) = w.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1) else {
            continue;
        };
        if let (Some(&a), Some(&b)) = (tokens.get(&w[..pos]), tokens.get(&w[pos + 1..])) {
            merges.entry((a, b)).or_insert(rank as u32);
        }
    }
    Ok(merges)
}

/// Each byte's token: the GPT-2 character of the byte (byte-level BPE), or
/// `<0xNN>` (SentencePiece and SentencePiece-style BPE; an SPM vocabulary
/// without them falls back to the ASCII character).
fn byte_tokens(kind: ModelKind, pre: &Pre, tokens: &vocab::Vocab) -> [Option<u32>; 256] {
    let mut out = [None; 256];
    let map = unicode::byte_to_unicode();
    for (b, slot) in out.iter_mut().enumerate() {
        let hex = || tokens.get(&format!("<0x{b:02X}>")).copied();
        *slot = match kind {
            ModelKind::Bpe if pre.byte_encode => tokens.get(map[b].to_string().as_str()).copied(),
            ModelKind::Bpe => hex(),
            ModelKind::Spm => hex().or_else(|| {
                (b < 128)
                    .then(|| tokens.get((b as u8 as char).to_string().as_str()).copied())
                    .flatten()
            }),
            ModelKind::Wpm => None,
        };
    }
    out
}

impl Tokenizer {
    /// Builds the tokenizer. A tokenizer model or BPE pre-tokenizer that
    /// hearth does not implement is an error naming it
    /// ([`TokenizerError::UnknownModel`], [`TokenizerError::UnknownPre`]):
    /// it would split text differently from the model's own tokenizer.
    pub fn from_gguf(f: &gguf::GgufFile) -> Result<Tokenizer, TokenizerError> {
        let (kind, pre_name, pre) = read_kind(f)?;
        let (tokens, scores, mut attrs) = read_vocab(f)?;
        let merges = match kind {
            ModelKind::Bpe => read_merges(f, &tokens)?,
            ModelKind::Spm | ModelKind::Wpm => HashMap::default(),
        };
        let mut warnings = Vec::new();
        if kind == ModelKind::Bpe && pre_name.is_empty() {
            warnings.push(
                "missing tokenizer.ggml.pre; using 'default' (generation quality may degrade)"
                    .into(),
            );
        }
        let mut sp = Specials::defaults(kind, &pre, tokens.len());
        sp.read_ids(f, tokens.len(), &mut warnings);
        let switches = Switches::read(f, kind, &pre);
        sp.detect_by_text(&tokens, &mut attrs);
        let eog = sp.eog_set(&tokens, &mut attrs);
        let special_cache = SpecialCache::new(&tokens, &attrs);
        specials::model_token_attrs(f, &tokens, &special_cache.ids, &mut attrs);
        let byte_tokens = byte_tokens(kind, &pre, &tokens);
        let max_token_len = tokens.iter().map(str::len).max().unwrap_or(0);
        let mut tk = Tokenizer {
            kind,
            pre_name,
            pre,
            wpm: switches.wpm,
            max_token_len,
            tokens,
            scores,
            attrs,
            merges,
            byte_tokens,
            piece_bytes: Vec::new(),
            piece_off: Vec::new(),
            special: special_cache,
            bos: sp.bos,
            eos: sp.eos,
            eot: sp.eot,
            eom: sp.eom,
            pad: sp.pad,
            unk: sp.unk,
            sep: sp.sep,
            add_bos: switches.add_bos,
            add_eos: switches.add_eos,
            add_space_prefix: switches.add_space_prefix,
            eog,
            warnings,
        };
        tk.build_pieces();
        Ok(tk)
    }

    /// The same as [`Tokenizer::from_gguf`], which refuses unknown
    /// pre-tokenizers too (kept for existing callers).
    pub fn from_gguf_strict(f: &gguf::GgufFile) -> Result<Tokenizer, TokenizerError> {
        Self::from_gguf(f)
    }

    /// `token_to_piece` of every token, with and without `special`, in one
    /// buffer (llama.cpp builds the same cache at load).
    fn build_pieces(&mut self) {
        let n = self.tokens.len();
        let mut bytes = Vec::with_capacity(n * 6);
        let mut off = Vec::with_capacity(n);
        // byte-level BPE pieces go back through GPT-2's byte mapping
        let gpt2_inverse = (self.kind == ModelKind::Bpe && self.pre.byte_encode).then(|| {
            let mut inv = [None::<u8>; 324];
            for (b, c) in unicode::byte_to_unicode().iter().enumerate() {
                inv[*c as usize] = Some(b as u8);
            }
            inv
        });
        for i in 0..n {
            let start = bytes.len();
            let attr = self.attrs[i];
            let text = self.tokens.text(i);
            if attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED) != 0 {
                bytes.extend_from_slice(text.as_bytes());
            } else if attr & ATTR_NORMAL != 0 {
                match &gpt2_inverse {
                    None => bytes.extend_from_slice(text.replace('\u{2581}', " ").as_bytes()),
                    Some(inv) => decode_gpt2(text, inv, &mut bytes),
                }
            } else if attr & ATTR_BYTE != 0 {
                if let Some(b) = text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    bytes.push(b);
                }
            }
            let len = (bytes.len() - start) as u32;
            let plain = if attr & (ATTR_UNKNOWN | ATTR_CONTROL) != 0 {
                0
            } else {
                len
            };
            off.push((start as u32, plain, len));
        }
        self.piece_bytes = bytes;
        self.piece_off = off;
    }
}

/// llama.cpp `llama_decode_text`: GPT-2 characters back to bytes; a character
/// outside the mapping is written as `[UNK_BYTE_0x..<text>]`.
fn decode_gpt2(text: &str, inv: &[Option<u8>; 324], bytes: &mut Vec<u8>) {
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

/// The `add_*` switches and WordPiece normalizer options, each the family's
/// default unless the file says otherwise.
struct Switches {
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    wpm: WpmOptions,
}

impl Switches {
    fn read(f: &gguf::GgufFile, kind: ModelKind, pre: &Pre) -> Switches {
        let (add_bos, add_space_prefix) = match kind {
            ModelKind::Bpe => (pre.add_bos.unwrap_or(false), false),
            ModelKind::Spm => (true, true),
            ModelKind::Wpm => (true, false),
        };
        let lowercase = get_bool(f, "tokenizer.ggml.normalizer.lowercase").unwrap_or(true);
        let mut s = Switches {
            add_bos: get_bool(f, "tokenizer.ggml.add_bos_token").unwrap_or(add_bos),
            add_eos: get_bool(f, "tokenizer.ggml.add_eos_token").unwrap_or(false),
            add_space_prefix: get_bool(f, "tokenizer.ggml.add_space_prefix")
                .unwrap_or(add_space_prefix),
            wpm: WpmOptions {
                lowercase,
                strip_accents: get_bool(f, "tokenizer.ggml.normalizer.strip_accents")
                    .unwrap_or(lowercase),
            },
        };
        if pre.force_bos {
            s.add_bos = true;
        }
        s
    }
}

/// The special tokens that text can contain (control, user-defined,
/// unknown), longest first, with what `partition` needs to find them fast.
pub(crate) struct SpecialCache {
    /// Token ids, longest text first (llama.cpp `cache_special_tokens`).
    pub ids: Vec<u32>,
    /// The distinct text lengths, longest first.
    pub lens: Vec<usize>,
    /// Which bytes start some special token's text.
    pub first: [bool; 256],
}

impl SpecialCache {
    fn new(tokens: &vocab::Vocab, attrs: &[u16]) -> SpecialCache {
        let mut ids: Vec<u32> = (0..tokens.len() as u32)
            .filter(|&i| attrs[i as usize] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN) != 0)
            .collect();
        ids.sort_by(|&a, &b| tokens[b as usize].len().cmp(&tokens[a as usize].len()));
        let mut lens: Vec<usize> = ids.iter().map(|&i| tokens[i as usize].len()).collect();
        lens.dedup();
        let mut first = [false; 256];
        for &i in &ids {
            first[tokens[i as usize].as_bytes()[0] as usize] = true;
        }
        SpecialCache { ids, lens, first }
    }
}
