//! Bad input: broken and text-less files from tests/fixtures/batch/bad, a zip bomb, an
//! oversized file, and many damaged variants of the good fixtures (none may panic).

use std::io::Write;
use std::path::{Path, PathBuf};

use extract::{extract, extract_bytes, ExtractError, Kind, MAX_DOCX_XML_BYTES, MAX_FILE_BYTES};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/batch")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).expect("read fixture")
}

#[test]
fn truncated_pdf() {
    let e = extract(&fixture("bad/broken.pdf")).unwrap_err();
    assert!(matches!(e, ExtractError::Pdf { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("broken.pdf") && msg.contains("cannot read this PDF"),
        "{msg}"
    );
}

#[test]
fn docx_that_is_not_a_zip() {
    let e = extract(&fixture("bad/broken.docx")).unwrap_err();
    assert!(matches!(e, ExtractError::Docx { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("broken.docx") && msg.contains("not a valid zip"),
        "{msg}"
    );
}

#[test]
fn pdf_without_text_layer() {
    let e = extract(&fixture("bad/no-text.pdf")).unwrap_err();
    assert!(matches!(e, ExtractError::NoText { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("no-text.pdf")
            && msg.contains("no text layer")
            && msg.contains("OCR it first"),
        "{msg}"
    );
}

/// A zip holding `part`, whose content is `prefix`, then `filler_len` bytes of `filler`,
/// then `suffix`; deflated, so a large, repetitive part makes a small file.
fn zip_with(part: &str, prefix: &str, filler: u8, filler_len: u64, suffix: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(part, opts).expect("start_file");
    zip.write_all(prefix.as_bytes()).expect("write");
    let chunk = vec![filler; 1 << 20];
    let mut left = filler_len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        zip.write_all(&chunk[..n]).expect("write");
        left -= n as u64;
    }
    zip.write_all(suffix.as_bytes()).expect("write");
    zip.finish().expect("finish").into_inner()
}

const DOC_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>"#;
const DOC_CLOSE: &str = "</w:t></w:r></w:p></w:body></w:document>";

#[test]
fn docx_zip_bomb_is_too_large() {
    // document.xml inflates to just over the limit; the .docx itself is tiny.
    let bomb = zip_with(
        "word/document.xml",
        DOC_OPEN,
        b'a',
        MAX_DOCX_XML_BYTES,
        DOC_CLOSE,
    );
    assert!(bomb.len() < 200 << 10, "bomb is {} bytes", bomb.len());
    let e = extract_bytes(Kind::Docx, &bomb, "bomb.docx").unwrap_err();
    assert!(
        matches!(
            e,
            ExtractError::TooLarge {
                limit: MAX_DOCX_XML_BYTES,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("bomb.docx") && e.to_string().contains("32 MiB"),
        "{e}"
    );
}

#[test]
fn docx_just_under_the_limit_is_read() {
    // The same structure, small: the zip path and the XML path agree with the bomb test.
    let doc = zip_with("word/document.xml", DOC_OPEN, b'a', 1000, DOC_CLOSE);
    assert_eq!(
        extract_bytes(Kind::Docx, &doc, "ok.docx").expect("small docx"),
        "a".repeat(1000)
    );
}

#[test]
fn docx_without_document_part_or_with_bad_xml() {
    let no_doc = zip_with("hello.txt", "hi", b' ', 0, "");
    let e = extract_bytes(Kind::Docx, &no_doc, "empty.docx").unwrap_err();
    assert!(
        matches!(e, ExtractError::Docx { .. }) && e.to_string().contains("no word/document.xml"),
        "{e}"
    );

    let bad_xml = zip_with("word/document.xml", DOC_OPEN, b'x', 3, "</w:r></w:body>");
    let e = extract_bytes(Kind::Docx, &bad_xml, "bad.docx").unwrap_err();
    assert!(
        matches!(e, ExtractError::Docx { .. }) && e.to_string().contains("not well-formed"),
        "{e}"
    );

    let empty_body = zip_with("word/document.xml", DOC_OPEN, b' ', 3, DOC_CLOSE);
    let e = extract_bytes(Kind::Docx, &empty_body, "blank.docx").unwrap_err();
    assert!(
        matches!(
            e,
            ExtractError::Empty {
                kind: Kind::Docx,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn oversized_file_is_refused_before_reading() {
    let dir = std::env::temp_dir().join(format!("extract-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("huge.txt");
    // Sparse: takes no disk space and no time.
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(MAX_FILE_BYTES + 1).expect("set_len");
    drop(f);
    let e = extract(&path).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        matches!(
            e,
            ExtractError::TooLarge {
                limit: MAX_FILE_BYTES,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("64 MiB"), "{e}");
}

#[test]
fn absurdly_nested_html_is_refused_quickly() {
    let n = 1_000_000;
    let deep = "<div>".repeat(n) + "x" + &"</div>".repeat(n);
    let t = std::time::Instant::now();
    let e = extract_bytes(Kind::Html, deep.as_bytes(), "deep.html").unwrap_err();
    assert!(matches!(e, ExtractError::Html { .. }), "{e:?}");
    assert!(
        e.to_string().contains("deep.html") && e.to_string().contains("nest more than 4096"),
        "{e}"
    );
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
}

/// A small deterministic generator, so failures reproduce.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// Every prefix (in steps) and many byte-flipped copies of a good file must give text or
/// an error, never a panic, and never an error of another kind's family.
fn damage(kind: Kind, good: &[u8], step: usize) {
    for len in (0..good.len()).step_by(step) {
        check(kind, &good[..len], &format!("prefix {len}"));
    }
    let mut seed = 42;
    for i in 0..300 {
        let mut bad = good.to_vec();
        for _ in 0..1 + i % 4 {
            let at = lcg(&mut seed) as usize % bad.len();
            bad[at] = lcg(&mut seed) as u8;
        }
        check(kind, &bad, &format!("flip variant {i}"));
    }
}

fn check(kind: Kind, bytes: &[u8], what: &str) {
    let r = std::panic::catch_unwind(|| extract_bytes(kind, bytes, "x"));
    match r {
        Err(_) => panic!("{kind} {what}: panicked"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            let ok = match kind {
                Kind::Pdf => matches!(e, ExtractError::Pdf { .. } | ExtractError::NoText { .. }),
                Kind::Docx => matches!(
                    e,
                    ExtractError::Docx { .. }
                        | ExtractError::Empty { .. }
                        | ExtractError::TooLarge { .. }
                ),
                Kind::Html => matches!(e, ExtractError::Empty { .. } | ExtractError::Html { .. }),
                _ => matches!(e, ExtractError::Empty { .. } | ExtractError::Binary { .. }),
            };
            assert!(ok, "{kind} {what}: unexpected {e:?}");
        }
    }
}

#[test]
fn damaged_pdfs_never_panic() {
    damage(Kind::Pdf, &read("docs/report.pdf"), 7);
}

#[test]
fn damaged_docx_never_panic() {
    damage(Kind::Docx, &read("docs/letter.docx"), 13);
}

#[test]
fn damaged_html_and_text_never_panic() {
    damage(Kind::Html, &read("docs/page.html"), 5);
    damage(Kind::Text, &read("docs/notes.txt"), 5);
}
