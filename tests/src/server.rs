//! alertwire in-process on the embedded store, opened to loopback targets, with fast retries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_shared::embedded::server::{self, EmbeddedServer, ServerConfig};
use alertwire_shared::endpoint::circuit::CircuitPolicy;
use alertwire_shared::endpoint::health::HealthPolicy;
use alertwire_shared::ids::TenantId;
use alertwire_shared::outbound::target_policy::{
    HostResolver, PortAllowance, SystemResolver, TargetPolicy,
};
use alertwire_shared::ports::store::ApiKeyStore;
use alertwire_shared::retention::Retention;
use alertwire_shared::service::{generate_api_key, hash_api_key};

use crate::ApiClient;

pub struct TestServer {
    pub server: EmbeddedServer,
    /// A client for tenant `alpha`.
    pub api: ApiClient,
}

/// Retries fast enough for tests: 10 attempts in well under two seconds.
pub const FAST_RETRIES: &str = "20ms,40ms,60ms,80ms,100ms";

impl TestServer {
    /// Loopback targets and any port allowed, fast retries, 2 s HTTP timeout.
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    /// The default target policy, as `alertwire serve` runs without `--allow-target`/`--allow-port`.
    pub async fn strict() -> TestServer {
        Self::with(|c| c.policy = TargetPolicy::strict()).await
    }

    pub async fn with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        Self::with_resolver(adjust, Arc::new(SystemResolver)).await
    }

    /// With deliveries resolving names through `resolver` (a [`crate::ScriptedDns`] in tests).
    pub async fn with_resolver(
        adjust: impl FnOnce(&mut ServerConfig),
        resolver: Arc<dyn HostResolver>,
    ) -> TestServer {
        let mut config = ServerConfig {
            data_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            policy: loopback_policy(),
            retry: RetryPolicy::parse(FAST_RETRIES).expect("valid delays"),
            http_timeout: Duration::from_secs(2),
            concurrency: 16,
            health: HealthPolicy::default(),
            // The breaker on, as in production, but with short cool-downs so that tests of failing
            // endpoints see their deliveries through ten attempts in about a second.
            circuit: CircuitPolicy {
                cooldown: Duration::from_millis(50),
                max_cooldown: Duration::from_millis(250),
                ..CircuitPolicy::default()
            },
            retention: Retention::default(),
            trusted_roots: Default::default(),
            durability: Default::default(),
        };
        adjust(&mut config);
        let server = server::start_with_resolver(config, resolver)
            .await
            .expect("alertwire starts");
        let key = Self::add_key(&server, "alpha").await;
        let api = ApiClient::new(format!("http://{}", server.addr), key);
        TestServer { server, api }
    }

    /// A new API key for `tenant`.
    pub async fn add_key(server: &EmbeddedServer, tenant: &str) -> String {
        let key = generate_api_key();
        server
            .database
            .add_key(&TenantId::from(tenant), &hash_api_key(&key), "test")
            .await
            .expect("key stored");
        key
    }

    /// A client for another tenant of the same server.
    pub async fn tenant(&self, tenant: &str) -> ApiClient {
        let key = Self::add_key(&self.server, tenant).await;
        self.api.with_key(&key)
    }
}

pub fn loopback_policy() -> TargetPolicy {
    TargetPolicy::strict()
        .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("a network"))
        .with_allowed_ports(PortAllowance::Any)
}

/// A fresh directory under the target dir for a test's data (never inside the source tree).
pub fn scratch_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let base = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>")
        .join("test-data");
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
