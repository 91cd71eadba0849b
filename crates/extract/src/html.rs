//! HTML → text. Parsing (tokenizer, entities, tree construction with error recovery)
//! is html5ever's, through scraper's tree; this module only walks the tree, iteratively,
//! so deeply nested markup cannot overflow the stack.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

/// Elements whose whole subtree is left out: metadata, code, and non-text content.
const SKIP: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object",
    "embed", "video", "audio", "select", "datalist", "map",
];

/// Elements that start and end a paragraph (blank line around them).
const PARAGRAPH: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "figure",
    "form",
    "fieldset",
    "address",
    "details",
    "hr",
    "body",
    "menu",
];

/// Elements that start and end a line.
const LINE: &[&str] = &[
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "summary",
    "caption",
    "legend",
    "option",
    "center",
];

/// Bytes of an HTML file to a string: a BOM wins; then UTF-8 if the bytes are valid
/// UTF-8; then the `charset=` label near the start of the file; then windows-1252.
pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling(&bytes[bom_len..])
            .0
            .into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let enc = sniff_charset(&bytes[..bytes.len().min(2048)]).unwrap_or(encoding_rs::WINDOWS_1252);
    enc.decode_without_bom_handling(bytes).0.into_owned()
}

/// The encoding named by the first `charset=` in `head` (as in `<meta charset="...">` or
/// `<meta http-equiv="Content-Type" content="text/html; charset=...">`).
fn sniff_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    const KEY: &[u8] = b"charset=";
    let at = head
        .windows(KEY.len())
        .position(|w| w.eq_ignore_ascii_case(KEY))?
        + KEY.len();
    let rest = &head[at..];
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"-_.:".contains(b)))
        .unwrap_or(rest.len());
    let enc = encoding_rs::Encoding::for_label(&rest[..end])?;
    // A page that says UTF-8 but is not valid UTF-8 is most likely windows-1252.
    (enc != encoding_rs::UTF_8).then_some(enc)
}

/// Deepest element nesting accepted (see [`nesting_depth`]).
pub(crate) const MAX_DEPTH: usize = 4096;

/// Elements that never nest (void) or that the parser closes by itself when a sibling
/// starts (`<p>`, `<li>`, table rows and cells, ...): not counted by [`nesting_depth`].
const FLAT: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
    "caption", "option", "optgroup", "rb", "rt", "rp", "rtc", "html", "head", "body",
];

/// An estimate, in one pass over the source, of how deep its elements nest: open tags
/// minus close tags, leaving out comments, `<script>`/`<style>` contents and the elements
/// in [`FLAT`]. It is checked before parsing because html5ever's tree builder takes time
/// quadratic in the nesting depth (some start tags scan the whole stack of open elements):
/// 40,000 nested `<div>`s take seconds, a few million would take hours. Real pages nest a
/// few dozen deep.
pub(crate) fn nesting_depth(source: &str) -> usize {
    let b = source.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off + 1;
        if b[i..].starts_with(b"!--") {
            i = find(b, i, b"-->").unwrap_or(b.len());
            continue;
        }
        let close = b.get(i) == Some(&b'/');
        let start = i + usize::from(close);
        let len = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if len == 0 || !b[start].is_ascii_alphabetic() {
            continue; // not a tag: "a < b", "<!DOCTYPE", "<?xml"
        }
        let name = source[start..start + len].to_ascii_lowercase();
        // The tag ends at the next '>'; stopping at a '<' too keeps the scan linear on
        // input like "<a<a<a...>" (the '<' is looked at again by the loop).
        let tag_end = b[start..]
            .iter()
            .position(|&c| c == b'>' || c == b'<')
            .map_or(b.len(), |p| start + p);
        let self_closing = b.get(tag_end) == Some(&b'>') && b.get(tag_end - 1) == Some(&b'/');
        i = tag_end;
        let raw_text = name == "script" || name == "style";
        let counted = !raw_text && !FLAT.contains(&name.as_str());
        if close {
            depth = depth.saturating_sub(usize::from(counted));
        } else if raw_text {
            // Raw text: skip to the matching end tag (case-insensitively).
            let end = format!("</{name}");
            i = b[i..]
                .windows(end.len())
                .position(|w| w.eq_ignore_ascii_case(end.as_bytes()))
                .map_or(b.len(), |p| i + p);
        } else if counted && !self_closing {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// Index of the first `needle` in `b` at or after `from`.
fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The text of an HTML document: the title, then the body's text with block structure.
pub(crate) fn to_text(source: &str) -> String {
    let doc = Html::parse_document(source);
    let mut out = Out::default();

    if let Some(title) = title(&doc) {
        out.text(&title);
        out.brk(2);
    }

    let mut skip_depth = 0usize;
    let mut pre_depth = 0usize;
    // One entry per open list: Some(next number) for <ol>, None for <ul>/<menu>.
    let mut lists: Vec<Option<i64>> = Vec::new();
    for edge in doc.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(el) => {
                    let name = el.name();
                    if skip_depth > 0 || SKIP.contains(&name) || el.attr("hidden").is_some() {
                        skip_depth += 1;
                        continue;
                    }
                    match name {
                        "br" => out.newline(),
                        "td" | "th" => out.cell(),
                        "pre" => pre_depth += 1,
                        "ol" => lists.push(Some(start_number(el.attr("start")))),
                        "ul" | "menu" => lists.push(None),
                        _ => {}
                    }
                    if PARAGRAPH.contains(&name) {
                        out.brk(2);
                    } else if LINE.contains(&name) {
                        out.brk(1);
                    }
                    if name == "li" {
                        let marker = match lists.last_mut() {
                            Some(Some(n)) => {
                                let this = *n;
                                *n = n.saturating_add(1);
                                format!("{this}. ")
                            }
                            _ => "- ".to_string(),
                        };
                        out.raw(&marker);
                    }
                }
                Node::Text(t) if skip_depth == 0 => {
                    if pre_depth > 0 {
                        out.raw(t);
                    } else {
                        out.text(t);
                    }
                }
                _ => {}
            },
            Edge::Close(node) => {
                let Node::Element(el) = node.value() else {
                    continue;
                };
                if skip_depth > 0 {
                    skip_depth -= 1;
                    continue;
                }
                let name = el.name();
                match name {
                    "pre" => pre_depth = pre_depth.saturating_sub(1),
                    "ol" | "ul" | "menu" => {
                        lists.pop();
                    }
                    _ => {}
                }
                if PARAGRAPH.contains(&name) {
                    out.brk(2);
                } else if LINE.contains(&name) {
                    out.brk(1);
                }
            }
        }
    }
    out.s
}

/// `<ol start=N>`: the first number (1 if absent or not a number).
fn start_number(attr: Option<&str>) -> i64 {
    attr.and_then(|s| s.trim().parse().ok()).unwrap_or(1)
}

/// The text of the `<title>` in `<head>`, whitespace collapsed; `None` if absent or blank.
fn title(doc: &Html) -> Option<String> {
    let html = doc.root_element();
    let head = html
        .children()
        .find(|n| matches!(n.value(), Node::Element(e) if e.name() == "head"))?;
    let title = head
        .children()
        .find(|n| matches!(n.value(), Node::Element(e) if e.name() == "title"))?;
    let text: String = title
        .descendants()
        .filter_map(|n| match n.value() {
            Node::Text(t) => Some(&**t),
            _ => None,
        })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// The output being built: whitespace collapsing and pending line/paragraph breaks.
#[derive(Default)]
struct Out {
    s: String,
    /// Newlines owed before the next text: 0, 1 (line) or 2 (paragraph).
    pending_breaks: u8,
    /// A space is owed before the next text.
    pending_space: bool,
}

impl Out {
    fn at_line_start(&self) -> bool {
        self.s.is_empty() || self.s.ends_with('\n')
    }

    /// Ask for a line (1) or paragraph (2) break before whatever comes next.
    fn brk(&mut self, n: u8) {
        self.pending_breaks = self.pending_breaks.max(n);
        self.pending_space = false;
    }

    fn flush(&mut self) {
        if self.pending_breaks > 0 {
            if !self.s.is_empty() {
                while self.s.ends_with([' ', '\t']) {
                    self.s.pop();
                }
                let have = self.s.bytes().rev().take_while(|&c| c == b'\n').count();
                for _ in have..usize::from(self.pending_breaks) {
                    self.s.push('\n');
                }
            }
            self.pending_breaks = 0;
            self.pending_space = false;
        } else if self.pending_space {
            if !self.at_line_start() && !self.s.ends_with(['\t', ' ']) {
                self.s.push(' ');
            }
            self.pending_space = false;
        }
    }

    /// Flowing text: runs of whitespace (and no-break spaces) collapse to one space.
    fn text(&mut self, t: &str) {
        for c in t.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
            } else {
                self.flush();
                self.s.push(c);
            }
        }
    }

    /// Preformatted text or a list marker: kept as it is.
    fn raw(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        self.flush();
        self.s.push_str(t);
    }

    /// `<br>`: one line break, always (two `<br>`s make a blank line).
    fn newline(&mut self) {
        self.flush();
        self.s.push('\n');
        self.pending_space = false;
    }

    /// A table cell starts: a tab unless it is the first thing on its line.
    fn cell(&mut self) {
        self.flush();
        self.pending_space = false;
        if !self.at_line_start() {
            self.s.push('\t');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        crate::normalise(&to_text(html))
    }

    #[test]
    fn blocks_entities_and_noise() {
        let html = "<html><head><title> A &amp; B </title><style>p{}</style></head><body>\
            <script>var x = 1;</script><h1>Head</h1><p>one\n   two&nbsp;&lt;3&gt;</p>\
            <div>line<br>next</div><p hidden>secret</p><p>caf&eacute; &#8212; &#x2192;</p></body></html>";
        assert_eq!(
            text(html),
            "A & B\n\nHead\n\none two <3>\n\nline\nnext\n\ncafé — →"
        );
    }

    #[test]
    fn lists_tables_and_pre() {
        let html = "<ul><li>a</li><li>b <b>bold</b></li></ul><ol start=3><li>x</li><li>y</li></ol>\
            <table><tr><th>k</th><th>v</th></tr><tr><td>1</td><td> 2 </td></tr></table>\
            <pre>  keep\n    this</pre>";
        assert_eq!(
            text(html),
            "- a\n- b bold\n\n3. x\n4. y\n\nk\tv\n1\t2\n\n  keep\n    this"
        );
        let big = "<ol start=9223372036854775807><li>a<li>b</ol><ol start=-1><li>c<li>d</ol>";
        assert_eq!(
            text(big),
            "9223372036854775807. a\n9223372036854775807. b\n\n-1. c\n0. d"
        );
    }

    #[test]
    fn inline_elements_do_not_break_words() {
        assert_eq!(
            text("<p>un<em>believ</em>able <a href=x>link</a>.</p>"),
            "unbelievable link."
        );
    }

    #[test]
    fn broken_and_deep_markup() {
        assert_eq!(text("<p>unclosed <b>bold<p>next"), "unclosed bold\n\nnext");
        let deep = "<div>".repeat(MAX_DEPTH) + "deep" + &"</div>".repeat(MAX_DEPTH);
        assert_eq!(nesting_depth(&deep), MAX_DEPTH);
        assert_eq!(text(&deep), "deep");
    }

    #[test]
    fn nesting_estimate() {
        let page = "<!DOCTYPE html><html><head><meta charset=utf-8><title>t</title>\
            <script>if (a < b) { x = '<div><div><div>'; }</SCRIPT><style>p<q{}</style></head>\
            <body><!-- <div><div> --><div><p>1<p>2<ul><li>a<li>b</ul><br/><img src=x><span/></div>\
            <table><tr><td>c</table></body></html>";
        // div > ul, with table beside: 2 (p, li, tr, td, html, head, body are flat)
        assert_eq!(nesting_depth(page), 2);
        assert_eq!(nesting_depth("a < b and c<d"), 1); // "<d" reads as an unclosed tag
        assert_eq!(nesting_depth("<b><i><u>x</u></i></b>"), 3);
        assert_eq!(
            nesting_depth("<div><script>1</script><div><style></style>x</div></div>"),
            2
        );
        assert_eq!(nesting_depth("</div></div><div>"), 1);
        assert_eq!(nesting_depth("<div"), 1);
        assert_eq!(nesting_depth("<"), 0);
        assert_eq!(nesting_depth("<!--"), 0);
        assert_eq!(nesting_depth("<a<b/>"), 1);
        // linear on unterminated tags
        let junk = "<a".repeat(2_000_000) + ">";
        let t = std::time::Instant::now();
        assert_eq!(nesting_depth(&junk), 2_000_000);
        assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
    }

    #[test]
    fn charset_decoding() {
        assert_eq!(decode(b"<p>caf\xc3\xa9</p>"), "<p>café</p>");
        assert_eq!(
            decode(b"<meta charset=\"iso-8859-15\"><p>\xa4</p>"),
            "<meta charset=\"iso-8859-15\"><p>€</p>"
        );
        assert_eq!(decode(b"<p>caf\xe9</p>"), "<p>café</p>");
        assert_eq!(decode(b"\xef\xbb\xbf<p>x</p>"), "<p>x</p>");
    }
}
