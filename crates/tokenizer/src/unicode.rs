//! Unicode categories as llama.cpp's tokenizers see them, and GPT-2's
//! byte-to-unicode mapping. The pre-tokenizer splits built on them are in
//! `split.rs` (re-exported here as [`split`] and [`Stage`]).
//!
//! Category data: General_Category classes from `regex-syntax`'s Unicode
//! tables (llama.cpp's `scripts/gen-unicode-data.py` derives its flags from
//! the same categories: L, N, P, S, M, and C except Cn); whitespace is the
//! White_Space property, which is exactly llama.cpp's `unicode_set_whitespace`
//! list.

use std::sync::OnceLock;

pub use crate::split::{split, Class, Expr, Stage};

pub const F_LETTER: u8 = 1;
pub const F_NUMBER: u8 = 2;
pub const F_PUNCT: u8 = 4;
pub const F_WS: u8 = 8;
/// \p{M} (llama.cpp's `is_accent_mark`).
pub const F_MARK: u8 = 16;
/// \p{S}.
pub const F_SYMBOL: u8 = 32;
/// \p{C} without unassigned code points (Cc, Cf, Co, Cs: llama.cpp's `is_control`).
pub const F_CONTROL: u8 = 64;

static TABLE: OnceLock<Vec<u8>> = OnceLock::new();

/// The code point ranges of a regex character class (a static pattern).
pub(crate) fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("static unicode class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        _ => Vec::new(),
    }
}

fn table() -> &'static [u8] {
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; 0x110000];
        for (pat, flag) in [
            (r"\p{L}", F_LETTER),
            (r"\p{N}", F_NUMBER),
            (r"\p{P}", F_PUNCT),
            (r"\p{M}", F_MARK),
            (r"\p{S}", F_SYMBOL),
            (r"[\p{Cc}\p{Cf}\p{Co}]", F_CONTROL),
        ] {
            for (a, b) in class_ranges(pat) {
                for c in a..=b {
                    t[c as usize] |= flag;
                }
            }
        }
        // Surrogates (Cs) are control in llama.cpp's table; they never occur in a `str`.
        for c in 0..0x110000u32 {
            if let Some(ch) = char::from_u32(c) {
                if ch.is_whitespace() {
                    t[c as usize] |= F_WS;
                }
            }
        }
        t
    })
}

#[inline]
pub fn flags(c: char) -> u8 {
    table()[c as usize]
}

/// llama.cpp's `unicode_tolower`: the simple (one code point) lowercase
/// mapping of UnicodeData.txt. Rust's full mapping differs only for U+0130,
/// whose full lowercase starts with the simple one.
pub fn to_lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// llama.cpp's `unicode_cpts_normalize_nfd`: each code point becomes the first
/// code point of its canonical decomposition (not a full NFD: the combining
/// marks are dropped, and a Hangul syllable becomes its leading consonant).
pub fn nfd_first(c: char) -> char {
    use unicode_normalization::char::decompose_canonical;
    let mut first = None;
    decompose_canonical(c, |d| {
        first.get_or_insert(d);
    });
    first.unwrap_or(c)
}

/// GPT-2's byte-to-unicode mapping (`bytes_to_unicode` in OpenAI's encoder.py;
/// llama.cpp `unicode_byte_to_utf8_map`).
pub fn byte_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable =
            (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        map[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            let c = char::from_u32(256 + n).unwrap();
            n += 1;
            c
        };
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        let has = |c: char, f: u8| flags(c) & f != 0;
        assert!(has('a', F_LETTER) && has('日', F_LETTER) && !has('1', F_LETTER));
        assert!(has('٣', F_NUMBER) && has('½', F_NUMBER));
        assert!(has('\u{3000}', F_WS) && has('\u{85}', F_WS));
        assert!(!has('\u{0301}', F_LETTER) && has('\u{0301}', F_MARK));
        assert!(has('$', F_SYMBOL) && has('`', F_SYMBOL) && !has('$', F_PUNCT));
        assert!(
            has('\u{200D}', F_CONTROL) && has('\u{7}', F_CONTROL) && !has('\u{378}', F_CONTROL)
        );
    }

    #[test]
    fn nfd_and_lower() {
        assert_eq!(nfd_first('é'), 'e');
        assert_eq!(nfd_first('Ä'), 'A');
        assert_eq!(nfd_first('가'), '\u{1100}');
        assert_eq!(nfd_first('x'), 'x');
        assert_eq!(to_lower('Ä'), 'ä');
        assert_eq!(to_lower('\u{130}'), 'i');
    }
}
