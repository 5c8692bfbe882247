//! API keys: how they look, the hash under which they are stored, and the tenant a key belongs to.

use sha2::{Digest, Sha256};

use super::{Service, ServiceError};
use crate::ids::TenantId;

impl Service {
    /// The tenant whose key `key` is (as the caller sent it, not hashed), or `None` for a key nobody has.
    pub async fn authenticate(&self, key: &str) -> Result<Option<TenantId>, ServiceError> {
        Ok(self.ports.keys.tenant_for_key(&hash_api_key(key)).await?)
    }
}

/// A new key: `awk_` and 64 hex digits (256 random bits).
pub fn generate_api_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("awk_{}", hex(&bytes))
}

/// Keys are random and long, so one SHA-256 is enough to make a leaked table useless.
pub fn hash_api_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
