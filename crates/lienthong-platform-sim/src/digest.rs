//! Request body hashes: `Content-Digest` (RFC 9530) and the older `Digest` (RFC 3230), both with
//! SHA-256, which is what the platforms ask for so that a body altered between the member's
//! system and the platform is detected.
//!
//! | header           | accepted form                       |
//! |------------------|-------------------------------------|
//! | `Content-Digest` | `sha-256=:<base64 of SHA-256>:`     |
//! | `Digest`         | `SHA-256=<base64 of SHA-256>`       |
//!
//! Either header may list several algorithms separated by commas; only SHA-256 is checked and it
//! must be present. When both headers are sent, both must match. Everything here is pure.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// Why a body hash was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error(
        "missing body hash: send Content-Digest: sha-256=:<base64>: (or Digest: SHA-256=<base64>)"
    )]
    Missing,
    #[error("{header} is malformed: {reason}")]
    Malformed {
        header: &'static str,
        reason: String,
    },
    #[error("{header} has no sha-256 entry (only SHA-256 is supported)")]
    NoSha256 { header: &'static str },
    #[error("{header} does not match the body: body hashes to {computed}, header says {presented}")]
    Mismatch {
        header: &'static str,
        computed: String,
        presented: String,
    },
}

/// SHA-256 of `body`.
pub fn sha256(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// Lower-case hex of SHA-256 of `body`, the form stored and shown by the inspection API.
pub fn sha256_hex(body: &[u8]) -> String {
    sha256(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Content-Digest` value a client sends for `body`.
pub fn content_digest_value(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sha256(body)))
}

/// The legacy `Digest` value a client sends for `body`.
pub fn legacy_digest_value(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(sha256(body)))
}

/// Checks the body against whichever digest headers were sent.
pub fn verify(
    content_digest: Option<&str>,
    legacy_digest: Option<&str>,
    body: &[u8],
) -> Result<(), DigestError> {
    if content_digest.is_none() && legacy_digest.is_none() {
        return Err(DigestError::Missing);
    }
    let computed = sha256(body);
    if let Some(value) = content_digest {
        let presented = find_sha256(value, "Content-Digest", true)?;
        compare("Content-Digest", &computed, presented)?;
    }
    if let Some(value) = legacy_digest {
        let presented = find_sha256(value, "Digest", false)?;
        compare("Digest", &computed, presented)?;
    }
    Ok(())
}

/// The base64 text of the SHA-256 member of a digest header. RFC 9530 wraps it in colons (a
/// structured-field byte sequence); RFC 3230 does not.
fn find_sha256<'a>(
    value: &'a str,
    header: &'static str,
    colon_wrapped: bool,
) -> Result<&'a str, DigestError> {
    for member in value.split(',') {
        let member = member.trim();
        let Some((algorithm, encoded)) = member.split_once('=') else {
            return Err(DigestError::Malformed {
                header,
                reason: format!("{member:?} is not algorithm=value"),
            });
        };
        if !algorithm.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        let encoded = encoded.trim();
        if !colon_wrapped {
            return Ok(encoded);
        }
        return encoded
            .strip_prefix(':')
            .and_then(|rest| rest.strip_suffix(':'))
            .ok_or_else(|| DigestError::Malformed {
                header,
                reason: "the sha-256 value must be wrapped in colons, as in sha-256=:<base64>:"
                    .into(),
            });
    }
    Err(DigestError::NoSha256 { header })
}

fn compare(header: &'static str, computed: &[u8; 32], presented: &str) -> Result<(), DigestError> {
    let decoded = STANDARD
        .decode(presented)
        .map_err(|e| DigestError::Malformed {
            header,
            reason: format!("sha-256 value is not base64: {e}"),
        })?;
    if decoded.as_slice() == computed.as_slice() {
        Ok(())
    } else {
        Err(DigestError::Mismatch {
            header,
            computed: STANDARD.encode(computed),
            presented: presented.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vector() {
        // SHA-256 of the empty string.
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            content_digest_value(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn missing_and_other_algorithms_are_refused() {
        assert_eq!(verify(None, None, b"x"), Err(DigestError::Missing));
        assert_eq!(
            verify(Some("sha-512=:AAAA:"), None, b"x"),
            Err(DigestError::NoSha256 {
                header: "Content-Digest"
            })
        );
        assert!(matches!(
            verify(Some("sha-256=AAAA"), None, b"x"),
            Err(DigestError::Malformed { .. })
        ));
        assert!(matches!(
            verify(None, Some("SHA-256=***"), b"x"),
            Err(DigestError::Malformed { .. })
        ));
    }

    #[test]
    fn multi_algorithm_header_uses_sha256_member() {
        let value = format!("sha-512=:AAAA:, {}", content_digest_value(b"body"));
        assert_eq!(verify(Some(&value), None, b"body"), Ok(()));
    }

    #[test]
    fn both_headers_must_match() {
        let good = content_digest_value(b"body");
        let bad = legacy_digest_value(b"other");
        assert!(matches!(
            verify(Some(&good), Some(&bad), b"body"),
            Err(DigestError::Mismatch {
                header: "Digest",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn own_values_verify_and_detect_changes(body in proptest::collection::vec(any::<u8>(), 0..256), flip in any::<usize>()) {
            prop_assert_eq!(verify(Some(&content_digest_value(&body)), None, &body), Ok(()));
            prop_assert_eq!(verify(None, Some(&legacy_digest_value(&body)), &body), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = flip % changed.len();
                changed[i] ^= 0x01;
                let mismatch = matches!(
                    verify(Some(&content_digest_value(&body)), None, &changed),
                    Err(DigestError::Mismatch { .. })
                );
                prop_assert!(mismatch);
            }
        }
    }
}
