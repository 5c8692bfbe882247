//! API keys: how they look, and the hash under which they are stored.

use sha2::{Digest, Sha256};

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
