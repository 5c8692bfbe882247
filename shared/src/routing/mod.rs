//! Routing: which of a tenant's endpoints an alert is meant for. An endpoint names the alerts it takes
//! with label matchers in Alertmanager's syntax ([`matcher`]), evaluated against the labels an alert
//! carries ([`labels`]). Plain domain: no storage, no HTTP.

pub mod labels;
pub mod matcher;
