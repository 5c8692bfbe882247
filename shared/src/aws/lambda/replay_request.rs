//! The replay function's request: read from its invoke payload, and carried out. Invoked by hand it
//! replays dead letters (`{"filter": "all"}`, `{"filter": {"endpoint_id": "ep_…"}}` or
//! `{"filter": {"ids": ["msg_…"]}}`); on a schedule it reconciles the dead-letter queue and requeues
//! the pending deliveries that lost their task (`{"reconcile": true}`). The `events/replay-*.json` files
//! are examples of each.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::aws::sqs::dead_letter_sweep::{DEFAULT_SWEEP_LETTERS, reconcile_dlq, replay_dlq};
use crate::aws::sqs::queue::SqsQueue;
use crate::service::{ReplaySelection, Service, ServiceError};

/// How long the delivery queue leases a received task: its `VisibilityTimeout` in `template.yaml`. A
/// pending delivery's task may go unseen this long while an invocation that died holds it.
pub const DELIVERY_QUEUE_LEASE: Duration = Duration::from_secs(360);

/// The most stranded deliveries one reconcile requeues; the next run takes the rest.
pub const STRANDED_PER_RECONCILE: usize = 200;

/// What the replay function was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayRequest {
    /// Replay the dead letters the selection takes, as manual resends.
    Replay(ReplaySelection),
    /// Mark dead the deliveries SQS dead-lettered while the store still said pending, then requeue the
    /// pending deliveries that lost their task (`false`: nothing).
    Reconcile(bool),
}

/// The payload is neither a replay nor a reconcile.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the payload must be {{\"filter\": \"all\" | {{\"endpoint_id\": …}} | {{\"ids\": […]}}}} or {{\"reconcile\": true}}"
)]
pub struct InvalidReplayRequest;

/// The payload's shapes, as serde reads them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Replay(ReplayPayload),
    Reconcile(ReconcilePayload),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayPayload {
    filter: ReplaySelection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconcilePayload {
    reconcile: bool,
}

impl ReplayRequest {
    pub fn from_payload(payload: Value) -> Result<Self, InvalidReplayRequest> {
        match serde_json::from_value(payload) {
            Ok(Payload::Replay(ReplayPayload { filter })) => Ok(Self::Replay(filter)),
            Ok(Payload::Reconcile(ReconcilePayload { reconcile })) => {
                Ok(Self::Reconcile(reconcile))
            }
            Err(_) => Err(InvalidReplayRequest),
        }
    }

    /// Does as asked; answers `{"replayed": n, "stopped_early": b}` or
    /// `{"marked_dead": n, "requeued": m, "stopped_early": b}`. `stopped_early`: a sweep stopped at its
    /// limit, so more may be left for the next invocation.
    pub async fn carry_out(
        &self,
        service: &Service,
        queue: &SqsQueue,
    ) -> Result<Value, ServiceError> {
        Ok(match self {
            Self::Replay(selection) => {
                let report = replay_dlq(service, queue, selection, DEFAULT_SWEEP_LETTERS).await?;
                json!({ "replayed": report.resent, "stopped_early": report.stopped_early })
            }
            Self::Reconcile(true) => {
                let reconciled = reconcile_dlq(service, queue, DEFAULT_SWEEP_LETTERS).await?;
                let stranded = service
                    .requeue_stranded(DELIVERY_QUEUE_LEASE, STRANDED_PER_RECONCILE)
                    .await?;
                json!({
                    "marked_dead": reconciled.marked_dead,
                    "requeued": stranded.requeued,
                    "stopped_early": reconciled.stopped_early || stranded.stopped_early,
                })
            }
            Self::Reconcile(false) => {
                json!({ "marked_dead": 0, "requeued": 0, "stopped_early": false })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DeliveryId, EndpointId};

    fn parse(text: &str) -> Result<ReplayRequest, InvalidReplayRequest> {
        ReplayRequest::from_payload(serde_json::from_str(text).expect("JSON"))
    }

    #[test]
    fn the_example_events_are_read() {
        assert_eq!(
            parse(include_str!("../../../../events/replay-all.json")),
            Ok(ReplayRequest::Replay(ReplaySelection::All))
        );
        assert_eq!(
            parse(include_str!("../../../../events/replay-endpoint.json")),
            Ok(ReplayRequest::Replay(ReplaySelection::Endpoint(
                EndpointId::from("ep_01a202e9b3807a1bb621e4c7aae325a5")
            )))
        );
        assert_eq!(
            parse(include_str!("../../../../events/replay-ids.json")),
            Ok(ReplayRequest::Replay(ReplaySelection::Ids(vec![
                DeliveryId::from("msg_01a208101431750ea46c06585615fbf7"),
                DeliveryId::from("msg_01a20810143279d48739c529e39856af"),
            ])))
        );
        assert_eq!(
            parse(include_str!("../../../../events/replay-reconcile.json")),
            Ok(ReplayRequest::Reconcile(true))
        );
    }

    #[test]
    fn a_reconcile_can_be_turned_off_and_an_empty_id_list_is_a_selection() {
        assert_eq!(
            parse(r#"{"reconcile": false}"#),
            Ok(ReplayRequest::Reconcile(false))
        );
        assert_eq!(
            parse(r#"{"filter": {"ids": []}}"#),
            Ok(ReplayRequest::Replay(ReplaySelection::Ids(Vec::new())))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_shapes_it_may_take() {
        for payload in [
            "{}",
            "null",
            r#""all""#,
            r#"{"filter": "some"}"#,
            r#"{"filter": {"endpoint": "ep_1"}}"#,
            r#"{"filter": {"endpoint_id": "ep_1", "ids": []}}"#,
            r#"{"filter": {"ids": "msg_1"}}"#,
            r#"{"filter": "all", "reconcile": true}"#,
            r#"{"filter": "all", "dry_run": true}"#,
            r#"{"reconcile": "yes"}"#,
        ] {
            assert_eq!(parse(payload), Err(InvalidReplayRequest), "{payload}");
        }
        assert!(
            InvalidReplayRequest
                .to_string()
                .starts_with(r#"the payload must be {"filter": "all" | {"endpoint_id": …}"#)
        );
    }
}
