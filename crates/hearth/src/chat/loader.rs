//! The one place the chat turns a model name into a loaded model: a path to
//! a .gguf file, or a model store name (pulled first when absent), with a
//! created model's settings (its Modelfile's) beside it.

use engine::{ChatTemplate, LoadedModel};
use std::path::PathBuf;
use store::modelfile::ModelDefaults;

/// Where the model called `name` is.
pub fn resolve(name: &str) -> anyhow::Result<PathBuf> {
    crate::cmd::pull::resolve_model(name)
}

/// Load the model called `name`, refusing it when it cannot fit in memory
/// (and warning when it is tight), with its own settings (none unless it
/// was made by `hearth create`), its template already in place.
pub fn load(name: &str) -> anyhow::Result<(LoadedModel, ModelDefaults)> {
    let path = resolve(name)?;
    let d = store::defaults_of(&path).unwrap_or_default();
    let (mut lm, warning) = LoadedModel::load_checked(&path, None)?;
    if let Some(w) = warning {
        eprintln!("hearth: warning: {w}");
    }
    set_template(&mut lm, &d)?;
    Ok((lm, d))
}

/// A created model's `TEMPLATE` in place of the file's chat template.
pub fn set_template(lm: &mut LoadedModel, d: &ModelDefaults) -> anyhow::Result<()> {
    if let Some(src) = &d.template {
        lm.template = Ok(ChatTemplate::new(
            "the Modelfile's TEMPLATE",
            src,
            false,
            &lm.tokenizer,
        )?);
    }
    Ok(())
}
