use std::path::PathBuf;

/// What went wrong reading or writing a GGUF file. The `Display` text names
/// the file, says what is wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{path}: cannot open: {source} (check the path and that the file is readable)")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a GGUF file (it starts with {found:?}, a GGUF file starts with \"GGUF\"); pass a .gguf model file")]
    NotGguf { path: PathBuf, found: String },
    #[error("{path}: GGUF version {version} is not supported (hearth reads versions 2 and 3); convert the file with a current llama.cpp `convert_hf_to_gguf.py` or download a newer copy")]
    Version { path: PathBuf, version: u32 },
    #[error("{path}: the file is truncated or corrupt: {what} at byte {offset} needs {need} bytes but the file has {len}; download it again")]
    Truncated {
        path: PathBuf,
        what: String,
        offset: u64,
        need: u64,
        len: u64,
    },
    #[error("{path}: corrupt GGUF: {what}; the file is damaged or was not written by a GGUF writer, download it again")]
    Corrupt { path: PathBuf, what: String },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("writing GGUF: {0}")]
    Write(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
