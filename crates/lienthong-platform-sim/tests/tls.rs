//! The simulator over HTTPS with client certificates, on 127.0.0.1. Every certificate is made
//! at test time with rcgen: a CA, a server certificate for 127.0.0.1 and localhost, client
//! certificates signed by that CA and one signed by a CA the server does not trust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lienthong_platform_sim::digest::content_digest_value;
use lienthong_platform_sim::{
    BoundServer, ClientCertificateBinding, PlatformSimConfig, Secret, SimError, StaticToken,
    TlsConfig, serve,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

const TOKEN: &str = "static-token-for-the-tls-tests";
const HUB_CN: &str = "bnv-hub";
const XROAD_CLIENT: &str = "VN/GOV/000.00.00.H29/lienthong-hub";
const OTHER_XROAD_CLIENT: &str = "VN/GOV/000.00.00.G22/other-system";

/// A certificate authority made for one test.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A certificate with subject `CN=cn` and the given names; returns (certificate PEM, key PEM).
    fn issue(&self, cn: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    fn client_identity(&self, cn: &str) -> reqwest::Identity {
        let (certificate, key) = self.issue(cn, &[], ExtendedKeyUsagePurpose::ClientAuth);
        reqwest::Identity::from_pem(format!("{certificate}\n{key}").as_bytes()).unwrap()
    }
}

/// The files of a server's TLS setup.
struct ServerFiles {
    _dir: TempDir,
    ca: Authority,
    cert: PathBuf,
    key: PathBuf,
    client_ca: PathBuf,
}

impl ServerFiles {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new("lienthong test CA");
        let (cert_pem, key_pem) = ca.issue(
            "platform-sim",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        let client_ca = dir.path().join("clients-ca.pem");
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        std::fs::write(&client_ca, &ca.pem).unwrap();
        Self {
            _dir: dir,
            ca,
            cert,
            key,
            client_ca,
        }
    }

    /// `[tls]` with mutual TLS on.
    fn mutual(&self) -> TlsConfig {
        TlsConfig {
            cert: Some(self.cert.clone()),
            key: Some(self.key.clone()),
            client_ca: Some(self.client_ca.clone()),
            client_bindings: Vec::new(),
        }
    }

    /// A client trusting the test CA, with `identity` as its client certificate.
    fn client(&self, identity: Option<reqwest::Identity>) -> Client {
        let mut builder = Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(10));
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        builder.build().unwrap()
    }

    fn hub_client(&self) -> Client {
        self.client(Some(self.ca.client_identity(HUB_CN)))
    }
}

fn config(tls: TlsConfig) -> PlatformSimConfig {
    let mut config = PlatformSimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(tls),
        ..PlatformSimConfig::default()
    };
    config.auth.static_tokens.push(StaticToken {
        client_id: "token-holder".into(),
        token: Secret::new(TOKEN),
        xroad_client: None,
    });
    config
}

struct Sim {
    server: BoundServer,
    stop: oneshot::Sender<()>,
    base: String,
}

async fn start(config: PlatformSimConfig) -> Sim {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = serve(config, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let base = server.base_url();
    Sim { server, stop, base }
}

impl Sim {
    /// Stops the server and requires it to be gone within 5 s, even with clients still holding
    /// keep-alive connections.
    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.server.wait())
            .await
            .expect("server did not stop")
            .unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn ngsp(
        &self,
        http: &Client,
        key: &str,
        xroad_client: &str,
        token: Option<&str>,
    ) -> reqwest::Result<Response> {
        ngsp(http, &self.base, key, xroad_client, token).await
    }

    async fn counts(&self, http: &Client) -> Value {
        let response = http.get(self.url("/_sim/counts")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn record(&self, http: &Client, key: &str) -> Value {
        let response = http
            .get(self.url(&format!("/_sim/records/ngsp/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// An NGSP batch of one record to the simulator at `base`, with every required header, sent as
/// `xroad_client`.
async fn ngsp(
    http: &Client,
    base: &str,
    key: &str,
    xroad_client: &str,
    token: Option<&str>,
) -> reqwest::Result<Response> {
    let message_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_vec(&json!({
        "header": {
            "client": xroad_client,
            "service": "VN/GOV/000.00.00.G22/ndxp/records",
            "messageId": message_id,
            "userId": "VN/bnv/nguyenvana",
            "purpose": "civil-servant-db-sync",
        },
        "records": [{"idempotencyKey": key, "entity": "civil_servant",
                     "payload": {"personalId": "001085012345"}}],
    }))
    .unwrap();
    let mut request = http
        .post(format!("{base}/ngsp/v1/records"))
        .header("content-type", "application/json")
        .header("x-road-client", xroad_client)
        .header("x-road-id", &message_id)
        .header("x-road-userid", "VN/bnv/nguyenvana")
        .header("x-road-purpose", "civil-servant-db-sync")
        .header("content-digest", content_digest_value(&body))
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await
}

/// The error and its sources, for assertion messages.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The server ended the TLS handshake with `alert`. With TLS 1.3 the client has already sent
/// its request when the server's verdict on its certificate comes, and when the server closes
/// with that request unread the kernel answers with a reset that can overtake the alert; so a
/// reset counts too. Either way no HTTP answer came.
fn assert_refused_in_handshake(error: &reqwest::Error, alert: &str) {
    let text = chain(error);
    assert!(
        text.contains(&format!("received fatal alert: {alert}"))
            || text.contains("Connection reset")
            || text.contains("connection reset"),
        "expected a TLS refusal ({alert}), got: {text}"
    );
}

async fn accepted(response: reqwest::Result<Response>) -> Value {
    let response = response.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    body
}

#[tokio::test]
async fn a_client_certificate_signed_by_the_ca_gets_through() {
    let files = ServerFiles::new();
    let sim = start(config(files.mutual())).await;
    assert!(sim.server.is_tls());
    assert!(sim.base.starts_with("https://127.0.0.1:"), "{}", sim.base);
    let hub = files.hub_client();

    accepted(sim.ngsp(&hub, "k-1", XROAD_CLIENT, Some(TOKEN)).await).await;
    let counts = sim.counts(&hub).await;
    assert_eq!(counts["records"], 1);
    assert_eq!(counts["by_flavour"]["ngsp"], 1);
    // Authenticated by its token; the certificate only opened the connection.
    assert_eq!(sim.record(&hub, "k-1").await["client_id"], "token-holder");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = Client::new()
        .get(format!("http://{}/_sim/health", sim.server.local_addr()))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP must not be served: {plain:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_client_certificate_the_handshake_is_refused() {
    let files = ServerFiles::new();
    let sim = start(config(files.mutual())).await;
    let anonymous = files.client(None);

    let error = sim
        .ngsp(&anonymous, "k-1", XROAD_CLIENT, Some(TOKEN))
        .await
        .expect_err("a client without certificate must not get an answer");
    assert_refused_in_handshake(&error, "CertificateRequired");
    assert!(anonymous.get(sim.url("/_sim/health")).send().await.is_err());

    // Nothing reached the HTTP layer: no record, not even a counted rejection.
    let counts = sim.counts(&files.hub_client()).await;
    assert_eq!(counts["records"], 0);
    assert_eq!(counts["rejected_total"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_client_ca_no_certificate_is_asked_for() {
    let files = ServerFiles::new();
    let sim = start(config(TlsConfig {
        client_ca: None,
        ..files.mutual()
    }))
    .await;
    let anonymous = files.client(None);
    accepted(sim.ngsp(&anonymous, "k-1", XROAD_CLIENT, Some(TOKEN)).await).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let files = ServerFiles::new();
    let sim = start(config(files.mutual())).await;
    let stranger_ca = Authority::new("some other CA");
    // Same subject name as the hub: only the signature tells them apart.
    let stranger = files.client(Some(stranger_ca.client_identity(HUB_CN)));

    let error = sim
        .ngsp(&stranger, "k-1", XROAD_CLIENT, Some(TOKEN))
        .await
        .expect_err("a certificate of an unknown CA must not get an answer");
    assert_refused_in_handshake(&error, "UnknownCA");
    let counts = sim.counts(&files.hub_client()).await;
    assert_eq!(counts["records"], 0);
    assert_eq!(counts["rejected_total"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_bound_certificate_must_name_its_subsystem() {
    let files = ServerFiles::new();
    let mut tls = files.mutual();
    tls.client_bindings.push(ClientCertificateBinding {
        subject_cn: HUB_CN.into(),
        xroad_client: XROAD_CLIENT.into(),
    });
    let mut config = config(tls);
    config.auth.allow_client_certificate = true;
    let sim = start(config).await;
    let hub = files.hub_client();

    // With a valid token and with the certificate alone: the binding holds either way.
    for token in [Some(TOKEN), None] {
        let response = sim
            .ngsp(&hub, "k-wrong", OTHER_XROAD_CLIENT, token)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "token {token:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "Client.ClientMismatch");
        assert!(body["message"].as_str().unwrap().contains(HUB_CN), "{body}");
    }
    accepted(sim.ngsp(&hub, "k-right", XROAD_CLIENT, None).await).await;

    // A certificate whose CN is not bound may name any subsystem.
    let other = files.client(Some(files.ca.client_identity("other-system")));
    accepted(sim.ngsp(&other, "k-other", OTHER_XROAD_CLIENT, None).await).await;

    let counts = sim.counts(&hub).await;
    assert_eq!(counts["rejected"]["client_mismatch"], 2);
    assert_eq!(counts["records"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn certificate_only_authentication_is_off_by_default() {
    let files = ServerFiles::new();
    let sim = start(config(files.mutual())).await;
    let hub = files.hub_client();
    let response = sim.ngsp(&hub, "k-1", XROAD_CLIENT, None).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["type"],
        "Client.MissingToken"
    );
    assert_eq!(sim.counts(&hub).await["records"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn certificate_only_authentication_when_allowed() {
    let files = ServerFiles::new();
    let mut config = config(files.mutual());
    config.auth.allow_client_certificate = true;
    let sim = start(config).await;
    let hub = files.hub_client();

    accepted(sim.ngsp(&hub, "k-1", XROAD_CLIENT, None).await).await;
    // The caller is the certificate's CN.
    assert_eq!(sim.record(&hub, "k-1").await["client_id"], HUB_CN);

    // A token that is sent is still checked: a wrong one is refused despite the certificate.
    let response = sim
        .ngsp(
            &hub,
            "k-2",
            XROAD_CLIENT,
            Some("not-a-token-of-this-platform"),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["type"],
        "Client.InvalidToken"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let files = ServerFiles::new();
    let mut config = config(files.mutual());
    config.faults.latency = Some(lienthong_platform_sim::Latency {
        fixed_ms: 600,
        jitter_ms: 0,
    });
    let sim = start(config).await;
    let hub = files.hub_client();
    let request = {
        let base = sim.base.clone();
        tokio::spawn(async move { ngsp(&hub, &base, "k-late", XROAD_CLIENT, Some(TOKEN)).await })
    };
    // The request is inside its injected latency when the shutdown starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    accepted(request.await.unwrap()).await;
}

#[tokio::test]
async fn tls_config_is_read_from_toml_and_checked() {
    let files = ServerFiles::new();
    let text = format!(
        r#"
        listen = "127.0.0.1:0"
        [auth]
        allow_client_certificate = true
        [tls]
        cert = {cert:?}
        key = {key:?}
        client_ca = {ca:?}
        [[tls.client_bindings]]
        subject_cn = "bnv-hub"
        xroad_client = "{XROAD_CLIENT}"
        "#,
        cert = files.cert.display().to_string(),
        key = files.key.display().to_string(),
        ca = files.client_ca.display().to_string(),
    );
    let parsed: PlatformSimConfig = toml::from_str(&text).unwrap();
    assert_eq!(
        parsed.tls,
        Some(TlsConfig {
            client_bindings: vec![ClientCertificateBinding {
                subject_cn: HUB_CN.into(),
                xroad_client: XROAD_CLIENT.into(),
            }],
            ..files.mutual()
        })
    );
    // Certificates alone are a complete auth setup.
    assert_eq!(parsed.validate(), []);
    let sim = start(parsed).await;
    accepted(
        sim.ngsp(&files.hub_client(), "k-1", XROAD_CLIENT, None)
            .await,
    )
    .await;
    sim.shutdown().await;

    let misspelt = text.replace("client_ca =", "client_cas =");
    assert!(toml::from_str::<PlatformSimConfig>(&misspelt).is_err());

    // Certificate-only auth without client CA; a key without a certificate; an unreadable CA.
    let mut broken = config(TlsConfig {
        cert: None,
        client_ca: Some(files.client_ca.with_file_name("missing-ca.pem")),
        ..files.mutual()
    });
    broken.auth.allow_client_certificate = true;
    let problems = broken.validate();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["tls.cert", "tls.client_ca"], "{problems:?}");
    assert!(
        problems[1].message.contains("missing-ca.pem"),
        "{problems:?}"
    );

    let mut no_ca = config(TlsConfig {
        client_ca: None,
        ..files.mutual()
    });
    no_ca.auth.allow_client_certificate = true;
    let problems = no_ca.validate();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["auth.allow_client_certificate"], "{problems:?}");
    match serve(no_ca, async {}).await {
        Err(SimError::InvalidConfig(problems)) => {
            assert_eq!(problems[0].field, "auth.allow_client_certificate")
        }
        other => panic!("expected an invalid config, got {other:?}"),
    }
}
