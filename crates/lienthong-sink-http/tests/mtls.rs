//! The sink's endpoint against the platform simulator over mutual TLS, both on 127.0.0.1, with
//! a CA, a server certificate and client certificates made at test time by rcgen: the sink's
//! `[tls]` files (CA, client certificate, key) open the connection, `probe` tells a usable setup
//! from a refused one, and `deliver` stores records on the NGSP flavour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use lienthong_platform_sim::{
    BoundServer, ClientCertificateBinding, PlatformSimConfig, StaticToken,
    TlsConfig as SimTlsConfig,
};
use lienthong_runtime::Shutdown;
use lienthong_runtime::config::Secret;
use lienthong_runtime::kafka::{InboundRecord, RecordHeaders};
use lienthong_sink_http::config::{
    AdapterKind, AuthConfig, BreakerConfig, DeliveryRetry, EndpointConfig, TlsConfig, XRoadConfig,
};
use lienthong_sink_http::endpoint::DeliverError;
use lienthong_sink_http::metrics::SinkMetrics;
use lienthong_sink_http::record::SinkRecord;
use lienthong_sink_http::{Endpoint, Verdict};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;
use serde_json::value::RawValue;
use tempfile::TempDir;
use tokio::sync::oneshot;

const HUB_CN: &str = "bnv-hub";
const XROAD_CLIENT: &str = "VN/GOV/000.00.00.H29/lienthong-hub";
const SIM_TOKEN: &str = "static-token-of-the-mtls-test";

/// A CA and the PEM files it issued, in a directory that lives as long as the test.
struct Pki {
    dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca_file: PathBuf,
}

/// A certificate and its key, as PEM files.
struct Issued {
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, pem) = authority("lienthong mtls test CA");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, pem).unwrap();
        Self {
            dir,
            issuer,
            ca_file,
        }
    }

    fn issue(&self, name: &str, cn: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> Issued {
        issue(self.dir.path(), &self.issuer, name, cn, sans, usage)
    }
}

fn authority(cn: &str) -> (Issuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (Issuer::new(params, key), pem)
}

fn issue(
    dir: &Path,
    issuer: &Issuer<'static, KeyPair>,
    name: &str,
    cn: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Issued {
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, issuer).unwrap();
    let issued = Issued {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&issued.cert, certificate.pem()).unwrap();
    std::fs::write(&issued.key, key.serialize_pem()).unwrap();
    issued
}

struct Sim {
    server: BoundServer,
    stop: oneshot::Sender<()>,
}

impl Sim {
    /// The simulator with mutual TLS; the hub's certificate is bound to `XROAD_CLIENT`.
    async fn start(pki: &Pki, allow_client_certificate: bool) -> Self {
        let server_files = pki.issue(
            "server",
            "platform-sim",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let mut config = PlatformSimConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(SimTlsConfig {
                cert: Some(server_files.cert),
                key: Some(server_files.key),
                client_ca: Some(pki.ca_file.clone()),
                client_bindings: vec![ClientCertificateBinding {
                    subject_cn: HUB_CN.into(),
                    xroad_client: XROAD_CLIENT.into(),
                }],
            }),
            ..PlatformSimConfig::default()
        };
        config.auth.allow_client_certificate = allow_client_certificate;
        config.auth.static_tokens.push(StaticToken {
            client_id: "token-holder".into(),
            token: lienthong_platform_sim::Secret::new(SIM_TOKEN),
            xroad_client: None,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = lienthong_platform_sim::serve(config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        Self { server, stop }
    }

    fn url(&self) -> String {
        self.server.base_url()
    }

    /// `GET path` over mutual TLS, with a client certificate of its own.
    async fn inspect(&self, pki: &Pki, path: &str) -> Value {
        let inspector = pki.issue(
            "inspector",
            "test-inspector",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let mut pem = std::fs::read(&inspector.cert).unwrap();
        pem.extend(std::fs::read(&inspector.key).unwrap());
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_file).unwrap()).unwrap(),
            )
            .identity(reqwest::Identity::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let response = http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {path}");
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.server.wait())
            .await
            .expect("simulator did not stop")
            .unwrap();
    }
}

fn endpoint_config(url: String, tls: TlsConfig, auth: AuthConfig) -> EndpointConfig {
    EndpointConfig {
        adapter: AdapterKind::Ngsp,
        url,
        dataset: None,
        ministry: None,
        auth,
        tls,
        xroad: XRoadConfig {
            client: XROAD_CLIENT.into(),
            service: Some("VN/GOV/000.00.00.G22/ndxp/records".into()),
            user_id: "lienthong".into(),
            purpose: "dong-bo-csdl-cbccvc".into(),
        },
        timeout_ms: 5_000,
        connect_timeout_ms: 2_000,
        retry: DeliveryRetry {
            initial_delay_ms: 50,
            max_delay_ms: 200,
            max_retry_after_ms: 1_000,
        },
        breaker: BreakerConfig::default(),
    }
}

fn client_tls(pki: &Pki, client: Option<&Issued>) -> TlsConfig {
    TlsConfig {
        ca_file: Some(pki.ca_file.clone()),
        client_cert: client.map(|c| c.cert.clone()),
        client_key: client.map(|c| c.key.clone()),
    }
}

fn record(key: &str, personal_id: &str, offset: i64) -> SinkRecord {
    SinkRecord {
        idempotency_key: key.into(),
        entity: "civil_servant".into(),
        payload: RawValue::from_string(format!(r#"{{"person":{{"personalId":"{personal_id}"}}}}"#))
            .unwrap(),
        source: InboundRecord {
            topic: "canonical.civil_servant.v1".into(),
            partition: 0,
            offset,
            key: Some(personal_id.as_bytes().to_vec()),
            payload: None,
            headers: RecordHeaders::default(),
            timestamp_ms: None,
        },
        lane_hash: 0,
    }
}

fn records() -> Vec<SinkRecord> {
    vec![
        record("mtls-k1", "001085012345", 1),
        record("mtls-k2", "001190054321", 2),
    ]
}

fn hub_certificate(pki: &Pki) -> Issued {
    pki.issue("hub", HUB_CN, &[], ExtendedKeyUsagePurpose::ClientAuth)
}

#[tokio::test]
async fn certificate_alone_probes_and_delivers() {
    let pki = Pki::new();
    let sim = Sim::start(&pki, true).await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let hub = hub_certificate(&pki);
    let config = endpoint_config(sim.url(), client_tls(&pki, Some(&hub)), AuthConfig::None);
    let endpoint = Endpoint::new("ndxp", &config, SinkMetrics::default()).unwrap();

    let probed = endpoint.probe().await;
    assert!(probed.is_ok(), "{probed:?}");

    let delivered = endpoint.deliver(records(), &Shutdown::new()).await.unwrap();
    assert_eq!(delivered.len(), 2);
    for (record, outcome) in &delivered {
        assert!(
            matches!(outcome.verdict, Verdict::Accepted { .. }),
            "{}: {:?}",
            record.idempotency_key,
            outcome.verdict
        );
        assert_eq!(outcome.http_status, 200);
    }

    let counts = sim.inspect(&pki, "/_sim/counts").await;
    assert_eq!(counts["records"], 2, "{counts}");
    assert_eq!(counts["by_entity"]["ngsp"]["civil_servant"], 2, "{counts}");
    let stored = sim.inspect(&pki, "/_sim/records/ngsp/mtls-k2").await;
    assert_eq!(stored["client_id"], HUB_CN, "the caller is the certificate");
    assert_eq!(stored["body"]["person"]["personalId"], "001190054321");

    // Sent again (a redelivery after a crash): the platform knows them.
    let again = endpoint.deliver(records(), &Shutdown::new()).await.unwrap();
    assert!(
        again
            .iter()
            .all(|(_, o)| matches!(o.verdict, Verdict::Duplicate { .. })),
        "{again:?}"
    );
    assert_eq!(sim.inspect(&pki, "/_sim/counts").await["records"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn certificate_and_token_together() {
    let pki = Pki::new();
    let sim = Sim::start(&pki, false).await;
    let hub = hub_certificate(&pki);

    // Certificate-only auth is off: the certificate opens the connection, the token is needed.
    let without_token = Endpoint::new(
        "ndxp",
        &endpoint_config(sim.url(), client_tls(&pki, Some(&hub)), AuthConfig::None),
        SinkMetrics::default(),
    )
    .unwrap();
    let probed = without_token.probe().await;
    assert!(
        probed.as_ref().is_err_and(|e| e.contains("401")),
        "{probed:?}"
    );

    let with_token = Endpoint::new(
        "ndxp",
        &endpoint_config(
            sim.url(),
            client_tls(&pki, Some(&hub)),
            AuthConfig::Static {
                token: Secret::new(SIM_TOKEN.to_string()),
            },
        ),
        SinkMetrics::default(),
    )
    .unwrap();
    let probed = with_token.probe().await;
    assert!(probed.is_ok(), "{probed:?}");
    let delivered = with_token
        .deliver(records(), &Shutdown::new())
        .await
        .unwrap();
    assert!(
        delivered
            .iter()
            .all(|(_, o)| matches!(o.verdict, Verdict::Accepted { .. })),
        "{delivered:?}"
    );
    let stored = sim.inspect(&pki, "/_sim/records/ngsp/mtls-k1").await;
    assert_eq!(stored["client_id"], "token-holder");
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_client_certificate_nothing_gets_through() {
    let pki = Pki::new();
    let sim = Sim::start(&pki, true).await;
    let config = endpoint_config(sim.url(), client_tls(&pki, None), AuthConfig::None);
    let registry = lienthong_runtime::Metrics::new();
    let endpoint = Endpoint::new("ndxp", &config, SinkMetrics::register(&registry)).unwrap();

    let probed = endpoint.probe().await;
    assert!(probed.is_err(), "{probed:?}");

    // Delivery keeps trying (the platform may be fixing its side) until it is stopped, and
    // nothing is stored meanwhile.
    let shutdown = Shutdown::new();
    let stopper = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            shutdown.trigger();
        })
    };
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        endpoint.deliver(records(), &shutdown),
    )
    .await
    .expect("deliver must return once shutdown is triggered");
    assert!(matches!(result, Err(DeliverError::Stopped)), "{result:?}");
    stopper.await.unwrap();

    // Counted as TLS failures, not as the network's.
    let exposed = registry.encode();
    assert!(
        exposed.contains(r#"lienthong_sink_retries_total{endpoint="ndxp",reason="tls"}"#),
        "{exposed}"
    );
    assert!(
        exposed.contains(r#"lienthong_sink_requests_total{endpoint="ndxp",status="tls"}"#),
        "{exposed}"
    );
    assert!(!exposed.contains(r#"reason="network""#), "{exposed}");

    let counts = sim.inspect(&pki, "/_sim/counts").await;
    assert_eq!(counts["records"], 0);
    assert_eq!(
        counts["rejected_total"], 0,
        "refused in the handshake, before HTTP"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_bound_elsewhere_is_refused() {
    let pki = Pki::new();
    let sim = Sim::start(&pki, true).await;

    // Signed by a CA the platform does not know, with the hub's name.
    let (stranger_ca, _) = authority("some other CA");
    let stranger = issue(
        pki.dir.path(),
        &stranger_ca,
        "stranger",
        HUB_CN,
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let endpoint = Endpoint::new(
        "ndxp",
        &endpoint_config(
            sim.url(),
            client_tls(&pki, Some(&stranger)),
            AuthConfig::None,
        ),
        SinkMetrics::default(),
    )
    .unwrap();
    let probed = endpoint.probe().await;
    assert!(probed.is_err(), "{probed:?}");

    // The right CA, but the hub's certificate sent with another subsystem's X-Road id.
    let hub = hub_certificate(&pki);
    let mut config = endpoint_config(sim.url(), client_tls(&pki, Some(&hub)), AuthConfig::None);
    config.xroad.client = "VN/GOV/000.00.00.G22/other-system".into();
    let endpoint = Endpoint::new("ndxp", &config, SinkMetrics::default()).unwrap();
    let probed = endpoint.probe().await;
    assert!(
        probed.as_ref().is_err_and(|e| e.contains("403")),
        "{probed:?}"
    );

    let counts = sim.inspect(&pki, "/_sim/counts").await;
    assert_eq!(counts["rejected"]["client_mismatch"], 1, "{counts}");
    assert_eq!(counts["records"], 0);
    sim.shutdown().await;
}
