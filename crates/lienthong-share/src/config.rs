//! `[share]`: the projection stage's topics and pacing.

use lienthong_policy::Entity;
use lienthong_runtime::config::{Problems, Validate};
use serde::{Deserialize, Serialize};

/// `[share]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareConfig {
    /// Consumer group of the stage (replicas share it and split the partitions).
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// The topic each entity is read from.
    #[serde(default)]
    pub inputs: ShareInputs,
    /// Where one JSON event per partner-topic record is published while `[audit]` is disabled.
    /// With `[audit]` enabled the events go to the audit log instead, and from it to
    /// `[audit] topic`; this setting is then unused.
    #[serde(default = "default_audit_topic")]
    pub audit_topic: String,
    /// Input records projected together: the policies in force are taken once per batch, and
    /// a batch's audit events are written in one call.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How often acknowledged input offsets are committed, in milliseconds.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
}

/// `[share.inputs]`: the topic of each entity. The resolver's topics carry person and civil
/// servant with their population match; the other entities come straight from the translator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInputs {
    /// `lienthong.v1.ResolvedPerson` records.
    #[serde(default = "default_person")]
    pub person: String,
    /// `lienthong.v1.ResolvedCivilServant` records.
    #[serde(default = "default_civil_servant")]
    pub civil_servant: String,
    /// `lienthong.v1.Organisation` records.
    #[serde(default = "default_organisation")]
    pub organisation: String,
    /// `lienthong.v1.AdministrativeUnit` records.
    #[serde(default = "default_administrative_unit")]
    pub administrative_unit: String,
    /// `lienthong.v1.SocialInsuranceRecord` records.
    #[serde(default = "default_social_insurance")]
    pub social_insurance: String,
}

impl ShareInputs {
    /// (entity, topic) for every entity.
    pub fn topics(&self) -> [(Entity, &str); 5] {
        [
            (Entity::Person, self.person.as_str()),
            (Entity::CivilServant, self.civil_servant.as_str()),
            (Entity::Organisation, self.organisation.as_str()),
            (
                Entity::AdministrativeUnit,
                self.administrative_unit.as_str(),
            ),
            (Entity::SocialInsurance, self.social_insurance.as_str()),
        ]
    }

    /// The entity read from `topic`.
    pub fn entity_of(&self, topic: &str) -> Option<Entity> {
        self.topics()
            .into_iter()
            .find(|(_, t)| *t == topic)
            .map(|(e, _)| e)
    }
}

fn default_group_id() -> String {
    "lienthong-share".to_string()
}
fn default_audit_topic() -> String {
    "audit".to_string()
}
fn default_max_batch() -> usize {
    500
}
fn default_commit_interval_ms() -> u64 {
    1_000
}
fn default_person() -> String {
    "resolved.person.v1".to_string()
}
fn default_civil_servant() -> String {
    "resolved.civil_servant.v1".to_string()
}
fn default_organisation() -> String {
    "canonical.organisation.v1".to_string()
}
fn default_administrative_unit() -> String {
    "canonical.administrative_unit.v1".to_string()
}
fn default_social_insurance() -> String {
    "canonical.social_insurance.v1".to_string()
}

impl Default for ShareInputs {
    fn default() -> Self {
        Self {
            person: default_person(),
            civil_servant: default_civil_servant(),
            organisation: default_organisation(),
            administrative_unit: default_administrative_unit(),
            social_insurance: default_social_insurance(),
        }
    }
}

impl Default for ShareConfig {
    fn default() -> Self {
        Self {
            group_id: default_group_id(),
            inputs: ShareInputs::default(),
            audit_topic: default_audit_topic(),
            max_batch: default_max_batch(),
            commit_interval_ms: default_commit_interval_ms(),
        }
    }
}

fn valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Validate for ShareConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.group_id.is_empty() {
            problems.push("group_id", "must not be empty");
        }
        let mut seen: Vec<&str> = Vec::new();
        for (entity, topic) in self.inputs.topics() {
            let at = format!("inputs.{}", entity.name());
            if !valid_topic(topic) {
                problems.push(&at, "a Kafka topic name: letters, digits, '.', '_' and '-'");
            } else if topic.starts_with("share.") {
                problems.push(&at, "must not be a partner topic (share.*)");
            } else if seen.contains(&topic) {
                problems.push(&at, format!("{topic} is also the input of another entity"));
            }
            seen.push(topic);
        }
        if !valid_topic(&self.audit_topic) {
            problems.push(
                "audit_topic",
                "a Kafka topic name: letters, digits, '.', '_' and '-'",
            );
        } else if seen.contains(&self.audit_topic.as_str()) {
            problems.push("audit_topic", "must not be an input topic");
        }
        if self.max_batch == 0 {
            problems.push("max_batch", "at least 1");
        }
        if self.commit_interval_ms == 0 {
            problems.push("commit_interval_ms", "at least 1 ms");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_map_topics_to_entities() {
        let config = ShareConfig::default();
        let mut problems = Problems::new();
        config.validate(&mut problems);
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(
            config.inputs.entity_of("resolved.civil_servant.v1"),
            Some(Entity::CivilServant)
        );
        assert_eq!(config.inputs.entity_of("canonical.civil_servant.v1"), None);
    }

    #[test]
    fn rules() {
        let config = ShareConfig {
            group_id: String::new(),
            inputs: ShareInputs {
                person: "share.x.person.v1".into(),
                organisation: "resolved.civil_servant.v1".into(),
                ..ShareInputs::default()
            },
            audit_topic: "a b".into(),
            max_batch: 0,
            commit_interval_ms: 0,
        };
        let mut problems = Problems::new();
        config.validate(&mut problems);
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "group_id",
                "inputs.person",
                "inputs.organisation",
                "audit_topic",
                "max_batch",
                "commit_interval_ms"
            ]
        );
    }
}
