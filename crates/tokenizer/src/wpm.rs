//! WordPiece (`tokenizer.ggml.model = bert`), as llama.cpp's
//! `llm_tokenizer_wpm` does it: BERT's normalizer (optional lowercasing and
//! accent stripping, control characters dropped), a split at whitespace and
//! around every punctuation mark, ASCII symbol and CJK ideograph, then a
//! greedy longest match per word.
//!
//! The GGUF vocabulary is not BERT's `vocab.txt` as written: llama.cpp's
//! converter turns word-initial pieces `hello` into `▁hello` and
//! continuation pieces `##llo` into `llo`, so a word is matched as
//! `▁` + word, the first piece carrying the `▁`.

use crate::unicode::{flags, nfd_first, to_lower, F_CONTROL, F_MARK, F_PUNCT, F_SYMBOL, F_WS};
use crate::{Tokenizer, WpmOptions};

/// BERT's CJK ideograph ranges, as llama.cpp's `is_chinese_char` has them
/// (including its 0x2B920 start, which follows Hugging Face's Rust code).
fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

/// llama.cpp `llm_tokenizer_wpm_session::preprocess`: the normalized words.
pub(crate) fn words(text: &str, opts: WpmOptions) -> Vec<String> {
    let mut words = vec![String::new()];
    for c in text.chars() {
        let c = if opts.strip_accents { nfd_first(c) } else { c };
        let f = flags(c);
        let last_empty = words.last().is_some_and(|w| w.is_empty());
        if f & F_WS != 0 {
            if !last_empty {
                words.push(String::new());
            }
            continue;
        }
        if c == '\0' || c == '\u{FFFD}' || f & F_CONTROL != 0 {
            continue;
        }
        if opts.strip_accents && f & F_MARK != 0 {
            continue;
        }
        let s = if opts.lowercase { to_lower(c) } else { c };
        if f & F_PUNCT != 0 || ((c as u32) < 0x7F && f & F_SYMBOL != 0) || is_chinese_char(c) {
            // a word of its own
            if !last_empty {
                words.push(String::new());
            }
            words.last_mut().expect("never empty").push(s);
            words.push(String::new());
        } else {
            words.last_mut().expect("never empty").push(s);
        }
    }
    if words.last().is_some_and(|w| w.is_empty()) {
        words.pop();
    }
    words
}

impl Tokenizer {
    /// llama.cpp `llm_tokenizer_wpm_session::tokenize`: each word is covered
    /// by the longest tokens from its start; a word that cannot be covered
    /// entirely becomes `[UNK]`.
    pub(crate) fn wpm_tokenize(&self, text: &str, out: &mut Vec<u32>) {
        let mut w = String::new();
        for word in words(text, self.wpm) {
            w.clear();
            w.push('\u{2581}');
            w.push_str(&word);
            let start = out.len();
            let mut i = 0;
            while i < w.len() {
                let hi = (i + self.max_token_len).min(w.len());
                let found = (i + 1..=hi)
                    .rev()
                    .filter(|&j| w.is_char_boundary(j))
                    .find_map(|j| self.tokens.get(&w[i..j]).map(|&id| (id, j)));
                match found {
                    Some((id, j)) => {
                        out.push(id);
                        i = j;
                    }
                    None => {
                        out.truncate(start);
                        break;
                    }
                }
            }
            if out.len() == start {
                out.extend(self.unk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizer() {
        let on = WpmOptions {
            lowercase: true,
            strip_accents: true,
        };
        assert_eq!(
            words("Héllo, World!  a\u{301}b 日本 x$y", on),
            vec!["hello", ",", "world", "!", "ab", "日", "本", "x", "$", "y"]
        );
        let off = WpmOptions {
            lowercase: false,
            strip_accents: false,
        };
        assert_eq!(words("Héllo\u{7}x", off), vec!["Héllox"]);
        assert!(words(" \t\n", on).is_empty());
    }
}
