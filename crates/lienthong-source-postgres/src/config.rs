//! `[source_postgres.<source_id>]`: one PostgreSQL source database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lienthong_runtime::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

/// Settings of one PostgreSQL source. The map key in the config file is the source id, which
/// names the topics (`cdc.<source_id>.<schema>.<table>`).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresSourceConfig {
    /// Name of the `[databases.<name>]` entry to capture.
    pub database: String,
    /// Replication slot; created when missing. One slot per source: two connectors sharing one
    /// would each see only part of the changes.
    pub slot: String,
    /// Publication; created when missing (with `create_publication`), and tables matching
    /// `tables` are added to it.
    pub publication: String,
    #[serde(default = "default_true")]
    pub create_publication: bool,
    /// Tables to capture, as `schema.table` patterns where `*` matches any run of characters
    /// (`"public.*"`, `"hr.can_bo"`).
    pub tables: Vec<String>,
    /// Tables to leave out, same pattern syntax.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// Columns never captured, as `schema.table.column` patterns.
    #[serde(default)]
    pub exclude_columns: Vec<String>,
    /// Per-column protection of personal data: `"schema.table.column" = "hash" | "redact"`.
    /// `hash` replaces the value by a salted SHA-256 (same input, same output: joins still work);
    /// `redact` replaces it by null.
    #[serde(default)]
    pub mask_columns: BTreeMap<String, MaskKind>,
    /// Salt for `hash` masking. Required when any column is hashed.
    pub hash_salt: Option<Secret<String>>,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    /// Interval of heartbeat messages written to the source's WAL, so that an idle or filtered
    /// source lets the slot advance and PostgreSQL recycle WAL. 0 disables them.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_interval_ms: u64,
    /// Interval of standby status updates (position confirmations) to the server.
    #[serde(default = "default_status_ms")]
    pub status_interval_ms: u64,
    /// Most events handed to the broker and not yet acknowledged; reading from the slot pauses
    /// beyond it. Bounds memory together with `spill_dir`.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Where in-progress transactions streamed by the server wait for their commit. Their size
    /// is bounded by disk, not memory.
    #[serde(default = "default_spill_dir")]
    pub spill_dir: PathBuf,
    /// Bytes of a streamed transaction kept in memory before it moves to `spill_dir`. Memory
    /// for in-progress transactions is at most this times the transactions the server streams
    /// at once (it streams the largest when its own `logical_decoding_work_mem` is full).
    #[serde(default = "default_spill_memory_bytes")]
    pub spill_memory_bytes: usize,
    /// Topic prefix of change events.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
}

fn default_true() -> bool {
    true
}
fn default_heartbeat_ms() -> u64 {
    10_000
}
fn default_status_ms() -> u64 {
    2_000
}
fn default_max_in_flight() -> usize {
    20_000
}
fn default_spill_memory_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_spill_dir() -> PathBuf {
    PathBuf::from(".lienthong/spill")
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

/// `[source_postgres.<id>.snapshot]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// `initial`: read every captured table once when the slot is new, then stream;
    /// `never`: stream only.
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

impl Validate for PostgresSourceConfig {
    fn validate(&self, problems: &mut Problems) {
        for (field, value) in [
            ("database", &self.database),
            ("slot", &self.slot),
            ("publication", &self.publication),
        ] {
            if value.is_empty() {
                problems.push(field, "must not be empty");
            }
        }
        // Slot names: lower-case letters, digits and underscores (a server rule).
        if !self
            .slot
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            problems.push(
                "slot",
                "may contain only lower-case letters, digits and '_'",
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
                    "must be schema.table.column",
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
        if self.snapshot.chunk_size == 0 {
            problems.push("snapshot.chunk_size", "must be positive");
        }
        if self.status_interval_ms == 0 {
            problems.push("status_interval_ms", "must be positive");
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
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(pattern_matches("public.*", "public.can_bo"));
        assert!(pattern_matches("*.can_bo", "hr.can_bo"));
        assert!(pattern_matches("public.can_*_x", "public.can_bo_x"));
        assert!(!pattern_matches("public.*", "hr.can_bo"));
        assert!(!pattern_matches("public.can_bo", "public.can_bo2"));
        assert!(pattern_matches("public.can_bo.*", "public.can_bo.so_cccd"));
    }
}
