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

/// Load the draft model `--draft` names (if any) and attach it to `lm` for
/// speculative decoding: refused, with the reason, when its vocabulary is
/// not `lm`'s. Its sessions get at most `n_ctx` positions (`sequences` of
/// them counted by its memory preflight); `mapped`: its file stays mapped
/// (`--mmap`), as the main model's.
pub fn attach_draft(
    lm: &mut engine::LoadedModel,
    draft: Option<&str>,
    n_ctx: usize,
    sequences: usize,
    mapped: bool,
) -> anyhow::Result<Option<std::sync::Arc<engine::DraftModel>>> {
    let Some(name) = draft else {
        return Ok(None);
    };
    let opts = engine::LoadOptions {
        ctx: engine::Ctx::AtMost(n_ctx),
        cache: engine::Cache::Sequences(sequences.max(1)),
        panels: None,
        mapped,
    };
    let d = std::sync::Arc::new(engine::DraftModel::new(load_generator(name, &opts)?.model));
    lm.set_draft(d.clone())
        .map_err(|e| crate::exit::UsageError(format!("--draft: {e}")))?;
    Ok(Some(d))
}

/// With speculative decoding on, unpack the weight panels once at load (when
/// they take at most a quarter of the memory available), as `serve` and
/// `batch` do: a verify step is a batched step of several tokens, which
/// otherwise unpacks every weight block once per step (measured on
/// qwen2.5-coder:0.5b: a 1.8x speed-up became 3.8x). Same results either way.
pub fn spec_panels(
    lm: &engine::LoadedModel,
    spec: &engine::Speculation,
    threads: usize,
) -> anyhow::Result<()> {
    if spec.is_on() {
        lm.build_panel_caches(threads, None)?;
    }
    Ok(())
}

/// The `--verbose` words on speculative decoding: tokens drafted and accepted.
pub fn spec_summary(s: &engine::SpecStats) -> String {
    format!(
        "speculative: {} of {} drafted tokens accepted ({:.0} %) in {} verify steps",
        s.accepted,
        s.drafted,
        100.0 * s.acceptance(),
        s.steps
    )
}

/// The grammar the output must follow, from `--json-schema FILE`,
/// `--grammar-file FILE` or `--regex REGEX` (at most one).
pub fn grammar_from_flags(
    json_schema: Option<&std::path::Path>,
    grammar_file: Option<&std::path::Path>,
    regex: Option<&str>,
) -> anyhow::Result<Option<(engine::Grammar, String)>> {
    let read = |flag: &str, p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| InputError(format!("cannot read {flag} '{}': {e}", p.display())))
    };
    let mut found = Vec::new();
    if let Some(p) = json_schema {
        let text = read("--json-schema", p)?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| InputError(format!("--json-schema '{}' is not JSON: {e}", p.display())))?;
        found.push((
            engine::Grammar::JsonSchema(v),
            format!("--json-schema '{}'", p.display()),
        ));
    }
    if let Some(p) = grammar_file {
        found.push((
            engine::Grammar::Gbnf(read("--grammar-file", p)?),
            format!("--grammar-file '{}'", p.display()),
        ));
    }
    if let Some(r) = regex {
        found.push((engine::Grammar::Regex(r.to_string()), "--regex".to_string()));
    }
    if found.len() > 1 {
        return Err(InputError(
            "--json-schema, --grammar-file and --regex each constrain the output; give only one"
                .into(),
        )
        .into());
    }
    Ok(found.pop())
}

/// `grammar` compiled for `lm` as the constraint of the answer
/// ([`engine::LoadedModel::answer_constraint`]: for a harmony (gpt-oss) chat,
/// `reasoning`'s format, a grammar of the whole output); an input error
/// naming the flag when it is malformed or asks for what cannot be enforced.
pub fn compile_grammar(
    lm: &engine::LoadedModel,
    grammar: Option<&(engine::Grammar, String)>,
    reasoning: Option<&engine::Reasoning>,
) -> anyhow::Result<Option<engine::Constraint>> {
    let Some((g, flag)) = grammar else {
        return Ok(None);
    };
    match lm.answer_constraint(g, reasoning) {
        Ok(c) => Ok(Some(c)),
        Err(engine::EngineError::Constraint(engine::ConstraintError::Invalid(m))) => {
            Err(InputError(format!("{flag}: {m}")).into())
        }
        Err(e) => Err(e.into()),
    }
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
