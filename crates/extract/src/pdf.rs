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

/// The text of every page, pages separated by a blank line. Empty (after normalising)
/// means no text layer; the caller turns that into `NoText`.
pub(crate) fn to_text(bytes: &[u8], name: &str) -> Result<String, ExtractError> {
    let err = |reason: String| ExtractError::Pdf { name: name.to_string(), reason };
    // The header may follow some junk, but must be within the first 1024 bytes.
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(err("no %PDF- header, so this is not a PDF file".to_string()));
    }
    let pages = catch_quietly(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|msg| err(format!("the PDF parser gave up on it ({msg})")))?
        .map_err(|e| err(describe(&e)))?;
    Ok(pages.join("\n\n"))
}

/// A pdf-extract error in words.
fn describe(e: &pdf_extract::OutputError) -> String {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("decrypt") || lower.contains("encrypt") || lower.contains("password") {
        format!("it is encrypted and needs a password ({text}); save an unencrypted copy")
    } else {
        format!("it is damaged or incomplete ({text})")
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

    #[test]
    fn not_a_pdf() {
        let e = to_text(b"<html>404 not found</html>", "x.pdf").unwrap_err();
        assert!(e.to_string().contains("no %PDF- header"), "{e}");
        let e = to_text(b"%PDF-1.7\n", "y.pdf").unwrap_err();
        assert!(matches!(e, ExtractError::Pdf { .. }), "{e:?}");
    }
}
