//! `[store]`: where the store writes and what it reads.

use lienthong_runtime::config::{Problems, Validate};
use serde::{Deserialize, Serialize};

use crate::entity::Entity;

/// `[store]`: the store stage (`lienthong store`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The `[databases]` entry (PostgreSQL) the store writes to. Its tables live in schema
    /// `lienthong_store`, created and migrated at start. Required to run `lienthong store`.
    #[serde(default)]
    pub database: Option<String>,
    /// Consumer group of the stage.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// The topic each entity is read from; an empty name leaves the entity out.
    #[serde(default)]
    pub topics: StoreTopics,
    /// The population register's change topic, for superseded personal IDs; empty: not read.
    #[serde(default = "default_population_topic")]
    pub population_topic: String,
    /// Records written per database transaction (and per offset commit).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest a batch waits to fill up before it is written anyway.
    #[serde(default = "default_batch_linger_ms")]
    pub batch_linger_ms: u64,
    /// Connections of the store's pool.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How often consumer lag (end offset minus committed offset, per partition) is measured.
    #[serde(default = "default_lag_interval_ms")]
    pub lag_interval_ms: u64,
}

/// `[store.topics]`: the topic of each entity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreTopics {
    #[serde(default = "topic_of::<0>")]
    pub person: String,
    #[serde(default = "topic_of::<1>")]
    pub civil_servant: String,
    #[serde(default = "topic_of::<2>")]
    pub organisation: String,
    #[serde(default = "topic_of::<3>")]
    pub administrative_unit: String,
    #[serde(default = "topic_of::<4>")]
    pub social_insurance: String,
}

fn topic_of<const I: usize>() -> String {
    Entity::ALL[I].default_topic().to_string()
}

impl Default for StoreTopics {
    fn default() -> Self {
        Self {
            person: topic_of::<0>(),
            civil_servant: topic_of::<1>(),
            organisation: topic_of::<2>(),
            administrative_unit: topic_of::<3>(),
            social_insurance: topic_of::<4>(),
        }
    }
}

impl StoreTopics {
    /// The topic configured for `entity` (empty when left out).
    pub fn topic(&self, entity: Entity) -> &str {
        match entity {
            Entity::Person => &self.person,
            Entity::CivilServant => &self.civil_servant,
            Entity::Organisation => &self.organisation,
            Entity::AdministrativeUnit => &self.administrative_unit,
            Entity::SocialInsurance => &self.social_insurance,
        }
    }

    /// The entities read, with their topics.
    pub fn read(&self) -> Vec<(Entity, &str)> {
        Entity::ALL
            .into_iter()
            .map(|e| (e, self.topic(e)))
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }
}

fn default_group_id() -> String {
    "lienthong-store".to_string()
}
fn default_population_topic() -> String {
    "population.v1".to_string()
}
fn default_batch_size() -> usize {
    1_000
}
fn default_batch_linger_ms() -> u64 {
    100
}
fn default_max_connections() -> u32 {
    8
}
fn default_lag_interval_ms() -> u64 {
    5_000
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database: None,
            group_id: default_group_id(),
            topics: StoreTopics::default(),
            population_topic: default_population_topic(),
            batch_size: default_batch_size(),
            batch_linger_ms: default_batch_linger_ms(),
            max_connections: default_max_connections(),
            lag_interval_ms: default_lag_interval_ms(),
        }
    }
}

impl Validate for StoreConfig {
    /// The section's own rules; that `database` names a PostgreSQL `[databases]` entry is
    /// checked where the databases are known.
    fn validate(&self, problems: &mut Problems) {
        if self.database.as_deref().is_some_and(str::is_empty) {
            problems.push("database", "must name a [databases] entry");
        }
        if self.group_id.is_empty() || self.group_id.contains(char::is_whitespace) {
            problems.push("group_id", "a non-empty name without spaces");
        }
        let mut seen: Vec<&str> = Vec::new();
        for (entity, topic) in self.topics.read() {
            if topic.contains(char::is_whitespace) {
                problems.push(format!("topics.{entity}"), "a topic name without spaces");
            }
            if seen.contains(&topic) || topic == self.population_topic {
                problems.push(
                    format!("topics.{entity}"),
                    format!("`{topic}` is read for another entity too: one topic per entity"),
                );
            }
            seen.push(topic);
        }
        if self.population_topic.contains(char::is_whitespace) {
            problems.push("population_topic", "a topic name without spaces");
        }
        if self.topics.read().is_empty() && self.population_topic.is_empty() {
            problems.push("topics", "at least one topic must be read");
        }
        if self.batch_size == 0 || self.batch_size > 100_000 {
            problems.push("batch_size", "between 1 and 100000");
        }
        if self.max_connections == 0 {
            problems.push("max_connections", "at least 1");
        }
        if self.lag_interval_ms == 0 {
            problems.push("lag_interval_ms", "must be positive");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &StoreConfig) -> Vec<String> {
        let mut p = Problems::new();
        config.validate(&mut p);
        p.iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect()
    }

    #[test]
    fn the_defaults_read_the_five_entity_topics_and_the_register() {
        let config = StoreConfig::default();
        assert!(problems(&config).is_empty(), "{:?}", problems(&config));
        let read = config.topics.read();
        assert_eq!(read.len(), 5);
        assert!(read.contains(&(Entity::CivilServant, "resolved.civil_servant.v1")));
        assert_eq!(config.population_topic, "population.v1");
        // Deserialising an empty section gives the same.
        let parsed: StoreConfig = toml::from_str("").unwrap();
        assert_eq!(parsed, config);
    }

    #[test]
    fn broken_rules_are_named() {
        let config = StoreConfig {
            database: Some(String::new()),
            group_id: "a b".into(),
            topics: StoreTopics {
                organisation: "resolved.person.v1".into(),
                ..StoreTopics::default()
            },
            batch_size: 0,
            max_connections: 0,
            ..StoreConfig::default()
        };
        let found = problems(&config);
        for field in [
            "database",
            "group_id",
            "topics.organisation",
            "batch_size",
            "max_connections",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(field)),
                "{field} not reported: {found:?}"
            );
        }
        let unknown = toml::from_str::<StoreConfig>("batch = 3");
        assert!(unknown.is_err());
    }
}
