pub mod batch;
pub mod bench;
pub mod browser;
pub mod completions;
pub mod create;
pub mod embed;
pub mod fit;
pub mod import;
pub mod list;
pub mod ps;
pub mod pull;
pub mod rm;
pub mod run;
pub mod serve;
pub mod show;
pub mod stop;
pub mod tokenize;

use crate::exit::InputError;
use std::io::Read;

/// The text argument, or all of standard input when it is absent.
pub fn text_or_stdin(arg: Option<String>, what: &str) -> anyhow::Result<String> {
    if let Some(t) = arg {
        return Ok(t);
    }
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| {
        InputError(format!(
            "the {what} on standard input is not valid UTF-8 (bad byte at offset {}); convert it to UTF-8 first (e.g. with iconv)",
            e.utf8_error().valid_up_to()
        ))
        .into()
    })
}

/// The prompt for `run`: the argument with piped standard input appended
/// after a blank line (when standard input is not a terminal and has data),
/// or standard input alone when there is no argument.
pub fn prompt_with_stdin(arg: Option<String>) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    match arg {
        None => text_or_stdin(None, "prompt"),
        Some(p) if std::io::stdin().is_terminal() => Ok(p),
        Some(p) => {
            let piped = text_or_stdin(None, "piped text")?;
            if piped.trim().is_empty() {
                Ok(p)
            } else {
                Ok(format!("{p}\n\n{}", piped.trim_end()))
            }
        }
    }
}

/// Load the model `name` (a path, or a store name: pulled first when it is
/// an absent catalog name) through the engine's one entry point
/// ([`engine::load`]: context, memory preflight, weights), printing its
/// warnings.
pub fn load_model(
    name: impl AsRef<std::ffi::OsStr>,
    opts: &engine::LoadOptions,
) -> anyhow::Result<engine::Loaded> {
    load_file(&pull::resolve_model(name)?, opts)
}

/// [`load_model`] for a model already found (`path`, a file).
pub fn load_file(
    path: &std::path::Path,
    opts: &engine::LoadOptions,
) -> anyhow::Result<engine::Loaded> {
    let loaded = engine::load(path, opts)?;
    for w in &loaded.warnings {
        eprintln!("hearth: warning: {w}");
    }
    Ok(loaded)
}

/// [`load_model`] for a command that generates text: an embedding model
/// (`bert`, `nomic-bert`) is refused at once, naming it (`hearth embed` is
/// what it is for).
pub fn load_generator(
    name: impl AsRef<std::ffi::OsStr>,
    opts: &engine::LoadOptions,
) -> anyhow::Result<engine::Loaded> {
    let loaded = load_model(name, opts)?;
    loaded.model.check_generates()?;
    Ok(loaded)
}
