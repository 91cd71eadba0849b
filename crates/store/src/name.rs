//! Model names: `name[:tag]`, and the kinds of thing a user may type where a
//! model is expected (a path, a name, a Hugging Face reference, a URL).

use crate::error::StoreError;
use std::fmt;

/// A model name with its tag, both lowercase: `qwen2.5-coder:0.5b`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelRef {
    pub name: String,
    pub tag: String,
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

/// The tag a bare name gets when the catalog has no default for it.
pub const LATEST: &str = "latest";

const MAX_LEN: usize = 80;

fn check_part(whole: &str, part: &str, what: &str) -> Result<String, StoreError> {
    if part.is_empty() {
        return Err(StoreError::BadName(
            whole.into(),
            format!("the {what} is empty"),
        ));
    }
    if part.len() > MAX_LEN {
        return Err(StoreError::BadName(
            whole.into(),
            format!("the {what} is longer than {MAX_LEN} characters"),
        ));
    }
    if let Some(c) = part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(StoreError::BadName(
            whole.into(),
            format!("the {what} contains {c:?}"),
        ));
    }
    if !part.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(StoreError::BadName(
            whole.into(),
            format!("the {what} must start with a letter or digit"),
        ));
    }
    Ok(part.to_ascii_lowercase())
}

/// Parse `name` or `name:tag`. The tag is `None` when absent.
pub fn parse_name(s: &str) -> Result<(String, Option<String>), StoreError> {
    let s = s.trim();
    let mut it = s.splitn(2, ':');
    let name = check_part(s, it.next().unwrap_or(""), "name")?;
    let tag = match it.next() {
        None => None,
        Some(t) => {
            if t.contains(':') {
                return Err(StoreError::BadName(s.into(), "more than one `:`".into()));
            }
            Some(check_part(s, t, "tag")?)
        }
    };
    Ok((name, tag))
}

/// What a user typed where a model is expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// A file on disk (has a path separator, ends in `.gguf`, or exists).
    Path(std::path::PathBuf),
    /// `hf.co/OWNER/REPO:FILE` (or `huggingface.co/...`).
    Hf { repo: String, file: String },
    /// A full `https://` (or `http://`) URL to a GGUF file.
    Url(String),
    /// A store name with optional tag.
    Name(String, Option<String>),
}

/// Classify user input. Paths win when the file exists.
pub fn parse_spec(s: &str) -> Result<Spec, StoreError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(StoreError::BadName(s.into(), "it is empty".into()));
    }
    for p in ["hf.co/", "huggingface.co/"] {
        if let Some(rest) = t.strip_prefix(p) {
            return parse_hf(t, rest);
        }
    }
    if t.starts_with("https://") || t.starts_with("http://") {
        return parse_url(t);
    }
    let path = std::path::Path::new(s);
    if path.exists()
        || s.contains('/')
        || s.contains('\\')
        || s.to_ascii_lowercase().ends_with(".gguf")
    {
        return Ok(Spec::Path(path.to_path_buf()));
    }
    let (n, tag) = parse_name(t)?;
    Ok(Spec::Name(n, tag))
}

fn parse_hf(whole: &str, rest: &str) -> Result<Spec, StoreError> {
    let bad = |m: &str| {
        StoreError::BadSource(
            whole.into(),
            format!("{m}; write it as hf.co/OWNER/REPO:FILE.gguf"),
        )
    };
    let (repo, file) = rest
        .split_once(':')
        .ok_or_else(|| bad("no `:FILE` after the repository"))?;
    let parts: Vec<&str> = repo.split('/').collect();
    let ok_seg = |x: &str| {
        !x.is_empty()
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && x != "."
            && x != ".."
    };
    if parts.len() != 2 || !parts.iter().all(|p| ok_seg(p)) {
        return Err(bad("the repository must be OWNER/REPO"));
    }
    if file.is_empty() || file.split('/').any(|p| !ok_seg(p)) {
        return Err(bad("the file name is empty or has characters other than letters, digits, `.`, `_`, `-`, `/`"));
    }
    if !file.to_ascii_lowercase().ends_with(".gguf") {
        return Err(bad("the file must be a .gguf file"));
    }
    Ok(Spec::Hf {
        repo: repo.into(),
        file: file.into(),
    })
}

fn parse_url(u: &str) -> Result<Spec, StoreError> {
    let after = u.split_once("://").map(|x| x.1).unwrap_or("");
    let host = after.split('/').next().unwrap_or("");
    if host.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(StoreError::BadSource(
            u.into(),
            "not a well-formed URL (no host, or spaces in it)".into(),
        ));
    }
    let path = after.split(['?', '#']).next().unwrap_or("");
    if !path.to_ascii_lowercase().ends_with(".gguf") {
        return Err(StoreError::BadSource(
            u.into(),
            "the URL must point at a .gguf file".into(),
        ));
    }
    Ok(Spec::Url(u.into()))
}

/// A store name derived from a file name: `Llama-3.2-1B-Instruct-Q4_K_M.gguf`
/// → `llama-3.2-1b-instruct-q4_k_m`.
pub fn name_from_file(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = base
        .strip_suffix(".gguf")
        .or_else(|| base.strip_suffix(".GGUF"))
        .unwrap_or(base);
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        s.remove(0);
    }
    s.truncate(MAX_LEN);
    if s.is_empty() {
        "model".into()
    } else {
        s
    }
}

/// Levenshtein distance (small strings only).
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("Qwen2.5-Coder:0.5B").unwrap(),
            ("qwen2.5-coder".into(), Some("0.5b".into()))
        );
        assert_eq!(parse_name("smollm2").unwrap(), ("smollm2".into(), None));
        for bad in ["", ":x", "a:", "a:b:c", "a b", "-a", "a/b", "ä"] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specs() {
        assert_eq!(
            parse_spec("x/model.gguf").unwrap(),
            Spec::Path("x/model.gguf".into())
        );
        assert_eq!(parse_spec("m.gguf").unwrap(), Spec::Path("m.gguf".into()));
        assert_eq!(
            parse_spec(
                "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Llama-3.2-1B-Instruct-Q4_K_M.gguf"
            )
            .unwrap(),
            Spec::Hf {
                repo: "bartowski/Llama-3.2-1B-Instruct-GGUF".into(),
                file: "Llama-3.2-1B-Instruct-Q4_K_M.gguf".into()
            }
        );
        assert!(matches!(
            parse_spec("https://example.com/a/b.gguf?download=1").unwrap(),
            Spec::Url(_)
        ));
        for bad in [
            "hf.co/owner",
            "hf.co/owner/repo",
            "hf.co/o/r:file.bin",
            "hf.co/o/r/x:f.gguf",
            "https:///x.gguf",
            "https://h/x.txt",
            "hf.co/o/r:../x.gguf",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_spec("qwen2.5-coder").unwrap(),
            Spec::Name("qwen2.5-coder".into(), None)
        );
    }

    #[test]
    fn derived_names() {
        assert_eq!(
            name_from_file("Llama-3.2-1B-Instruct-Q4_K_M.gguf"),
            "llama-3.2-1b-instruct-q4_k_m"
        );
        assert_eq!(name_from_file("/tmp/My Model (v2).gguf"), "my-model--v2-");
        assert_eq!(distance("qwen2.5-codr", "qwen2.5-coder"), 1);
    }
}
