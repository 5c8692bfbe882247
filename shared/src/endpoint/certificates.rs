//! Checks of the PEM an endpoint is given for TLS: a client certificate chain and its private key (mTLS),
//! and the certificate authorities its server is verified against. Whatever passes here loads in the
//! sender; what does not is refused at save with the reason.

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Most certificates in a chain or a CA bundle.
pub const MAX_CERTIFICATES: usize = 16;

/// Why a PEM was refused; each is said of the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("holds more than {MAX_CERTIFICATES} certificates")]
    TooMany,
    #[error("is not valid PEM: {0}")]
    NotPem(String),
    #[error("certificate {index} is not a valid X.509 certificate")]
    NotX509 { index: usize },
    #[error("expired on {0}")]
    Expired(DateTime<Utc>),
    #[error("is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey,
    #[error("is a key this build cannot sign with: {0}")]
    UnsupportedKey(String),
    #[error("does not match the certificate")]
    KeyMismatch,
}

/// The certificates of a PEM bundle, each a valid X.509 certificate, in order.
pub fn parse_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::NotPem(e.to_string()))?;
    if certificates.is_empty() {
        return Err(CertificateError::NoCertificate);
    }
    if certificates.len() > MAX_CERTIFICATES {
        return Err(CertificateError::TooMany);
    }
    for (index, der) in certificates.iter().enumerate() {
        x509_parser::parse_x509_certificate(der)
            .map_err(|_| CertificateError::NotX509 { index: index + 1 })?;
    }
    Ok(certificates)
}

/// The end of the validity of `pem`'s first certificate (the client's own), refused when `now` is outside
/// its validity.
pub fn client_certificate_valid_until(
    pem: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, CertificateError> {
    let chain = parse_certificates(pem)?;
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0])
        .map_err(|_| CertificateError::NotX509 { index: 1 })?;
    let validity = leaf.validity();
    let at = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    let (not_before, not_after) = (at(validity.not_before), at(validity.not_after));
    if now > not_after {
        return Err(CertificateError::Expired(not_after));
    }
    if now < not_before {
        return Err(CertificateError::NotYetValid(not_before));
    }
    Ok(not_after)
}

/// Checks that `key_pem` is a private key the sender can sign with and that it belongs to the first
/// certificate of `certificate_pem`.
pub fn check_key_pair(certificate_pem: &str, key_pem: &str) -> Result<(), CertificateError> {
    let chain = parse_certificates(certificate_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => CertificateError::NoKey,
        other => CertificateError::NotPem(other.to_string()),
    })?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| CertificateError::UnsupportedKey(e.to_string()))?;
    match rustls::sign::CertifiedKey::new(chain, signing_key).keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(CertificateError::KeyMismatch)
        }
        // `Unknown`: the key type cannot say; the handshake will.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair, date_time_ymd};

    use super::*;

    /// A self-signed certificate valid from 2026 to 2036, and its key.
    fn certificate() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["client.example".to_string()]).unwrap();
        params.not_before = date_time_ymd(2026, 1, 1);
        params.not_after = date_time_ymd(2036, 1, 1);
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_passes_and_another_key_does_not() {
        let (cert, key) = certificate();
        let (_, other_key) = certificate();
        assert_eq!(check_key_pair(&cert, &key), Ok(()));
        assert_eq!(
            check_key_pair(&cert, &other_key),
            Err(CertificateError::KeyMismatch)
        );
        assert_eq!(check_key_pair(&cert, &cert), Err(CertificateError::NoKey));
    }

    #[test]
    fn garbage_and_empty_pem_are_refused_with_the_reason() {
        assert_eq!(
            parse_certificates("hello"),
            Err(CertificateError::NoCertificate)
        );
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_certificates(broken),
            Err(CertificateError::NotX509 { index: 1 })
        );
        let (cert, _) = certificate();
        assert_eq!(
            parse_certificates(&cert.repeat(MAX_CERTIFICATES + 1)),
            Err(CertificateError::TooMany)
        );
    }

    #[test]
    fn validity_is_checked_against_now() {
        let (cert, _) = certificate();
        let now = "2030-01-01T00:00:00Z".parse().unwrap();
        let until = client_certificate_valid_until(&cert, now).unwrap();
        assert_eq!(
            until,
            "2036-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let after = until + chrono::Duration::days(1);
        assert_eq!(
            client_certificate_valid_until(&cert, after),
            Err(CertificateError::Expired(until))
        );
        let before = "2025-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            client_certificate_valid_until(&cert, before),
            Err(CertificateError::NotYetValid(
                "2026-01-01T00:00:00Z".parse().unwrap()
            ))
        );
    }
}
