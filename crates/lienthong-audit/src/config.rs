//! `[audit]`: where the audit log lives and how personal IDs are hashed in it.

use lienthong_runtime::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

/// Shortest subject key accepted: 32 characters (`openssl rand -hex 16` gives 32, `-hex 32`
/// gives 64). A short key could be guessed, and with it every subject hash reversed.
pub const MIN_SUBJECT_KEY_LEN: usize = 32;

/// `[audit]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Audit lookups and deliveries (`lienthong lookup` refuses to start without it). `lienthong
    /// audit verify` needs only `database`, enabled or not.
    #[serde(default)]
    pub enabled: bool,
    /// The `[databases]` entry (PostgreSQL) holding the log, in schema `lienthong_audit`.
    #[serde(default)]
    pub database: String,
    /// Key of the HMAC-SHA256 that stands in for personal IDs in the log. A secret: keep it out
    /// of the config file (`LIENTHONG__AUDIT__SUBJECT_KEY`). Changing it makes earlier and later
    /// hashes of the same person differ.
    #[serde(default)]
    pub subject_key: Secret<String>,
    /// Topic every appended event is also published to, as JSON keyed by partner; empty: the
    /// database only.
    #[serde(default = "default_topic")]
    pub topic: String,
}

fn default_topic() -> String {
    "audit".to_string()
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            database: String::new(),
            subject_key: Secret::default(),
            topic: default_topic(),
        }
    }
}

impl Validate for AuditConfig {
    fn validate(&self, problems: &mut Problems) {
        if !self.enabled {
            return;
        }
        if self.database.is_empty() {
            problems.push(
                "database",
                "name the [databases] entry that holds the audit log",
            );
        }
        let key_len = self.subject_key.expose().chars().count();
        if key_len < MIN_SUBJECT_KEY_LEN {
            problems.push(
                "subject_key",
                format!(
                    "must be at least {MIN_SUBJECT_KEY_LEN} characters (it has {key_len}); generate one with `openssl rand -hex 32` and set LIENTHONG__AUDIT__SUBJECT_KEY"
                ),
            );
        }
        if self.topic.trim() != self.topic
            || self
                .topic
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            problems.push(
                "topic",
                "a Kafka topic name uses only letters, digits, '.', '_' and '-'",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &AuditConfig) -> Vec<String> {
        let mut p = Problems::new();
        config.validate(&mut p);
        p.iter().map(|p| p.field.clone()).collect()
    }

    #[test]
    fn disabled_needs_nothing() {
        assert!(problems(&AuditConfig::default()).is_empty());
    }

    #[test]
    fn enabled_needs_a_database_and_a_long_key() {
        let mut config = AuditConfig {
            enabled: true,
            subject_key: Secret::new("short".into()),
            ..AuditConfig::default()
        };
        assert_eq!(problems(&config), ["database", "subject_key"]);
        config.database = "audit".into();
        config.subject_key = Secret::new("0123456789abcdef0123456789abcdef".into());
        assert!(problems(&config).is_empty());
        config.topic = "audit log".into();
        assert_eq!(problems(&config), ["topic"]);
        config.topic = String::new();
        assert!(problems(&config).is_empty(), "empty topic: database only");
    }
}
