//! Special tokens: the ids the file names, the ones llama.cpp finds by their
//! text, the end-of-generation set, and per-model token attributes
//! (llama.cpp `llama_vocab::impl::load`, "special tokens" to "Handle per
//! token attributes").

use super::*;
use crate::pre::Pre;

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

/// The special token ids of a vocabulary.
#[derive(Default)]
pub(crate) struct Specials {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub sep: Option<u32>,
    pub pad: Option<u32>,
    pub mask: Option<u32>,
    pub fim_pre: Option<u32>,
    pub fim_suf: Option<u32>,
    pub fim_mid: Option<u32>,
    pub fim_pad: Option<u32>,
    pub fim_rep: Option<u32>,
    pub fim_sep: Option<u32>,
}

impl Specials {
    /// The family's defaults, those outside the vocabulary dropped.
    pub fn defaults(kind: ModelKind, pre: &Pre, n: usize) -> Specials {
        let mut s = match kind {
            ModelKind::Spm => Specials {
                bos: Some(1),
                eos: Some(2),
                unk: Some(0),
                ..Default::default()
            },
            // byte-level BPE; SentencePiece-style BPE (gemma4) has none
            ModelKind::Bpe if pre.byte_encode => Specials {
                bos: (!pre.no_bos).then_some(11),
                eos: Some(11),
                ..Default::default()
            },
            ModelKind::Bpe => Specials::default(),
            ModelKind::Wpm => Specials {
                bos: Some(101),
                unk: Some(100),
                sep: Some(102),
                pad: Some(0),
                mask: Some(103),
                ..Default::default()
            },
        };
        for slot in s.slots().into_iter().map(|(_, s)| s) {
            *slot = slot.filter(|&i| (i as usize) < n);
        }
        s
    }

    fn slots(&mut self) -> [(&'static str, &mut Option<u32>); 14] {
        [
            ("tokenizer.ggml.bos_token_id", &mut self.bos),
            ("tokenizer.ggml.eos_token_id", &mut self.eos),
            ("tokenizer.ggml.eot_token_id", &mut self.eot),
            ("tokenizer.ggml.eom_token_id", &mut self.eom),
            ("tokenizer.ggml.unknown_token_id", &mut self.unk),
            ("tokenizer.ggml.seperator_token_id", &mut self.sep), // sic, llama.cpp's key
            ("tokenizer.ggml.padding_token_id", &mut self.pad),
            ("tokenizer.ggml.mask_token_id", &mut self.mask),
            ("tokenizer.ggml.fim_pre_token_id", &mut self.fim_pre),
            ("tokenizer.ggml.fim_suf_token_id", &mut self.fim_suf),
            ("tokenizer.ggml.fim_mid_token_id", &mut self.fim_mid),
            ("tokenizer.ggml.fim_pad_token_id", &mut self.fim_pad),
            ("tokenizer.ggml.fim_rep_token_id", &mut self.fim_rep),
            ("tokenizer.ggml.fim_sep_token_id", &mut self.fim_sep),
        ]
    }

    /// The ids the file names; one outside the vocabulary keeps the default
    /// and is reported in `warnings`.
    pub fn read_ids(&mut self, f: &gguf::GgufFile, n: usize, warnings: &mut Vec<String>) {
        for (key, slot) in self.slots() {
            if let Some(v) = f.get(key) {
                match v.as_u64() {
                    Some(id) if (id as usize) < n => *slot = Some(id as u32),
                    other => warnings.push(format!(
                        "bad special token {key} = {other:?} (vocab size {n}); ignored"
                    )),
                }
            }
        }
    }

    /// llama-vocab.cpp "auto-detect special tokens by text": each unset
    /// EOT/EOM/FIM id is found by its usual text; the token becomes CONTROL.
    pub fn detect_by_text(&mut self, tokens: &vocab::Vocab, attrs: &mut [u16]) {
        for (slot, list) in [
            (&mut self.eot, EOT_TEXTS),
            (&mut self.eom, &["<|eom_id|>"][..]),
            (&mut self.fim_pre, FIM_PRE),
            (&mut self.fim_suf, FIM_SUF),
            (&mut self.fim_mid, FIM_MID),
            (&mut self.fim_pad, FIM_PAD),
            (&mut self.fim_rep, FIM_REP),
            (&mut self.fim_sep, FIM_SEP),
        ] {
            if slot.is_none() {
                // llama.cpp marks every matching token it meets while the slot is empty;
                // it iterates a hash map so "first" is arbitrary: we take list order.
                if let Some(&id) = list.iter().find_map(|t| tokens.get(t)) {
                    *slot = Some(id);
                    attrs[id as usize] |= ATTR_CONTROL;
                }
            }
        }
        // unused control tokens
        for (i, t) in tokens.iter().enumerate() {
            if attrs[i] & ATTR_CONTROL != 0 && t.contains("unused") {
                attrs[i] |= ATTR_UNUSED;
            }
        }
    }

    /// The end-of-generation tokens, sorted (llama.cpp `special_eog_ids`),
    /// with the attribute changes llama.cpp makes on the way.
    pub fn eog_set(&self, tokens: &vocab::Vocab, attrs: &mut [u16]) -> Vec<u32> {
        let mut eog: Vec<u32> = [self.fim_pad, self.fim_rep, self.fim_sep]
            .into_iter()
            .flatten()
            .collect();
        for t in EOG_TEXTS {
            if let Some(&id) = tokens.get(t) {
                eog.push(id);
                attrs[id as usize] |= ATTR_CONTROL;
            }
        }
        // gpt-oss: always render these
        for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let Some(&id) = tokens.get(t) {
                attrs[id as usize] = ATTR_USER_DEFINED;
            }
        }
        eog.extend([self.eos, self.eot, self.eom].into_iter().flatten());
        eog.sort_unstable();
        eog.dedup();
        let has = |eog: &[u32], s: &str| eog.iter().any(|&i| &tokens[i as usize] == s);
        let mut remove = |eog: &mut Vec<u32>, s: &str, attr: u16| {
            if let Some(p) = eog.iter().position(|&i| &tokens[i as usize] == s) {
                let id = eog.remove(p);
                attrs[id as usize] = attr;
            }
        };
        // o200k_harmony / solar-open: <|end|> is not EOG when <|return|>+<|call|> exist.
        if (has(&eog, "<|return|>") && has(&eog, "<|call|>") && has(&eog, "<|end|>"))
            || (has(&eog, "<|calls|>") && has(&eog, "<|flush|>") && has(&eog, "<|end|>"))
        {
            remove(&mut eog, "<|end|>", ATTR_USER_DEFINED);
        }
        // gemma4 and plamo have a normal </s> token
        if (has(&eog, "<|tool_response>") || has(&eog, "<|plamo:eos|>")) && has(&eog, "</s>") {
            remove(&mut eog, "</s>", ATTR_NORMAL);
        }
        eog
    }
}

/// llama-vocab.cpp "Handle per token attributes": strip flags some models
/// give their special tokens, chosen by name, pre-tokenizer or architecture.
pub(crate) fn model_token_attrs(
    f: &gguf::GgufFile,
    tokens: &vocab::Vocab,
    special_ids: &[u32],
    attrs: &mut [u16],
) {
    let text = |key: &str| {
        f.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let name = text("general.name").to_ascii_lowercase();
    let pre = text("tokenizer.ggml.pre");
    let arch = text("general.architecture");
    let any = |s: &str, subs: &[&str]| subs.iter().any(|x| s.contains(x));
    let mut set_id = |id: u32, attr: u16, on: bool| {
        let a = &mut attrs[id as usize];
        *a = if on { *a | attr } else { *a & !attr };
    };
    let id = |t: &str| tokens.get(t).copied();
    if any(&pre, &["jina-v2-de", "jina-v2-es", "jina-v2-code"])
        || any(&arch, &["nomic-bert-moe", "jina-bert-v3"])
    {
        if let Some(i) = id("<mask>") {
            set_id(i, ATTR_LSTRIP, true);
        }
    } else if any(&name, &["phi-3", "phi3"]) {
        for &i in special_ids {
            set_id(i, ATTR_RSTRIP, true);
        }
        if let Some(i) = id("</s>") {
            set_id(i, ATTR_RSTRIP, true);
        }
        for i in ["<unk>", "<s>", "<|endoftext|>"].into_iter().filter_map(id) {
            set_id(i, ATTR_RSTRIP, false);
        }
    } else if name.contains("modern-bert") {
        if let Some(i) = id("[MASK]") {
            set_id(i, ATTR_LSTRIP, true);
        }
    }
}
