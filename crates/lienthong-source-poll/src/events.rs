//! Polled rows → change events: column filters, masking of personal data, keys, soft deletes,
//! the operation, positions and idempotency keys. Pure: no I/O.
//!
//! **Operations.** Polling sees a row's current state, not what happened to it, so:
//!
//! | the row | published as |
//! |---|---|
//! | read before the table's first poll reached its end (the initial load) | `OPERATION_READ` |
//! | with its soft-delete column set | `OPERATION_DELETE` (before image = the row), then a tombstone |
//! | with `created_column` after the first cursor value of the previous poll | `OPERATION_INSERT` |
//! | any other | `OPERATION_UPDATE`: "the row now looks like this"; it may be new to the reader |
//!
//! The change-event contract has no upsert: consumers treat READ, INSERT and UPDATE alike as
//! "the row's current state" (which they must for any connector, since a snapshot can repeat a
//! row). Without `created_column`, INSERT is never guessed.
//!
//! **Identity.** A row version is identified by its ordering cells (cursor values and key);
//! its idempotency key `<source>:<schema.table>:<fingerprint>` is the same however often it is
//! read, so a re-read after a crash or by the safety window is a true duplicate.

use std::sync::Arc;

use lienthong_proto::v1::{
    ChangeEvent, ChangeKey, Column, ColumnSchema, Operation, PollCursor, Row, SourcePosition,
    source_position, value,
};
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::catalog::{CatalogTable, TableName};
use crate::config::{MaskKind, PollSourceConfig, PollTableConfig, SoftDeleteValue};
use crate::cursor::{compare_values, fingerprint, window_point};
use crate::dialect::{Dialect, TableShape};
use crate::values::{Cell, ValueError, to_proto};

/// One column of a polled table as the connector treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolledColumn {
    pub name: String,
    pub source_type: String,
    pub nullable: bool,
    /// Excluded columns are never published.
    pub included: bool,
    pub mask: Option<MaskKind>,
}

/// A polled table at one schema version, with the connector's rules applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PolledTable {
    pub dialect: Dialect,
    /// The database name on the server, for `ChangeEvent.database`.
    pub database: String,
    pub catalog: CatalogTable,
    pub topic: String,
    pub columns: Vec<PolledColumn>,
    /// Indexes into `columns`: key columns in key order.
    pub key: Vec<usize>,
    /// Cursor columns in cursor order.
    pub cursor: Vec<usize>,
    /// The order rows are read in: the cursor columns, then the key columns not among them.
    pub ordering: Vec<usize>,
    pub soft_delete: Option<(usize, Option<SoftDeleteValue>)>,
    pub created: Option<usize>,
    pub schema_version: u32,
    /// [`Self::table_schema`] encoded as `ChangeEvent.table_schema` fields, once per version.
    encoded_schema: Arc<[u8]>,
}

/// Why a row could not become an event. The row is dead-lettered with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("column {column}: {source}")]
    Value {
        column: String,
        #[source]
        source: ValueError,
    },
    #[error("the row has {got} columns, the table {expected}")]
    ColumnCount { got: usize, expected: usize },
    #[error("key column {0} is null")]
    NullKey(String),
}

/// Salted hashing of masked columns, the same as the log-based connectors do it.
#[derive(Clone)]
pub struct Masker {
    salt: Vec<u8>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(..)")
    }
}

impl Masker {
    pub fn new(salt: &str) -> Self {
        Self {
            salt: salt.as_bytes().to_vec(),
        }
    }

    /// Salted SHA-256, lower-case hex.
    pub fn hash(&self, input: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(input);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a masked value is hashed from: its text as the source shows it (numbers in decimal,
/// text decoded), or its bytes, so the same value hashes the same from any connector.
fn hash_input(kind: &value::Kind) -> Vec<u8> {
    use value::Kind;
    match kind {
        Kind::TextValue(s)
        | Kind::JsonValue(s)
        | Kind::RawText(s)
        | Kind::IntervalValue(s)
        | Kind::UuidValue(s) => s.as_bytes().to_vec(),
        Kind::DecimalValue(d) => d.value.as_bytes().to_vec(),
        Kind::IntValue(i) => i.to_string().into_bytes(),
        Kind::UintValue(u) => u.to_string().into_bytes(),
        Kind::BytesValue(b) => b.clone(),
        Kind::DateValue(d) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day).into_bytes(),
        other => lienthong_proto::v1::Value {
            kind: Some(other.clone()),
        }
        .encode_to_vec(),
    }
}

/// What the row's events depend on besides the row.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    pub source_id: &'a str,
    pub masker: Option<&'a Masker>,
    /// The table's initial load is not finished: rows are READs.
    pub initial_load: bool,
    /// The first cursor column's value at the end of the previous poll (for `created_column`).
    pub previous_cursor: Option<&'a lienthong_proto::v1::Value>,
    pub poll_sequence: u64,
    /// When the page was read.
    pub read_at: prost_types::Timestamp,
}

/// Records to publish for a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub record_key: Vec<u8>,
    pub event: ChangeEvent,
    /// A tombstone (same key, no value) follows the event.
    pub tombstone: bool,
}

/// A row read by a poll, ready to publish or to dead-letter.
#[derive(Debug, Clone, PartialEq)]
pub struct PolledRow {
    /// Ordering cells: the position a next page starts after.
    pub ordering: Vec<Cell>,
    pub fingerprint: u64,
    /// The first cursor column's value and its point on the window's line.
    pub first_cursor: Option<lienthong_proto::v1::Value>,
    pub point: Option<i64>,
    pub position: SourcePosition,
    pub idempotency_key: String,
    pub position_text: String,
    pub outcome: Result<Publish, EventError>,
}

impl PolledTable {
    /// Applies the table's and the source's rules to the catalog facts. An error says what
    /// the operator must fix (a configured column that does not exist, no key, ...).
    pub fn new(
        catalog: &CatalogTable,
        table: &PollTableConfig,
        source: &PollSourceConfig,
        source_id: &str,
        dialect: Dialect,
        database: &str,
        schema_version: u32,
    ) -> Result<Self, String> {
        let name = catalog.table.dotted();
        let index = |column: &str, what: &str| {
            catalog
                .column_index(column)
                .ok_or_else(|| format!("{what} `{column}` of {name} is not a column of the table"))
        };
        let cursor = table
            .cursor
            .iter()
            .map(|c| index(c, "cursor column"))
            .collect::<Result<Vec<_>, _>>()?;
        let key_names = if table.key.is_empty() {
            catalog.primary_key.clone()
        } else {
            table.key.clone()
        };
        if key_names.is_empty() {
            return Err(format!(
                "{name} has no primary key: name its key columns in `key = [...]` (columns whose values identify a row)"
            ));
        }
        let key = key_names
            .iter()
            .map(|c| index(c, "key column"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ordering = cursor.clone();
        ordering.extend(key.iter().filter(|k| !cursor.contains(k)));
        let soft_delete = table
            .soft_delete
            .as_ref()
            .map(|s| index(&s.column, "soft-delete column").map(|i| (i, s.deleted_value.clone())))
            .transpose()?;
        let created = table
            .created_column
            .as_deref()
            .map(|c| index(c, "created column"))
            .transpose()?;
        let TableName { schema, name: t } = &catalog.table;
        let columns: Vec<PolledColumn> = catalog
            .columns
            .iter()
            .map(|c| PolledColumn {
                name: c.name.clone(),
                source_type: c.source_type.clone(),
                nullable: c.nullable,
                included: !source.excludes(schema, t, &c.name),
                mask: source.mask(schema, t, &c.name),
            })
            .collect();
        for &k in &key {
            let c = &columns[k];
            if !c.included {
                return Err(format!(
                    "key column {schema}.{t}.{} cannot be excluded",
                    c.name
                ));
            }
            if c.mask == Some(MaskKind::Redact) {
                return Err(format!(
                    "key column {schema}.{t}.{} can be hashed but not redacted",
                    c.name
                ));
            }
        }
        for &i in &cursor {
            if columns[i].mask.is_some() || !columns[i].included {
                return Err(format!(
                    "cursor column {schema}.{t}.{} cannot be masked or excluded",
                    columns[i].name
                ));
            }
        }
        let mut polled = Self {
            dialect,
            database: database.to_string(),
            catalog: catalog.clone(),
            topic: format!("{}.{source_id}.{schema}.{t}", source.topic_prefix),
            columns,
            key,
            cursor,
            ordering,
            soft_delete,
            created,
            schema_version,
            encoded_schema: Arc::from(Vec::new()),
        };
        polled.encoded_schema = ChangeEvent {
            table_schema: polled.table_schema(),
            ..ChangeEvent::default()
        }
        .encode_to_vec()
        .into();
        Ok(polled)
    }

    /// The shape page queries are built from.
    pub fn shape(&self) -> TableShape<'_> {
        TableShape {
            dialect: self.dialect,
            table: &self.catalog.table,
            columns: &self.catalog.columns,
            cursor: &self.cursor,
            ordering: &self.ordering,
        }
    }

    /// The published columns' definitions.
    pub fn table_schema(&self) -> Vec<ColumnSchema> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.included)
            .map(|(i, c)| ColumnSchema {
                name: c.name.clone(),
                source_type: c.source_type.clone(),
                nullable: c.nullable,
                primary_key_ordinal: self
                    .key
                    .iter()
                    .position(|k| *k == i)
                    .map_or(0, |p| p as u32 + 1),
            })
            .collect()
    }

    /// Encodes `event` (whose `table_schema` is left empty) with this version's columns.
    ///
    /// Protobuf decoders merge the fields of concatenated messages, appending repeated ones, so
    /// the event's bytes followed by the cached `table_schema` fields decode exactly as an event
    /// built with `table_schema` set.
    pub fn encode_event(&self, event: &ChangeEvent) -> Vec<u8> {
        debug_assert!(event.table_schema.is_empty());
        let mut bytes = Vec::with_capacity(event.encoded_len() + self.encoded_schema.len());
        event.encode_raw(&mut bytes);
        bytes.extend_from_slice(&self.encoded_schema);
        bytes
    }

    fn value(
        &self,
        index: usize,
        cell: &Cell,
        masker: Option<&Masker>,
    ) -> Result<lienthong_proto::v1::Value, EventError> {
        let c = &self.columns[index];
        if c.mask == Some(MaskKind::Redact) {
            return Ok(lienthong_proto::v1::Value {
                kind: Some(value::Kind::Null(true)),
            });
        }
        let converted =
            to_proto(self.dialect, &self.catalog.columns[index], cell).map_err(|source| {
                EventError::Value {
                    column: c.name.clone(),
                    source,
                }
            })?;
        match (c.mask, masker, &converted.kind) {
            (Some(MaskKind::Hash), Some(m), Some(kind))
                if !matches!(kind, value::Kind::Null(_)) =>
            {
                Ok(lienthong_proto::v1::Value {
                    kind: Some(value::Kind::TextValue(m.hash(&hash_input(kind)))),
                })
            }
            _ => Ok(converted),
        }
    }

    fn column(
        &self,
        index: usize,
        cell: &Cell,
        masker: Option<&Masker>,
    ) -> Result<Column, EventError> {
        Ok(Column {
            name: self.columns[index].name.clone(),
            value: Some(self.value(index, cell, masker)?),
            source_type: self.columns[index].source_type.clone(),
        })
    }

    /// The published row image.
    pub fn row(&self, cells: &[Cell], masker: Option<&Masker>) -> Result<Row, EventError> {
        self.check_width(cells)?;
        let mut columns = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            if self.columns[i].included {
                columns.push(self.column(i, cell, masker)?);
            }
        }
        Ok(Row { columns })
    }

    fn check_width(&self, cells: &[Cell]) -> Result<(), EventError> {
        if cells.len() == self.columns.len() {
            Ok(())
        } else {
            Err(EventError::ColumnCount {
                got: cells.len(),
                expected: self.columns.len(),
            })
        }
    }

    /// The key columns of a row, from cells of the key columns in key order.
    pub fn key_columns(
        &self,
        key_cells: &[Cell],
        masker: Option<&Masker>,
    ) -> Result<Vec<Column>, EventError> {
        self.key
            .iter()
            .zip(key_cells)
            .map(|(&i, cell)| {
                if cell.is_null() {
                    Err(EventError::NullKey(self.columns[i].name.clone()))
                } else {
                    self.column(i, cell, masker)
                }
            })
            .collect()
    }

    /// The Kafka record key for a row with these key columns.
    pub fn record_key(&self, source_id: &str, key: &[Column]) -> ChangeKey {
        ChangeKey {
            source_id: source_id.to_string(),
            schema: self.catalog.table.schema.clone(),
            table: self.catalog.table.name.clone(),
            columns: key.to_vec(),
        }
    }

    /// Whether a row (all its cells) is marked deleted by the soft-delete column.
    pub fn soft_deleted(&self, cells: &[Cell]) -> bool {
        self.soft_delete
            .as_ref()
            .and_then(|(index, _)| cells.get(*index))
            .is_some_and(|cell| self.marks_deleted(cell))
    }

    /// Whether a cell of the soft-delete column says "deleted".
    pub fn marks_deleted(&self, cell: &Cell) -> bool {
        let Some((index, deleted_value)) = &self.soft_delete else {
            return false;
        };
        to_proto(self.dialect, &self.catalog.columns[*index], cell)
            .is_ok_and(|v| marks_deleted(&v, deleted_value.as_ref()))
    }

    /// Turns a row read by a poll into its events (or the reason it cannot be published).
    pub fn poll_row(&self, cells: Vec<Cell>, ctx: &RowContext<'_>) -> PolledRow {
        let ordering: Vec<Cell> = self
            .ordering
            .iter()
            .map(|&i| cells.get(i).cloned().unwrap_or(Cell::Null))
            .collect();
        let fingerprint = fingerprint(&ordering);
        let first_cursor = cells.get(self.cursor[0]).and_then(|cell| {
            to_proto(self.dialect, &self.catalog.columns[self.cursor[0]], cell).ok()
        });
        let point = first_cursor.as_ref().and_then(window_point).map(|(p, _)| p);
        let dotted = self.catalog.table.dotted();
        let idempotency_key = format!("{}:{dotted}:{fingerprint:016x}", ctx.source_id);
        let cursor_text: Vec<String> = self
            .cursor
            .iter()
            .map(|&i| cells.get(i).map(Cell::display).unwrap_or_default())
            .collect();
        let position_text = format!(
            "poll={} table={dotted} cursor={} row={fingerprint:016x}",
            ctx.poll_sequence,
            cursor_text.join(",")
        );
        // The position carries the ordering values as published (key columns masked).
        let position_values: Vec<lienthong_proto::v1::Value> = self
            .ordering
            .iter()
            .zip(&ordering)
            .map(|(&i, cell)| {
                self.value(i, cell, ctx.masker)
                    .unwrap_or(lienthong_proto::v1::Value {
                        kind: Some(value::Kind::RawText(cell.display())),
                    })
            })
            .collect();
        let position = SourcePosition {
            kind: Some(source_position::Kind::Poll(PollCursor {
                cursor: position_values,
                poll_sequence: ctx.poll_sequence,
            })),
        };
        let outcome = self.publish(&cells, ctx, first_cursor.as_ref(), &position);
        PolledRow {
            ordering,
            fingerprint,
            first_cursor,
            point,
            position,
            idempotency_key,
            position_text,
            outcome,
        }
    }

    fn publish(
        &self,
        cells: &[Cell],
        ctx: &RowContext<'_>,
        first_cursor: Option<&lienthong_proto::v1::Value>,
        position: &SourcePosition,
    ) -> Result<Publish, EventError> {
        self.check_width(cells)?;
        let key_cells: Vec<Cell> = self.key.iter().map(|&i| cells[i].clone()).collect();
        let key = self.key_columns(&key_cells, ctx.masker)?;
        let image = self.row(cells, ctx.masker)?;
        let deleted = self.soft_deleted(cells);
        let op = if deleted {
            Operation::Delete
        } else if ctx.initial_load {
            Operation::Read
        } else {
            match (self.created, ctx.previous_cursor) {
                (Some(created), Some(previous)) => {
                    let created_value = to_proto(
                        self.dialect,
                        &self.catalog.columns[created],
                        &cells[created],
                    )
                    .ok();
                    match created_value.and_then(|c| compare_values(&c, previous)) {
                        Some(std::cmp::Ordering::Greater) => Operation::Insert,
                        _ => Operation::Update,
                    }
                }
                // Nothing was polled before: every row is new to the readers.
                (Some(_), None) => Operation::Insert,
                (None, _) => Operation::Update,
            }
        };
        let (before, after) = if deleted {
            (Some(image), None)
        } else {
            (None, Some(image))
        };
        let commit_time = match first_cursor.and_then(|v| v.kind.as_ref()) {
            Some(value::Kind::TimestampValue(t)) => Some(*t),
            _ => Some(ctx.read_at),
        };
        let event = ChangeEvent {
            source_id: ctx.source_id.to_string(),
            database: self.database.clone(),
            schema: self.catalog.table.schema.clone(),
            table: self.catalog.table.name.clone(),
            op: op as i32,
            before,
            after,
            key: key.clone(),
            transaction_id: String::new(),
            position: Some(position.clone()),
            commit_time,
            capture_time: Some(now_timestamp()),
            schema_version: self.schema_version,
            table_schema: Vec::new(),
            last_in_transaction: true,
        };
        Ok(Publish {
            record_key: self.record_key(ctx.source_id, &key).encode_to_vec(),
            event,
            tombstone: deleted,
        })
    }
}

/// Whether a soft-delete column's value says "deleted": equal to the configured value (numbers
/// and booleans compare across kinds: `1` is `true`), or, with no value configured, not null.
pub fn marks_deleted(
    value: &lienthong_proto::v1::Value,
    deleted: Option<&SoftDeleteValue>,
) -> bool {
    use value::Kind;
    let Some(kind) = value.kind.as_ref() else {
        return false;
    };
    let is_null = matches!(kind, Kind::Null(_));
    let Some(deleted) = deleted else {
        return !is_null;
    };
    let text = match kind {
        Kind::TextValue(s) | Kind::RawText(s) => Some(s.trim().to_string()),
        Kind::DecimalValue(d) => Some(d.value.clone()),
        _ => None,
    };
    let as_integer = match kind {
        Kind::IntValue(i) => Some(i128::from(*i)),
        Kind::UintValue(u) => Some(i128::from(*u)),
        Kind::BoolValue(b) => Some(i128::from(*b)),
        _ => text
            .as_deref()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|f| f.fract() == 0.0)
            .map(|f| f as i128),
    };
    match deleted {
        SoftDeleteValue::Bool(want) => match kind {
            Kind::BoolValue(b) => b == want,
            _ => match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("true" | "t" | "yes" | "y") => *want,
                Some("false" | "f" | "no" | "n") => !*want,
                _ => as_integer.is_some_and(|i| (i != 0) == *want),
            },
        },
        SoftDeleteValue::Int(want) => as_integer == Some(i128::from(*want)),
        SoftDeleteValue::Text(want) => match &text {
            Some(t) => t == want.trim(),
            None => as_integer.is_some_and(|i| want.trim() == i.to_string()),
        },
    }
}

pub fn now_timestamp() -> prost_types::Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::CatalogColumn;
    use lienthong_proto::v1::Value;
    use value::Kind;

    fn source() -> PollSourceConfig {
        toml::from_str(
            r#"
            database = "legacy"
            exclude_columns = ["main.can_bo.mat_khau"]
            hash_salt = "muoi-sau-ky-tu-toi-thieu"
            [mask_columns]
            "main.can_bo.so_cccd" = "hash"
            "main.can_bo.dien_thoai" = "redact"
            [[tables]]
            table = "main.can_bo"
            cursor = ["cap_nhat"]
            created_column = "tao_luc"
            soft_delete = { column = "da_xoa", deleted_value = 1 }
            "#,
        )
        .unwrap()
    }

    fn catalog() -> CatalogTable {
        let col = |n: &str, t: &str| CatalogColumn::plain(n, t, &t.to_ascii_uppercase(), n != "id");
        CatalogTable {
            table: TableName::new("main", "can_bo"),
            columns: vec![
                col("id", "integer"),
                col("ho_ten", "text"),
                col("so_cccd", "text"),
                col("dien_thoai", "text"),
                col("mat_khau", "text"),
                col("tao_luc", "text"),
                col("cap_nhat", "text"),
                col("da_xoa", "integer"),
            ],
            primary_key: vec!["id".into()],
        }
    }

    fn table() -> PolledTable {
        let s = source();
        PolledTable::new(
            &catalog(),
            &s.tables[0],
            &s,
            "hr",
            Dialect::Sqlite,
            "hr.db",
            2,
        )
        .unwrap()
    }

    fn cells(id: i64, created: &str, updated: &str, deleted: i64) -> Vec<Cell> {
        vec![
            Cell::Int(id),
            Cell::Text("Nguyễn Văn An".into()),
            Cell::Text("001203000123".into()),
            Cell::Text("0912345678".into()),
            Cell::Text("bí mật".into()),
            Cell::Text(created.into()),
            Cell::Text(updated.into()),
            Cell::Int(deleted),
        ]
    }

    fn ctx<'a>(
        masker: &'a Masker,
        initial_load: bool,
        previous: Option<&'a Value>,
    ) -> RowContext<'a> {
        RowContext {
            source_id: "hr",
            masker: Some(masker),
            initial_load,
            previous_cursor: previous,
            poll_sequence: 9,
            read_at: prost_types::Timestamp {
                seconds: 100,
                nanos: 0,
            },
        }
    }

    fn column<'a>(row: &'a Row, name: &str) -> &'a Kind {
        row.columns
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.value.as_ref())
            .and_then(|v| v.kind.as_ref())
            .unwrap()
    }

    #[test]
    fn rules_apply_to_the_table() {
        let t = table();
        assert_eq!(t.topic, "cdc.hr.main.can_bo");
        assert_eq!(t.cursor, [6]);
        assert_eq!(t.ordering, [6, 0]);
        assert_eq!(t.key, [0]);
        assert_eq!(t.soft_delete, Some((7, Some(SoftDeleteValue::Int(1)))));
        let schema = t.table_schema();
        assert!(schema.iter().all(|c| c.name != "mat_khau"));
        assert_eq!(schema[0].primary_key_ordinal, 1);
    }

    #[test]
    fn operator_problems_are_named() {
        let s = source();
        let mut c = catalog();
        c.primary_key.clear();
        let err =
            PolledTable::new(&c, &s.tables[0], &s, "hr", Dialect::Sqlite, "x", 1).unwrap_err();
        assert!(err.contains("no primary key"), "{err}");
        let mut cfg = s.tables[0].clone();
        cfg.cursor = vec!["sua_luc".into()];
        let err =
            PolledTable::new(&catalog(), &cfg, &s, "hr", Dialect::Sqlite, "x", 1).unwrap_err();
        assert!(err.contains("cursor column `sua_luc`"), "{err}");
        let mut masked = s.clone();
        masked
            .mask_columns
            .insert("main.can_bo.id".into(), MaskKind::Redact);
        assert!(
            PolledTable::new(
                &catalog(),
                &s.tables[0],
                &masked,
                "hr",
                Dialect::Sqlite,
                "x",
                1
            )
            .unwrap_err()
            .contains("not redacted")
        );
    }

    #[test]
    fn rows_become_events_with_their_operation() {
        let t = table();
        let masker = Masker::new("muoi-sau-ky-tu-toi-thieu");
        let previous = Value {
            kind: Some(Kind::TextValue("2025-07-01 08:00:00".into())),
        };
        // Initial load: READ.
        let read = t.poll_row(
            cells(1, "2025-07-01 09:00:00", "2025-07-01 09:00:00", 0),
            &ctx(&masker, true, None),
        );
        let publish = read.outcome.clone().unwrap();
        assert_eq!(publish.event.op, Operation::Read as i32);
        assert!(!publish.tombstone);
        let after = publish.event.after.as_ref().unwrap();
        assert_eq!(
            column(after, "so_cccd"),
            &Kind::TextValue(masker.hash(b"001203000123"))
        );
        assert_eq!(column(after, "dien_thoai"), &Kind::Null(true));
        assert!(after.columns.iter().all(|c| c.name != "mat_khau"));
        assert_eq!(
            read.ordering,
            [Cell::Text("2025-07-01 09:00:00".into()), Cell::Int(1)]
        );
        assert!(read.point.is_some());
        let Some(source_position::Kind::Poll(p)) = &read.position.kind else {
            panic!("{:?}", read.position)
        };
        assert_eq!(p.poll_sequence, 9);
        assert_eq!(p.cursor.len(), 2);
        assert_eq!(
            p.cursor[1].kind,
            Some(Kind::IntValue(1)),
            "cursor values, then the key"
        );
        assert_eq!(publish.event.commit_time.unwrap().seconds, 100);
        assert!(read.idempotency_key.starts_with("hr:main.can_bo:"));

        // Created after the previous poll: INSERT; created before: UPDATE.
        let insert = t.poll_row(
            cells(2, "2025-07-01 08:30:00", "2025-07-01 08:30:00", 0),
            &ctx(&masker, false, Some(&previous)),
        );
        assert_eq!(insert.outcome.unwrap().event.op, Operation::Insert as i32);
        let update = t.poll_row(
            cells(3, "2025-06-01 08:00:00", "2025-07-01 08:30:00", 0),
            &ctx(&masker, false, Some(&previous)),
        );
        assert_eq!(update.outcome.unwrap().event.op, Operation::Update as i32);

        // Soft-deleted: DELETE with the row as before image, then a tombstone.
        let delete = t.poll_row(
            cells(3, "2025-06-01 08:00:00", "2025-07-01 08:31:00", 1),
            &ctx(&masker, false, Some(&previous)),
        );
        let publish = delete.outcome.unwrap();
        assert_eq!(publish.event.op, Operation::Delete as i32);
        assert!(publish.tombstone);
        assert!(publish.event.after.is_none());
        assert_eq!(
            column(publish.event.before.as_ref().unwrap(), "ho_ten"),
            &Kind::TextValue("Nguyễn Văn An".into())
        );
        let key = ChangeKey::decode(publish.record_key.as_slice()).unwrap();
        assert_eq!(key.table, "can_bo");
        assert_eq!(
            key.columns[0].value.as_ref().unwrap().kind,
            Some(Kind::IntValue(3))
        );
    }

    #[test]
    fn the_same_row_version_has_one_identity() {
        let t = table();
        let masker = Masker::new("muoi-sau-ky-tu-toi-thieu");
        let a = t.poll_row(
            cells(1, "x", "2025-07-01 09:00:00", 0),
            &ctx(&masker, true, None),
        );
        let mut later = ctx(&masker, false, None);
        later.poll_sequence = 10;
        let b = t.poll_row(cells(1, "x", "2025-07-01 09:00:00", 0), &later);
        let c = t.poll_row(cells(1, "x", "2025-07-01 09:00:01", 0), &later);
        assert_eq!(a.idempotency_key, b.idempotency_key);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.idempotency_key, c.idempotency_key);
    }

    #[test]
    fn bad_rows_are_reported_not_published() {
        let t = table();
        let masker = Masker::new("muoi-sau-ky-tu-toi-thieu");
        let mut no_key = cells(1, "x", "2025-07-01 09:00:00", 0);
        no_key[0] = Cell::Null;
        let row = t.poll_row(no_key, &ctx(&masker, true, None));
        assert_eq!(row.outcome, Err(EventError::NullKey("id".into())));
        let row = t.poll_row(vec![Cell::Int(1)], &ctx(&masker, true, None));
        assert!(matches!(
            row.outcome,
            Err(EventError::ColumnCount { got: 1, .. })
        ));
    }

    #[test]
    fn events_decode_with_the_cached_schema() {
        let t = table();
        let masker = Masker::new("muoi-sau-ky-tu-toi-thieu");
        let event = t
            .poll_row(cells(1, "x", "2025-07-01", 0), &ctx(&masker, true, None))
            .outcome
            .unwrap()
            .event;
        let decoded = ChangeEvent::decode(t.encode_event(&event).as_slice()).unwrap();
        assert_eq!(decoded.table_schema, t.table_schema());
        assert_eq!(
            ChangeEvent {
                table_schema: Vec::new(),
                ..decoded
            },
            event
        );
    }

    #[test]
    fn soft_delete_markers() {
        let v = |k: Kind| Value { kind: Some(k) };
        let yes = SoftDeleteValue::Bool(true);
        assert!(marks_deleted(&v(Kind::BoolValue(true)), Some(&yes)));
        assert!(marks_deleted(&v(Kind::IntValue(1)), Some(&yes)));
        assert!(marks_deleted(&v(Kind::TextValue("Y".into())), Some(&yes)));
        assert!(!marks_deleted(&v(Kind::IntValue(0)), Some(&yes)));
        assert!(!marks_deleted(&v(Kind::Null(true)), Some(&yes)));
        let one = SoftDeleteValue::Int(1);
        assert!(marks_deleted(&v(Kind::UintValue(1)), Some(&one)));
        assert!(marks_deleted(&v(Kind::BoolValue(true)), Some(&one)));
        assert!(marks_deleted(
            &v(Kind::DecimalValue(lienthong_proto::v1::Decimal {
                value: "1".into()
            })),
            Some(&one)
        ));
        let x = SoftDeleteValue::Text("X".into());
        assert!(marks_deleted(&v(Kind::TextValue("X ".into())), Some(&x)));
        assert!(!marks_deleted(&v(Kind::TextValue("x".into())), Some(&x)));
        // No value configured: a deleted_at column, deleted once set.
        assert!(marks_deleted(
            &v(Kind::TimestampValue(prost_types::Timestamp::default())),
            None
        ));
        assert!(!marks_deleted(&v(Kind::Null(true)), None));
    }
}
