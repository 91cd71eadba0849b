//! `hearth`: parse the command line, dispatch, map errors to exit codes.

mod cli;
mod cmd;
mod exit;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    if args.offline {
        std::env::set_var("HEARTH_OFFLINE", "1");
    }
    let result = match args.command {
        cli::Command::Run(a) => cmd::run::run(a),
        cli::Command::Tokenize(a) => cmd::tokenize::run(a),
        cli::Command::Bench(a) => cmd::bench::run(a),
        cli::Command::Pull(a) => cmd::pull::run(a),
        cli::Command::Import(a) => cmd::import::run(a),
        cli::Command::List(a) => cmd::list::run(a),
        cli::Command::Show(a) => cmd::show::run(a),
        cli::Command::Rm(a) => cmd::rm::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(exit::code_for(&e))
        }
    }
}
