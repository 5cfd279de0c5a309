//! What translating one change event gives: a canonical record to publish, or the reason it
//! cannot be translated.

use lienthong_proto::v1::{Operation, Provenance, Quality};

use crate::entity::{CanonicalEntity, EntityKind};

/// What happened to the canonical record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOperation {
    /// The record exists with these values (source snapshot read, insert or update).
    Upsert,
    /// The source row was deleted. The entity carries only its id and provenance (with
    /// `source_operation` DELETE); publish it, then a tombstone (same key, null value) so
    /// compacted topics drop the record.
    Delete,
}

/// One translated change.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRecord {
    /// The Kafka record key and the entity's `record_id`:
    /// `<source_id>:<schema>.<table>:<source key>` (see [`record_id`]).
    pub key: String,
    pub operation: RecordOperation,
    /// The canonical entity, with provenance and (where the message has room) quality set.
    pub entity: CanonicalEntity,
    /// The quality findings (also inside the entity, except for administrative units).
    pub quality: Quality,
}

impl MappedRecord {
    pub fn kind(&self) -> EntityKind {
        self.entity.kind()
    }

    /// The output topic: `canonical.<entity>.v1`.
    pub fn topic(&self) -> String {
        self.kind().topic()
    }

    pub fn provenance(&self) -> Option<&Provenance> {
        self.entity.provenance()
    }

    /// The idempotency key (stable across redelivery of the same change).
    pub fn idempotency_key(&self) -> &str {
        self.provenance().map_or("", |p| p.idempotency_key.as_str())
    }

    /// Whether a tombstone must follow this record.
    pub fn is_delete(&self) -> bool {
        self.operation == RecordOperation::Delete
    }
}

/// A change event that cannot be translated at all. Every variant is permanent for the record
/// (retrying gives the same result): it goes to the dead-letter topic with this reason, and
/// [`MappingError::kind`] is the stable `error_kind`.
///
/// Messages never quote values of personal fields (they end up in logs): they name the column
/// and the problem, and the dead letter keeps the original record for the data steward.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("no mapping for table {schema}.{table} of source {source_id}")]
    NoMapping {
        source_id: String,
        schema: String,
        table: String,
    },
    #[error("mapping {mapping} is for {expected}, but the change is from {found}")]
    WrongTable {
        mapping: String,
        expected: String,
        found: String,
    },
    #[error(
        "TRUNCATE of {table} removed every row; it cannot be translated record by record \
         (re-snapshot the table to rebuild its canonical records)"
    )]
    Truncate { table: String },
    #[error("the change event has no operation")]
    UnspecifiedOperation,
    #[error("{operation} change without the row image {image} the change")]
    MissingRow {
        operation: String,
        image: &'static str,
    },
    #[error("the change event has no source position, so no idempotency key can be derived")]
    NoPosition,
    #[error("key column {column}: {reason}")]
    Key { column: String, reason: String },
    #[error("column {column} is not in the row of {table}; the row has: {available}")]
    MissingColumn {
        column: String,
        table: String,
        available: String,
    },
    /// A field whose value could not be converted, in a field set to `on_error = "reject"`.
    #[error("field {target} (from {source_desc}): {reason}")]
    Field {
        target: String,
        source_desc: String,
        reason: String,
    },
}

impl MappingError {
    /// Stable machine-readable kind, for the dead letter's `error_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            MappingError::NoMapping { .. } => "mapping.no_mapping",
            MappingError::WrongTable { .. } => "mapping.wrong_table",
            MappingError::Truncate { .. } => "mapping.truncate",
            MappingError::UnspecifiedOperation => "mapping.no_operation",
            MappingError::MissingRow { .. } => "mapping.missing_row",
            MappingError::NoPosition => "mapping.no_position",
            MappingError::Key { .. } => "mapping.key",
            MappingError::MissingColumn { .. } => "mapping.missing_column",
            MappingError::Field { .. } => "mapping.field",
        }
    }
}

/// The text of the source operation, for messages.
pub(crate) fn operation_name(op: Operation) -> &'static str {
    match op {
        Operation::Unspecified => "unspecified",
        Operation::Read => "READ",
        Operation::Insert => "INSERT",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Truncate => "TRUNCATE",
    }
}

/// Appends `s` with `%`, `&` and `=` escaped, so that `col=value&col=value` stays unambiguous.
fn push_escaped(out: &mut String, s: &str) {
    if !s.contains(['%', '&', '=']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
}

/// A source key as `col=value` pairs joined by `&` (`%`, `&` and `=` in names and values are
/// percent-encoded), as `Provenance.source_key` holds it.
///
/// ```
/// use lienthong_translate::record::source_key;
/// assert_eq!(source_key([("id", "42")]), "id=42");
/// assert_eq!(source_key([("a", "x&y"), ("b", "1=1")]), "a=x%26y&b=1%3D1");
/// ```
pub fn source_key<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut key = String::new();
    push_source_key(&mut key, pairs);
    key
}

/// Appends [`source_key`] of `pairs` to `out`.
pub(crate) fn push_source_key<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (i, (column, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push_escaped(out, column);
        out.push('=');
        push_escaped(out, value);
    }
}

/// Appends the part of [`record_id`] before the source key: `<source_id>:<schema>.<table>:`.
pub(crate) fn push_record_id_prefix(out: &mut String, source_id: &str, schema: &str, table: &str) {
    for part in [source_id, ":", schema, ".", table, ":"] {
        out.push_str(part);
    }
}

/// The record id of a source row: `<source_id>:<schema>.<table>:<source key>`.
///
/// The table is part of the id because two tables of one source can have rows with the same
/// key; without it their records would overwrite each other in a compacted topic.
///
/// ```
/// use lienthong_translate::record::record_id;
/// assert_eq!(record_id("bhxh", "bhxh", "QUA_TRINH", "ID=7"), "bhxh:bhxh.QUA_TRINH:ID=7");
/// ```
pub fn record_id(source_id: &str, schema: &str, table: &str, source_key: &str) -> String {
    [source_id, ":", schema, ".", table, ":", source_key].concat()
}
