//! The `reqwest` client wiring of the guard: the policy resolver, a redirect policy that re-checks every hop,
//! and no proxies (a proxy would resolve names behind the guard's back).

use std::sync::Arc;

use reqwest::redirect;

use super::{HostResolver, PolicyResolver, TargetError, TargetPolicy};

/// How many redirects [`guarded_client_builder`] follows, as `reqwest`'s default policy does.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// A redirect policy that follows at most `max_redirects` redirects and only to URLs
/// [`TargetPolicy::check_url`] allows. Needed because a redirect to an IP literal never reaches the DNS resolver.
pub fn redirect_policy(policy: Arc<TargetPolicy>, max_redirects: usize) -> redirect::Policy {
    let limited = redirect::Policy::limited(max_redirects);
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_redirects {
            return attempt.error(TargetError::TooManyRedirects {
                limit: max_redirects,
            });
        }
        match policy.check_url(attempt.url().as_str()) {
            Ok(_) => limited.redirect(attempt),
            Err(error) => attempt.error(error),
        }
    })
}

/// A `reqwest::ClientBuilder` with the guard wired in: [`PolicyResolver`] over `resolver`, [`redirect_policy`]
/// with [`DEFAULT_MAX_REDIRECTS`], and `no_proxy()`. Callers add timeouts and the like, and still call
/// [`TargetPolicy::check_url`] right before every send (IP-literal hosts never reach the resolver).
/// With the `rustls-no-provider` feature, a rustls crypto provider must be installed before `build()`.
pub fn guarded_client_builder(
    policy: Arc<TargetPolicy>,
    resolver: Arc<dyn HostResolver>,
) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(redirect_policy(Arc::clone(&policy), DEFAULT_MAX_REDIRECTS))
        .dns_resolver(Arc::new(PolicyResolver::new(policy, resolver)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::super::PortAllowance;
    use super::super::loopback_fixture::{FakeResolver, install_crypto_provider, serve_once};
    use super::*;

    #[tokio::test]
    async fn redirect_to_refused_literal_is_not_followed() {
        install_crypto_provider();
        let first = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let second = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let first_port = first.local_addr().expect("bound").port();
        let second_port = second.local_addr().expect("bound").port();
        // Loopback is open, but only on the first listener's port.
        let policy = TargetPolicy::strict()
            .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("parses"))
            .with_allowed_ports(PortAllowance::Only(vec![first_port]));
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{second_port}/\r\ncontent-length: 0\r\n\r\n"
        );
        let server = tokio::spawn(serve_once(first, redirect));

        let client = guarded_client_builder(Arc::new(policy), Arc::new(FakeResolver::new()))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client builds");
        let error = client
            .post(format!("http://127.0.0.1:{first_port}/"))
            .send()
            .await
            .expect_err("redirect refused");
        assert!(error.is_redirect(), "{error:?}");
        server.await.expect("server task").expect("served");
        let accepted = tokio::time::timeout(Duration::from_millis(300), second.accept()).await;
        assert!(
            accepted.is_err(),
            "the redirect target received a connection"
        );
    }

    #[tokio::test]
    async fn redirect_to_allowed_url_is_followed() {
        install_crypto_provider();
        let first = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let second = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let second_port = second.local_addr().expect("bound").port();
        let first_port = first.local_addr().expect("bound").port();
        let policy = TargetPolicy::strict()
            .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("parses"))
            .with_allowed_ports(PortAllowance::Any);
        let redirect = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{second_port}/next\r\ncontent-length: 0\r\n\r\n"
        );
        let first_server = tokio::spawn(serve_once(first, redirect));
        let second_server = tokio::spawn(serve_once(
            second,
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
        ));

        let client = guarded_client_builder(Arc::new(policy), Arc::new(FakeResolver::new()))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client builds");
        let response = client
            .post(format!("http://127.0.0.1:{first_port}/"))
            .body("{}")
            .send()
            .await
            .expect("followed");
        assert_eq!(response.status(), 204);
        first_server.await.expect("server task").expect("served");
        let request = second_server.await.expect("server task").expect("served");
        assert!(request.starts_with("POST /next HTTP/1.1"), "{request}");
    }

    #[test]
    fn redirect_limit_message() {
        assert_eq!(
            TargetError::TooManyRedirects { limit: 10 }.to_string(),
            "more than 10 redirects"
        );
    }
}
