//! The HTTP request an attempt sends to an endpoint: rendered from its templates, and signed.

pub mod request;
pub mod signing;
