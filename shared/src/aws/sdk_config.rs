//! The AWS SDK configuration every adapter shares: region and credentials from the environment,
//! `AWS_ENDPOINT_URL` honoured (so the same code runs against an emulator), and one HTTPS client on rustls
//! with the ring provider.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Loads the shared SDK configuration once per process (a Lambda's init phase, a test's setup).
pub async fn load_sdk_config() -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await
}
