//! Where `alertwire`'s log lines go and how they look: stderr, as text (coloured only on a terminal) or
//! as JSON lines, filtered by `ALERTWIRE_LOG` (`info` by default: state changes, not every attempt).
//!
//! Writing a line never fails the caller: a line stderr cannot take (its file is on a full disk, its pipe
//! is closed) is counted in `alertwire_log_lines_unwritten_total` and dropped. The subscriber's own report
//! of a failed write goes to stderr too, with `eprintln!`, which panics when stderr is what failed; a panic
//! in a request's task would drop its connection without an answer, so that report is off.

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

const DEFAULT_FILTER: &str = "info,tower_http=warn";

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("ALERTWIRE_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .log_internal_errors(false);
    match format {
        LogFormat::Text => lines.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => lines.json().with_ansi(false).init(),
    }
}

/// stderr, taking each formatted line whole; a line it cannot write is counted, not an error.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if std::io::stderr().lock().write_all(line).is_err() {
            alertwire_shared::metrics::log_line_unwritten();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
