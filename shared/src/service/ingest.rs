//! Accepting an alert: validate it, route it to the endpoints meant for it ([`crate::routing`]) or, when
//! none is, to the tenant's default endpoint, decide per endpoint whether it is sent or filtered, store
//! the alert with those deliveries in one write,
//! and enqueue one task per pending delivery before answering (in that same write where the store holds
//! the queue). An endpoint the alert is not routed to gets no delivery. A source's notification
//! (Alertmanager, Grafana) is accepted as its alerts, each so. Counts accepted, refused and unrouted
//! alerts, and deliveries filtered at once; a repeat with the same Idempotency-Key is not counted again.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Service, ServiceError};
use crate::alert::{Alert, AlertContent};
use crate::alert_sources::SourceAlert;
use crate::delivery::decide::filter_reason;
use crate::delivery::{Delivery, DeliveryStatus};
use crate::endpoint::Endpoint;
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::metrics::Refusal;
use crate::ports::queue::Task;
use crate::ports::store::{AlertReceipt, AlertRecord, RecordOutcome};
use crate::routing::RoutingOutcome;
use crate::routing::labels::Labels;
use crate::routing::selection::EndpointSelection;
use crate::routing::table::RouteTable;

/// The endpoints an accepted alert gets a delivery for.
pub(super) struct Destinations<'e> {
    pub endpoints: Vec<&'e Endpoint>,
    /// No endpoint was routed the alert; `endpoints` is the tenant's default endpoint, if one is set.
    pub unrouted: bool,
}

impl<'e> Destinations<'e> {
    /// Only `endpoint`, chosen by alertwire, not by routing (an operational alert).
    pub fn only(endpoint: &'e Endpoint) -> Self {
        Self {
            endpoints: vec![endpoint],
            unrouted: false,
        }
    }
}

impl Service {
    /// Returns once every pending delivery is on the queue. With `idempotency_key`, a repeat of the same
    /// request gets the first answer (and finishes its enqueueing if the first was interrupted); the same
    /// key with a different body is a conflict.
    pub async fn accept_alert(
        &self,
        tenant: &TenantId,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<AlertReceipt, ServiceError> {
        let accepted = self.record_alert(tenant, body, idempotency_key).await;
        if let Err(e) = &accepted {
            self.metrics.alert_refused(match e {
                ServiceError::Input(_) => Refusal::Invalid,
                ServiceError::Conflict(_) => Refusal::IdempotencyConflict,
                ServiceError::NotFound(_) | ServiceError::Store(_) | ServiceError::Queue(_) => {
                    Refusal::Unavailable
                }
            });
        }
        accepted
    }

    async fn record_alert(
        &self,
        tenant: &TenantId,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<AlertReceipt, ServiceError> {
        let input = AlertContent::from_json(body)?;
        let selection = EndpointSelection::from_json(body)?;
        // Only a repeat under the same key is compared with the first request.
        let request_hash =
            idempotency_key.map(|_| format!("{:x}", Sha256::digest(body.to_string().as_bytes())));
        let table = self.route_table(tenant).await?;
        let named = match &selection {
            Some(selection) => Some(selection.resolve(table.endpoints())?),
            None => None,
        };
        let destinations = self
            .destinations(tenant, &input, &table, named.as_deref())
            .await?;
        self.record_and_enqueue(
            tenant,
            input,
            &destinations,
            idempotency_key.zip(request_hash.as_deref()),
        )
        .await
    }

    /// Accepts every alert of a source's notification (Alertmanager, Grafana), already validated as a whole,
    /// one after the other, each under its derived idempotency key. The store writes one alert with its
    /// deliveries atomically, not a batch; should this stop half-way (a crash, a store error answered 503),
    /// the source retries the notification and the alerts already written answer with their first receipt,
    /// so the retry completes the batch without duplicating any alert. The key stands for the alert's
    /// identity, so a retry whose annotations changed meanwhile is not a conflict: the first version stays.
    /// `selection`: the endpoints the receiver's URL names (`?endpoints=`), for every alert of it.
    pub async fn accept_source_alerts(
        &self,
        tenant: &TenantId,
        alerts: Vec<SourceAlert>,
        selection: Option<&EndpointSelection>,
    ) -> Result<Vec<AlertReceipt>, ServiceError> {
        let table = self.route_table(tenant).await?;
        let named = match selection {
            Some(selection) => Some(selection.resolve(table.endpoints())?),
            None => None,
        };
        let mut receipts = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let key = alert.idempotency_key.as_str();
            let destinations = self
                .destinations(tenant, &alert.content, &table, named.as_deref())
                .await?;
            receipts.push(
                self.record_and_enqueue(tenant, alert.content, &destinations, Some((key, key)))
                    .await?,
            );
        }
        Ok(receipts)
    }

    /// Where an alert of `content` goes among the tenant's endpoints (`table`): those it is routed to
    /// or, when there are none, the tenant's default endpoint (the settings are read only then).
    pub(super) async fn destinations<'e>(
        &self,
        tenant: &TenantId,
        content: &AlertContent,
        table: &'e RouteTable,
        named: Option<&[EndpointId]>,
    ) -> Result<Destinations<'e>, ServiceError> {
        let routed = table.routed(&Labels::of(content), named);
        if !routed.is_empty() {
            return Ok(Destinations {
                endpoints: routed,
                unrouted: false,
            });
        }
        let settings = self.ports.settings.get_settings(tenant).await?;
        let default = settings
            .default_endpoint_id
            .and_then(|id| table.endpoints().iter().find(|e| e.id == id));
        Ok(Destinations {
            endpoints: default.into_iter().collect(),
            unrouted: true,
        })
    }

    /// Stores the alert with one delivery per destination and queues the pending ones; `idempotency` is
    /// the key and the hash of what it stands for.
    pub(super) async fn record_and_enqueue(
        &self,
        tenant: &TenantId,
        input: AlertContent,
        destinations: &Destinations<'_>,
        idempotency: Option<(&str, &str)>,
    ) -> Result<AlertReceipt, ServiceError> {
        let mut alert = input.into_alert(AlertId::generate(), tenant.clone(), self.clock.now());
        alert.routing = Some(RoutingOutcome {
            endpoints: destinations.endpoints.len(),
            unrouted: destinations.unrouted,
        });
        let mut deliveries: Vec<Delivery> = destinations
            .endpoints
            .iter()
            .map(|e| new_delivery(DeliveryId::generate(), &alert, e))
            .collect();
        // Nothing to count unless an endpoint routed the alert folds errors into digests.
        if destinations.endpoints.iter().any(|e| e.digest.is_some()) {
            let key = idempotency.map(|(key, _)| key);
            self.fold_into_digests(&alert, key, &destinations.endpoints, &mut deliveries)
                .await?;
        }
        let tasks: Vec<Task> = deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::Pending)
            .map(|d| Task::deliver(tenant.clone(), d.id.clone(), 0, d.endpoint_id.clone()))
            .collect();
        // Empty, and nothing to note, unless an endpoint routed the alert captures.
        let following: Vec<EndpointId> = destinations
            .endpoints
            .iter()
            .filter(|e| e.follows_incidents())
            .map(|e| e.id.clone())
            .collect();
        if !following.is_empty() {
            let pending: Vec<(DeliveryId, EndpointId)> = deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Pending)
                .map(|d| (d.id.clone(), d.endpoint_id.clone()))
                .collect();
            self.note_incident_errors(&alert, &pending, &following)
                .await?;
        }
        let record = AlertRecord {
            alert: &alert,
            deliveries: &deliveries,
            idempotency,
            tasks: &tasks,
        };
        let request_hash = idempotency.map(|(_, hash)| hash);
        match self.ports.alerts.record_alert(record).await? {
            RecordOutcome::Recorded { enqueued } => {
                if !enqueued {
                    let keyed = idempotency.is_some();
                    self.enqueue(tenant, &alert.id, &tasks, keyed).await?;
                }
                self.note_resolved_in_maintenance(&alert, &deliveries)
                    .await?;
                self.metrics.alert_accepted(alert.content.message_type);
                if destinations.unrouted {
                    self.metrics.alert_unrouted(alert.content.message_type);
                    tracing::info!(
                        alert = %alert.id,
                        default_endpoint = ?destinations.endpoints.first().map(|e| &e.id),
                        "no endpoint is routed this alert"
                    );
                }
                let filtered = deliveries
                    .iter()
                    .filter(|d| d.status == DeliveryStatus::Filtered)
                    .count();
                self.metrics
                    .deliveries_finished(DeliveryStatus::Filtered, filtered as u64);
                Ok(AlertReceipt::of(&alert, &deliveries))
            }
            RecordOutcome::AlreadyRecorded {
                receipt,
                request_hash: first_hash,
                enqueued,
            } => {
                if request_hash != Some(first_hash.as_str()) {
                    return Err(ServiceError::Conflict(
                        "this Idempotency-Key was already used with a different request body"
                            .into(),
                    ));
                }
                // The first request's deliveries are the incident's error, not the ones noted above.
                self.note_incident_errors(&alert, &receipt.deliveries, &following)
                    .await?;
                if !enqueued {
                    self.finish_enqueueing(tenant, &receipt).await?;
                }
                Ok(receipt)
            }
        }
    }

    /// Sends the alert's tasks, then marks it enqueued if it was recorded under an Idempotency-Key
    /// (`keyed`). The mark is read only when a request with the same key comes again, to know whether
    /// the first one sent its tasks; without a key no such request can find the alert, and on DynamoDB
    /// the mark would be a write unit per alert that nothing reads.
    pub(super) async fn enqueue(
        &self,
        tenant: &TenantId,
        alert_id: &AlertId,
        tasks: &[Task],
        keyed: bool,
    ) -> Result<(), ServiceError> {
        // The queue port takes any number of tasks (SQS in batches of ten, SQLite in one transaction).
        self.ports.queue.send_batch(tasks).await?;
        if keyed {
            self.ports.alerts.mark_enqueued(tenant, alert_id).await?;
        }
        Ok(())
    }

    /// The first request stored the alert but died before every task was sent: send the pending ones now.
    /// The embedded queue keeps one message per delivery run; SQS does not, so a task the first request
    /// did send is sent again. Both tasks are of the same run and each numbers its attempts by its own
    /// receives: the receiver may see that delivery's `webhook-id` twice, and a failing delivery may be
    /// tried up to twice the attempts of a run before it is dead.
    pub(super) async fn finish_enqueueing(
        &self,
        tenant: &TenantId,
        receipt: &AlertReceipt,
    ) -> Result<(), ServiceError> {
        let mut tasks = Vec::new();
        for (delivery_id, _) in &receipt.deliveries {
            if let Some(d) = self
                .ports
                .deliveries
                .get_delivery(tenant, delivery_id)
                .await?
                && d.status == DeliveryStatus::Pending
                && d.attempts.is_empty()
            {
                tasks.push(Task::deliver(tenant.clone(), d.id, d.run, d.endpoint_id));
            }
        }
        self.enqueue(tenant, &receipt.alert_id, &tasks, true).await
    }
}

/// Delivery `id` of `alert` to `endpoint`: pending, or filtered saying why it will not be sent.
pub(super) fn new_delivery(id: DeliveryId, alert: &Alert, endpoint: &Endpoint) -> Delivery {
    let mut delivery = Delivery::pending(id, alert, endpoint.id.clone());
    if let Some(filter) = filter_reason(endpoint, alert) {
        delivery.status = DeliveryStatus::Filtered;
        delivery.status_reason = Some(filter.reason());
    }
    delivery
}

#[cfg(all(test, feature = "embedded"))]
#[path = "ingest_tests.rs"]
mod tests;
