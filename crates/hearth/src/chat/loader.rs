//! The one place the chat turns a model name into a loaded model: a path to
//! a .gguf file, or a model store name (pulled first when absent), loaded
//! through the engine's entry point (`engine::load`).

use engine::{LoadOptions, Loaded};

/// Load the model called `name` with the context `ctx` asked for (else the
/// default), refusing it when it cannot fit in memory (and warning when it is
/// tight).
pub fn load(name: &str, ctx: Option<usize>) -> anyhow::Result<Loaded> {
    let opts = LoadOptions {
        ctx: ctx.into(),
        ..LoadOptions::default()
    };
    crate::cmd::load_model(name, &opts)
}
