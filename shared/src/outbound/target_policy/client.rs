//! The `reqwest` client wiring of the guard: the policy resolver, no redirects (a redirect is reported to the
//! caller, never followed) and no proxies (a proxy would resolve names behind the guard's back).

use std::sync::Arc;

use reqwest::redirect;

use super::{HostResolver, PolicyResolver, TargetError, TargetPolicy};

/// A `reqwest::ClientBuilder` with the guard wired in: [`PolicyResolver`] over `resolver`, redirects never
/// followed (the 3xx answer is returned as it is), and `no_proxy()`. Callers add timeouts and the like, and still
/// call [`TargetPolicy::check_url`] right before every send (IP-literal hosts never reach the resolver).
/// With the `rustls-no-provider` feature, a rustls crypto provider must be installed before `build()`.
pub fn guarded_client_builder(
    policy: Arc<TargetPolicy>,
    resolver: Arc<dyn HostResolver>,
) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .dns_resolver(Arc::new(PolicyResolver::new(policy, resolver)))
}

/// The guard's refusal behind a failed request of a guarded client, if that is why it failed: the resolver
/// refused every address a name resolved to.
pub fn refusal_behind(error: &reqwest::Error) -> Option<&TargetError> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<TargetError>() {
            return Some(refused);
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::super::PortAllowance;
    use super::super::loopback_fixture::{FakeResolver, install_crypto_provider, serve_once};
    use super::*;

    #[tokio::test]
    async fn redirects_are_answered_not_followed_even_to_allowed_targets() {
        install_crypto_provider();
        let second = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let second_port = second.local_addr().expect("bound").port();
        // The redirect target is allowed too: not following is the client's rule, not the policy's.
        let policy = Arc::new(
            TargetPolicy::strict()
                .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("parses"))
                .with_allowed_ports(PortAllowance::Any),
        );
        let client = guarded_client_builder(policy, Arc::new(FakeResolver::new()))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client builds");
        for status in [
            "301 Moved Permanently",
            "302 Found",
            "307 Temporary Redirect",
        ] {
            let first = TcpListener::bind("127.0.0.1:0").await.expect("binds");
            let first_port = first.local_addr().expect("bound").port();
            let redirect = format!(
                "HTTP/1.1 {status}\r\nlocation: http://127.0.0.1:{second_port}/next\r\ncontent-length: 0\r\n\r\n"
            );
            let server = tokio::spawn(serve_once(first, redirect));
            let response = client
                .post(format!("http://127.0.0.1:{first_port}/"))
                .body("{}")
                .send()
                .await
                .expect("the 3xx is the answer");
            assert!(response.status().is_redirection(), "{status}");
            server.await.expect("server task").expect("served");
        }
        let accepted = tokio::time::timeout(Duration::from_millis(300), second.accept()).await;
        assert!(
            accepted.is_err(),
            "the redirect target received a connection"
        );
    }
}
