//! Unicode categories and the BPE pre-tokenizer splits.
//!
//! llama.cpp (`src/unicode.cpp`) does not run the pre-tokenizer regexes of
//! `tokenizer.json` through a regex engine for the common families: it has
//! hand-written matchers (`unicode_regex_split_custom_gpt2`, `_llama3`,
//! `_qwen2`) and, for the remaining expressions, runs `std::regex` on a
//! "collapsed" text where every non-ASCII code point is replaced by one byte
//! standing for its category. We reproduce those behaviours directly as code so
//! that the splits are identical, including the quirks.
//!
//! Category data: General_Category classes from `regex-syntax`'s Unicode
//! tables (\p{L}, \p{N}, \p{P}); whitespace is the White_Space property, which
//! is exactly llama.cpp's `unicode_set_whitespace` list.

use std::sync::OnceLock;

pub const F_LETTER: u8 = 1;
pub const F_NUMBER: u8 = 2;
pub const F_PUNCT: u8 = 4;
pub const F_WS: u8 = 8;

static TABLE: OnceLock<Vec<u8>> = OnceLock::new();

fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
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
        ] {
            for (a, b) in class_ranges(pat) {
                for c in a..=b {
                    t[c as usize] |= flag;
                }
            }
        }
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

/// The pre-tokenizer stages, each corresponding to one regex of llama.cpp's
/// `llm_tokenizer_bpe` (`src/llama-vocab.cpp`), applied in sequence: every
/// stage re-splits the pieces produced by the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    Gpt2,
    /// llama3: `(?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    Llama3,
    /// qwen2: as llama3 but `\p{N}` (single digits).
    Qwen2,
    /// `\p{N}`: each number code point alone.
    EachNumber,
    /// `\p{N}+`
    NumberRuns,
    /// `[\p{P}\$\+<=>\^~\|]+`
    PunctRuns,
    /// `[0-9][0-9][0-9]`
    AsciiDigits3,
}

/// Splits `text` into pieces (as char-index lengths) following the stages.
pub fn split<'a>(text: &'a str, stages: &[Stage]) -> Vec<&'a str> {
    let chars: Vec<char> = text.chars().collect();
    let mut offsets: Vec<usize> = if chars.is_empty() {
        vec![]
    } else {
        vec![chars.len()]
    };
    for st in stages {
        offsets = apply(&chars, &offsets, *st);
    }
    // convert char lengths into &str slices
    let mut out = Vec::with_capacity(offsets.len());
    let mut byte = 0usize;
    let mut ci = 0usize;
    let mut it = text.char_indices().peekable();
    for len in offsets {
        let start = byte;
        for _ in 0..len {
            let (_, c) = it.next().expect("offsets cover text");
            byte += c.len_utf8();
            ci += 1;
        }
        out.push(&text[start..byte]);
    }
    let _ = ci;
    out
}

fn apply(cpts: &[char], offsets: &[usize], st: Stage) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len() * 2);
    let mut start = 0usize;
    for &off in offsets {
        let (ini, end) = (start, start + off);
        start = end;
        match st {
            Stage::Gpt2 => split_gpt2(cpts, ini, end, &mut out),
            Stage::Llama3 => split_llama3(cpts, ini, end, &mut out, false),
            Stage::Qwen2 => split_llama3(cpts, ini, end, &mut out, true),
            Stage::EachNumber => split_class(
                cpts,
                ini,
                end,
                &mut out,
                |c| flags(c) & F_NUMBER != 0,
                false,
            ),
            Stage::NumberRuns => {
                split_class(cpts, ini, end, &mut out, |c| flags(c) & F_NUMBER != 0, true)
            }
            Stage::PunctRuns => split_class(
                cpts,
                ini,
                end,
                &mut out,
                |c| {
                    if (c as u32) < 128 {
                        // llama.cpp's collapsed-regex ASCII sets for \p{P} plus the explicit $+<=>^~|
                        matches!(c, '!'..='#' | '%'..='*' | ','..='/' | ':'..=';' | '?'..='@' | '['..=']' | '_' | '{' | '}')
                            || matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '~' | '|')
                    } else {
                        let f = flags(c);
                        // collapsed category: whitespace wins, then the category byte
                        f & F_WS == 0 && f & (F_LETTER | F_NUMBER) == 0 && f & F_PUNCT != 0
                    }
                },
                true,
            ),
            Stage::AsciiDigits3 => split_digits3(cpts, ini, end, &mut out),
        }
    }
    out
}

/// Generic "regex matches are pieces, gaps between them are pieces too"
/// (llama.cpp's `unicode_regex_split_stl`), for a single character class,
/// either one char per match or runs.
fn split_class(
    cpts: &[char],
    ini: usize,
    end: usize,
    out: &mut Vec<usize>,
    pred: impl Fn(char) -> bool,
    runs: bool,
) {
    let mut prev = ini;
    let mut pos = ini;
    while pos < end {
        if pred(cpts[pos]) {
            if pos > prev {
                out.push(pos - prev);
            }
            let s = pos;
            pos += 1;
            if runs {
                while pos < end && pred(cpts[pos]) {
                    pos += 1;
                }
            }
            out.push(pos - s);
            prev = pos;
        } else {
            pos += 1;
        }
    }
    if end > prev {
        out.push(end - prev);
    }
}

fn split_digits3(cpts: &[char], ini: usize, end: usize, out: &mut Vec<usize>) {
    let mut prev = ini;
    let mut pos = ini;
    while pos < end {
        if pos + 3 <= end && cpts[pos..pos + 3].iter().all(|c| c.is_ascii_digit()) {
            if pos > prev {
                out.push(pos - prev);
            }
            out.push(3);
            pos += 3;
            prev = pos;
        } else {
            pos += 1;
        }
    }
    if end > prev {
        out.push(end - prev);
    }
}

const OOR: u32 = 0xFFFF_FFFF;
/// Flags with an "in range" bit so that out-of-range positions are all-zero,
/// like llama.cpp's default-constructed `unicode_cpt_flags{}`.
const F_VALID: u8 = 0x80;

struct Seg<'a> {
    cpts: &'a [char],
    ini: usize,
    end: usize,
}
impl Seg<'_> {
    #[inline]
    fn cpt(&self, p: usize) -> u32 {
        if self.ini <= p && p < self.end {
            self.cpts[p] as u32
        } else {
            OOR
        }
    }
    #[inline]
    fn fl(&self, p: usize) -> u8 {
        if self.ini <= p && p < self.end {
            flags(self.cpts[p]) | F_VALID
        } else {
            0
        }
    }
}

#[inline]
fn is_l(f: u8) -> bool {
    f & F_LETTER != 0
}
#[inline]
fn is_n(f: u8) -> bool {
    f & F_NUMBER != 0
}
#[inline]
fn is_ws(f: u8) -> bool {
    f & F_WS != 0
}

#[allow(clippy::nonminimal_bool)]
// Port of unicode_regex_split_custom_gpt2 (llama.cpp src/unicode.cpp).
fn split_gpt2(cpts: &[char], ini: usize, end: usize, out: &mut Vec<usize>) {
    let s = Seg { cpts, ini, end };
    let mut prev_end = ini;
    let mut add = |e: usize, out: &mut Vec<usize>| -> usize {
        let len = e - prev_end;
        if len > 0 {
            out.push(len);
        }
        prev_end = e;
        len
    };
    let mut pos = ini;
    while pos < end {
        let cpt = s.cpt(pos);
        let fl = s.fl(pos);
        if cpt == '\'' as u32 && pos + 1 < end {
            let n = s.cpt(pos + 1);
            if n == 's' as u32 || n == 't' as u32 || n == 'm' as u32 || n == 'd' as u32 {
                pos += add(pos + 2, out);
                continue;
            }
            if pos + 2 < end {
                let nn = s.cpt(pos + 2);
                if (n == 'r' as u32 && nn == 'e' as u32)
                    || (n == 'v' as u32 && nn == 'e' as u32)
                    || (n == 'l' as u32 && nn == 'l' as u32)
                {
                    pos += add(pos + 3, out);
                    continue;
                }
            }
        }
        let sp = cpt == ' ' as u32;
        let mut f2 = if sp { s.fl(pos + 1) } else { fl };
        if is_l(f2) {
            pos += sp as usize;
            while is_l(f2) {
                pos += 1;
                f2 = s.fl(pos);
            }
            add(pos, out);
            continue;
        }
        if is_n(f2) {
            pos += sp as usize;
            while is_n(f2) {
                pos += 1;
                f2 = s.fl(pos);
            }
            add(pos, out);
            continue;
        }
        if !(is_ws(f2) || is_l(f2) || is_n(f2)) && f2 != 0 {
            pos += sp as usize;
            while !(is_ws(f2) || is_l(f2) || is_n(f2)) && f2 != 0 {
                pos += 1;
                f2 = s.fl(pos);
            }
            add(pos, out);
            continue;
        }
        let mut nws = 0;
        while is_ws(s.fl(pos + nws)) {
            nws += 1;
        }
        if nws > 1 && s.cpt(pos + nws) != OOR {
            pos += nws - 1;
            add(pos, out);
            continue;
        }
        if nws > 0 {
            pos += nws;
            add(pos, out);
            continue;
        }
        pos += 1;
        add(pos, out);
    }
}

#[allow(clippy::nonminimal_bool)]
// Port of unicode_regex_split_custom_llama3 / _qwen2 (llama.cpp src/unicode.cpp);
// `single_digit` selects qwen2's `\p{N}` instead of `\p{N}{1,3}`.
fn split_llama3(cpts: &[char], ini: usize, end: usize, out: &mut Vec<usize>, single_digit: bool) {
    let s = Seg { cpts, ini, end };
    let mut prev_end = ini;
    let mut add = |e: usize, out: &mut Vec<usize>| -> usize {
        let len = e - prev_end;
        if len > 0 {
            out.push(len);
        }
        prev_end = e;
        len
    };
    let lower = |c: u32| -> u32 {
        match char::from_u32(c) {
            Some(ch) if ch.is_uppercase() => {
                ch.to_lowercase().next().map(|l| l as u32).unwrap_or(c)
            }
            _ => c,
        }
    };
    let mut pos = ini;
    while pos < end {
        let cpt = s.cpt(pos);
        let fl = s.fl(pos);
        if cpt == '\'' as u32 && pos + 1 < end {
            let n = lower(s.cpt(pos + 1));
            if n == 's' as u32 || n == 't' as u32 || n == 'm' as u32 || n == 'd' as u32 {
                pos += add(pos + 2, out);
                continue;
            }
            if pos + 2 < end {
                let nn = lower(s.cpt(pos + 2));
                if (n == 'r' as u32 && nn == 'e' as u32)
                    || (n == 'v' as u32 && nn == 'e' as u32)
                    || (n == 'l' as u32 && nn == 'l' as u32)
                {
                    pos += add(pos + 3, out);
                    continue;
                }
            }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(cpt == '\r' as u32 || cpt == '\n' as u32 || is_n(fl))
            && (is_l(fl) || is_l(s.fl(pos + 1)))
        {
            pos += 1;
            while is_l(s.fl(pos)) {
                pos += 1;
            }
            add(pos, out);
            continue;
        }
        if is_n(fl) {
            if single_digit {
                pos += 1;
                add(pos, out);
            } else {
                let mut i0 = pos;
                while is_n(s.fl(pos)) {
                    pos += 1;
                    if pos - i0 >= 3 {
                        add(pos, out);
                        i0 = pos;
                    }
                }
                add(pos, out);
            }
            continue;
        }
        // <space>?[^\s\p{L}\p{N}]+[\r\n]*
        let sp = cpt == ' ' as u32;
        let mut f2 = if sp { s.fl(pos + 1) } else { fl };
        if !(is_ws(f2) || is_l(f2) || is_n(f2)) && fl != 0 {
            pos += sp as usize;
            while !(is_ws(f2) || is_l(f2) || is_n(f2)) && f2 != 0 {
                pos += 1;
                f2 = s.fl(pos);
            }
            let mut c2 = s.cpt(pos);
            while c2 == '\r' as u32 || c2 == '\n' as u32 {
                pos += 1;
                c2 = s.cpt(pos);
            }
            add(pos, out);
            continue;
        }
        let mut nws = 0;
        let mut last_rn = 0;
        while is_ws(s.fl(pos + nws)) {
            let c2 = s.cpt(pos + nws);
            if c2 == '\r' as u32 || c2 == '\n' as u32 {
                last_rn = pos + nws + 1;
            }
            nws += 1;
        }
        if last_rn > 0 {
            pos = last_rn;
            add(pos, out);
            continue;
        }
        if nws > 1 && s.cpt(pos + nws) != OOR {
            pos += nws - 1;
            add(pos, out);
            continue;
        }
        if nws > 0 {
            pos += nws;
            add(pos, out);
            continue;
        }
        pos += 1;
        add(pos, out);
    }
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
        assert!(is_l(flags('a')) && is_l(flags('日')) && !is_l(flags('1')));
        assert!(is_n(flags('٣')) && is_n(flags('½')));
        assert!(is_ws(flags('\u{3000}')) && is_ws(flags('\u{85}')));
        assert!(!is_l(flags('\u{0301}')));
    }

    #[test]
    fn gpt2_split() {
        let v = split("Hello world  x 123", &[Stage::Gpt2]);
        assert_eq!(v, vec!["Hello", " world", " ", " x", " 123"]);
        let v = split("I'Ll 1234", &[Stage::Llama3]);
        assert_eq!(v, vec!["I", "'Ll", " ", "123", "4"]);
    }
}
