//! The values a field pipeline works on: source column values as they arrive, and what the
//! transforms turn them into. Text is borrowed from the change event (or the mapping) until a
//! step changes it.

use std::borrow::Cow;

use lienthong_proto::v1::Date;

use crate::date::{CivilDate, format_date};
use crate::draft::CodedDraft;
use crate::event::ValueRef;

/// A value between transform steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue<'a> {
    /// No value: SQL NULL, empty text, or a step that found nothing.
    Null,
    Text(Cow<'a, str>),
    Bytes(&'a [u8]),
    Int(i64),
    /// An unsigned integer too large for `Int`.
    UInt(u64),
    Float(f64),
    /// An exact decimal in canonical text form (`-12.50`).
    Decimal(Cow<'a, str>),
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
        value: CodedDraft<'a>,
        as_of: Option<Date>,
    },
    /// Several columns, or an array column.
    List(Vec<FieldValue<'a>>),
}

impl<'a> FieldValue<'a> {
    /// Converts a source column value. `None` means the source did not send it (an unchanged
    /// TOASTed column), which is different from NULL.
    pub(crate) fn from_value(value: ValueRef<'a>) -> Option<FieldValue<'a>> {
        Some(match value {
            ValueRef::Null => FieldValue::Null,
            ValueRef::Unchanged => return None,
            ValueRef::Bool(b) => FieldValue::Bool(b),
            ValueRef::Int(i) => FieldValue::Int(i),
            ValueRef::UInt(u) => i64::try_from(u).map_or(FieldValue::UInt(u), FieldValue::Int),
            ValueRef::Float(f) => FieldValue::Float(f),
            ValueRef::Decimal(d) => FieldValue::Decimal(Cow::Borrowed(d)),
            ValueRef::Text(s) => FieldValue::Text(Cow::Borrowed(s)),
            ValueRef::Bytes(b) => FieldValue::Bytes(b),
            ValueRef::Date(d) => FieldValue::Date(d),
            ValueRef::Time(t) => FieldValue::Text(Cow::Owned(format!(
                "{:02}:{:02}:{:02}",
                t.hours, t.minutes, t.seconds
            ))),
            ValueRef::DateTime(d) => FieldValue::DateTime(d),
            ValueRef::Timestamp(seconds) => FieldValue::Instant(seconds),
            ValueRef::Array(values) => FieldValue::List(
                values
                    .iter()
                    .map(|v| {
                        FieldValue::from_value(ValueRef::of(Some(v))).unwrap_or(FieldValue::Null)
                    })
                    .collect(),
            ),
        })
    }

    /// Null, blank text, or a list of nothing but missing values.
    pub(crate) fn is_missing(&self) -> bool {
        match self {
            FieldValue::Null => true,
            FieldValue::Text(s) => crate::text::is_blank(s),
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

    /// The value as text, the way a person would write it (`None` for Null); borrowed where the
    /// value is borrowed text.
    ///
    /// Bytes are read as Latin-1 (one character per byte): legacy 8-bit text is stored in such
    /// columns, and this is the form the legacy decoder expects.
    pub(crate) fn to_text(&self) -> Option<Cow<'a, str>> {
        Some(match self {
            FieldValue::Null => return None,
            FieldValue::Text(s) | FieldValue::Decimal(s) => s.clone(),
            FieldValue::Bytes(b) => Cow::Owned(b.iter().map(|&byte| char::from(byte)).collect()),
            FieldValue::Int(i) => Cow::Owned(i.to_string()),
            FieldValue::UInt(u) => Cow::Owned(u.to_string()),
            FieldValue::Float(f) => Cow::Owned(f.to_string()),
            FieldValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            FieldValue::Date(d) | FieldValue::DateTime(d) => Cow::Owned(format_date(d)),
            FieldValue::Instant(seconds) => Cow::Owned(
                CivilDate::in_vietnam_at_unix_seconds(*seconds)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            FieldValue::Name {
                family,
                middle,
                given,
            } => Cow::Owned(join_name(family, middle, given)),
            FieldValue::Coded { value, .. } => {
                if value.code.is_empty() {
                    value.original.clone()
                } else {
                    value.code.clone()
                }
            }
            FieldValue::List(items) => Cow::Owned(
                items
                    .iter()
                    .filter_map(FieldValue::to_text)
                    .filter(|s| !s.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        })
    }

    /// [`FieldValue::to_text`], taking the value: text it owns is moved, not copied.
    pub(crate) fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            FieldValue::Text(s) | FieldValue::Decimal(s) => Some(s),
            FieldValue::Coded { value, .. } => Some(if value.code.is_empty() {
                value.original
            } else {
                value.code
            }),
            other => other.to_text(),
        }
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

/// The decimal text of an integer (what [`FieldValue::to_text`] gives for it), on the stack: code
/// columns often hold integers, and looking one up should not allocate its text.
pub(crate) struct IntText {
    digits: [u8; 20],
    start: usize,
}

impl IntText {
    pub(crate) fn new(value: i64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            // 19 digits at most for an i64, so the sign always fits.
            start -= 1;
            digits[start] = b'-';
        }
        IntText { digits, start }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and `-` are ever written.
        std::str::from_utf8(&self.digits[self.start..]).unwrap_or_default()
    }
}

/// The parts of a name that are not empty, joined by spaces.
fn join_name(family: &str, middle: &str, given: &str) -> String {
    [family, middle, given]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use lienthong_proto::v1::value::Kind;
    use lienthong_proto::v1::{Decimal, LocalDateTime, TimeOfDay, Value, ValueList};

    use super::*;

    fn value(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    fn from_proto(value: Option<&Value>) -> Option<FieldValue<'_>> {
        FieldValue::from_value(ValueRef::of(value))
    }

    #[test]
    fn proto_values_convert_and_unchanged_is_not_null() {
        assert_eq!(
            from_proto(Some(&value(Kind::Null(true)))),
            Some(FieldValue::Null)
        );
        assert_eq!(from_proto(None), Some(FieldValue::Null));
        assert_eq!(from_proto(Some(&value(Kind::Unchanged(true)))), None);
        assert_eq!(
            from_proto(Some(&value(Kind::UintValue(u64::MAX)))),
            Some(FieldValue::UInt(u64::MAX))
        );
        assert_eq!(
            from_proto(Some(&value(Kind::UintValue(7)))),
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
            from_proto(Some(&dt)).unwrap().to_text().unwrap(),
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
            from_proto(Some(&list)).unwrap().to_text().unwrap(),
            "a 1.50"
        );
    }

    #[test]
    fn integers_read_as_their_text() {
        for i in [
            0,
            1,
            -1,
            9,
            10,
            42,
            -4096,
            i64::MAX,
            i64::MIN,
            1_000_000_007,
        ] {
            assert_eq!(IntText::new(i).as_str(), i.to_string());
            assert_eq!(
                FieldValue::Int(i).to_text().as_deref(),
                Some(IntText::new(i).as_str())
            );
        }
    }

    #[test]
    fn bytes_read_as_latin1_and_blank_text_is_missing() {
        assert_eq!(
            FieldValue::Bytes(&[0x4E, 0xA7, 0xE9]).to_text().unwrap(),
            "N§é"
        );
        assert!(FieldValue::Text(" \t".into()).is_missing());
        assert!(
            FieldValue::List(vec![
                FieldValue::Null,
                FieldValue::Text(String::new().into())
            ])
            .is_missing()
        );
        assert!(!FieldValue::Int(0).is_missing());
        // 2025-06-30T17:00:00Z is 2025-07-01 in Vietnam.
        assert_eq!(
            FieldValue::Instant(1_751_302_800).to_text().unwrap(),
            "2025-07-01"
        );
    }
}
