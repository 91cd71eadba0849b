//! The one place the chat turns a model name into a loaded model: a path to
//! a .gguf file, or a model store name (pulled first when absent), with a
//! created model's settings (its Modelfile's) beside it, loaded through the
//! engine's entry point (`engine::load`).

use engine::{ChatTemplate, LoadOptions, Loaded, LoadedModel};
use std::path::{Path, PathBuf};
use store::modelfile::ModelDefaults;

/// Where the model called `name` is, and its own settings (none unless it
/// was made by `hearth create`).
pub fn find(name: &str) -> anyhow::Result<(PathBuf, ModelDefaults)> {
    let path = crate::cmd::pull::resolve_model(name)?;
    let d = store::defaults_of(&path).unwrap_or_default();
    Ok((path, d))
}

/// Load the model file at `path` with the context `ctx` asked for (else the
/// default), refusing it when it cannot fit in memory (and warning when it is
/// tight), with the template of its settings `d` in place; `mapped`: keep
/// the file mapped (`--mmap`).
pub fn load(
    path: &Path,
    d: &ModelDefaults,
    ctx: Option<usize>,
    mapped: bool,
) -> anyhow::Result<Loaded> {
    let opts = LoadOptions {
        ctx: ctx.into(),
        mapped,
        ..LoadOptions::default()
    };
    // an embedding model is refused at once (`hearth embed` is its command)
    let mut loaded = crate::cmd::load_file(path, &opts)?;
    loaded.model.check_generates()?;
    set_template(&mut loaded.model, d)?;
    Ok(loaded)
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
