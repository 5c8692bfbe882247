//! Talking to the outside: the one HTTP client that sends to endpoints, which addresses it may dial, and
//! which certificate authorities its HTTPS trusts.

pub mod sender;
pub mod target_policy;
pub mod trusted_roots;
