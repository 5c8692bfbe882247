//! alertwire end to end: real HTTP receivers on 127.0.0.1, alertwire in-process on the embedded store
//! (and, for durability, the real binary killed and restarted).

mod bad_input;
mod delivery_outcomes;
mod durability;
mod routing;
mod signatures;
mod ssrf;
mod templates;
