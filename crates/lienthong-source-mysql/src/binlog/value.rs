//! Column values in row images.
//!
//! [`decode_value`] reads one non-NULL value of a column from the front of a row image's bytes.
//! The formats are the storage formats of the column types (little-endian integers, length-prefixed
//! strings, MySQL's packed decimals and temporal formats, binary JSON); how a value is
//! *interpreted* (signed or not, which character set) comes from the column's
//! [`ColumnSchema`].

use super::charset::{BINARY_COLLATION, TextError, decode_text};
use super::decimal::decode_decimal;
use super::error::ValueError;
use super::json::json_to_text;
use super::reader::{uint_be, uint_le};
use super::schema::ColumnSchema;
use super::table_map::ColumnType;
use super::temporal::{
    Date, DateTime, Time, Timestamp, decode_date, decode_datetime_v1, decode_datetime2,
    decode_time_v1, decode_time2, decode_timestamp_v1, decode_timestamp2, decode_year,
};

/// One column value of a row image.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed integer column (`TINYINT` … `BIGINT`), or one whose signedness is unknown.
    Int(i64),
    /// An `UNSIGNED` integer column.
    UInt(u64),
    Float(f32),
    Double(f64),
    /// A `DECIMAL`, exactly, as text: `-12.50` (always `scale` fraction digits).
    Decimal(String),
    /// A `YEAR`; 0 is the zero year `0000`.
    Year(u16),
    Date(Date),
    Time(Time),
    DateTime(DateTime),
    Timestamp(Timestamp),
    /// A `CHAR`, `VARCHAR` or `TEXT` value: the stored bytes and the column's collation id, when
    /// known. Decode with [`decode_text`] (or [`Value::to_text`]).
    String {
        bytes: Vec<u8>,
        collation: Option<u16>,
    },
    /// A `BINARY`, `VARBINARY` or `BLOB` value (the column's collation is `binary`).
    Binary(Vec<u8>),
    /// An `ENUM`: the 1-based index of the label (0 for the empty "error" value MySQL stores for
    /// an invalid label in a non-strict session) and the label, when the labels are known.
    Enum {
        index: u16,
        label: Option<String>,
    },
    /// A `SET`: bit *n* set means label *n* is a member; the member labels, when known.
    Set {
        bits: u64,
        members: Option<Vec<String>>,
    },
    /// A `BIT(n)`, right-aligned.
    Bit(u64),
    /// A MySQL `JSON` value as MySQL prints it (see [`json`](super::json)). MariaDB's `JSON`
    /// arrives as [`Value::String`].
    Json(String),
    /// A spatial value: 4-byte little-endian SRID, then WKB.
    Geometry(Vec<u8>),
}

impl Value {
    /// The text of a [`Value::String`] in its column's character set; `None` for any other
    /// value, an error when the collation is unknown or the bytes are not valid in it.
    pub fn to_text(&self) -> Option<Result<String, TextError>> {
        match self {
            Self::String {
                bytes,
                collation: Some(collation),
            } => Some(decode_text(bytes, *collation)),
            Self::String {
                collation: None, ..
            } => Some(Err(TextError::CollationUnknown)),
            _ => None,
        }
    }
}

fn take<'a>(bytes: &'a [u8], len: usize, type_name: &'static str) -> Result<&'a [u8], ValueError> {
    bytes.get(..len).ok_or(ValueError::Truncated {
        type_name,
        needed: len,
        available: bytes.len(),
    })
}

/// Reads a little-endian length prefix of `prefix_len` bytes and the bytes it counts.
fn length_prefixed<'a>(
    bytes: &'a [u8],
    prefix_len: usize,
    type_name: &'static str,
) -> Result<(&'a [u8], usize), ValueError> {
    let len = uint_le(take(bytes, prefix_len, type_name)?);
    let len = usize::try_from(len).map_err(|_| ValueError::Truncated {
        type_name,
        needed: usize::MAX,
        available: bytes.len(),
    })?;
    let body = take(&bytes[prefix_len..], len, type_name)?;
    Ok((body, prefix_len + len))
}

fn metadata_error(type_name: &'static str, reason: String) -> ValueError {
    ValueError::InvalidMetadata { type_name, reason }
}

/// Decodes one non-NULL value of `column` from the front of `bytes`; returns it and the number
/// of bytes it took.
pub fn decode_value(bytes: &[u8], column: &ColumnSchema) -> Result<(Value, usize), ValueError> {
    let column_type = column.column_type;
    let name = column_type.name();
    let unsigned = column.unsigned.unwrap_or(false);
    let integer = |len: usize| -> Result<(Value, usize), ValueError> {
        let raw = uint_le(take(bytes, len, name)?);
        let value = if unsigned {
            Value::UInt(raw)
        } else {
            // Sign-extend from the stored width.
            let shift = 64 - 8 * len as u32;
            Value::Int(((raw << shift) as i64) >> shift)
        };
        Ok((value, len))
    };
    match column_type {
        ColumnType::Tiny => integer(1),
        ColumnType::Short => integer(2),
        ColumnType::Int24 => integer(3),
        ColumnType::Long => integer(4),
        ColumnType::LongLong => integer(8),
        ColumnType::Float => {
            let raw = uint_le(take(bytes, 4, name)?) as u32;
            Ok((Value::Float(f32::from_bits(raw)), 4))
        }
        ColumnType::Double => {
            let raw = uint_le(take(bytes, 8, name)?);
            Ok((Value::Double(f64::from_bits(raw)), 8))
        }
        ColumnType::NewDecimal { precision, scale } => {
            let (text, len) = decode_decimal(bytes, precision, scale)?;
            Ok((Value::Decimal(text), len))
        }
        ColumnType::Null => Ok((Value::Null, 0)),
        ColumnType::Year => decode_year(bytes).map(|(year, len)| (Value::Year(year), len)),
        ColumnType::Date => decode_date(bytes).map(|(date, len)| (Value::Date(date), len)),
        ColumnType::Time => decode_time_v1(bytes).map(|(time, len)| (Value::Time(time), len)),
        ColumnType::Time2 { fractional_digits } => {
            decode_time2(bytes, fractional_digits).map(|(time, len)| (Value::Time(time), len))
        }
        ColumnType::DateTime => {
            decode_datetime_v1(bytes).map(|(value, len)| (Value::DateTime(value), len))
        }
        ColumnType::DateTime2 { fractional_digits } => decode_datetime2(bytes, fractional_digits)
            .map(|(value, len)| (Value::DateTime(value), len)),
        ColumnType::Timestamp => {
            decode_timestamp_v1(bytes).map(|(value, len)| (Value::Timestamp(value), len))
        }
        ColumnType::Timestamp2 { fractional_digits } => decode_timestamp2(bytes, fractional_digits)
            .map(|(value, len)| (Value::Timestamp(value), len)),
        ColumnType::VarChar { max_length } => {
            let prefix_len = if max_length < 256 { 1 } else { 2 };
            let (body, len) = length_prefixed(bytes, prefix_len, name)?;
            Ok((string_value(body, column.collation), len))
        }
        ColumnType::String { max_length } => {
            let prefix_len = if max_length < 256 { 1 } else { 2 };
            let (body, len) = length_prefixed(bytes, prefix_len, name)?;
            let value = match string_value(body, column.collation) {
                // The server logs CHAR values without their padding. For CHAR that matches what
                // SELECT returns (trailing spaces are removed); BINARY(n) is returned padded with
                // 0x00 to n bytes, so the padding is put back.
                Value::Binary(mut bytes) => {
                    bytes.resize(bytes.len().max(usize::from(max_length)), 0);
                    Value::Binary(bytes)
                }
                value => value,
            };
            Ok((value, len))
        }
        ColumnType::Blob { length_bytes } => {
            let (body, len) = length_prefixed(bytes, blob_prefix_len(length_bytes, name)?, name)?;
            Ok((string_value(body, column.collation), len))
        }
        ColumnType::Json { length_bytes } => {
            let (body, len) = length_prefixed(bytes, blob_prefix_len(length_bytes, name)?, name)?;
            Ok((Value::Json(json_to_text(body)?), len))
        }
        ColumnType::Geometry { length_bytes } => {
            let (body, len) = length_prefixed(bytes, blob_prefix_len(length_bytes, name)?, name)?;
            Ok((Value::Geometry(body.to_vec()), len))
        }
        ColumnType::Bit { bits } => {
            if bits == 0 || bits > 64 {
                return Err(metadata_error(name, format!("width {bits} is not 1–64")));
            }
            let len = usize::from(bits).div_ceil(8);
            let value = uint_be(take(bytes, len, name)?);
            Ok((Value::Bit(value), len))
        }
        ColumnType::Enum { pack_length } => {
            if !(1..=2).contains(&pack_length) {
                return Err(metadata_error(
                    name,
                    format!("storage size {pack_length} is not 1 or 2"),
                ));
            }
            let len = usize::from(pack_length);
            let index = uint_le(take(bytes, len, name)?) as u16;
            let label = index
                .checked_sub(1)
                .and_then(|position| column.labels.as_ref()?.get(usize::from(position)))
                .cloned();
            Ok((Value::Enum { index, label }, len))
        }
        ColumnType::Set { pack_length } => {
            if !(1..=8).contains(&pack_length) {
                return Err(metadata_error(
                    name,
                    format!("storage size {pack_length} is not 1–8"),
                ));
            }
            let len = usize::from(pack_length);
            let bits = uint_le(take(bytes, len, name)?);
            let members = column.labels.as_ref().and_then(|labels| {
                (0..64)
                    .filter(|bit| bits & (1u64 << bit) != 0)
                    .map(|bit| labels.get(bit).cloned())
                    .collect::<Option<Vec<String>>>()
            });
            Ok((Value::Set { bits, members }, len))
        }
        ColumnType::OldDecimal => Err(ValueError::Unsupported {
            type_name: name,
            reason: "the pre-5.0 DECIMAL format; rebuild the table (ALTER TABLE ... FORCE)",
        }),
        ColumnType::BlobCompressed { .. } | ColumnType::VarCharCompressed { .. } => {
            Err(ValueError::Unsupported {
                type_name: name,
                reason: "MariaDB compressed columns (COMPRESSED attribute)",
            })
        }
    }
}

fn blob_prefix_len(length_bytes: u8, type_name: &'static str) -> Result<usize, ValueError> {
    if (1..=4).contains(&length_bytes) {
        Ok(usize::from(length_bytes))
    } else {
        Err(metadata_error(
            type_name,
            format!("length prefix of {length_bytes} bytes is not 1–4"),
        ))
    }
}

fn string_value(bytes: &[u8], collation: Option<u16>) -> Value {
    if collation == Some(BINARY_COLLATION) {
        Value::Binary(bytes.to_vec())
    } else {
        Value::String {
            bytes: bytes.to_vec(),
            collation,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::binlog::temporal::encode;
    use proptest::prelude::*;

    pub(crate) fn column(column_type: ColumnType) -> ColumnSchema {
        ColumnSchema {
            index: 0,
            name: Some("c".into()),
            type_code: 0,
            column_type,
            nullable: true,
            unsigned: Some(false),
            collation: None,
            labels: None,
            geometry_type: None,
        }
    }

    fn unsigned(column_type: ColumnType) -> ColumnSchema {
        ColumnSchema {
            unsigned: Some(true),
            ..column(column_type)
        }
    }

    fn decode(bytes: &[u8], column: &ColumnSchema) -> Value {
        let (value, len) = decode_value(bytes, column).unwrap();
        assert_eq!(len, bytes.len(), "{value:?} should take every byte");
        value
    }

    #[test]
    fn integers_signed_and_unsigned_at_their_limits() {
        let cases: &[(ColumnType, &[u8], i64, u64)] = &[
            (ColumnType::Tiny, &[0x80], -128, 128),
            (ColumnType::Tiny, &[0xFF], -1, 255),
            (ColumnType::Tiny, &[0x7F], 127, 127),
            (ColumnType::Short, &[0x00, 0x80], -32_768, 32_768),
            (ColumnType::Short, &[0xFF, 0xFF], -1, 65_535),
            (
                ColumnType::Int24,
                &[0x00, 0x00, 0x80],
                -8_388_608,
                8_388_608,
            ),
            (ColumnType::Int24, &[0xFF, 0xFF, 0xFF], -1, 16_777_215),
            (ColumnType::Int24, &[0xFF, 0xFF, 0x7F], 8_388_607, 8_388_607),
            (
                ColumnType::Long,
                &[0, 0, 0, 0x80],
                i64::from(i32::MIN),
                2_147_483_648,
            ),
            (ColumnType::Long, &[0xFF; 4], -1, u64::from(u32::MAX)),
            (
                ColumnType::LongLong,
                &[0, 0, 0, 0, 0, 0, 0, 0x80],
                i64::MIN,
                1 << 63,
            ),
            (ColumnType::LongLong, &[0xFF; 8], -1, u64::MAX),
        ];
        for &(column_type, bytes, signed, unsigned_value) in cases {
            assert_eq!(decode(bytes, &column(column_type)), Value::Int(signed));
            assert_eq!(
                decode(bytes, &unsigned(column_type)),
                Value::UInt(unsigned_value)
            );
        }
    }

    #[test]
    fn unknown_signedness_decodes_as_signed() {
        let mut col = column(ColumnType::Tiny);
        col.unsigned = None;
        assert_eq!(decode(&[0xC8], &col), Value::Int(-56));
    }

    #[test]
    fn floats() {
        assert_eq!(
            decode(&1.5f32.to_le_bytes(), &column(ColumnType::Float)),
            Value::Float(1.5)
        );
        assert_eq!(
            decode(&(-2.25f64).to_le_bytes(), &column(ColumnType::Double)),
            Value::Double(-2.25)
        );
    }

    #[test]
    fn decimal() {
        let bytes = crate::binlog::decimal::encode_decimal("-1234.500000", 20, 6);
        assert_eq!(
            decode(
                &bytes,
                &column(ColumnType::NewDecimal {
                    precision: 20,
                    scale: 6
                })
            ),
            Value::Decimal("-1234.500000".into())
        );
    }

    #[test]
    fn strings_with_short_and_long_length_prefixes() {
        let mut short = column(ColumnType::VarChar { max_length: 255 });
        short.collation = Some(45);
        let mut bytes = vec![7];
        bytes.extend("Nguyễn".as_bytes());
        assert_eq!(
            decode(&bytes[..8], &short),
            Value::String {
                bytes: "Nguyễ".as_bytes()[..7].to_vec(),
                collation: Some(45)
            }
        );

        let mut long = column(ColumnType::String { max_length: 1020 });
        long.collation = Some(224);
        let text = "Thị".repeat(100);
        let mut bytes = (text.len() as u16).to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        let value = decode(&bytes, &long);
        assert_eq!(value.to_text().unwrap().unwrap(), text);
    }

    #[test]
    fn binary_values_get_their_zero_padding_back() {
        let mut col = column(ColumnType::String { max_length: 4 });
        col.collation = Some(63);
        assert_eq!(decode(&[2, 1, 2], &col), Value::Binary(vec![1, 2, 0, 0]));
        assert_eq!(decode(&[0], &col), Value::Binary(vec![0; 4]));
        // CHAR in a character set keeps what was logged (trailing spaces are not part of it).
        col.collation = Some(45);
        assert_eq!(
            decode(&[2, b'a', b'b'], &col),
            Value::String {
                bytes: b"ab".to_vec(),
                collation: Some(45)
            }
        );
    }

    #[test]
    fn binary_collation_gives_binary() {
        let mut col = column(ColumnType::Blob { length_bytes: 2 });
        col.collation = Some(63);
        assert_eq!(
            decode(&[3, 0, 0, 0xFF, 1], &col),
            Value::Binary(vec![0, 0xFF, 1])
        );
    }

    #[test]
    fn blobs_with_every_prefix_size() {
        for length_bytes in 1..=4u8 {
            let mut col = column(ColumnType::Blob { length_bytes });
            col.collation = Some(8);
            let mut bytes = vec![0u8; usize::from(length_bytes)];
            bytes[0] = 2;
            bytes.extend([0x93, 0x94]);
            let value = decode(&bytes, &col);
            assert_eq!(value.to_text().unwrap().unwrap(), "“”");
        }
        assert!(matches!(
            decode_value(&[1, 0], &column(ColumnType::Blob { length_bytes: 5 })),
            Err(ValueError::InvalidMetadata { .. })
        ));
    }

    #[test]
    fn length_prefix_past_the_end_is_truncated_not_a_panic() {
        let col = column(ColumnType::Blob { length_bytes: 4 });
        assert_eq!(
            decode_value(&[0xFF, 0xFF, 0xFF, 0xFF, 1], &col),
            Err(ValueError::Truncated {
                type_name: "BLOB",
                needed: 0xFFFF_FFFF,
                available: 1
            })
        );
    }

    #[test]
    fn enum_and_set_with_and_without_labels() {
        let mut col = column(ColumnType::Enum { pack_length: 1 });
        assert_eq!(
            decode(&[2], &col),
            Value::Enum {
                index: 2,
                label: None
            }
        );
        col.labels = Some(vec!["nam".into(), "nữ".into()]);
        assert_eq!(
            decode(&[2], &col),
            Value::Enum {
                index: 2,
                label: Some("nữ".into())
            }
        );
        assert_eq!(
            decode(&[0], &col),
            Value::Enum {
                index: 0,
                label: None
            }
        );
        let mut col = column(ColumnType::Set { pack_length: 2 });
        col.labels = Some(vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(
            decode(&[0b101, 0], &col),
            Value::Set {
                bits: 0b101,
                members: Some(vec!["a".into(), "c".into()])
            }
        );
        // A bit without a label leaves the members unknown rather than wrong.
        assert_eq!(
            decode(&[0b1000, 0], &col),
            Value::Set {
                bits: 0b1000,
                members: None
            }
        );
    }

    #[test]
    fn bits() {
        assert_eq!(
            decode(&[0x05], &column(ColumnType::Bit { bits: 3 })),
            Value::Bit(5)
        );
        assert_eq!(
            decode(&[0x01, 0x02], &column(ColumnType::Bit { bits: 9 })),
            Value::Bit(0x102)
        );
        assert_eq!(
            decode(&[0xFF; 8], &column(ColumnType::Bit { bits: 64 })),
            Value::Bit(u64::MAX)
        );
    }

    #[test]
    fn temporal_values() {
        let datetime = DateTime {
            date: Date {
                year: 2025,
                month: 7,
                day: 1,
            },
            hour: 8,
            minute: 30,
            second: 0,
            microsecond: 250_000,
            fractional_digits: 3,
        };
        assert_eq!(
            decode(
                &encode::datetime2(&datetime),
                &column(ColumnType::DateTime2 {
                    fractional_digits: 3
                })
            ),
            Value::DateTime(datetime)
        );
        assert_eq!(decode(&[124], &column(ColumnType::Year)), Value::Year(2024));
        assert_eq!(
            decode(&[0, 0, 0], &column(ColumnType::Date)),
            Value::Date(Date {
                year: 0,
                month: 0,
                day: 0
            })
        );
    }

    #[test]
    fn unsupported_types() {
        assert!(matches!(
            decode_value(&[1, 2], &column(ColumnType::OldDecimal)),
            Err(ValueError::Unsupported { .. })
        ));
        assert!(matches!(
            decode_value(
                &[1, 2],
                &column(ColumnType::BlobCompressed { length_bytes: 1 })
            ),
            Err(ValueError::Unsupported { .. })
        ));
    }

    fn any_column_type() -> impl Strategy<Value = ColumnType> {
        prop_oneof![
            Just(ColumnType::Tiny),
            Just(ColumnType::Short),
            Just(ColumnType::Int24),
            Just(ColumnType::Long),
            Just(ColumnType::LongLong),
            Just(ColumnType::Float),
            Just(ColumnType::Double),
            Just(ColumnType::Year),
            Just(ColumnType::Date),
            Just(ColumnType::Time),
            Just(ColumnType::DateTime),
            Just(ColumnType::Timestamp),
            (0u8..=8).prop_map(|fractional_digits| ColumnType::Time2 { fractional_digits }),
            (0u8..=8).prop_map(|fractional_digits| ColumnType::DateTime2 { fractional_digits }),
            (0u8..=8).prop_map(|fractional_digits| ColumnType::Timestamp2 { fractional_digits }),
            (0u8..70, 0u8..40)
                .prop_map(|(precision, scale)| ColumnType::NewDecimal { precision, scale }),
            any::<u16>().prop_map(|max_length| ColumnType::VarChar { max_length }),
            any::<u16>().prop_map(|max_length| ColumnType::String { max_length }),
            (0u8..6).prop_map(|length_bytes| ColumnType::Blob { length_bytes }),
            (0u8..6).prop_map(|length_bytes| ColumnType::Json { length_bytes }),
            (0u8..6).prop_map(|length_bytes| ColumnType::Geometry { length_bytes }),
            (0u16..70).prop_map(|bits| ColumnType::Bit { bits }),
            (0u8..4).prop_map(|pack_length| ColumnType::Enum { pack_length }),
            (0u8..10).prop_map(|pack_length| ColumnType::Set { pack_length }),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_under_any_type_never_panic(
            column_type in any_column_type(),
            bytes in proptest::collection::vec(any::<u8>(), 0..24),
            unsigned_flag: bool,
        ) {
            let mut col = column(column_type);
            col.unsigned = Some(unsigned_flag);
            col.labels = Some(vec!["a".into()]);
            if let Ok((_, len)) = decode_value(&bytes, &col) {
                prop_assert!(len <= bytes.len());
            }
        }
    }
}
