//! Turning decoded pgoutput tuples into change events: column filters, masking of personal
//! data, keys, schema versions. Pure: no I/O.

use std::sync::Arc;

use lienthong_proto::v1::{ChangeEvent, ChangeKey, Column, ColumnSchema, Row, Value, value};
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::config::{MaskKind, PostgresSourceConfig, pattern_matches};
use crate::pgoutput::{Relation, Tuple, TupleValue};
use crate::values::{ValueError, builtin_type_name, decode_tuple_value};

/// One column of a captured table as the connector treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedColumn {
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
    pub source_type: String,
    /// Excluded columns are decoded for nothing and never published.
    pub included: bool,
    pub mask: Option<MaskKind>,
}

/// A table as the current Relation message describes it, with the connector's rules applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedTable {
    pub relation_oid: u32,
    pub schema: String,
    pub name: String,
    pub topic: String,
    pub columns: Vec<CapturedColumn>,
    /// Indexes into `columns` of the key, in key order.
    pub key: Vec<usize>,
    pub schema_version: u32,
    /// [`Self::table_schema`] encoded as `ChangeEvent.table_schema` fields, once per table
    /// version rather than once per event (see [`Self::encode_event`]).
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
    #[error("tuple has {got} columns, the relation {expected}")]
    ColumnCount { got: usize, expected: usize },
    #[error("row has no key value in column {0}")]
    MissingKey(String),
}

/// The salt and rules for masking; cloned into each table.
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

    /// Salted SHA-256 of the value's text, lower-case hex.
    pub fn hash(&self, text: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(text);
        let digest = h.finalize();
        let mut out = String::with_capacity(64);
        for b in digest {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// A stable text rendering of a table's columns: a change means a new schema version.
pub fn relation_fingerprint(relation: &Relation) -> String {
    relation
        .columns
        .iter()
        .map(|c| format!("{}:{}:{}", c.name, c.type_oid, c.type_modifier))
        .collect::<Vec<_>>()
        .join(",")
}

impl CapturedTable {
    /// Applies `config`'s column rules to a Relation message. `primary_key` names the key
    /// columns from the catalog; when empty, the columns the Relation flags as key are used.
    pub fn from_relation(
        relation: &Relation,
        config: &PostgresSourceConfig,
        source_id: &str,
        primary_key: &[String],
        schema_version: u32,
    ) -> Self {
        let columns: Vec<CapturedColumn> = relation
            .columns
            .iter()
            .map(|c| {
                let dotted = format!("{}.{}.{}", relation.namespace, relation.name, c.name);
                CapturedColumn {
                    name: c.name.clone(),
                    type_oid: c.type_oid,
                    type_modifier: c.type_modifier,
                    source_type: builtin_type_name(c.type_oid, c.type_modifier)
                        .unwrap_or_else(|| format!("oid:{}", c.type_oid)),
                    included: !config
                        .exclude_columns
                        .iter()
                        .any(|p| pattern_matches(p, &dotted)),
                    mask: config.mask_columns.get(&dotted).copied(),
                }
            })
            .collect();
        let key: Vec<usize> = if primary_key.is_empty() {
            relation
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_key())
                .map(|(i, _)| i)
                .collect()
        } else {
            primary_key
                .iter()
                .filter_map(|k| columns.iter().position(|c| &c.name == k))
                .collect()
        };
        let mut table = Self {
            relation_oid: relation.oid,
            topic: format!(
                "{}.{source_id}.{}.{}",
                config.topic_prefix, relation.namespace, relation.name
            ),
            schema: relation.namespace.clone(),
            name: relation.name.clone(),
            columns,
            key,
            schema_version,
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

    /// Encodes `event` (whose `table_schema` is left empty) with this table's schema.
    ///
    /// Protobuf decoders merge the fields of concatenated messages, appending repeated ones, so
    /// the event's bytes followed by the cached `table_schema` fields decode exactly as an event
    /// built with `table_schema` set — without rebuilding and re-encoding the column list for
    /// every event.
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
                nullable: true,
                primary_key_ordinal: self
                    .key
                    .iter()
                    .position(|k| *k == i)
                    .map_or(0, |p| p as u32 + 1),
            })
            .collect()
    }

    fn check_width(&self, tuple: &Tuple) -> Result<(), EventError> {
        if tuple.0.len() == self.columns.len() {
            Ok(())
        } else {
            Err(EventError::ColumnCount {
                got: tuple.0.len(),
                expected: self.columns.len(),
            })
        }
    }

    fn column_value(
        &self,
        index: usize,
        raw: &TupleValue,
        masker: Option<&Masker>,
    ) -> Result<Value, EventError> {
        let c = &self.columns[index];
        let masked = match (c.mask, raw) {
            (Some(MaskKind::Redact), _) => Some(Value {
                kind: Some(value::Kind::Null(true)),
            }),
            (Some(MaskKind::Hash), TupleValue::Text(text) | TupleValue::Binary(text)) => masker
                .map(|m| Value {
                    kind: Some(value::Kind::TextValue(m.hash(text))),
                }),
            _ => None,
        };
        if let Some(v) = masked {
            return Ok(v);
        }
        decode_tuple_value(c.type_oid, c.type_modifier, raw).map_err(|source| EventError::Value {
            column: c.name.clone(),
            source,
        })
    }

    /// The published row image of a tuple. With `key_only`, only key columns are kept (the old
    /// image under REPLICA IDENTITY DEFAULT carries nothing else).
    pub fn row(
        &self,
        tuple: &Tuple,
        masker: Option<&Masker>,
        key_only: bool,
    ) -> Result<Row, EventError> {
        self.check_width(tuple)?;
        let mut columns = Vec::with_capacity(self.columns.len());
        for (i, (c, raw)) in self.columns.iter().zip(&tuple.0).enumerate() {
            if !c.included || (key_only && !self.key.contains(&i)) {
                continue;
            }
            columns.push(Column {
                name: c.name.clone(),
                value: Some(self.column_value(i, raw, masker)?),
                source_type: c.source_type.clone(),
            });
        }
        Ok(Row { columns })
    }

    /// The key columns of a tuple, and their raw text joined (for matching snapshot chunks).
    pub fn key_of(
        &self,
        tuple: &Tuple,
        masker: Option<&Masker>,
    ) -> Result<(Vec<Column>, String), EventError> {
        self.check_width(tuple)?;
        let mut columns = Vec::with_capacity(self.key.len());
        let mut text = String::new();
        for (n, &i) in self.key.iter().enumerate() {
            let raw = &tuple.0[i];
            let c = &self.columns[i];
            match raw {
                TupleValue::Text(t) | TupleValue::Binary(t) => {
                    if n > 0 {
                        text.push('\u{1f}');
                    }
                    text.push_str(&String::from_utf8_lossy(t));
                }
                _ => return Err(EventError::MissingKey(c.name.clone())),
            }
            columns.push(Column {
                name: c.name.clone(),
                value: Some(self.column_value(i, raw, masker)?),
                source_type: c.source_type.clone(),
            });
        }
        Ok((columns, text))
    }

    /// The Kafka record key for a row with these key columns.
    pub fn record_key(&self, source_id: &str, key: &[Column]) -> ChangeKey {
        ChangeKey {
            source_id: source_id.to_string(),
            schema: self.schema.clone(),
            table: self.name.clone(),
            columns: key.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SnapshotConfig;
    use crate::pgoutput::{RelationColumn, ReplicaIdentity};
    use std::collections::BTreeMap;

    fn config() -> PostgresSourceConfig {
        PostgresSourceConfig {
            database: "csdl".into(),
            slot: "s".into(),
            publication: "p".into(),
            create_publication: true,
            tables: vec!["public.*".into()],
            exclude_tables: vec![],
            exclude_columns: vec!["public.can_bo.mat_khau".into()],
            mask_columns: BTreeMap::from([
                ("public.can_bo.so_cccd".into(), MaskKind::Hash),
                ("public.can_bo.dien_thoai".into(), MaskKind::Redact),
            ]),
            hash_salt: None,
            snapshot: SnapshotConfig::default(),
            heartbeat_interval_ms: 0,
            status_interval_ms: 1000,
            max_in_flight: 10,
            spill_dir: ".".into(),
            spill_memory_bytes: 1 << 20,
            topic_prefix: "cdc".into(),
        }
    }

    fn relation() -> Relation {
        let col = |name: &str, oid: u32, key: bool| RelationColumn {
            flags: u8::from(key),
            name: name.into(),
            type_oid: oid,
            type_modifier: -1,
        };
        Relation {
            xid: None,
            oid: 16384,
            namespace: "public".into(),
            name: "can_bo".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                col("id", 23, true),
                col("ho_ten", 25, false),
                col("so_cccd", 25, false),
                col("dien_thoai", 25, false),
                col("mat_khau", 25, false),
            ],
        }
    }

    fn text(s: &str) -> TupleValue {
        TupleValue::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn filters_masks_and_keys() {
        let table = CapturedTable::from_relation(&relation(), &config(), "csdl", &[], 1);
        assert_eq!(table.topic, "cdc.csdl.public.can_bo");
        let masker = Masker::new("a-long-enough-salt");
        let tuple = Tuple(vec![
            text("7"),
            text("Nguyễn Văn A"),
            text("001203000123"),
            text("0912345678"),
            text("secret"),
        ]);
        let row = table.row(&tuple, Some(&masker), false).unwrap();
        let names: Vec<&str> = row.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "ho_ten", "so_cccd", "dien_thoai"]);
        let cccd = &row.columns[2].value.as_ref().unwrap().kind;
        assert_eq!(
            cccd,
            &Some(value::Kind::TextValue(masker.hash(b"001203000123")))
        );
        assert_ne!(
            masker.hash(b"001203000123"),
            Masker::new("other-salt-value").hash(b"001203000123")
        );
        assert_eq!(
            row.columns[3].value.as_ref().unwrap().kind,
            Some(value::Kind::Null(true))
        );
        let (key, key_text) = table.key_of(&tuple, Some(&masker)).unwrap();
        assert_eq!(key_text, "7");
        assert_eq!(
            key[0].value.as_ref().unwrap().kind,
            Some(value::Kind::IntValue(7))
        );
        let key_only = table.row(&tuple, Some(&masker), true).unwrap();
        assert_eq!(key_only.columns.len(), 1);
    }

    #[test]
    fn events_decode_with_the_cached_schema() {
        let table = CapturedTable::from_relation(&relation(), &config(), "csdl", &[], 3);
        let event = ChangeEvent {
            source_id: "csdl".into(),
            table: "can_bo".into(),
            schema_version: 3,
            after: Some(
                table
                    .row(
                        &Tuple(vec![
                            text("7"),
                            text("Nguyễn Văn A"),
                            TupleValue::Null,
                            text("0912345678"),
                            text("secret"),
                        ]),
                        None,
                        false,
                    )
                    .unwrap(),
            ),
            ..ChangeEvent::default()
        };
        let decoded = ChangeEvent::decode(table.encode_event(&event).as_slice()).unwrap();
        assert_eq!(decoded.table_schema, table.table_schema());
        assert!(!decoded.table_schema.is_empty());
        assert_eq!(
            ChangeEvent {
                table_schema: Vec::new(),
                ..decoded
            },
            event
        );
    }

    #[test]
    fn catalog_primary_key_wins_over_relation_flags() {
        let table = CapturedTable::from_relation(
            &relation(),
            &config(),
            "csdl",
            &["so_cccd".into(), "id".into()],
            1,
        );
        assert_eq!(table.key, vec![2, 0]);
        let schema = table.table_schema();
        assert_eq!(schema[0].primary_key_ordinal, 2);
        assert_eq!(schema[2].primary_key_ordinal, 1);
    }

    #[test]
    fn wrong_width_and_missing_key_are_errors() {
        let table = CapturedTable::from_relation(&relation(), &config(), "csdl", &[], 1);
        assert!(matches!(
            table.row(&Tuple(vec![text("1")]), None, false),
            Err(EventError::ColumnCount { .. })
        ));
        let no_key = Tuple(vec![
            TupleValue::Null,
            text("x"),
            text("x"),
            text("x"),
            text("x"),
        ]);
        assert!(matches!(
            table.key_of(&no_key, None),
            Err(EventError::MissingKey(_))
        ));
    }

    #[test]
    fn fingerprint_changes_with_columns() {
        let a = relation();
        let mut b = relation();
        b.columns[1].type_oid = 1043;
        assert_ne!(relation_fingerprint(&a), relation_fingerprint(&b));
        assert_eq!(relation_fingerprint(&a), relation_fingerprint(&relation()));
    }
}
