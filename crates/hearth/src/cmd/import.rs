//! `hearth import FILE [--name N]`: a GGUF file from elsewhere into the store.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth import ~/Downloads/Llama-3.2-1B-Instruct-Q4_K_M.gguf\n  hearth import model.gguf --name mymodel:q4\n\nThe file is validated, then hard-linked into the store (copied when it is on another disk); your file is never moved or changed."
)]
pub struct ImportArgs {
    /// The .gguf file.
    pub file: PathBuf,
    /// Name in the store (`name` or `name:tag`; default: from the file name, tag `latest`).
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(a: ImportArgs) -> anyhow::Result<()> {
    let st = store::Store::from_env();
    let m = store::import(
        &st,
        &a.file,
        a.name.as_deref(),
        &mut store::Progress::auto(),
    )?;
    println!(
        "{}  {}  {} {} {}",
        m.reference(),
        store::human_bytes(m.size),
        m.architecture,
        m.parameters,
        m.quantization
    );
    Ok(())
}
