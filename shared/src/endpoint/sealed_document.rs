//! An endpoint as the stores keep it: its JSON document with every secret value sealed (the signing
//! secret and those retiring, the verification token, the values of secret headers, the OAuth2 client
//! secret, the mTLS private key), opened again when read. Both store adapters go through here, so what is
//! sealed is decided once. [`OpenedDocuments`] keeps the endpoints opened lately, so that reading an
//! unchanged document again (every attempt reads its endpoint) costs a comparison, not a parse and the
//! opening of each sealed value.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::Endpoint;
use crate::ids::{EndpointId, TenantId};
use crate::ports::secret_sealer::{SecretSealer, is_sealed};
use crate::ports::store::StoreError;

/// The document to store for `endpoint`: every secret value sealed, whatever it looks like.
pub async fn sealed_document(
    endpoint: &Endpoint,
    sealer: &dyn SecretSealer,
) -> Result<String, StoreError> {
    let mut doc = serde_json::to_value(endpoint).map_err(unreadable)?;
    for slot in secret_slots(&mut doc) {
        if let Value::String(plain) = slot {
            *slot = Value::String(sealer.seal(plain.as_bytes()).await?);
        }
    }
    Ok(doc.to_string())
}

/// The endpoint of a stored document, its sealed values opened. A plain value (stored before values
/// were sealed) is taken as it is; the next write seals it.
pub async fn open_document(doc: &str, sealer: &dyn SecretSealer) -> Result<Endpoint, StoreError> {
    let mut doc: Value = serde_json::from_str(doc).map_err(unreadable)?;
    for slot in secret_slots(&mut doc) {
        if let Value::String(text) = slot
            && is_sealed(text)
        {
            let plain = String::from_utf8(sealer.open(text).await?)
                .map_err(|_| StoreError::Corrupt("a sealed endpoint value is not text".into()))?;
            *slot = Value::String(plain);
        }
    }
    serde_json::from_value(doc).map_err(unreadable)
}

/// Endpoints kept at once; past it every one is forgotten and opened again when read.
const DOCUMENTS_KEPT: usize = 2_000;

/// The endpoints a store adapter opened lately, each with the document it was opened from.
#[derive(Default)]
pub struct OpenedDocuments {
    opened: Mutex<HashMap<(TenantId, EndpointId), (String, Endpoint)>>,
}

impl OpenedDocuments {
    /// The endpoint `tenant`/`id` of `doc`: the one opened before if its document is the same text,
    /// else opened now (see [`open_document`]) and kept.
    pub async fn open(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        doc: &str,
        sealer: &dyn SecretSealer,
    ) -> Result<Endpoint, StoreError> {
        let key = (tenant.clone(), id.clone());
        if let Some((_, endpoint)) = self.lock().get(&key).filter(|(kept, _)| kept == doc) {
            return Ok(endpoint.clone());
        }
        let endpoint = open_document(doc, sealer).await?;
        let mut opened = self.lock();
        if opened.len() >= DOCUMENTS_KEPT {
            opened.clear();
        }
        opened.insert(key, (doc.to_string(), endpoint.clone()));
        Ok(endpoint)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(TenantId, EndpointId), (String, Endpoint)>> {
        self.opened.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Shows how many endpoints are kept, never their values.
impl std::fmt::Debug for OpenedDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedDocuments")
            .field("kept", &self.lock().len())
            .finish()
    }
}

fn unreadable(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("an endpoint document: {e}"))
}

/// Where an endpoint document holds secret values: the fields [`Endpoint::secret_values`] reads.
fn secret_slots(doc: &mut Value) -> Vec<&mut Value> {
    let mut slots = Vec::new();
    let Some(fields) = doc.as_object_mut() else {
        return slots;
    };
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "secret" | "verification_token" => slots.push(value),
            "retiring_secrets" => slots.extend(
                value
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .filter_map(|retiring| retiring.get_mut("secret")),
            ),
            "auth" => slots.extend(
                value
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .filter_map(|auth| {
                        auth.as_object_mut()?
                            .iter_mut()
                            .find(|(name, _)| {
                                *name == "client_secret" || *name == "private_key_pem"
                            })
                            .map(|(_, value)| value)
                    }),
            ),
            "headers" => slots.extend(secret_header_values(value)),
            "message_types" => {
                let routes = value
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut());
                for headers in routes.filter_map(|route| route.get_mut("headers")) {
                    slots.extend(secret_header_values(headers));
                }
            }
            _ => {}
        }
    }
    slots
}

fn secret_header_values(headers: &mut Value) -> impl Iterator<Item = &mut Value> {
    headers
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|header| header.get("secret") == Some(&Value::Bool(true)))
        .filter_map(|header| header.get_mut("value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::auth::{
        ClientAuthentication, ClientCertificate, EndpointAuth, OAuth2ClientCredentials,
    };
    use crate::endpoint::{HeaderSpec, RetiringSecret, Route, RouteOverride};
    use crate::sealing::LocalSealer;
    use crate::webhook::signing::WebhookSecret;

    fn header(name: &str, value: &str, secret: bool) -> HeaderSpec {
        HeaderSpec {
            name: name.into(),
            value: value.into(),
            secret,
        }
    }

    /// An endpoint holding every kind of secret value, and a header that is not secret.
    fn endpoint_with_every_secret() -> Endpoint {
        let mut endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "id": "ep_1", "tenant": "t", "name": "n", "url": "https://example.com/hook",
            "method": "POST", "headers": [], "content_type": "application/json", "body": "{}",
            "min_severity": "info", "message_types": {"error": {"mode": "default"},
            "reminder": {"mode": "default"}, "ok": {"mode": "default"}}, "secret": null,
            "verification_token": null, "enabled": true, "disabled_reason": null, "version": 1,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .expect("a valid endpoint document");
        endpoint.secret = Some(WebhookSecret::generate());
        endpoint.retiring_secrets = vec![RetiringSecret {
            secret: WebhookSecret::generate(),
            until: endpoint.created_at,
        }];
        endpoint.verification_token = Some("verify-token-plain".into());
        endpoint.auth = vec![
            EndpointAuth::OAuth2(OAuth2ClientCredentials {
                token_url: "https://idp.example.com/oauth/token".into(),
                client_id: "client-visible".into(),
                client_secret: "client-secret-plain".into(),
                scope: None,
                audience: None,
                client_auth: ClientAuthentication::Basic,
            }),
            EndpointAuth::Mtls(ClientCertificate {
                certificate_pem: "certificate-visible".into(),
                private_key_pem: "private-key-plain".into(),
                not_after: endpoint.created_at,
            }),
        ];
        endpoint.headers = vec![
            header("Authorization", "Bearer header-plain", true),
            header("X-Team", "team-visible", false),
        ];
        endpoint.message_types.ok = Route::Override(RouteOverride {
            headers: Some(vec![header("X-Ok-Key", "ok-header-plain", true)]),
            ..RouteOverride::default()
        });
        endpoint
    }

    #[tokio::test]
    async fn every_secret_value_is_sealed_and_opens_again() {
        let sealer = LocalSealer::generate();
        let endpoint = endpoint_with_every_secret();
        let doc = sealed_document(&endpoint, &sealer).await.unwrap();
        let secrets = endpoint.secret_values();
        assert_eq!(secrets.len(), 7);
        for secret in &secrets {
            assert!(!doc.contains(secret.as_str()), "{secret} is stored plain");
        }
        assert!(doc.contains("team-visible"), "a header that is not secret");
        assert!(doc.contains("client-visible"), "an OAuth2 client id");
        assert!(doc.contains("certificate-visible"), "a client certificate");
        assert_eq!(open_document(&doc, &sealer).await.unwrap(), endpoint);
    }

    #[tokio::test]
    async fn plain_values_from_before_sealing_still_read() {
        let endpoint = endpoint_with_every_secret();
        let plain_doc = serde_json::to_string(&endpoint).unwrap();
        let opened = open_document(&plain_doc, &LocalSealer::generate()).await;
        assert_eq!(opened.unwrap(), endpoint);
    }

    #[tokio::test]
    async fn a_value_that_looks_sealed_is_sealed_too() {
        let sealer = LocalSealer::generate();
        let mut endpoint = endpoint_with_every_secret();
        endpoint.verification_token = Some("sealed:v1:not-really".into());
        let doc = sealed_document(&endpoint, &sealer).await.unwrap();
        assert_eq!(open_document(&doc, &sealer).await.unwrap(), endpoint);
    }

    #[tokio::test]
    async fn a_document_under_another_key_is_corrupt_not_plain() {
        let doc = sealed_document(&endpoint_with_every_secret(), &LocalSealer::generate())
            .await
            .unwrap();
        let err = open_document(&doc, &LocalSealer::generate())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }

    /// Counts the values it opens, so a test sees whether a document was opened again.
    #[derive(Debug)]
    struct CountingSealer {
        inner: LocalSealer,
        opened: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl SecretSealer for CountingSealer {
        async fn seal(
            &self,
            plain: &[u8],
        ) -> Result<String, crate::ports::secret_sealer::SealError> {
            self.inner.seal(plain).await
        }
        async fn open(
            &self,
            sealed: &str,
        ) -> Result<Vec<u8>, crate::ports::secret_sealer::SealError> {
            self.opened
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.open(sealed).await
        }
    }

    #[tokio::test]
    async fn an_unchanged_document_is_opened_once_and_a_changed_one_again() {
        // GIVEN an endpoint's sealed document, read twice through the kept documents
        let sealer = CountingSealer {
            inner: LocalSealer::generate(),
            opened: Default::default(),
        };
        let mut endpoint = endpoint_with_every_secret();
        let doc = sealed_document(&endpoint, &sealer).await.unwrap();
        let kept = OpenedDocuments::default();
        let opens = || sealer.opened.load(std::sync::atomic::Ordering::Relaxed);
        let first = kept
            .open(&endpoint.tenant, &endpoint.id, &doc, &sealer)
            .await
            .unwrap();
        let after_first = opens();
        let second = kept
            .open(&endpoint.tenant, &endpoint.id, &doc, &sealer)
            .await
            .unwrap();

        // THEN the second read opens nothing and answers the same endpoint
        assert_eq!(after_first, 7);
        assert_eq!(opens(), after_first);
        assert_eq!(second, first);
        assert_eq!(second, endpoint);

        // WHEN the endpoint is written again with another secret value
        endpoint.verification_token = Some("a new token".into());
        let changed = sealed_document(&endpoint, &sealer).await.unwrap();
        let third = kept
            .open(&endpoint.tenant, &endpoint.id, &changed, &sealer)
            .await
            .unwrap();

        // THEN the new document is opened, and gives the new value
        assert_eq!(opens(), after_first + 7);
        assert_eq!(third.verification_token.as_deref(), Some("a new token"));
    }
}
