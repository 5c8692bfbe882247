//! Sealing secret values with AES-256-GCM: the sealed text form, the cipher under both sealers, and
//! the sealer whose key this process holds itself (the embedded default, with its key file).

mod key_file;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::ports::secret_sealer::{SEALED_PREFIX, SealError, SecretSealer};

pub use key_file::{KEY_FILE, KeyFileError, load_or_create};

/// Bytes of a sealing key (AES-256).
pub const KEY_BYTES: usize = 32;
/// Bytes of the random nonce each sealed value starts with (96 bits, as GCM wants).
const NONCE_BYTES: usize = 12;
/// Bytes of the authentication tag each ciphertext ends with.
const TAG_BYTES: usize = 16;

/// One AES-256-GCM key. Sealing picks a random nonce per value and puts it before the ciphertext.
#[derive(Clone)]
pub struct SealingKey(Aes256Gcm);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(********)")
    }
}

impl SealingKey {
    /// A key of [`KEY_BYTES`] bytes; None for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Aes256Gcm::new_from_slice(bytes).ok().map(Self)
    }

    /// Nonce, then ciphertext with its tag.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let ciphertext = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plain)
            // Only a value beyond GCM's limit (64 GiB) fails.
            .map_err(|_| SealError::Malformed)?;
        Ok([nonce.as_slice(), &ciphertext].concat())
    }

    /// The plain bytes of what [`seal`](Self::seal) gave; refused if altered or sealed under another key.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_BYTES + TAG_BYTES {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.0
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError::Refused)
    }
}

/// The sealed text of `body`: [`SEALED_PREFIX`] and its base64.
pub fn sealed_text(body: &[u8]) -> String {
    format!("{SEALED_PREFIX}{}", BASE64.encode(body))
}

/// The body of a sealed text.
pub fn sealed_body(text: &str) -> Result<Vec<u8>, SealError> {
    let encoded = text
        .strip_prefix(SEALED_PREFIX)
        .ok_or(SealError::Malformed)?;
    BASE64.decode(encoded).map_err(|_| SealError::Malformed)
}

/// Seals under a key this process holds: the key file of an embedded data directory, or a random key
/// for an in-memory database.
#[derive(Debug, Clone)]
pub struct LocalSealer {
    key: SealingKey,
}

impl LocalSealer {
    pub fn new(key: SealingKey) -> Self {
        Self { key }
    }

    /// A sealer under a new random key, which dies with it (an in-memory database, tests).
    pub fn generate() -> Self {
        let bytes: [u8; KEY_BYTES] = rand::random();
        Self::new(SealingKey::from_bytes(&bytes).expect("a key of KEY_BYTES bytes"))
    }
}

#[async_trait]
impl SecretSealer for LocalSealer {
    async fn seal(&self, plain: &[u8]) -> Result<String, SealError> {
        Ok(sealed_text(&self.key.seal(plain)?))
    }

    async fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        self.key.open(&sealed_body(sealed)?)
    }
}

/// `sealed` with the last byte of its body flipped: a value altered in storage.
#[cfg(test)]
pub(crate) fn tampered(sealed: &str) -> String {
    let mut body = sealed_body(sealed).expect("a sealed value");
    let last = body.len() - 1;
    body[last] ^= 1;
    sealed_text(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::secret_sealer::is_sealed;

    #[tokio::test]
    async fn a_value_opens_to_itself_and_seals_differently_each_time() {
        let sealer = LocalSealer::generate();
        let first = sealer.seal(b"whsec_plain").await.unwrap();
        let second = sealer.seal(b"whsec_plain").await.unwrap();
        assert!(is_sealed(&first));
        assert!(!first.contains("whsec_plain"));
        assert_ne!(first, second, "a fresh nonce per value");
        assert_eq!(sealer.open(&first).await.unwrap(), b"whsec_plain");
        assert_eq!(sealer.open(&second).await.unwrap(), b"whsec_plain");
    }

    #[tokio::test]
    async fn an_altered_value_is_refused() {
        let sealer = LocalSealer::generate();
        let sealed = sealer.seal(b"token").await.unwrap();
        assert_eq!(
            sealer.open(&tampered(&sealed)).await,
            Err(SealError::Refused)
        );
        assert_eq!(sealer.open("sealed:v1:!!").await, Err(SealError::Malformed));
        assert_eq!(sealer.open("plain").await, Err(SealError::Malformed));
    }

    #[tokio::test]
    async fn another_key_is_refused() {
        let sealed = LocalSealer::generate().seal(b"token").await.unwrap();
        assert_eq!(
            LocalSealer::generate().open(&sealed).await,
            Err(SealError::Refused)
        );
    }

    #[test]
    fn no_key_shows_in_debug() {
        let bytes = [7u8; KEY_BYTES];
        let sealer = LocalSealer::new(SealingKey::from_bytes(&bytes).unwrap());
        assert_eq!(
            format!("{sealer:?}"),
            "LocalSealer { key: SealingKey(********) }"
        );
        assert!(SealingKey::from_bytes(&[0; 16]).is_none());
    }
}
