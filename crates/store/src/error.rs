//! The store's typed errors. Every message says what is wrong and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0:?} is not a valid model name: {1}; names look like `qwen2.5-coder:0.5b` (letters, digits, `.`, `_`, `-`, one optional `:tag`)")]
    BadName(String, String),
    #[error("{0:?} is not a valid source: {1}")]
    BadSource(String, String),
    #[error("unknown model {name:?}{}; `hearth list` shows the models you have, `hearth pull hf.co/OWNER/REPO:FILE.gguf` fetches any GGUF file", suggest(.suggestions))]
    UnknownModel {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("model {0} is not in the store; `hearth list` shows what you have{hint}", hint = pull_hint(.0))]
    NotInstalled(String),
    #[error("offline mode (--offline or HEARTH_OFFLINE=1) forbids the network, but {0} needs it; drop --offline / unset HEARTH_OFFLINE, or use a model you already have (`hearth list`)")]
    Offline(String),
    #[error("the model store {path} is not usable: {source}; set HEARTH_MODELS to a directory you can write")]
    StoreDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not enough free disk space in {path}: need {} more, only {} free; free some space or set HEARTH_MODELS to another disk", human_bytes(*.need), human_bytes(*.free))]
    DiskFull { path: PathBuf, need: u64, free: u64 },
    #[error("checksum mismatch for {what}: expected sha256 {expected}, got {actual}; the download was discarded (nothing was installed)")]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("download of {url} failed: {msg}")]
    Http { url: String, msg: String },
    #[error("pip source {what} failed: {msg}")]
    Pip { what: String, msg: String },
    #[error("every source of {name} failed:\n{}", .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    AllSourcesFailed { name: String, errors: Vec<String> },
    #[error("{path} is not a loadable GGUF model: {source}")]
    NotGguf {
        path: PathBuf,
        #[source]
        source: gguf::GgufError,
    },
    #[error("{path}: {msg}")]
    BadFile { path: PathBuf, msg: String },
    #[error(
        "manifest {path} is corrupt: {msg}; remove it with `hearth rm NAME` or re-import the model"
    )]
    CorruptManifest { path: PathBuf, msg: String },
    #[error(
        "model {0} already exists in the store; `hearth rm {0}` first, or pick another --name"
    )]
    Exists(String),
    #[error("Modelfile{}: {msg}", .line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Modelfile { line: Option<usize>, msg: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether the error means "this model file is missing or unusable" (the
    /// binary's exit code 3) rather than a network or system failure.
    pub fn is_model_problem(&self) -> bool {
        matches!(
            self,
            StoreError::UnknownModel { .. }
                | StoreError::NotInstalled(_)
                | StoreError::NotGguf { .. }
                | StoreError::BadFile { .. }
                | StoreError::CorruptManifest { .. }
        )
    }

    /// Whether the error is bad input (a Modelfile that cannot be used).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, StoreError::Modelfile { .. })
    }

    /// Whether the error is bad command-line input (a malformed name or URL).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            StoreError::BadName(..) | StoreError::BadSource(..) | StoreError::Exists(_)
        )
    }
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            s.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// `1.5 GB`, `93.8 MB`, `512 B` (decimal units, like download sizes are quoted).
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut x = n as f64;
    let mut i = 0;
    while x >= 1000.0 && i < U.len() - 1 {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", U[i])
    }
}

/// `, `hearth pull NAME` fetches it` for a name the catalog knows (and only
/// then: suggesting to pull a name nothing can fetch misleads).
fn pull_hint(name: &str) -> String {
    match crate::name::parse_name(name) {
        Ok((n, t)) if crate::catalog::find(&n, t.as_deref()).is_some() => {
            format!(", `hearth pull {name}` fetches it")
        }
        _ => String::new(),
    }
}
