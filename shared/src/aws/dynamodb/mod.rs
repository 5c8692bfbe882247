//! The DynamoDB adapter of the storage ports: one table for API keys, endpoints, alerts, deliveries and
//! attempts, behaving exactly as the embedded SQLite store does. The design (keys, indexes, conditional
//! writes, expiry) is described in `docs/dynamodb.md`.
//!
//! - `layout`: how every key is spelled; `table`: creating the table ([`create_table`]).
//! - `item`: typed attribute access and the expiry rule.
//! - One module per port: `api_keys`, `endpoints`, `alerts`, `deliveries` (its item shapes in
//!   `delivery_items`), `settings`.

mod alerts;
mod api_keys;
mod deliveries;
mod delivery_items;
mod digests;
mod endpoints;
mod incidents;
mod item;
mod layout;
mod maintenance;
mod settings;
mod table;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem};
use chrono::Utc;

use crate::endpoint::OpenedDocuments;
use crate::ports::secret_sealer::SecretSealer;
use crate::ports::store::StoreError;
use item::Item;
use layout::{PK, SK};

pub use table::create_table;

/// How long alerts, deliveries and attempts are kept when nothing else is configured: 30 days.
pub const DEFAULT_RECORD_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// DynamoDB's limit of items in one `TransactWriteItems`.
const TRANSACTION_LIMIT: usize = 100;
/// How often a write that lost a race is re-read and tried again before giving up.
const WRITE_TRIES: usize = 8;
/// DynamoDB's limit of keys in one `BatchGetItem`.
const BATCH_GET_LIMIT: usize = 100;

/// The storage ports on one DynamoDB table (create it with [`create_table`]).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Alerts, their deliveries and attempts expire this long after the alert was accepted.
    record_ttl: Duration,
    /// Seals an endpoint's secret values before they are written (KMS data keys on AWS).
    sealer: Arc<dyn SecretSealer>,
    /// The endpoints read lately, opened: an attempt reads its endpoint, seldom changed.
    opened_endpoints: Arc<OpenedDocuments>,
}

impl DynamoStore {
    /// A store on `table`. `record_ttl` is how long an alert and its deliveries stay readable
    /// ([`DEFAULT_RECORD_TTL`] unless configured otherwise); `sealer` seals endpoint secret values.
    pub fn new(
        client: Client,
        table: String,
        record_ttl: Duration,
        sealer: Arc<dyn SecretSealer>,
    ) -> Self {
        Self {
            client,
            table,
            record_ttl,
            sealer,
            opened_endpoints: Arc::default(),
        }
    }

    /// Creates the table; the same as [`create_table`].
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        create_table(client, table).await
    }

    /// The `expires_at` of a record written now.
    fn expiry(&self) -> i64 {
        let ttl = i64::try_from(self.record_ttl.as_secs()).unwrap_or(i64::MAX);
        now_epoch().saturating_add(ttl)
    }

    /// One item by key, strongly consistent; None if absent or expired.
    async fn get_live(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        self.get_live_read(pk, sk, true).await
    }

    /// One item by key, strongly consistent or not; None if absent or expired.
    async fn get_live_read(
        &self,
        pk: String,
        sk: String,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| request_failed("GetItem", e))?;
        match output.item {
            Some(item) if item::is_live(&item, now_epoch())? => Ok(Some(item)),
            _ => Ok(None),
        }
    }

    /// The live items of these keys, strongly consistent, read 100 keys to a `BatchGetItem` (in no
    /// particular order; absent and expired ones are left out). Keys DynamoDB leaves unprocessed (a
    /// partition at its limit) are asked for again after a pause.
    async fn get_live_many(&self, keys: &[Item]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut asked = chunk.to_vec();
            let mut pauses = 0;
            while !asked.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(asked))
                    .consistent_read(true)
                    .build()
                    .map_err(DynamoError::Build)?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| request_failed("BatchGetItem", e))?;
                let now = now_epoch();
                let answered = output
                    .responses
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default();
                for item in answered {
                    if item::is_live(&item, now)? {
                        found.push(item);
                    }
                }
                asked = output
                    .unprocessed_keys
                    .and_then(|mut tables| tables.remove(&self.table))
                    .map(|left| left.keys)
                    .unwrap_or_default();
                if !asked.is_empty() {
                    pauses += 1;
                    if pauses > WRITE_TRIES {
                        return Err(DynamoError::Throttled("BatchGetItem").into());
                    }
                    tokio::time::sleep(Duration::from_millis(20 << pauses)).await;
                }
            }
        }
        Ok(found)
    }

    /// A strongly consistent `Query` of the partition `pk`'s items whose sort key begins with `prefix`,
    /// from `start` (the previous page's last key).
    fn prefix_query(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<Item>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
    }

    /// Every live item of a partition whose sort key starts with `prefix`, in sort-key order.
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .prefix_query(&pk, prefix, start)
                .send()
                .await
                .map_err(|e| request_failed("Query", e))?;
            let now = now_epoch();
            for item in output.items.unwrap_or_default() {
                if item::is_live(&item, now)? {
                    items.push(item);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Runs one transaction. A transaction cancelled only by failed conditions is not an error: the
    /// answer names the positions of the items whose condition failed.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, StoreError> {
        let mut conflicts = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(Transaction::Committed),
                Err(error) => error,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            {
                let codes: Vec<&str> = cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None"))
                    .collect();
                let failed: Vec<usize> = (0..codes.len())
                    .filter(|&i| codes[i] == "ConditionalCheckFailed")
                    .collect();
                let only_conditions = codes
                    .iter()
                    .all(|c| matches!(*c, "None" | "ConditionalCheckFailed"));
                if !failed.is_empty() && only_conditions {
                    return Ok(Transaction::ConditionFailed(failed));
                }
                // Another transaction touched the same item at the same moment: try again shortly.
                if codes.contains(&"TransactionConflict") && conflicts < WRITE_TRIES {
                    conflicts += 1;
                    tokio::time::sleep(Duration::from_millis(20 << conflicts)).await;
                    continue;
                }
            }
            return Err(request_failed("TransactWriteItems", error).into());
        }
    }

    /// Writes items 100 per transaction, where a failed condition is an error: for writes that only
    /// guard against an id written twice.
    async fn transact_in_chunks(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        for chunk in items.chunks(TRANSACTION_LIMIT) {
            if let Transaction::ConditionFailed(_) = self.transact(chunk.to_vec()).await? {
                return Err(DynamoError::Inconsistent(
                    "an alert or delivery with one of these ids exists already",
                )
                .into());
            }
        }
        Ok(())
    }
}

/// How a transaction ended when it did not fail.
enum Transaction {
    Committed,
    /// Cancelled: these items' conditions did not hold. Nothing was written.
    ConditionFailed(Vec<usize>),
}

/// Failures of the adapter itself; all reach the ports as [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
enum DynamoError {
    #[error("DynamoDB {operation} failed: {detail}")]
    Request {
        operation: &'static str,
        detail: String,
    },
    #[error("a DynamoDB request could not be built: {0}")]
    Build(#[from] BuildError),
    #[error("{0} kept changing under concurrent writes; giving up")]
    Contended(&'static str),
    #[error("DynamoDB kept leaving part of a {0} unprocessed; giving up")]
    Throttled(&'static str),
    #[error("the stored records disagree: {0}")]
    Inconsistent(&'static str),
}

impl From<DynamoError> for StoreError {
    fn from(error: DynamoError) -> Self {
        StoreError::Backend(error.to_string())
    }
}

/// An SDK failure, with the whole chain of causes (service code and message included).
fn request_failed<E: std::error::Error + 'static>(
    operation: &'static str,
    error: E,
) -> DynamoError {
    DynamoError::Request {
        operation,
        detail: DisplayErrorContext(error).to_string(),
    }
}

/// Whether a conditional write happened: `Ok(false)` when its condition did not hold, an error otherwise.
fn written<T, E, R>(
    operation: &'static str,
    result: Result<T, SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    answered(operation, result).map(|output| output.is_some())
}

/// What a conditional write answered: `Ok(None)` when its condition did not hold, an error otherwise.
fn answered<T, E, R>(
    operation: &'static str,
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(request_failed(operation, e).into()),
    }
}

fn now_epoch() -> i64 {
    Utc::now().timestamp()
}

/// A table key as an item map.
fn key(pk: String, sk: String) -> Item {
    [
        (PK.to_string(), AttributeValue::S(pk)),
        (SK.to_string(), AttributeValue::S(sk)),
    ]
    .into()
}
