//! alertwire end to end: real HTTP receivers on 127.0.0.1, alertwire in-process on the embedded store
//! (and, for durability, the real binary killed and restarted).

mod alert_sources;
mod backlog;
mod backup;
mod bad_input;
mod chaos;
mod cli;
mod console_api;
mod delivery_outcomes;
mod durability;
mod endpoint_health;
mod fallback;
mod first_start;
mod full_disk;
mod incidents;
mod key_revocation;
mod label_routing;
mod metrics;
mod mtls;
mod oauth2;
mod openapi;
mod operations;
mod presets;
mod retention;
mod routing;
mod schema_upgrade;
mod secret_rotation;
mod secrets_at_rest;
mod secrets_never_shown;
mod shutdown;
mod signatures;
mod ssrf;
mod storms;
mod templates;
mod tenant_isolation;
mod uptrends;
