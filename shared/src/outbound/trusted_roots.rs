//! Which certificate authorities the webhook sender trusts for HTTPS endpoints.
//!
//! - [`TrustedRoots::System`]: the machine's trust store (`/etc/ssl/certs` and the like), read and parsed
//!   when the sender is built. The local server (`alertwire serve`) uses it, so a CA an operator adds to
//!   the machine is trusted for webhooks too.
//! - [`TrustedRoots::CompiledIn`]: the Mozilla root program's set compiled into the binary. The Lambda
//!   functions use it (the Lambda image's own store is the same Mozilla set). A client that presents no
//!   certificate of its own gets a TLS configuration built here from `webpki-roots`, whose trust anchors
//!   are compiled in ready to use: building it reads no file and parses no certificate. Handing reqwest
//!   the certificates instead (`webpki-root-certs`, DER) has it parse each into a trust anchor, about half
//!   a million instructions, which every cold start paid before its first invocation. A client that
//!   presents a certificate (mTLS endpoints, built when first used) is still built by reqwest from the
//!   DER set, which holds the same roots (a test compares the two crates).

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
        Ok(match self {
            Self::System => builder,
            Self::CompiledIn => builder.tls_backend_preconfigured(compiled_in_config()),
        })
    }

    /// [`Self::apply`] for a client that will also present a certificate of its own: reqwest ignores
    /// `identity()` beside a TLS configuration built outside it, so it gets the compiled-in roots as
    /// certificates and builds the configuration itself.
    pub fn apply_presenting_certificate(
        self,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, reqwest::Error> {
        Ok(match self {
            Self::System => builder,
            Self::CompiledIn => builder.tls_certs_only(compiled_in_certificates()?),
        })
    }
}

/// The TLS configuration reqwest would build from the compiled-in roots, without parsing them: the
/// process's crypto provider and its safe protocol versions (TLS 1.2 and 1.3), server names sent, no
/// client certificate, and HTTP/2 offered before HTTP/1.1 (reqwest's ALPN with its `http2` feature).
fn compiled_in_config() -> rustls::ClientConfig {
    crate::outbound::sender::install_crypto_provider();
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
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

    /// A client with a certificate of its own trusts the DER set, every other client the ready-made
    /// anchors: both must be the same roots, which holds while the two crates are of the same release.
    /// (The ready-made set also carries the name constraints Mozilla puts on a root, which a certificate
    /// cannot: one root limited to `.tr` names. Only the roots themselves are compared.)
    #[test]
    fn the_ready_made_anchors_are_the_der_set_parsed() {
        let mut parsed = rustls::RootCertStore::empty();
        parsed.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        let key = |anchor: &rustls::pki_types::TrustAnchor<'_>| {
            (
                anchor.subject.to_vec(),
                anchor.subject_public_key_info.to_vec(),
            )
        };
        let mut from_der: Vec<_> = parsed.roots.iter().map(key).collect();
        let mut ready_made: Vec<_> = webpki_roots::TLS_SERVER_ROOTS.iter().map(key).collect();
        from_der.sort();
        ready_made.sort();
        assert_eq!(
            from_der, ready_made,
            "webpki-roots and webpki-root-certs hold different roots: keep them at the same version"
        );
    }

    #[test]
    fn the_compiled_in_configuration_is_what_reqwest_would_build() {
        let config = compiled_in_config();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(config.enable_sni);
        assert!(!config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn both_choices_build_a_client() {
        for roots in [TrustedRoots::System, TrustedRoots::CompiledIn] {
            crate::outbound::sender::install_crypto_provider();
            for builder in [
                roots.apply(reqwest::Client::builder()),
                roots.apply_presenting_certificate(reqwest::Client::builder()),
            ] {
                builder.expect("roots apply").build().expect("a client");
            }
        }
    }
}
