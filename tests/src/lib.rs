//! Test support for alertwire's end-to-end tests: real HTTP receivers on 127.0.0.1 with scripted (or
//! seeded random) behaviour, a real Alertmanager, an in-process alertwire on the embedded store, the built
//! binary as a child process, a reader of its Prometheus metrics, and the accounting of chaos runs.

pub mod alertmanager;
pub mod api_client;
pub mod browser;
pub mod chaos_accounting;
pub mod chaos_receiver;
pub mod chaos_scenario;
pub mod cli_run;
pub mod mtls_server;
pub mod prometheus_text;
pub mod receiver;
pub mod scripted_dns;
pub mod serve_process;
pub mod server;
pub mod standard_webhooks;
pub mod token_server;
pub mod tripwire;

pub use api_client::ApiClient;
pub use prometheus_text::Exposition;
pub use receiver::{Behaviour, Received, Receiver};
pub use scripted_dns::ScriptedDns;
pub use server::TestServer;
pub use tripwire::Tripwire;

/// A plain HTTP client for tests (reqwest is built without a default TLS provider, so one is installed).
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("a test HTTP client")
}

/// The `alertwire` binary built beside this test (`cargo build --bin alertwire` first; the test command
/// does that).
pub fn alertwire_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test knows where it runs from");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let binary = dir.join(format!("alertwire{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build --bin alertwire` (tests/run.sh does)",
        binary.display()
    );
    binary
}
