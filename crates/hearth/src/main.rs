//! `hearth`: parse the command line, dispatch, map errors to exit codes.

mod chat;
mod cli;
mod cmd;
mod config;
mod escape;
mod exit;
mod paths;
mod style;

use clap::{CommandFactory, FromArgMatches};

/// Every command ends quietly with exit 0 when the reader of its output
/// goes away (`hearth fit … | head -1`), as the README promises: Rust's
/// `print!` panics on a broken pipe, so that one panic ends the process
/// instead of printing a panic message and exiting 101.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> std::process::ExitCode {
    quiet_on_broken_pipe();
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
        // a write to standard output whose reader left: done, quietly
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", message(&e));
            std::process::ExitCode::from(exit::code_for(&e))
        }
    }
}

/// The error and its causes, each said once: a cause already part of the
/// message (errors that quote their source) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}
