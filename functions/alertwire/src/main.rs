//! `alertwire`: the embedded default on one machine. `serve` runs the API and the delivery worker over a
//! local SQLite store and queue; `keys` creates, lists and revokes API keys; `backup` and `restore` copy
//! the database out and back; `listen` is a small receiver for trying it;
//! `endpoints`, `deliveries`, `resend` and `dead-letters` operate a running instance through its API;
//! `health` asks one whether it is healthy.

mod backup;
mod cli;
mod health;
mod keys;
mod listen;
mod logging;
mod remote;
mod serve;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Keys(cli::KeysCommand::Create(args)) => keys::create(args).await,
        cli::Command::Keys(cli::KeysCommand::List(args)) => keys::list(args).await,
        cli::Command::Keys(cli::KeysCommand::Revoke(args)) => keys::revoke(args).await,
        cli::Command::Backup(args) => backup::backup(args).await,
        cli::Command::Restore(args) => backup::restore(args).await,
        cli::Command::Listen(args) => listen::run(args).await,
        cli::Command::Health { url } => health::check(url).await,
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
