//! `[source_poll.<source_id>]`: one database captured by polling.
//!
//! The shape follows `[source_postgres.<id>]` and `[source_mysql.<id>]` where it can (the
//! database by name, column exclusion and masking patterns, topic prefix). What differs is that
//! each table names how its changes are found: the cursor columns, the key, and optionally a
//! soft-delete column and a created-at column.
//!
//! ```toml
//! [source_poll.hr-legacy]
//! database = "hr_legacy"                 # a [databases.<name>] entry: postgres://, mysql://, sqlite://
//! poll_interval_ms = 1000
//! batch_size = 1000
//! full_compare_interval_ms = 3600000     # hourly search for hard deletes; 0 = never
//!
//! [[source_poll.hr-legacy.tables]]
//! table = "public.can_bo"
//! cursor = ["cap_nhat"]                  # updated_at-style column; the key breaks ties
//! created_column = "tao_luc"             # optional: tells inserts from updates
//! soft_delete = { column = "da_xoa", deleted_value = true }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use lienthong_runtime::config::{Problems, Secret, Validate};
use serde::{Deserialize, Serialize};

/// Settings of one polled source. The map key in the config file is the source id, which names
/// the topics (`cdc.<source_id>.<schema>.<table>`).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollSourceConfig {
    /// Name of the `[databases.<name>]` entry to poll: a `postgres://`, `mysql://` (MariaDB
    /// too) or `sqlite://` URL.
    pub database: String,
    /// The tables to poll, each with its cursor.
    pub tables: Vec<PollTableConfig>,
    /// Columns never captured, as `schema.table.column` patterns where `*` matches any run of
    /// characters. Key and cursor columns cannot be excluded.
    #[serde(default)]
    pub exclude_columns: Vec<String>,
    /// Per-column protection of personal data: `"schema.table.column" = "hash" | "redact"`.
    /// `hash` replaces the value by a salted SHA-256 (same input, same output: joins still work);
    /// `redact` replaces it by null. Cursor columns cannot be masked (positions carry them), and
    /// key columns can only be hashed.
    #[serde(default)]
    pub mask_columns: BTreeMap<String, MaskKind>,
    /// Salt for `hash` masking. Required when any column is hashed.
    pub hash_salt: Option<Secret<String>>,
    /// Pause between two polls of the tables once every table was read to its end.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Rows per query (one keyset page). Tables take turns page by page, so a busy table does
    /// not starve the others.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// How often every table's keys are compared with the keys the connector has published, to
    /// find rows deleted outright (hard deletes), which polling cannot see otherwise. 0: never.
    #[serde(default)]
    pub full_compare_interval_ms: u64,
    /// Safety window of date-time cursors: each poll reads again the rows whose cursor lies
    /// within this many milliseconds below the highest cursor value seen, and publishes those it
    /// has not published yet. Covers writers that commit up to this long after the time they
    /// wrote into the cursor column. 0 disables the window. Tables may override it.
    #[serde(default = "default_safety_window_ms")]
    pub safety_window_ms: u64,
    /// The same for integer cursors (sequence-assigned ids, change counters), in the column's
    /// own units: each poll reads again the last this-many ids below the highest seen.
    #[serde(default = "default_safety_window_ids")]
    pub safety_window_ids: u64,
    /// Most rows the safety window of one table remembers. Beyond it the oldest part of the
    /// window is given up (logged, and counted in `lienthong_source_poll_window_truncated`), so
    /// a burst of rows with one timestamp cannot grow the saved state without bound.
    #[serde(default = "default_max_window_rows")]
    pub max_window_rows: usize,
    /// Topic prefix of change events.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
}

/// `[[source_poll.<id>.tables]]`: one polled table.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollTableConfig {
    /// `schema.table`: the PostgreSQL schema, the MySQL/MariaDB database, or `main` for SQLite.
    pub table: String,
    /// Cursor columns, compared in this order; the key columns follow as tie-breakers, so rows
    /// sharing a cursor value are never skipped. Typically one `updated_at`-style column set on
    /// every insert and update, or a monotonically increasing id for insert-only tables.
    pub cursor: Vec<String>,
    /// Key columns in key order. Empty: the table's primary key from the catalog.
    #[serde(default)]
    pub key: Vec<String>,
    /// A column that marks rows as deleted instead of removing them. A row read with it set is
    /// published as a delete (and a tombstone). The writer must also move the cursor when it
    /// sets the mark, or the delete is not seen until the next full compare.
    pub soft_delete: Option<SoftDeleteConfig>,
    /// A column holding when (or in what order) the row was created, comparable with the first
    /// cursor column (`created_at` beside an `updated_at` cursor; the id itself for an id
    /// cursor). Rows created after the previous poll are published as inserts, others as
    /// updates. Unset: every change after the initial load is published as an update.
    pub created_column: Option<String>,
    /// Overrides the source's `safety_window_ms` for this table.
    pub safety_window_ms: Option<u64>,
    /// Overrides the source's `safety_window_ids` for this table.
    pub safety_window_ids: Option<u64>,
}

/// `soft_delete = { column = "...", deleted_value = ... }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoftDeleteConfig {
    pub column: String,
    /// The value that means "deleted" (`true`, `1`, `"Y"`). Unset: any non-null value means
    /// deleted (a `deleted_at` timestamp column).
    pub deleted_value: Option<SoftDeleteValue>,
}

/// A soft-delete marker value as written in TOML.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum SoftDeleteValue {
    Bool(bool),
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MaskKind {
    Hash,
    Redact,
}

fn default_poll_interval_ms() -> u64 {
    1_000
}
fn default_batch_size() -> u32 {
    1_000
}
fn default_safety_window_ms() -> u64 {
    30_000
}
fn default_safety_window_ids() -> u64 {
    1_000
}
fn default_max_window_rows() -> usize {
    10_000
}
fn default_topic_prefix() -> String {
    "cdc".into()
}

/// Largest page: bigger pages hold more rows in memory and in flight to the broker at once.
pub const MAX_BATCH_SIZE: u32 = 100_000;

impl PollTableConfig {
    /// `(schema, table)`.
    pub fn schema_and_name(&self) -> Option<(&str, &str)> {
        self.table
            .split_once('.')
            .filter(|(s, t)| !s.is_empty() && !t.is_empty() && !t.contains('.'))
    }

    /// Columns whose values positions carry as they are.
    fn cursor_and_key(&self) -> impl Iterator<Item = &String> {
        self.cursor.iter().chain(self.key.iter())
    }
}

impl PollSourceConfig {
    /// The effective safety window of a table: (date-time milliseconds, integer units).
    pub fn safety_window(&self, table: &PollTableConfig) -> (u64, u64) {
        (
            table.safety_window_ms.unwrap_or(self.safety_window_ms),
            table.safety_window_ids.unwrap_or(self.safety_window_ids),
        )
    }

    /// Whether `schema.table.column` is excluded.
    pub fn excludes(&self, schema: &str, table: &str, column: &str) -> bool {
        let dotted = format!("{schema}.{table}.{column}");
        self.exclude_columns
            .iter()
            .any(|p| pattern_matches(p, &dotted))
    }

    /// The masking of `schema.table.column`, if any.
    pub fn mask(&self, schema: &str, table: &str, column: &str) -> Option<MaskKind> {
        self.mask_columns
            .get(&format!("{schema}.{table}.{column}"))
            .copied()
    }
}

impl Validate for PollSourceConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.database.is_empty() {
            problems.push("database", "must not be empty");
        }
        if self.tables.is_empty() {
            problems.push("tables", "name at least one table to poll");
        }
        let mut seen = BTreeSet::new();
        for (i, table) in self.tables.iter().enumerate() {
            let at = format!("tables[{i}]");
            let Some((schema, name)) = table.schema_and_name() else {
                problems.push(
                    format!("{at}.table"),
                    format!("`{}` must be schema.table", table.table),
                );
                continue;
            };
            if !seen.insert(table.table.clone()) {
                problems.push(
                    format!("{at}.table"),
                    format!("`{}` is listed twice", table.table),
                );
            }
            if table.cursor.is_empty() {
                problems.push(format!("{at}.cursor"), "name at least one cursor column");
            }
            for (field, columns) in [("cursor", &table.cursor), ("key", &table.key)] {
                let mut names = BTreeSet::new();
                for c in columns {
                    if c.is_empty() {
                        problems.push(format!("{at}.{field}"), "column names must not be empty");
                    } else if !names.insert(c) {
                        problems.push(format!("{at}.{field}"), format!("`{c}` is listed twice"));
                    }
                }
            }
            if let Some(soft) = &table.soft_delete {
                if soft.column.is_empty() {
                    problems.push(format!("{at}.soft_delete.column"), "must not be empty");
                }
                if table.cursor.contains(&soft.column) {
                    problems.push(
                        format!("{at}.soft_delete.column"),
                        "the soft-delete column cannot be a cursor column",
                    );
                }
            }
            if table.created_column.as_deref() == Some("") {
                problems.push(format!("{at}.created_column"), "must not be empty");
            }
            for column in table.cursor_and_key() {
                if self.excludes(schema, name, column) {
                    problems.push(
                        "exclude_columns",
                        format!("{schema}.{name}.{column} is a cursor or key column: it cannot be excluded"),
                    );
                }
            }
            for column in &table.cursor {
                if self.mask(schema, name, column).is_some() {
                    problems.push(
                        format!("mask_columns.\"{schema}.{name}.{column}\""),
                        "cursor columns cannot be masked: event positions carry their values",
                    );
                }
            }
            for column in &table.key {
                if self.mask(schema, name, column) == Some(MaskKind::Redact) {
                    problems.push(
                        format!("mask_columns.\"{schema}.{name}.{column}\""),
                        "key columns can be hashed but not redacted: every row would get the same key",
                    );
                }
            }
        }
        for p in &self.exclude_columns {
            if p.split('.').count() != 3 {
                problems.push(
                    "exclude_columns",
                    format!("`{p}` must have 3 dot-separated parts"),
                );
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
        if self.poll_interval_ms == 0 {
            problems.push("poll_interval_ms", "must be positive");
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            problems.push(
                "batch_size",
                format!("must be between 1 and {MAX_BATCH_SIZE}"),
            );
        }
        if self.max_window_rows == 0 {
            problems.push("max_window_rows", "must be positive");
        }
        if self.topic_prefix.is_empty() {
            problems.push("topic_prefix", "must not be empty");
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

    fn config() -> PollSourceConfig {
        toml::from_str(
            r#"
            database = "hr"
            full_compare_interval_ms = 3600000
            exclude_columns = ["public.can_bo.mat_khau"]
            hash_salt = "muoi-sau-ky-tu-toi-thieu"
            [mask_columns]
            "public.can_bo.so_cccd" = "hash"
            [[tables]]
            table = "public.can_bo"
            cursor = ["cap_nhat"]
            created_column = "tao_luc"
            soft_delete = { column = "da_xoa", deleted_value = true }
            [[tables]]
            table = "public.nhat_ky"
            cursor = ["id"]
            key = ["id"]
            safety_window_ids = 50
            "#,
        )
        .unwrap()
    }

    fn fields(c: &PollSourceConfig) -> Vec<String> {
        let mut problems = Problems::new();
        c.validate(&mut problems);
        problems.iter().map(|p| p.field.clone()).collect()
    }

    #[test]
    fn defaults_and_a_valid_config() {
        let c = config();
        assert_eq!(c.poll_interval_ms, 1_000);
        assert_eq!(c.batch_size, 1_000);
        assert_eq!(c.topic_prefix, "cdc");
        assert_eq!(c.safety_window(&c.tables[0]), (30_000, 1_000));
        assert_eq!(c.safety_window(&c.tables[1]), (30_000, 50));
        assert_eq!(
            c.tables[0].soft_delete.as_ref().unwrap().deleted_value,
            Some(SoftDeleteValue::Bool(true))
        );
        assert_eq!(c.tables[0].schema_and_name(), Some(("public", "can_bo")));
        assert!(c.excludes("public", "can_bo", "mat_khau"));
        assert_eq!(c.mask("public", "can_bo", "so_cccd"), Some(MaskKind::Hash));
        assert!(fields(&c).is_empty(), "{:?}", fields(&c));
    }

    #[test]
    fn soft_delete_values_of_each_kind() {
        for (text, want) in [
            ("1", Some(SoftDeleteValue::Int(1))),
            ("\"Y\"", Some(SoftDeleteValue::Text("Y".into()))),
            ("false", Some(SoftDeleteValue::Bool(false))),
        ] {
            let s: SoftDeleteConfig =
                toml::from_str(&format!("column = \"x\"\ndeleted_value = {text}")).unwrap();
            assert_eq!(s.deleted_value, want, "{text}");
        }
        let s: SoftDeleteConfig = toml::from_str("column = \"deleted_at\"").unwrap();
        assert_eq!(s.deleted_value, None);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(
            toml::from_str::<PollSourceConfig>("database = \"x\"\ntables = []\nslot = \"s\"")
                .is_err()
        );
        assert!(
            toml::from_str::<PollTableConfig>("table = \"a.b\"\ncursor = [\"c\"]\ncursr = 1")
                .is_err()
        );
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let mut c = config();
        c.tables.push(PollTableConfig {
            table: "no_dot".into(),
            cursor: vec!["c".into()],
            key: vec![],
            soft_delete: None,
            created_column: None,
            safety_window_ms: None,
            safety_window_ids: None,
        });
        c.tables.push(c.tables[1].clone());
        c.tables[0].cursor.push("cap_nhat".into());
        c.tables[1].key = vec!["id".into(), String::new()];
        c.tables[0].soft_delete = Some(SoftDeleteConfig {
            column: "cap_nhat".into(),
            deleted_value: None,
        });
        c.exclude_columns.push("public.nhat_ky.id".into());
        c.mask_columns
            .insert("public.can_bo.cap_nhat".into(), MaskKind::Hash);
        c.mask_columns
            .insert("public.nhat_ky.id".into(), MaskKind::Redact);
        c.hash_salt = Some(Secret::new("short".into()));
        c.batch_size = 0;
        c.poll_interval_ms = 0;
        let found = fields(&c);
        for field in [
            "tables[2].table",
            "tables[3].table",
            "tables[0].cursor",
            "tables[1].key",
            "tables[0].soft_delete.column",
            "exclude_columns",
            "mask_columns.\"public.can_bo.cap_nhat\"",
            "mask_columns.\"public.nhat_ky.id\"",
            "hash_salt",
            "batch_size",
            "poll_interval_ms",
        ] {
            assert!(found.iter().any(|f| f == field), "{field} in {found:?}");
        }
    }

    #[test]
    fn loads_through_the_layered_loader_with_tables_and_overrides() {
        // The whole file goes through the `config` crate (as `lienthong` loads it), whose value
        // model must keep arrays of tables and each kind of soft-delete value.
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            r#"
            database = "legacy"
            [[tables]]
            table = "main.can_bo"
            cursor = ["cap_nhat"]
            soft_delete = { column = "da_xoa", deleted_value = 1 }
            [[tables]]
            table = "main.don_vi"
            cursor = ["id"]
            soft_delete = { column = "trang_thai", deleted_value = "X" }
            [[tables]]
            table = "main.ho_so"
            cursor = ["sua_luc"]
            soft_delete = { column = "xoa", deleted_value = true }
            "#,
        )
        .unwrap();
        let env = BTreeMap::from([("LIENTHONG__POLL_INTERVAL_MS".to_string(), "250".to_string())]);
        let c: PollSourceConfig =
            lienthong_runtime::config::load_from("", Some(file.path()), env).unwrap();
        assert_eq!(c.poll_interval_ms, 250);
        let values: Vec<_> = c
            .tables
            .iter()
            .map(|t| {
                t.soft_delete
                    .as_ref()
                    .unwrap()
                    .deleted_value
                    .clone()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            values,
            [
                SoftDeleteValue::Int(1),
                SoftDeleteValue::Text("X".into()),
                SoftDeleteValue::Bool(true)
            ]
        );
    }

    #[test]
    fn wildcards() {
        assert!(pattern_matches(
            "public.*.mat_khau",
            "public.can_bo.mat_khau"
        ));
        assert!(!pattern_matches("public.can_bo.x", "public.can_bo.xy"));
    }
}
