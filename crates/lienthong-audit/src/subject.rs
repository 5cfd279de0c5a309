//! The keyed hash that stands for a person in the audit log.
//!
//! A personal ID has only about 10^12 values with much of their structure known (province,
//! century and sex, birth year), so a plain hash of it is reversed by enumeration in hours. A
//! keyed hash (HMAC-SHA256 with a secret key) is not: without the key, the stored hashes say
//! nothing about whom they stand for, yet an auditor holding the key can still answer "who looked
//! this person up" by hashing the ID and searching for it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::chain::to_hex;

/// The HMAC key for subject hashes. Never printed.
#[derive(Clone)]
pub struct SubjectKey(Vec<u8>);

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(***)")
    }
}

impl SubjectKey {
    pub fn new(key: &str) -> Self {
        Self(key.as_bytes().to_vec())
    }

    /// HMAC-SHA256 of the personal ID (surrounding whitespace removed), as lowercase hex.
    pub fn hash(&self, personal_id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(personal_id.trim().as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = SubjectKey::new("Jefe");
        assert_eq!(
            key.hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn depends_on_the_key_and_hides_the_id() {
        let a = SubjectKey::new("key-a-0123456789abcdef0123456789");
        let b = SubjectKey::new("key-b-0123456789abcdef0123456789");
        let id = "001090012345";
        assert_ne!(a.hash(id), b.hash(id));
        assert_eq!(a.hash(id), a.hash(" 001090012345\n"));
        assert!(!a.hash(id).contains(id));
        assert_eq!(a.hash(id).len(), 64);
        assert!(!format!("{a:?}").contains("key-a"));
    }
}
