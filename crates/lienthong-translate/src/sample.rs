//! Change events written by hand, for trying a mapping on sample rows (`lienthong mapping test`)
//! and for tests.
//!
//! A row is a JSON object from column name to value:
//!
//! | JSON | column value |
//! |---|---|
//! | `null` | NULL |
//! | `true` / `false` | boolean |
//! | an integer | integer |
//! | another number | decimal, as JSON wrote it |
//! | a string | text |
//! | an array | array of the values |
//! | `{"date": "1975-03-15"}` | date (PostgreSQL `date`, MySQL `DATE`) |
//! | `{"datetime": "2024-01-02 08:30:00"}` | date and time without zone (MySQL `DATETIME`) |
//! | `{"timestamp": 1751302800}` | instant, seconds since 1970 (PostgreSQL `timestamptz`) |
//! | `{"decimal": "4.98"}` | exact decimal (`numeric`) |
//! | `{"latin1": "4e677579d46e"}` | bytes given in hex (a legacy column read as binary) |
//! | any other object | JSON text |

use std::time::SystemTime;

use lienthong_proto::v1::value::Kind;
use lienthong_proto::v1::{
    ChangeEvent, Column, Date, Decimal, LocalDateTime, Operation, PostgresPosition, Row,
    SourcePosition, TimeOfDay, Value, ValueList, source_position,
};
use serde_json::Value as Json;

use crate::date::{CivilDate, to_timestamp};
use crate::mapping::Mapping;

/// A sample value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    #[error("a row is a JSON object of column values")]
    NotAnObject,
    #[error("column {column}: {reason}")]
    Value { column: String, reason: String },
}

/// The column value a JSON value stands for (see the module documentation).
pub fn value_from_json(json: &Json) -> Result<Value, String> {
    let kind = match json {
        Json::Null => Kind::Null(true),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntValue(i),
            None => Kind::DecimalValue(Decimal {
                value: n.to_string(),
            }),
        },
        Json::String(s) => Kind::TextValue(s.clone()),
        Json::Array(items) => Kind::ArrayValue(ValueList {
            values: items
                .iter()
                .map(value_from_json)
                .collect::<Result<_, _>>()?,
        }),
        Json::Object(map) if map.len() == 1 => {
            let (tag, inner) = map.iter().next().ok_or("empty object")?;
            let text = || inner.as_str().ok_or(format!("{tag} takes a string"));
            match tag.as_str() {
                "date" => Kind::DateValue(iso_date(text()?)?),
                "datetime" => {
                    let t = text()?;
                    let (date, time) = t
                        .split_once([' ', 'T'])
                        .ok_or("expected YYYY-MM-DD hh:mm:ss")?;
                    let parts: Vec<i32> = time
                        .split(':')
                        .map(|p| p.parse::<i32>().map_err(|e| e.to_string()))
                        .collect::<Result<_, _>>()?;
                    Kind::DatetimeValue(LocalDateTime {
                        date: Some(iso_date(date)?),
                        time: Some(TimeOfDay {
                            hours: parts.first().copied().unwrap_or(0),
                            minutes: parts.get(1).copied().unwrap_or(0),
                            seconds: parts.get(2).copied().unwrap_or(0),
                            ..TimeOfDay::default()
                        }),
                    })
                }
                "timestamp" => Kind::TimestampValue(prost_types::Timestamp {
                    seconds: inner.as_i64().ok_or("timestamp takes seconds since 1970")?,
                    nanos: 0,
                }),
                "decimal" => Kind::DecimalValue(Decimal {
                    value: text()?.to_owned(),
                }),
                "latin1" => Kind::BytesValue(hex(text()?)?),
                _ => Kind::JsonValue(json.to_string()),
            }
        }
        Json::Object(_) => Kind::JsonValue(json.to_string()),
    };
    Ok(Value { kind: Some(kind) })
}

fn iso_date(text: &str) -> Result<Date, String> {
    CivilDate::parse_iso(text)
        .map(CivilDate::to_proto)
        .ok_or_else(|| format!("{text:?} is not a date written YYYY-MM-DD"))
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("hex needs two digits per byte".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("{text:?} is not hex"))
        })
        .collect()
}

/// A row from a JSON object of column values (columns in the order the JSON map gives them).
pub fn row_from_json(json: &Json) -> Result<Row, SampleError> {
    let Json::Object(map) = json else {
        return Err(SampleError::NotAnObject);
    };
    let columns = map
        .iter()
        .map(|(name, value)| {
            value_from_json(value)
                .map(|value| Column {
                    name: name.clone(),
                    value: Some(value),
                    source_type: String::new(),
                })
                .map_err(|reason| SampleError::Value {
                    column: name.clone(),
                    reason,
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(Row { columns })
}

/// A change event of the mapping's source table: `after` for reads, inserts and updates,
/// `before` for deletes; the key columns are the mapping's `source.key`, or `key_columns`. The
/// position is a PostgreSQL position made from `sequence`, so each sample gets its own
/// idempotency key.
pub fn change_event(
    mapping: &Mapping,
    operation: Operation,
    row: Row,
    key_columns: &[&str],
    committed_at: SystemTime,
    sequence: u64,
) -> ChangeEvent {
    let key_names: Vec<&str> = if mapping.source().key.is_empty() {
        key_columns.to_vec()
    } else {
        mapping.source().key.iter().map(String::as_str).collect()
    };
    let key = row
        .columns
        .iter()
        .filter(|c| key_names.contains(&c.name.as_str()))
        .cloned()
        .collect();
    let (before, after) = if operation == Operation::Delete {
        (Some(row), None)
    } else {
        (None, Some(row))
    };
    let commit_time = to_timestamp(committed_at);
    ChangeEvent {
        source_id: mapping.source().id.clone(),
        database: String::new(),
        schema: mapping.source().schema.clone(),
        table: mapping.source().table.clone(),
        op: operation as i32,
        before,
        after,
        key,
        transaction_id: sequence.to_string(),
        position: Some(SourcePosition {
            kind: Some(source_position::Kind::Postgres(PostgresPosition {
                commit_lsn: sequence,
                lsn: sequence,
                sequence: 0,
                xid: 0,
            })),
        }),
        commit_time: Some(commit_time),
        capture_time: Some(commit_time),
        schema_version: 1,
        table_schema: Vec::new(),
        last_in_transaction: true,
    }
}

/// A row made from arbitrary bytes, for fuzzing the mapping engine: each of `columns` gets a
/// value whose kind (NULL, text in any script or a legacy encoding, integer, decimal, date that
/// may be impossible, date-time, instant, bytes, array, JSON) and content the bytes choose; a few
/// columns may be missing and an unknown one added. Every input gives a row; the same input
/// gives the same row.
pub fn arbitrary_row(columns: &[&str], data: &[u8]) -> Row {
    let mut bytes = ByteSource(data);
    let mut out = Vec::with_capacity(columns.len() + 1);
    for name in columns {
        let choice = bytes.byte();
        if choice % 17 == 16 {
            continue; // the column is missing
        }
        out.push(Column {
            name: (*name).to_owned(),
            value: Some(arbitrary_value(&mut bytes, choice, 0)),
            source_type: String::new(),
        });
    }
    if bytes.byte() % 5 == 4 {
        out.push(Column {
            name: bytes.text(),
            value: Some(arbitrary_value(&mut bytes, 3, 0)),
            source_type: String::new(),
        });
    }
    Row { columns: out }
}

struct ByteSource<'a>(&'a [u8]);

impl ByteSource<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn int(&mut self) -> i64 {
        let mut buf = [0u8; 8];
        let taken = self.take(8);
        buf[..taken.len()].copy_from_slice(taken);
        i64::from_le_bytes(buf)
    }

    /// Text of up to 40 bytes: UTF-8 where the bytes are, Latin-1 (how legacy TCVN3/VNI text
    /// arrives) where they are not.
    fn text(&mut self) -> String {
        let len = usize::from(self.byte() % 41);
        let raw = self.take(len);
        match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
        }
    }
}

fn arbitrary_value(bytes: &mut ByteSource<'_>, choice: u8, depth: u8) -> Value {
    let small = |b: &mut ByteSource<'_>| i32::from(b.byte()) - 20;
    let kind = match choice % 16 {
        0 => Kind::Null(true),
        1..=4 => Kind::TextValue(bytes.text()),
        // Digits, the shape most text columns of IDs, codes and dates have.
        5 => Kind::TextValue(
            (0..bytes.byte() % 14)
                .map(|_| char::from(b'0' + bytes.byte() % 10))
                .collect(),
        ),
        6 => Kind::IntValue(bytes.int()),
        7 => Kind::IntValue(i64::from(bytes.byte())),
        8 => Kind::DecimalValue(Decimal {
            value: format!("{}.{:02}", bytes.int() % 100_000, bytes.byte() % 100),
        }),
        9 => Kind::DateValue(Date {
            year: 1900 + i32::from(bytes.byte()) + small(bytes),
            month: small(bytes) / 8,
            day: small(bytes) / 4,
        }),
        10 => Kind::DatetimeValue(LocalDateTime {
            date: Some(Date {
                year: 1950 + i32::from(bytes.byte()),
                month: 1 + i32::from(bytes.byte() % 12),
                day: 1 + i32::from(bytes.byte() % 31),
            }),
            time: Some(TimeOfDay {
                hours: i32::from(bytes.byte() % 30),
                minutes: i32::from(bytes.byte() % 70),
                ..TimeOfDay::default()
            }),
        }),
        11 => Kind::TimestampValue(prost_types::Timestamp {
            seconds: bytes.int() % 10_000_000_000,
            nanos: 0,
        }),
        12 => Kind::BoolValue(bytes.byte().is_multiple_of(2)),
        13 => {
            let len = usize::from(bytes.byte() % 24);
            Kind::BytesValue(bytes.take(len).to_vec())
        }
        14 if depth < 2 => Kind::ArrayValue(ValueList {
            values: (0..bytes.byte() % 4)
                .map(|_| {
                    let c = bytes.byte();
                    arbitrary_value(bytes, c, depth + 1)
                })
                .collect(),
        }),
        _ => Kind::JsonValue(bytes.text()),
    };
    Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn json_values_become_typed_column_values() {
        let row = row_from_json(&json!({
            "id": 7,
            "name": "An",
            "coef": 4.98,
            "born": {"date": "1975-03-15"},
            "seen": {"timestamp": 1_751_302_800},
            "raw": {"latin1": "4ea7"},
            "none": null,
        }))
        .unwrap();
        let kind = |name: &str| {
            row.columns
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .value
                .clone()
                .unwrap()
                .kind
                .unwrap()
        };
        assert_eq!(kind("id"), Kind::IntValue(7));
        assert_eq!(
            kind("coef"),
            Kind::DecimalValue(Decimal {
                value: "4.98".into()
            })
        );
        assert_eq!(
            kind("born"),
            Kind::DateValue(Date {
                year: 1975,
                month: 3,
                day: 15
            })
        );
        assert_eq!(kind("raw"), Kind::BytesValue(vec![0x4e, 0xa7]));
        assert_eq!(kind("none"), Kind::Null(true));
        assert!(row_from_json(&json!([1])).is_err());
        assert!(row_from_json(&json!({"d": {"date": "15/03/1975"}})).is_err());
    }
}
