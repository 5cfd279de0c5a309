//! The resolver as a service: its configuration, the shared index and model every interface
//! (gRPC, stream stage, register feed) works on, and its metrics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

use lienthong_runtime::Metrics;
use lienthong_runtime::config::{Problems, Validate};
use lienthong_runtime::grpc::GrpcTlsConfig;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::index::{IndexError, PopulationIndex, UpsertKind, UpsertOutcome};
use crate::matcher::{MatchStatus, Matcher, MatcherConfig, QueryRecord, Resolution};
use crate::model::{Model, ModelError, ModelParams};
use crate::record::{PopulationEntry, ProvinceMap, ProvinceMapError};
use crate::register::RegisterSource;

/// `[resolve]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveConfig {
    /// Directory of code lists; the province merger map is read from
    /// `vn.province.merger-2025.csv` there.
    #[serde(default = "default_codelists")]
    pub codelists: PathBuf,
    /// Model parameters (JSON, written by `lienthong resolve model train`). Without one the
    /// built-in starting values are used, which a trained model beats.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Thresholds of the matcher.
    #[serde(default)]
    pub matcher: MatcherConfig,
    /// Where the register comes from when there is no snapshot yet.
    #[serde(default)]
    pub register: RegisterSource,
    /// Index snapshot: read at start when present (with the `population.v1` offsets it
    /// includes), written every `snapshot_interval_s` and at shutdown.
    #[serde(default)]
    pub snapshot: Option<PathBuf>,
    #[serde(default = "default_snapshot_interval_s")]
    pub snapshot_interval_s: u64,
    /// The register's change topic that keeps the index live.
    #[serde(default = "default_population_topic")]
    pub population_topic: String,
    /// gRPC `ResolveService` address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Server TLS of the gRPC service, and the CAs of callers' client certificates (mutual
    /// TLS). Without it the service speaks plaintext: for a trusted network or local use.
    #[serde(default)]
    pub tls: Option<GrpcTlsConfig>,
    /// Who may call the gRPC service by client certificate: RFC 4514 subjects
    /// (`CN=lienthong-lookup,O=Bo Noi vu,C=VN`) or DNS names of the certificate, compared as
    /// partner policies compare them. Needs `tls.client_ca`. With this and
    /// `allowed_token_sha256` both empty, every caller is served (a warning at start).
    #[serde(default)]
    pub allowed_callers: Vec<String>,
    /// Who may call the gRPC service by bearer token: the SHA-256 (hex) of each token, never
    /// the token. The lookup API sends its `[lookup] resolver_token`.
    #[serde(default)]
    pub allowed_token_sha256: Vec<String>,
    /// Longest a gRPC call may take when the caller sets no deadline.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Canonical topics resolved by the stream stage; each `canonical.<entity>.v1` is
    /// published to `resolved.<entity>.v1`.
    #[serde(default = "default_inputs")]
    pub inputs: Vec<String>,
    /// AMBIGUOUS, discrepant and unresolvable records are also published here for data
    /// stewards.
    #[serde(default = "default_review_topic")]
    pub review_topic: String,
    #[serde(default = "default_group_id")]
    pub group_id: String,
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
}

fn default_codelists() -> PathBuf {
    PathBuf::from("schemas/codelists")
}
fn default_snapshot_interval_s() -> u64 {
    600
}
fn default_population_topic() -> String {
    "population.v1".to_string()
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}
fn default_request_timeout_ms() -> u64 {
    5_000
}
fn default_inputs() -> Vec<String> {
    vec![
        "canonical.person.v1".to_string(),
        "canonical.civil_servant.v1".to_string(),
    ]
}
fn default_review_topic() -> String {
    "review.resolve.v1".to_string()
}
fn default_group_id() -> String {
    "lienthong-resolve".to_string()
}
fn default_max_in_flight() -> usize {
    10_000
}
fn default_commit_interval_ms() -> u64 {
    1_000
}

impl Default for ResolveConfig {
    fn default() -> Self {
        Self {
            codelists: default_codelists(),
            model: None,
            matcher: MatcherConfig::default(),
            register: RegisterSource::default(),
            snapshot: None,
            snapshot_interval_s: default_snapshot_interval_s(),
            population_topic: default_population_topic(),
            listen: default_listen(),
            tls: None,
            allowed_callers: Vec::new(),
            allowed_token_sha256: Vec::new(),
            request_timeout_ms: default_request_timeout_ms(),
            inputs: default_inputs(),
            review_topic: default_review_topic(),
            group_id: default_group_id(),
            max_in_flight: default_max_in_flight(),
            commit_interval_ms: default_commit_interval_ms(),
        }
    }
}

/// The resolved topic of a canonical topic: `canonical.<entity>.v1` → `resolved.<entity>.v1`.
pub fn resolved_topic(input: &str) -> Option<String> {
    let entity = input.strip_prefix("canonical.")?.strip_suffix(".v1")?;
    (!entity.is_empty()).then(|| format!("resolved.{entity}.v1"))
}

impl Validate for ResolveConfig {
    fn validate(&self, problems: &mut Problems) {
        if let Err(e) = self.matcher.validate() {
            problems.push("matcher", e.to_string());
        }
        crate::callers::validate(
            self.tls.as_ref(),
            &self.allowed_callers,
            &self.allowed_token_sha256,
            problems,
        );
        for input in &self.inputs {
            match input.as_str() {
                "canonical.person.v1" | "canonical.civil_servant.v1" => {}
                other => problems.push(
                    "inputs",
                    format!(
                        "`{other}`: the resolver reads canonical.person.v1 and canonical.civil_servant.v1"
                    ),
                ),
            }
        }
        for (field, topic) in [
            ("review_topic", &self.review_topic),
            ("population_topic", &self.population_topic),
            ("group_id", &self.group_id),
        ] {
            if topic.is_empty() || topic.contains(char::is_whitespace) {
                problems.push(field, "a non-empty name without spaces");
            }
        }
        if self.max_in_flight == 0 {
            problems.push("max_in_flight", "at least 1");
        }
        if self.commit_interval_ms == 0 || self.request_timeout_ms == 0 {
            problems.push(
                "commit_interval_ms",
                "commit_interval_ms and request_timeout_ms must be positive",
            );
        }
        if self.snapshot.is_some() && self.snapshot_interval_s == 0 {
            problems.push("snapshot_interval_s", "at least 1 s when a snapshot is set");
        }
        if let RegisterSource::Postgres { query, .. } = &self.register
            && query.trim().is_empty()
        {
            problems.push("register.query", "must not be empty");
        }
    }
}

/// Why the resolver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("model {path}: {source}")]
    Model {
        path: PathBuf,
        #[source]
        source: ModelError,
    },
    #[error(transparent)]
    Matcher(#[from] crate::matcher::ConfigError),
    #[error(transparent)]
    ProvinceMap(#[from] ProvinceMapError),
}

/// File name of the province merger map in the code-list directory.
pub const MERGER_FILE: &str = "vn.province.merger-2025.csv";

/// Reads the old → new province map from the code list (`from_code,to_code,...`, `#` comment
/// lines).
pub fn load_province_map(codelists: &Path) -> Result<ProvinceMap, SetupError> {
    let path = codelists.join(MERGER_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| SetupError::Read {
        path: path.clone(),
        source,
    })?;
    let invalid = |reason: String| SetupError::Invalid {
        path: path.clone(),
        reason,
    };
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let (Some(from), Some(to)) = (
        header.iter().position(|h| *h == "from_code"),
        header.iter().position(|h| *h == "to_code"),
    ) else {
        return Err(invalid("no from_code,to_code header".to_string()));
    };
    let mut pairs = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let code = |i: usize| -> Result<u8, SetupError> {
            fields
                .get(i)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| invalid(format!("bad row `{line}`")))
        };
        pairs.push((code(from)?, code(to)?));
    }
    Ok(ProvinceMap::from_pairs(pairs)?)
}

/// Reads model parameters from JSON.
pub fn load_model(path: &Path) -> Result<ModelParams, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    ModelParams::from_json(&text).map_err(|source| SetupError::Model {
        path: path.to_path_buf(),
        source,
    })
}

/// The model a service uses: the configured file, or the starting values sized for the register.
pub fn model_for(config: &ResolveConfig, register_size: usize) -> Result<Model, SetupError> {
    let params = match &config.model {
        Some(path) => load_model(path)?,
        None => ModelParams::starting_values("starting-values")
            .with_prior_for_register(register_size as u64, 0.9),
    };
    let path = config.model.clone().unwrap_or_default();
    Model::new(params).map_err(|source| SetupError::Model { path, source })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResolveLabels {
    interface: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    kind: &'static str,
}

/// The resolver's metric families.
#[derive(Debug, Clone)]
pub struct ResolveMetrics {
    resolutions: Family<ResolveLabels, Counter>,
    seconds: Histogram,
    people: Gauge,
    changes: Family<ChangeLabels, Counter>,
}

impl Default for ResolveMetrics {
    fn default() -> Self {
        Self {
            resolutions: Family::default(),
            seconds: Histogram::new([
                0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
            ]),
            people: Gauge::default(),
            changes: Family::default(),
        }
    }
}

impl ResolveMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self::default();
        metrics.register(
            "resolve_resolutions",
            "Records resolved, by interface (grpc, stream, reconcile) and match status",
            m.resolutions.clone(),
        );
        metrics.register(
            "resolve_duration_seconds",
            "Time to resolve one record against the index",
            m.seconds.clone(),
        );
        metrics.register(
            "resolve_register_people",
            "People in the population index",
            m.people.clone(),
        );
        metrics.register(
            "resolve_register_changes",
            "Register changes applied to the index, by kind (inserted, updated, reissued, rejected)",
            m.changes.clone(),
        );
        m
    }
}

/// Label of a status in metrics and reports.
pub fn status_label(status: MatchStatus) -> &'static str {
    match status {
        MatchStatus::Matched => "matched",
        MatchStatus::MatchedWithDiscrepancies => "matched_with_discrepancies",
        MatchStatus::NotFound => "not_found",
        MatchStatus::Ambiguous => "ambiguous",
        MatchStatus::InvalidInput => "invalid_input",
    }
}

/// The index and the matcher, shared by every interface. Resolutions read the index
/// concurrently; register changes take it exclusively, one at a time.
#[derive(Debug)]
pub struct Resolver {
    index: RwLock<PopulationIndex>,
    matcher: Matcher,
    metrics: ResolveMetrics,
}

impl Resolver {
    pub fn new(index: PopulationIndex, matcher: Matcher, metrics: ResolveMetrics) -> Arc<Self> {
        metrics.people.set(index.len() as i64);
        Arc::new(Self {
            index: RwLock::new(index),
            matcher,
            metrics,
        })
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The index, for reading (snapshots, reports).
    pub fn index(&self) -> RwLockReadGuard<'_, PopulationIndex> {
        // A panic while holding the lock cannot leave the index half-changed: upsert either
        // completes or returns an error before touching it.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves one record, counting it under `interface`.
    pub fn resolve(&self, record: &QueryRecord, interface: &'static str) -> Resolution {
        let started = Instant::now();
        let resolution = self.matcher.resolve(&self.index(), record);
        self.metrics
            .seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .resolutions
            .get_or_create(&ResolveLabels {
                interface,
                status: status_label(resolution.status),
            })
            .inc();
        resolution
    }

    /// Applies one register change.
    pub fn apply(&self, entry: PopulationEntry) -> Result<UpsertOutcome, IndexError> {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let outcome = index.upsert(entry);
        let kind = match &outcome {
            Ok(o) => match o.kind {
                UpsertKind::Inserted => "inserted",
                UpsertKind::Updated => "updated",
                UpsertKind::Reissued { .. } => "reissued",
            },
            Err(_) => "rejected",
        };
        // Changed people leave stale entries behind; compact once they are a fifth of the index.
        if index.pending_changes() > 1_000 && index.pending_changes() * 5 > index.len() {
            index.compact();
        }
        self.metrics.people.set(index.len() as i64);
        self.metrics
            .changes
            .get_or_create(&ChangeLabels { kind })
            .inc();
        outcome
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn shipped_codelists() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists")
    }

    #[test]
    fn the_shipped_merger_map_has_63_old_and_34_new_provinces() {
        let map = load_province_map(&shipped_codelists()).unwrap();
        let pairs: Vec<(u8, u8)> = map.pairs().collect();
        assert_eq!(pairs.len(), 63);
        let mut new: Vec<u8> = pairs.iter().map(|p| p.1).collect();
        new.sort_unstable();
        new.dedup();
        assert_eq!(new.len(), 34);
        // Hà Giang (02) went to Tuyên Quang (08).
        assert!(pairs.contains(&(2, 8)));
    }

    #[test]
    fn resolved_topics_follow_the_canonical_ones() {
        assert_eq!(
            resolved_topic("canonical.civil_servant.v1").as_deref(),
            Some("resolved.civil_servant.v1")
        );
        assert_eq!(resolved_topic("cdc.x"), None);
    }

    #[test]
    fn config_rules() {
        let mut problems = Problems::new();
        ResolveConfig {
            inputs: vec!["canonical.organisation.v1".into()],
            review_topic: String::new(),
            matcher: MatcherConfig {
                match_threshold: 2.0,
                ..MatcherConfig::default()
            },
            ..ResolveConfig::default()
        }
        .validate(&mut problems);
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["matcher", "inputs", "review_topic"],
            "{problems:?}"
        );
        let mut none = Problems::new();
        ResolveConfig::default().validate(&mut none);
        assert!(none.is_empty());
    }
}
