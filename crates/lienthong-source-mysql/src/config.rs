//! `[source_mysql.<source_id>]`: one MariaDB or MySQL source database.
//!
//! The shape follows `[source_postgres.<id>]` so operators see one style: the same table and
//! column patterns, masking, snapshot and in-flight settings. What differs is what the binlog
//! protocol needs: a replica `server_id` instead of a slot and publication.

use std::collections::BTreeMap;

use lienthong_runtime::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

/// Settings of one MariaDB/MySQL source. The map key in the config file is the source id, which
/// names the topics (`cdc.<source_id>.<database>.<table>`).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MysqlSourceConfig {
    /// Name of the `[databases.<name>]` entry to capture (a `mysql://` URL; MariaDB too).
    pub database: String,
    /// Server id the connector registers with as a replica. It must differ from the source
    /// server's own `server_id` and from every other replica of that server: the server drops
    /// an older binlog connection when a new one registers with the same id.
    pub server_id: u32,
    /// Tables to capture, as `database.table` patterns where `*` matches any run of characters
    /// (`"bhxh.*"`, `"bhxh.nguoi_tham_gia"`).
    pub tables: Vec<String>,
    /// Tables to leave out, same pattern syntax.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// Columns never captured, as `database.table.column` patterns.
    #[serde(default)]
    pub exclude_columns: Vec<String>,
    /// Per-column protection of personal data: `"database.table.column" = "hash" | "redact"`.
    /// `hash` replaces the value by a salted SHA-256 (same input, same output: joins still work);
    /// `redact` replaces it by null.
    #[serde(default)]
    pub mask_columns: BTreeMap<String, MaskKind>,
    /// Salt for `hash` masking. Required when any column is hashed.
    pub hash_salt: Option<Secret<String>>,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    /// The UTC offset `DATETIME` values were written in, such as `"+07:00"`. `DATETIME` has no
    /// time zone of its own: unset, values are published as local date-times exactly as stored;
    /// set, they are published as instants (UTC timestamps), like `TIMESTAMP` columns.
    /// Vietnam has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact there.
    pub datetime_offset: Option<String>,
    /// Interval of the server's heartbeat events on an idle binlog connection. A connection
    /// silent for three intervals is considered dead and reopened.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_interval_ms: u64,
    /// How often the confirmed position is saved to the state topic. A crash replays at most
    /// the transactions confirmed since the last save (they keep their idempotency keys).
    #[serde(default = "default_position_save_ms")]
    pub position_save_interval_ms: u64,
    /// Most events handed to the broker and not yet acknowledged; reading the binlog pauses
    /// beyond it.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Topic prefix of change events.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
}

fn default_heartbeat_ms() -> u64 {
    5_000
}
fn default_position_save_ms() -> u64 {
    1_000
}
fn default_max_in_flight() -> usize {
    20_000
}
fn default_topic_prefix() -> String {
    "cdc".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MaskKind {
    Hash,
    Redact,
}

/// `[source_mysql.<id>.snapshot]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// `initial`: read every captured table once, consistently, when the source has no saved
    /// position, then stream from the snapshot's binlog position; `never`: stream only, from
    /// the server's current position.
    #[serde(default = "default_snapshot_mode")]
    pub mode: SnapshotMode,
    /// Rows per snapshot chunk (one SELECT ordered by primary key).
    #[serde(default = "default_chunk_size")]
    pub chunk_size: u32,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        Self {
            mode: default_snapshot_mode(),
            chunk_size: default_chunk_size(),
        }
    }
}

fn default_snapshot_mode() -> SnapshotMode {
    SnapshotMode::Initial
}
fn default_chunk_size() -> u32 {
    5_000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    Initial,
    Never,
}

impl MysqlSourceConfig {
    /// Whether `database.table` is captured: matched by `tables` and not by `exclude_tables`.
    pub fn captures(&self, database: &str, table: &str) -> bool {
        let name = format!("{database}.{table}");
        self.tables.iter().any(|p| pattern_matches(p, &name))
            && !self
                .exclude_tables
                .iter()
                .any(|p| pattern_matches(p, &name))
    }

    /// The configured `datetime_offset` in seconds east of UTC, when set and valid.
    pub fn datetime_offset_seconds(&self) -> Option<i32> {
        self.datetime_offset.as_deref().and_then(parse_utc_offset)
    }
}

/// `+07:00`, `-03:30`, `+00:00` → seconds east of UTC. Hours up to 14, minutes below 60.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || bytes[3] != b':' {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let hours = digits(1..3)?;
    let minutes = digits(4..6)?;
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

impl Validate for MysqlSourceConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.database.is_empty() {
            problems.push("database", "must not be empty");
        }
        if self.server_id == 0 {
            problems.push(
                "server_id",
                "must be positive (0 is refused by the server for replicas)",
            );
        }
        if self.tables.is_empty() {
            problems.push("tables", "name at least one table pattern");
        }
        for (field, patterns, parts) in [
            ("tables", &self.tables, 2),
            ("exclude_tables", &self.exclude_tables, 2),
            ("exclude_columns", &self.exclude_columns, 3),
        ] {
            for p in patterns {
                if p.split('.').count() != parts {
                    problems.push(
                        field,
                        format!("`{p}` must have {parts} dot-separated parts"),
                    );
                }
            }
        }
        for column in self.mask_columns.keys() {
            if column.split('.').count() != 3 {
                problems.push(
                    format!("mask_columns.\"{column}\""),
                    "must be database.table.column",
                );
            }
        }
        let hashes = self.mask_columns.values().any(|k| *k == MaskKind::Hash);
        if hashes
            && self
                .hash_salt
                .as_ref()
                .is_none_or(|s| s.expose().len() < 16)
        {
            problems.push(
                "hash_salt",
                "hashed columns need a salt of at least 16 characters",
            );
        }
        if let Some(offset) = &self.datetime_offset
            && parse_utc_offset(offset).is_none()
        {
            problems.push(
                "datetime_offset",
                format!("`{offset}` is not a UTC offset such as \"+07:00\""),
            );
        }
        if self.snapshot.chunk_size == 0 {
            problems.push("snapshot.chunk_size", "must be positive");
        }
        if self.heartbeat_interval_ms == 0 {
            problems.push("heartbeat_interval_ms", "must be positive");
        }
        if self.position_save_interval_ms == 0 {
            problems.push("position_save_interval_ms", "must be positive");
        }
        if self.max_in_flight == 0 {
            problems.push("max_in_flight", "must be positive");
        }
    }
}

/// `*`-wildcard match of a dotted name against a pattern.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> MysqlSourceConfig {
        toml::from_str(
            r#"
            database = "bhxh"
            server_id = 4242
            tables = ["bhxh.*"]
            exclude_tables = ["bhxh.tmp_*"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn defaults_and_filters() {
        let c = config();
        assert_eq!(c.snapshot.mode, SnapshotMode::Initial);
        assert_eq!(c.snapshot.chunk_size, 5_000);
        assert_eq!(c.topic_prefix, "cdc");
        assert!(c.captures("bhxh", "nguoi_tham_gia"));
        assert!(!c.captures("bhxh", "tmp_import"));
        assert!(!c.captures("other", "nguoi_tham_gia"));
        let mut problems = Problems::new();
        c.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(
            toml::from_str::<MysqlSourceConfig>(
                "database = \"x\"\nserver_id = 1\ntables = []\nslot = \"s\""
            )
            .is_err()
        );
        let mut c = config();
        c.server_id = 0;
        c.tables = vec!["no_dot".into()];
        c.datetime_offset = Some("+7".into());
        c.mask_columns
            .insert("bhxh.t.so_cccd".into(), MaskKind::Hash);
        let mut problems = Problems::new();
        c.validate(&mut problems);
        let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
        for field in ["server_id", "tables", "datetime_offset", "hash_salt"] {
            assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+07:00"), Some(25_200));
        assert_eq!(parse_utc_offset("-03:30"), Some(-12_600));
        assert_eq!(parse_utc_offset("+00:00"), Some(0));
        for bad in ["07:00", "+7:00", "+07:60", "+15:00", "+07-00", "+0a:00", ""] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(pattern_matches("bhxh.*", "bhxh.nguoi"));
        assert!(pattern_matches("*.nguoi", "hr.nguoi"));
        assert!(!pattern_matches("bhxh.nguoi", "bhxh.nguoi2"));
    }
}
