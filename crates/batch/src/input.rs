//! What to process: the files of a folder (recursed, filtered by `--glob`),
//! files named one by one, or the records of a JSONL file. Each input gets a
//! stable `id` (the path relative to the folder given, or a record's own `id`
//! field) and a `digest` of its bytes, so a rerun can tell what is done.

use crate::BatchError;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Files larger than this are refused (the document extractor's own cap).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Lines of a JSONL input larger than this are refused.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Where an input's text comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A document file; its text is extracted when it is processed.
    File { path: PathBuf, kind: extract::Kind },
    /// One record of a JSONL file: every field is a template variable.
    Record {
        fields: Map<String, Value>,
        line: usize,
    },
    /// A JSONL line that could not be used; processed as a failure.
    BadRecord { line: usize, error: String },
}

#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    pub source: Source,
    /// SHA-256 of the file's bytes or the record's JSON text (hex).
    pub digest: String,
    /// `--drafts N`: which of the input's N drafts this is (1-based; `None`
    /// for a single output per input).
    pub draft: Option<u32>,
}

/// `--drafts N`: every input `N` times, as `ID#1` .. `ID#N` (draft `k`
/// samples with seed `seed + k - 1`: different drafts, the same ones on every
/// run). `N <= 1` leaves the inputs as they are.
pub fn with_drafts(items: Vec<Item>, n: u32) -> Vec<Item> {
    if n <= 1 {
        return items;
    }
    items
        .into_iter()
        .flat_map(|it| {
            (1..=n).map(move |k| Item {
                id: format!("{}#{k}", it.id),
                draft: Some(k),
                ..it.clone()
            })
        })
        .collect()
}

/// A file found but not processed, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Inputs {
    pub items: Vec<Item>,
    pub skipped: Vec<Skipped>,
    /// True when the input is a JSONL file of records.
    pub records: bool,
}

/// The document types a folder or file list is read for (as `extract::kind_of`
/// knows them), for messages.
pub const DOCUMENT_TYPES: &str = ".txt .md .html .pdf .docx";

/// True for a path that names a JSONL file of records.
pub fn is_jsonl(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// Find every input. `globs` (e.g. `**/*.md`) filter the files found in
/// folders, matched against the path relative to the folder.
pub fn discover(paths: &[PathBuf], globs: &[String]) -> Result<Inputs, BatchError> {
    if paths.is_empty() {
        return Err(BatchError::Input(
            "no input given: name a folder, files, or a .jsonl file".into(),
        ));
    }
    let globset = build_globs(globs)?;
    if paths.len() == 1 && is_jsonl(&paths[0]) {
        return read_jsonl(&paths[0]);
    }
    let mut out = Inputs::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            BatchError::Input(format!(
                "cannot read input '{}': {e}; check the path",
                p.display()
            ))
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(p, p, &mut files, &mut out.skipped)?;
            files.sort();
            for (rel, path) in files {
                if let Some(g) = &globset {
                    if !g.is_match(&rel) {
                        continue;
                    }
                }
                add_file(&mut out, &mut seen, rel, path)?;
            }
        } else if is_jsonl(p) {
            return Err(BatchError::Input(format!(
                "'{}' is a JSONL file of records: give it alone, not together with other inputs",
                p.display()
            )));
        } else {
            add_file(
                &mut out,
                &mut seen,
                p.to_string_lossy().replace('\\', "/"),
                p.clone(),
            )?;
        }
    }
    Ok(out)
}

fn build_globs(globs: &[String]) -> Result<Option<GlobSet>, BatchError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        // A bare pattern like `*.md` means "anywhere below the folder".
        let pat = if g.contains('/') {
            g.clone()
        } else {
            format!("**/{g}")
        };
        b.add(Glob::new(&pat).map_err(|e| BatchError::Input(format!("bad --glob '{g}': {e}")))?);
    }
    b.build()
        .map(Some)
        .map_err(|e| BatchError::Input(format!("bad --glob: {e}")))
}

/// Collect `(relative path, path)` of every regular file below `dir`
/// (hidden entries such as `.git` skipped; symbolic links not followed).
fn walk(
    root: &Path,
    dir: &Path,
    files: &mut Vec<(String, PathBuf)>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), BatchError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| BatchError::Input(format!("cannot list folder '{}': {e}", dir.display())))?;
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        let ft = match e.file_type() {
            Ok(t) => t,
            Err(err) => {
                skipped.push(Skipped {
                    path,
                    reason: format!("cannot read: {err}"),
                });
                continue;
            }
        };
        if ft.is_dir() {
            walk(root, &path, files, skipped)?;
        } else if ft.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            files.push((rel, path));
        }
    }
    Ok(())
}

fn add_file(
    out: &mut Inputs,
    seen: &mut HashMap<String, PathBuf>,
    id: String,
    path: PathBuf,
) -> Result<(), BatchError> {
    let Some(kind) = extract::kind_of(&path) else {
        out.skipped.push(Skipped {
            path,
            reason: format!("not a supported document type ({DOCUMENT_TYPES})"),
        });
        return Ok(());
    };
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE_BYTES {
        out.skipped.push(Skipped {
            path,
            reason: format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        });
        return Ok(());
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            out.skipped.push(Skipped {
                path,
                reason: format!("cannot read: {e}"),
            });
            return Ok(());
        }
    };
    if let Some(prev) = seen.insert(id.clone(), path.clone()) {
        return Err(BatchError::Input(format!(
            "'{}' and '{}' would both get the id '{id}'; give them in separate runs or rename one",
            prev.display(),
            path.display()
        )));
    }
    out.items.push(Item {
        id,
        digest: hex_digest(&bytes),
        source: Source::File { path, kind },
        draft: None,
    });
    Ok(())
}

/// Records of a JSONL file. A line that is not a JSON object becomes a
/// failed item (reported, the rest continue); blank lines are ignored.
fn read_jsonl(path: &Path) -> Result<Inputs, BatchError> {
    let text = std::fs::read(path)
        .map_err(|e| BatchError::Input(format!("cannot read '{}': {e}", path.display())))?;
    let text = String::from_utf8_lossy(&text);
    let mut out = Inputs {
        records: true,
        ..Inputs::default()
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let digest = hex_digest(line.as_bytes());
        let parsed = if line.len() > MAX_RECORD_BYTES {
            Err(format!(
                "line {n} is longer than {} MiB",
                MAX_RECORD_BYTES >> 20
            ))
        } else {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(format!("line {n} is JSON but not an object ({{...}})")),
                Err(e) => Err(format!("line {n} is not valid JSON: {e}")),
            }
        };
        let (id, source) = match parsed {
            Ok(fields) => {
                let id = match fields.get("id") {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    Some(Value::Number(x)) => x.to_string(),
                    _ => format!("line-{n}"),
                };
                (id, Source::Record { fields, line: n })
            }
            Err(error) => (format!("line-{n}"), Source::BadRecord { line: n, error }),
        };
        if let Some(prev) = seen.insert(id.clone(), n) {
            return Err(BatchError::Input(format!(
                "{}: lines {prev} and {n} have the same id '{id}'; ids must be unique",
                path.display()
            )));
        }
        out.items.push(Item {
            id,
            source,
            digest,
            draft: None,
        });
    }
    Ok(out)
}

pub fn hex_digest(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_recursion_glob_ids_and_skips() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub/.hidden")).unwrap();
        std::fs::write(d.path().join("a.txt"), "alpha").unwrap();
        std::fs::write(d.path().join("sub/b.md"), "beta").unwrap();
        std::fs::write(d.path().join("sub/.hidden/c.txt"), "hidden").unwrap();
        std::fs::write(d.path().join("sub/pic.png"), [0u8, 1, 2]).unwrap();
        let all = discover(&[d.path().to_path_buf()], &[]).unwrap();
        let ids: Vec<_> = all.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["a.txt", "sub/b.md"]);
        assert_eq!(all.skipped.len(), 1);
        assert!(all.skipped[0].path.ends_with("pic.png"));
        let md = discover(&[d.path().to_path_buf()], &["*.md".into()]).unwrap();
        assert_eq!(md.items.len(), 1);
        assert_eq!(md.items[0].id, "sub/b.md");
        assert!(
            matches!(discover(&[d.path().join("nope")], &[]), Err(BatchError::Input(m)) if m.contains("nope"))
        );
    }

    #[test]
    fn jsonl_ids_bad_lines_and_duplicates() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("in.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"x\",\"text\":\"one\"}\n\n{\"text\":\"two\"}\n[1,2]\n{broken\n{\"id\":7}\n",
        )
        .unwrap();
        let r = discover(std::slice::from_ref(&p), &[]).unwrap();
        assert!(r.records);
        let ids: Vec<_> = r.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["x", "line-3", "line-4", "line-5", "7"]);
        assert!(
            matches!(&r.items[2].source, Source::BadRecord { error, .. } if error.contains("not an object"))
        );
        assert!(
            matches!(&r.items[3].source, Source::BadRecord { error, .. } if error.contains("line 5"))
        );
        std::fs::write(&p, "{\"id\":\"x\"}\n{\"id\":\"x\"}\n").unwrap();
        let e = discover(&[p], &[]).unwrap_err().to_string();
        assert!(e.contains("same id 'x'"), "{e}");
    }
}
