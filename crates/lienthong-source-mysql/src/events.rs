//! Rows (from the binlog or a snapshot) → change events: column filters, masking of personal
//! data, keys, schema versions. Pure: no I/O.

use std::sync::Arc;

use lienthong_proto::v1::{ChangeEvent, ChangeKey, Column, ColumnSchema, Row, value};
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::binlog::Value;
use crate::catalog::{CatalogTable, TableRef};
use crate::config::{MaskKind, MysqlSourceConfig, pattern_matches};
use crate::values::{ValueError, ValueRules, to_proto};

/// One column of a captured table as the connector treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedColumn {
    pub name: String,
    /// `COLUMN_TYPE`, e.g. `decimal(5,2)`, `varchar(100)`, `int(10) unsigned`.
    pub source_type: String,
    pub nullable: bool,
    /// Excluded columns are never published.
    pub included: bool,
    pub mask: Option<MaskKind>,
    pub rules: ValueRules,
}

/// A captured table at one schema version, with the connector's rules applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedTable {
    pub table: TableRef,
    pub topic: String,
    pub columns: Vec<CapturedColumn>,
    /// Indexes into `columns` of the primary key, in key order.
    pub key: Vec<usize>,
    pub schema_version: u32,
    /// The catalog facts this version was built from (for decoding row images).
    pub catalog: CatalogTable,
    /// [`Self::table_schema`] encoded as `ChangeEvent.table_schema` fields, once per version.
    encoded_schema: Arc<[u8]>,
}

/// Why a row could not be turned into an event. The row is dead-lettered with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("column {column}: {source}")]
    Value {
        column: String,
        #[source]
        source: ValueError,
    },
    #[error("row image has {got} columns, the table {expected}")]
    ColumnCount { got: usize, expected: usize },
    #[error("row has no value for key column {0}")]
    MissingKey(String),
}

/// Salted hashing of masked columns.
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
/// text decoded), or its bytes. The same value hashes the same from any source.
fn hash_input(value: &value::Kind) -> Vec<u8> {
    use value::Kind;
    match value {
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

/// A key column's value as text: what snapshot progress stores and chunk queries bind.
/// Binary values are hex (bound through `UNHEX`).
pub fn key_text(value: &Value, collation: Option<u16>) -> String {
    match value {
        Value::Null => String::new(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Year(y) => y.to_string(),
        Value::Bit(b) => b.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Decimal(d) => d.clone(),
        Value::Date(d) => d.to_string(),
        Value::DateTime(d) => d.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Timestamp(t) => {
            let mut utc = t.to_utc();
            utc.fractional_digits = t.fractional_digits;
            utc.to_string()
        }
        Value::String {
            bytes,
            collation: c,
        } => c
            .or(collation)
            .and_then(|c| crate::binlog::decode_text(bytes, c).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned()),
        Value::Binary(b) | Value::Geometry(b) => hex(b),
        Value::Enum { index, label } => label.clone().unwrap_or_else(|| index.to_string()),
        Value::Set { bits, members } => members
            .as_ref()
            .map_or_else(|| bits.to_string(), |m| m.join(",")),
        Value::Json(j) => j.clone(),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl CapturedTable {
    /// Applies `config`'s column rules to a table's catalog facts.
    pub fn from_catalog(
        catalog: &CatalogTable,
        config: &MysqlSourceConfig,
        source_id: &str,
        schema_version: u32,
    ) -> Self {
        let offset = config.datetime_offset_seconds();
        let columns: Vec<CapturedColumn> = catalog
            .columns
            .iter()
            .map(|c| {
                let dotted = format!(
                    "{}.{}.{}",
                    catalog.table.database, catalog.table.name, c.name
                );
                let facts = c.facts();
                CapturedColumn {
                    name: c.name.clone(),
                    source_type: c.column_type.clone(),
                    nullable: c.nullable,
                    included: !config
                        .exclude_columns
                        .iter()
                        .any(|p| pattern_matches(p, &dotted)),
                    mask: config.mask_columns.get(&dotted).copied(),
                    rules: ValueRules {
                        data_type: c.data_type.clone(),
                        collation: facts.collation,
                        labels: facts.labels,
                        is_json: c.is_json,
                        bit_width: bit_width(&c.column_type),
                        datetime_offset: if c.data_type == "datetime" {
                            offset
                        } else {
                            None
                        },
                    },
                }
            })
            .collect();
        let mut table = Self {
            topic: format!(
                "{}.{source_id}.{}.{}",
                config.topic_prefix, catalog.table.database, catalog.table.name
            ),
            table: catalog.table.clone(),
            columns,
            key: catalog.primary_key.clone(),
            schema_version,
            catalog: catalog.clone(),
            encoded_schema: Arc::from(Vec::new()),
        };
        table.encoded_schema = ChangeEvent {
            table_schema: table.table_schema(),
            ..ChangeEvent::default()
        }
        .encode_to_vec()
        .into();
        table
    }

    /// Encodes `event` (whose `table_schema` is left empty) with this version's columns.
    ///
    /// Protobuf decoders merge the fields of concatenated messages, appending repeated ones, so
    /// the event's bytes followed by the cached `table_schema` fields decode exactly as an event
    /// built with `table_schema` set, without re-encoding the column list for every event.
    pub fn encode_event(&self, event: &ChangeEvent) -> Vec<u8> {
        debug_assert!(event.table_schema.is_empty());
        let mut bytes = Vec::with_capacity(event.encoded_len() + self.encoded_schema.len());
        event.encode_raw(&mut bytes);
        bytes.extend_from_slice(&self.encoded_schema);
        bytes
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

    fn check_width(&self, values: &[Option<Value>]) -> Result<(), EventError> {
        if values.len() == self.columns.len() {
            Ok(())
        } else {
            Err(EventError::ColumnCount {
                got: values.len(),
                expected: self.columns.len(),
            })
        }
    }

    fn column_value(
        &self,
        index: usize,
        raw: &Value,
        masker: Option<&Masker>,
    ) -> Result<lienthong_proto::v1::Value, EventError> {
        let c = &self.columns[index];
        if c.mask == Some(MaskKind::Redact) {
            return Ok(lienthong_proto::v1::Value {
                kind: Some(value::Kind::Null(true)),
            });
        }
        let converted = to_proto(raw, &c.rules).map_err(|source| EventError::Value {
            column: c.name.clone(),
            source,
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

    /// The published row image. A column the image does not hold (`None`: a `MINIMAL` row
    /// image) is published as `unchanged` in an after image and left out of a before image.
    pub fn row(
        &self,
        values: &[Option<Value>],
        masker: Option<&Masker>,
        after_image: bool,
    ) -> Result<Row, EventError> {
        self.check_width(values)?;
        let mut columns = Vec::with_capacity(self.columns.len());
        for (i, (c, raw)) in self.columns.iter().zip(values).enumerate() {
            if !c.included {
                continue;
            }
            let value = match raw {
                Some(raw) => self.column_value(i, raw, masker)?,
                None if after_image => lienthong_proto::v1::Value {
                    kind: Some(value::Kind::Unchanged(true)),
                },
                None => continue,
            };
            columns.push(Column {
                name: c.name.clone(),
                value: Some(value),
                source_type: c.source_type.clone(),
            });
        }
        Ok(Row { columns })
    }

    /// The key columns of a row and their texts (see [`key_text`]), in key order.
    pub fn key_of(
        &self,
        values: &[Option<Value>],
        masker: Option<&Masker>,
    ) -> Result<(Vec<Column>, Vec<String>), EventError> {
        self.check_width(values)?;
        let mut columns = Vec::with_capacity(self.key.len());
        let mut texts = Vec::with_capacity(self.key.len());
        for &i in &self.key {
            let c = &self.columns[i];
            let raw = match &values[i] {
                Some(Value::Null) | None => return Err(EventError::MissingKey(c.name.clone())),
                Some(raw) => raw,
            };
            texts.push(key_text(raw, c.rules.collation));
            columns.push(Column {
                name: c.name.clone(),
                value: Some(self.column_value(i, raw, masker)?),
                source_type: c.source_type.clone(),
            });
        }
        Ok((columns, texts))
    }

    /// The Kafka record key for a row with these key columns.
    pub fn record_key(&self, source_id: &str, key: &[Column]) -> ChangeKey {
        ChangeKey {
            source_id: source_id.to_string(),
            schema: self.table.database.clone(),
            table: self.table.name.clone(),
            columns: key.to_vec(),
        }
    }

    /// Whether every key column is an integer, so that keys compare as numbers.
    pub fn integer_key(&self) -> bool {
        self.key.iter().all(|&i| {
            matches!(
                self.columns[i].rules.data_type.as_str(),
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
            )
        })
    }
}

/// `bit(10)` → 10.
fn bit_width(column_type: &str) -> Option<u16> {
    let rest = column_type.strip_prefix("bit(")?;
    rest.split(')').next()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::CatalogColumn;
    use std::collections::BTreeMap;

    fn config() -> MysqlSourceConfig {
        let mut c: MysqlSourceConfig = toml::from_str(
            r#"
            database = "bhxh"
            server_id = 7
            tables = ["bhxh.*"]
            exclude_columns = ["bhxh.nguoi.mat_khau"]
            datetime_offset = "+07:00"
            "#,
        )
        .unwrap();
        c.mask_columns = BTreeMap::from([
            ("bhxh.nguoi.so_cccd".into(), MaskKind::Hash),
            ("bhxh.nguoi.dien_thoai".into(), MaskKind::Redact),
        ]);
        c
    }

    fn column(
        name: &str,
        data_type: &str,
        column_type: &str,
        collation: Option<u16>,
    ) -> CatalogColumn {
        CatalogColumn {
            name: name.into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            collation,
            nullable: name != "id",
            is_json: false,
        }
    }

    fn catalog() -> CatalogTable {
        CatalogTable {
            table: TableRef::new("bhxh", "nguoi"),
            columns: vec![
                column("id", "bigint", "bigint(20) unsigned", None),
                column("ho_ten", "varchar", "varchar(100)", Some(224)),
                column("so_cccd", "char", "char(12)", Some(224)),
                column("dien_thoai", "varchar", "varchar(15)", Some(224)),
                column("mat_khau", "varchar", "varchar(64)", Some(224)),
                column("cap_nhat", "datetime", "datetime", None),
                column("trang_thai", "bit", "bit(1)", None),
            ],
            primary_key: vec![0],
            engine: Some("InnoDB".into()),
            estimated_rows: 0,
        }
    }

    fn text(s: &str) -> Option<Value> {
        Some(Value::String {
            bytes: s.as_bytes().to_vec(),
            collation: None,
        })
    }

    fn values() -> Vec<Option<Value>> {
        vec![
            Some(Value::UInt(7)),
            text("Nguyễn Văn An"),
            text("001203000123"),
            text("0912345678"),
            text("bí mật"),
            Some(Value::Null),
            Some(Value::Bit(1)),
        ]
    }

    #[test]
    fn filters_masks_keys_and_topic() {
        let table = CapturedTable::from_catalog(&catalog(), &config(), "bhxh-src", 1);
        assert_eq!(table.topic, "cdc.bhxh-src.bhxh.nguoi");
        assert!(table.integer_key());
        let masker = Masker::new("a-long-enough-salt");
        let row = table.row(&values(), Some(&masker), true).unwrap();
        let names: Vec<&str> = row.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "ho_ten",
                "so_cccd",
                "dien_thoai",
                "cap_nhat",
                "trang_thai"
            ]
        );
        assert_eq!(
            row.columns[2].value.as_ref().unwrap().kind,
            Some(value::Kind::TextValue(masker.hash(b"001203000123")))
        );
        assert_eq!(
            row.columns[3].value.as_ref().unwrap().kind,
            Some(value::Kind::Null(true))
        );
        assert_eq!(
            row.columns[5].value.as_ref().unwrap().kind,
            Some(value::Kind::BoolValue(true))
        );
        let (key, texts) = table.key_of(&values(), Some(&masker)).unwrap();
        assert_eq!(texts, ["7"]);
        assert_eq!(
            key[0].value.as_ref().unwrap().kind,
            Some(value::Kind::UintValue(7))
        );
        assert_eq!(table.table_schema()[0].primary_key_ordinal, 1);
        assert_eq!(table.columns[5].rules.datetime_offset, Some(25_200));
        assert_eq!(table.columns[6].rules.bit_width, Some(1));
    }

    #[test]
    fn minimal_images_and_errors() {
        let table = CapturedTable::from_catalog(&catalog(), &config(), "s", 1);
        let mut partial = values();
        partial[1] = None;
        let after = table.row(&partial, None, true).unwrap();
        assert_eq!(
            after.columns[1].value.as_ref().unwrap().kind,
            Some(value::Kind::Unchanged(true))
        );
        let before = table.row(&partial, None, false).unwrap();
        assert!(before.columns.iter().all(|c| c.name != "ho_ten"));
        assert!(matches!(
            table.row(&values()[..3], None, true),
            Err(EventError::ColumnCount { got: 3, .. })
        ));
        let mut no_key = values();
        no_key[0] = Some(Value::Null);
        assert!(matches!(
            table.key_of(&no_key, None),
            Err(EventError::MissingKey(_))
        ));
    }

    #[test]
    fn events_decode_with_the_cached_schema() {
        let table = CapturedTable::from_catalog(&catalog(), &config(), "s", 3);
        let event = ChangeEvent {
            source_id: "s".into(),
            table: "nguoi".into(),
            schema_version: 3,
            after: Some(table.row(&values(), None, true).unwrap()),
            ..ChangeEvent::default()
        };
        let decoded = ChangeEvent::decode(table.encode_event(&event).as_slice()).unwrap();
        assert_eq!(decoded.table_schema, table.table_schema());
        assert_eq!(
            ChangeEvent {
                table_schema: Vec::new(),
                ..decoded
            },
            event
        );
    }

    #[test]
    fn key_texts() {
        use crate::binlog::temporal::{Date, DateTime};
        assert_eq!(key_text(&Value::Int(-3), None), "-3");
        assert_eq!(key_text(&Value::Binary(vec![0, 255]), None), "00FF");
        assert_eq!(
            key_text(
                &Value::String {
                    bytes: vec![0xe0],
                    collation: Some(8)
                },
                None
            ),
            "à"
        );
        let dt = DateTime {
            date: Date {
                year: 2024,
                month: 2,
                day: 29,
            },
            hour: 1,
            minute: 2,
            second: 3,
            microsecond: 120_000,
            fractional_digits: 2,
        };
        assert_eq!(
            key_text(&Value::DateTime(dt), None),
            "2024-02-29 01:02:03.12"
        );
    }
}
