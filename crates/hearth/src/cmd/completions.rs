//! `hearth completions SHELL`: print a completion script.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;

pub fn run(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "hearth", &mut std::io::stdout());
    Ok(())
}
