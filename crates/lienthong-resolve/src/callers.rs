//! Who may call the resolver's gRPC service.
//!
//! The resolver answers with register data (personal IDs, names, birth dates), so outside a
//! trusted network only the services that need it — the lookup API above all — may call it:
//! those whose client certificate, verified by TLS against `[resolve] tls.client_ca`, carries
//! one of `[resolve] allowed_callers`, or that present a bearer token whose SHA-256 is one of
//! `[resolve] allowed_token_sha256`. Names are compared as partner policies compare them
//! ([`normalize_subject`]): an RFC 4514 subject (`CN=lookup,O=Bo Noi vu,C=VN`) or a DNS name of
//! the certificate's subject alternative names.
//!
//! Without either list the service is open, as on a developer's machine; `lienthong resolve`
//! warns about it at start.

use std::collections::BTreeSet;
use std::sync::Arc;

use lienthong_policy::{normalize_subject, token_sha256};
use lienthong_runtime::config::Problems;
use lienthong_runtime::grpc::{Credentials, GrpcTlsConfig};
use tonic::{Request, Status};

/// The allow-list of callers. Cheap to clone: the lists are shared.
#[derive(Debug, Clone, Default)]
pub struct AllowedCallers {
    lists: Arc<Lists>,
}

#[derive(Debug, Default)]
struct Lists {
    /// Normalised certificate names.
    names: BTreeSet<String>,
    /// Lowercase hex SHA-256 of the accepted tokens.
    token_hashes: BTreeSet<String>,
}

/// Who a call was let in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// No allow-list is configured: every caller is let in.
    Open,
    /// The caller's certificate carries this allowed name (as normalised).
    Certificate(String),
    /// The caller presented an allowed bearer token.
    Token,
}

/// Why a call is refused; the text is fit for an UNAUTHENTICATED status and says what to fix
/// without echoing a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "the resolver admits only listed callers: present a client certificate or a bearer token"
    )]
    NoCredentials,
    #[error("no name of the client certificate ({}) is in [resolve] allowed_callers", names.join("; "))]
    UnknownCertificate { names: Vec<String> },
    #[error("the bearer token is not one of [resolve] allowed_token_sha256")]
    UnknownToken,
}

impl AllowedCallers {
    /// The allow-list of `allowed_callers` (certificate names) and `allowed_token_sha256`
    /// (hex SHA-256 of tokens). Entries [`validate`] reports are skipped.
    pub fn new(allowed_callers: &[String], allowed_token_sha256: &[String]) -> Self {
        let names = allowed_callers
            .iter()
            .map(|name| normalize_subject(name))
            .filter(|name| !name.is_empty())
            .collect();
        let token_hashes = allowed_token_sha256
            .iter()
            .map(|hash| hash.trim().to_ascii_lowercase())
            .filter(|hash| is_sha256_hex(hash))
            .collect();
        Self {
            lists: Arc::new(Lists {
                names,
                token_hashes,
            }),
        }
    }

    /// No allow-list: every caller is let in.
    pub fn is_open(&self) -> bool {
        self.lists.names.is_empty() && self.lists.token_hashes.is_empty()
    }

    /// Decides whether a caller with `credentials` is let in. A certificate is tried first;
    /// when it carries no listed name, a listed token still lets the caller in.
    pub fn admit(&self, credentials: &Credentials) -> Result<Admitted, Refused> {
        if self.is_open() {
            return Ok(Admitted::Open);
        }
        if let Some(name) = credentials
            .certificate_names
            .iter()
            .map(|name| normalize_subject(name))
            .find(|name| self.lists.names.contains(name))
        {
            return Ok(Admitted::Certificate(name));
        }
        if let Some(token) = &credentials.bearer_token
            && self.lists.token_hashes.contains(&token_sha256(token))
        {
            return Ok(Admitted::Token);
        }
        Err(if credentials.bearer_token.is_some() {
            Refused::UnknownToken
        } else if !credentials.certificate_names.is_empty() {
            Refused::UnknownCertificate {
                names: credentials.certificate_names.clone(),
            }
        } else {
            Refused::NoCredentials
        })
    }
}

/// The gate in front of `ResolveService`: a refused call answers UNAUTHENTICATED before the
/// service sees it.
impl tonic::service::Interceptor for AllowedCallers {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match self.admit(&Credentials::of(&request)) {
            Ok(_) => Ok(request),
            Err(refused) => {
                tracing::warn!(reason = %refused, "resolver call refused");
                Err(Status::unauthenticated(refused.to_string()))
            }
        }
    }
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// The `[resolve]` rules of the allow-list: well-formed entries, and certificate names only
/// where TLS can verify a client certificate.
pub fn validate(
    tls: Option<&GrpcTlsConfig>,
    allowed_callers: &[String],
    allowed_token_sha256: &[String],
    problems: &mut Problems,
) {
    if let Some(tls) = tls {
        problems.nested("tls", tls);
    }
    for (i, name) in allowed_callers.iter().enumerate() {
        if name.trim().is_empty() {
            problems.push(format!("allowed_callers[{i}]"), "must not be empty");
        }
    }
    if !allowed_callers.is_empty() && tls.is_none_or(|tls| tls.client_ca.is_none()) {
        problems.push(
            "allowed_callers",
            "client certificates are checked only with tls.client_ca: set [resolve.tls] with client_ca, or admit callers by token",
        );
    }
    for (i, hash) in allowed_token_sha256.iter().enumerate() {
        if !is_sha256_hex(hash.trim()) {
            problems.push(
                format!("allowed_token_sha256[{i}]"),
                "not a SHA-256 in hex (64 hex digits): list the token's hash (`printf %s TOKEN | sha256sum`), never the token",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const LOOKUP: &str = "CN=lienthong-lookup,O=Bo Noi vu,C=VN";

    fn certificate(names: &[&str]) -> Credentials {
        Credentials {
            certificate_names: names.iter().map(|n| (*n).to_owned()).collect(),
            bearer_token: None,
        }
    }

    fn token(token: &str) -> Credentials {
        Credentials {
            certificate_names: Vec::new(),
            bearer_token: Some(token.to_owned()),
        }
    }

    #[test]
    fn without_a_list_everyone_is_admitted() {
        let open = AllowedCallers::new(&[], &[]);
        assert!(open.is_open());
        assert_eq!(open.admit(&Credentials::default()), Ok(Admitted::Open));
        assert_eq!(open.admit(&token("anything")), Ok(Admitted::Open));
    }

    #[test]
    fn a_listed_certificate_name_or_token_is_admitted_and_nothing_else() {
        let callers = AllowedCallers::new(
            &[
                " cn=LIENTHONG-lookup,  O=Bo Noi vu, C=VN ".to_owned(),
                "lookup.lienthong.internal".to_owned(),
            ],
            &[token_sha256("s3cret").to_ascii_uppercase()],
        );
        assert!(!callers.is_open());
        // The subject as x509 prints it matches the operator's spelling.
        assert_eq!(
            callers.admit(&certificate(&[LOOKUP])),
            Ok(Admitted::Certificate(normalize_subject(LOOKUP)))
        );
        // A DNS name of the certificate is enough.
        assert_eq!(
            callers.admit(&certificate(&["CN=other", "lookup.lienthong.internal"])),
            Ok(Admitted::Certificate(
                "lookup.lienthong.internal".to_owned()
            ))
        );
        assert_eq!(callers.admit(&token("s3cret")), Ok(Admitted::Token));

        assert_eq!(
            callers.admit(&Credentials::default()),
            Err(Refused::NoCredentials)
        );
        assert_eq!(
            callers.admit(&certificate(&["CN=stranger,O=Khong ai,C=VN"])),
            Err(Refused::UnknownCertificate {
                names: vec!["CN=stranger,O=Khong ai,C=VN".to_owned()]
            })
        );
        let refused = callers.admit(&token("guess")).unwrap_err();
        assert_eq!(refused, Refused::UnknownToken);
        assert!(!refused.to_string().contains("guess"));
        // An unknown certificate with a listed token: the token admits.
        let mut both = certificate(&["CN=stranger"]);
        both.bearer_token = Some("s3cret".to_owned());
        assert_eq!(callers.admit(&both), Ok(Admitted::Token));
    }

    #[test]
    fn the_interceptor_answers_unauthenticated() {
        use tonic::service::Interceptor as _;

        let mut callers = AllowedCallers::new(&[], &[token_sha256("s3cret")]);
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(callers.call(request).is_ok());
        let refused = callers.call(Request::new(())).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        assert!(
            refused
                .message()
                .contains("client certificate or a bearer token")
        );
    }

    #[test]
    fn malformed_entries_and_names_without_client_certificates_are_reported() {
        let fields = |tls: Option<&GrpcTlsConfig>, names: &[&str], hashes: &[&str]| {
            let mut problems = Problems::new();
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            let hashes: Vec<String> = hashes.iter().map(|n| (*n).to_owned()).collect();
            validate(tls, &names, &hashes, &mut problems);
            problems.iter().map(|p| p.field.clone()).collect::<Vec<_>>()
        };
        assert!(fields(None, &[], &[&token_sha256("t")]).is_empty());
        assert_eq!(
            fields(None, &[LOOKUP, " "], &["s3cret"]),
            [
                "allowed_callers[1]",
                "allowed_callers",
                "allowed_token_sha256[0]"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pem");
        std::fs::write(&file, "").unwrap();
        let mut tls = GrpcTlsConfig {
            cert: file.clone(),
            key: file.clone(),
            client_ca: None,
            require_client_certificate: false,
        };
        assert_eq!(fields(Some(&tls), &[LOOKUP], &[]), ["allowed_callers"]);
        tls.client_ca = Some(file);
        assert!(fields(Some(&tls), &[LOOKUP], &[]).is_empty());
        tls.cert = PathBuf::from("/nonexistent/cert.pem");
        assert_eq!(fields(Some(&tls), &[LOOKUP], &[]), ["tls.cert"]);
    }
}
