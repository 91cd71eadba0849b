//! `hearth`: parse the command line, dispatch, map errors to exit codes.

mod cli;
mod cmd;
mod exit;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Run(a) => cmd::run::run(a),
        cli::Command::Tokenize(a) => cmd::tokenize::run(a),
        cli::Command::Bench(a) => cmd::bench::run(a),
        cli::Command::Serve(a) => cmd::serve::run(a),
        cli::Command::Ps(a) => cmd::ps::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(exit::code_for(&e))
        }
    }
}
