//! A decorator of the alert and delivery stores that lets one write at a time reach the table, for runs
//! with many writers against moto. moto's TransactWriteItems deep-copies the whole table first and fails
//! (HTTP 500, "dictionary changed size during iteration") when another write changes the table
//! meanwhile; real DynamoDB isolates transactions. Reads go through untouched and run concurrently.

use std::sync::Arc;

use alertwire_shared::alert::Alert;
use alertwire_shared::delivery::{Attempt, Delivery, DeliveryStatus};
use alertwire_shared::ids::{AlertId, DeliveryId, TenantId};
use alertwire_shared::ports::store::{
    AlertRecord, AlertStore, DeliveryFilter, DeliveryStore, FallbackOutcome, FallbackRecord,
    RecordOutcome, StatusChange, StoreError,
};
use async_trait::async_trait;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct SerializedWrites<S> {
    inner: S,
    turn: Arc<Mutex<()>>,
}

impl<S> SerializedWrites<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            turn: Arc::new(Mutex::new(())),
        }
    }

    /// The store itself, for ports that only read or are written before the run (keys, endpoints).
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: AlertStore> AlertStore for SerializedWrites<S> {
    async fn record_alert(&self, record: AlertRecord<'_>) -> Result<RecordOutcome, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.record_alert(record).await
    }

    async fn is_recorded(&self, tenant: &TenantId, key: &str) -> Result<bool, StoreError> {
        self.inner.is_recorded(tenant, key).await
    }

    async fn mark_enqueued(&self, tenant: &TenantId, alert_id: &AlertId) -> Result<(), StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.mark_enqueued(tenant, alert_id).await
    }

    async fn get_alert(
        &self,
        tenant: &TenantId,
        id: &AlertId,
    ) -> Result<Option<Alert>, StoreError> {
        self.inner.get_alert(tenant, id).await
    }

    async fn list_unrouted(
        &self,
        tenant: &TenantId,
        before: Option<&AlertId>,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        self.inner.list_unrouted(tenant, before, limit).await
    }
}

#[async_trait]
impl<S: DeliveryStore> DeliveryStore for SerializedWrites<S> {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.inner.get_delivery(tenant, id).await
    }

    async fn peek_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.inner.peek_delivery(tenant, id).await
    }

    async fn pending_unchanged_since(
        &self,
        changed_before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.inner
            .pending_unchanged_since(changed_before, limit)
            .await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.inner.list_deliveries(tenant, filter).await
    }

    async fn update_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner
            .update_delivery(tenant, id, run, attempt, change)
            .await
    }

    async fn record_fallback(
        &self,
        record: FallbackRecord<'_>,
    ) -> Result<FallbackOutcome, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.record_fallback(record).await
    }

    async fn start_resend(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        only_if: Option<DeliveryStatus>,
    ) -> Result<Option<u32>, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.start_resend(tenant, id, only_if).await
    }
}
