//! `hearth stop MODEL`: unload a model from a running `hearth serve` (as
//! `ollama stop`: `/api/generate` with `keep_alive: 0`; a model still
//! answering requests unloads as soon as they finish).

use clap::Args;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth stop qwen2.5-coder:0.5b\n  hearth ps            # what is loaded"
)]
pub struct StopArgs {
    /// The loaded model's name (as `hearth ps` lists it).
    pub model: String,
    /// Server address (default: $HEARTH_HOST, else 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
    /// Server port (default 11434).
    #[arg(long)]
    pub port: Option<u16>,
    /// API key (default: $HEARTH_API_KEY).
    #[arg(long)]
    pub api_key: Option<String>,
}

pub fn run(a: StopArgs) -> anyhow::Result<()> {
    let call = |method: &str, path: &str, body: Option<&str>| {
        super::ps::request(
            a.host.as_deref(),
            a.port,
            a.api_key.as_deref(),
            method,
            path,
            body,
        )
    };
    let ps = call("GET", "/api/ps", None)?;
    let loaded: Vec<String> = ps["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str().map(str::to_string))
        .collect();
    let name = loaded
        .iter()
        .find(|n| {
            **n == a.model
                || n.strip_suffix(":latest") == Some(a.model.as_str())
                || n.split(':').next() == Some(a.model.as_str())
        })
        .cloned();
    let Some(name) = name else {
        println!(
            "{} is not loaded (loaded: {})",
            a.model,
            if loaded.is_empty() {
                "none".to_string()
            } else {
                loaded.join(", ")
            }
        );
        return Ok(());
    };
    let body = serde_json::json!({"model": name, "keep_alive": 0}).to_string();
    let r = call("POST", "/api/generate", Some(&body))?;
    if r["done_reason"] == "unload" {
        println!("stopped {name}");
    } else {
        println!("{name} is answering requests; it unloads as soon as they finish");
    }
    Ok(())
}
