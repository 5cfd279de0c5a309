//! What every gRPC server of lienthong shares: listening, TLS (with optional client
//! certificates), the caller's credentials (certificate names, bearer token), and a server
//! builder with the default deadline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
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

/// The TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
