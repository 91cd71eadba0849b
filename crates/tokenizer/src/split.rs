//! The BPE pre-tokenizer splits.
//!
//! llama.cpp (`src/unicode.cpp`, `unicode_regex_split`) does not run the
//! pre-tokenizer regexes of `tokenizer.json` through a Unicode regex engine:
//! the common families have hand-written matchers
//! (`unicode_regex_split_custom_gpt2`, `_llama3`, `_qwen2`, `_qwen35`,
//! `_newlines`), and the remaining expressions go through `std::regex`, either
//! on a "collapsed" text where every non-ASCII code point is one byte standing
//! for its category (when the expression uses `\p{..}`) or on the code points
//! with non-ASCII whitespace replaced by U+000B. The expressions the supported
//! families use are simple enough to be written here as code ([`Expr`]) with
//! the same results, quirks included. Each stage re-splits the pieces of the
//! previous one; text between matches is a piece too.

use crate::unicode::{flags, F_LETTER, F_MARK, F_NUMBER, F_PUNCT, F_WS};
use std::sync::OnceLock;

/// One expression of llama.cpp's `regex_exprs` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    Gpt2,
    /// llama3: `(?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    Llama3,
    /// qwen2: as llama3 but `\p{N}` (single digits).
    Qwen2,
    /// qwen35: as qwen2 but letter runs take combining marks (`[\p{L}\p{M}]+`).
    Qwen35,
    /// `[^\n]+|[\n]+` (gemma4: the text is split only at newline runs).
    NewlineRuns,
    /// tekken (Mistral Nemo, Ministral 3, Mistral Small 3): words split at
    /// case changes, see [`split_cased`].
    Tekken,
    /// gpt-4o / llama4: as tekken, with contractions and `\p{N}{1,3}`.
    Gpt4o,
    /// A simple expression run through `std::regex` by llama.cpp.
    Expr(Expr),
}

/// The expressions of the `std::regex` path that the supported families use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `C` (one code point per match) or `C+` (runs).
    Class(Class, bool),
    /// `\s?C+`: a run, with one whitespace code point in front when there is one.
    SpaceRun(Class),
    /// `\s+$`: the whitespace at the end of a piece.
    TrailingSpace,
    /// `[0-9][0-9][0-9]`
    Digits3,
}

/// A character class as llama.cpp's regex sees a code point: ASCII code points
/// as themselves, others by category (collapsed text) or as themselves with
/// non-ASCII whitespace turned into U+000B (literal ranges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `\p{N}`
    Number,
    /// `\p{L}`
    Letter,
    /// `\p{P}`
    Punct,
    /// `[\p{P}\$\+<=>\^~\|]`, with `` ` `` too when the flag is set (falcon).
    PunctSymbols(bool),
    /// `[\r\n]`
    Newline,
    /// deepseek-llm's letters: `[A-Za-zµÀ-ÖØ-öø-ƺ...]` (see [`DEEPSEEK_LETTERS`]).
    DeepseekLetters,
    /// deepseek-llm's punctuation: `[!-/:-~！-／：-～‘-‟　-。]`.
    DeepseekPunct,
    /// deepseek's CJK and Hangul: `[一-龥ࠀ-一가-퟿]`.
    Cjk,
}

/// deepseek-llm's letter class, as written in llama.cpp's `llama-vocab.cpp`
/// (escaped: several of its code points have canonical equivalents that an
/// editor normalizing to NFC would silently replace).
pub const DEEPSEEK_LETTERS: &str = "[A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]";
const DEEPSEEK_PUNCT: &str =
    "[!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}]";
const CJK: &str = "[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]";

fn ranges(which: Class) -> &'static [(u32, u32)] {
    static SETS: [OnceLock<Vec<(u32, u32)>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (i, pat) = match which {
        Class::DeepseekLetters => (0, DEEPSEEK_LETTERS),
        Class::DeepseekPunct => (1, DEEPSEEK_PUNCT),
        _ => (2, CJK),
    };
    SETS[i].get_or_init(|| crate::unicode::class_ranges(pat))
}

/// `\s` as llama.cpp's regex sees it: ASCII whitespace, and non-ASCII
/// whitespace (replaced by U+000B before matching).
#[inline]
fn is_space(c: char) -> bool {
    flags(c) & F_WS != 0
}

/// A non-ASCII code point of one category (whitespace never is one: the
/// collapsed text has U+000B for it).
#[inline]
fn collapsed_is(c: char, flag: u8) -> bool {
    let f = flags(c);
    f & F_WS == 0 && f & flag != 0
}

impl Class {
    fn matches(self, c: char) -> bool {
        let ascii = c.is_ascii();
        match self {
            Class::Number => {
                if ascii {
                    c.is_ascii_digit()
                } else {
                    collapsed_is(c, F_NUMBER)
                }
            }
            Class::Letter => {
                if ascii {
                    c.is_ascii_alphabetic()
                } else {
                    collapsed_is(c, F_LETTER)
                }
            }
            Class::Punct | Class::PunctSymbols(_) => {
                if ascii {
                    // llama.cpp's ASCII stand-in for \p{P}: !-#%-*,-/:-;?-@[-]_{}
                    matches!(c, '!'..='#' | '%'..='*' | ','..='/' | ':'..=';' | '?'..='@' | '['..=']' | '_' | '{' | '}')
                        || match self {
                            Class::PunctSymbols(backtick) => {
                                matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '~' | '|')
                                    || (backtick && c == '`')
                            }
                            _ => false,
                        }
                } else {
                    collapsed_is(c, F_PUNCT)
                }
            }
            Class::Newline => c == '\r' || c == '\n',
            Class::DeepseekLetters | Class::DeepseekPunct | Class::Cjk => {
                if !ascii && is_space(c) {
                    return false; // U+000B is in none of these sets
                }
                let c = c as u32;
                let r = ranges(self);
                let i = r.partition_point(|&(_, hi)| hi < c);
                i < r.len() && r[i].0 <= c
            }
        }
    }
}

/// Splits `text` into pieces following the stages.
pub fn split<'a>(text: &'a str, stages: &[Stage]) -> Vec<&'a str> {
    let chars: Vec<char> = text.chars().collect();
    // piece lengths, in code points
    let mut offsets: Vec<usize> = if chars.is_empty() {
        vec![]
    } else {
        vec![chars.len()]
    };
    for st in stages {
        offsets = apply(&chars, &offsets, *st);
    }
    let mut out = Vec::with_capacity(offsets.len());
    let mut rest = text;
    for len in offsets {
        let n: usize = rest.chars().take(len).map(char::len_utf8).sum();
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

fn apply(cpts: &[char], offsets: &[usize], st: Stage) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len() * 2);
    let mut start = 0usize;
    for &off in offsets {
        let seg = Seg {
            cpts,
            ini: start,
            end: start + off,
        };
        start += off;
        match st {
            Stage::Gpt2 => split_gpt2(&seg, &mut out),
            Stage::Llama3 => split_llama3(&seg, &mut out, Digits::UpTo3, false),
            Stage::Qwen2 => split_llama3(&seg, &mut out, Digits::One, false),
            Stage::Qwen35 => split_llama3(&seg, &mut out, Digits::One, true),
            Stage::NewlineRuns => split_newline_runs(&seg, &mut out),
            Stage::Tekken => split_cased(&seg, &mut out, false),
            Stage::Gpt4o => split_cased(&seg, &mut out, true),
            Stage::Expr(e) => split_expr(&seg, &mut out, e),
        }
    }
    out
}

/// llama.cpp's `unicode_regex_split_stl`: every match is a piece, and so is
/// the text between matches. `find(pos)` is the leftmost match at or after
/// `pos` as (start, end).
fn split_matches(seg: &Seg, out: &mut Vec<usize>, find: impl Fn(usize) -> Option<(usize, usize)>) {
    let mut prev = seg.ini;
    let mut pos = seg.ini;
    while pos < seg.end {
        let Some((s, e)) = find(pos) else { break };
        if s > prev {
            out.push(s - prev);
        }
        out.push(e - s);
        prev = e;
        pos = e;
    }
    if seg.end > prev {
        out.push(seg.end - prev);
    }
}

fn split_expr(seg: &Seg, out: &mut Vec<usize>, e: Expr) {
    let c = |p: usize| seg.cpts[p];
    let end = seg.end;
    let run_end = |class: Class, mut p: usize| {
        while p < end && class.matches(c(p)) {
            p += 1;
        }
        p
    };
    match e {
        Expr::Class(class, run) => split_matches(seg, out, |pos| {
            let s = (pos..end).find(|&p| class.matches(c(p)))?;
            Some((s, if run { run_end(class, s) } else { s + 1 }))
        }),
        // leftmost-first: at each position try `\s` then `C+`, then `C+` alone
        Expr::SpaceRun(class) => split_matches(seg, out, |pos| {
            (pos..end).find_map(|p| {
                if is_space(c(p)) && p + 1 < end && class.matches(c(p + 1)) {
                    Some((p, run_end(class, p + 1)))
                } else if class.matches(c(p)) {
                    Some((p, run_end(class, p)))
                } else {
                    None
                }
            })
        }),
        Expr::TrailingSpace => split_matches(seg, out, |pos| {
            let mut s = end;
            while s > pos && is_space(c(s - 1)) {
                s -= 1;
            }
            (s < end).then_some((s, end))
        }),
        Expr::Digits3 => split_matches(seg, out, |pos| {
            let s = (pos..end.saturating_sub(2))
                .find(|&p| (p..p + 3).all(|q| c(q).is_ascii_digit()))?;
            Some((s, s + 3))
        }),
    }
}

/// llama.cpp's `unicode_regex_split_custom_newlines`: runs of `\n` and runs
/// of anything else.
fn split_newline_runs(seg: &Seg, out: &mut Vec<usize>) {
    let mut pos = seg.ini;
    while pos < seg.end {
        let nl = seg.cpts[pos] == '\n';
        let s = pos;
        while pos < seg.end && (seg.cpts[pos] == '\n') == nl {
            pos += 1;
        }
        out.push(pos - s);
    }
}

/// A code point as llama.cpp's collapsed text has it: ASCII as itself,
/// others by category (whitespace first).
#[derive(Clone, Copy, PartialEq)]
enum Coll {
    Ascii(u8),
    Space,
    Letter,
    Number,
    Other,
}

impl Coll {
    fn of(c: char) -> Coll {
        if c.is_ascii() {
            return Coll::Ascii(c as u8);
        }
        let f = flags(c);
        if f & F_WS != 0 {
            Coll::Space
        } else if f & F_LETTER != 0 {
            Coll::Letter
        } else if f & F_NUMBER != 0 {
            Coll::Number
        } else {
            Coll::Other
        }
    }
    fn letter(self) -> bool {
        matches!(self, Coll::Letter | Coll::Ascii(b'A'..=b'Z' | b'a'..=b'z'))
    }
    fn number(self) -> bool {
        matches!(self, Coll::Number | Coll::Ascii(b'0'..=b'9'))
    }
    fn space(self) -> bool {
        // `\s`: C isspace for ASCII; other whitespace was replaced by U+000B
        matches!(self, Coll::Space | Coll::Ascii(b' ' | b'\t'..=b'\r'))
    }
    fn crlf(self) -> bool {
        matches!(self, Coll::Ascii(b'\r' | b'\n'))
    }
    /// `(?=[\p{L}])([^a-z])`: an upper-case ASCII letter or any other letter.
    fn upper(self) -> bool {
        self.letter() && !matches!(self, Coll::Ascii(b'a'..=b'z'))
    }
    /// `(?=[\p{L}])([^A-Z])`: a lower-case ASCII letter or any other letter.
    fn lower(self) -> bool {
        self.letter() && !matches!(self, Coll::Ascii(b'A'..=b'Z'))
    }
    /// `[^\r\n\p{L}\p{N}]`
    fn lead(self) -> bool {
        !(self.crlf() || self.letter() || self.number())
    }
    /// `[^\s\p{L}\p{N}]`
    fn other(self) -> bool {
        !(self.space() || self.letter() || self.number())
    }
}

/// llama.cpp's tekken and gpt-4o expressions (run by `std::regex` on the
/// collapsed text), each alternative matched with the backtracking
/// `std::regex` does, the first alternative that matches winning:
/// ```text
/// [^\r\n\p{L}\p{N}]?U*L+C? | [^\r\n\p{L}\p{N}]?U+L*C? | \p{N} (\p{N}{1,3} for gpt-4o)
/// | ' '?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
/// ```
/// where U is `(?=[\p{L}])([^a-z])`, L is `(?=[\p{L}])([^A-Z])` (a non-ASCII
/// letter is both: the collapsed text has no case for it) and C the
/// contractions `'s|'t|'re|'ve|'m|'ll|'d` (either case; gpt-4o only).
fn split_cased(seg: &Seg, out: &mut Vec<usize>, gpt4o: bool) {
    let x = |p: usize| (p < seg.end).then(|| Coll::of(seg.cpts[p]));
    let is = |p: usize, f: fn(Coll) -> bool| x(p).is_some_and(f);
    let run = |mut p: usize, f: fn(Coll) -> bool| {
        while is(p, f) {
            p += 1;
        }
        p
    };
    let contraction = |p: usize| -> usize {
        let c = |q: usize| match x(q) {
            Some(Coll::Ascii(b)) => b.to_ascii_lowercase(),
            _ => 0,
        };
        if !gpt4o || c(p) != b'\'' {
            return p;
        }
        match (c(p + 1), c(p + 2)) {
            (b's' | b't' | b'm' | b'd', _) => p + 2,
            (b'r' | b'v', b'e') | (b'l', b'l') => p + 3,
            _ => p,
        }
    };
    // where the match at `p` ends, trying the alternatives in order
    let at = |p: usize| -> Option<usize> {
        let leads: &[usize] = if is(p, Coll::lead) { &[1, 0] } else { &[0] };
        // [..]?U*L+C?: the longest U* that still leaves an L
        for &l in leads {
            let q = p + l;
            let m = run(q, Coll::upper) - q;
            if let Some(k) = (0..=m).rev().find(|&k| is(q + k, Coll::lower)) {
                return Some(contraction(run(q + k, Coll::lower)));
            }
        }
        // [..]?U+L*C?
        for &l in leads {
            let q = p + l;
            if is(q, Coll::upper) {
                return Some(contraction(run(run(q, Coll::upper), Coll::lower)));
            }
        }
        if is(p, Coll::number) {
            let n = if gpt4o { 3 } else { 1 };
            return Some(p + (p..p + n).take_while(|&q| is(q, Coll::number)).count());
        }
        // ' '?[^\s\p{L}\p{N}]+[\r\n/]*
        let q = p + (x(p) == Some(Coll::Ascii(b' ')) && is(p + 1, Coll::other)) as usize;
        if is(q, Coll::other) {
            let mut e = run(q, Coll::other);
            while matches!(x(e), Some(Coll::Ascii(b'\r' | b'\n' | b'/'))) {
                e += 1;
            }
            return Some(e);
        }
        let ws_end = run(p, Coll::space);
        // \s*[\r\n]+: up to the last CR/LF of the whitespace
        if let Some(r) = (p..ws_end).rev().find(|&r| is(r, Coll::crlf)) {
            return Some(r + 1);
        }
        match ws_end - p {
            0 => None,
            _ if ws_end == seg.end => Some(ws_end), // \s+(?!\S) to the end
            1 => Some(ws_end),                      // \s+
            _ => Some(ws_end - 1),                  // \s+(?!\S)
        }
    };
    split_matches(seg, out, |pos| {
        (pos..seg.end).find_map(|p| Some((p, at(p)?)))
    });
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

/// Emits pieces ending at given positions (llama.cpp's `_add_token`).
struct Pieces<'o> {
    prev_end: usize,
    out: &'o mut Vec<usize>,
}
impl Pieces<'_> {
    fn add(&mut self, e: usize) -> usize {
        let len = e - self.prev_end;
        if len > 0 {
            self.out.push(len);
        }
        self.prev_end = e;
        len
    }
}

/// `'s|'t|'re|'ve|'m|'ll|'d` (case-insensitive when `lower` is given):
/// the length of the contraction at `pos`, if any.
fn contraction(s: &Seg, pos: usize, lower: bool) -> Option<usize> {
    let low = |c: u32| match char::from_u32(c) {
        Some(ch) if lower => crate::unicode::to_lower(ch) as u32,
        _ => c,
    };
    if s.cpt(pos) != '\'' as u32 || pos + 1 >= s.end {
        return None;
    }
    let n = low(s.cpt(pos + 1));
    if [b's', b't', b'm', b'd'].iter().any(|&b| n == b as u32) {
        return Some(2);
    }
    if pos + 2 < s.end {
        let nn = low(s.cpt(pos + 2));
        for (a, b) in [(b'r', b'e'), (b'v', b'e'), (b'l', b'l')] {
            if n == a as u32 && nn == b as u32 {
                return Some(3);
            }
        }
    }
    None
}

/// The whitespace alternatives shared by the custom splitters; returns where
/// the piece ends. `newlines`: llama3's `\s*[\r\n]+` comes first.
fn whitespace_piece(s: &Seg, pos: usize, newlines: bool) -> usize {
    let mut n = 0;
    let mut last_rn = 0;
    while is_ws(s.fl(pos + n)) {
        let c = s.cpt(pos + n);
        if c == '\r' as u32 || c == '\n' as u32 {
            last_rn = pos + n + 1;
        }
        n += 1;
    }
    if newlines && last_rn > 0 {
        return last_rn; // \s*[\r\n]+
    }
    if n > 1 && s.cpt(pos + n) != OOR {
        return pos + n - 1; // \s+(?!\S)
    }
    if n > 0 {
        return pos + n; // \s+
    }
    pos + 1 // no match: one code point alone
}

// Port of unicode_regex_split_custom_gpt2 (llama.cpp src/unicode.cpp).
fn split_gpt2(s: &Seg, out: &mut Vec<usize>) {
    let mut pc = Pieces {
        prev_end: s.ini,
        out,
    };
    let mut pos = s.ini;
    while pos < s.end {
        if let Some(n) = contraction(s, pos, false) {
            pos += pc.add(pos + n);
            continue;
        }
        let sp = s.cpt(pos) == ' ' as u32;
        let mut f2 = if sp { s.fl(pos + 1) } else { s.fl(pos) };
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        let class: Option<fn(u8) -> bool> = if is_l(f2) {
            Some(is_l)
        } else if is_n(f2) {
            Some(is_n)
        } else if !(is_ws(f2) || is_l(f2) || is_n(f2)) && f2 != 0 {
            Some(|f| !(is_ws(f) || is_l(f) || is_n(f)) && f != 0)
        } else {
            None
        };
        if let Some(class) = class {
            pos += sp as usize;
            while class(f2) {
                pos += 1;
                f2 = s.fl(pos);
            }
            pc.add(pos);
            continue;
        }
        pos = whitespace_piece(s, pos, false);
        pc.add(pos);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Digits {
    One,
    UpTo3,
}

// Port of unicode_regex_split_custom_llama3 / _qwen2 / _qwen35 (llama.cpp
// src/unicode.cpp): `digits` selects `\p{N}{1,3}` or `\p{N}`, `marks` makes
// combining marks count as letters (qwen35's `[\p{L}\p{M}]`).
fn split_llama3(s: &Seg, out: &mut Vec<usize>, digits: Digits, marks: bool) {
    let letter = |f: u8| is_l(f) || (marks && f & F_MARK != 0);
    let mut pc = Pieces {
        prev_end: s.ini,
        out,
    };
    let mut pos = s.ini;
    while pos < s.end {
        let cpt = s.cpt(pos);
        let fl = s.fl(pos);
        if let Some(n) = contraction(s, pos, true) {
            pos += pc.add(pos + n);
            continue;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(cpt == '\r' as u32 || cpt == '\n' as u32 || is_n(fl))
            && (letter(fl) || letter(s.fl(pos + 1)))
        {
            pos += 1;
            while letter(s.fl(pos)) {
                pos += 1;
            }
            pc.add(pos);
            continue;
        }
        if is_n(fl) {
            match digits {
                Digits::One => {
                    pos += 1;
                    pc.add(pos);
                }
                Digits::UpTo3 => {
                    let mut i0 = pos;
                    while is_n(s.fl(pos)) {
                        pos += 1;
                        if pos - i0 >= 3 {
                            pc.add(pos);
                            i0 = pos;
                        }
                    }
                    pc.add(pos);
                }
            }
            continue;
        }
        // <space>?[^\s\p{L}\p{N}]+[\r\n]*
        let other = |f: u8| !(is_ws(f) || letter(f) || is_n(f));
        let sp = cpt == ' ' as u32;
        let mut f2 = if sp { s.fl(pos + 1) } else { fl };
        if other(f2) && fl != 0 {
            pos += sp as usize;
            while other(f2) && f2 != 0 {
                pos += 1;
                f2 = s.fl(pos);
            }
            let mut c2 = s.cpt(pos);
            while c2 == '\r' as u32 || c2 == '\n' as u32 {
                pos += 1;
                c2 = s.cpt(pos);
            }
            pc.add(pos);
            continue;
        }
        pos = whitespace_piece(s, pos, true);
        pc.add(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_and_llama3() {
        let v = split("Hello world  x 123", &[Stage::Gpt2]);
        assert_eq!(v, vec!["Hello", " world", " ", " x", " 123"]);
        let v = split("I'Ll 1234", &[Stage::Llama3]);
        assert_eq!(v, vec!["I", "'Ll", " ", "123", "4"]);
        let v = split("I'Ll 12", &[Stage::Qwen2]);
        assert_eq!(v, vec!["I", "'Ll", " ", "1", "2"]);
    }

    #[test]
    fn qwen35_marks() {
        // a combining mark joins the letters (qwen35) or starts the next
        // word as qwen2's optional non-letter prefix
        let t = "cafe\u{301}s";
        assert_eq!(split(t, &[Stage::Qwen35]), vec![t]);
        assert_eq!(split(t, &[Stage::Qwen2]), vec!["cafe", "\u{301}s"]);
    }

    #[test]
    fn cased() {
        let t = |s| split(s, &[Stage::Tekken]);
        assert_eq!(
            t("HELLOworld helloWorld"),
            vec!["HELLOworld", " hello", "World"]
        );
        assert_eq!(t("HELLO world"), vec!["HELLO", " world"]);
        // a non-ASCII letter is upper and lower case at once: the longest U* wins
        assert_eq!(t("ÀBc"), vec!["ÀBc"]);
        // `/` leads a word; `[\r\n/]*` follows a punctuation run only
        assert_eq!(
            t("a1/b\n/x  \n y"),
            vec!["a", "1", "/b", "\n", "/x", "  \n", " y"]
        );
        assert_eq!(t("a.\n/b"), vec!["a", ".\n/", "b"]);
        let g = |s| split(s, &[Stage::Gpt4o]);
        assert_eq!(g("DON'T 12345"), vec!["DON'T", " ", "123", "45"]);
        assert_eq!(t("DON'T"), vec!["DON", "'T"]);
    }

    #[test]
    fn exprs() {
        let sp = |e| Stage::Expr(e);
        assert_eq!(
            split("a  bc\n", &[sp(Expr::SpaceRun(Class::Letter))]),
            vec!["a", " ", " bc", "\n"]
        );
        assert_eq!(
            split("ab  \n ", &[sp(Expr::TrailingSpace)]),
            vec!["ab", "  \n "]
        );
        assert_eq!(split("12345", &[sp(Expr::Digits3)]), vec!["123", "45"]);
        assert_eq!(
            split("a`b!?", &[sp(Expr::Class(Class::PunctSymbols(true), true))]),
            vec!["a", "`", "b", "!?"]
        );
        assert_eq!(
            split("x1٣", &[sp(Expr::Class(Class::Number, false))]),
            vec!["x", "1", "٣"]
        );
        assert_eq!(
            split("a\n\nb", &[Stage::NewlineRuns]),
            vec!["a", "\n\n", "b"]
        );
        assert!(Class::DeepseekLetters.matches('Ω') && !Class::DeepseekLetters.matches('日'));
        assert!(Class::Cjk.matches('日') && Class::DeepseekPunct.matches('！'));
    }
}
