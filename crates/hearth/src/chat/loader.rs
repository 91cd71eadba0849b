//! The one place the chat turns a model name into a loaded model. Today a
//! name is a path to a .gguf file; a model store can resolve names here.

use engine::LoadedModel;
use std::path::PathBuf;

/// Where the model called `name` is.
pub fn resolve(name: &str) -> anyhow::Result<PathBuf> {
    Ok(PathBuf::from(name))
}

/// Load the model called `name`.
pub fn load(name: &str) -> anyhow::Result<LoadedModel> {
    Ok(LoadedModel::load(resolve(name)?)?)
}
