//! Native ingest of alert sources: the webhook payloads Prometheus Alertmanager and Grafana send, mapped to
//! our alerts. One notification carries several alerts; each becomes one of ours with an idempotency key
//! derived from the source's identity of that alert, so a source retrying a notification duplicates nothing.

pub mod alertmanager;
pub mod grafana;
mod labelled_alert;
mod notification;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::alert::AlertContent;
use crate::input_error::FieldError;

/// One alert of a source's notification, validated and mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceAlert {
    pub content: AlertContent,
    /// `<source>:<sha256 of fingerprint, status and start>`: the same alert in the same state is
    /// accepted once however often the source sends it.
    pub idempotency_key: String,
}

/// Reads a source's payload with serde, turning the first error into a [`FieldError`] naming its JSON path
/// (`alerts[1].startsAt`). Fields we do not read are ignored: a newer source version adding one must not
/// make its notifications fail.
fn read_payload<T: DeserializeOwned>(body: &Value) -> Result<T, FieldError> {
    if !body.is_object() {
        return Err(FieldError::invalid("", "the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        match missing {
            Some(name) => FieldError::missing(join_path(&path, name)),
            None => {
                let path = if path == "." { String::new() } else { path };
                let shown = if path.is_empty() { "the body" } else { &path };
                FieldError::invalid(&path, format!("`{shown}`: {message}"))
            }
        }
    })
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}
