//! `hearth create NAME [-f Modelfile]`: a model of your own from a Modelfile
//! (Ollama's format; TEMPLATE in Jinja): a store entry that links the FROM
//! model's GGUF file (no copy) and keeps the settings in its manifest.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth create mario -f ./Modelfile\n  hearth create coder:terse            # reads ./Modelfile\n\nA Modelfile:\n  FROM qwen2.5-coder:0.5b              # a store model, or a .gguf path (relative to the Modelfile)\n  SYSTEM \"\"\"You are Mario from Super Mario Bros.\"\"\"\n  PARAMETER temperature 0.3            # also top_k top_p min_p repeat_penalty repeat_last_n\n  PARAMETER num_ctx 2048               #   presence_penalty frequency_penalty seed num_predict stop\n  PARAMETER stop \"<|im_end|>\"\n  TEMPLATE \"\"\"{% for m in messages %}...{% endfor %}\"\"\"   # Jinja, like a GGUF's chat template\n  MESSAGE user Is Toronto in Canada?\n  MESSAGE assistant yes\n  LICENSE \"\"\"MIT\"\"\"\n\nThe settings apply whenever the model is used (run, chat, serve); flags and request fields override them.\n`hearth show --modelfile NAME` prints a model's Modelfile; `hearth create` again replaces a created model."
)]
pub struct CreateArgs {
    /// The new model's name (`name` or `name:tag`; tag `latest` when absent).
    pub name: String,
    /// The Modelfile (default: ./Modelfile).
    #[arg(short = 'f', long = "file", default_value = "Modelfile")]
    pub file: PathBuf,
}

pub fn run(a: CreateArgs) -> anyhow::Result<()> {
    let text = std::fs::read(&a.file).map_err(|e| {
        crate::exit::InputError(format!(
            "cannot read the Modelfile {}: {e}; give its path with -f",
            a.file.display()
        ))
    })?;
    let text = String::from_utf8(text)
        .map_err(|_| crate::exit::InputError(format!("{} is not UTF-8 text", a.file.display())))?;
    let mf = store::modelfile::Modelfile::parse(&text)?;
    let dir = a
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let st = store::Store::from_env();
    let m = store::create(
        &st,
        &a.name,
        &mf,
        &dir,
        &server::defaults::check_modelfile,
        &mut store::Progress::auto(),
    )?;
    println!(
        "{}  from {}  {} {} {}",
        m.reference(),
        mf.from,
        m.architecture,
        m.parameters,
        m.quantization
    );
    Ok(())
}
