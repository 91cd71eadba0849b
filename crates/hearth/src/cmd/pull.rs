//! `hearth pull NAME`, and the name-or-path resolution every command uses.

use clap::Args;
use std::ffi::OsStr;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth pull qwen2.5-coder:0.5b\n  hearth pull smollm2\n  hearth pull hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Llama-3.2-1B-Instruct-Q4_K_M.gguf --name llama3.2:1b-q4\n\nKnown models (* = the tag a bare name means):\n  qwen2.5-coder:0.5b*  smollm2:135m*  gemma3:270m* 1b 4b  llama3.2:1b* 3b\n  qwen2.5:1.5b* 3b 7b  mistral:7b*  phi3:mini*  qwen3:0.6b* 1.7b 4b 8b 30b-a3b\n  llama3.1:8b*  phi4-mini:3.8b*  smollm3:3b*  granite3.3:2b* 8b  ministral:8b*\n  gemma4:e2b e4b* 26b 31b  qwen3.5:0.8b 2b 4b* 9b 27b 35b-a3b  qwen3-coder:30b*  gpt-oss:20b*\nEmbedding models (hearth embed, /v1/embeddings, /api/embed):\n  nomic-embed-text:v1.5*  all-minilm:22m*"
)]
pub struct PullArgs {
    /// A catalog name (`qwen2.5-coder:0.5b`), `hf.co/OWNER/REPO:FILE.gguf`, or an https URL of a .gguf file.
    pub model: String,
    /// Store the model under this name (`name` or `name:tag`).
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(a: PullArgs) -> anyhow::Result<()> {
    let st = store::Store::from_env();
    let m = store::pull(
        &st,
        &a.model,
        a.name.as_deref(),
        &mut store::Progress::auto(),
    )?;
    println!(
        "{}  {}  {}  sha256 {}",
        m.reference(),
        store::human_bytes(m.size),
        st.gguf_path(&store::name::ModelRef {
            name: m.name.clone(),
            tag: m.tag.clone()
        })
        .display(),
        m.sha256
    );
    Ok(())
}

/// A model name or a path → the file to load (an absent catalog model is
/// pulled first, after saying so; a present one never touches the network).
pub fn resolve_model(spec: impl AsRef<OsStr>) -> anyhow::Result<PathBuf> {
    match spec.as_ref().to_str() {
        Some(s) => Ok(store::resolve(s)?),
        None => Ok(PathBuf::from(spec.as_ref())),
    }
}

/// `hearth run [MODEL] [PROMPT]`: with one positional that is not a model
/// (no such file, store name or catalog name), it is the prompt and the
/// default model (`default`: config.toml's `model`, else qwen2.5-coder:0.5b) is used.
pub fn split_model_prompt(
    model: Option<String>,
    prompt: &mut Option<String>,
    default: &str,
) -> String {
    match model {
        None => default.to_string(),
        Some(m) if prompt.is_none() && !store::Store::from_env().is_model_spec(&m) => {
            *prompt = Some(m);
            default.to_string()
        }
        Some(m) => m,
    }
}
