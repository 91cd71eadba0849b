//! `hearth`: parse the command line, dispatch, map errors to exit codes.

mod chat;
mod cli;
mod cmd;
mod config;
mod exit;
mod paths;
mod style;

use clap::{CommandFactory, FromArgMatches};

fn main() -> std::process::ExitCode {
    let matches = cli::Cli::command().get_matches();
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if args.offline {
        std::env::set_var("HEARTH_OFFLINE", "1");
    }
    if let Err(e) = engine::check_simd_env() {
        eprintln!("error: {e}");
        return std::process::ExitCode::from(2);
    }
    let result = match args.command {
        cli::Command::Run(a) => {
            config::apply_run(a, matches.subcommand_matches("run")).and_then(cmd::run::run)
        }
        cli::Command::Chat(a) => chat::run(a),
        cli::Command::Batch(a) => cmd::batch::run(a),
        cli::Command::Completions(a) => cmd::completions::run(a),
        cli::Command::Tokenize(a) => cmd::tokenize::run(a),
        cli::Command::Embed(a) => cmd::embed::run(a),
        cli::Command::Bench(a) => cmd::bench::run(a),
        cli::Command::Fit(a) => cmd::fit::run(a),
        cli::Command::Doctor(a) => cmd::fit::doctor(a),
        cli::Command::Serve(a) => cmd::serve::run(a),
        cli::Command::Ps(a) => cmd::ps::run(a),
        cli::Command::Pull(a) => cmd::pull::run(a),
        cli::Command::Import(a) => cmd::import::run(a),
        cli::Command::Create(a) => cmd::create::run(a),
        cli::Command::Stop(a) => cmd::stop::run(a),
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
