//! `alertwire serve`: config from flags and environment, the first API key, then the local server until
//! Ctrl-C or SIGTERM.

use std::time::Duration;

use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_shared::embedded::Durability;
use alertwire_shared::embedded::server::{self, ServerConfig};
use alertwire_shared::endpoint::circuit::CircuitPolicy;
use alertwire_shared::endpoint::health::HealthPolicy;
use alertwire_shared::ids::TenantId;
use alertwire_shared::outbound::target_policy::{PortAllowance, TargetPolicy};
use alertwire_shared::outbound::trusted_roots::TrustedRoots;
use alertwire_shared::ports::store::ApiKeyStore;
use alertwire_shared::retention::Retention;
use alertwire_shared::service::{generate_api_key, hash_api_key};

use crate::cli::{DurabilityArg, Roots, ServeArgs};

/// The tenant of `ALERTWIRE_API_KEY` and of the key generated at first start.
const DEFAULT_TENANT: &str = "default";

pub async fn run(args: ServeArgs) -> Result<(), String> {
    let config = ServerConfig {
        data_dir: Some(args.data_dir.clone()),
        listen: args.listen,
        policy: policy(&args)?,
        retry: match &args.retry_delays {
            Some(text) => RetryPolicy::parse(text).map_err(|e| e.to_string())?,
            None => RetryPolicy::default(),
        },
        http_timeout: Duration::from_secs(args.http_timeout.max(1)),
        concurrency: args.concurrency,
        health: HealthPolicy::parse(&args.disable_after).map_err(|e| e.to_string())?,
        circuit: circuit_policy(&args)?,
        retention: Retention::parse(Some(&args.retention), args.dead_letter_retention.as_deref())
            .map_err(|e| e.to_string())?,
        trusted_roots: match args.trusted_roots {
            Roots::System => TrustedRoots::System,
            Roots::CompiledIn => TrustedRoots::CompiledIn,
        },
        durability: match args.durability {
            DurabilityArg::Machine => Durability::Machine,
            DurabilityArg::Process => Durability::Process,
        },
    };
    let database = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    // Before the API answers, so a client that sees it up can use the key at once.
    first_key(&database).await?;
    let server = server::start_on_database(database, config)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(addr = %server.addr, data_dir = %args.data_dir.display(), "alertwire is serving");
    shutdown_signal().await;
    tracing::info!("stopping: finishing attempts in flight");
    server.stop().await;
    Ok(())
}

fn circuit_policy(args: &ServeArgs) -> Result<CircuitPolicy, String> {
    CircuitPolicy::default()
        .with_failures(&args.breaker_failures)
        .map_err(|e| format!("--breaker-failures: {e}"))?
        .with_cooldown(&args.breaker_cooldown)
        .map_err(|e| format!("--breaker-cooldown: {e}"))?
        .with_hold_limit(&args.breaker_hold_limit)
        .map_err(|e| format!("--breaker-hold-limit: {e}"))
}

fn policy(args: &ServeArgs) -> Result<TargetPolicy, String> {
    let mut policy = TargetPolicy::strict();
    let networks = args.allow_targets.join(",");
    if !networks.trim().is_empty() {
        let nets =
            TargetPolicy::parse_networks(&networks).map_err(|e| format!("--allow-target: {e}"))?;
        policy = policy.with_allowed_networks(nets);
    }
    let ports = args.allow_ports.join(",");
    if !ports.trim().is_empty() {
        let allowance =
            TargetPolicy::parse_ports(&ports).map_err(|e| format!("--allow-port: {e}"))?;
        policy = policy.with_allowed_ports(allowance);
    }
    if matches!(policy.allowed_ports(), PortAllowance::Any) || !policy.allowed_networks().is_empty()
    {
        tracing::warn!(
            "the target policy is opened for local use: do not run this configuration on a shared network"
        );
    }
    Ok(policy)
}

/// `ALERTWIRE_API_KEY` is the default tenant's deployment key: registered at start, and a new value
/// revokes the key of the previous one (keys made with `alertwire keys create` stay). Without it, the
/// first start generates a key and prints it once.
async fn first_key(keys: &impl ApiKeyStore) -> Result<(), String> {
    let tenant = TenantId::from(DEFAULT_TENANT);
    if let Ok(key) = std::env::var("ALERTWIRE_API_KEY") {
        if key.trim().len() < 16 {
            return Err("ALERTWIRE_API_KEY must be at least 16 characters".into());
        }
        return keys
            .bootstrap_key(&tenant, &hash_api_key(key.trim()), "ALERTWIRE_API_KEY")
            .await
            .map_err(|e| e.to_string());
    }
    if keys.has_keys().await.map_err(|e| e.to_string())? {
        return Ok(());
    }
    let key = generate_api_key();
    keys.add_key(&tenant, &hash_api_key(&key), "generated at first start")
        .await
        .map_err(|e| e.to_string())?;
    println!("API key for tenant `{DEFAULT_TENANT}` (shown only now): {key}");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
