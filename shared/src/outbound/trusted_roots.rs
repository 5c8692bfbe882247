//! Which certificate authorities the webhook sender trusts for HTTPS endpoints.
//!
//! - [`TrustedRoots::System`]: the machine's trust store (`/etc/ssl/certs` and the like), read and parsed
//!   when the sender is built. The local server (`alertwire serve`) uses it, so a CA an operator adds to
//!   the machine is trusted for webhooks too.
//! - [`TrustedRoots::CompiledIn`]: the Mozilla root program's certificates compiled into the binary
//!   (`webpki-root-certs`). The Lambda functions use it: building the client then reads no file and decodes
//!   no PEM, work that every cold start paid for before the first invocation (the Lambda image's own store
//!   is the same Mozilla set).

use reqwest::{Certificate, ClientBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustedRoots {
    /// The machine's trust store.
    #[default]
    System,
    /// The Mozilla roots compiled into the binary, and only those.
    CompiledIn,
}

impl TrustedRoots {
    /// `builder` set to verify servers against these roots.
    pub fn apply(self, builder: ClientBuilder) -> Result<ClientBuilder, reqwest::Error> {
        match self {
            Self::System => Ok(builder),
            Self::CompiledIn => Ok(builder.tls_certs_only(compiled_in_certificates()?)),
        }
    }
}

fn compiled_in_certificates() -> Result<Vec<Certificate>, reqwest::Error> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_in_root_is_a_usable_trust_anchor() {
        let mut store = rustls::RootCertStore::empty();
        let (added, refused) = store
            .add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        assert_eq!(refused, 0);
        assert_eq!(added, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(
            added > 100,
            "the Mozilla set has well over 100 roots, got {added}"
        );
    }

    #[test]
    fn both_choices_build_a_client() {
        for roots in [TrustedRoots::System, TrustedRoots::CompiledIn] {
            let builder = roots
                .apply(reqwest::Client::builder())
                .expect("roots apply");
            crate::outbound::sender::install_crypto_provider();
            builder.build().expect("a client");
        }
    }
}
