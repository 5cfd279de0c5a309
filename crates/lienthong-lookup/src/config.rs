//! `[lookup]`: where the lookup API listens, how callers authenticate, where its data comes from.

use std::net::SocketAddr;
use std::path::PathBuf;

use lienthong_runtime::config::{Problems, Secret, Validate};
use lienthong_runtime::grpc::{GrpcClientTlsConfig, GrpcTlsConfig};
use serde::{Deserialize, Serialize};

/// `[lookup]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// gRPC address of `LookupService`, `CodeListService` and `ResolveService`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Server TLS, and the CAs of partners' client certificates (mutual TLS). Without it the
    /// server speaks plaintext and callers authenticate by token only: for local use.
    #[serde(default)]
    pub tls: Option<GrpcTlsConfig>,
    /// The `[databases]` entry holding the store (`lienthong store` writes it).
    #[serde(default = "default_database")]
    pub database: String,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Shared code lists (administrative units, ethnic groups, ...).
    #[serde(default = "default_codelists")]
    pub codelists: PathBuf,
    /// The resolver's gRPC address (`[resolve] listen` of `lienthong resolve`), e.g.
    /// `http://127.0.0.1:50051`, or `https://...` with `resolver_tls`. Unset:
    /// `ResolveService` answers UNAVAILABLE.
    #[serde(default)]
    pub resolver: Option<String>,
    /// TLS to the resolver: the CAs of its certificate and, when it admits callers by
    /// certificate (`[resolve] allowed_callers`), this service's client certificate.
    #[serde(default)]
    pub resolver_tls: Option<GrpcClientTlsConfig>,
    /// Bearer token presented to the resolver when it admits callers by token (`[resolve]
    /// allowed_token_sha256` lists its SHA-256). A secret: keep it out of the config file
    /// (`LIENTHONG__LOOKUP__RESOLVER_TOKEN`).
    #[serde(default)]
    pub resolver_token: Secret<String>,
    /// Longest a call may take when the caller sets no deadline.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Largest page of `SearchCivilServants`.
    #[serde(default = "default_max_page_size")]
    pub max_page_size: u32,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50061))
}
fn default_database() -> String {
    "store".to_owned()
}
fn default_max_connections() -> u32 {
    16
}
fn default_codelists() -> PathBuf {
    PathBuf::from("schemas/codelists")
}
fn default_request_timeout_ms() -> u64 {
    5_000
}
fn default_max_page_size() -> u32 {
    500
}

impl Default for LookupConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            tls: None,
            database: default_database(),
            max_connections: default_max_connections(),
            codelists: default_codelists(),
            resolver: None,
            resolver_tls: None,
            resolver_token: Secret::default(),
            request_timeout_ms: default_request_timeout_ms(),
            max_page_size: default_max_page_size(),
        }
    }
}

impl Validate for LookupConfig {
    fn validate(&self, problems: &mut Problems) {
        if let Some(tls) = &self.tls {
            problems.nested("tls", tls);
        }
        if self.database.is_empty() {
            problems.push("database", "must name a [databases] entry");
        }
        if self.max_connections == 0 {
            problems.push("max_connections", "must be at least 1");
        }
        if self.request_timeout_ms == 0 {
            problems.push("request_timeout_ms", "must be at least 1");
        }
        if !(1..=10_000).contains(&self.max_page_size) {
            problems.push("max_page_size", "must be between 1 and 10000");
        }
        if let Some(tls) = &self.resolver_tls {
            problems.nested("resolver_tls", tls);
        }
        match &self.resolver {
            Some(url) if url.starts_with("https://") => {
                if self.resolver_tls.is_none() {
                    problems.push(
                        "resolver_tls",
                        "an https:// resolver needs resolver_tls (at least ca: the CAs of its certificate)",
                    );
                }
            }
            Some(url) if url.starts_with("http://") => {
                if self.resolver_tls.is_some() {
                    problems.push(
                        "resolver",
                        "resolver_tls is set: the resolver's URL must be https://",
                    );
                }
            }
            Some(_) => problems.push("resolver", "must be an http:// or https:// URL"),
            None => {
                if self.resolver_tls.is_some() || !self.resolver_token.expose().is_empty() {
                    problems.push(
                        "resolver",
                        "resolver_tls or resolver_token is set but no resolver: set its URL",
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(config: &LookupConfig) -> Vec<String> {
        let mut problems = Problems::new();
        config.validate(&mut problems);
        problems.iter().map(|p| p.field.clone()).collect()
    }

    #[test]
    fn the_resolver_client_settings_fit_the_url() {
        assert!(fields(&LookupConfig::default()).is_empty());
        let tls = GrpcClientTlsConfig {
            ca: PathBuf::from("Cargo.toml"),
            cert: None,
            key: None,
            domain: None,
        };
        let mut config = LookupConfig {
            resolver: Some("https://resolve:50051".into()),
            ..LookupConfig::default()
        };
        assert_eq!(fields(&config), ["resolver_tls"]);
        config.resolver_tls = Some(tls.clone());
        assert!(fields(&config).is_empty());
        config.resolver = Some("http://resolve:50051".into());
        assert_eq!(fields(&config), ["resolver"]);
        config.resolver = Some("resolve:50051".into());
        assert_eq!(fields(&config), ["resolver"]);
        config.resolver = None;
        assert_eq!(fields(&config), ["resolver"]);
        config.resolver_tls = None;
        config.resolver_token = Secret::new("t".into());
        assert_eq!(fields(&config), ["resolver"]);
        config.resolver = Some("http://resolve:50051".into());
        assert!(
            fields(&config).is_empty(),
            "a token over plaintext: warned at start"
        );
    }
}
