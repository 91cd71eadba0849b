//! `config.toml` in the config directory: defaults for `run` and `chat`.
//! Flags given on the command line override it. Every key is optional:
//!
//! ```toml
//! model = "/models/qwen2.5-coder-0.5b-instruct.gguf"   # chat's default model
//! system = "You are terse."
//! threads = 4
//! ctx_size = 4096
//! max_tokens = -1
//! temperature = 0.7
//! top_k = 40
//! top_p = 0.95
//! min_p = 0.05
//! repeat_penalty = 1.0
//! seed = 42
//! ```

use crate::cli::RunArgs;
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub model: Option<String>,
    pub system: Option<String>,
    pub threads: Option<usize>,
    pub ctx_size: Option<usize>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub seed: Option<u64>,
}

/// A config file that cannot be used (exit code 2, like a bad flag).
#[derive(Debug, thiserror::Error)]
#[error("config file {}: {msg}", path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub msg: String,
}

/// Read the config file; a missing file is an empty config.
pub fn load() -> Result<Config, ConfigError> {
    load_from(&crate::paths::config_file())
}

pub fn load_from(path: &Path) -> Result<Config, ConfigError> {
    let err = |msg: String| ConfigError {
        path: path.to_path_buf(),
        msg,
    };
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8(b).map_err(|_| err("not valid UTF-8".into()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(err(format!("cannot read it: {e}"))),
    };
    let cfg: Config = toml::from_str(&text).map_err(|e| err(describe_toml(&e, &text)))?;
    // Range checks with the same rules as the flags.
    let mut p = engine::SamplingParams::default();
    if let Some(v) = cfg.temperature {
        p.temperature = v
    }
    if let Some(v) = cfg.top_k {
        p.top_k = v
    }
    if let Some(v) = cfg.top_p {
        p.top_p = v
    }
    if let Some(v) = cfg.min_p {
        p.min_p = v
    }
    if let Some(v) = cfg.repeat_penalty {
        p.repeat_penalty = v
    }
    if let Err(engine::SamplerError::InvalidParam {
        field,
        value,
        allowed,
    }) = p.validate()
    {
        return Err(err(format!(
            "{}key {field} = {value}: must be {allowed}",
            at_line(&text, field)
        )));
    }
    if cfg.ctx_size == Some(0) {
        return Err(err(format!(
            "{}key ctx_size: must be at least 1",
            at_line(&text, "ctx_size")
        )));
    }
    if cfg.threads == Some(0) {
        return Err(err(format!(
            "{}key threads: must be at least 1",
            at_line(&text, "threads")
        )));
    }
    if let Some(n) = cfg.max_tokens.filter(|&n| n < -1) {
        return Err(err(format!(
            "{}key max_tokens = {n}: must be -1 (no limit) or 0 or more",
            at_line(&text, "max_tokens")
        )));
    }
    Ok(cfg)
}

/// `"line N: "` for the line that sets `key` (the last one, as TOML allows
/// a key once), or nothing when it cannot be found.
fn at_line(text: &str, key: &str) -> String {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .last()
        .map(|(i, _)| format!("line {}: ", i + 1))
        .unwrap_or_default()
}

/// toml's message plus the line, on one line.
fn describe_toml(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

fn from_flag(m: Option<&ArgMatches>, id: &str) -> bool {
    m.and_then(|m| m.value_source(id))
        .is_some_and(|s| s == ValueSource::CommandLine)
}

/// Fill `run`'s settings that were not given as flags from the config file.
pub fn apply_run(mut a: RunArgs, m: Option<&ArgMatches>) -> anyhow::Result<RunArgs> {
    let c = load()?;
    for id in [
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "repeat_penalty",
        "max_tokens",
        "seed",
        "ctx_size",
        "system",
        "stop",
    ] {
        if from_flag(m, id) {
            a.given.push(id);
        }
    }
    macro_rules! set {
        ($field:ident, $id:literal) => {
            if let Some(v) = c.$field.clone() {
                if !from_flag(m, $id) {
                    a.$field = v.into();
                }
            }
        };
    }
    set!(temperature, "temperature");
    set!(top_k, "top_k");
    set!(top_p, "top_p");
    set!(min_p, "min_p");
    set!(repeat_penalty, "repeat_penalty");
    set!(max_tokens, "max_tokens");
    if a.seed.is_none() {
        a.seed = c.seed
    }
    if a.threads.is_none() {
        a.threads = c.threads
    }
    if a.ctx_size.is_none() {
        a.ctx_size = c.ctx_size
    }
    if a.system.is_none() {
        a.system = c.system.clone()
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str) -> Result<Config, ConfigError> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.toml");
        std::fs::write(&p, s).unwrap();
        load_from(&p)
    }

    #[test]
    fn good_and_bad() {
        let c = load_str("temperature = 0.2\nthreads = 2\n").unwrap();
        assert_eq!(c.temperature, Some(0.2));
        let e = load_str("temprature = 0.2\n").unwrap_err().to_string();
        assert!(
            e.contains("config.toml") && e.contains("temprature") && e.contains("line 1"),
            "{e}"
        );
        let e = load_str("top_p = 3.0\n").unwrap_err().to_string();
        assert!(e.contains("top_p") && e.contains("0.0..=1.0"), "{e}");
        let e = load_str("threads = \"many\"\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        // a value out of range names its line too
        let e = load_str("seed = 1\n\ntop_p = 9\n").unwrap_err().to_string();
        assert!(e.contains("line 3: key top_p = 9"), "{e}");
        let e = load_str("max_tokens = -5").unwrap_err().to_string();
        assert!(e.contains("line 1: key max_tokens = -5"), "{e}");
        let e = load_str("# c\nthreads = 0").unwrap_err().to_string();
        assert!(e.contains("line 2: key threads"), "{e}");
        assert!(load_from(Path::new("/nonexistent/config.toml"))
            .unwrap()
            .model
            .is_none());
    }
}
