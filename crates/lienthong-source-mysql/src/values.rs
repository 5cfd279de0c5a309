//! Column values of the binlog decoder → the typed values of the change-event contract.
//! Pure: no I/O. Snapshot rows are first turned into the decoder's [`Value`]s too
//! ([`crate::snapshot`]), so both paths publish a row identically.
//!
//! | MySQL type | published as |
//! |---|---|
//! | integers, `YEAR` | `int_value`; `UNSIGNED` ones `uint_value` (a `BIGINT UNSIGNED` may exceed `i64`) |
//! | `BIT(1)` | `bool_value`; wider `BIT(n)` `uint_value` |
//! | `FLOAT`, `DOUBLE` | `float_value` (a `FLOAT` by its shortest decimal form, so 1.1 stays 1.1) |
//! | `DECIMAL` | `decimal_value`, exact text with the column's scale |
//! | `DATE` | `date_value` |
//! | `DATETIME` | `datetime_value` (local, as stored); with `datetime_offset` set, `timestamp_value` |
//! | `TIMESTAMP` | `timestamp_value` (UTC: the server stores `TIMESTAMP` as a Unix time) |
//! | `TIME` within a day | `time_value`; negative or ≥ 24 h (`TIME` is also a duration) `interval_value` |
//! | zero or partly zero dates (`0000-00-00`, `2020-00-00`) | `raw_text` as MySQL prints them: they are no real date |
//! | `CHAR`/`VARCHAR`/`TEXT` | `text_value`, decoded from the column's character set (latin1 is cp1252) |
//! | `BINARY`/`VARBINARY`/`BLOB`, spatial types | `bytes_value` (spatial: SRID then WKB) |
//! | `ENUM` | `text_value` of the label (`""` for the invalid-value index 0) |
//! | `SET` | `text_value` of the members joined by `,`, as MySQL prints them |
//! | `JSON` (MySQL binary JSON, MariaDB `JSON` = checked `LONGTEXT`) | `json_value` |

use lienthong_proto::v1::{self as proto, value::Kind};

use crate::binlog::temporal::{Date, DateTime, Time, Timestamp};
use crate::binlog::{TextError, Value, decode_text};

/// How a column's values are interpreted; built once per table version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRules {
    /// `DATA_TYPE` from `information_schema`, lower case.
    pub data_type: String,
    /// Collation id, for character columns.
    pub collation: Option<u16>,
    /// ENUM/SET labels in definition order.
    pub labels: Option<Vec<String>>,
    /// A JSON column (MySQL `JSON`, or MariaDB's checked `LONGTEXT`).
    pub is_json: bool,
    /// Width of a `BIT(n)` column.
    pub bit_width: Option<u16>,
    /// Seconds east of UTC that `DATETIME` values are in, when configured.
    pub datetime_offset: Option<i32>,
}

/// Why a value could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0}")]
    Text(#[from] TextError),
    #[error("ENUM index {index} has no label among {count}")]
    EnumIndex { index: u16, count: usize },
    #[error("SET bits {bits:#x} name members beyond its {count} labels")]
    SetBits { bits: u64, count: usize },
    #[error("the column's ENUM/SET labels are not known")]
    LabelsUnknown,
}

/// The published value of one column.
pub fn to_proto(value: &Value, rules: &ValueRules) -> Result<proto::Value, ValueError> {
    let kind = match value {
        Value::Null => Kind::Null(true),
        Value::Int(i) => Kind::IntValue(*i),
        Value::UInt(u) => Kind::UintValue(*u),
        Value::Float(f) => Kind::FloatValue(shortest_f32(*f)),
        Value::Double(d) => Kind::FloatValue(*d),
        Value::Decimal(text) => Kind::DecimalValue(proto::Decimal {
            value: text.clone(),
        }),
        Value::Year(y) => Kind::IntValue(i64::from(*y)),
        Value::Date(d) => match proto_date(d) {
            Some(date) => Kind::DateValue(date),
            None => Kind::RawText(d.to_string()),
        },
        Value::Time(t) => time_kind(t),
        Value::DateTime(dt) => datetime_kind(dt, rules.datetime_offset),
        Value::Timestamp(ts) => timestamp_kind(ts),
        Value::String { bytes, collation } => {
            let collation = collation
                .or(rules.collation)
                .ok_or(TextError::CollationUnknown)?;
            let text = decode_text(bytes, collation)?;
            if rules.is_json {
                Kind::JsonValue(text)
            } else {
                Kind::TextValue(text)
            }
        }
        Value::Binary(bytes) => Kind::BytesValue(bytes.clone()),
        Value::Enum { index, label } => {
            if *index == 0 {
                Kind::TextValue(String::new())
            } else {
                let label = label.clone().or_else(|| {
                    rules
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(usize::from(*index) - 1).cloned())
                });
                match (label, &rules.labels) {
                    (Some(label), _) => Kind::TextValue(label),
                    (None, Some(labels)) => {
                        return Err(ValueError::EnumIndex {
                            index: *index,
                            count: labels.len(),
                        });
                    }
                    (None, None) => return Err(ValueError::LabelsUnknown),
                }
            }
        }
        Value::Set { bits, members } => {
            let members = match members {
                Some(m) => m.clone(),
                None => {
                    let labels = rules.labels.as_ref().ok_or(ValueError::LabelsUnknown)?;
                    set_members(*bits, labels).ok_or(ValueError::SetBits {
                        bits: *bits,
                        count: labels.len(),
                    })?
                }
            };
            Kind::TextValue(members.join(","))
        }
        Value::Bit(bits) => {
            if rules.bit_width == Some(1) {
                Kind::BoolValue(*bits != 0)
            } else {
                Kind::UintValue(*bits)
            }
        }
        Value::Json(text) => Kind::JsonValue(text.clone()),
        Value::Geometry(bytes) => Kind::BytesValue(bytes.clone()),
    };
    Ok(proto::Value { kind: Some(kind) })
}

/// The labels whose bits are set, in definition order; `None` when a bit has no label.
pub fn set_members(bits: u64, labels: &[String]) -> Option<Vec<String>> {
    (0..64)
        .filter(|bit| bits & (1u64 << bit) != 0)
        .map(|bit| labels.get(bit).cloned())
        .collect()
}

/// A `FLOAT` as the `f64` of its shortest decimal form: `1.1f32` is 1.100000023841858 as an
/// `f64`, which no one wrote.
fn shortest_f32(f: f32) -> f64 {
    if f.is_finite() {
        f.to_string().parse().unwrap_or(f64::from(f))
    } else {
        f64::from(f)
    }
}

/// A date with every part set; `None` for zero or partly zero dates.
fn proto_date(d: &Date) -> Option<proto::Date> {
    (d.year != 0 && d.month != 0 && d.day != 0).then(|| proto::Date {
        year: i32::from(d.year),
        month: i32::from(d.month),
        day: i32::from(d.day),
    })
}

fn time_kind(t: &Time) -> Kind {
    if !t.negative && t.hours < 24 {
        Kind::TimeValue(proto::TimeOfDay {
            hours: i32::from(t.hours),
            minutes: i32::from(t.minutes),
            seconds: i32::from(t.seconds),
            nanos: (t.microseconds * 1000) as i32,
            utc_offset_seconds: None,
        })
    } else {
        let sign = if t.negative { "-" } else { "" };
        let fraction = if t.microseconds > 0 {
            let digits = format!("{:06}", t.microseconds);
            format!(".{}", digits.trim_end_matches('0'))
        } else {
            String::new()
        };
        Kind::IntervalValue(format!(
            "{sign}PT{}H{}M{}{fraction}S",
            t.hours, t.minutes, t.seconds
        ))
    }
}

fn datetime_kind(dt: &DateTime, offset: Option<i32>) -> Kind {
    let Some(date) = proto_date(&dt.date) else {
        return Kind::RawText(dt.to_string());
    };
    let time = proto::TimeOfDay {
        hours: i32::from(dt.hour),
        minutes: i32::from(dt.minute),
        seconds: i32::from(dt.second),
        nanos: (dt.microsecond * 1000) as i32,
        utc_offset_seconds: None,
    };
    match offset {
        None => Kind::DatetimeValue(proto::LocalDateTime {
            date: Some(date),
            time: Some(time),
        }),
        Some(offset) => {
            let days = days_from_civil(i64::from(dt.date.year), dt.date.month, dt.date.day);
            let local = days * 86_400
                + i64::from(dt.hour) * 3600
                + i64::from(dt.minute) * 60
                + i64::from(dt.second);
            Kind::TimestampValue(prost_types::Timestamp {
                seconds: local - i64::from(offset),
                nanos: (dt.microsecond * 1000) as i32,
            })
        }
    }
}

fn timestamp_kind(ts: &Timestamp) -> Kind {
    if ts.is_zero() {
        return Kind::RawText("0000-00-00 00:00:00".into());
    }
    Kind::TimestampValue(prost_types::Timestamp {
        seconds: ts.seconds,
        nanos: (ts.microseconds * 1000) as i32,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(data_type: &str) -> ValueRules {
        ValueRules {
            data_type: data_type.into(),
            collation: None,
            labels: None,
            is_json: false,
            bit_width: None,
            datetime_offset: None,
        }
    }

    fn kind(value: &Value, rules: &ValueRules) -> Kind {
        to_proto(value, rules).unwrap().kind.unwrap()
    }

    #[test]
    fn numbers() {
        assert_eq!(kind(&Value::Int(-5), &rules("int")), Kind::IntValue(-5));
        assert_eq!(
            kind(&Value::UInt(u64::MAX), &rules("bigint")),
            Kind::UintValue(u64::MAX)
        );
        assert_eq!(
            kind(&Value::Float(1.1), &rules("float")),
            Kind::FloatValue(1.1)
        );
        assert_eq!(
            kind(&Value::Decimal("-12.50".into()), &rules("decimal")),
            Kind::DecimalValue(proto::Decimal {
                value: "-12.50".into()
            })
        );
        let mut bit1 = rules("bit");
        bit1.bit_width = Some(1);
        assert_eq!(kind(&Value::Bit(1), &bit1), Kind::BoolValue(true));
        assert_eq!(kind(&Value::Bit(513), &rules("bit")), Kind::UintValue(513));
        assert_eq!(
            kind(&Value::Year(2024), &rules("year")),
            Kind::IntValue(2024)
        );
    }

    #[test]
    fn text_in_its_character_set() {
        let mut latin1 = rules("varchar");
        latin1.collation = Some(8);
        // 0x80 is € in cp1252, which is MySQL's latin1.
        assert_eq!(
            kind(
                &Value::String {
                    bytes: vec![0x80, b'A'],
                    collation: None
                },
                &latin1
            ),
            Kind::TextValue("€A".into())
        );
        let utf8 = Value::String {
            bytes: "Nguyễn Thị Bích".as_bytes().to_vec(),
            collation: Some(224),
        };
        assert_eq!(
            kind(&utf8, &rules("varchar")),
            Kind::TextValue("Nguyễn Thị Bích".into())
        );
        let mut json = rules("longtext");
        json.is_json = true;
        assert_eq!(
            kind(
                &Value::String {
                    bytes: b"{\"a\":1}".to_vec(),
                    collation: Some(46)
                },
                &json
            ),
            Kind::JsonValue("{\"a\":1}".into())
        );
        assert!(matches!(
            to_proto(
                &Value::String {
                    bytes: vec![0xff],
                    collation: Some(45)
                },
                &rules("varchar")
            ),
            Err(ValueError::Text(_))
        ));
        assert!(
            to_proto(
                &Value::String {
                    bytes: vec![b'a'],
                    collation: None
                },
                &rules("varchar")
            )
            .is_err()
        );
    }

    #[test]
    fn enums_and_sets() {
        let mut r = rules("enum");
        r.labels = Some(vec!["nam".into(), "nữ".into()]);
        let e = |index| Value::Enum { index, label: None };
        assert_eq!(kind(&e(2), &r), Kind::TextValue("nữ".into()));
        assert_eq!(kind(&e(0), &r), Kind::TextValue(String::new()));
        assert!(matches!(
            to_proto(&e(3), &r),
            Err(ValueError::EnumIndex { index: 3, count: 2 })
        ));
        assert!(matches!(
            to_proto(&e(1), &rules("enum")),
            Err(ValueError::LabelsUnknown)
        ));
        let mut s = rules("set");
        s.labels = Some(vec!["doc".into(), "ghi".into(), "xoa".into()]);
        let set = |bits| Value::Set {
            bits,
            members: None,
        };
        assert_eq!(kind(&set(0b101), &s), Kind::TextValue("doc,xoa".into()));
        assert_eq!(kind(&set(0), &s), Kind::TextValue(String::new()));
        assert!(to_proto(&set(0b1000), &s).is_err());
    }

    #[test]
    fn dates_and_times() {
        let date = Date {
            year: 1975,
            month: 4,
            day: 30,
        };
        assert_eq!(
            kind(&Value::Date(date), &rules("date")),
            Kind::DateValue(proto::Date {
                year: 1975,
                month: 4,
                day: 30
            })
        );
        let zero = Date {
            year: 0,
            month: 0,
            day: 0,
        };
        assert_eq!(
            kind(&Value::Date(zero), &rules("date")),
            Kind::RawText("0000-00-00".into())
        );
        let dt = DateTime {
            date: Date {
                year: 2025,
                month: 7,
                day: 1,
            },
            hour: 8,
            minute: 0,
            second: 0,
            microsecond: 250_000,
            fractional_digits: 3,
        };
        assert!(matches!(
            kind(&Value::DateTime(dt), &rules("datetime")),
            Kind::DatetimeValue(_)
        ));
        let mut vn = rules("datetime");
        vn.datetime_offset = Some(7 * 3600);
        // 2025-07-01 08:00 at +07:00 is 01:00 UTC.
        assert_eq!(
            kind(&Value::DateTime(dt), &vn),
            Kind::TimestampValue(prost_types::Timestamp {
                seconds: 1_751_331_600,
                nanos: 250_000_000
            })
        );
        assert_eq!(
            kind(
                &Value::Timestamp(Timestamp {
                    seconds: 1_751_331_600,
                    microseconds: 5,
                    fractional_digits: 6
                }),
                &rules("timestamp")
            ),
            Kind::TimestampValue(prost_types::Timestamp {
                seconds: 1_751_331_600,
                nanos: 5_000
            })
        );
        assert_eq!(
            kind(
                &Value::Timestamp(Timestamp {
                    seconds: 0,
                    microseconds: 0,
                    fractional_digits: 0
                }),
                &rules("timestamp")
            ),
            Kind::RawText("0000-00-00 00:00:00".into())
        );
        let time = |negative, hours, microseconds| Time {
            negative,
            hours,
            minutes: 30,
            seconds: 5,
            microseconds,
            fractional_digits: 6,
        };
        assert!(matches!(
            kind(&Value::Time(time(false, 13, 0)), &rules("time")),
            Kind::TimeValue(t) if t.hours == 13 && t.minutes == 30
        ));
        assert_eq!(
            kind(&Value::Time(time(true, 838, 500_000)), &rules("time")),
            Kind::IntervalValue("-PT838H30M5.5S".into())
        );
    }

    proptest! {
        /// The civil-date arithmetic agrees with the decoder's own inverse (`Timestamp::to_utc`).
        #[test]
        fn days_round_trip(seconds in 0i64..253_402_300_799) {
            let ts = Timestamp { seconds, microseconds: 0, fractional_digits: 0 };
            let dt = ts.to_utc();
            let days = days_from_civil(i64::from(dt.date.year), dt.date.month, dt.date.day);
            let back = days * 86_400 + i64::from(dt.hour) * 3600 + i64::from(dt.minute) * 60 + i64::from(dt.second);
            prop_assert_eq!(back, seconds);
        }
    }
}
