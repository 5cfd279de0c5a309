//! The `lienthong` configuration file: every section of every service, loaded through the
//! runtime's layered loader with the defaults embedded from `config/defaults.toml`.

use std::collections::BTreeMap;
use std::path::Path;

use lienthong_resolve::service::ResolveConfig;
use lienthong_runtime::config::{self, ConfigError, Problems, Validate};
use lienthong_runtime::database::DatabaseConfig;
use lienthong_runtime::health::HealthConfig;
use lienthong_runtime::kafka::KafkaConfig;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::telemetry::TelemetryConfig;
use lienthong_sink_http::SinkConfig;
use lienthong_source_mysql::MysqlSourceConfig;
use lienthong_source_poll::PollSourceConfig;
use lienthong_source_postgres::PostgresSourceConfig;
use lienthong_translate::stage::TranslateConfig;
use serde::{Deserialize, Serialize};

/// Built-in defaults, layered under the file and the environment.
pub const DEFAULTS: &str = include_str!("../config/defaults.toml");

/// The whole configuration. Unknown keys anywhere are errors.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LienthongConfig {
    pub telemetry: TelemetryConfig,
    pub health: HealthConfig,
    pub kafka: KafkaConfig,
    pub retry: RetryConfig,
    pub state: StateConfig,
    /// Databases by name; services refer to them by that name.
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// PostgreSQL sources by source id (the id names their topics: `cdc.<id>.<schema>.<table>`).
    #[serde(default)]
    pub source_postgres: BTreeMap<String, PostgresSourceConfig>,
    /// MariaDB/MySQL sources by source id (the id names their topics:
    /// `cdc.<id>.<database>.<table>`).
    #[serde(default)]
    pub source_mysql: BTreeMap<String, MysqlSourceConfig>,
    /// Polled sources (databases without log access: PostgreSQL, MySQL/MariaDB, SQLite) by
    /// source id (the id names their topics: `cdc.<id>.<schema>.<table>`).
    #[serde(default)]
    pub source_poll: BTreeMap<String, PollSourceConfig>,
    /// The translator: mapping files, code lists, consumer group.
    #[serde(default)]
    pub translate: TranslateConfig,
    /// Delivery to the national data-sharing platforms: endpoints and routes.
    #[serde(default)]
    pub sink: SinkConfig,
    /// The population-ID resolver: register, model, gRPC address, topics.
    #[serde(default)]
    pub resolve: ResolveConfig,
    /// The partner sharing policies: their directory and how often it is re-read.
    #[serde(default)]
    pub policy: lienthong_policy::PolicyConfig,
    /// The partner-topic projection stage: inputs, audit topic, consumer group.
    #[serde(default)]
    pub share: lienthong_share::ShareConfig,
    /// The audit log of lookups and deliveries: database, subject key, topic.
    #[serde(default)]
    pub audit: lienthong_audit::AuditConfig,
    /// The master-data store: its database, topics, consumer group and batches.
    #[serde(default)]
    pub store: lienthong_store::StoreConfig,
    /// The gRPC lookup API: address, TLS, the store's database, the resolver.
    #[serde(default)]
    pub lookup: lienthong_lookup::LookupConfig,
}

/// `[state]`: where connectors keep their durable state.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Compacted, single-partition topic of connector state (snapshot progress, schema versions).
    pub topic: String,
}

impl Validate for LienthongConfig {
    fn validate(&self, problems: &mut Problems) {
        problems.nested("telemetry", &self.telemetry);
        problems.nested("health", &self.health);
        problems.nested("kafka", &self.kafka);
        problems.nested("retry", &self.retry);
        problems.nested("translate", &self.translate);
        problems.nested("sink", &self.sink);
        problems.nested("resolve", &self.resolve);
        problems.nested("policy", &self.policy);
        problems.nested("share", &self.share);
        problems.nested("audit", &self.audit);
        problems.nested("store", &self.store);
        problems.nested("lookup", &self.lookup);
        if let Some(database) = &self.store.database
            && !database.is_empty()
        {
            match self.databases.get(database) {
                None => problems.push(
                    "store.database",
                    format!("`{database}` is not a [databases] entry"),
                ),
                Some(db)
                    if db.kind() != Some(lienthong_runtime::database::DatabaseKind::Postgres) =>
                {
                    problems.push(
                        "store.database",
                        format!("[databases.{database}] is not a postgres:// database"),
                    )
                }
                Some(_) => {}
            }
        }
        // An empty name is reported by [audit] itself when auditing is enabled.
        if !self.audit.database.is_empty() {
            match self.databases.get(&self.audit.database) {
                None => problems.push(
                    "audit.database",
                    format!("`{}` is not a [databases] entry", self.audit.database),
                ),
                Some(db)
                    if db.kind() != Some(lienthong_runtime::database::DatabaseKind::Postgres) =>
                {
                    problems.push(
                        "audit.database",
                        format!(
                            "[databases.{}] is not a postgres:// database",
                            self.audit.database
                        ),
                    )
                }
                Some(_) => {}
            }
        }
        if let lienthong_resolve::register::RegisterSource::Postgres { database, .. } =
            &self.resolve.register
            && !self.databases.contains_key(database)
        {
            problems.push(
                "resolve.register.database",
                format!("`{database}` is not a [databases] entry"),
            );
        }
        for (name, db) in &self.databases {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                problems.push(
                    format!("databases.{name}"),
                    "names use only letters, digits, '-' and '_'",
                );
            }
            problems.nested(&format!("databases.{name}"), db);
        }
        if self.state.topic.is_empty() {
            problems.push("state.topic", "must not be empty");
        }
        let mut slots = BTreeMap::new();
        for (id, source) in &self.source_postgres {
            let at = format!("source_postgres.{id}");
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(
                    &at,
                    "source ids use only letters, digits, '-' and '_' (they name topics)",
                );
            }
            match self.databases.get(&source.database) {
                None => problems.push(
                    format!("{at}.database"),
                    format!(
                        "names [databases.{}], which is not configured",
                        source.database
                    ),
                ),
                Some(db)
                    if db.kind() != Some(lienthong_runtime::database::DatabaseKind::Postgres) =>
                {
                    problems.push(
                        format!("{at}.database"),
                        format!(
                            "[databases.{}] is not a postgres:// database",
                            source.database
                        ),
                    )
                }
                Some(_) => {}
            }
            if let Some(other) = slots.insert((source.database.clone(), source.slot.clone()), id) {
                problems.push(
                    format!("{at}.slot"),
                    format!(
                        "slot {} is also used by source_postgres.{other}: one slot per source",
                        source.slot
                    ),
                );
            }
            problems.nested(&at, source);
        }
        let mut server_ids = BTreeMap::new();
        for (id, source) in &self.source_mysql {
            let at = format!("source_mysql.{id}");
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(
                    &at,
                    "source ids use only letters, digits, '-' and '_' (they name topics)",
                );
            }
            if self.source_postgres.contains_key(id) {
                problems.push(
                    &at,
                    format!("source_postgres.{id} has the same id: source ids name topics and must be unique"),
                );
            }
            match self.databases.get(&source.database) {
                None => problems.push(
                    format!("{at}.database"),
                    format!(
                        "names [databases.{}], which is not configured",
                        source.database
                    ),
                ),
                Some(db) if db.kind() != Some(lienthong_runtime::database::DatabaseKind::MySql) => {
                    problems.push(
                        format!("{at}.database"),
                        format!(
                            "[databases.{}] is not a mysql:// (or mariadb://) database",
                            source.database
                        ),
                    )
                }
                Some(_) => {}
            }
            // Two connectors registering with one server id take each other's binlog connection.
            if let Some(other) = server_ids.insert((source.database.clone(), source.server_id), id)
            {
                problems.push(
                    format!("{at}.server_id"),
                    format!(
                        "server_id {} is also used by source_mysql.{other} on the same database: one server id per connector",
                        source.server_id
                    ),
                );
            }
            problems.nested(&at, source);
        }
        for (id, source) in &self.source_poll {
            let at = format!("source_poll.{id}");
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(
                    &at,
                    "source ids use only letters, digits, '-' and '_' (they name topics)",
                );
            }
            for (other, taken) in [
                ("source_postgres", self.source_postgres.contains_key(id)),
                ("source_mysql", self.source_mysql.contains_key(id)),
            ] {
                if taken {
                    problems.push(
                        &at,
                        format!("{other}.{id} has the same id: source ids name topics and must be unique"),
                    );
                }
            }
            // Any kind the runtime knows (postgres://, mysql://, sqlite://) can be polled; an
            // unknown scheme is reported under databases.<name>.url already.
            if !self.databases.contains_key(&source.database) {
                problems.push(
                    format!("{at}.database"),
                    format!(
                        "names [databases.{}], which is not configured",
                        source.database
                    ),
                );
            }
            problems.nested(&at, source);
        }
    }
}

/// Loads defaults → `file` → environment.
pub fn load(file: Option<&Path>) -> Result<LienthongConfig, ConfigError> {
    config::load(DEFAULTS, file)
}

/// The JSON Schema of the configuration file, as published in `schemas/config.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(LienthongConfig);
    serde_json::to_value(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_alone_are_a_valid_config() {
        let cfg: LienthongConfig = config::load_from(DEFAULTS, None, BTreeMap::new()).unwrap();
        assert_eq!(cfg.kafka.bootstrap_servers, "127.0.0.1:19092");
        assert!(cfg.databases.is_empty());
    }

    #[test]
    fn published_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/config.schema.json");
        let published: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            published,
            json_schema(),
            "schemas/config.schema.json is stale: run `make schemas`"
        );
    }
}
