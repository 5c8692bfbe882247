//! The embedded default wired together: the SQLite store and queue, recovery, the delivery worker and
//! the HTTP API (with `GET /metrics`) in one process. `alertwire serve` and the in-process tests start
//! it the same way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use crate::embedded::prometheus::PrometheusMetrics;
use crate::embedded::pruner::Pruner;
use crate::embedded::worker::DeliveryWorker;
use crate::embedded::{Database, Durability, EmbeddedQueue, OpenError, QueueSettings};
use crate::endpoint::circuit::CircuitPolicy;
use crate::endpoint::health::HealthPolicy;
use crate::outbound::sender::HttpSender;
use crate::outbound::target_policy::{HostResolver, SystemResolver, TargetPolicy};
use crate::outbound::trusted_roots::TrustedRoots;
use crate::retention::Retention;
use crate::service::{Ports, Service};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `None`: a private in-memory database (tests only; nothing survives).
    pub data_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub policy: TargetPolicy,
    pub retry: RetryPolicy,
    pub http_timeout: Duration,
    /// Deliveries attempted at once.
    pub concurrency: usize,
    /// When an endpoint is disabled by itself.
    pub health: HealthPolicy,
    /// When an endpoint's circuit opens, and how long it stays open.
    pub circuit: CircuitPolicy,
    /// How long finished history stays before the pruner deletes it.
    pub retention: Retention,
    /// Which certificate authorities HTTPS endpoints are checked against.
    pub trusted_roots: TrustedRoots,
    /// What a commit survives before it is answered (a crash of the machine, by default).
    pub durability: Durability,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("recovery failed: {0}")]
    Recovery(#[from] crate::ports::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

pub struct EmbeddedServer {
    pub addr: SocketAddr,
    pub database: Database,
    pub service: Arc<Service>,
    shutdown: watch::Sender<bool>,
    api: JoinHandle<()>,
    worker: JoinHandle<()>,
    metrics_upkeep: JoinHandle<()>,
    pruner: JoinHandle<()>,
}

/// Opens (and recovers) the store, then serves the API and runs the worker until `stop`, with
/// deliveries resolving host names through `resolver` (tests simulate DNS answers with it).
pub async fn start_with_resolver(
    config: ServerConfig,
    resolver: Arc<dyn HostResolver>,
) -> Result<EmbeddedServer, StartError> {
    let database = open_database(&config).await?;
    start_on(database, config, resolver).await
}

/// Opens the store of `config` (taking the data directory's serving lock) and recovers it after an unclean
/// stop, for a caller that prepares it (the first API key) before [`start_on`] answers any request.
pub async fn open_database(config: &ServerConfig) -> Result<Database, StartError> {
    let database = match &config.data_dir {
        Some(dir) => Database::open_with(dir, true, config.durability)?,
        None => Database::in_memory()?,
    };
    let recovered = database.recover(MAX_ATTEMPTS).await?;
    if recovered != Default::default() {
        tracing::info!(?recovered, "recovered after an unclean stop");
    }
    Ok(database)
}

/// Serves the API and runs the worker on a database from [`open_database`], resolving host names with
/// the system resolver.
pub async fn start_on_database(
    database: Database,
    config: ServerConfig,
) -> Result<EmbeddedServer, StartError> {
    start_on(database, config, Arc::new(SystemResolver)).await
}

async fn start_on(
    database: Database,
    config: ServerConfig,
    resolver: Arc<dyn HostResolver>,
) -> Result<EmbeddedServer, StartError> {
    let queue = EmbeddedQueue::new(
        database.clone(),
        QueueSettings {
            // Longer than any attempt can take, so a task is never worked on twice at once.
            visibility_timeout: config.http_timeout + Duration::from_secs(30),
            max_receives: MAX_ATTEMPTS,
        },
    );
    let ports = Ports::on_one_store(database.clone(), Arc::new(queue.clone()));
    let sender = HttpSender::with_resolver_trusting(
        Arc::new(config.policy.clone()),
        config.http_timeout,
        resolver,
        config.trusted_roots,
    )?;
    let prometheus = PrometheusMetrics::new();
    let service = Arc::new(
        Service::new(ports, sender, config.retry.clone())
            .with_health_policy(config.health)
            .with_circuit_policy(config.circuit)
            .with_retention(config.retention)
            .with_write_condition(Arc::new(database.clone()))
            .with_metrics(prometheus.metrics.clone()),
    );
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let (shutdown, watcher) = watch::channel(false);
    let worker = tokio::spawn(
        DeliveryWorker::new(service.clone(), queue.clone(), config.concurrency)
            .run(watcher.clone()),
    );
    let metrics_upkeep = tokio::spawn(prometheus.clone().upkeep(watcher.clone()));
    let pruner = tokio::spawn(
        Pruner::new(
            database.clone(),
            config.retention,
            prometheus.metrics.clone(),
        )
        .run(watcher.clone()),
    );
    let app = crate::api::router(service.clone())
        .merge(prometheus.router(queue, database.clone()))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let mut api_watcher = watcher;
    let api = tokio::spawn(async move {
        let stopped = async move {
            let _ = api_watcher.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "the API server stopped");
        }
    });
    Ok(EmbeddedServer {
        addr,
        database,
        service,
        shutdown,
        api,
        worker,
        metrics_upkeep,
        pruner,
    })
}

impl EmbeddedServer {
    /// Stops accepting requests, lets attempts in flight finish, and returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.api.await;
        let _ = self.worker.await;
        let _ = self.metrics_upkeep.await;
        let _ = self.pruner.await;
    }
}
