//! Talking to the outside: the one HTTP client that sends to endpoints, the OAuth2 tokens it presents,
//! which addresses it may dial, and which certificate authorities its HTTPS trusts.

pub mod oauth2;
pub mod sender;
pub mod target_policy;
pub mod trusted_roots;
