//! Filling a stopped server's data directory through the store, not through HTTP, for the scenarios
//! that need a full store before `serve` starts (a backlog, a history): the bench key's tenant, its one
//! endpoint, the end-to-end alert body, and writes of many alerts at once.

use std::future::Future;
use std::path::Path;

use alertwire_shared::alert::AlertContent;
use alertwire_shared::embedded::Database;
use alertwire_shared::endpoint::Endpoint;
use alertwire_shared::ids::TenantId;
use alertwire_shared::ports::store::{ApiKeyStore, EndpointStore};
use alertwire_shared::service::hash_api_key;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::serve_process::API_KEY;

/// Alerts written into the store at once (the store commits them in groups).
pub const SEEDING_CONCURRENCY: usize = 256;

pub fn store_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Store(e.to_string())
}

/// What a seed writes with: the data directory's database, the bench key's tenant and its one endpoint,
/// and the content of the end-to-end alert.
pub struct Seed {
    pub database: Database,
    pub tenant: TenantId,
    pub endpoint: Endpoint,
    pub content: AlertContent,
}

impl Seed {
    /// Opens the stopped server's data directory, which holds the bench key and one endpoint.
    pub async fn open(data_dir: &Path) -> Result<Seed, BenchError> {
        let database = Database::open(data_dir, false).map_err(store_error)?;
        let tenant = database
            .tenant_for_key(&hash_api_key(API_KEY))
            .await
            .map_err(store_error)?
            .ok_or_else(|| BenchError::Setup("the bench key is not stored".into()))?;
        let endpoint = database
            .list_endpoints(&tenant)
            .await
            .map_err(store_error)?
            .into_iter()
            .next()
            .ok_or_else(|| BenchError::Setup("the seed's endpoint is not stored".into()))?;
        let body: serde_json::Value = serde_json::from_slice(&crate::e2e::alert_body())
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let content =
            AlertContent::from_json(&body).map_err(|e| BenchError::Setup(e.to_string()))?;
        Ok(Seed {
            database,
            tenant,
            endpoint,
            content,
        })
    }
}

/// Runs `write(n)` for `n` in `0..count`, [`SEEDING_CONCURRENCY`] at a time; the first error ends it.
pub async fn write_all<W, F>(count: usize, mut write: W) -> Result<(), BenchError>
where
    W: FnMut(usize) -> F,
    F: Future<Output = Result<(), BenchError>> + Send + 'static,
{
    let mut writes = JoinSet::new();
    for n in 0..count {
        while writes.len() >= SEEDING_CONCURRENCY {
            if let Some(written) = writes.join_next().await {
                written.map_err(store_error)??;
            }
        }
        writes.spawn(write(n));
    }
    while let Some(written) = writes.join_next().await {
        written.map_err(store_error)??;
    }
    Ok(())
}
