//! Cells read from a result row → the typed values of the change-event contract. Pure.
//!
//! A [`Cell`] is a value as the database driver handed it over: what the connector binds back
//! to continue a keyset scan, and what it saves as the cursor. [`to_proto`] gives its published
//! value, so that a table's events look the same whichever connector captures it:
//!
//! | dialect | how |
//! |---|---|
//! | PostgreSQL | every column is read as its text output and decoded by the PostgreSQL connector's own decoder ([`lienthong_source_postgres::values::decode_text`]): the same values as logical replication publishes |
//! | MySQL/MariaDB | as the binlog connector publishes them: integers (`uint_value` when `UNSIGNED`), `BIT(1)` as bool, `DECIMAL` exact text, `DATE`, `DATETIME` as a local date-time, `TIMESTAMP` as an instant (read in a UTC session), `TIME` within a day as a time and otherwise as an interval, zero or impossible dates as `raw_text`, `ENUM`/`SET` labels and character data as text, binary data as bytes, `JSON` as JSON |
//! | SQLite | by storage class: `INTEGER` → `int_value` (`bool_value` in a column declared `BOOLEAN` holding 0 or 1), `REAL` → `float_value`, `TEXT` → `text_value`, `BLOB` → `bytes_value`. SQLite has no date type: dates stored as text stay text |

use lienthong_proto::v1::{self as proto, value::Kind};
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogColumn;
use crate::dialect::Dialect;
use crate::temporal::{DateTimeText, MICROS_PER_SECOND, days_from_civil};

/// One value as read from the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    Bytes(#[serde(with = "base64_bytes")] Vec<u8>),
}

impl Cell {
    /// Bytes that identify the cell (kind and content), for fingerprints.
    pub fn identity_bytes(&self, out: &mut Vec<u8>) {
        let (tag, body): (u8, Vec<u8>) = match self {
            Self::Null => (0, Vec::new()),
            Self::Int(i) => (1, i.to_be_bytes().to_vec()),
            Self::UInt(u) => (2, u.to_be_bytes().to_vec()),
            Self::Float(f) => (3, f.to_bits().to_be_bytes().to_vec()),
            Self::Text(s) => (4, s.as_bytes().to_vec()),
            Self::Bytes(b) => (5, b.clone()),
        };
        out.push(tag);
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        out.extend_from_slice(&body);
    }

    /// The cell as text for positions in headers and logs (bytes in hex).
    pub fn display(&self) -> String {
        match self {
            Self::Null => "null".into(),
            Self::Int(i) => i.to_string(),
            Self::UInt(u) => u.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Text(s) => s.clone(),
            Self::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Why a cell could not become a published value. The row is dead-lettered with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(transparent)]
    Postgres(#[from] lienthong_source_postgres::values::ValueError),
    #[error("{source_type} value is not valid UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        source_type: String,
        valid_up_to: usize,
    },
    #[error("invalid {source_type} value {text:?}")]
    Invalid { source_type: String, text: String },
    #[error("the driver returned a {got} value for a {source_type} column")]
    Unexpected {
        source_type: String,
        got: &'static str,
    },
}

fn kind_name(cell: &Cell) -> &'static str {
    match cell {
        Cell::Null => "null",
        Cell::Int(_) => "integer",
        Cell::UInt(_) => "unsigned integer",
        Cell::Float(_) => "floating-point",
        Cell::Text(_) => "text",
        Cell::Bytes(_) => "binary",
    }
}

fn value(kind: Kind) -> proto::Value {
    proto::Value { kind: Some(kind) }
}

/// The published value of `cell`, read from `column`.
pub fn to_proto(
    dialect: Dialect,
    column: &CatalogColumn,
    cell: &Cell,
) -> Result<proto::Value, ValueError> {
    if cell.is_null() {
        return Ok(value(Kind::Null(true)));
    }
    let unexpected = || ValueError::Unexpected {
        source_type: column.source_type.clone(),
        got: kind_name(cell),
    };
    match dialect {
        Dialect::Postgres => match cell {
            Cell::Text(text) => Ok(lienthong_source_postgres::values::decode_text(
                column.type_oid,
                column.type_modifier,
                text,
            )?),
            _ => Err(unexpected()),
        },
        Dialect::Sqlite => Ok(value(match cell {
            Cell::Int(i) if column.data_type.contains("bool") && (*i == 0 || *i == 1) => {
                Kind::BoolValue(*i == 1)
            }
            Cell::Int(i) => Kind::IntValue(*i),
            Cell::UInt(u) => Kind::UintValue(*u),
            Cell::Float(f) => Kind::FloatValue(*f),
            Cell::Text(s) => Kind::TextValue(s.clone()),
            Cell::Bytes(b) => Kind::BytesValue(b.clone()),
            Cell::Null => Kind::Null(true),
        })),
        Dialect::MySql => mysql_value(column, cell).ok_or_else(|| match cell {
            Cell::Text(text) => ValueError::Invalid {
                source_type: column.source_type.clone(),
                text: text.chars().take(64).collect(),
            },
            Cell::Bytes(bytes) => match std::str::from_utf8(bytes) {
                Err(e) => ValueError::InvalidUtf8 {
                    source_type: column.source_type.clone(),
                    valid_up_to: e.valid_up_to(),
                },
                Ok(_) => unexpected(),
            },
            _ => unexpected(),
        }),
    }
}

fn mysql_value(column: &CatalogColumn, cell: &Cell) -> Option<proto::Value> {
    let data_type = column.data_type.as_str();
    let kind = match (data_type, cell) {
        ("bit", Cell::UInt(u)) if column.source_type.eq_ignore_ascii_case("bit(1)") => {
            Kind::BoolValue(*u != 0)
        }
        (_, Cell::Int(i)) => Kind::IntValue(*i),
        (_, Cell::UInt(u)) => Kind::UintValue(*u),
        (_, Cell::Float(f)) => Kind::FloatValue(*f),
        ("decimal" | "numeric", Cell::Text(t)) => {
            Kind::DecimalValue(proto::Decimal { value: t.clone() })
        }
        ("date", Cell::Text(t)) => match mysql_date(t)? {
            Some((y, m, d)) => Kind::DateValue(proto::Date {
                year: y,
                month: m,
                day: d,
            }),
            None => Kind::RawText(t.clone()),
        },
        ("datetime", Cell::Text(t)) => {
            let Some((date, time)) = mysql_datetime(t)? else {
                return Some(value(Kind::RawText(t.clone())));
            };
            Kind::DatetimeValue(proto::LocalDateTime {
                date: Some(date),
                time: Some(time),
            })
        }
        ("timestamp", Cell::Text(t)) => {
            let Some((date, time)) = mysql_datetime(t)? else {
                return Some(value(Kind::RawText(t.clone())));
            };
            let days = days_from_civil(i64::from(date.year), date.month as u32, date.day as u32);
            Kind::TimestampValue(prost_types::Timestamp {
                seconds: days * 86_400
                    + i64::from(time.hours) * 3600
                    + i64::from(time.minutes) * 60
                    + i64::from(time.seconds),
                nanos: time.nanos,
            })
        }
        ("time", Cell::Text(t)) => mysql_time(t)?,
        ("json", Cell::Text(t)) => Kind::JsonValue(t.clone()),
        (_, Cell::Text(t)) => Kind::TextValue(t.clone()),
        // Character data that is not UTF-8 after conversion to utf8mb4: refused.
        (_, Cell::Bytes(_)) if is_character_type(data_type) => return None,
        (_, Cell::Bytes(b)) => Kind::BytesValue(b.clone()),
        (_, Cell::Null) => Kind::Null(true),
    };
    Some(value(kind))
}

fn is_character_type(data_type: &str) -> bool {
    matches!(
        data_type,
        "char"
            | "varchar"
            | "tinytext"
            | "text"
            | "mediumtext"
            | "longtext"
            | "enum"
            | "set"
            | "json"
            | "decimal"
            | "numeric"
            | "date"
            | "datetime"
            | "timestamp"
            | "time"
    )
}

/// `YYYY-MM-DD` → `Some(Some(date))`; a zero, partly zero or impossible date (`2023-02-30`,
/// stored under `ALLOW_INVALID_DATES`) → `Some(None)`, published as MySQL prints it; not a
/// date at all → `None`.
fn mysql_date(text: &str) -> Option<Option<(i32, i32, i32)>> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: i32 = parts.next()?.parse().ok()?;
    let d: i32 = parts.next()?.parse().ok()?;
    if y == 0 || m == 0 || d == 0 || DateTimeText::parse(text.trim()).is_none() {
        return Some(None);
    }
    Some(Some((y, m, d)))
}

fn mysql_datetime(text: &str) -> Option<Option<(proto::Date, proto::TimeOfDay)>> {
    let (date, clock) = text.trim().split_once(' ')?;
    let Some((y, m, d)) = mysql_date(date)? else {
        return Some(None);
    };
    let (hours, minutes, seconds, micros) = clock_parts(clock)?;
    if hours > 23 {
        return None;
    }
    Some(Some((
        proto::Date {
            year: y,
            month: m,
            day: d,
        },
        proto::TimeOfDay {
            hours: hours as i32,
            minutes: minutes as i32,
            seconds: seconds as i32,
            nanos: (micros * 1000) as i32,
            utc_offset_seconds: None,
        },
    )))
}

/// `HHH:MM:SS[.ffffff]` → (hours, minutes, seconds, microseconds).
fn clock_parts(text: &str) -> Option<(u32, u32, u32, u32)> {
    let (clock, fraction) = match text.split_once('.') {
        Some((c, f)) => (c, f),
        None => (text, ""),
    };
    let mut parts = clock.splitn(3, ':');
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let s = parts.next()?.parse().ok()?;
    if m > 59 || s > 59 || fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    Some((h, m, s, micros))
}

/// MySQL `TIME` is also a duration (negative, or 24 hours and more): a time of day when it is
/// one, an ISO 8601 interval otherwise.
fn mysql_time(text: &str) -> Option<Kind> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (h, m, s, us) = clock_parts(rest)?;
    if !negative && h < 24 {
        return Some(Kind::TimeValue(proto::TimeOfDay {
            hours: h as i32,
            minutes: m as i32,
            seconds: s as i32,
            nanos: (us * 1000) as i32,
            utc_offset_seconds: None,
        }));
    }
    let sign = if negative { "-" } else { "" };
    let fraction = if us > 0 {
        format!(".{}", format!("{us:06}").trim_end_matches('0'))
    } else {
        String::new()
    };
    Some(Kind::IntervalValue(format!(
        "{sign}PT{h}H{m}M{s}{fraction}S"
    )))
}

/// A `FLOAT` as the `f64` of its shortest decimal form: `1.1f32` is 1.100000023841858 as an
/// `f64`, which no one wrote.
pub fn shortest_f32(f: f32) -> f64 {
    if f.is_finite() {
        f.to_string().parse().unwrap_or(f64::from(f))
    } else {
        f64::from(f)
    }
}

/// Microseconds of a `google.protobuf.Timestamp`.
pub fn timestamp_micros(t: &prost_types::Timestamp) -> i64 {
    t.seconds
        .saturating_mul(MICROS_PER_SECOND)
        .saturating_add(i64::from(t.nanos) / 1000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mysql(data_type: &str, source_type: &str, cell: Cell) -> Result<Kind, ValueError> {
        to_proto(
            Dialect::MySql,
            &CatalogColumn::plain("c", data_type, source_type, true),
            &cell,
        )
        .map(|v| v.kind.unwrap())
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn mysql_values_match_the_binlog_connector() {
        assert_eq!(
            mysql("bigint", "bigint(20) unsigned", Cell::UInt(u64::MAX)).unwrap(),
            Kind::UintValue(u64::MAX)
        );
        assert_eq!(
            mysql("bit", "bit(1)", Cell::UInt(1)).unwrap(),
            Kind::BoolValue(true)
        );
        assert_eq!(
            mysql("bit", "bit(10)", Cell::UInt(513)).unwrap(),
            Kind::UintValue(513)
        );
        assert_eq!(
            mysql("decimal", "decimal(5,2)", text("-12.50")).unwrap(),
            Kind::DecimalValue(proto::Decimal {
                value: "-12.50".into()
            })
        );
        assert_eq!(
            mysql("date", "date", text("2024-02-29")).unwrap(),
            Kind::DateValue(proto::Date {
                year: 2024,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            mysql("date", "date", text("2024-00-00")).unwrap(),
            Kind::RawText("2024-00-00".into())
        );
        assert!(matches!(
            mysql("datetime", "datetime(6)", text("2024-02-29 13:45:06.120000")).unwrap(),
            Kind::DatetimeValue(proto::LocalDateTime { time: Some(t), .. }) if t.nanos == 120_000_000 && t.hours == 13
        ));
        // TIMESTAMP text is read in a UTC session.
        assert_eq!(
            mysql("timestamp", "timestamp", text("2025-07-01 01:00:00")).unwrap(),
            Kind::TimestampValue(prost_types::Timestamp {
                seconds: 1_751_331_600,
                nanos: 0
            })
        );
        assert_eq!(
            mysql("timestamp", "timestamp", text("0000-00-00 00:00:00")).unwrap(),
            Kind::RawText("0000-00-00 00:00:00".into())
        );
        assert!(matches!(
            mysql("time", "time", text("13:45:06")).unwrap(),
            Kind::TimeValue(_)
        ));
        assert_eq!(
            mysql("time", "time(6)", text("-838:59:59.500000")).unwrap(),
            Kind::IntervalValue("-PT838H59M59.5S".into())
        );
        assert_eq!(
            mysql("json", "json", text("{\"a\": 1}")).unwrap(),
            Kind::JsonValue("{\"a\": 1}".into())
        );
        assert_eq!(
            mysql("enum", "enum('a','b')", text("b")).unwrap(),
            Kind::TextValue("b".into())
        );
        assert_eq!(
            mysql("blob", "blob", Cell::Bytes(vec![0, 255])).unwrap(),
            Kind::BytesValue(vec![0, 255])
        );
        assert_eq!(
            mysql("float", "float", Cell::Float(shortest_f32(1.1))).unwrap(),
            Kind::FloatValue(1.1)
        );
    }

    #[test]
    fn mysql_bad_values_are_errors_not_guesses() {
        assert!(matches!(
            mysql("varchar", "varchar(10)", Cell::Bytes(vec![b'a', 0xff])),
            Err(ValueError::InvalidUtf8 { valid_up_to: 1, .. })
        ));
        assert!(matches!(
            mysql("datetime", "datetime", text("yesterday")),
            Err(ValueError::Invalid { .. })
        ));
        assert_eq!(
            mysql("date", "date", text("2023-02-29")).unwrap(),
            Kind::RawText("2023-02-29".into()),
            "an impossible date is no date"
        );
    }

    #[test]
    fn sqlite_values_follow_storage_classes() {
        let col = |declared: &str| CatalogColumn::plain("c", declared, declared, true);
        let kind = |declared: &str, cell: Cell| {
            to_proto(Dialect::Sqlite, &col(declared), &cell)
                .unwrap()
                .kind
                .unwrap()
        };
        assert_eq!(kind("BOOLEAN", Cell::Int(1)), Kind::BoolValue(true));
        assert_eq!(kind("BOOLEAN", Cell::Int(7)), Kind::IntValue(7));
        assert_eq!(kind("INTEGER", Cell::Int(7)), Kind::IntValue(7));
        assert_eq!(kind("", Cell::Float(0.5)), Kind::FloatValue(0.5));
        assert_eq!(
            kind("DATETIME", text("2025-07-01 08:00:00")),
            Kind::TextValue("2025-07-01 08:00:00".into())
        );
        assert_eq!(
            kind("BLOB", Cell::Bytes(vec![1])),
            Kind::BytesValue(vec![1])
        );
        assert_eq!(kind("TEXT", Cell::Null), Kind::Null(true));
    }

    #[test]
    fn postgres_values_use_the_log_connectors_decoder() {
        use lienthong_source_postgres::values::type_oid;
        let column = CatalogColumn {
            name: "he_so".into(),
            source_type: "numeric(5,2)".into(),
            data_type: "numeric".into(),
            nullable: true,
            type_oid: type_oid::NUMERIC,
            type_modifier: (5 << 16) + 2 + 4,
            type_sql: "numeric(5,2)".into(),
        };
        assert_eq!(
            to_proto(Dialect::Postgres, &column, &text("4.98"))
                .unwrap()
                .kind
                .unwrap(),
            Kind::DecimalValue(proto::Decimal {
                value: "4.98".into()
            })
        );
        assert!(to_proto(Dialect::Postgres, &column, &text("abc")).is_err());
        assert!(matches!(
            to_proto(Dialect::Postgres, &column, &Cell::Int(4)),
            Err(ValueError::Unexpected { .. })
        ));
    }

    #[test]
    fn cells_serialise_and_identify() {
        let cells = vec![
            Cell::Null,
            Cell::Int(-1),
            Cell::UInt(u64::MAX),
            Cell::Float(0.25),
            text("Nguyễn"),
            Cell::Bytes(vec![0, 1, 255]),
        ];
        let json = serde_json::to_string(&cells).unwrap();
        let back: Vec<Cell> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cells);
        let mut a = Vec::new();
        let mut b = Vec::new();
        Cell::Int(1).identity_bytes(&mut a);
        Cell::UInt(1).identity_bytes(&mut b);
        assert_ne!(a, b, "kinds are part of the identity");
        assert_eq!(Cell::Bytes(vec![0xab]).display(), "ab");
    }
}
