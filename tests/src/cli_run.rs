//! One run of the real `alertwire` binary as a command-line tool: its exit code and its output, read off
//! the async runtime.

use std::process::Command;

use crate::alertwire_binary;

pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `alertwire <args>` with `env` added and `ALERTWIRE_LOG` removed, until it exits.
pub async fn run_alertwire(args: &[&str], env: &[(&str, &str)]) -> CliRun {
    let mut command = Command::new(alertwire_binary());
    command
        .args(args)
        .envs(env.iter().copied())
        .env_remove("ALERTWIRE_LOG");
    let output = tokio::task::spawn_blocking(move || command.output().expect("the CLI runs"))
        .await
        .expect("the CLI finished");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
