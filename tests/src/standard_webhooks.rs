//! Verifies `webhook-signature` the way a receiver following the Standard Webhooks spec does, without
//! alertwire's own signing code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.
pub fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let encoded = secret.strip_prefix("whsec_").expect("a whsec_ secret");
    let key = STANDARD.decode(encoded).expect("a base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// True when one of the space-separated signatures of `request` verifies with `secret`.
pub fn verifies(secret: &str, request: &crate::Received) -> bool {
    let (Some(id), Some(timestamp), Some(signatures)) = (
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
    ) else {
        return false;
    };
    let expected = expected_signature(secret, id, timestamp, &request.body);
    signatures.split(' ').any(|s| s == expected)
}
