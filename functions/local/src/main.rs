//! `alertwire`: the embedded default on one machine. `serve` runs the API and the delivery worker over a
//! local SQLite store and queue; `keys create` adds API keys; `listen` is a small receiver for trying it;
//! `endpoints`, `deliveries`, `resend` and `dead-letters` operate a running instance through its API.

mod cli;
mod keys;
mod listen;
mod remote;
mod serve;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALERTWIRE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli::Cli::parse().command {
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Keys(cli::KeysCommand::Create(args)) => keys::create(args).await,
        cli::Command::Listen(args) => listen::run(args).await,
        cli::Command::Endpoints { remote, command } => remote::endpoints(remote, command).await,
        cli::Command::Deliveries { remote, command } => remote::deliveries(remote, command).await,
        cli::Command::Resend { remote, id } => remote::resend(remote, id).await,
        cli::Command::DeadLetters { remote, command } => {
            remote::dead_letters(remote, command).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("alertwire: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
