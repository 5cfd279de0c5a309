//! WRITE_ROWS, UPDATE_ROWS and DELETE_ROWS events: the changed rows of one statement on one table.
//!
//! A rows event names its table by the id of the [`TableMap`](super::table_map::TableMap) sent
//! before it, says which columns its images hold (all of them under `binlog_row_image=FULL`; under
//! `MINIMAL` the before image holds the key columns and the after image the changed ones), then
//! lists rows: an insert has an after image, a delete a before image, an update both. Each image
//! starts with a NULL bitmap over the columns it holds, followed by the values of those that are
//! not NULL.
//!
//! Decoding is two steps because the values cannot be read without the table's column types:
//! [`RowsEvent`] is what the event holds, [`RowsEvent::rows`] splits its rows given the
//! [`TableSchema`] built from the table map.
//!
//! Version 1 events (types 23–25) are what MariaDB writes and MySQL wrote before 5.6.6; version 2
//! (30–32, MySQL 5.6.6+) adds a block of extra data after the post-header. Their rows are the same.

use super::error::DecodeError;
use super::header::{EVENT_HEADER_LEN, event_type};
use super::reader::{Bitmap, Reader};
use super::schema::TableSchema;
use super::table_map::read_table_id;
use super::value::{Value, decode_value};

/// Bits of [`RowsEvent::flags`].
pub mod rows_flags {
    /// The last rows event of its statement: table ids of the statement may be released.
    pub const STMT_END: u16 = 0x0001;
    pub const NO_FOREIGN_KEY_CHECKS: u16 = 0x0002;
    pub const RELAXED_UNIQUE_CHECKS: u16 = 0x0004;
    /// The images hold every column (MySQL sets it under `binlog_row_image=FULL`).
    pub const COMPLETE_ROWS: u16 = 0x0008;
}

/// What a rows event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowsKind {
    Insert,
    Update,
    Delete,
}

/// A decoded rows event, its rows not yet split (see [`RowsEvent::rows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsEvent {
    pub kind: RowsKind,
    /// 1 for types 23–25 (MariaDB), 2 for types 30–32 (MySQL 5.6.6+).
    pub version: u8,
    pub table_id: u64,
    pub flags: u16,
    /// Version 2's extra data (e.g. NDB cluster info), as written.
    pub extra_data: Vec<u8>,
    /// The table's column count when the event was written.
    pub column_count: usize,
    /// Which columns the before images hold (updates and deletes).
    pub before_columns: Option<Vec<bool>>,
    /// Which columns the after images hold (inserts and updates).
    pub after_columns: Option<Vec<bool>>,
    /// The row images, undecoded.
    pub rows_data: Vec<u8>,
    /// Offset of `rows_data` in the event, for errors.
    pub rows_offset: usize,
}

/// One changed row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    Insert { after: RowImage },
    Update { before: RowImage, after: RowImage },
    Delete { before: RowImage },
}

/// The values of one row image, by column index. `None` means the image does not hold the
/// column (a MINIMAL image); `Some(Value::Null)` is SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct RowImage(pub Vec<Option<Value>>);

impl RowImage {
    /// The value of a column, `None` when the image does not hold it.
    pub fn get(&self, column: usize) -> Option<&Value> {
        self.0.get(column).and_then(Option::as_ref)
    }
}

impl RowsEvent {
    /// Decodes a rows event of type `event_type` from the event's data (after the header, before
    /// the checksum).
    pub(crate) fn decode(
        data: &[u8],
        event_type: u8,
        post_header_len: usize,
    ) -> Result<Self, DecodeError> {
        use super::header::event_type::*;
        let (kind, version) = match event_type {
            WRITE_ROWS_V1 => (RowsKind::Insert, 1),
            UPDATE_ROWS_V1 => (RowsKind::Update, 1),
            DELETE_ROWS_V1 => (RowsKind::Delete, 1),
            WRITE_ROWS_V2 => (RowsKind::Insert, 2),
            UPDATE_ROWS_V2 => (RowsKind::Update, 2),
            _ => (RowsKind::Delete, 2),
        };
        let mut reader = Reader::new(data, EVENT_HEADER_LEN);
        let table_id = read_table_id(&mut reader, post_header_len, event_type)?;
        let flags = reader.u16("rows flags")?;
        let mut fixed = 8;
        let mut extra_len = 0;
        if version == 2 {
            if post_header_len < 10 {
                return Err(DecodeError::PostHeaderTooShort {
                    event_type,
                    length: post_header_len,
                    needed: 10,
                });
            }
            // The length counts its own two bytes.
            extra_len = usize::from(reader.u16("extra data length")?).saturating_sub(2);
            fixed = 10;
        }
        reader.skip(post_header_len.saturating_sub(fixed), "post-header")?;
        let extra_data = reader.take(extra_len, "extra data")?.to_vec();

        let column_count = reader.packed_usize("column count")?;
        reader.check_count_fits(column_count.div_ceil(8), 1, "column bitmap")?;
        let first = Bitmap::read(&mut reader, column_count, "columns bitmap")?.to_vec();
        let (before_columns, after_columns) = match kind {
            RowsKind::Insert => (None, Some(first)),
            RowsKind::Delete => (Some(first), None),
            RowsKind::Update => {
                let second =
                    Bitmap::read(&mut reader, column_count, "after-image columns bitmap")?.to_vec();
                (Some(first), Some(second))
            }
        };
        let rows_offset = reader.position();
        let rows_data = reader.take_rest().to_vec();
        Ok(Self {
            kind,
            version,
            table_id,
            flags,
            extra_data,
            column_count,
            before_columns,
            after_columns,
            rows_data,
            rows_offset,
        })
    }

    /// Whether this is the last rows event of its statement.
    pub fn is_statement_end(&self) -> bool {
        self.flags & rows_flags::STMT_END != 0
    }

    /// Splits the rows, decoding every value with `schema` (built from the table map this event
    /// refers to). Fails when the schema is of another table id or column count, or a value does
    /// not decode; the error names the row, the column and the offset.
    pub fn rows(&self, schema: &TableSchema) -> Result<Vec<RowChange>, DecodeError> {
        if schema.table_id != self.table_id {
            return Err(DecodeError::TableIdMismatch {
                rows_table_id: self.table_id,
                schema_table_id: schema.table_id,
            });
        }
        if schema.columns.len() != self.column_count {
            return Err(DecodeError::ColumnCountMismatch {
                table: schema.qualified_name(),
                event_columns: self.column_count,
                table_columns: schema.columns.len(),
            });
        }
        let mut reader = Reader::new(&self.rows_data, self.rows_offset);
        let mut changes = Vec::new();
        while !reader.is_empty() {
            let row = changes.len();
            let change = match (&self.before_columns, &self.after_columns) {
                (None, Some(after)) => RowChange::Insert {
                    after: read_image(&mut reader, after, schema, row)?,
                },
                (Some(before), None) => RowChange::Delete {
                    before: read_image(&mut reader, before, schema, row)?,
                },
                (Some(before), Some(after)) => {
                    let before = read_image(&mut reader, before, schema, row)?;
                    let after = read_image(&mut reader, after, schema, row)?;
                    RowChange::Update { before, after }
                }
                (None, None) => break,
            };
            changes.push(change);
        }
        Ok(changes)
    }
}

/// Whether a type code is one of the row event types this module decodes.
pub(crate) fn is_rows_event(type_code: u8) -> bool {
    use event_type::*;
    matches!(
        type_code,
        WRITE_ROWS_V1
            | UPDATE_ROWS_V1
            | DELETE_ROWS_V1
            | WRITE_ROWS_V2
            | UPDATE_ROWS_V2
            | DELETE_ROWS_V2
    )
}

fn read_image(
    reader: &mut Reader<'_>,
    present: &[bool],
    schema: &TableSchema,
    row: usize,
) -> Result<RowImage, DecodeError> {
    let present_count = present.iter().filter(|&&p| p).count();
    let nulls = Bitmap::read(reader, present_count, "row NULL bitmap")?;
    let mut values = Vec::with_capacity(present.len());
    let mut nth_present = 0;
    for (column, &is_present) in schema.columns.iter().zip(present) {
        if !is_present {
            values.push(None);
            continue;
        }
        let is_null = nulls.get(nth_present);
        nth_present += 1;
        if is_null {
            values.push(Some(Value::Null));
            continue;
        }
        let offset = reader.position();
        let (value, len) =
            decode_value(reader.rest(), column).map_err(|source| DecodeError::Value {
                row,
                column: column.index,
                column_name: column.display_name(),
                offset,
                source,
            })?;
        reader.skip(len, "column value")?;
        values.push(Some(value));
    }
    Ok(RowImage(values))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::binlog::error::ValueError;
    use crate::binlog::schema::ColumnSchema;
    use crate::binlog::table_map::ColumnType;

    fn schema() -> TableSchema {
        let column = |index, column_type, unsigned, collation| ColumnSchema {
            index,
            name: Some(format!("c{index}")),
            type_code: 0,
            column_type,
            nullable: true,
            unsigned,
            collation,
            labels: None,
            geometry_type: None,
        };
        TableSchema {
            table_id: 42,
            schema: "s".into(),
            table: "t".into(),
            columns: vec![
                column(0, ColumnType::Long, Some(false), None),
                column(1, ColumnType::VarChar { max_length: 40 }, None, Some(45)),
                column(2, ColumnType::LongLong, Some(true), None),
            ],
            primary_key: Some(vec![0]),
        }
    }

    /// A v1 rows event's data for table 42 with 3 columns.
    fn event(bitmaps: &[u8], rows: &[u8]) -> Vec<u8> {
        let mut data = 42u64.to_le_bytes()[..6].to_vec();
        data.extend([1, 0]);
        data.push(3);
        data.extend(bitmaps);
        data.extend(rows);
        data
    }

    fn s(text: &str) -> Option<Value> {
        Some(Value::String {
            bytes: text.as_bytes().to_vec(),
            collation: Some(45),
        })
    }

    #[test]
    fn insert_with_nulls() {
        let mut rows = vec![0b010];
        rows.extend(7i32.to_le_bytes());
        rows.extend(u64::MAX.to_le_bytes());
        rows.push(0b000);
        rows.extend((-1i32).to_le_bytes());
        rows.extend([3, b'a', b'b', b'c']);
        rows.extend(1u64.to_le_bytes());
        let data = event(&[0b111], &rows);
        let event = RowsEvent::decode(&data, event_type::WRITE_ROWS_V1, 8).unwrap();
        assert_eq!(event.kind, RowsKind::Insert);
        assert!(event.is_statement_end());
        let changes = event.rows(&schema()).unwrap();
        assert_eq!(
            changes,
            vec![
                RowChange::Insert {
                    after: RowImage(vec![
                        Some(Value::Int(7)),
                        Some(Value::Null),
                        Some(Value::UInt(u64::MAX))
                    ])
                },
                RowChange::Insert {
                    after: RowImage(vec![Some(Value::Int(-1)), s("abc"), Some(Value::UInt(1))])
                },
            ]
        );
    }

    #[test]
    fn minimal_update_images() {
        // Before image: the key column only; after image: the changed column only.
        let mut rows = vec![0b0];
        rows.extend(7i32.to_le_bytes());
        rows.push(0b0);
        rows.extend([2, b'h', b'i']);
        let data = event(&[0b001, 0b010], &rows);
        let event = RowsEvent::decode(&data, event_type::UPDATE_ROWS_V1, 8).unwrap();
        let changes = event.rows(&schema()).unwrap();
        assert_eq!(
            changes,
            vec![RowChange::Update {
                before: RowImage(vec![Some(Value::Int(7)), None, None]),
                after: RowImage(vec![None, s("hi"), None]),
            }]
        );
        let RowChange::Update { before, .. } = &changes[0] else {
            unreachable!()
        };
        assert_eq!(before.get(0), Some(&Value::Int(7)));
        assert_eq!(before.get(1), None);
    }

    #[test]
    fn v2_delete_with_extra_data() {
        let mut data = 42u64.to_le_bytes()[..6].to_vec();
        data.extend([0, 0]);
        data.extend(5u16.to_le_bytes());
        data.extend([0, 1, 9]);
        data.push(3);
        data.push(0b101);
        data.push(0b10);
        data.extend(9i32.to_le_bytes());
        let event = RowsEvent::decode(&data, event_type::DELETE_ROWS_V2, 10).unwrap();
        assert_eq!(event.version, 2);
        assert_eq!(event.extra_data, vec![0, 1, 9]);
        assert!(!event.is_statement_end());
        assert_eq!(
            event.rows(&schema()).unwrap(),
            vec![RowChange::Delete {
                before: RowImage(vec![Some(Value::Int(9)), None, Some(Value::Null)])
            }]
        );
    }

    #[test]
    fn mismatches_and_bad_values_are_errors() {
        let data = event(&[0b111], &[0, 1, 0, 0, 0, 5]);
        let event = RowsEvent::decode(&data, event_type::WRITE_ROWS_V1, 8).unwrap();
        let mut other = schema();
        other.table_id = 43;
        assert!(matches!(
            event.rows(&other),
            Err(DecodeError::TableIdMismatch { .. })
        ));
        other = schema();
        other.columns.pop();
        assert!(matches!(
            event.rows(&other),
            Err(DecodeError::ColumnCountMismatch { .. })
        ));
        // The VARCHAR's length prefix says 5 bytes, none follow.
        assert_eq!(
            event.rows(&schema()),
            Err(DecodeError::Value {
                row: 0,
                column: 1,
                column_name: "c1".into(),
                offset: 19 + 6 + 2 + 1 + 1 + 1 + 4,
                source: ValueError::Truncated {
                    type_name: "VARCHAR",
                    needed: 5,
                    available: 0
                }
            })
        );
    }
}
