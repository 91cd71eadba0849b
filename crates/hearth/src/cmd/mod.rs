pub mod batch;
pub mod bench;
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

/// The context to run with: `asked` (`--ctx-size`), checked against the
/// model's trained context, else the trained context capped to what fits
/// (`engine::fit::default_ctx`).
pub fn context_for(file: &gguf::GgufFile, asked: Option<usize>) -> anyhow::Result<usize> {
    let n_vocab = file
        .tensor("token_embd.weight")
        .and_then(|t| t.dims.get(1).copied())
        .unwrap_or(1) as usize;
    let n_ctx_train = model::Config::from_gguf(file, n_vocab)?.n_ctx_train;
    match asked {
        Some(0) => Err(InputError("--ctx-size must be at least 1".into()).into()),
        Some(n) if n > n_ctx_train => Err(InputError(format!(
            "--ctx-size {n} is larger than this model's trained context of {n_ctx_train} tokens; use at most {n_ctx_train}"
        ))
        .into()),
        Some(n) => Ok(n),
        None => Ok(engine::fit::default_ctx(file)?),
    }
}
