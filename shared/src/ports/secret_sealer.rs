//! The secret-sealing port: how an endpoint's secret values are kept unreadable at rest. The local
//! sealer (`sealing`) keeps its key in the data directory; the AWS one (`aws::kms`) seals under data keys
//! from KMS.

use async_trait::async_trait;

/// What every sealed value starts with: the version of the sealed form. A stored value without it is a
/// plain value written before values were sealed; it still reads, and is sealed at its next write.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Whether `text` is a sealed value (and not a plain one from before sealing).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not `sealed:v1:` and base64 of the parts this sealer writes.
    #[error("the sealed value is malformed")]
    Malformed,
    /// The authentication tag does not match: tampered with, or sealed under another key.
    #[error("the sealed value does not open under this key: altered, or sealed under another key")]
    Refused,
    /// The key service (KMS) could not give or open a data key.
    #[error("the key service failed: {0}")]
    KeyService(String),
}

/// Seals secret values before they are stored and opens them when read. Implementations never log the
/// values and show no key in `Debug`.
#[async_trait]
pub trait SecretSealer: Send + Sync + std::fmt::Debug {
    /// `plain` sealed: [`SEALED_PREFIX`] and base64, a fresh nonce each time.
    async fn seal(&self, plain: &[u8]) -> Result<String, SealError>;
    /// The plain bytes of a value [`seal`](Self::seal) returned.
    async fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError>;
}
