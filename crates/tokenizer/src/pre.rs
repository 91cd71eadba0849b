//! What `tokenizer.ggml.pre` means for a byte-level BPE vocabulary: how the
//! text is split before merging, and the few per-family switches that go
//! with it. Facts from llama.cpp `src/llama-vocab.cpp` (`llama_vocab::impl::load`
//! maps names to a pre-tokenizer type, `llm_tokenizer_bpe` gives each type
//! its expressions). A name not listed here is refused at load.

use crate::split::{Class, Expr, Stage};

/// How a BPE vocabulary splits and encodes text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pre {
    pub stages: Vec<Stage>,
    /// A whole piece that is a token is taken as is, without merging (llama3).
    pub ignore_merges: bool,
    /// The family's `add_bos` default (the file's `add_bos_token` still wins).
    pub add_bos: Option<bool>,
    /// Pieces are GPT-2 byte-encoded before merging (false: raw UTF-8 with
    /// `<0xXX>` byte fallback, as SentencePiece-style BPE).
    pub byte_encode: bool,
    /// Spaces become U+2581 before splitting (SentencePiece-style BPE).
    pub escape_ws: bool,
    /// The family has no BOS token (chatglm: llama.cpp drops the default).
    pub no_bos: bool,
    /// Gemma 4: a piece made only of newlines that is a token is taken whole.
    pub newline_tokens: bool,
    /// `add_bos` forced on whatever the file says (llama.cpp's Gemma 4 workaround).
    pub force_bos: bool,
}

impl Pre {
    fn new(stages: Vec<Stage>) -> Pre {
        Pre {
            stages,
            ignore_merges: false,
            add_bos: None,
            byte_encode: true,
            escape_ws: false,
            no_bos: false,
            newline_tokens: false,
            force_bos: false,
        }
    }
}

use Class::*;
use Expr::*;
use Stage::Expr as E;

/// The expressions of llama.cpp's `LLAMA_VOCAB_PRE_TYPE_DEFAULT`.
fn default_stages() -> Vec<Stage> {
    vec![
        E(Class(PunctSymbols(false), true)),
        Stage::Gpt2,
        E(Class(Number, true)),
        E(Digits3),
    ]
}

/// The pre-tokenizer of a `tokenizer.ggml.pre` name, or `None` when hearth
/// does not implement it.
pub(crate) fn pre_tokenizer(name: &str) -> Option<Pre> {
    let llama3 = || Pre::new(vec![Stage::Llama3]);
    Some(match name {
        "" | "default" => Pre::new(default_stages()),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => Pre {
            ignore_merges: true,
            add_bos: Some(true),
            ..llama3()
        },
        "dbrx" | "smaug-bpe" => llama3(),
        "chatglm-bpe" => Pre {
            no_bos: true,
            ..llama3()
        },
        "glm4" | "glm5" => Pre {
            no_bos: true,
            ignore_merges: true,
            ..llama3()
        },
        "deepseek-llm" => Pre::new(vec![
            E(Class(Newline, false)),
            E(SpaceRun(DeepseekLetters)),
            E(SpaceRun(DeepseekPunct)),
            E(TrailingSpace),
            E(Class(Cjk, true)),
            E(Class(Number, true)),
        ]),
        "deepseek-coder" => Pre::new(vec![
            E(Class(Newline, false)),
            E(SpaceRun(Letter)),
            E(SpaceRun(Punct)),
            E(Class(Cjk, true)),
            E(Class(Number, false)),
        ]),
        "falcon" => Pre::new(vec![
            E(Class(PunctSymbols(true), true)),
            Stage::Gpt2,
            E(Digits3),
        ]),
        "starcoder" | "refact" | "command-r" | "smollm" | "codeshell" | "exaone" | "minerva-7b"
        | "mellum2" => Pre::new(vec![E(Class(Number, false)), Stage::Gpt2]),
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais" | "exaone4"
        | "jina-v1-en" | "jina-v2-code" | "roberta-bpe" | "trillion" | "granite-docling" => {
            Pre::new(vec![Stage::Gpt2])
        }
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" | "stablelm2" | "hunyuan"
        | "solar-open" | "grok-2" => Pre::new(vec![Stage::Qwen2]),
        "qwen35" => Pre::new(vec![Stage::Qwen35]),
        "laguna" => Pre::new(vec![Stage::NewlineRuns, Stage::Qwen2]),
        "tekken" => Pre {
            ignore_merges: true,
            add_bos: Some(true),
            ..Pre::new(vec![Stage::Tekken])
        },
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => Pre::new(vec![Stage::Gpt4o]),
        "gemma4" | "granite-embed-multi-311m" | "sarvam-moe" => Pre {
            byte_encode: false,
            escape_ws: true,
            newline_tokens: name != "sarvam-moe",
            force_bos: name != "sarvam-moe",
            ..Pre::new(vec![Stage::NewlineRuns])
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(pre_tokenizer("tekken").unwrap().ignore_merges);
        assert!(pre_tokenizer("deepseek-v3").is_none());
        assert!(pre_tokenizer("weird").is_none());
        assert!(pre_tokenizer("llama-bpe").unwrap().ignore_merges);
        assert!(!pre_tokenizer("gemma4").unwrap().byte_encode);
        assert_eq!(
            pre_tokenizer("").unwrap(),
            pre_tokenizer("default").unwrap()
        );
    }
}
