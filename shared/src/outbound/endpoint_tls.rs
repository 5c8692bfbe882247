//! Endpoints whose TLS differs from everyone else's: a client certificate to present (mTLS), or their own
//! certificate authorities to verify the server against. Each such set of settings gets its own HTTP
//! client, built like the shared one (target policy on every dial, no redirects, the same timeouts), and
//! kept for as long as the process runs (on Lambda, the container), keyed by what it was built from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::endpoint::Endpoint;
use crate::endpoint::auth::{ClientCertificate, client_certificate};
use crate::outbound::target_policy::{HostResolver, TargetPolicy, guarded_client_builder};
use crate::outbound::trusted_roots::TrustedRoots;

/// Clients kept before the cache starts again (endpoints replaced many times leave old entries).
const MAX_CLIENTS: usize = 256;

/// An endpoint's own TLS settings, as a request carries them to the sender.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointTls {
    /// The CAs the server is verified against, instead of the usual roots.
    pub ca_pem: Option<String>,
    pub client_certificate: Option<ClientCertificate>,
}

impl EndpointTls {
    /// The endpoint's settings, or `None` when the shared client serves it.
    pub fn of(endpoint: &Endpoint) -> Option<Self> {
        let client_certificate = client_certificate(&endpoint.auth).cloned();
        if endpoint.ca_pem.is_none() && client_certificate.is_none() {
            return None;
        }
        Some(Self {
            ca_pem: endpoint.ca_pem.clone(),
            client_certificate,
        })
    }

    fn cache_key(&self) -> String {
        let mut digest = Sha256::new();
        let certificate = self.client_certificate.as_ref();
        for part in [
            self.ca_pem.as_deref(),
            certificate.map(|c| c.certificate_pem.as_str()),
            certificate.map(|c| c.private_key_pem.as_str()),
        ] {
            let part = part.unwrap_or_default();
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        format!("{:x}", digest.finalize())
    }
}

/// How every client of the sender is built.
#[derive(Clone)]
pub struct ClientRecipe {
    pub policy: Arc<TargetPolicy>,
    pub resolver: Arc<dyn HostResolver>,
    pub roots: TrustedRoots,
    pub timeout: Duration,
}

impl ClientRecipe {
    /// A client with the usual roots, or with `tls`'s own CAs and client certificate.
    pub fn build(&self, tls: Option<&EndpointTls>) -> Result<reqwest::Client, reqwest::Error> {
        crate::outbound::sender::install_crypto_provider();
        let mut builder = guarded_client_builder(self.policy.clone(), self.resolver.clone());
        let certificate = tls.and_then(|t| t.client_certificate.as_ref());
        builder = match (tls.and_then(|t| t.ca_pem.as_deref()), certificate) {
            (Some(ca_pem), _) => {
                builder.tls_certs_only(reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())?)
            }
            (None, None) => self.roots.apply(builder)?,
            (None, Some(_)) => self.roots.apply_presenting_certificate(builder)?,
        };
        if let Some(certificate) = certificate {
            let pem = format!(
                "{}\n{}",
                certificate.certificate_pem, certificate.private_key_pem
            );
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes())?);
        }
        builder
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
    }
}

/// The clients of endpoints with their own TLS settings.
#[derive(Default)]
pub struct EndpointClients {
    clients: Mutex<HashMap<String, reqwest::Client>>,
}

impl EndpointClients {
    /// The client for `tls`, built with `recipe` the first time.
    pub fn client(
        &self,
        recipe: &ClientRecipe,
        tls: &EndpointTls,
    ) -> Result<reqwest::Client, reqwest::Error> {
        let key = tls.cache_key();
        if let Some(client) = self.lock().get(&key) {
            return Ok(client.clone());
        }
        let client = recipe.build(Some(tls))?;
        let mut clients = self.lock();
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        Ok(clients.entry(key).or_insert(client).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, reqwest::Client>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}
