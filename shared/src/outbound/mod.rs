//! Talking to the outside: the HTTP client that sends to endpoints (and those of endpoints with their own
//! TLS settings), the OAuth2 tokens it presents, which addresses it may dial, and which certificate
//! authorities its HTTPS trusts.

pub mod capped_body;
pub mod endpoint_tls;
pub mod oauth2;
pub mod sender;
pub mod target_policy;
pub mod trusted_roots;
