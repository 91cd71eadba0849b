//! `hearth list`: the models in the store.

use clap::Args;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  hearth list\n  hearth list --json")]
pub struct ListArgs {
    /// Print the manifests as a JSON array.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ListArgs) -> anyhow::Result<()> {
    let st = store::Store::from_env();
    let (models, problems) = st.list();
    for p in &problems {
        eprintln!("hearth: warning: {p}");
    }
    if a.json {
        println!("{}", serde_json::to_string(&models)?);
        return Ok(());
    }
    if models.is_empty() {
        eprintln!("no models in {} yet; `hearth pull qwen2.5-coder:0.5b` fetches one, `hearth import FILE.gguf` adds one you have", st.root.display());
        return Ok(());
    }
    println!(
        "{:<36} {:>10} {:>8} {:<8} {:<20}",
        "NAME", "SIZE", "PARAMS", "QUANT", "MODIFIED"
    );
    for m in &models {
        println!(
            "{:<36} {:>10} {:>8} {:<8} {:<20}",
            m.reference(),
            store::human_bytes(m.size),
            m.parameters,
            m.quantization,
            m.added.replace('T', " ").trim_end_matches('Z')
        );
    }
    Ok(())
}
