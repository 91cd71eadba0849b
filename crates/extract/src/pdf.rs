//! PDF → text with the pure-Rust `pdf-extract` crate (which parses with `lopdf`).
//!
//! That crate panics on some malformed files (indexing, `unwrap`s deep in font and
//! content-stream handling). Each call runs under `catch_unwind`, and the panic becomes
//! `ExtractError::Pdf`. So that the user does not see a scary "thread panicked" message
//! for what is just a bad file, a panic hook is installed once that stays quiet for
//! panics raised while this thread is inside such a call and passes every other panic
//! on to the hook that was there before.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

use crate::ExtractError;

thread_local! {
    /// True while this thread runs the PDF parser under `catch_unwind`.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static INSTALL_HOOK: Once = Once::new();

/// Run `f`, turning a panic into `Err(message)`, without printing that panic.
fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    // AssertUnwindSafe: nothing `f` borrows is used after a panic; its output is dropped.
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    result.map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        }
    })
}

/// Most bytes a PDF's Flate streams may inflate to, all together. The parser
/// inflates streams into memory without a bound of its own, so a small crafted
/// file (a "decompression bomb") could otherwise take all memory.
const MAX_INFLATED: u64 = 512 << 20;

/// Inflate every zlib stream of the file (`stream` … `endstream`) into a
/// counter, stopping at `cap` bytes in all: an error once more would come out.
/// Streams that are not zlib (images, other filters) are passed over.
fn check_inflated_size(bytes: &[u8], cap: u64) -> Result<(), String> {
    use std::io::Read;
    let mut total = 0u64;
    let mut i = 0;
    while let Some(p) = find(&bytes[i..], b"stream") {
        let at = i + p;
        i = at + 6;
        if at >= 3 && &bytes[at - 3..at] == b"end" {
            continue;
        }
        // the data starts after the end of line that follows the keyword
        let mut start = i;
        if bytes.get(start) == Some(&b'\r') {
            start += 1;
        }
        if bytes.get(start) == Some(&b'\n') {
            start += 1;
        }
        let end = find(&bytes[start..], b"endstream").map_or(bytes.len(), |e| start + e);
        let mut dec = flate2::read::ZlibDecoder::new(&bytes[start..end]).take(cap - total + 1);
        let n = std::io::copy(&mut dec, &mut std::io::sink())
            .unwrap_or_else(|_| dec.limit().abs_diff(cap - total + 1));
        total += n;
        if total > cap {
            return Err(format!(
                "its compressed streams expand to more than {} MiB (a decompression bomb?); refusing to extract it",
                cap >> 20
            ));
        }
        i = end.max(i);
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text of every page, pages separated by a blank line. Empty (after normalising)
/// means no text layer; the caller turns that into `NoText`.
pub(crate) fn to_text(bytes: &[u8], name: &str) -> Result<String, ExtractError> {
    let err = |reason: String| ExtractError::Pdf {
        name: name.to_string(),
        reason,
    };
    // The header may follow some junk, but must be within the first 1024 bytes.
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(err(
            "this is not a PDF file (no %PDF- header near the start); check what the file really is".to_string(),
        ));
    }
    check_inflated_size(bytes, MAX_INFLATED).map_err(err)?;
    let pages = catch_quietly(|| -> Result<Vec<String>, OutputError> {
        let mut doc = pdf_extract::Document::load_mem(bytes)?;
        if doc.is_encrypted() {
            // Many PDFs are encrypted with an empty user password (copy/print restrictions only).
            doc.decrypt("")?;
        }
        let mut lines = Lines::default();
        pdf_extract::output_doc(&doc, &mut lines)?;
        Ok(lines.pages)
    })
    .map_err(|msg| {
        err(format!(
            "it is damaged in a way the PDF parser could not handle (parser panic: {msg}); if it opens in a PDF viewer, print or export it to a new PDF and try again"
        ))
    })?
    .map_err(|e| err(describe(&e)))?;
    Ok(pages.join("\n\n"))
}

/// Lays out the characters pdf-extract reports into lines, then lines into paragraphs.
///
/// Within a line, the word and line tests are pdf-extract's own `PlainTextOutput`'s. Its
/// output, though, puts a blank line after every line whose leading exceeds 1.5 times the
/// font size, which splits paragraphs in the middle of sentences. Here a page's lines are
/// kept with their positions, and a blank line goes only where the gap between two lines
/// is clearly wider than the page's usual (most common) line gap, or where the text jumps
/// up (a new column or block).
#[derive(Default)]
struct Lines {
    pages: Vec<String>,
    lines: Vec<Line>,
    page_height: f64,
    last_end: f64,
    last_y: f64,
    first_char: bool,
}

struct Line {
    text: String,
    /// Baseline, from the top of the page, in points.
    y: f64,
}

impl OutputDev for Lines {
    fn begin_page(
        &mut self,
        _: u32,
        media_box: &MediaBox,
        _: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.page_height = media_box.ury - media_box.lly;
        self.lines.clear();
        self.last_end = f64::INFINITY;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.pages.push(layout(&self.lines));
        self.lines.clear();
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _: f64,
        font_size: f64,
        ch: &str,
    ) -> Result<(), OutputError> {
        // Text space → device space: the origin is (m31, m32); the glyph's size scales with
        // the square root of the matrix's area factor (rotation- and skew-proof).
        let x = trm.m31;
        let y = self.page_height - trm.m32;
        let det = (trm.m11 * trm.m22 - trm.m12 * trm.m21).abs();
        let mut size = font_size.abs() * det.sqrt();
        if !size.is_finite() || size <= 0.0 {
            size = font_size.abs().max(1.0);
        }
        let dy = (y - self.last_y).abs();
        let new_line = match self.lines.last() {
            None => true,
            Some(_) => {
                self.first_char && (dy > size * 1.5 || (x < self.last_end && dy > size * 0.5))
            }
        };
        if new_line {
            self.lines.push(Line {
                text: String::new(),
                y,
            });
        } else if self.first_char && x > self.last_end + size * 0.1 {
            // A gap before a word is a space, unless a space glyph was just drawn.
            if let Some(line) = self
                .lines
                .last_mut()
                .filter(|l| !l.text.ends_with(char::is_whitespace))
            {
                line.text.push(' ');
            }
        }
        if let Some(line) = self.lines.last_mut() {
            for c in ch.chars() {
                // A space glyph right after a gap already taken as a space adds nothing.
                if c == ' ' && line.text.ends_with(' ') {
                    continue;
                }
                match ligature(c) {
                    Some(letters) => line.text.push_str(letters),
                    None => line.text.push(c),
                }
            }
        }
        self.first_char = false;
        self.last_y = y;
        self.last_end = x + width * size;
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.first_char = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// One page's lines as text: `\n` between lines of a paragraph, `\n\n` between paragraphs.
fn layout(lines: &[Line]) -> String {
    let usual = usual_gap(lines.windows(2).map(|w| w[1].y - w[0].y));
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            let gap = line.y - lines[i - 1].y;
            let paragraph = !(gap > 0.0 && gap <= usual * 1.2 + 0.5);
            out.push_str(if paragraph { "\n\n" } else { "\n" });
        }
        out.push_str(&line.text);
    }
    out
}

/// The Latin presentation-form ligatures (U+FB00..U+FB06) that fonts map single glyphs
/// to, spelled out, so that "ﬁne" reads (and searches) as "fine".
fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{fb00}' => "ff",
        '\u{fb01}' => "fi",
        '\u{fb02}' => "fl",
        '\u{fb03}' => "ffi",
        '\u{fb04}' => "ffl",
        '\u{fb05}' | '\u{fb06}' => "st",
        _ => return None,
    })
}

/// The most common positive gap, in half-point buckets (ties: the smaller gap), so that a
/// few wide paragraph gaps do not count as the line spacing. 0 if there is none.
fn usual_gap(gaps: impl Iterator<Item = f64>) -> f64 {
    let mut buckets: Vec<i64> = gaps
        .filter(|g| g.is_finite() && *g > 0.0)
        .map(|g| (g * 2.0).round() as i64)
        .collect();
    buckets.sort_unstable();
    let mut best = (0usize, 0i64);
    for run in buckets.chunk_by(|a, b| a == b) {
        if run.len() > best.0 {
            best = (run.len(), run[0]);
        }
    }
    best.1 as f64 / 2.0
}

/// A pdf-extract error in words.
fn describe(e: &OutputError) -> String {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("decrypt") || lower.contains("encrypt") || lower.contains("password") {
        format!("it is encrypted and needs a password ({text}); save a copy without a password and try again")
    } else {
        format!("it is damaged or incomplete ({text}); if it opens in a PDF viewer, print or export it to a new PDF and try again")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_and_other_threads_still_report() {
        let r: Result<(), String> = catch_quietly(|| panic!("boom {}", 7));
        assert_eq!(r.unwrap_err(), "boom 7");
        let r: Result<(), String> = catch_quietly(|| std::panic::panic_any(3u8));
        assert_eq!(r.unwrap_err(), "unknown panic");
        assert_eq!(catch_quietly(|| 5), Ok(5));
        assert!(!QUIET.with(Cell::get));
    }

    fn pdf_with_stream(inflated: usize) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        let mut left = inflated;
        while left > 0 {
            let n = left.min(zeros.len());
            z.write_all(&zeros[..n]).unwrap();
            left -= n;
        }
        let data = z.finish().unwrap();
        let mut pdf = format!(
            "%PDF-1.4\n1 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\r\n",
            data.len()
        )
        .into_bytes();
        pdf.extend_from_slice(&data);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf
    }

    #[test]
    fn decompression_bombs_are_refused_before_parsing() {
        // the check itself, with a small cap: what inflates under it passes
        assert!(check_inflated_size(&pdf_with_stream(3 << 20), 4 << 20).is_ok());
        let e = check_inflated_size(&pdf_with_stream(5 << 20), 4 << 20).unwrap_err();
        assert!(e.contains("more than 4 MiB"), "{e}");
        // streams that are not zlib (images, other filters) are passed over
        assert!(check_inflated_size(b"%PDF-1.4\nstream\nJFIF not zlib\nendstream\n", 1).is_ok());
        // through the extractor, at the real cap: a clean error, no parse
        let e = to_text(
            &pdf_with_stream((MAX_INFLATED + (1 << 20)) as usize),
            "bomb.pdf",
        )
        .unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
    }

    #[test]
    fn not_a_pdf() {
        let e = to_text(b"<html>404 not found</html>", "x.pdf").unwrap_err();
        assert!(
            e.to_string().contains("not a PDF file (no %PDF- header"),
            "{e}"
        );
        let e = to_text(b"%PDF-1.7\n", "y.pdf").unwrap_err();
        assert!(matches!(e, ExtractError::Pdf { .. }), "{e:?}");
    }

    #[test]
    fn words_spaces_and_ligatures() {
        let mut out = Lines::default();
        let mb = MediaBox {
            llx: 0.0,
            lly: 0.0,
            urx: 600.0,
            ury: 800.0,
        };
        out.begin_page(1, &mb, None).unwrap();
        // 10 pt glyphs, 0.5 em wide; baseline 700 pt from the bottom.
        let mut put = |x: f64, y: f64, word_start: bool, ch: &str| {
            if word_start {
                out.begin_word().unwrap();
            }
            let trm = Transform::row_major(1.0, 0.0, 0.0, 1.0, x, y);
            out.output_character(&trm, 0.5, 0.0, 10.0, ch).unwrap();
        };
        put(10.0, 700.0, true, "\u{fb01}"); // "fi"
        put(15.0, 700.0, false, "t");
        put(20.0, 700.0, false, " "); // a space glyph...
        put(30.0, 700.0, true, "a"); // ...then a gap: still one space
        put(40.0, 700.0, true, "b"); // a gap alone is a space
        put(10.0, 688.0, true, "c"); // next line down, back at the left
        out.end_page().unwrap();
        assert_eq!(out.pages, ["fit a b\nc"]);
    }

    fn lines(ys: &[f64]) -> Vec<Line> {
        ys.iter()
            .enumerate()
            .map(|(i, &y)| Line {
                text: format!("l{i}"),
                y,
            })
            .collect()
    }

    #[test]
    fn paragraphs_from_line_gaps() {
        // heading, a 3-line paragraph, a wider gap, a 2-line paragraph, then a jump up (new column)
        let page = lines(&[50.0, 78.0, 95.0, 112.0, 137.5, 154.5, 60.0, 77.0]);
        assert_eq!(layout(&page), "l0\n\nl1\nl2\nl3\n\nl4\nl5\n\nl6\nl7");
        assert_eq!(layout(&lines(&[10.0])), "l0");
        assert_eq!(layout(&[]), "");
        assert_eq!(
            usual_gap([17.0, 25.5, 17.2, 25.5, 16.9, f64::NAN, -3.0].into_iter()),
            17.0
        );
        assert_eq!(usual_gap(std::iter::empty()), 0.0);
    }
}
