//! Connect-time name resolution under the policy: the injectable `HostResolver`, the system one, and the
//! `reqwest` DNS resolver that refuses a whole answer when any address in it is refused.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{TargetError, TargetPolicy};

/// The future a [`HostResolver`] returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Name resolution, injectable so tests can simulate DNS answers.
pub trait HostResolver: Send + Sync + 'static {
    fn resolve(&self, host: &str) -> ResolveFuture;
}

/// Resolves through the operating system (`getaddrinfo`, via `tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str) -> ResolveFuture {
        // The (host, port) form also accepts a bare IPv6 literal, which "{host}:0" would not.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A `reqwest` DNS resolver that resolves through a [`HostResolver`] and refuses the whole answer if ANY address
/// in it is not allowed by the policy, so a DNS answer mixing public and loopback addresses cannot slip through.
/// It also refuses names [`TargetPolicy::check_host_name`] refuses, before resolving them. The error names the
/// refused address and why.
///
/// `reqwest` does not call a DNS resolver when a URL's host is an IP literal, nor when a proxy is used: call
/// [`TargetPolicy::check_url`] right before every send, and build the client with `no_proxy()` and no redirects —
/// [`guarded_client_builder`](super::guarded_client_builder) does both.
pub struct PolicyResolver {
    policy: Arc<TargetPolicy>,
    inner: Arc<dyn HostResolver>,
}

impl PolicyResolver {
    pub fn new(policy: Arc<TargetPolicy>, inner: Arc<dyn HostResolver>) -> Self {
        PolicyResolver { policy, inner }
    }

    /// Resolves `host` and returns its addresses only if every one of them is allowed.
    pub fn resolve_checked(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<Vec<IpAddr>, TargetError>> + Send + 'static {
        resolve_checked(
            Arc::clone(&self.policy),
            Arc::clone(&self.inner),
            host.to_owned(),
        )
    }
}

impl std::fmt::Debug for PolicyResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let checked = self.resolve_checked(name.as_str());
        Box::pin(async move {
            let ips = checked.await?;
            // Port 0: reqwest puts in the URL's port (or the scheme's default).
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

async fn resolve_checked(
    policy: Arc<TargetPolicy>,
    inner: Arc<dyn HostResolver>,
    host: String,
) -> Result<Vec<IpAddr>, TargetError> {
    policy.check_host_name(&host)?;
    let mut ips = inner
        .resolve(&host)
        .await
        .map_err(|error| TargetError::Unresolvable {
            host: host.clone(),
            reason: error.to_string(),
        })?;
    if ips.is_empty() {
        return Err(TargetError::NoAddresses { host });
    }
    if let Some(refusal) = ips.iter().find_map(|ip| policy.refusal(*ip)) {
        return Err(TargetError::ResolvedAddressNotAllowed { host, refusal });
    }
    let mut seen = Vec::with_capacity(ips.len());
    ips.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::super::loopback_fixture::{FakeResolver, install_crypto_provider, serve_once};
    use super::super::{PortAllowance, guarded_client_builder};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address parses")
    }

    fn resolver(policy: TargetPolicy, fake: FakeResolver) -> PolicyResolver {
        PolicyResolver::new(Arc::new(policy), Arc::new(fake))
    }

    #[tokio::test]
    async fn mixed_answer_is_refused_whole() {
        let fake =
            FakeResolver::new().answer("rebind.example.com", &["93.184.215.14", "127.0.0.1"]);
        let error = resolver(TargetPolicy::strict(), fake)
            .resolve_checked("rebind.example.com")
            .await
            .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "the host `rebind.example.com` resolved to a refused address: 127.0.0.1 is a loopback address, \
             which is not allowed"
        );
    }

    #[tokio::test]
    async fn mapped_metadata_in_answer_is_refused() {
        let fake = FakeResolver::new().answer(
            "aaaa.example.com",
            &["2606:4700:4700::1111", "::ffff:169.254.169.254"],
        );
        let error = resolver(TargetPolicy::strict(), fake)
            .resolve_checked("aaaa.example.com")
            .await
            .expect_err("refused");
        assert!(
            matches!(error, TargetError::ResolvedAddressNotAllowed { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("cloud metadata"), "{error}");
    }

    #[tokio::test]
    async fn public_answer_is_allowed() {
        let fake = FakeResolver::new().answer(
            "hooks.example.com",
            &["93.184.215.14", "2606:4700:4700::1111", "93.184.215.14"],
        );
        let ips = resolver(TargetPolicy::strict(), fake)
            .resolve_checked("hooks.example.com")
            .await
            .expect("allowed");
        assert_eq!(ips, [ip("93.184.215.14"), ip("2606:4700:4700::1111")]);
    }

    #[tokio::test]
    async fn failures_and_refused_names() {
        let fake = FakeResolver::new().answer("empty.example.com", &[]);
        let r = resolver(TargetPolicy::strict(), fake);
        assert_eq!(
            r.resolve_checked("empty.example.com").await,
            Err(TargetError::NoAddresses {
                host: "empty.example.com".into()
            })
        );
        let error = r
            .resolve_checked("nowhere.example.com")
            .await
            .expect_err("unresolvable");
        assert!(
            error
                .to_string()
                .starts_with("the host `nowhere.example.com` could not be resolved"),
            "{error}"
        );
        assert!(matches!(
            r.resolve_checked("localhost").await,
            Err(TargetError::LocalhostName { .. })
        ));
        assert!(matches!(
            r.resolve_checked("metadata.google.internal.").await,
            Err(TargetError::InternalName { .. })
        ));
    }

    #[tokio::test]
    async fn allowed_network_opens_answer() {
        let fake = FakeResolver::new().answer("rebind.test", &["127.0.0.1", "::ffff:127.0.0.2"]);
        let policy = TargetPolicy::strict()
            .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("parses"));
        let ips = resolver(policy, fake)
            .resolve_checked("rebind.test")
            .await
            .expect("allowed");
        assert_eq!(ips.len(), 2);
    }

    #[tokio::test]
    async fn system_resolver_resolves_literals_without_network() {
        assert_eq!(
            SystemResolver.resolve("127.0.0.1").await.expect("resolves"),
            [ip("127.0.0.1")]
        );
        assert_eq!(
            SystemResolver.resolve("[::1]").await.expect("resolves"),
            [ip("::1")]
        );
    }

    /// A client whose resolver answers 127.0.0.1 for `rebind.test`, built the way delivery builds it.
    fn client(policy: TargetPolicy) -> reqwest::Client {
        install_crypto_provider();
        let fake = FakeResolver::new().answer("rebind.test", &["127.0.0.1"]);
        guarded_client_builder(Arc::new(policy), Arc::new(fake))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client builds")
    }

    #[tokio::test]
    async fn rebinding_to_loopback_never_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("bound").port();
        let error = client(TargetPolicy::strict())
            .post(format!("http://rebind.test:{port}/"))
            .body("{}")
            .send()
            .await
            .expect_err("refused");
        let chain = error_chain(&error);
        assert!(chain.contains("127.0.0.1 is a loopback address"), "{chain}");
        // Callers can recover the typed refusal from reqwest's error chain.
        let mut source = std::error::Error::source(&error);
        let mut refused = None;
        while let Some(cause) = source {
            if let Some(target_error) = cause.downcast_ref::<TargetError>() {
                refused = Some(target_error.clone());
            }
            source = cause.source();
        }
        assert!(
            matches!(refused, Some(TargetError::ResolvedAddressNotAllowed { ref host, .. }) if host == "rebind.test"),
            "{refused:?}"
        );

        let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(accepted.is_err(), "the listener received a connection");
    }

    #[tokio::test]
    async fn plain_reqwest_client_with_policy_resolver_refuses() {
        // The bare wiring the brief names: only `.dns_resolver(...)`.
        install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("bound").port();
        let fake = FakeResolver::new().answer("rebind.test", &["93.184.215.14", "127.0.0.1"]);
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver::new(
                Arc::new(TargetPolicy::strict()),
                Arc::new(fake),
            )))
            .build()
            .expect("client builds");
        let result = client
            .post(format!("http://rebind.test:{port}/"))
            .send()
            .await;
        assert!(result.is_err());
        let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(accepted.is_err(), "the listener received a connection");
    }

    #[tokio::test]
    async fn allowed_loopback_arrives() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("bound").port();
        let policy = TargetPolicy::strict()
            .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("parses"))
            .with_allowed_ports(PortAllowance::Any);

        let server = tokio::spawn(serve_once(
            listener,
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
        ));
        let response = client(policy)
            .post(format!("http://rebind.test:{port}/hook"))
            .body("{}")
            .send()
            .await
            .expect("delivered");
        assert_eq!(response.status(), 204);
        let request = server.await.expect("server task").expect("served");
        assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
        assert!(
            request
                .to_ascii_lowercase()
                .contains(&format!("host: rebind.test:{port}")),
            "{request}"
        );
    }

    #[tokio::test]
    async fn fixture_listener_answers() {
        // Guards the fixture itself: a raw client sees the canned response.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("bound");
        let server = tokio::spawn(serve_once(listener, "HTTP/1.1 204 No Content\r\n\r\n"));
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("writes");
        let request = server.await.expect("server task").expect("served");
        assert!(request.starts_with("GET / HTTP/1.1"));
    }

    fn error_chain(error: &dyn std::error::Error) -> String {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push_str(" / ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        chain
    }
}
