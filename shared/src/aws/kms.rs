//! The secret sealer on AWS: envelope encryption under the template's KMS key. A container asks KMS for
//! one data key (`GenerateDataKey`) the first time it seals and seals every value under it with
//! AES-256-GCM; each sealed value carries that data key as KMS encrypted it, so any container can open
//! it (`Decrypt`, once per data key: opened data keys are kept for the container's life). The KMS client
//! itself can be built when first needed ([`KmsSealer::client_on_first_use`]): building one parses the
//! SDK's partition table for KMS, an eighth of a function's init, which a container that never meets a
//! secret (an `api` instance taking alerts, a `deliver` instance whose endpoints have none) does not need.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use tokio::sync::OnceCell;

use crate::ports::secret_sealer::{SealError, SecretSealer};
use crate::sealing::{SealingKey, sealed_body, sealed_text};

/// Opened data keys a container keeps at most; past it, they are forgotten and opened again when met.
const OPENED_KEYS_KEPT: usize = 1024;

/// Seals under data keys of the KMS key `key_id` (an id, ARN or alias). Sealed body: the encrypted data
/// key's length (two bytes, big-endian), the encrypted data key, then nonce and ciphertext.
#[derive(Clone)]
pub struct KmsSealer {
    client: Arc<LazyClient>,
    key_id: String,
    /// This container's data key, asked for at the first seal.
    current: Arc<OnceCell<DataKey>>,
    /// Data keys opened by KMS, by their encrypted form.
    opened: Arc<Mutex<HashMap<Vec<u8>, SealingKey>>>,
}

/// The KMS client, or how to build it when first asked for.
type LazyClient = LazyLock<Client, Box<dyn FnOnce() -> Client + Send>>;

struct DataKey {
    key: SealingKey,
    encrypted: Vec<u8>,
}

impl std::fmt::Debug for KmsSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSealer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KmsSealer {
    pub fn new(client: Client, key_id: String) -> Self {
        Self::with_lazy_client(LazyLock::new(Box::new(move || client)), key_id)
    }

    /// With a client built from `sdk` the first time KMS is asked for something.
    pub fn client_on_first_use(sdk: SdkConfig, key_id: String) -> Self {
        Self::with_lazy_client(LazyLock::new(Box::new(move || Client::new(&sdk))), key_id)
    }

    fn with_lazy_client(client: LazyClient, key_id: String) -> Self {
        Self {
            client: Arc::new(client),
            key_id,
            current: Arc::new(OnceCell::new()),
            opened: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    async fn current_key(&self) -> Result<&DataKey, SealError> {
        self.current
            .get_or_try_init(|| async {
                let output = self
                    .client
                    .generate_data_key()
                    .key_id(&self.key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .send()
                    .await
                    .map_err(|e| key_service("GenerateDataKey", e))?;
                let (Some(plain), Some(encrypted)) = (output.plaintext, output.ciphertext_blob)
                else {
                    return Err(SealError::KeyService(
                        "GenerateDataKey answered without the key".into(),
                    ));
                };
                let key = data_key(plain.as_ref())?;
                let encrypted = encrypted.into_inner();
                self.keep_opened(&encrypted, &key);
                Ok(DataKey { key, encrypted })
            })
            .await
    }

    /// The data key sealed as `encrypted`: kept from before, or opened by KMS now.
    async fn opened_key(&self, encrypted: &[u8]) -> Result<SealingKey, SealError> {
        if let Some(key) = self.lock_opened().get(encrypted) {
            return Ok(key.clone());
        }
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted))
            .send()
            .await
            .map_err(|e| key_service("Decrypt", e))?;
        let plain = output
            .plaintext
            .ok_or_else(|| SealError::KeyService("Decrypt answered without the key".into()))?;
        let key = data_key(plain.as_ref())?;
        self.keep_opened(encrypted, &key);
        Ok(key)
    }

    fn keep_opened(&self, encrypted: &[u8], key: &SealingKey) {
        let mut opened = self.lock_opened();
        if opened.len() >= OPENED_KEYS_KEPT {
            opened.clear();
        }
        opened.insert(encrypted.to_vec(), key.clone());
    }

    fn lock_opened(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, SealingKey>> {
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn data_key(plain: &[u8]) -> Result<SealingKey, SealError> {
    SealingKey::from_bytes(plain)
        .ok_or_else(|| SealError::KeyService("KMS gave a data key that is not AES-256".into()))
}

fn key_service<E: std::error::Error + 'static>(operation: &str, error: E) -> SealError {
    SealError::KeyService(format!("{operation}: {}", DisplayErrorContext(error)))
}

#[async_trait]
impl SecretSealer for KmsSealer {
    async fn seal(&self, plain: &[u8]) -> Result<String, SealError> {
        let current = self.current_key().await?;
        let length = u16::try_from(current.encrypted.len())
            .map_err(|_| SealError::KeyService("the encrypted data key is too long".into()))?;
        let sealed = current.key.seal(plain)?;
        Ok(sealed_text(
            &[&length.to_be_bytes()[..], &current.encrypted, &sealed].concat(),
        ))
    }

    async fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let body = sealed_body(sealed)?;
        let (length, rest) = body.split_at_checked(2).ok_or(SealError::Malformed)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let (encrypted, value) = rest.split_at_checked(length).ok_or(SealError::Malformed)?;
        self.opened_key(encrypted).await?.open(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::{KEY_BYTES, tampered};
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};

    /// A sealer whose data key is already known and whose KMS is unreachable: what seals and opens here
    /// never asked KMS.
    fn sealer_with_data_key(key: [u8; KEY_BYTES], encrypted: &[u8]) -> KmsSealer {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let sealer = KmsSealer::new(Client::from_conf(config), "alias/test".into());
        let key = SealingKey::from_bytes(&key).unwrap();
        sealer.keep_opened(encrypted, &key);
        let _ = sealer.current.set(DataKey {
            key,
            encrypted: encrypted.to_vec(),
        });
        sealer
    }

    #[tokio::test]
    async fn a_value_opens_to_itself_with_its_data_key_inside() {
        let sealer = sealer_with_data_key([1; KEY_BYTES], b"encrypted-data-key");
        let sealed = sealer.seal(b"whsec_plain").await.unwrap();
        let body = sealed_body(&sealed).unwrap();
        assert_eq!(&body[..2], &18u16.to_be_bytes());
        assert_eq!(&body[2..20], b"encrypted-data-key");
        assert_ne!(sealer.seal(b"whsec_plain").await.unwrap(), sealed);
        assert_eq!(sealer.open(&sealed).await.unwrap(), b"whsec_plain");
    }

    #[tokio::test]
    async fn an_altered_value_is_refused() {
        let sealer = sealer_with_data_key([1; KEY_BYTES], b"encrypted-data-key");
        let sealed = sealer.seal(b"token").await.unwrap();
        assert_eq!(
            sealer.open(&tampered(&sealed)).await,
            Err(SealError::Refused)
        );
        assert_eq!(
            sealer.open(&sealed_text(&[0, 200, 1])).await,
            Err(SealError::Malformed)
        );
    }

    #[tokio::test]
    async fn another_data_key_is_refused() {
        let sealed = sealer_with_data_key([1; KEY_BYTES], b"encrypted-data-key")
            .seal(b"token")
            .await
            .unwrap();
        let other = sealer_with_data_key([2; KEY_BYTES], b"encrypted-data-key");
        assert_eq!(other.open(&sealed).await, Err(SealError::Refused));
    }

    #[test]
    fn no_key_shows_in_debug() {
        let sealer = sealer_with_data_key([1; KEY_BYTES], b"encrypted-data-key");
        assert_eq!(
            format!("{sealer:?}"),
            r#"KmsSealer { key_id: "alias/test", .. }"#
        );
    }
}
