//! Kafka connection and topic settings, shared by every stage.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::config::{Problems, Secret, Validate};

/// `[kafka]`: how to reach the brokers and how topics are created.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// Client id sent to the broker; a stage appends its own name.
    pub client_id: String,
    /// How long a produced record may wait for acknowledgement before it counts as failed and
    /// is retried by the stage (librdkafka `message.timeout.ms`).
    pub message_timeout_ms: u64,
    /// Timeout of metadata, admin and commit requests.
    pub request_timeout_ms: u64,
    /// Consumer session timeout (librdkafka `session.timeout.ms`).
    pub session_timeout_ms: u64,
    /// How long the broker may hold a consumer's fetch while it has no new record (librdkafka
    /// `fetch.wait.max.ms`). A change crosses several topics on its way to a platform and can
    /// wait this long at each when traffic is light; lower means fresher data and more fetch
    /// requests to an idle broker.
    pub fetch_wait_max_ms: u64,
    /// Extra librdkafka properties (e.g. `security.protocol`, `sasl.mechanism`,
    /// `compression.type`), applied to every client.
    pub properties: BTreeMap<String, String>,
    /// Extra librdkafka properties holding secrets (e.g. `sasl.password`); never printed.
    pub secret_properties: BTreeMap<String, Secret<String>>,
    /// Partitions, replication and configs of the topics the services create.
    pub topics: TopicPolicy,
}

/// `[kafka.topics]`: settings for topics the services create through the admin API. The broker
/// is not expected to auto-create topics (production clusters should not).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicPolicy {
    /// Create missing topics at start-up. When false, a missing topic stops the service with
    /// a message naming it.
    pub create: bool,
    pub default: TopicSettings,
    /// Settings for topics whose name matches: an exact name, or a prefix ending in `*`
    /// (`"cdc.*"`). The longest matching pattern wins; unset fields fall back to `default`.
    pub overrides: BTreeMap<String, TopicOverride>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSettings {
    pub partitions: i32,
    pub replication_factor: i32,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicOverride {
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

impl TopicPolicy {
    /// The settings a topic named `name` is created with.
    pub fn settings_for(&self, name: &str) -> TopicSettings {
        let best = self
            .overrides
            .iter()
            .filter(|(pattern, _)| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => pattern.as_str() == name,
            })
            // An exact name beats any prefix; among prefixes, the longest wins.
            .max_by_key(|(pattern, _)| (!pattern.ends_with('*'), pattern.len()));
        let mut settings = self.default.clone();
        if let Some((_, o)) = best {
            settings.partitions = o.partitions.unwrap_or(settings.partitions);
            settings.replication_factor =
                o.replication_factor.unwrap_or(settings.replication_factor);
            settings
                .config
                .extend(o.config.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        settings
    }
}

impl KafkaConfig {
    /// The librdkafka configuration every client starts from.
    pub fn client_config(&self, client_suffix: &str) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap_servers)
            .set("client.id", format!("{}-{client_suffix}", self.client_id))
            .set("socket.timeout.ms", self.request_timeout_ms.to_string())
            // librdkafka logs through our `tracing` subscriber at these levels.
            .set("log_level", "6");
        for (k, v) in &self.properties {
            cfg.set(k, v);
        }
        for (k, v) in &self.secret_properties {
            cfg.set(k, v.expose());
        }
        cfg
    }
}

impl Validate for KafkaConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.bootstrap_servers.trim().is_empty() {
            problems.push("bootstrap_servers", "must name at least one host:port");
        }
        for server in self.bootstrap_servers.split(',').map(str::trim) {
            if !server.is_empty() && !server.contains(':') {
                problems.push(
                    "bootstrap_servers",
                    format!("`{server}` has no port (expected host:port)"),
                );
            }
        }
        if self.client_id.trim().is_empty() {
            problems.push("client_id", "must not be empty");
        }
        if self.message_timeout_ms == 0 {
            problems.push("message_timeout_ms", "must be positive");
        }
        if self.request_timeout_ms < 10 {
            problems.push("request_timeout_ms", "must be at least 10 ms");
        }
        if self.fetch_wait_max_ms > 300_000 {
            problems.push("fetch_wait_max_ms", "must be at most 300000 (5 minutes)");
        }
        for key in self.properties.keys() {
            if self.secret_properties.contains_key(key) {
                problems.push(
                    format!("properties.{key}"),
                    "is also set in secret_properties",
                );
            }
            if key.contains("password") || key.contains("secret") {
                problems.push(
                    format!("properties.{key}"),
                    "looks like a secret: move it to secret_properties so it is never printed",
                );
            }
        }
        problems.nested("topics", &self.topics);
    }
}

impl Validate for TopicPolicy {
    fn validate(&self, problems: &mut Problems) {
        check_counts(
            problems,
            "default",
            Some(self.default.partitions),
            Some(self.default.replication_factor),
        );
        for (pattern, o) in &self.overrides {
            if pattern.trim_end_matches('*').is_empty() {
                problems.push(
                    format!("overrides.\"{pattern}\""),
                    "pattern matches nothing",
                );
            }
            if pattern[..pattern.len().saturating_sub(1)].contains('*') {
                problems.push(
                    format!("overrides.\"{pattern}\""),
                    "`*` is allowed only at the end",
                );
            }
            check_counts(
                problems,
                &format!("overrides.\"{pattern}\""),
                o.partitions,
                o.replication_factor,
            );
        }
    }
}

fn check_counts(problems: &mut Problems, at: &str, partitions: Option<i32>, rf: Option<i32>) {
    if partitions.is_some_and(|p| p < 1) {
        problems.push(format!("{at}.partitions"), "must be at least 1");
    }
    if rf.is_some_and(|r| r < 1) {
        problems.push(format!("{at}.replication_factor"), "must be at least 1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> TopicPolicy {
        TopicPolicy {
            create: true,
            default: TopicSettings {
                partitions: 3,
                replication_factor: 1,
                config: BTreeMap::from([("retention.ms".into(), "604800000".into())]),
            },
            overrides: BTreeMap::from([
                (
                    "cdc.*".to_string(),
                    TopicOverride {
                        partitions: Some(6),
                        ..Default::default()
                    },
                ),
                (
                    "cdc.csdl.*".to_string(),
                    TopicOverride {
                        config: BTreeMap::from([("cleanup.policy".into(), "compact".into())]),
                        ..Default::default()
                    },
                ),
                (
                    "dlq.translate".to_string(),
                    TopicOverride {
                        partitions: Some(1),
                        ..Default::default()
                    },
                ),
            ]),
        }
    }

    #[test]
    fn longest_prefix_and_exact_names_win() {
        let p = policy();
        assert_eq!(p.settings_for("canonical.person.v1").partitions, 3);
        assert_eq!(p.settings_for("cdc.bhxh.public.x").partitions, 6);
        let csdl = p.settings_for("cdc.csdl.public.can_bo");
        // The longer prefix wins; its unset partition count falls back to the default.
        assert_eq!(csdl.partitions, 3);
        assert_eq!(csdl.config["cleanup.policy"], "compact");
        assert_eq!(csdl.config["retention.ms"], "604800000");
        assert_eq!(p.settings_for("dlq.translate").partitions, 1);
    }

    #[test]
    fn bad_policy_is_reported() {
        let mut p = policy();
        p.default.partitions = 0;
        p.overrides.insert("*".into(), TopicOverride::default());
        p.overrides.insert("a*b".into(), TopicOverride::default());
        let mut problems = Problems::new();
        p.validate(&mut problems);
        let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
        assert!(
            fields.contains(&"default.partitions".to_string()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"overrides.\"*\"".to_string()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"overrides.\"a*b\"".to_string()),
            "{fields:?}"
        );
    }

    fn kafka() -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:19092".into(),
            client_id: "lienthong".into(),
            message_timeout_ms: 30_000,
            request_timeout_ms: 10_000,
            session_timeout_ms: 30_000,
            fetch_wait_max_ms: 100,
            properties: BTreeMap::new(),
            secret_properties: BTreeMap::new(),
            topics: policy(),
        }
    }

    #[test]
    fn a_fetch_wait_beyond_librdkafkas_limit_is_refused() {
        let mut kafka = kafka();
        let mut problems = Problems::new();
        kafka.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");

        kafka.fetch_wait_max_ms = 300_001;
        let mut problems = Problems::new();
        kafka.validate(&mut problems);
        let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
        assert_eq!(fields, ["fetch_wait_max_ms"]);
    }
}
