//! HTTPS for the simulator: loading `[tls]` (server certificate, key, client CA bundle,
//! certificate bindings), the accept loop that runs the TLS handshake and hands each connection to
//! hyper, and the [`ClientCertificate`] every request of a mutually authenticated connection
//! carries in its extensions, where [`crate::gate`] reads it.
//!
//! rustls runs with the `ring` provider. With `client_ca` set, a client certificate is mandatory:
//! rustls ends the handshake of a client that sends none, or one no configured CA signed, so such
//! a client never reaches the HTTP layer and nothing about it is counted.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use x509_cert::der::Decode as _;

use crate::config::{ConfigProblem, TlsConfig};
use crate::digest::sha256_hex;
use crate::server::{FaultingListener, FaultingStream};

/// How long a client may take to complete the TLS handshake before the connection is closed, so
/// a client that connects and stays silent does not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The verified client certificate of the connection a request came over; present in the
/// request's extensions only on TLS connections whose client sent a certificate (which, with
/// `tls.client_ca` set, every connection did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientCertificate {
    /// The subject's common name, when the certificate has one.
    pub subject_cn: Option<String>,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub sha256: String,
    /// The `X-Road-Client` that `tls.client_bindings` binds this certificate's CN to.
    pub xroad_client: Option<String>,
}

impl ClientCertificate {
    /// The caller name of a request authenticated by this certificate alone: the subject CN, or
    /// the certificate's fingerprint when the subject has no CN.
    pub fn caller_id(&self) -> String {
        match &self.subject_cn {
            Some(cn) => cn.clone(),
            None => format!("sha256:{}", self.sha256),
        }
    }
}

/// `[tls]` loaded: the acceptor for handshakes and the certificate bindings.
#[derive(Clone)]
pub(crate) struct ServerTls {
    acceptor: TlsAcceptor,
    /// Subject CN → bound `X-Road-Client`.
    bindings: Arc<BTreeMap<String, String>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("bindings", &self.bindings)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads the files `config` names and builds the server's TLS setup. Returns every problem
    /// found, each naming its key (`tls.cert`, `tls.client_bindings[1].xroad_client`, ...).
    pub fn load(config: &TlsConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: String, message: String| {
            problems.push(ConfigProblem { field, message });
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let chain = match &config.cert {
            None => {
                problem(
                    "tls.cert".into(),
                    "required in [tls]: the PEM file with the server certificate chain".into(),
                );
                None
            }
            Some(path) => read_certificates(path)
                .map_err(|message| problem("tls.cert".into(), message))
                .ok(),
        };
        let key = match &config.key {
            None => {
                problem(
                    "tls.key".into(),
                    "required in [tls]: the PEM file with the private key of tls.cert".into(),
                );
                None
            }
            Some(path) => read_private_key(path)
                .map_err(|message| problem("tls.key".into(), message))
                .ok(),
        };
        let verifier = match &config.client_ca {
            None => None,
            Some(path) => client_verifier(path, &provider)
                .map_err(|message| problem("tls.client_ca".into(), message))
                .ok(),
        };

        let mut bindings = BTreeMap::new();
        if !config.client_bindings.is_empty() && config.client_ca.is_none() {
            problem(
                "tls.client_bindings".into(),
                "needs tls.client_ca: without it no client certificate is asked for".into(),
            );
        }
        for (i, binding) in config.client_bindings.iter().enumerate() {
            let at = format!("tls.client_bindings[{i}]");
            if binding.subject_cn.trim().is_empty() {
                problem(format!("{at}.subject_cn"), "must not be empty".into());
            } else if bindings
                .insert(binding.subject_cn.clone(), binding.xroad_client.clone())
                .is_some()
            {
                problem(
                    format!("{at}.subject_cn"),
                    format!(
                        "{:?} is bound twice: one subsystem per certificate name",
                        binding.subject_cn
                    ),
                );
            }
            if let Err(e) = crate::xroad::XRoadClientId::parse(&binding.xroad_client) {
                problem(format!("{at}.xroad_client"), e.to_string());
            }
        }

        let server_config = match (chain, key) {
            (Some(chain), Some(key)) => server_config(config, &provider, chain, key, verifier)
                .map_err(|(field, message)| problem(field.into(), message))
                .ok(),
            _ => None,
        };
        match server_config {
            Some(server_config) if problems.is_empty() => Ok(Self {
                acceptor: TlsAcceptor::from(Arc::new(server_config)),
                bindings: Arc::new(bindings),
            }),
            _ => Err(problems),
        }
    }

    /// Describes the verified leaf certificate a client presented.
    fn client_certificate(&self, leaf: &CertificateDer<'_>) -> ClientCertificate {
        let subject_cn = subject_common_name(leaf.as_ref());
        let xroad_client = subject_cn
            .as_ref()
            .and_then(|cn| self.bindings.get(cn))
            .cloned();
        ClientCertificate {
            subject_cn,
            sha256: sha256_hex(leaf.as_ref()),
            xroad_client,
        }
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Every `CERTIFICATE` block of a PEM file, in order; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_pem(path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM CERTIFICATE block", path.display()));
    }
    Ok(certificates)
}

/// The first private key of a PEM file (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read_pem(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{} holds no PEM private key (PKCS#8 PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            path.display()
        ),
        e => format!("{} is not valid PEM: {e}", path.display()),
    })
}

/// A verifier that requires a client certificate chaining to one of the CAs in `path`.
fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for (i, certificate) in read_certificates(path)?.into_iter().enumerate() {
        roots.add(certificate).map_err(|e| {
            format!(
                "certificate {} of {} is not a usable CA certificate: {e}",
                i + 1,
                path.display()
            )
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn server_config(
    config: &TlsConfig,
    provider: &Arc<CryptoProvider>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<rustls::ServerConfig, (&'static str, String)> {
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls", e.to_string()))?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let show = |path: &Option<std::path::PathBuf>| {
        path.as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => (
            "tls.key",
            format!(
                "the key in {} does not belong to the first certificate of {}",
                show(&config.key),
                show(&config.cert)
            ),
        ),
        rustls::Error::InvalidCertificate(e) => (
            "tls.cert",
            format!("{}: unusable certificate: {e}", show(&config.cert)),
        ),
        e => ("tls.key", format!("{}: {e}", show(&config.key))),
    })?;
    // HTTP/2 when the client offers it, else HTTP/1.1; hyper-util's auto builder serves both.
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

/// The subject CN of a DER certificate; `None` when the certificate has no CN or does not
/// parse (rustls has verified it, so the latter does not happen for a connected client).
pub(crate) fn subject_common_name(der: &[u8]) -> Option<String> {
    let certificate = x509_cert::Certificate::from_der(der).ok()?;
    let cn = certificate
        .tbs_certificate()
        .subject()
        .common_name()
        .ok()??;
    Some(cn.value().into_owned())
}

/// Accepts connections until `shutdown` completes, then stops accepting, lets every open
/// connection finish the request it is serving (idle keep-alive connections close at once) and
/// returns when all have ended.
pub(crate) async fn serve<F>(
    mut listener: FaultingListener,
    tls: ServerTls,
    app: Router,
    shutdown: F,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        connections.spawn(serve_connection(
            stream,
            remote,
            tls.clone(),
            app.clone(),
            stop.clone(),
        ));
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
}

async fn serve_connection(
    stream: FaultingStream,
    remote: SocketAddr,
    tls: ServerTls,
    app: Router,
    stop: CancellationToken,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream));
    let stream = tokio::select! {
        finished = handshake => match finished {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::info!(%remote, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!(%remote, "TLS handshake timed out");
                return;
            }
        },
        () = stop.cancelled() => return,
    };
    let client_certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(<[_]>::first)
        .map(|leaf| tls.client_certificate(leaf));
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        if let Some(certificate) = &client_certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        let mut app = app.clone();
        async move { tower_service::Service::call(&mut app, request).await }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::ClientCertificateBinding;

    #[test]
    fn common_name_of_a_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["hub.example".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Bộ Nội vụ");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "bnv-hub");
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_common_name(certificate.der()).as_deref(),
            Some("bnv-hub")
        );

        let mut no_cn = rcgen::CertificateParams::new(vec!["hub.example".to_owned()]).unwrap();
        no_cn.distinguished_name = rcgen::DistinguishedName::new();
        let certificate = no_cn.self_signed(&key).unwrap();
        assert_eq!(subject_common_name(certificate.der()), None);
        assert_eq!(subject_common_name(b"not a certificate"), None);
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn fields(problems: &[ConfigProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn every_tls_problem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let other_key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let certificate = params.self_signed(&key).unwrap();
        let cert = write(dir.path(), "server.pem", &certificate.pem());
        let good_key = write(dir.path(), "server.key", &key.serialize_pem());
        let wrong_key = write(dir.path(), "other.key", &other_key.serialize_pem());
        let empty = write(dir.path(), "empty.pem", "no PEM in here\n");

        let good = TlsConfig {
            cert: Some(cert.clone()),
            key: Some(good_key.clone()),
            client_ca: Some(cert.clone()),
            client_bindings: vec![ClientCertificateBinding {
                subject_cn: "bnv-hub".into(),
                xroad_client: "VN/GOV/000.00.00.H29/lienthong-hub".into(),
            }],
        };
        let loaded = ServerTls::load(&good).unwrap();
        assert_eq!(loaded.bindings.len(), 1);

        let problems = ServerTls::load(&TlsConfig {
            cert: None,
            key: None,
            client_ca: None,
            client_bindings: vec![ClientCertificateBinding {
                subject_cn: " ".into(),
                xroad_client: "VN/GOV".into(),
            }],
        })
        .unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                "tls.cert",
                "tls.key",
                "tls.client_bindings",
                "tls.client_bindings[0].subject_cn",
                "tls.client_bindings[0].xroad_client"
            ]
        );

        let missing = dir.path().join("missing.pem");
        let problems = ServerTls::load(&TlsConfig {
            cert: Some(missing.clone()),
            key: Some(empty.clone()),
            client_ca: Some(empty.clone()),
            client_bindings: Vec::new(),
        })
        .unwrap_err();
        assert_eq!(fields(&problems), ["tls.cert", "tls.key", "tls.client_ca"]);
        assert!(problems[0].message.contains("cannot read"), "{problems:?}");
        assert!(
            problems[1].message.contains("no PEM private key"),
            "{problems:?}"
        );
        assert!(
            problems[2].message.contains("no PEM CERTIFICATE"),
            "{problems:?}"
        );

        let problems = ServerTls::load(&TlsConfig {
            key: Some(wrong_key),
            ..good.clone()
        })
        .unwrap_err();
        assert_eq!(fields(&problems), ["tls.key"]);
        assert!(
            problems[0].message.contains("does not belong"),
            "{problems:?}"
        );

        let twice = ClientCertificateBinding {
            subject_cn: "bnv-hub".into(),
            xroad_client: "VN/GOV/000.00.00.H29/other".into(),
        };
        let mut bound_twice = good;
        bound_twice.client_bindings.push(twice);
        let problems = ServerTls::load(&bound_twice).unwrap_err();
        assert_eq!(fields(&problems), ["tls.client_bindings[1].subject_cn"]);
    }
}
