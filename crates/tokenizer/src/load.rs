//! Building a [`Tokenizer`] from GGUF metadata (llama.cpp `llama_vocab::impl::load`).

use super::*;

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
}
