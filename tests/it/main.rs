//! alertwire end to end: real HTTP receivers on 127.0.0.1, alertwire in-process on the embedded store
//! (and, for durability, the real binary killed and restarted).

mod bad_input;
mod delivery_outcomes;
mod durability;
mod endpoint_health;
mod metrics;
mod routing;
mod secret_rotation;
mod signatures;
mod templates;
mod tenant_isolation;
