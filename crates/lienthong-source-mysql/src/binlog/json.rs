//! MySQL's binary JSON format (the storage of `JSON` columns) to JSON text.
//!
//! Only MySQL has this format: MariaDB's `JSON` is an alias of `LONGTEXT` with a validity check,
//! so its values arrive as text. The text is printed the way MySQL prints JSON (`SELECT col`), so a
//! value decoded from the binlog equals the same value read by a snapshot query: objects as
//! `{"a": 1, "b": [true, null]}` (a space after `:` and `,`), keys in stored order (MySQL sorts
//! them by length, then bytes), strings with `"`, `\` and control characters escaped, integers in
//! full, doubles in their shortest round-trip form, `DECIMAL`s with their scale, and dates and
//! times as quoted strings (`"2024-02-29 13:45:06.000000"`, six fraction digits as MySQL prints
//! them). Other opaque values print as MySQL does: `"base64:type<N>:<base64 of the bytes>"`.
//! The tests check this against hand-built documents; the local stack has no MySQL server, so
//! the printing of doubles in particular has not been compared with a live MySQL 8.
//!
//! The format: a value is a type byte and its data. Objects and arrays come in a small form (2-byte
//! counts, sizes and offsets) and a large one (4-byte); their entries point at their values by
//! offset from the start of the container's data, except small scalars (literals, 16-bit integers,
//! and in the large form 32-bit integers), which sit in the entry itself.

use std::fmt::Write as _;

use super::decimal::decode_decimal;
use super::error::ValueError;

const NAME: &str = "JSON";

/// Deepest nesting decoded; MySQL refuses documents nested deeper than 100.
const MAX_DEPTH: usize = 100;

mod json_type {
    pub const SMALL_OBJECT: u8 = 0x00;
    pub const LARGE_OBJECT: u8 = 0x01;
    pub const SMALL_ARRAY: u8 = 0x02;
    pub const LARGE_ARRAY: u8 = 0x03;
    pub const LITERAL: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const DOUBLE: u8 = 0x0b;
    pub const STRING: u8 = 0x0c;
    pub const OPAQUE: u8 = 0x0f;
}

/// Field type codes that appear inside opaque JSON values.
mod opaque_type {
    pub const TIMESTAMP: u8 = 7;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const NEWDECIMAL: u8 = 246;
}

fn invalid(reason: impl Into<String>) -> ValueError {
    ValueError::Invalid {
        type_name: NAME,
        reason: reason.into(),
    }
}

/// Converts a binary JSON document to JSON text. An empty document is JSON `null`: the server
/// stores one for a `JSON` column set to an empty value in a non-strict session.
pub fn json_to_text(document: &[u8]) -> Result<String, ValueError> {
    let mut out = String::new();
    let Some((&value_type, data)) = document.split_first() else {
        out.push_str("null");
        return Ok(out);
    };
    write_value(&mut out, value_type, data, 0)?;
    Ok(out)
}

fn slice(data: &[u8], start: usize, len: usize) -> Result<&[u8], ValueError> {
    start
        .checked_add(len)
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| {
            invalid(format!(
                "{len} bytes at offset {start} run past the {} bytes of the value",
                data.len()
            ))
        })
}

fn uint_le(bytes: &[u8]) -> u64 {
    super::reader::uint_le(bytes)
}

fn write_value(
    out: &mut String,
    value_type: u8,
    data: &[u8],
    depth: usize,
) -> Result<(), ValueError> {
    use json_type::*;
    match value_type {
        SMALL_OBJECT => write_container(out, data, false, true, depth),
        LARGE_OBJECT => write_container(out, data, true, true, depth),
        SMALL_ARRAY => write_container(out, data, false, false, depth),
        LARGE_ARRAY => write_container(out, data, true, false, depth),
        LITERAL => write_literal(out, *slice(data, 0, 1)?.first().unwrap_or(&0xFF)),
        INT16 => {
            let value = uint_le(slice(data, 0, 2)?) as u16 as i16;
            write_display(out, value);
            Ok(())
        }
        UINT16 => {
            write_display(out, uint_le(slice(data, 0, 2)?));
            Ok(())
        }
        INT32 => {
            write_display(out, uint_le(slice(data, 0, 4)?) as u32 as i32);
            Ok(())
        }
        UINT32 => {
            write_display(out, uint_le(slice(data, 0, 4)?));
            Ok(())
        }
        INT64 => {
            write_display(out, uint_le(slice(data, 0, 8)?) as i64);
            Ok(())
        }
        UINT64 => {
            write_display(out, uint_le(slice(data, 0, 8)?));
            Ok(())
        }
        DOUBLE => {
            let value = f64::from_bits(uint_le(slice(data, 0, 8)?));
            write_double(out, value)
        }
        STRING => {
            let (len, header) = read_varlen(data)?;
            let bytes = slice(data, header, len)?;
            let text =
                std::str::from_utf8(bytes).map_err(|_| invalid("a string is not valid UTF-8"))?;
            write_quoted(out, text);
            Ok(())
        }
        OPAQUE => {
            let field_type = *slice(data, 0, 1)?.first().unwrap_or(&0);
            let (len, header) = read_varlen(slice(data, 1, data.len().saturating_sub(1))?)?;
            let bytes = slice(data, 1 + header, len)?;
            write_opaque(out, field_type, bytes)
        }
        other => Err(invalid(format!("unknown value type {other:#04x}"))),
    }
}

fn write_display(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

fn write_literal(out: &mut String, literal: u8) -> Result<(), ValueError> {
    out.push_str(match literal {
        0x00 => "null",
        0x01 => "true",
        0x02 => "false",
        other => return Err(invalid(format!("unknown literal {other:#04x}"))),
    });
    Ok(())
}

fn write_double(out: &mut String, value: f64) -> Result<(), ValueError> {
    let number = serde_json::Number::from_f64(value)
        .ok_or_else(|| invalid(format!("double {value} is not a JSON number")))?;
    // Shortest round-trip digits; MySQL writes exponents without a plus sign (1e20).
    out.push_str(&number.to_string().replace("e+", "e"));
    Ok(())
}

/// A variable-length length: 7 bits per byte, least significant group first, high bit set on
/// every byte but the last. Returns the length and the bytes it took (at most 5).
fn read_varlen(data: &[u8]) -> Result<(usize, usize), ValueError> {
    let mut value: u64 = 0;
    for (index, &byte) in data.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            let len = usize::try_from(value).map_err(|_| invalid("length overflows"))?;
            return Ok((len, index + 1));
        }
    }
    Err(invalid("a length is truncated or longer than 5 bytes"))
}

fn write_container(
    out: &mut String,
    data: &[u8],
    large: bool,
    is_object: bool,
    depth: usize,
) -> Result<(), ValueError> {
    if depth >= MAX_DEPTH {
        return Err(invalid(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let word = if large { 4 } else { 2 };
    let count = uint_le(slice(data, 0, word)?) as usize;
    let size = uint_le(slice(data, word, word)?) as usize;
    if size > data.len() {
        return Err(invalid(format!(
            "container declares {size} bytes, {} present",
            data.len()
        )));
    }
    let data = &data[..size];
    let key_entry_len = if is_object { word + 2 } else { 0 };
    let value_entry_len = 1 + word;
    let header_len = 2 * word;
    // The entries must fit in the container: a corrupt count must neither run the loop below
    // for long nor let the offset arithmetic in it overflow.
    let entries_fit = count
        .checked_mul(key_entry_len + value_entry_len)
        .and_then(|len| len.checked_add(header_len))
        .is_some_and(|len| len <= data.len());
    if !entries_fit {
        return Err(invalid(format!(
            "{count} entries do not fit in {size} bytes"
        )));
    }

    out.push(if is_object { '{' } else { '[' });
    for index in 0..count {
        if index > 0 {
            out.push_str(", ");
        }
        if is_object {
            let entry = slice(data, header_len + index * key_entry_len, key_entry_len)?;
            let key_offset = uint_le(&entry[..word]) as usize;
            let key_len = uint_le(&entry[word..]) as usize;
            let key = slice(data, key_offset, key_len)?;
            let key = std::str::from_utf8(key).map_err(|_| invalid("a key is not valid UTF-8"))?;
            write_quoted(out, key);
            out.push_str(": ");
        }
        let entry_start = header_len + count * key_entry_len + index * value_entry_len;
        let entry = slice(data, entry_start, value_entry_len)?;
        let value_type = entry[0];
        let field = &entry[1..];
        write_entry_value(out, value_type, field, data, large, depth)?;
    }
    out.push(if is_object { '}' } else { ']' });
    Ok(())
}

/// A container entry's value: inline in the entry for small scalars, else at the entry's offset.
fn write_entry_value(
    out: &mut String,
    value_type: u8,
    field: &[u8],
    container: &[u8],
    large: bool,
    depth: usize,
) -> Result<(), ValueError> {
    use json_type::*;
    let inline = matches!(value_type, LITERAL | INT16 | UINT16)
        || (large && matches!(value_type, INT32 | UINT32));
    if inline {
        return write_value(out, value_type, field, depth + 1);
    }
    let offset = uint_le(field) as usize;
    let value = container
        .get(offset..)
        .ok_or_else(|| invalid(format!("value offset {offset} is past the container")))?;
    write_value(out, value_type, value, depth + 1)
}

fn write_quoted(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

fn write_opaque(out: &mut String, field_type: u8, bytes: &[u8]) -> Result<(), ValueError> {
    match field_type {
        opaque_type::NEWDECIMAL => {
            let [precision, scale, rest @ ..] = bytes else {
                return Err(invalid("an opaque DECIMAL lacks its precision and scale"));
            };
            let (text, _) = decode_decimal(rest, *precision, *scale)?;
            out.push_str(&text);
            Ok(())
        }
        opaque_type::DATE | opaque_type::TIME | opaque_type::DATETIME | opaque_type::TIMESTAMP => {
            let packed = uint_le(slice(bytes, 0, 8)?) as i64;
            let text = if field_type == opaque_type::TIME {
                packed_time_text(packed)
            } else {
                packed_datetime_text(packed, field_type == opaque_type::DATE)
            };
            write_quoted(out, &text);
            Ok(())
        }
        other => {
            let text = format!("base64:type{other}:{}", base64(bytes));
            write_quoted(out, &text);
            Ok(())
        }
    }
}

/// MySQL's in-memory packed datetime: `(year*13+month)<<22 | day<<17 | hour<<12 | minute<<6 |
/// second`, shifted left 24 bits, plus microseconds.
fn packed_datetime_text(packed: i64, date_only: bool) -> String {
    let magnitude = packed.unsigned_abs();
    let microsecond = magnitude % (1 << 24);
    let ymdhms = magnitude >> 24;
    let ymd = ymdhms >> 17;
    let year_month = ymd >> 5;
    let hms = ymdhms % (1 << 17);
    let (year, month, day) = (year_month / 13, year_month % 13, ymd % (1 << 5));
    if date_only {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!(
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{microsecond:06}",
            hms >> 12,
            (hms >> 6) % (1 << 6),
            hms % (1 << 6)
        )
    }
}

/// MySQL's in-memory packed time: `hour<<12 | minute<<6 | second`, shifted left 24 bits, plus
/// microseconds, negated as a whole for negative times.
fn packed_time_text(packed: i64) -> String {
    let sign = if packed < 0 { "-" } else { "" };
    let magnitude = packed.unsigned_abs();
    let microsecond = magnitude % (1 << 24);
    let hms = magnitude >> 24;
    format!(
        "{sign}{:02}:{:02}:{:02}.{microsecond:06}",
        (hms >> 12) % (1 << 10),
        (hms >> 6) % (1 << 6),
        hms % (1 << 6)
    )
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for (index, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((triple >> shift) & 0x3F) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Test-only encoder of binary JSON documents, written from the format description.
#[cfg(test)]
pub(crate) mod encode {
    use super::json_type::*;

    /// A JSON value to encode.
    #[derive(Debug, Clone)]
    pub(crate) enum Doc {
        Null,
        Bool(bool),
        Int(i64),
        UInt(u64),
        Double(f64),
        Str(String),
        Array(Vec<Doc>),
        Object(Vec<(String, Doc)>),
        Opaque(u8, Vec<u8>),
    }

    /// Encodes a document (type byte and data), using the large container form when asked.
    pub(crate) fn document(doc: &Doc, large: bool) -> Vec<u8> {
        let (value_type, data) = value(doc, large);
        let mut out = vec![value_type];
        out.extend(data);
        out
    }

    fn varlen(mut len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (len & 0x7F) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn value(doc: &Doc, large: bool) -> (u8, Vec<u8>) {
        match doc {
            Doc::Null => (LITERAL, vec![0]),
            Doc::Bool(true) => (LITERAL, vec![1]),
            Doc::Bool(false) => (LITERAL, vec![2]),
            Doc::Int(v) if i16::try_from(*v).is_ok() => (INT16, (*v as i16).to_le_bytes().to_vec()),
            Doc::Int(v) if i32::try_from(*v).is_ok() => (INT32, (*v as i32).to_le_bytes().to_vec()),
            Doc::Int(v) => (INT64, v.to_le_bytes().to_vec()),
            Doc::UInt(v) if u16::try_from(*v).is_ok() => {
                (UINT16, (*v as u16).to_le_bytes().to_vec())
            }
            Doc::UInt(v) if u32::try_from(*v).is_ok() => {
                (UINT32, (*v as u32).to_le_bytes().to_vec())
            }
            Doc::UInt(v) => (UINT64, v.to_le_bytes().to_vec()),
            Doc::Double(v) => (DOUBLE, v.to_le_bytes().to_vec()),
            Doc::Str(s) => {
                let mut data = varlen(s.len());
                data.extend(s.as_bytes());
                (STRING, data)
            }
            Doc::Opaque(field_type, bytes) => {
                let mut data = vec![*field_type];
                data.extend(varlen(bytes.len()));
                data.extend(bytes);
                (OPAQUE, data)
            }
            Doc::Array(items) => {
                let entries: Vec<(Option<&str>, &Doc)> = items.iter().map(|d| (None, d)).collect();
                container(
                    &entries,
                    large,
                    if large { LARGE_ARRAY } else { SMALL_ARRAY },
                )
            }
            Doc::Object(members) => {
                let entries: Vec<(Option<&str>, &Doc)> =
                    members.iter().map(|(k, d)| (Some(k.as_str()), d)).collect();
                container(
                    &entries,
                    large,
                    if large { LARGE_OBJECT } else { SMALL_OBJECT },
                )
            }
        }
    }

    fn container(entries: &[(Option<&str>, &Doc)], large: bool, value_type: u8) -> (u8, Vec<u8>) {
        let word = if large { 4 } else { 2 };
        let put = |out: &mut Vec<u8>, v: usize| out.extend(&(v as u32).to_le_bytes()[..word]);
        let is_object = entries.first().is_some_and(|(k, _)| k.is_some())
            || value_type == SMALL_OBJECT
            || value_type == LARGE_OBJECT;
        let key_entry = if is_object { word + 2 } else { 0 };
        let header = 2 * word + entries.len() * (key_entry + 1 + word);
        let mut keys: Vec<u8> = Vec::new();
        let mut key_offsets = Vec::new();
        for (key, _) in entries {
            if let Some(key) = key {
                key_offsets.push(header + keys.len());
                keys.extend(key.as_bytes());
            }
        }
        let mut values = Vec::new();
        let mut value_entries = Vec::new();
        for (_, doc) in entries {
            let (t, data) = value(doc, large);
            let inline =
                matches!(t, LITERAL | INT16 | UINT16) || (large && matches!(t, INT32 | UINT32));
            let mut entry = vec![t];
            if inline {
                let mut field = data.clone();
                field.resize(word, 0);
                entry.extend(field);
            } else {
                let offset = header + keys.len() + values.len();
                put(&mut entry, offset);
                values.extend(data);
            }
            value_entries.push(entry);
        }
        let size = header + keys.len() + values.len();
        let mut out = Vec::new();
        put(&mut out, entries.len());
        put(&mut out, size);
        for (index, (key, _)) in entries.iter().enumerate() {
            if let Some(key) = key {
                put(&mut out, key_offsets[index]);
                out.extend(&(key.len() as u16).to_le_bytes());
            }
        }
        for entry in value_entries {
            out.extend(entry);
        }
        out.extend(keys);
        out.extend(values);
        (value_type, out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::encode::{Doc, document};
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Doc {
        Doc::Object(vec![
            ("a".into(), Doc::Int(1)),
            (
                "b".into(),
                Doc::Array(vec![Doc::Bool(true), Doc::Null, Doc::Bool(false)]),
            ),
            ("ten".into(), Doc::Str("Nguyễn \"Văn\"\n\\".into())),
            ("big".into(), Doc::UInt(u64::MAX)),
            ("neg".into(), Doc::Int(-40_000)),
            ("min".into(), Doc::Int(i64::MIN)),
            ("pi".into(), Doc::Double(3.25)),
            ("empty".into(), Doc::Object(vec![])),
        ])
    }

    const SAMPLE_TEXT: &str = "{\"a\": 1, \"b\": [true, null, false], \"ten\": \"Nguyễn \\\"Văn\\\"\\n\\\\\", \
        \"big\": 18446744073709551615, \"neg\": -40000, \"min\": -9223372036854775808, \
        \"pi\": 3.25, \"empty\": {}}";

    #[test]
    fn small_and_large_containers() {
        for large in [false, true] {
            let bytes = document(&sample(), large);
            assert_eq!(json_to_text(&bytes).unwrap(), SAMPLE_TEXT, "large: {large}");
        }
    }

    #[test]
    fn scalars_at_top_level() {
        assert_eq!(
            json_to_text(&document(&Doc::Str("x".into()), false)).unwrap(),
            "\"x\""
        );
        assert_eq!(json_to_text(&document(&Doc::Int(-5), false)).unwrap(), "-5");
        assert_eq!(
            json_to_text(&document(&Doc::Double(1e20), false)).unwrap(),
            "1e20"
        );
        assert_eq!(json_to_text(&document(&Doc::Null, false)).unwrap(), "null");
        assert_eq!(json_to_text(&[]).unwrap(), "null");
        assert_eq!(
            json_to_text(&document(&Doc::Str("\u{1}".into()), false)).unwrap(),
            "\"\\u0001\""
        );
    }

    #[test]
    fn long_strings_use_multi_byte_lengths() {
        let text = "x".repeat(300);
        let bytes = document(&Doc::Str(text.clone()), false);
        assert_eq!(&bytes[1..3], &[0xAC, 0x02]);
        assert_eq!(json_to_text(&bytes).unwrap(), format!("\"{text}\""));
    }

    #[test]
    fn opaque_values() {
        let mut decimal = vec![5, 2];
        decimal.extend(crate::binlog::decimal::encode_decimal("-123.45", 5, 2));
        let datetime: i64 =
            (((2024 * 13 + 2) << 22) | (29 << 17) | (13 << 12) | (45 << 6) | 6) << 24;
        let time: i64 = -(((1 << 12) | (2 << 6) | 3) << 24 | 500_000);
        let doc = Doc::Array(vec![
            Doc::Opaque(opaque_type::NEWDECIMAL, decimal),
            Doc::Opaque(
                opaque_type::DATETIME,
                (datetime + 123_456).to_le_bytes().to_vec(),
            ),
            Doc::Opaque(opaque_type::DATE, datetime.to_le_bytes().to_vec()),
            Doc::Opaque(opaque_type::TIME, time.to_le_bytes().to_vec()),
            Doc::Opaque(252, b"hi!".to_vec()),
        ]);
        assert_eq!(
            json_to_text(&document(&doc, false)).unwrap(),
            "[-123.45, \"2024-02-29 13:45:06.123456\", \"2024-02-29\", \"-01:02:03.500000\", \
             \"base64:type252:aGkh\"]"
        );
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn corrupt_documents_are_errors() {
        let bytes = document(&sample(), false);
        for len in 1..bytes.len() {
            assert!(
                json_to_text(&bytes[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
        assert!(json_to_text(&[0x0d]).is_err());
        assert!(json_to_text(&[json_type::LITERAL, 7]).is_err());
        // A count that cannot fit.
        assert!(json_to_text(&[json_type::SMALL_ARRAY, 0xff, 0xff, 0x04, 0x00]).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut doc = Doc::Null;
        for _ in 0..200 {
            doc = Doc::Array(vec![doc]);
        }
        let bytes = document(&doc, true);
        assert!(json_to_text(&bytes).is_err());
    }

    fn doc_strategy() -> impl Strategy<Value = Doc> {
        let leaf = prop_oneof![
            Just(Doc::Null),
            any::<bool>().prop_map(Doc::Bool),
            any::<i64>().prop_map(Doc::Int),
            any::<u64>().prop_map(Doc::UInt),
            // Quarters have at most two decimals: serde_json's default parser reads them exactly.
            (any::<i32>(), 0u32..3)
                .prop_map(|(m, e)| Doc::Double(f64::from(m) / f64::from(1u32 << e))),
            "[a-zA-Zàáạảãăằắặẳẵđ\"\\\\ \n]{0,20}".prop_map(Doc::Str),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Doc::Array),
                proptest::collection::vec(("[a-z]{1,8}", inner), 0..6).prop_map(Doc::Object),
            ]
        })
    }

    proptest! {
        #[test]
        fn decoded_text_is_valid_json_equal_to_the_document(doc in doc_strategy(), large: bool) {
            let bytes = document(&doc, large);
            let text = json_to_text(&bytes).unwrap();
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(parsed, to_serde(&doc));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = json_to_text(&bytes);
        }
    }

    fn to_serde(doc: &Doc) -> serde_json::Value {
        use serde_json::Value as J;
        match doc {
            Doc::Null => J::Null,
            Doc::Bool(b) => J::Bool(*b),
            Doc::Int(v) => J::from(*v),
            Doc::UInt(v) => J::from(*v),
            Doc::Double(v) => J::from(*v),
            Doc::Str(s) => J::String(s.clone()),
            Doc::Array(items) => J::Array(items.iter().map(to_serde).collect()),
            Doc::Object(members) => {
                // Later duplicates win, as serde_json's map does when parsing.
                let mut map = serde_json::Map::new();
                for (k, v) in members {
                    map.insert(k.clone(), to_serde(v));
                }
                J::Object(map)
            }
            Doc::Opaque(..) => J::Null,
        }
    }
}
