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
    /// How log lines are written to stderr: `text` for people, `json` (one object a line) for log
    /// shippers. Colours only when stderr is a terminal. Levels: `ALERTWIRE_LOG` (default `info`; `debug`
    /// adds a line per attempt).
    #[arg(long, env = "ALERTWIRE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Ask a running alertwire whether it is healthy (`GET /healthz`): exit 0 if it is, 1 if not. For a
    /// container's health check, where there is no curl.
    Health {
        /// The health URL; by default `/healthz` on `ALERTWIRE_LISTEN` (on 127.0.0.1 when it listens on
        /// every address), else on 127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// Endpoints of a running alertwire: list, show, create, test, delete.
    Endpoints {
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(subcommand)]
        command: EndpointsCommand,
    },
    /// Deliveries of a running alertwire: list with filters, show one with every attempt.
    Deliveries {
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(subcommand)]
        command: DeliveriesCommand,
    },
    /// Resend a delivery now (a new run of up to 10 attempts, same webhook-id).
    Resend {
        #[command(flatten)]
        remote: RemoteArgs,
        /// The delivery's id (`dl_…`).
        id: String,
    },
    /// Copy the database of a data directory into a new file, while `serve` runs there.
    Backup(BackupArgs),
    /// Write a backup over the database of a data directory; refused while `serve` runs there.
    Restore(RestoreArgs),
    /// Dead letters of a running alertwire: list them, replay them.
    #[command(name = "dead-letters")]
    DeadLetters {
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(subcommand)]
        command: DeadLettersCommand,
    },
}

/// Where the running alertwire is and how to call it.
#[derive(Args, Clone)]
pub struct RemoteArgs {
    /// The API's base URL: `alertwire serve`'s address, or the API Gateway URL of the AWS stack.
    #[arg(
        long = "api-url",
        env = "ALERTWIRE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub api_url: String,
    /// An API key of the tenant to act for (required).
    #[arg(long, env = "ALERTWIRE_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Print the API's JSON answers instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30, global = true)]
    pub timeout: u64,
}

#[derive(Subcommand)]
pub enum EndpointsCommand {
    /// List endpoints with their state (enabled, failure streak, why disabled).
    List,
    /// Show one endpoint as JSON (secrets masked).
    Show { id: String },
    /// Create an endpoint from a JSON file (as `POST /v1/endpoints` takes it) and/or flags.
    Create(EndpointCreateArgs),
    /// "Run the test": send a sample alert now and show the request and the endpoint's answer.
    Test { id: String },
    /// Delete an endpoint.
    Delete { id: String },
}

#[derive(Args)]
pub struct EndpointCreateArgs {
    /// A JSON file with the endpoint (`-` reads stdin); the flags below override its fields.
    #[arg(long = "from-file")]
    pub from_file: Option<PathBuf>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    /// POST (default), PUT, PATCH, GET or DELETE.
    #[arg(long)]
    pub method: Option<String>,
    /// `generate` for a new signing secret, or a `whsec_…` value.
    #[arg(long)]
    pub secret: Option<String>,
    /// Start from a preset's method, headers and body (e.g. slack, teams, pagerduty).
    #[arg(long)]
    pub preset: Option<String>,
}

#[derive(Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first.
    List(DeliveryFilterArgs),
    /// Show one delivery with every attempt: status code, error class, answer, duration.
    Show { id: String },
}

#[derive(Args, Default)]
pub struct DeliveryFilterArgs {
    /// pending, delivered, dead or filtered.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this endpoint's deliveries.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Only this alert's deliveries.
    #[arg(long)]
    pub alert: Option<String>,
    /// The page after this delivery id (the `--before` printed under a full page).
    #[arg(long)]
    pub before: Option<String>,
    /// At most this many (1 to 500; 50 by default).
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Subcommand)]
pub enum DeadLettersCommand {
    /// List dead letters, newest first.
    List {
        /// Only this endpoint's dead letters.
        #[arg(long)]
        endpoint: Option<String>,
        /// At most this many (1 to 500; 50 by default).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Replay dead letters: each gets a new run of up to 10 attempts, with its webhook-id kept.
    Replay(ReplayArgs),
}

#[derive(Args)]
pub struct ReplayArgs {
    /// Only this endpoint's dead letters (default: all of them).
    #[arg(long, conflicts_with = "ids")]
    pub endpoint: Option<String>,
    /// Only these deliveries (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub ids: Vec<String>,
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
    /// Connection failures, timeouts and 5XX answers in a row that open an endpoint's circuit.
    #[arg(long, env = "ALERTWIRE_BREAKER_FAILURES", default_value = "5")]
    pub breaker_failures: String,
    /// How long an open circuit waits before its first probe, e.g. `10s`; it grows after failed probes, up
    /// to 60 times this.
    #[arg(long, env = "ALERTWIRE_BREAKER_COOLDOWN", default_value = "10s")]
    pub breaker_cooldown: String,
    /// How long a delivery may wait for an open circuit before it goes dead, e.g. `24h`.
    #[arg(long, env = "ALERTWIRE_BREAKER_HOLD_LIMIT", default_value = "24h")]
    pub breaker_hold_limit: String,
    /// How long finished alerts, deliveries and attempts are kept, e.g. `90d`, `12h` or seconds; then
    /// they are deleted. Pending deliveries are never deleted.
    #[arg(long, env = "ALERTWIRE_RETENTION", default_value = "30d")]
    pub retention: String,
    /// How long a dead letter nobody replays is kept, e.g. `90d`; without it, until it is replayed.
    #[arg(long, env = "ALERTWIRE_DEAD_LETTER_RETENTION")]
    pub dead_letter_retention: Option<String>,
    /// Which certificate authorities HTTPS endpoints are checked against: the machine's store (`system`),
    /// or the Mozilla set compiled into the binary (`compiled-in`, for a container without a store).
    #[arg(long, env = "ALERTWIRE_TRUSTED_ROOTS", value_enum, default_value_t = Roots::System)]
    pub trusted_roots: Roots,
    /// What an accepted alert survives: `machine` (each commit synced to the disk before it is answered:
    /// a power loss loses nothing) or `process` (synced at checkpoints: a crash of alertwire loses
    /// nothing, a crash of the machine may lose the last second or so of accepted alerts; much faster).
    #[arg(long, env = "ALERTWIRE_DURABILITY", value_enum, default_value_t = DurabilityArg::Machine)]
    pub durability: DurabilityArg,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Roots {
    System,
    CompiledIn,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityArg {
    Machine,
    Process,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant and print it (once: only its hash is stored).
    Create(KeysCreateArgs),
    /// List a tenant's API keys: id, creation time and label (never the key).
    List(KeysListArgs),
    /// Revoke a tenant's API key by id: a running server refuses it within 5 seconds (the time it keeps a
    /// key it found). A tenant's last key is kept.
    Revoke(KeysRevokeArgs),
}

#[derive(Args)]
pub struct KeysListArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long, env = "ALERTWIRE_DATA_DIR", default_value = "./.alertwire")]
    pub data_dir: PathBuf,
}

#[derive(Args)]
pub struct KeysRevokeArgs {
    /// The key's id (`key_…`), as `keys list` or `GET /v1/keys` shows it.
    pub id: String,
    #[arg(long)]
    pub tenant: String,
    #[arg(long, env = "ALERTWIRE_DATA_DIR", default_value = "./.alertwire")]
    pub data_dir: PathBuf,
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
pub struct BackupArgs {
    /// The new file to write (never overwritten).
    #[arg(long)]
    pub to: PathBuf,
    #[arg(long, env = "ALERTWIRE_DATA_DIR", default_value = "./.alertwire")]
    pub data_dir: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file made by `alertwire backup`.
    #[arg(long)]
    pub from: PathBuf,
    #[arg(long, env = "ALERTWIRE_DATA_DIR", default_value = "./.alertwire")]
    pub data_dir: PathBuf,
    /// The `secrets.key` of the data directory the backup was taken from, when restoring elsewhere.
    #[arg(long)]
    pub secrets_key: Option<PathBuf>,
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
