//! `hearth completions SHELL`: print a completion script.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use std::io::Write;

pub fn run(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    // (written whole: clap_complete panics when its writer fails, e.g. `| head`)
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "hearth", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}
