//! Extraction of the committed documents in tests/fixtures/batch (made by real tools:
//! see scripts/make-batch-fixtures.py).

use std::path::{Path, PathBuf};

use extract::{extract, extract_bytes, kind_of, ExtractError, Kind};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/batch")
        .join(rel)
}

fn text_of(rel: &str) -> String {
    let path = fixture(rel);
    extract(&path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Whitespace runs → one space, to match sentences across line wraps.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every kind's output is normalised the same way.
fn assert_normalised(rel: &str, text: &str) {
    assert!(!text.contains('\r'), "{rel}: CR left");
    assert!(!text.contains("\n\n\n"), "{rel}: more than one blank line");
    assert!(
        text.lines().all(|l| l == l.trim_end()),
        "{rel}: trailing whitespace"
    );
    assert_eq!(
        text,
        text.trim_matches('\n'),
        "{rel}: blank lines at the ends"
    );
}

#[test]
fn text_file() {
    let t = text_of("docs/notes.txt");
    assert!(t.starts_with("Field notes: Arctic terns at Skellig Point\n\nThe Arctic tern flies from pole to pole every year"));
    assert!(t.contains("Observer: Ingrid Sæther"), "{t}");
    assert_normalised("notes.txt", &t);
}

#[test]
fn nested_text_file() {
    let t = text_of("docs/nested/deeper.txt");
    assert!(
        t.contains("The Millbrook chess club meets on Tuesdays in the old library annex"),
        "{t}"
    );
}

#[test]
fn markdown_stays_markdown() {
    let t = text_of("docs/readme.md");
    assert!(t.starts_with("# Community compost guide\n"), "{t}");
    assert!(
        t.contains("Turn the heap every two weeks and keep it as damp as a wrung-out sponge."),
        "{t}"
    );
    assert!(t.contains("- **Never** meat, dairy or cooked food"), "{t}");
    assert!(t.contains("| 3   | ready     |"), "{t}");
    assert_normalised("readme.md", &t);
}

#[test]
fn html_page() {
    let t = text_of("docs/page.html");
    assert_normalised("page.html", &t);
    let first = t.lines().next().unwrap_or_default();
    assert_eq!(first, "Kelda Volcano Observatory – weekly bulletin", "{t}");
    for want in [
        "Weekly bulletin: Kelda volcano",
        "The Kelda volcano observatory raised the alert level to yellow on 3 May after a swarm of 140 small earthquakes.",
        "Ash & gas readings: sulphur dioxide rose to 1,200 tonnes a day;",
        "vent temperature stayed < 90 °C. Café and visitor centre remain open—for now.",
        "Station\tTilt (µrad)\nNorth rim\t4.2\nLake hut\t1.7",
        "- Next bulletin: 10 May\n- Hotline: 555‑0199",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    for noise in [
        "SCRIPT_TEXT",
        "STYLE_TEXT",
        "NOSCRIPT_TEXT",
        "tracker",
        "font-family",
        "charset",
        "&amp;",
    ] {
        assert!(!t.contains(noise), "{noise:?} leaked into:\n{t}");
    }
    assert_eq!(
        t.matches('<').count(),
        1,
        "only the decoded &lt; may be a '<':\n{t}"
    );
    // Block structure: headings and paragraphs are separated by blank lines.
    assert!(
        t.contains("Weekly bulletin: Kelda volcano\n\nThe Kelda"),
        "{t}"
    );
}

#[test]
fn pdf_report() {
    let t = text_of("docs/report.pdf");
    assert_normalised("report.pdf", &t);
    let s = squash(&t);
    for want in [
        "Carrow Head Lighthouse: the Keeper's Logbook",
        "The keeper recorded a force nine gale on the night of 14 March and kept the lamp burning for eleven hours",
        // page 2
        "Stores and relief",
        "forty litres of paraffin",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{t}");
    }
    // pages come in order
    assert!(
        s.find("Logbook").unwrap_or(usize::MAX) < s.find("Stores and relief").unwrap_or(0),
        "{t}"
    );
}

#[test]
fn docx_letter() {
    let t = text_of("docs/letter.docx");
    assert_normalised("letter.docx", &t);
    for want in [
        "Harbour Street Bakery\n12 Quay Lane\nPort Carrow\n", // w:br
        "Order for the harvest festival\nDear Mr Penhallow,\n", // one line per w:p
        "Please deliver forty-eight sourdough loaves to the Harbour Street bakery by Friday morning",
        "Order number:\tBK-2291", // w:tab
        "Item\tQuantity\nSourdough loaf\t48\nRye roll\t120\nSaffron bun\t36\n", // table
        "Kind regards,\nMarta Quill",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    assert!(t.ends_with("Marta Quill"), "{t}");
}

#[test]
fn kind_of_table() {
    let cases: &[(&str, Option<Kind>)] = &[
        ("a.txt", Some(Kind::Text)),
        ("a.TEXT", Some(Kind::Text)),
        ("dir.x/a.md", Some(Kind::Markdown)),
        ("A.Markdown", Some(Kind::Markdown)),
        ("a.html", Some(Kind::Html)),
        ("a.HTM", Some(Kind::Html)),
        ("a.xhtml", Some(Kind::Html)),
        ("report.final.PDF", Some(Kind::Pdf)),
        ("a.docx", Some(Kind::Docx)),
        ("a.DocX", Some(Kind::Docx)),
        ("a.doc", None),
        ("a.rtf", None),
        ("photo.jpg", None),
        ("data.bin", None),
        ("README", None),
        (".md", None), // a hidden file named ".md" has no extension
        ("a.md.bak", None),
        ("a.", None),
    ];
    for (path, want) in cases {
        assert_eq!(kind_of(Path::new(path)), *want, "{path}");
    }
    let names: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, ["text", "markdown", "html", "pdf", "docx"]);
    assert_eq!(Kind::Pdf.to_string(), "pdf");
}

#[test]
fn skipped_and_missing_files() {
    let jpg = fixture("docs/photo.jpg");
    assert_eq!(kind_of(&jpg), None);
    let e = extract(&jpg).unwrap_err();
    assert!(matches!(e, ExtractError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("photo.jpg"), "{e}");

    let missing = fixture("docs/no-such-file.txt");
    let e = extract(&missing).unwrap_err();
    assert!(matches!(e, ExtractError::Io { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("cannot read ") && e.to_string().contains("no-such-file.txt"),
        "{e}"
    );
}

#[test]
fn every_fixture_doc_extracts() {
    // What `hearth batch` will do with the folder: every known kind gives text.
    let mut seen = 0;
    let mut stack = vec![fixture("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if kind_of(&path).is_some() {
                let t = extract(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(t.len() > 50, "{}: {t}", path.display());
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 6);
}

#[test]
fn extract_bytes_matches_extract() {
    for rel in ["docs/report.pdf", "docs/letter.docx", "docs/page.html"] {
        let path = fixture(rel);
        let bytes = extract::read_bytes(&path).expect("read");
        let kind = kind_of(&path).expect("kind");
        assert_eq!(
            extract_bytes(kind, &bytes, rel).expect("extract_bytes"),
            extract(&path).expect("extract")
        );
    }
}
