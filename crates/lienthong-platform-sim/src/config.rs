//! Configuration of the simulator: where it listens (plain HTTP or TLS, with or without client
//! certificates), where it stores what it accepted, who may call it, which checks it enforces,
//! and which faults are active from the start.
//!
//! Every struct rejects unknown keys, so a misspelt option fails loudly instead of silently
//! running with a default. Defaults live in one place: the `Default` impls and `default_*`
//! functions of this module. [`PlatformSimConfig::validate`] returns every problem at once, so an
//! operator fixes a config file in one pass.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::faults::FaultPlan;

/// Everything `lienthong platform-sim --config FILE` reads.
///
/// A minimal TOML file:
///
/// ```toml
/// listen = "127.0.0.1:8480"
/// database = "/var/lib/lienthong/platform-sim.sqlite"
///
/// [auth]
/// token_ttl_seconds = 300
///
/// [[auth.oauth_clients]]
/// client_id = "bnv-hub"
/// client_secret = "change-me"
///
/// [[auth.static_tokens]]
/// client_id = "legacy-sink"
/// token = "static-secret-token"
/// ```
///
/// Serving HTTPS with mutual TLS (see [`TlsConfig`]):
///
/// ```toml
/// [tls]
/// cert = "/etc/lienthong/sim/server.pem"
/// key = "/etc/lienthong/sim/server.key"
/// client_ca = "/etc/lienthong/sim/clients-ca.pem"
///
/// [[tls.client_bindings]]
/// subject_cn = "bnv-hub"
/// xroad_client = "VN/GOV/000.00.00.H29/lienthong-hub"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSimConfig {
    /// Address to bind; port 0 picks a free port (the bound address is reported by
    /// [`crate::BoundServer::local_addr`]).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// SQLite file holding accepted records and counters; created if missing. `None` keeps
    /// everything in memory, lost when the server stops.
    #[serde(default)]
    pub database: Option<PathBuf>,
    /// HTTPS instead of plain HTTP; `None` (no `[tls]` section) serves plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Who may call the platform endpoints.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Which request checks are enforced.
    #[serde(default)]
    pub checks: ChecksConfig,
    /// Faults active from the moment the server starts; replaceable at run time through
    /// `POST /_sim/faults`.
    #[serde(default)]
    pub faults: FaultPlan,
}

impl Default for PlatformSimConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            database: None,
            tls: None,
            auth: AuthConfig::default(),
            checks: ChecksConfig::default(),
            faults: FaultPlan::default(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8480))
}

/// Credentials the simulator accepts. Deny by default: with no clients and no static tokens,
/// every platform request is refused unless `allow_anonymous` or `allow_client_certificate` is
/// set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Clients that obtain bearer tokens from `POST /oauth2/token` (client-credentials grant).
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// Long-lived bearer tokens, for integrations that cannot run the OAuth2 flow.
    #[serde(default)]
    pub static_tokens: Vec<StaticToken>,
    /// Lifetime of issued tokens. Short values (a few seconds) let tests exercise refresh.
    #[serde(default = "default_token_ttl_seconds")]
    pub token_ttl_seconds: u64,
    /// Accept platform requests without any `Authorization` header (demo setups only).
    #[serde(default)]
    pub allow_anonymous: bool,
    /// Accept platform requests without an `Authorization` header when the connection presented
    /// a client certificate that `tls.client_ca` verified: mutual TLS as the only credential,
    /// the way X-Road security servers authenticate each other. The caller is named by the
    /// certificate's subject CN. Needs `tls.client_ca`. A request that does send a bearer token
    /// is still judged by that token.
    #[serde(default)]
    pub allow_client_certificate: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            oauth_clients: Vec::new(),
            static_tokens: Vec::new(),
            token_ttl_seconds: default_token_ttl_seconds(),
            allow_anonymous: false,
            allow_client_certificate: false,
        }
    }
}

fn default_token_ttl_seconds() -> u64 {
    300
}

/// One OAuth2 client allowed to use the client-credentials grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Secret,
    /// When set, requests authenticated as this client must carry exactly this `X-Road-Client`
    /// (`INSTANCE/CLASS/MEMBER/SUBSYSTEM`), the way a security server binds a certificate or
    /// credential to one registered subsystem.
    #[serde(default)]
    pub xroad_client: Option<String>,
}

/// One static bearer token and the client it authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticToken {
    pub client_id: String,
    pub token: Secret,
    /// Same meaning as [`OAuthClient::xroad_client`].
    #[serde(default)]
    pub xroad_client: Option<String>,
}

/// `[tls]`: the simulator serves HTTPS. Paths are read once at start; relative paths are taken
/// from the working directory.
///
/// With `client_ca` it asks every client for a certificate and ends the TLS handshake of a
/// client that sends none, or one not signed by these CAs, before any HTTP is spoken. What a
/// verified certificate may do is set by `client_bindings` and `auth.allow_client_certificate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server's certificate chain, its own certificate first.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM file with the private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// PEM bundle of the CA certificates that sign client certificates; set it for mutual TLS.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Client certificates bound to one X-Road subsystem. Needs `client_ca`.
    #[serde(default)]
    pub client_bindings: Vec<ClientCertificateBinding>,
}

/// Binds the client certificates with one subject CN to one `X-Road-Client`: a platform request
/// over a connection with such a certificate must name exactly that subsystem, else
/// `403 client_mismatch`, whatever credential it carries. This is how a security server ties a
/// member's authentication certificate to its registered subsystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificateBinding {
    /// The certificate subject's common name (CN), compared exactly.
    pub subject_cn: String,
    /// `INSTANCE/CLASS/MEMBER/SUBSYSTEM`.
    pub xroad_client: String,
}

/// Request checks; all on by default because the real platforms enforce them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Require the X-Road-style headers (`X-Road-Client`, `X-Road-Id`, `X-Road-UserId`,
    /// `X-Road-Purpose`).
    #[serde(default = "default_true")]
    pub require_xroad_headers: bool,
    /// Require a SHA-256 body hash in `Content-Digest` or `Digest`.
    #[serde(default = "default_true")]
    pub require_digest: bool,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Largest number of records in one batch request.
    #[serde(default = "default_max_batch_records")]
    pub max_batch_records: usize,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        Self {
            require_xroad_headers: true,
            require_digest: true,
            max_body_bytes: default_max_body_bytes(),
            max_batch_records: default_max_batch_records(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_max_body_bytes() -> usize {
    8 * 1024 * 1024
}

fn default_max_batch_records() -> usize {
    1000
}

/// A credential that never prints: `Debug` shows `Secret(***)`. Serialising writes the value
/// (the config must round-trip), so never serialise a config into a log line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for comparison with what a client presented.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One thing wrong with a configuration, naming the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the key, e.g. `auth.oauth_clients[0].client_id`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl PlatformSimConfig {
    /// Every problem with this configuration; empty when it is usable.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |field: String, message: &str| {
            problems.push(ConfigProblem {
                field,
                message: message.to_owned(),
            });
        };
        let auth = &self.auth;
        if auth.oauth_clients.is_empty()
            && auth.static_tokens.is_empty()
            && !auth.allow_anonymous
            && !auth.allow_client_certificate
        {
            problem(
                "auth".into(),
                "no oauth_clients and no static_tokens: every request would be refused \
                 (set allow_anonymous = true for an open demo endpoint)",
            );
        }
        let verifies_clients = self.tls.as_ref().is_some_and(|tls| tls.client_ca.is_some());
        if auth.allow_client_certificate && !verifies_clients {
            problem(
                "auth.allow_client_certificate".into(),
                "needs tls.client_ca: without it no client certificate is asked for or verified",
            );
        }
        if auth.token_ttl_seconds == 0 {
            problem("auth.token_ttl_seconds".into(), "must be at least 1");
        }
        let mut client_ids = std::collections::BTreeSet::new();
        for (i, client) in auth.oauth_clients.iter().enumerate() {
            let at = format!("auth.oauth_clients[{i}]");
            if client.client_id.trim().is_empty() {
                problem(format!("{at}.client_id"), "must not be empty");
            } else if !client_ids.insert(client.client_id.as_str()) {
                problem(format!("{at}.client_id"), "duplicate client_id");
            }
            if client.client_secret.expose().is_empty() {
                problem(format!("{at}.client_secret"), "must not be empty");
            }
            if let Some(xroad) = &client.xroad_client
                && let Err(e) = crate::xroad::XRoadClientId::parse(xroad)
            {
                problem(format!("{at}.xroad_client"), &e.to_string());
            }
        }
        let mut tokens = std::collections::BTreeSet::new();
        for (i, token) in auth.static_tokens.iter().enumerate() {
            let at = format!("auth.static_tokens[{i}]");
            if token.client_id.trim().is_empty() {
                problem(format!("{at}.client_id"), "must not be empty");
            }
            if token.token.expose().len() < 16 {
                problem(format!("{at}.token"), "must be at least 16 characters");
            } else if !tokens.insert(token.token.expose()) {
                problem(format!("{at}.token"), "the same token is configured twice");
            }
            if let Some(xroad) = &token.xroad_client
                && let Err(e) = crate::xroad::XRoadClientId::parse(xroad)
            {
                problem(format!("{at}.xroad_client"), &e.to_string());
            }
        }
        if self.checks.max_body_bytes == 0 {
            problem("checks.max_body_bytes".into(), "must be at least 1");
        }
        if self.checks.max_batch_records == 0 {
            problem("checks.max_batch_records".into(), "must be at least 1");
        }
        if let Some(tls) = &self.tls
            && let Err(tls_problems) = crate::tls::ServerTls::load(tls)
        {
            problems.extend(tls_problems);
        }
        for p in self.faults.validate() {
            problems.push(ConfigProblem {
                field: format!("faults.{}", p.field),
                message: p.message,
            });
        }
        problems
    }
}
