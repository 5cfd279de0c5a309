//! The values a field pipeline works on: source column values as they arrive, and what the
//! transforms turn them into.

use lienthong_proto::v1::value::Kind;
use lienthong_proto::v1::{CodedValue, Date, Value};

use crate::date::{CivilDate, format_date};

/// A value between transform steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    /// No value: SQL NULL, empty text, or a step that found nothing.
    Null,
    Text(String),
    Bytes(Vec<u8>),
    Int(i64),
    /// An unsigned integer too large for `Int`.
    UInt(u64),
    Float(f64),
    /// An exact decimal in canonical text form (`-12.50`).
    Decimal(String),
    Bool(bool),
    /// A calendar date, possibly partial.
    Date(Date),
    /// A date and time without zone; its date part is used.
    DateTime(Date),
    /// An instant, as seconds since the Unix epoch.
    Instant(i64),
    /// A name split into its parts.
    Name {
        family: String,
        middle: String,
        given: String,
    },
    /// A code-list value; `as_of` is the date its code was resolved for (province codes).
    Coded {
        value: CodedValue,
        as_of: Option<Date>,
    },
    /// Several columns, or an array column.
    List(Vec<FieldValue>),
}

impl FieldValue {
    /// Converts a source column value. `None` means the source did not send it (an unchanged
    /// TOASTed column), which is different from NULL.
    pub(crate) fn from_proto(value: Option<&Value>) -> Option<FieldValue> {
        let Some(kind) = value.and_then(|v| v.kind.as_ref()) else {
            return Some(FieldValue::Null);
        };
        Some(match kind {
            Kind::Null(_) => FieldValue::Null,
            Kind::Unchanged(_) => return None,
            Kind::BoolValue(b) => FieldValue::Bool(*b),
            Kind::IntValue(i) => FieldValue::Int(*i),
            Kind::UintValue(u) => i64::try_from(*u).map_or(FieldValue::UInt(*u), FieldValue::Int),
            Kind::FloatValue(f) => FieldValue::Float(*f),
            Kind::DecimalValue(d) => FieldValue::Decimal(d.value.clone()),
            Kind::TextValue(s)
            | Kind::UuidValue(s)
            | Kind::JsonValue(s)
            | Kind::RawText(s)
            | Kind::IntervalValue(s) => FieldValue::Text(s.clone()),
            Kind::BytesValue(b) => FieldValue::Bytes(b.clone()),
            Kind::DateValue(d) => FieldValue::Date(*d),
            Kind::TimeValue(t) => {
                FieldValue::Text(format!("{:02}:{:02}:{:02}", t.hours, t.minutes, t.seconds))
            }
            Kind::DatetimeValue(dt) => FieldValue::DateTime(dt.date.unwrap_or_default()),
            Kind::TimestampValue(ts) => FieldValue::Instant(ts.seconds),
            Kind::ArrayValue(list) => FieldValue::List(
                list.values
                    .iter()
                    .map(|v| FieldValue::from_proto(Some(v)).unwrap_or(FieldValue::Null))
                    .collect(),
            ),
        })
    }

    /// Null, blank text, or a list of nothing but missing values.
    pub(crate) fn is_missing(&self) -> bool {
        match self {
            FieldValue::Null => true,
            FieldValue::Text(s) => s.trim().is_empty(),
            FieldValue::Bytes(b) => b.is_empty(),
            FieldValue::List(items) => items.iter().all(FieldValue::is_missing),
            FieldValue::Coded { value, .. } => value.code.is_empty() && value.original.is_empty(),
            FieldValue::Name {
                family,
                middle,
                given,
            } => family.is_empty() && middle.is_empty() && given.is_empty(),
            _ => false,
        }
    }

    /// The value as text, the way a person would write it (`None` for Null).
    ///
    /// Bytes are read as Latin-1 (one character per byte): legacy 8-bit text is stored in such
    /// columns, and this is the form the legacy decoder expects.
    pub(crate) fn to_text(&self) -> Option<String> {
        Some(match self {
            FieldValue::Null => return None,
            FieldValue::Text(s) => s.clone(),
            FieldValue::Bytes(b) => b.iter().map(|&byte| char::from(byte)).collect(),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::UInt(u) => u.to_string(),
            FieldValue::Float(f) => f.to_string(),
            FieldValue::Decimal(d) => d.clone(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Date(d) | FieldValue::DateTime(d) => format_date(d),
            FieldValue::Instant(seconds) => CivilDate::in_vietnam_at_unix_seconds(*seconds)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            FieldValue::Name {
                family,
                middle,
                given,
            } => [family, middle, given]
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            FieldValue::Coded { value, .. } => {
                if value.code.is_empty() {
                    value.original.clone()
                } else {
                    value.code.clone()
                }
            }
            FieldValue::List(items) => items
                .iter()
                .filter_map(FieldValue::to_text)
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        })
    }

    /// A short name of the value's type, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Null => "null",
            FieldValue::Text(_) => "text",
            FieldValue::Bytes(_) => "bytes",
            FieldValue::Int(_) | FieldValue::UInt(_) => "integer",
            FieldValue::Float(_) => "floating-point number",
            FieldValue::Decimal(_) => "decimal",
            FieldValue::Bool(_) => "boolean",
            FieldValue::Date(_) => "date",
            FieldValue::DateTime(_) => "date-time",
            FieldValue::Instant(_) => "timestamp",
            FieldValue::Name { .. } => "person name",
            FieldValue::Coded { .. } => "coded value",
            FieldValue::List(_) => "list",
        }
    }
}

#[cfg(test)]
mod tests {
    use lienthong_proto::v1::{Decimal, LocalDateTime, TimeOfDay, ValueList};

    use super::*;

    fn value(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    #[test]
    fn proto_values_convert_and_unchanged_is_not_null() {
        assert_eq!(
            FieldValue::from_proto(Some(&value(Kind::Null(true)))),
            Some(FieldValue::Null)
        );
        assert_eq!(FieldValue::from_proto(None), Some(FieldValue::Null));
        assert_eq!(
            FieldValue::from_proto(Some(&value(Kind::Unchanged(true)))),
            None
        );
        assert_eq!(
            FieldValue::from_proto(Some(&value(Kind::UintValue(u64::MAX)))),
            Some(FieldValue::UInt(u64::MAX))
        );
        assert_eq!(
            FieldValue::from_proto(Some(&value(Kind::UintValue(7)))),
            Some(FieldValue::Int(7))
        );
        let dt = value(Kind::DatetimeValue(LocalDateTime {
            date: Some(Date {
                year: 2020,
                month: 1,
                day: 2,
            }),
            time: Some(TimeOfDay::default()),
        }));
        assert_eq!(
            FieldValue::from_proto(Some(&dt))
                .unwrap()
                .to_text()
                .unwrap(),
            "2020-01-02"
        );
        let list = value(Kind::ArrayValue(ValueList {
            values: vec![
                value(Kind::TextValue("a".into())),
                value(Kind::Null(true)),
                value(Kind::DecimalValue(Decimal {
                    value: "1.50".into(),
                })),
            ],
        }));
        assert_eq!(
            FieldValue::from_proto(Some(&list))
                .unwrap()
                .to_text()
                .unwrap(),
            "a 1.50"
        );
    }

    #[test]
    fn bytes_read_as_latin1_and_blank_text_is_missing() {
        assert_eq!(
            FieldValue::Bytes(vec![0x4E, 0xA7, 0xE9]).to_text().unwrap(),
            "N§é"
        );
        assert!(FieldValue::Text(" \t".into()).is_missing());
        assert!(
            FieldValue::List(vec![FieldValue::Null, FieldValue::Text(String::new())]).is_missing()
        );
        assert!(!FieldValue::Int(0).is_missing());
        // 2025-06-30T17:00:00Z is 2025-07-01 in Vietnam.
        assert_eq!(
            FieldValue::Instant(1_751_302_800).to_text().unwrap(),
            "2025-07-01"
        );
    }
}
