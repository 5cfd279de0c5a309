//! `[sink]`: which topics go to which platform endpoint, how each endpoint is reached and
//! authenticated, and how records are batched and retried.
//!
//! ```toml
//! [sink.endpoints.ndxp]
//! adapter = "ngsp"
//! url = "https://ndxp.example.gov.vn"
//! auth = { kind = "oauth2", token_url = "https://ndxp.example.gov.vn/oauth2/token", client_id = "bnv-hub", client_secret = "..." }
//! xroad = { client = "VN/GOV/000.00.00.H29/lienthong-hub", service = "VN/GOV/000.00.00.G22/ndxp/records", user_id = "lienthong", purpose = "dong-bo-csdl-cbccvc" }
//!
//! [[sink.routes]]
//! topic = "canonical.civil_servant.v1"
//! endpoint = "ndxp"
//! ```
//!
//! Every struct rejects unknown keys; [`SinkConfig`]'s `validate` reports every broken rule at
//! once (a route naming a missing endpoint, an NDOP endpoint without a dataset, a client
//! certificate without its key, ...).

use std::collections::BTreeMap;
use std::path::PathBuf;

use lienthong_runtime::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

/// `[sink]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Consumer group of the stage (replicas share it and split the partitions).
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Where a receipt of every delivered (or refused) record goes.
    #[serde(default = "default_receipts_topic")]
    pub receipts_topic: String,
    /// Platform endpoints by id; routes refer to them by that id.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointConfig>,
    /// Topic → endpoint.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Records read but not yet acknowledged by the platform, at most (across routes).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How often offsets of finished records are committed.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
}

fn default_group_id() -> String {
    "lienthong-sink".to_string()
}
fn default_receipts_topic() -> String {
    "receipts".to_string()
}
fn default_max_in_flight() -> usize {
    10_000
}
fn default_commit_interval_ms() -> u64 {
    1_000
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            group_id: default_group_id(),
            receipts_topic: default_receipts_topic(),
            endpoints: BTreeMap::new(),
            routes: Vec::new(),
            max_in_flight: default_max_in_flight(),
            commit_interval_ms: default_commit_interval_ms(),
        }
    }
}

/// The request and answer shapes of each platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    /// NGSP/NDXP: `POST /ngsp/v1/records`, a batch in an envelope repeating the X-Road header.
    Ngsp,
    /// NDOP: `POST /ndop/api/v1/datasets/{dataset}/records`, items with keys.
    Ndop,
    /// A ministry LGSP: `POST /lgsp/{ministry}/v1/{entity}`, one record per request, the key in
    /// `Idempotency-Key`.
    Lgsp,
}

impl AdapterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ngsp => "ngsp",
            Self::Ndop => "ndop",
            Self::Lgsp => "lgsp",
        }
    }
}

/// One platform endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub adapter: AdapterKind,
    /// Base URL (scheme, host, port, optional path prefix); the adapter appends its path.
    pub url: String,
    /// NDOP only: the dataset records are written to.
    #[serde(default)]
    pub dataset: Option<String>,
    /// LGSP only: the ministry segment of the path.
    #[serde(default)]
    pub ministry: Option<String>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    pub xroad: XRoadConfig,
    /// One request, from sending to the end of the answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default)]
    pub retry: DeliveryRetry,
    #[serde(default)]
    pub breaker: BreakerConfig,
}

fn default_timeout_ms() -> u64 {
    30_000
}
fn default_connect_timeout_ms() -> u64 {
    5_000
}

/// How the sink proves who it is.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No `Authorization` header (mutual TLS alone, or an open test endpoint).
    #[default]
    None,
    /// A long-lived bearer token.
    Static { token: Secret<String> },
    /// OAuth2 client credentials (RFC 6749 §4.4); the token is renewed before it expires and
    /// whenever the platform answers 401.
    Oauth2 {
        token_url: String,
        client_id: String,
        client_secret: Secret<String>,
        #[serde(default)]
        scope: Option<String>,
        /// Renew this long before expiry (at most a fifth of the token's lifetime).
        #[serde(default = "default_refresh_before_s")]
        refresh_before_expiry_s: u64,
    },
}

fn default_refresh_before_s() -> u64 {
    30
}

/// TLS towards the platform; mutual TLS when a client certificate is given.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates trusted besides the built-in web roots (a government CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for mutual TLS.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate (PKCS#8, RSA or SEC1).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

/// X-Road-style identification sent with every request.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XRoadConfig {
    /// This system: `INSTANCE/CLASS/MEMBER/SUBSYSTEM`.
    pub client: String,
    /// The platform service called (NGSP envelopes name it): `INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE`.
    #[serde(default)]
    pub service: Option<String>,
    /// The user or system account on whose behalf records are sent.
    pub user_id: String,
    /// The legal purpose of the exchange.
    pub purpose: String,
}

/// Retries of transient failures (network errors, 5xx, 429). They never give up: a platform
/// that is down delays delivery, it does not lose records.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRetry {
    #[serde(default = "default_initial_delay_ms")]
    pub initial_delay_ms: u64,
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Longest `Retry-After` honoured; a longer one is cut to this.
    #[serde(default = "default_max_retry_after_ms")]
    pub max_retry_after_ms: u64,
}

fn default_initial_delay_ms() -> u64 {
    100
}
fn default_max_delay_ms() -> u64 {
    10_000
}
fn default_max_retry_after_ms() -> u64 {
    60_000
}

impl Default for DeliveryRetry {
    fn default() -> Self {
        Self {
            initial_delay_ms: default_initial_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            max_retry_after_ms: default_max_retry_after_ms(),
        }
    }
}

/// The circuit breaker of one endpoint: after `failure_threshold` failed requests in a row it
/// opens for `open_ms` (no request is sent), then lets one probe through.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    #[serde(default = "default_open_ms")]
    pub open_ms: u64,
}

fn default_failure_threshold() -> u32 {
    5
}
fn default_open_ms() -> u64 {
    2_000
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: default_failure_threshold(),
            open_ms: default_open_ms(),
        }
    }
}

/// Records of one topic to one endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub topic: String,
    /// An id of `[sink.endpoints]`.
    pub endpoint: String,
    /// The entity name sent to the platform; by default the topic's second segment
    /// (`canonical.civil_servant.v1` → `civil_servant`).
    #[serde(default)]
    pub entity: Option<String>,
    /// The protobuf message of records without a `lienthong-content-type` header
    /// (`lienthong.v1.CivilServant`).
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub batch: BatchConfig,
    /// Keys delivered concurrently: records are spread over this many lanes by key, each lane
    /// sends one batch at a time, so records of one key stay in order.
    #[serde(default = "default_lanes")]
    pub lanes: usize,
}

fn default_lanes() -> usize {
    8
}

impl RouteConfig {
    /// The entity name sent to the platform.
    pub fn entity_name(&self) -> String {
        self.entity.clone().unwrap_or_else(|| {
            self.topic
                .split('.')
                .nth(1)
                .unwrap_or(&self.topic)
                .to_string()
        })
    }
}

/// When a batch is sent: whichever limit is reached first.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// Sum of the records' JSON sizes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// How long the first record of a batch waits for company.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
}

fn default_max_records() -> usize {
    100
}
fn default_max_bytes() -> usize {
    1 << 20
}
fn default_linger_ms() -> u64 {
    20
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_records: default_max_records(),
            max_bytes: default_max_bytes(),
            linger_ms: default_linger_ms(),
        }
    }
}

fn is_topic_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 249
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_url(problems: &mut Problems, field: &str, raw: &str) {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(_) => problems.push(field, "an http:// or https:// URL with a host"),
        Err(e) => problems.push(field, format!("not a URL: {e}")),
    }
}

/// `INSTANCE/CLASS/MEMBER/SUBSYSTEM`: four non-empty parts of visible ASCII.
fn is_xroad_id(s: &str, parts: usize) -> bool {
    let split: Vec<&str> = s.split('/').collect();
    split.len() == parts
        && split
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_graphic()))
}

impl Validate for EndpointConfig {
    fn validate(&self, problems: &mut Problems) {
        check_url(problems, "url", &self.url);
        match self.adapter {
            AdapterKind::Ndop => match &self.dataset {
                None => problems.push("dataset", "required by the ndop adapter"),
                Some(d) if !is_path_segment(d) => {
                    problems.push("dataset", "letters, digits, '.', '_' and '-' only")
                }
                Some(_) => {}
            },
            _ if self.dataset.is_some() => {
                problems.push("dataset", "only the ndop adapter writes to a dataset")
            }
            _ => {}
        }
        match self.adapter {
            AdapterKind::Lgsp => match &self.ministry {
                None => problems.push("ministry", "required by the lgsp adapter"),
                Some(m) if !is_path_segment(m) => {
                    problems.push("ministry", "letters, digits, '.', '_' and '-' only")
                }
                Some(_) => {}
            },
            _ if self.ministry.is_some() => {
                problems.push("ministry", "only the lgsp adapter names a ministry")
            }
            _ => {}
        }
        if self.adapter == AdapterKind::Ngsp && self.xroad.service.is_none() {
            problems.push(
                "xroad.service",
                "required by the ngsp adapter (the envelope names the service called)",
            );
        }
        if !is_xroad_id(&self.xroad.client, 4) {
            problems.push("xroad.client", "INSTANCE/CLASS/MEMBER/SUBSYSTEM");
        }
        if let Some(service) = &self.xroad.service
            && !(is_xroad_id(service, 5) || is_xroad_id(service, 4))
        {
            problems.push("xroad.service", "INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE");
        }
        for (field, value) in [
            ("xroad.user_id", &self.xroad.user_id),
            ("xroad.purpose", &self.xroad.purpose),
        ] {
            if value.trim().is_empty() || value.len() > 255 || !value.is_ascii() {
                problems.push(field, "1 to 255 ASCII characters");
            }
        }
        match &self.auth {
            AuthConfig::None => {}
            AuthConfig::Static { token } => {
                if token.expose().trim().is_empty() {
                    problems.push("auth.token", "must not be empty");
                }
            }
            AuthConfig::Oauth2 {
                token_url,
                client_id,
                ..
            } => {
                check_url(problems, "auth.token_url", token_url);
                if client_id.is_empty() {
                    problems.push("auth.client_id", "must not be empty");
                }
            }
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            problems.push(
                "tls",
                "client_cert and client_key go together (mutual TLS needs both)",
            );
        }
        if self.timeout_ms == 0 {
            problems.push("timeout_ms", "at least 1 ms");
        }
        if self.connect_timeout_ms == 0 {
            problems.push("connect_timeout_ms", "at least 1 ms");
        }
        if self.retry.initial_delay_ms == 0 {
            problems.push("retry.initial_delay_ms", "at least 1 ms");
        }
        if self.retry.max_delay_ms < self.retry.initial_delay_ms {
            problems.push("retry.max_delay_ms", "at least retry.initial_delay_ms");
        }
        if self.breaker.failure_threshold == 0 {
            problems.push("breaker.failure_threshold", "at least 1");
        }
        if self.breaker.open_ms == 0 {
            problems.push("breaker.open_ms", "at least 1 ms");
        }
    }
}

impl Validate for SinkConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.group_id.is_empty() {
            problems.push("group_id", "must not be empty");
        }
        if !is_topic_name(&self.receipts_topic) {
            problems.push("receipts_topic", "a topic name");
        }
        if self.max_in_flight == 0 {
            problems.push("max_in_flight", "at least 1");
        }
        if self.commit_interval_ms == 0 {
            problems.push("commit_interval_ms", "at least 1 ms");
        }
        for (id, endpoint) in &self.endpoints {
            if !is_path_segment(id) {
                problems.push(
                    format!("endpoints.{id}"),
                    "endpoint ids use letters, digits, '.', '_' and '-' only",
                );
            }
            problems.nested(&format!("endpoints.{id}"), endpoint);
        }
        let mut topics = BTreeMap::new();
        for (i, route) in self.routes.iter().enumerate() {
            let at = format!("routes[{i}]");
            if !is_topic_name(&route.topic) {
                problems.push(format!("{at}.topic"), "a topic name");
            }
            if let Some(other) = topics.insert(route.topic.clone(), i) {
                problems.push(
                    format!("{at}.topic"),
                    format!(
                        "{} is also routed by routes[{other}]: one route per topic",
                        route.topic
                    ),
                );
            }
            if !self.endpoints.contains_key(&route.endpoint) {
                problems.push(
                    format!("{at}.endpoint"),
                    format!(
                        "names [sink.endpoints.{}], which is not configured",
                        route.endpoint
                    ),
                );
            }
            if !is_path_segment(&route.entity_name()) {
                problems.push(
                    format!("{at}.entity"),
                    "letters, digits, '.', '_' and '-' only",
                );
            }
            if let Some(message) = &route.message
                && !message.starts_with("lienthong.v1.")
            {
                problems.push(
                    format!("{at}.message"),
                    "a message of package lienthong.v1 (lienthong.v1.CivilServant)",
                );
            }
            if route.lanes == 0 {
                problems.push(format!("{at}.lanes"), "at least 1");
            }
            if route.batch.max_records == 0 {
                problems.push(format!("{at}.batch.max_records"), "at least 1");
            }
            if route.batch.max_bytes == 0 {
                problems.push(format!("{at}.batch.max_bytes"), "at least 1");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn endpoint(adapter: AdapterKind) -> EndpointConfig {
        EndpointConfig {
            adapter,
            url: "http://127.0.0.1:8480".into(),
            dataset: (adapter == AdapterKind::Ndop).then(|| "can-bo".to_string()),
            ministry: (adapter == AdapterKind::Lgsp).then(|| "bnv".to_string()),
            auth: AuthConfig::Static {
                token: Secret::new("t".into()),
            },
            tls: TlsConfig::default(),
            xroad: XRoadConfig {
                client: "VN/GOV/000.00.00.H29/hub".into(),
                service: Some("VN/GOV/000.00.00.G22/ndxp/records".into()),
                user_id: "lienthong".into(),
                purpose: "sync".into(),
            },
            timeout_ms: 1000,
            connect_timeout_ms: 1000,
            retry: DeliveryRetry::default(),
            breaker: BreakerConfig::default(),
        }
    }

    fn problems_of(config: &SinkConfig) -> Vec<String> {
        let mut problems = Problems::new();
        config.validate(&mut problems);
        problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect()
    }

    #[test]
    fn a_complete_config_passes() {
        let mut config = SinkConfig::default();
        for kind in [AdapterKind::Ngsp, AdapterKind::Ndop, AdapterKind::Lgsp] {
            config
                .endpoints
                .insert(kind.as_str().to_string(), endpoint(kind));
        }
        config.routes.push(RouteConfig {
            topic: "canonical.civil_servant.v1".into(),
            endpoint: "ngsp".into(),
            entity: None,
            message: None,
            batch: BatchConfig::default(),
            lanes: 4,
        });
        assert!(
            problems_of(&config).is_empty(),
            "{:?}",
            problems_of(&config)
        );
        assert_eq!(config.routes[0].entity_name(), "civil_servant");
    }

    #[test]
    fn every_broken_rule_is_named() {
        let mut config = SinkConfig::default();
        let mut ndop = endpoint(AdapterKind::Ndop);
        ndop.dataset = None;
        ndop.url = "ftp://x".into();
        ndop.tls.client_cert = Some("c.pem".into());
        ndop.xroad.client = "VN/GOV".into();
        config.endpoints.insert("n".into(), ndop);
        let mut ngsp = endpoint(AdapterKind::Ngsp);
        ngsp.xroad.service = None;
        ngsp.ministry = Some("bnv".into());
        config.endpoints.insert("g".into(), ngsp);
        let route = RouteConfig {
            topic: "canonical.person.v1".into(),
            endpoint: "missing".into(),
            entity: None,
            message: Some("Person".into()),
            batch: BatchConfig {
                max_records: 0,
                ..BatchConfig::default()
            },
            lanes: 0,
        };
        config.routes.push(route.clone());
        config.routes.push(route);
        let problems = problems_of(&config);
        for expected in [
            "endpoints.n.url",
            "endpoints.n.dataset",
            "endpoints.n.tls",
            "endpoints.n.xroad.client",
            "endpoints.g.xroad.service",
            "endpoints.g.ministry",
            "routes[0].endpoint",
            "routes[0].message",
            "routes[0].lanes",
            "routes[0].batch.max_records",
            "routes[1].topic",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected} missing from {problems:#?}"
            );
        }
    }

    #[test]
    fn auth_kinds_parse_from_toml_and_secrets_do_not_print() {
        let text = r#"
            adapter = "ngsp"
            url = "http://127.0.0.1:1"
            auth = { kind = "oauth2", token_url = "http://127.0.0.1:1/oauth2/token", client_id = "hub", client_secret = "s3cret" }
            xroad = { client = "VN/GOV/M/S", service = "VN/GOV/M/S/records", user_id = "u", purpose = "p" }
        "#;
        let endpoint: EndpointConfig = toml_from(text);
        assert!(matches!(endpoint.auth, AuthConfig::Oauth2 { .. }));
        assert!(!format!("{endpoint:?}").contains("s3cret"));
        let bad = text.replace("client_id = \"hub\"", "client_id = \"hub\", colour = 1");
        assert!(toml::from_str::<EndpointConfig>(&bad).is_err());
    }

    fn toml_from<T: serde::de::DeserializeOwned>(text: &str) -> T {
        toml::from_str(text).unwrap()
    }
}
