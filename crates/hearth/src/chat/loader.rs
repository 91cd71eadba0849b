//! The one place the chat turns a model name into a loaded model: a path to
//! a .gguf file, or a model store name (pulled first when absent).

use engine::LoadedModel;
use std::path::PathBuf;

/// Where the model called `name` is.
pub fn resolve(name: &str) -> anyhow::Result<PathBuf> {
    crate::cmd::pull::resolve_model(name)
}

/// Load the model called `name`, refusing it when it cannot fit in memory
/// (and warning when it is tight).
pub fn load(name: &str) -> anyhow::Result<LoadedModel> {
    let (lm, warning) = LoadedModel::load_checked(resolve(name)?, None)?;
    if let Some(w) = warning {
        eprintln!("hearth: warning: {w}");
    }
    Ok(lm)
}
