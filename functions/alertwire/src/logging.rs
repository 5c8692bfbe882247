//! Where `alertwire`'s log lines go and how they look: stderr, as text (coloured only on a terminal) or
//! as JSON lines, filtered by `ALERTWIRE_LOG` (`info` by default: state changes, not every attempt).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

const DEFAULT_FILTER: &str = "info,tower_http=warn";

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("ALERTWIRE_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => lines.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => lines.json().with_ansi(false).init(),
    }
}
