//! The endpoints an alert names itself: `"endpoints": ["db-slack", "ep_…"]` on `POST /v1/alerts`, or
//! `?endpoints=db-slack,ep_…` on the Alertmanager and Grafana receivers (one alertwire URL per receiver
//! there). A name or an id; an entry that is neither, among the tenant's endpoints, is refused.

use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::ids::EndpointId;
use crate::input_error::{FieldError, check_text};

/// The most endpoints one alert may name.
pub const MAX_NAMED_ENDPOINTS: usize = 50;
/// The longest entry: an endpoint name (200) or an id.
const MAX_ENTRY: usize = 200;
/// The field (and query parameter) that names them.
const FIELD: &str = "endpoints";

/// What an alert named, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSelection {
    entries: Vec<String>,
    /// From a JSON list, whose entries errors name by place (`endpoints[1]`); a query has no places.
    listed: bool,
}

impl EndpointSelection {
    /// The `endpoints` of an alert's JSON body; `None` when absent or `null` (every endpoint).
    pub fn from_json(body: &Value) -> Result<Option<EndpointSelection>, FieldError> {
        let Some(value) = body.get(FIELD).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let items = value.as_array().ok_or_else(|| {
            FieldError::invalid(FIELD, "`endpoints` must be a list of endpoint names or ids")
        })?;
        let entries = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let field = format!("{FIELD}[{index}]");
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| {
                        FieldError::invalid(
                            &field,
                            format!("`{field}` must be an endpoint name or id"),
                        )
                    })
                    .and_then(|entry| checked_entry(&field, entry))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(entries, true).map(Some)
    }

    /// The `endpoints` query parameter: names or ids separated by commas; `None` when absent.
    pub fn from_query(text: Option<&str>) -> Result<Option<EndpointSelection>, FieldError> {
        let Some(text) = text else {
            return Ok(None);
        };
        let entries = text
            .split(',')
            .map(|entry| checked_entry(FIELD, entry.trim().to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(entries, false).map(Some)
    }

    fn new(entries: Vec<String>, listed: bool) -> Result<EndpointSelection, FieldError> {
        if entries.is_empty() {
            return Err(FieldError::invalid(
                FIELD,
                "`endpoints` names no endpoint: leave it out to route to every endpoint",
            ));
        }
        if entries.len() > MAX_NAMED_ENDPOINTS {
            return Err(FieldError::invalid(
                FIELD,
                format!("`endpoints` names more than {MAX_NAMED_ENDPOINTS} endpoints"),
            ));
        }
        Ok(EndpointSelection { entries, listed })
    }

    /// The ids of the endpoints named, among the tenant's `endpoints`: an entry is an id, or else the name
    /// of every endpoint so named. An entry that is neither is refused, naming it.
    pub fn resolve(&self, endpoints: &[Endpoint]) -> Result<Vec<EndpointId>, FieldError> {
        let mut ids = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let by_id = endpoints.iter().filter(|e| e.id.as_str() == entry);
            let by_name = endpoints.iter().filter(|e| e.name == *entry);
            let found: Vec<&EndpointId> = match by_id.map(|e| &e.id).collect::<Vec<_>>() {
                ids if !ids.is_empty() => ids,
                _ => by_name.map(|e| &e.id).collect(),
            };
            if found.is_empty() {
                let field = if self.listed {
                    format!("{FIELD}[{index}]")
                } else {
                    FIELD.to_string()
                };
                let shown: String = entry.chars().take(100).collect();
                return Err(FieldError::invalid(
                    &field,
                    format!(
                        "`{field}`: this tenant has no endpoint named or with the id {shown:?}"
                    ),
                ));
            }
            ids.extend(found.into_iter().cloned());
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

fn checked_entry(field: &str, entry: String) -> Result<String, FieldError> {
    if entry.trim().is_empty() {
        return Err(FieldError::invalid(
            field,
            format!("`{field}` is empty: an endpoint name or id"),
        ));
    }
    check_text(field, &entry, MAX_ENTRY)?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn endpoint(id: &str, name: &str) -> Endpoint {
        super::super::test_endpoint(id, name)
    }

    #[test]
    fn entries_are_ids_or_names() {
        let endpoints = [
            endpoint("ep_1", "db-slack"),
            endpoint("ep_2", "web-pager"),
            endpoint("ep_3", "db-slack"),
        ];
        let selection = EndpointSelection::from_json(&json!({"endpoints": ["db-slack", "ep_2"]}))
            .unwrap()
            .unwrap();
        let ids = selection.resolve(&endpoints).unwrap();
        assert_eq!(ids, ["ep_1", "ep_2", "ep_3"].map(EndpointId::from));
        let by_query = EndpointSelection::from_query(Some("web-pager, ep_1"))
            .unwrap()
            .unwrap();
        assert_eq!(
            by_query.resolve(&endpoints).unwrap(),
            ["ep_1", "ep_2"].map(EndpointId::from)
        );
    }

    #[test]
    fn an_unknown_entry_is_refused_by_its_place() {
        let endpoints = [endpoint("ep_1", "db-slack")];
        let selection = EndpointSelection::from_json(&json!({"endpoints": ["db-slack", "nope"]}))
            .unwrap()
            .unwrap();
        let error = selection.resolve(&endpoints).unwrap_err();
        assert_eq!(error.field, "endpoints[1]");
        assert!(error.message.contains("\"nope\""), "{}", error.message);
        let by_query = EndpointSelection::from_query(Some("nope"))
            .unwrap()
            .unwrap();
        assert_eq!(by_query.resolve(&endpoints).unwrap_err().field, "endpoints");
    }

    #[test]
    fn bad_lists_are_refused() {
        for (body, field) in [
            (json!({"endpoints": "db"}), "endpoints"),
            (json!({"endpoints": []}), "endpoints"),
            (json!({"endpoints": ["db", 7]}), "endpoints[1]"),
            (json!({"endpoints": [" "]}), "endpoints[0]"),
            (json!({"endpoints": vec!["x"; 51]}), "endpoints"),
        ] {
            let error = EndpointSelection::from_json(&body).unwrap_err();
            assert_eq!(error.field, field, "{body}");
        }
        assert_eq!(EndpointSelection::from_json(&json!({})).unwrap(), None);
        assert_eq!(
            EndpointSelection::from_json(&json!({"endpoints": null})).unwrap(),
            None
        );
        assert!(EndpointSelection::from_query(Some("a,,b")).is_err());
    }
}
