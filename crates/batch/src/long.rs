//! Documents longer than the context: split into pieces that fit (at
//! paragraph, then line, then word boundaries), or cut to fit.

/// How to treat an input whose prompt does not fit the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongMode {
    /// Process it in pieces, then combine the pieces' outputs in a second
    /// pass with the same (or the `--reduce-prompt`) template.
    Split,
    /// Keep the beginning that fits; the record says `truncated`.
    Truncate,
    /// Do not process it; the record says why.
    Skip,
}

impl LongMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LongMode::Split => "split",
            LongMode::Truncate => "truncate",
            LongMode::Skip => "skip",
        }
    }
}

/// Split `text` into pieces of at most `budget` tokens by `count`. Token
/// counts of neighbouring pieces are summed (a boundary can merge or split
/// a token), so a margin is kept.
pub fn split(text: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    let budget = (budget - budget / 50).saturating_sub(4).max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_n = 0;
    for para in units(text, "\n\n") {
        let n = count(para);
        if n > budget {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                cur_n = 0;
            }
            out.extend(split_hard(para, budget, count));
            continue;
        }
        if cur_n + n > budget && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_n = 0;
        }
        cur.push_str(para);
        cur_n += n;
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out.retain(|p| !p.trim().is_empty());
    out
}

/// Pieces of `text` each ending after a `sep` (the last one maybe not).
fn units<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    let mut v = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(sep) {
        let (a, b) = rest.split_at(i + sep.len());
        v.push(a);
        rest = b;
    }
    if !rest.is_empty() {
        v.push(rest);
    }
    v
}

/// A paragraph larger than the budget: by lines, then by words, then by
/// characters.
fn split_hard(text: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    for sep in ["\n", " "] {
        let parts = units(text, sep);
        if parts.len() > 1 && parts.iter().all(|p| count(p) <= budget) {
            return pack(&parts, budget, count);
        }
        if parts.len() > 1 {
            let mut out = Vec::new();
            let mut small: Vec<&str> = Vec::new();
            for p in parts {
                if count(p) > budget {
                    out.extend(pack(&small, budget, count));
                    small.clear();
                    out.extend(split_hard(p, budget, count));
                } else {
                    small.push(p);
                }
            }
            out.extend(pack(&small, budget, count));
            return out;
        }
    }
    // One unbroken run of characters: cut by character count.
    let chars: Vec<char> = text.chars().collect();
    let n = count(text).max(1);
    let per = (chars.len() * budget / n).max(1);
    chars.chunks(per).map(|c| c.iter().collect()).collect()
}

fn pack(parts: &[&str], budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_n = 0;
    for p in parts {
        let n = count(p);
        if cur_n + n > budget && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_n = 0;
        }
        cur.push_str(p);
        cur_n += n;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The longest beginning of `text` of at most `budget` tokens, cut at a
/// word boundary when there is one.
pub fn truncate(text: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> String {
    if count(text) <= budget {
        return text.to_string();
    }
    let (mut lo, mut hi) = (0usize, text.len());
    // Binary search on byte length (at char boundaries).
    while lo < hi {
        let mid = floor_char(text, (lo + hi).div_ceil(2));
        if mid <= lo {
            break;
        }
        if count(&text[..mid]) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let cut = &text[..floor_char(text, lo)];
    match cut.rfind(char::is_whitespace) {
        Some(i) if i > cut.len() / 2 => cut[..i].to_string(),
        _ => cut.to_string(),
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn split_respects_budget_and_keeps_all_text() {
        let para = |i: usize| {
            (0..30)
                .map(|w| format!("p{i}w{w}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text: String = (0..10).map(|i| para(i) + "\n\n").collect::<String>()
            + &(0..500)
                .map(|w| format!("long{w}"))
                .collect::<Vec<_>>()
                .join(" ");
        let pieces = split(&text, 100, &words);
        assert!(pieces.len() >= 8, "{}", pieces.len());
        for p in &pieces {
            assert!(words(p) <= 100, "{}", words(p));
        }
        let joined: Vec<&str> = pieces.iter().flat_map(|p| p.split_whitespace()).collect();
        assert_eq!(joined, text.split_whitespace().collect::<Vec<_>>());
        // Paragraph boundaries are preferred: no piece starts mid-paragraph
        // while the paragraphs are small.
        assert!(
            pieces[0].starts_with("p0w0") && pieces[1].starts_with("p3w0"),
            "{:?}",
            &pieces[1][..10]
        );
        // One unbroken word larger than the budget is still cut.
        let blob = "x".repeat(1000);
        let chars = |s: &str| s.len() / 10;
        assert!(split(&blob, 20, &chars).iter().all(|p| p.len() / 10 <= 20));
    }

    #[test]
    fn truncate_cuts_at_a_word() {
        let text = "one two three four five six seven";
        assert_eq!(truncate(text, 3, &words), "one two three");
        assert_eq!(truncate(text, 100, &words), text);
        assert_eq!(truncate("héllo wörld ünïcode", 2, &words), "héllo wörld");
    }
}
