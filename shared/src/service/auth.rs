//! API keys: how they look, the hash under which they are stored, the tenant a key belongs to, and a
//! tenant's keys listed and revoked by id.

use sha2::{Digest, Sha256};

use super::{Service, ServiceError};
use crate::ids::{ApiKeyId, TenantId};
use crate::ports::store::{ApiKeyRecord, Revocation};

/// The longest key id looked up; longer ones are no key's (generated ids are 36 characters).
const MAX_KEY_ID_LEN: usize = 100;

impl Service {
    /// The tenant whose key `key` is (as the caller sent it, not hashed), or `None` for a key nobody has.
    /// A key found lately is not read again ([`super::known_keys`]).
    pub async fn authenticate(&self, key: &str) -> Result<Option<TenantId>, ServiceError> {
        let hash = hash_api_key(key);
        if let Some(tenant) = self.known_keys.tenant(&hash) {
            return Ok(Some(tenant));
        }
        let lookup = self.known_keys.lookup();
        let tenant = self.ports.keys.tenant_for_key(&hash).await?;
        if let Some(tenant) = &tenant {
            self.known_keys.remember(lookup, hash, tenant.clone());
        }
        Ok(tenant)
    }

    /// The tenant's keys (ids, labels and creation times), oldest first.
    pub async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.ports.keys.list_keys(tenant).await?)
    }

    /// Revokes the tenant's key `id`: it is refused from the next request on. The tenant's last key is
    /// kept (a conflict): without it nobody could call the API for the tenant again.
    pub async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<(), ServiceError> {
        if id.as_str().len() > MAX_KEY_ID_LEN {
            return Err(ServiceError::NotFound("API key"));
        }
        let revoked = self.ports.keys.revoke_key(tenant, id).await;
        // Forgotten whatever the store answered: a failed call may have revoked the key all the same.
        self.known_keys.forget_tenant(tenant);
        match revoked? {
            Revocation::Revoked => Ok(()),
            Revocation::NotFound => Err(ServiceError::NotFound("API key")),
            Revocation::LastKey => Err(ServiceError::Conflict(
                "this is the tenant's last API key: create another before revoking it".into(),
            )),
        }
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
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, b| {
            let _ = write!(text, "{b:02x}");
            text
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_awk_and_64_hex_digits() {
        // WHEN a key is generated
        let key = generate_api_key();

        // THEN it reads `awk_` then 64 lowercase hex digits
        let digits = key.strip_prefix("awk_").unwrap();
        assert_eq!(digits.len(), 64);
        assert!(
            digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn two_new_keys_differ() {
        assert_ne!(generate_api_key(), generate_api_key());
    }

    #[test]
    fn a_key_is_stored_under_its_sha256_in_hex() {
        // GIVEN the SHA-256 test vector for "abc" THEN the hash is its lowercase hex digest
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_same_key_always_hashes_alike_and_another_key_otherwise() {
        let key = generate_api_key();
        assert_eq!(hash_api_key(&key), hash_api_key(&key));
        assert_ne!(hash_api_key(&key), hash_api_key(&generate_api_key()));
    }
}
