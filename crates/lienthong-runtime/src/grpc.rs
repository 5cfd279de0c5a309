//! What every gRPC server and client of lienthong shares: listening, TLS (with optional client
//! certificates), the caller's credentials (certificate names, bearer token), a server builder
//! with the default deadline, client TLS, and the file checks `lienthong validate` runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, Server, ServerTlsConfig};
use x509_cert::der::Decode as _;

use crate::config::{Problems, Validate};

/// `tls` of a gRPC server section. Without it the server speaks plaintext HTTP/2 (local use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrpcTlsConfig {
    /// PEM certificate chain of the server.
    pub cert: PathBuf,
    /// PEM private key of the server.
    pub key: PathBuf,
    /// PEM bundle of the CAs whose client certificates are accepted (mutual TLS). Unset: no
    /// client certificates are asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Refuse connections without a client certificate. When false, a client may present a
    /// certificate or authenticate with a bearer token over server-authenticated TLS.
    #[serde(default)]
    pub require_client_certificate: bool,
}

impl Validate for GrpcTlsConfig {
    fn validate(&self, problems: &mut Problems) {
        for (field, path) in [("cert", Some(&self.cert)), ("key", Some(&self.key))]
            .into_iter()
            .chain([("client_ca", self.client_ca.as_ref())])
        {
            if let Some(path) = path
                && !path.is_file()
            {
                problems.push(field, format!("{} is not a readable file", path.display()));
            }
        }
        if self.require_client_certificate && self.client_ca.is_none() {
            problems.push(
                "require_client_certificate",
                "needs client_ca: the CAs client certificates are checked against",
            );
        }
    }
}

/// TLS of a gRPC client (one lienthong service calling another): the CAs the server's
/// certificate must chain to and, for a server that asks for one (mutual TLS), the client's own
/// certificate. The server's URL must then be `https://`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrpcClientTlsConfig {
    /// PEM bundle of the CAs the server's certificate must chain to (no system roots are
    /// trusted: internal services have their own CA).
    pub ca: PathBuf,
    /// PEM certificate chain presented to the server (mutual TLS); with `key`.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The name the server's certificate must carry, when it is not the URL's host.
    #[serde(default)]
    pub domain: Option<String>,
}

impl Validate for GrpcClientTlsConfig {
    fn validate(&self, problems: &mut Problems) {
        for (field, path) in [
            ("ca", Some(&self.ca)),
            ("cert", self.cert.as_ref()),
            ("key", self.key.as_ref()),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                problems.push(field, format!("{} is not a readable file", path.display()));
            }
        }
        match (&self.cert, &self.key) {
            (Some(_), None) => problems.push("key", "cert needs its key"),
            (None, Some(_)) => problems.push("cert", "key needs its cert"),
            _ => {}
        }
        if self.domain.as_deref().is_some_and(str::is_empty) {
            problems.push("domain", "must not be empty when set");
        }
    }
}

/// The TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{cert} and {key} do not belong together: {reason}")]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("TLS: {0}")]
    Tls(#[source] tonic::transport::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn read(path: &PathBuf) -> Result<Vec<u8>, GrpcError> {
    std::fs::read(path).map_err(|source| GrpcError::Read {
        path: path.clone(),
        source,
    })
}

/// The tonic TLS settings of `config`.
pub fn server_tls(config: &GrpcTlsConfig) -> Result<ServerTlsConfig, GrpcError> {
    let identity = Identity::from_pem(read(&config.cert)?, read(&config.key)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.client_ca {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(ca)?))
            .client_auth_optional(!config.require_client_certificate);
    }
    Ok(tls)
}

/// The tonic TLS settings of a client.
pub fn client_tls(config: &GrpcClientTlsConfig) -> Result<ClientTlsConfig, GrpcError> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(&config.ca)?));
    if let (Some(cert), Some(key)) = (&config.cert, &config.key) {
        tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    if let Some(domain) = &config.domain {
        tls = tls.domain_name(domain.clone());
    }
    Ok(tls)
}

/// Checks a server's TLS files without serving: the certificate chain and the key parse as
/// PEM and belong together, and the client CAs parse. Returns what an operator wants to see:
/// the certificate's names and whether client certificates are asked for.
pub fn check_server_tls(config: &GrpcTlsConfig) -> Result<String, GrpcError> {
    let names = check_identity(&config.cert, &config.key)?;
    let clients = match &config.client_ca {
        None => "no client certificates".to_owned(),
        Some(ca) => format!(
            "client certificates {} ({} CA(s))",
            if config.require_client_certificate {
                "required"
            } else {
                "optional"
            },
            check_ca_bundle(ca)?
        ),
    };
    Ok(format!("certificate {}; {clients}", names.join(", ")))
}

/// Checks a client's TLS files without connecting: the CA bundle and, when set, the client
/// certificate and its key.
pub fn check_client_tls(config: &GrpcClientTlsConfig) -> Result<String, GrpcError> {
    let cas = check_ca_bundle(&config.ca)?;
    let identity = match (&config.cert, &config.key) {
        (Some(cert), Some(key)) => {
            format!(
                "client certificate {}",
                check_identity(cert, key)?.join(", ")
            )
        }
        _ => "no client certificate".to_owned(),
    };
    Ok(format!("{cas} CA(s); {identity}"))
}

fn pem_certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, GrpcError> {
    let pem_error = |reason: String| GrpcError::Pem {
        path: path.clone(),
        reason,
    };
    let certificates = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(format!("not PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(pem_error("holds no PEM CERTIFICATE block".to_owned()));
    }
    Ok(certificates)
}

/// The names of the certificate chain at `cert`, once `key` is known to be its key.
fn check_identity(cert: &PathBuf, key: &PathBuf) -> Result<Vec<String>, GrpcError> {
    let chain = pem_certificates(cert)?;
    let private_key = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| GrpcError::Pem {
        path: key.clone(),
        reason: format!("holds no PEM private key: {e}"),
    })?;
    let names = certificate_names(chain[0].as_ref());
    if names.is_empty() {
        return Err(GrpcError::Pem {
            path: cert.clone(),
            reason: "its first certificate is not an X.509 certificate".to_owned(),
        });
    }
    rustls::sign::CertifiedKey::from_der(
        chain,
        private_key,
        &rustls::crypto::ring::default_provider(),
    )
    .map_err(|e| GrpcError::KeyMismatch {
        cert: cert.clone(),
        key: key.clone(),
        reason: e.to_string(),
    })?;
    Ok(names)
}

/// How many CA certificates the bundle at `path` holds; each must be usable as a trust anchor.
fn check_ca_bundle(path: &PathBuf) -> Result<usize, GrpcError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in pem_certificates(path)? {
        roots.add(certificate).map_err(|e| GrpcError::Pem {
            path: path.clone(),
            reason: format!("a certificate is not usable as a CA: {e}"),
        })?;
    }
    Ok(roots.len())
}

/// A server builder with the default deadline (applied when the caller sets none) and TLS when
/// configured.
pub fn server(tls: Option<&GrpcTlsConfig>, default_timeout: Duration) -> Result<Server, GrpcError> {
    let mut builder = Server::builder().timeout(default_timeout);
    if let Some(tls) = tls {
        builder = builder
            .tls_config(server_tls(tls)?)
            .map_err(GrpcError::Tls)?;
    }
    Ok(builder)
}

/// Binds `listen` (port 0 picks a free port) and returns the bound address with the listener.
pub async fn bind(listen: SocketAddr) -> Result<(SocketAddr, tokio::net::TcpListener), GrpcError> {
    let bind_error = |source| GrpcError::Bind {
        addr: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    Ok((addr, listener))
}

/// What a caller presented: the names of its verified client certificate and its bearer token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The verified client certificate's subject (RFC 4514, e.g. `CN=x,O=y,C=VN`), then every
    /// DNS name of its subject alternative names. Empty without a client certificate.
    pub certificate_names: Vec<String>,
    /// The token of an `authorization: Bearer <token>` header.
    pub bearer_token: Option<String>,
}

impl Credentials {
    /// The credentials of a request. A client certificate is only present when TLS verified it
    /// against the configured client CAs.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        let certificate_names = request
            .peer_certs()
            .and_then(|certs| certs.first().map(|der| certificate_names(der.as_ref())))
            .unwrap_or_default();
        let bearer_token = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            })
            .filter(|token| !token.is_empty());
        Self {
            certificate_names,
            bearer_token,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.certificate_names.is_empty() && self.bearer_token.is_none()
    }
}

/// The subject (RFC 4514) and DNS subject alternative names of a DER certificate (empty when it
/// does not parse).
pub fn certificate_names(der: &[u8]) -> Vec<String> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;

    let Ok(certificate) = x509_cert::Certificate::from_der(der) else {
        return Vec::new();
    };
    let tbs = certificate.tbs_certificate();
    let mut names = Vec::new();
    let subject = tbs.subject().to_string();
    if !subject.is_empty() {
        names.push(subject);
    }
    if let Ok(Some((_, san))) = tbs.get_extension::<SubjectAltName>() {
        for name in san.0 {
            if let GeneralName::DnsName(dns) = name {
                names.push(dns.as_str().to_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_are_the_subject_and_the_dns_names() {
        let mut params =
            rcgen::CertificateParams::new(vec!["lookup.bo-lao-dong.gov.vn".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "VN");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Bo Lao dong");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "bo-lao-dong");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            certificate_names(cert.der()),
            [
                "CN=bo-lao-dong,O=Bo Lao dong,C=VN",
                "lookup.bo-lao-dong.gov.vn"
            ]
        );
        assert!(certificate_names(b"not a certificate").is_empty());
    }

    #[test]
    fn bearer_token_is_read_case_insensitively_and_trimmed() {
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", "bearer  s3cret ".parse().unwrap());
        let credentials = Credentials::of(&request);
        assert_eq!(credentials.bearer_token.as_deref(), Some("s3cret"));
        assert!(credentials.certificate_names.is_empty());

        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
        assert!(Credentials::of(&request).is_empty());
    }

    /// A self-signed CA in `dir` that issues certificates for `names`, as PEM files.
    struct TestCa {
        dir: PathBuf,
        ca: PathBuf,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    impl TestCa {
        fn new(dir: &std::path::Path) -> Self {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "test CA");
            let key = rcgen::KeyPair::generate().unwrap();
            let ca = dir.join("ca.pem");
            std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();
            Self {
                dir: dir.to_path_buf(),
                ca,
                issuer: rcgen::Issuer::new(params, key),
            }
        }

        fn issue(&self, file: &str, name: &str) -> (PathBuf, PathBuf) {
            let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            let (cert_file, key_file) = (
                self.dir.join(format!("{file}.pem")),
                self.dir.join(format!("{file}.key")),
            );
            std::fs::write(&cert_file, cert.pem()).unwrap();
            std::fs::write(&key_file, key.serialize_pem()).unwrap();
            (cert_file, key_file)
        }
    }

    #[test]
    fn tls_files_are_checked_for_pem_and_a_matching_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(dir.path());
        let (cert, key) = ca.issue("server", "resolve.lienthong.internal");
        let (_, other_key) = ca.issue("other", "other.lienthong.internal");
        let mut config = GrpcTlsConfig {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: Some(ca.ca.clone()),
            require_client_certificate: true,
        };
        let summary = check_server_tls(&config).unwrap();
        assert!(summary.contains("resolve.lienthong.internal"), "{summary}");
        assert!(summary.contains("required (1 CA(s))"), "{summary}");

        config.key = other_key.clone();
        assert!(matches!(
            check_server_tls(&config),
            Err(GrpcError::KeyMismatch { .. })
        ));
        config.key = cert.clone();
        let error = check_server_tls(&config).unwrap_err();
        assert!(matches!(error, GrpcError::Pem { .. }), "{error}");
        assert!(error.to_string().contains("private key"), "{error}");
        config.key = key.clone();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        config.client_ca = Some(garbage.clone());
        let error = check_server_tls(&config).unwrap_err();
        assert!(error.to_string().contains("no PEM CERTIFICATE"), "{error}");
        config.client_ca = None;
        config.cert = dir.path().join("missing.pem");
        assert!(matches!(
            check_server_tls(&config),
            Err(GrpcError::Read { .. })
        ));

        let (client_cert, client_key) = ca.issue("client", "lookup.lienthong.internal");
        let mut client = GrpcClientTlsConfig {
            ca: ca.ca.clone(),
            cert: Some(client_cert),
            key: Some(client_key),
            domain: None,
        };
        let summary = check_client_tls(&client).unwrap();
        assert!(summary.contains("lookup.lienthong.internal"), "{summary}");
        client.key = Some(other_key);
        assert!(check_client_tls(&client).is_err());
        client.ca = garbage;
        assert!(check_client_tls(&client).is_err());
    }

    #[test]
    fn client_tls_needs_a_cert_with_its_key() {
        let config = GrpcClientTlsConfig {
            ca: "/nonexistent/ca.pem".into(),
            cert: Some("/nonexistent/client.pem".into()),
            key: None,
            domain: Some(String::new()),
        };
        let mut problems = Problems::new();
        config.validate(&mut problems);
        let fields: Vec<_> = problems.iter().map(|p| p.field.clone()).collect();
        assert_eq!(fields, ["ca", "cert", "key", "domain"]);
    }

    #[test]
    fn client_certificates_need_a_ca() {
        let config = GrpcTlsConfig {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
            client_ca: None,
            require_client_certificate: true,
        };
        let mut problems = Problems::new();
        config.validate(&mut problems);
        let fields: Vec<_> = problems.iter().map(|p| p.field.clone()).collect();
        assert_eq!(fields, ["cert", "key", "require_client_certificate"]);
    }
}
