//! DOCX → text. A .docx is an Office Open XML package (ECMA-376 Part 2, Open Packaging
//! Conventions): a zip whose `_rels/.rels` points at the main document part, normally
//! `word/document.xml`, written in WordprocessingML (ECMA-376 Part 1, §17).
//!
//! The main part is decompressed with a hard cap ([`MAX_DOCX_XML_BYTES`]) and read with
//! a streaming XML parser, keeping only counters as state (no stack that grows with the
//! nesting depth).

use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::{ExtractError, MAX_DOCX_XML_BYTES};

const DEFAULT_MAIN_PART: &str = "word/document.xml";
/// The OLE2 compound file signature: legacy .doc, and password-protected OOXML files.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

pub(crate) fn to_text(bytes: &[u8], name: &str) -> Result<String, ExtractError> {
    let err = |reason: String| ExtractError::Docx {
        name: name.to_string(),
        reason,
    };
    if bytes.starts_with(OLE_MAGIC) {
        return Err(err(
            "it is an OLE compound file (a legacy .doc, or a password-protected document), \
                        not a .docx zip package; open it and save it as .docx without a password"
                .to_string(),
        ));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        err(format!(
            "it is not a valid zip package ({e}); a .docx is a zip archive: if this is a .doc, .rtf or \
             .odt file renamed, open it and save it as .docx"
        ))
    })?;
    let part = main_part(&mut zip);
    let xml = read_part(&mut zip, &part, name)?.ok_or_else(|| {
        err(format!(
            "the package has no {part}, so it is not a Word document"
        ))
    })?;
    document_text(&xml).map_err(|e| err(format!("{part} is damaged: {e}")))
}

/// The main document part named by the package relationships (`_rels/.rels`), or
/// `word/document.xml` if that cannot be read.
fn main_part(zip: &mut zip::ZipArchive<Cursor<&[u8]>>) -> String {
    let Ok(Some(rels)) = read_part(zip, "_rels/.rels", "") else {
        return DEFAULT_MAIN_PART.to_string();
    };
    let mut reader = Reader::from_str(&rels);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                // Transitional: .../officeDocument/2006/relationships/officeDocument;
                // Strict: http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument.
                let is_main = attr(&e, "Type").is_some_and(|t| t.ends_with("/officeDocument"));
                if let (true, Some(target)) = (is_main, attr(&e, "Target")) {
                    let target = target.trim_start_matches('/');
                    if !target.is_empty() {
                        return target.to_string();
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return DEFAULT_MAIN_PART.to_string(),
            Ok(_) => {}
        }
    }
}

fn attr(e: &BytesStart, key: &str) -> Option<String> {
    let a = e.try_get_attribute(key).ok().flatten()?;
    Some(
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()?
            .into_owned(),
    )
}

/// The decompressed, decoded text of one part; `Ok(None)` if the package has no such part.
/// More than [`MAX_DOCX_XML_BYTES`] after decompression is `TooLarge`, found while
/// inflating (the sizes in the zip headers are not trusted).
fn read_part(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    part: &str,
    name: &str,
) -> Result<Option<String>, ExtractError> {
    let err = |reason: String| ExtractError::Docx {
        name: name.to_string(),
        reason,
    };
    let too_large = || ExtractError::TooLarge {
        name: name.to_string(),
        what: "the document XML inside the .docx (uncompressed)",
        limit: MAX_DOCX_XML_BYTES,
    };
    let file = match zip.by_name(part) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(err(format!("cannot open {part} in the zip ({e})"))),
    };
    if file.size() > MAX_DOCX_XML_BYTES {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(file.size() as usize);
    file.take(MAX_DOCX_XML_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err(format!("{part} is damaged in the zip ({e})")))?;
    if buf.len() as u64 > MAX_DOCX_XML_BYTES {
        return Err(too_large());
    }
    // XML parts are UTF-8, or UTF-16 with a BOM.
    let text = match encoding_rs::Encoding::for_bom(&buf) {
        Some((enc, bom_len)) => enc
            .decode_without_bom_handling(&buf[bom_len..])
            .0
            .into_owned(),
        None => String::from_utf8(buf).map_err(|_| err(format!("{part} is not UTF-8 text")))?,
    };
    Ok(Some(text))
}

/// Whether an element's whole subtree is left out: properties (`w:pPr`, `w:rPr`,
/// `w:sectPr`, `w:tblPr`, ... hold no text, and `w:tabs/w:tab` there are tab stops, not
/// tabs), the fallback copy of a text box (`mc:Fallback` repeats `mc:Choice`), text
/// moved away by a tracked change (`w:moveFrom`).
fn skipped(local: &str) -> bool {
    local.ends_with("Pr") || matches!(local, "Fallback" | "moveFrom")
}

/// The text of a WordprocessingML document part (element names compared without prefix).
fn document_text(xml: &str) -> Result<String, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut skip_depth = 0usize;
    let mut in_text = false; // inside w:t
    let mut cell_depth = 0usize; // inside w:tc (tables nest)
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML near byte {}: {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(e) => {
                let local = e.local_name();
                let local = local.as_ref();
                if skip_depth > 0 || skipped(local) {
                    skip_depth += 1;
                    continue;
                }
                match local {
                    "t" => in_text = true,
                    "tc" => cell_depth += 1,
                    _ => leaf(local, &mut out),
                }
            }
            Event::Empty(e) if skip_depth == 0 => match e.local_name().as_ref() {
                "p" => out.push(if cell_depth > 0 { ' ' } else { '\n' }), // an empty paragraph
                local => leaf(local, &mut out),
            },
            Event::End(e) => {
                if skip_depth > 0 {
                    skip_depth -= 1;
                    continue;
                }
                match e.local_name().as_ref() {
                    "t" => in_text = false,
                    // A paragraph is a line; inside a table cell, paragraphs are joined by a space.
                    "p" if cell_depth > 0 => out.push(' '),
                    "p" => out.push('\n'),
                    "tc" => {
                        cell_depth = cell_depth.saturating_sub(1);
                        trim_end_spaces(&mut out);
                        out.push('\t');
                    }
                    "tr" => {
                        trim_end_spaces(&mut out);
                        while out.ends_with('\t') {
                            out.pop();
                        }
                        out.push(if cell_depth > 0 { ' ' } else { '\n' });
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_text && skip_depth == 0 => out.push_str(&t.xml10_content()),
            Event::CData(t) if in_text && skip_depth == 0 => out.push_str(&t),
            Event::GeneralRef(r) if in_text && skip_depth == 0 => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                Ok(None) => {
                    out.push_str(quick_xml::escape::resolve_predefined_entity(&r).unwrap_or(""))
                }
                Err(_) => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Run content that stands for a character: tabs, breaks, the no-break hyphen.
fn leaf(local: &str, out: &mut String) {
    match local {
        "tab" | "ptab" => out.push('\t'),
        "br" | "cr" => out.push('\n'),
        "noBreakHyphen" => out.push('-'),
        _ => {}
    }
}

fn trim_end_spaces(s: &mut String) {
    while s.ends_with(' ') {
        s.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(inner: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"
 xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{inner}</w:body></w:document>"#
        )
    }

    #[test]
    fn runs_tabs_breaks_and_entities() {
        let xml = body(
            r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>
            <w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">Fish &amp; </w:t></w:r><w:r><w:t>chips</w:t></w:r>
            <w:r><w:tab/><w:t>&#169; 2024</w:t><w:br/><w:t>next&#x2011;line</w:t><w:noBreakHyphen/></w:r></w:p>
            <w:p/><w:p><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:ins><w:r><w:t>added</w:t></w:r></w:ins></w:p>
            <w:sectPr><w:pgSz w:w="12240"/></w:sectPr>"#,
        );
        assert_eq!(
            document_text(&xml).unwrap(),
            "Fish & chips\t© 2024\nnext‑line-\n\nadded\n"
        );
    }

    #[test]
    fn tables_and_text_boxes() {
        let xml = body(
            r#"<w:tbl><w:tblPr/><w:tr><w:tc><w:tcPr/><w:p><w:r><w:t>a</w:t></w:r></w:p><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc>
            <w:tc><w:p><w:r><w:t>c</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            <w:p><w:r><mc:AlternateContent><mc:Choice><w:txbxContent><w:p><w:r><w:t>box</w:t></w:r></w:p></w:txbxContent></mc:Choice>
            <mc:Fallback><w:txbxContent><w:p><w:r><w:t>box</w:t></w:r></w:p></w:txbxContent></mc:Fallback></mc:AlternateContent></w:r></w:p>"#,
        );
        assert_eq!(
            crate::normalise(&document_text(&xml).unwrap()),
            "a b\tc\nbox"
        );
    }

    #[test]
    fn bad_xml_is_an_error() {
        let e = document_text(&body("<w:p><w:r><w:t>x</w:r></w:p>")).unwrap_err();
        assert!(e.contains("not well-formed XML"), "{e}");
    }

    #[test]
    fn ole_file_is_explained() {
        let mut bytes = OLE_MAGIC.to_vec();
        bytes.extend([0u8; 64]);
        let e = to_text(&bytes, "old.docx").unwrap_err();
        assert!(e.to_string().contains("legacy .doc"), "{e}");
    }
}
