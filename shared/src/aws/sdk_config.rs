//! The AWS SDK configuration every adapter shares: region and credentials from the environment,
//! `AWS_ENDPOINT_URL` honoured (so the same code runs against an emulator), and one HTTPS client for every
//! service ([`SdkHttpClient`]: reqwest on rustls with the ring provider and compiled-in roots).

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use super::sdk_http_client::SdkHttpClient;

/// Loads the shared SDK configuration once per process (a Lambda's init phase, a test's setup).
///
/// Credentials in the environment (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, with
/// `AWS_SESSION_TOKEN`: what Lambda gives every function) are used as they are. The default chain would
/// take them first too, but building it builds every other provider, an STS client among them, which was
/// an eighth of a function's init. Without them, the default chain (profile, web identity, container and
/// instance credentials).
pub async fn load_sdk_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(SdkHttpClient::default()));
    if credentials_in_environment() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// Whether the environment holds static credentials (Lambda's, or a test's).
fn credentials_in_environment() -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")
}
