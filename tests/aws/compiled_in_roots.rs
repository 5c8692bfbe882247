//! The Lambda functions' webhook client trusts the Mozilla roots compiled in (`TrustedRoots::CompiledIn`),
//! against a real HTTPS receiver on 127.0.0.1 whose certificate a CA made in the test issued: without the
//! endpoint's own `ca_pem`, the handshake is refused as an unknown issuer and nothing reaches the
//! receiver, whether or not the client presents a certificate (the two are built differently, see
//! `shared/src/outbound/trusted_roots.rs`); with `ca_pem` and the client certificate, it is delivered.

use std::sync::Arc;
use std::time::Duration;

use alertwire_shared::endpoint::auth::ClientCertificate;
use alertwire_shared::outbound::endpoint_tls::{ClientRecipe, EndpointTls};
use alertwire_shared::outbound::target_policy::SystemResolver;
use alertwire_shared::outbound::trusted_roots::TrustedRoots;
use alertwire_tests::mtls_server::{MtlsServer, TestCa};
use alertwire_tests::server::loopback_policy;
use chrono::Utc;

fn recipe() -> ClientRecipe {
    ClientRecipe {
        policy: Arc::new(loopback_policy()),
        resolver: Arc::new(SystemResolver),
        roots: TrustedRoots::CompiledIn,
        timeout: Duration::from_secs(5),
    }
}

/// The whole chain of `error`'s causes, as text.
fn causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn the_compiled_in_roots_refuse_a_private_ca_unless_the_endpoint_trusts_it() {
    let ca = TestCa::new("alertwire test CA");
    let receiver = MtlsServer::start(&ca.server(), &ca).await;
    let issued = ca.client("alertwire-client");
    let certificate = ClientCertificate {
        certificate_pem: issued.certificate_pem.clone(),
        private_key_pem: issued.private_key_pem.clone(),
        not_after: Utc::now(),
    };
    let url = receiver.url("/hook");

    let shared_client = recipe().build(None).expect("the shared client");
    let presenting = recipe()
        .build(Some(&EndpointTls {
            ca_pem: None,
            client_certificate: Some(certificate.clone()),
        }))
        .expect("a client presenting a certificate");
    for (what, client) in [
        ("the shared client", shared_client),
        ("a client presenting a certificate", presenting),
    ] {
        let error = client
            .post(&url)
            .body("{}")
            .send()
            .await
            .expect_err("a private CA is not a Mozilla root");
        let text = causes(&error);
        assert!(text.contains("UnknownIssuer"), "{what}: {text}");
    }
    assert!(receiver.received().is_empty());

    let trusting = recipe()
        .build(Some(&EndpointTls {
            ca_pem: Some(ca.certificate_pem()),
            client_certificate: Some(certificate),
        }))
        .expect("a client trusting the endpoint's CA");
    let answer = trusting
        .post(&url)
        .body("{}")
        .send()
        .await
        .expect("delivered");
    assert!(answer.status().is_success(), "{}", answer.status());
    let seen = receiver.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].client_certificate.as_deref(), Some(&issued.der[..]));
}
