//! The output file: one record per input, appended and flushed (and synced)
//! the moment it completes, so a batch killed at any point — `kill -9`
//! included — keeps every finished record. On a rerun the file is read back:
//! a torn last line is cut off, records that failed are dropped (to be
//! retried), records whose input, prompt, model or sampling changed are moved
//! to `OUT.stale.jsonl` (kept, not lost) and redone; the rest are skipped.
//! A lock file stops two batches writing the same output at once.

use crate::BatchError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

/// One output record (the JSONL line; CSV has the same columns, with
/// `json` as text).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub id: String,
    pub output: String,
    /// `stop`, `length`, or `error` when the record failed.
    pub finish_reason: String,
    pub prompt_tokens: usize,
    /// Of `prompt_tokens`, those taken from another document's cache (the
    /// prompts start the same way): for the run's report only, not written
    /// (the columns stay as they are, so older outputs still resume).
    #[serde(skip)]
    pub cached_tokens: usize,
    pub output_tokens: usize,
    pub seconds: f64,
    /// Why the record failed (`None` when it did not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Pieces the input was split into when longer than the context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// True when the input was cut to fit the context (`--long truncate`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// `--json`/`--json-schema`: the parsed output, and whether it is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_valid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_error: Option<String>,
    /// A thinking model's reasoning, apart from `output` (JSONL only: the
    /// CSV columns stay as they are, so older outputs still resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    pub model: String,
    /// Hash of input + prompt + model + sampling: what a rerun compares.
    pub key: String,
}

const CSV_COLUMNS: [&str; 14] = [
    "id",
    "output",
    "finish_reason",
    "prompt_tokens",
    "output_tokens",
    "seconds",
    "error",
    "chunks",
    "truncated",
    "json",
    "json_valid",
    "json_error",
    "model",
    "key",
];

impl Record {
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn csv_row(&self) -> Vec<String> {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        vec![
            self.id.clone(),
            self.output.clone(),
            self.finish_reason.clone(),
            self.prompt_tokens.to_string(),
            self.output_tokens.to_string(),
            format!("{:.3}", self.seconds),
            opt(&self.error),
            self.chunks.map(|c| c.to_string()).unwrap_or_default(),
            if self.truncated {
                "true".into()
            } else {
                String::new()
            },
            self.json
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            self.json_valid.map(|v| v.to_string()).unwrap_or_default(),
            opt(&self.json_error),
            self.model.clone(),
            self.key.clone(),
        ]
    }

    fn from_csv(r: &csv::StringRecord) -> Option<Record> {
        if r.len() != CSV_COLUMNS.len() {
            return None;
        }
        let s = |i: usize| r.get(i).unwrap_or("").to_string();
        let none_if_empty = |i: usize| Some(s(i)).filter(|x| !x.is_empty());
        Some(Record {
            id: s(0),
            output: s(1),
            finish_reason: s(2),
            prompt_tokens: s(3).parse().ok()?,
            cached_tokens: 0,
            output_tokens: s(4).parse().ok()?,
            seconds: s(5).parse().ok()?,
            error: none_if_empty(6),
            chunks: none_if_empty(7).and_then(|c| c.parse().ok()),
            truncated: s(8) == "true",
            json: none_if_empty(9).and_then(|j| serde_json::from_str(&j).ok()),
            json_valid: none_if_empty(10).and_then(|v| v.parse().ok()),
            json_error: none_if_empty(11),
            reasoning: None,
            model: s(12),
            key: s(13),
        })
    }

    fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Jsonl => {
                let mut v = serde_json::to_vec(self).unwrap_or_default();
                v.push(b'\n');
                v
            }
            Format::Csv => csv_line(&self.csv_row()),
        }
    }
}

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// A valid key is 32 hex digits: a record cut short never ends in one.
fn valid_key(k: &str) -> bool {
    k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a rerun found in the output file.
#[derive(Debug, Default)]
pub struct Resume {
    /// Done records by id → key.
    pub done: HashMap<String, String>,
    /// Records dropped to be retried (they had failed).
    pub retry_failed: usize,
    /// Records moved to the stale file (their input or settings changed).
    pub stale: usize,
    /// A torn last record was cut off.
    pub torn: bool,
}

pub struct OutFile {
    path: PathBuf,
    file: File,
    format: Format,
    lock_path: PathBuf,
    _lock: File,
}

impl OutFile {
    /// Open (creating) `path` for appending, after reading back what it
    /// holds. `current` maps each input id of this run to its key.
    pub fn open(
        path: &Path,
        format: Format,
        current: &HashMap<String, String>,
    ) -> Result<(OutFile, Resume), BatchError> {
        let out_err = |what: &str, e: std::io::Error| {
            BatchError::Output(format!("{what} '{}': {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| out_err("cannot create the folder of", e))?;
        }
        let lock_path = sidecar(path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| out_err("cannot create the lock file next to", e))?;
        if fs2::FileExt::try_lock_exclusive(&lock).is_err() {
            return Err(BatchError::Output(format!(
                "another hearth batch is writing '{}'; wait for it to finish or choose another -o",
                path.display()
            )));
        }
        let resume = recover(path, format, current)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| out_err("cannot open", e))?;
        Ok((
            OutFile {
                path: path.to_path_buf(),
                file,
                format,
                lock_path,
                _lock: lock,
            },
            resume,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one write, then flush it to disk.
    pub fn append(&mut self, r: &Record) -> Result<(), BatchError> {
        let bytes = r.encode(self.format);
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| {
                BatchError::Output(format!(
                    "cannot write to '{}': {e} (records written so far are kept)",
                    self.path.display()
                ))
            })
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// `out.jsonl` → `out.jsonl.lock` etc.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The records of an existing output file, each with its bytes; stops at
/// the first record that is not whole (a torn write).
fn read_records(bytes: &[u8], format: Format) -> (Vec<(Record, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut good_end = 0;
    match format {
        Format::Jsonl => {
            let mut start = 0;
            while let Some(nl) = bytes[start..].iter().position(|&b| b == b'\n') {
                let line = &bytes[start..start + nl];
                start += nl + 1;
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    good_end = start;
                    continue;
                }
                match serde_json::from_slice::<Record>(line) {
                    Ok(r) if valid_key(&r.key) => {
                        let mut l = line.to_vec();
                        l.push(b'\n');
                        out.push((r, l));
                        good_end = start;
                    }
                    _ => break,
                }
            }
        }
        Format::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(bytes);
            // Past the header line.
            if rdr.headers().is_ok() {
                good_end = rdr.position().byte() as usize;
            }
            let mut rec = csv::StringRecord::new();
            loop {
                let before = rdr.position().byte() as usize;
                match rdr.read_record(&mut rec) {
                    Ok(true) => {}
                    _ => break,
                }
                let after = rdr.position().byte() as usize;
                let Some(r) = Record::from_csv(&rec).filter(|r| valid_key(&r.key)) else {
                    break;
                };
                // A record must end in its line break to be whole.
                if after == 0 || bytes.get(after - 1) != Some(&b'\n') {
                    break;
                }
                out.push((r, bytes[before..after].to_vec()));
                good_end = after;
            }
        }
    }
    (out, good_end)
}

/// Read back `path`, rewrite it (atomically) when anything must go, and say
/// what is done.
fn recover(
    path: &Path,
    format: Format,
    current: &HashMap<String, String>,
) -> Result<Resume, BatchError> {
    let mut resume = Resume::default();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(BatchError::Output(format!(
                "cannot read '{}': {e}",
                path.display()
            )))
        }
    };
    let header = csv_line(
        &CSV_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    );
    if bytes.is_empty() {
        if format == Format::Csv {
            std::fs::write(path, &header).map_err(|e| {
                BatchError::Output(format!("cannot write '{}': {e}", path.display()))
            })?;
        }
        return Ok(resume);
    }
    if format == Format::Csv && !bytes.starts_with(&header) {
        return Err(BatchError::Output(format!(
            "'{}' exists but is not a hearth batch CSV (its first line differs); choose another -o or move it away",
            path.display()
        )));
    }
    let (records, good_end) = read_records(&bytes, format);
    resume.torn = good_end < bytes.len();
    if resume.torn {
        let tail = &bytes[good_end..];
        let ours = match format {
            Format::Jsonl => tail.starts_with(b"{\"id\":"),
            Format::Csv => true,
        };
        if !ours && records.is_empty() {
            return Err(BatchError::Output(format!(
                "'{}' exists but does not hold hearth batch records; choose another -o or move it away",
                path.display()
            )));
        }
        // Only the last record can be torn by a kill: anything after a bad
        // record means damage elsewhere; refuse rather than drop records.
        let more_after = match format {
            Format::Jsonl => {
                let first_nl = tail.iter().position(|&b| b == b'\n').unwrap_or(tail.len());
                tail[first_nl..].iter().any(|b| !b.is_ascii_whitespace())
            }
            // A CSV record may span lines (quoted line breaks): count records.
            Format::Csv => {
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(tail);
                rdr.records().take(2).count() > 1
            }
        };
        if !ours || more_after {
            return Err(BatchError::Output(format!(
                "'{}' has a damaged record in the middle (at byte {good_end}); fix or remove it and rerun",
                path.display()
            )));
        }
    }
    let mut keep: Vec<u8> = if format == Format::Csv {
        header.clone()
    } else {
        Vec::new()
    };
    let mut stale: Vec<u8> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut changed = resume.torn;
    for (r, raw) in records {
        let cur = current.get(&r.id);
        if r.failed() {
            resume.retry_failed += 1;
            changed = true;
        } else if cur.is_some_and(|k| *k != r.key) || !ids.insert(r.id.clone()) {
            resume.stale += 1;
            stale.extend_from_slice(&serde_json::to_vec(&r).unwrap_or_default());
            stale.push(b'\n');
            changed = true;
        } else {
            resume.done.insert(r.id.clone(), r.key.clone());
            keep.extend_from_slice(&raw);
        }
    }
    if !stale.is_empty() {
        let sp = sidecar(path, ".stale.jsonl");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&sp)
            .map_err(|e| BatchError::Output(format!("cannot write '{}': {e}", sp.display())))?;
        f.write_all(&stale)
            .and_then(|_| f.sync_data())
            .map_err(|e| BatchError::Output(format!("cannot write '{}': {e}", sp.display())))?;
    }
    if changed {
        let tmp = sidecar(path, ".tmp");
        std::fs::write(&tmp, &keep)
            .and_then(|_| File::open(&tmp).and_then(|f| f.sync_all()))
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| BatchError::Output(format!("cannot rewrite '{}': {e}", path.display())))?;
    }
    Ok(resume)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, key: char, error: Option<&str>) -> Record {
        Record {
            id: id.into(),
            output: format!("out of {id}, with \"quotes\",\nand a line break"),
            finish_reason: if error.is_some() {
                "error".into()
            } else {
                "stop".into()
            },
            prompt_tokens: 10,
            output_tokens: 5,
            seconds: 0.5,
            error: error.map(|s| s.to_string()),
            model: "m".into(),
            key: std::iter::repeat_n(key, 32).collect(),
            ..Record::default()
        }
    }

    fn cur(pairs: &[(&str, char)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(i, k)| (i.to_string(), std::iter::repeat_n(*k, 32).collect()))
            .collect()
    }

    #[test]
    fn resume_keeps_done_drops_failed_moves_stale_cuts_torn() {
        for format in [Format::Jsonl, Format::Csv] {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("out");
            let current = cur(&[("a", 'a'), ("b", 'b'), ("c", 'c'), ("d", 'd')]);
            {
                let (mut f, r) = OutFile::open(&p, format, &current).unwrap();
                assert!(r.done.is_empty());
                f.append(&rec("a", 'a', None)).unwrap();
                f.append(&rec("b", '0', None)).unwrap(); // made with other settings
                f.append(&rec("c", 'c', Some("boom"))).unwrap();
                f.append(&rec("z", 'f', None)).unwrap(); // not an input of this run: kept
                                                         // Another batch on the same file is refused meanwhile.
                let e = OutFile::open(&p, format, &current)
                    .err()
                    .unwrap()
                    .to_string();
                assert!(e.contains("another hearth batch"), "{e}");
            }
            // A torn write at the end.
            let mut bytes = std::fs::read(&p).unwrap();
            let whole = bytes.len();
            bytes.extend_from_slice(&rec("d", 'd', None).encode(format)[..20]);
            std::fs::write(&p, &bytes).unwrap();
            let (mut f, r) = OutFile::open(&p, format, &current).unwrap();
            assert!(r.torn);
            assert_eq!(r.retry_failed, 1);
            assert_eq!(r.stale, 1);
            let mut done: Vec<_> = r.done.keys().cloned().collect();
            done.sort();
            assert_eq!(done, ["a", "z"]);
            assert!(std::fs::metadata(&p).unwrap().len() < whole as u64);
            let stale = std::fs::read_to_string(sidecar(&p, ".stale.jsonl")).unwrap();
            assert!(stale.contains("\"id\":\"b\""));
            f.append(&rec("d", 'd', None)).unwrap();
            drop(f);
            let (_f, r) = OutFile::open(&p, format, &current).unwrap();
            assert!(!r.torn && r.stale == 0 && r.retry_failed == 0);
            assert_eq!(r.done.len(), 3, "{format:?}");
            assert_eq!(r.done["d"], current["d"]);
        }
    }

    #[test]
    fn refuses_a_file_that_is_not_ours() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notes.txt");
        std::fs::write(&p, "my precious notes\nsecond line\n").unwrap();
        for format in [Format::Jsonl, Format::Csv] {
            let e = OutFile::open(&p, format, &HashMap::new())
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("choose another -o"), "{e}");
        }
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "my precious notes\nsecond line\n"
        );
    }
}
