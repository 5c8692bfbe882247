//! The command line: commands, flags and the environment variables that stand in for them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "alertwire",
    version,
    about = "Alert notifications delivered to custom endpoints"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the API and the delivery worker on the embedded store and queue.
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A small webhook receiver for trying alertwire: prints each request and checks its signature.
    Listen(ListenArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to serve the API on.
    #[arg(long, env = "ALERTWIRE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the database lives.
    #[arg(long, env = "ALERTWIRE_DATA_DIR", default_value = "./.alertwire")]
    pub data_dir: PathBuf,
    /// Address ranges endpoints may reach although they are private or loopback (e.g. 127.0.0.0/8).
    #[arg(
        long = "allow-target",
        env = "ALERTWIRE_ALLOW_TARGETS",
        value_delimiter = ','
    )]
    pub allow_targets: Vec<String>,
    /// Ports endpoints may use besides 80 and 443: a list, or `any`.
    #[arg(
        long = "allow-port",
        env = "ALERTWIRE_ALLOW_PORTS",
        value_delimiter = ','
    )]
    pub allow_ports: Vec<String>,
    /// Delays between attempts, e.g. `100ms,1s,1m`; the last repeats (default: 5s … 2h with jitter).
    #[arg(long, env = "ALERTWIRE_RETRY_DELAYS")]
    pub retry_delays: Option<String>,
    /// Seconds an attempt may take, connect to last byte.
    #[arg(long, env = "ALERTWIRE_HTTP_TIMEOUT", default_value_t = 10)]
    pub http_timeout: u64,
    /// How long every attempt to an endpoint may fail before it is disabled, e.g. `5d`, `12h`.
    #[arg(long, env = "ALERTWIRE_DISABLE_AFTER", default_value = "5d")]
    pub disable_after: String,
    /// Deliveries attempted at once.
    #[arg(long, env = "ALERTWIRE_CONCURRENCY", default_value_t = 32)]
    pub concurrency: usize,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant and print it (once: only its hash is stored).
    Create(KeysCreateArgs),
}

#[derive(Args)]
pub struct KeysCreateArgs {
    /// The tenant the key acts for; created with its first key.
    #[arg(long)]
    pub tenant: String,
    /// A note on what the key is for.
    #[arg(long, default_value = "")]
    pub label: String,
    #[arg(long, env = "ALERTWIRE_DATA_DIR", default_value = "./.alertwire")]
    pub data_dir: PathBuf,
}

#[derive(Args)]
pub struct ListenArgs {
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The endpoint's signing secret (`whsec_…`), to verify `webhook-signature`.
    #[arg(long, env = "ALERTWIRE_LISTEN_SECRET")]
    pub secret: Option<String>,
    /// The status code to answer with (e.g. 500 to watch retries and dead letters).
    #[arg(long, default_value_t = 200)]
    pub status: u16,
}
