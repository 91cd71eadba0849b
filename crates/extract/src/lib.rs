//! Plain text out of documents, for `hearth batch`.
//!
//! Given a file, [`kind_of`] says what kind of document it is (by extension) and
//! [`extract`] returns its text, normalised for a language model: `\n` line ends,
//! no trailing spaces, at most one blank line between paragraphs, no leading or
//! trailing blank lines (and no final newline).
//!
//! | kind | extensions | how |
//! | --- | --- | --- |
//! | [`Kind::Text`] | `.txt` `.text` | UTF-8 with an optional BOM; UTF-16 if it starts with a UTF-16 BOM; **invalid UTF-8 is decoded lossily** (bad bytes become U+FFFD) rather than refused |
//! | [`Kind::Markdown`] | `.md` `.markdown` | as text, the Markdown kept as it is (models read Markdown well) |
//! | [`Kind::Html`] | `.html` `.htm` `.xhtml` | parsed by [html5ever] (the WHATWG HTML parsing algorithm: entities, broken markup) through [scraper]'s tree; `<head>`, `<script>`, `<style>`, `<noscript>`, `<template>`, `<svg>` and the like are dropped, the `<title>` is kept as the first line, block elements become line or paragraph breaks, list items get `- ` (or `1. `), table cells are separated by tabs, whitespace outside `<pre>` collapses. Bytes that are not UTF-8 are decoded with the page's `charset=` label, else windows-1252 (the HTML standard's fallback) |
//! | [`Kind::Pdf`] | `.pdf` | ISO 32000 PDF through the pure-Rust [pdf-extract] crate (on [lopdf]: parsing, fonts, encodings, content streams); this crate only lays the characters it reports out into lines, and lines into paragraphs by their spacing. Pages are separated by a blank line. Only the 64 MiB input cap applies: lopdf inflates streams without a limit. A panic inside that crate on a malformed file is caught and becomes [`ExtractError::Pdf`]. A PDF whose pages carry no text (a scan) gives [`ExtractError::NoText`] |
//! | [`Kind::Docx`] | `.docx` | Office Open XML WordprocessingML (ECMA-376 / ISO/IEC 29500): a zip package whose main document part (found through `_rels/.rels`, normally `word/document.xml`) is read with [quick-xml]: each `w:p` is a line, `w:t` is text, `w:tab` a tab, `w:br`/`w:cr` a line break, table cells are tab-separated. Only the document body is read (not headers, footers, footnotes or comments); tracked deletions and the fallback copies of text boxes are left out |
//!
//! Limits (see [`ExtractError::TooLarge`]): a file over [`MAX_FILE_BYTES`] is
//! refused before it is read, and a DOCX main part that inflates past
//! [`MAX_DOCX_XML_BYTES`] is refused while it is being decompressed, so a zip
//! bomb costs at most that much memory. HTML whose elements nest more than 4096
//! deep is refused ([`ExtractError::Html`]) before parsing, as html5ever's time grows
//! with the square of the depth.
//!
//! Errors ([`ExtractError`]) name the file, say what was wrong and what to do.
//! No input makes this crate panic; panics of the PDF parser are caught (see
//! [`Kind::Pdf`]). So that a bad PDF does not print a "thread panicked" message, the
//! first PDF extraction installs a process-wide panic hook that is silent for panics
//! raised inside the PDF parser on the extracting thread and hands every other panic to
//! the hook that was installed before it (an application that sets its own hook later
//! just sees those messages again).
//!
//! [html5ever]: https://docs.rs/html5ever
//! [scraper]: https://docs.rs/scraper
//! [pdf-extract]: https://docs.rs/pdf-extract
//! [lopdf]: https://docs.rs/lopdf
//! [quick-xml]: https://docs.rs/quick-xml

use std::fmt;
use std::io::Read;
use std::path::Path;

mod docx;
mod html;
mod pdf;

/// Largest input file accepted, in bytes (64 MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Largest uncompressed size accepted for the XML parts read from a DOCX (32 MiB).
pub const MAX_DOCX_XML_BYTES: u64 = 32 << 20;

/// The kinds of document this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 5] = [
        Kind::Text,
        Kind::Markdown,
        Kind::Html,
        Kind::Pdf,
        Kind::Docx,
    ];

    /// `"text"`, `"markdown"`, `"html"`, `"pdf"` or `"docx"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Markdown => "markdown",
            Kind::Html => "html",
            Kind::Pdf => "pdf",
            Kind::Docx => "docx",
        }
    }

    /// The file extensions (lower case, without the dot) that [`kind_of`] maps to this kind.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Text => &["txt", "text"],
            Kind::Markdown => &["md", "markdown"],
            Kind::Html => &["html", "htm", "xhtml"],
            Kind::Pdf => &["pdf"],
            Kind::Docx => &["docx"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a document by its extension (case-insensitive): `.txt` `.text` → Text;
/// `.md` `.markdown` → Markdown; `.html` `.htm` `.xhtml` → Html; `.pdf` → Pdf;
/// `.docx` → Docx. Anything else (including no extension) → `None`.
pub fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Kind::ALL
        .into_iter()
        .find(|k| k.extensions().contains(&ext.as_str()))
}

/// What went wrong, with which file (`name`), and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The file could not be opened or read.
    #[error("cannot read {name}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// [`extract`] was given a file whose extension [`kind_of`] does not know.
    #[error("{name}: unsupported file type; supported: .txt .text .md .markdown .html .htm .xhtml .pdf .docx")]
    Unsupported { name: String },
    /// The input, or the part of it named by `what`, is over `limit` bytes.
    #[error("{name}: {what} is larger than the {} MiB limit; split it into smaller documents", .limit >> 20)]
    TooLarge {
        name: String,
        what: &'static str,
        limit: u64,
    },
    /// A text or Markdown file that contains NUL bytes: binary data under a text name.
    #[error("{name}: does not look like text (it contains NUL bytes): a binary file with a text extension, or UTF-16 without a byte-order mark (re-save it as UTF-8)")]
    Binary { name: String },
    /// The HTML cannot be processed (pathological markup).
    #[error("{name}: cannot read this HTML: {reason}")]
    Html { name: String, reason: String },
    /// The PDF could not be parsed (not a PDF, truncated, damaged, encrypted, or the parser failed).
    #[error("{name}: cannot read this PDF: {reason}")]
    Pdf { name: String, reason: String },
    /// The PDF parsed but its pages carry no text: a scan or images only.
    #[error("{name}: the PDF has no text layer (a scan, or images only); OCR it first (for example `ocrmypdf in.pdf out.pdf`) and try again")]
    NoText { name: String },
    /// The DOCX could not be read (not a zip, no document part, damaged XML, ...).
    #[error("{name}: cannot read this .docx: {reason}")]
    Docx { name: String, reason: String },
    /// The document was read but has no text at all (an empty file, an empty body).
    #[error("{name}: this {kind} document contains no text")]
    Empty { name: String, kind: Kind },
}

/// Read the file at `path` and return its kind-appropriate plain text.
///
/// The kind comes from [`kind_of`]; an unknown extension is [`ExtractError::Unsupported`].
/// Errors name the file as `path.display()`.
pub fn extract(path: &Path) -> Result<String, ExtractError> {
    let name = path.display().to_string();
    let kind = kind_of(path).ok_or_else(|| ExtractError::Unsupported { name: name.clone() })?;
    let bytes = read_bytes(path)?;
    extract_bytes(kind, &bytes, &name)
}

/// Read a document's bytes with the same size limit as [`extract`] (for callers that hash
/// the bytes, then call [`extract_bytes`]).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ExtractError> {
    let name = || path.display().to_string();
    let io = |source| ExtractError::Io {
        name: name(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let too_large = || ExtractError::TooLarge {
        name: name(),
        what: "the file",
        limit: MAX_FILE_BYTES,
    };
    let meta = file.metadata().map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The length can change between metadata() and read (a growing file): cap the read too.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Extract the text of a document already in memory. `name_for_errors` is how errors
/// name it (usually its path).
pub fn extract_bytes(
    kind: Kind,
    bytes: &[u8],
    name_for_errors: &str,
) -> Result<String, ExtractError> {
    let name = name_for_errors;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ExtractError::TooLarge {
            name: name.to_string(),
            what: "the file",
            limit: MAX_FILE_BYTES,
        });
    }
    let raw = match kind {
        Kind::Text | Kind::Markdown => {
            let text = decode_text(bytes);
            if text.contains('\0') {
                return Err(ExtractError::Binary {
                    name: name.to_string(),
                });
            }
            text
        }
        Kind::Html => {
            let source = html::decode(bytes);
            if html::nesting_depth(&source) > html::MAX_DEPTH {
                return Err(ExtractError::Html {
                    name: name.to_string(),
                    reason: format!(
                        "its elements nest more than {} deep, which no real page does (and which would take \
                         the HTML parser very long); check that the file really is a web page",
                        html::MAX_DEPTH
                    ),
                });
            }
            html::to_text(&source)
        }
        Kind::Pdf => pdf::to_text(bytes, name)?,
        Kind::Docx => docx::to_text(bytes, name)?,
    };
    let text = normalise(&raw);
    if text.is_empty() {
        return Err(match kind {
            Kind::Pdf => ExtractError::NoText {
                name: name.to_string(),
            },
            _ => ExtractError::Empty {
                name: name.to_string(),
                kind,
            },
        });
    }
    Ok(text)
}

/// Bytes of a text file to a string: a UTF-8 or UTF-16 BOM decides the encoding (and is
/// dropped); otherwise UTF-8, with invalid sequences replaced by U+FFFD.
fn decode_text(bytes: &[u8]) -> String {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((enc, bom_len)) => enc
            .decode_without_bom_handling(&bytes[bom_len..])
            .0
            .into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The output normalisation shared by every kind: `\r\n` and `\r` → `\n`; a form feed
/// (a PDF page break) → a paragraph break; other control characters (but tab) and BOMs
/// dropped; trailing whitespace trimmed from every line; runs of blank lines → one; no
/// blank lines at the start or end, no final newline.
pub(crate) fn normalise(s: &str) -> String {
    let mut cleaned = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                cleaned.push('\n');
            }
            '\u{c}' => cleaned.push_str("\n\n"),
            '\n' | '\t' => cleaned.push(c),
            '\u{feff}' => {}
            c if c.is_control() => {}
            c => cleaned.push(c),
        }
    }
    let mut out = String::with_capacity(cleaned.len());
    let mut blank_pending = false;
    for line in cleaned.split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_pending {
                out.push('\n');
            }
        }
        blank_pending = false;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_line_ends_blank_lines_and_trailing_space() {
        assert_eq!(
            normalise("\r\n\n a  \r\nb\t\r\rc\n\n\n\nd  \n\n"),
            " a\nb\n\nc\n\nd"
        );
        assert_eq!(normalise("page one\u{c}page two"), "page one\n\npage two");
        assert_eq!(normalise("\u{feff}x\u{0}y\u{7}"), "xy");
        assert_eq!(normalise("  \n\t\n"), "");
        assert_eq!(normalise("keep\tinner  spaces"), "keep\tinner  spaces");
    }

    #[test]
    fn text_decoding() {
        assert_eq!(decode_text(b"\xef\xbb\xbfhello"), "hello");
        assert_eq!(decode_text(b"caf\xc3\xa9"), "café");
        assert_eq!(decode_text(b"bad \xff byte"), "bad \u{fffd} byte");
        // "hé" in UTF-16 LE and BE, with BOMs
        assert_eq!(decode_text(b"\xff\xfeh\x00\xe9\x00"), "hé");
        assert_eq!(decode_text(b"\xfe\xff\x00h\x00\xe9"), "hé");
    }

    #[test]
    fn text_kinds_and_errors() {
        assert_eq!(
            extract_bytes(Kind::Text, b"a  \r\nb\r\n", "n.txt").unwrap(),
            "a\nb"
        );
        assert!(matches!(
            extract_bytes(Kind::Text, b" \n\n ", "e.txt"),
            Err(ExtractError::Empty {
                kind: Kind::Text,
                ..
            })
        ));
        let e = extract_bytes(Kind::Markdown, b"PK\x03\x04\x00\x00", "x.md").unwrap_err();
        assert!(matches!(e, ExtractError::Binary { .. }), "{e:?}");
        assert!(e.to_string().starts_with("x.md: "), "{e}");
    }

    #[test]
    fn too_large_message_names_the_limit() {
        let e = ExtractError::TooLarge {
            name: "big.pdf".into(),
            what: "the file",
            limit: MAX_FILE_BYTES,
        };
        assert_eq!(
            e.to_string(),
            "big.pdf: the file is larger than the 64 MiB limit; split it into smaller documents"
        );
    }
}
