//! Typed column values from PostgreSQL's text output format.
//!
//! pgoutput (without the `binary` option) and the snapshot's `COPY`/`SELECT` both send values as
//! the type's text output. That text depends on session settings, so the connector sets these on
//! every connection it opens, and this module relies on them:
//!
//! | setting              | value       | what it fixes here                                    |
//! |----------------------|-------------|-------------------------------------------------------|
//! | `DateStyle`          | `ISO`       | dates as `2024-02-29`, timestamps as `2024-02-29 13:45:06` |
//! | `TimeZone`           | `UTC`       | `timestamptz` printed with offset `+00`               |
//! | `IntervalStyle`      | `iso_8601`  | intervals as `P1Y2M3DT4H5M6S`                         |
//! | `extra_float_digits` | `3`         | floats printed exactly (shortest round-trip form)     |
//! | `bytea_output`       | `hex`       | bytea as `\x0a1b`                                     |
//!
//! Everything is pure: [`decode_text`] maps one value's text and its column's type OID and
//! modifier (from the Relation message) to a [`Value`]. Types this module does not know, including
//! every extension and user-defined type (their OIDs are not fixed), become `raw_text`, never an
//! error; an error means a built-in type's text is not what PostgreSQL prints under the settings
//! above, which points at a misconfigured session or a bug, not at the data.
//!
//! Dates before 1 AD: PostgreSQL prints `0044-03-15 BC`. A [`Date`] holds such a year as a negative
//! number without a year zero, the way PostgreSQL's `extract(year ...)` counts them (44 BC is
//! -44, 1 BC is -1), because year 0 in a [`Date`] means "unknown". Instants
//! (`timestamptz`) are exact seconds since the Unix epoch in the proleptic Gregorian calendar,
//! as PostgreSQL computes them.

use lienthong_proto::v1::value::Kind;
use lienthong_proto::v1::{Date, Decimal, LocalDateTime, TimeOfDay, Value, ValueList};

use crate::pgoutput::TupleValue;

/// OIDs of the built-in types this module knows, from PostgreSQL's `pg_type.dat`. They are fixed
/// across versions and installations (unlike extension types such as `citext`).
pub mod type_oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MONEY: u32 = 790;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;

    pub const BOOL_ARRAY: u32 = 1000;
    pub const BYTEA_ARRAY: u32 = 1001;
    pub const CHAR_ARRAY: u32 = 1002;
    pub const NAME_ARRAY: u32 = 1003;
    pub const INT2_ARRAY: u32 = 1005;
    pub const INT4_ARRAY: u32 = 1007;
    pub const TEXT_ARRAY: u32 = 1009;
    pub const BPCHAR_ARRAY: u32 = 1014;
    pub const VARCHAR_ARRAY: u32 = 1015;
    pub const INT8_ARRAY: u32 = 1016;
    pub const FLOAT4_ARRAY: u32 = 1021;
    pub const FLOAT8_ARRAY: u32 = 1022;
    pub const OID_ARRAY: u32 = 1028;
    pub const JSON_ARRAY: u32 = 199;
    pub const TIMESTAMP_ARRAY: u32 = 1115;
    pub const DATE_ARRAY: u32 = 1182;
    pub const TIME_ARRAY: u32 = 1183;
    pub const TIMESTAMPTZ_ARRAY: u32 = 1185;
    pub const INTERVAL_ARRAY: u32 = 1187;
    pub const NUMERIC_ARRAY: u32 = 1231;
    pub const TIMETZ_ARRAY: u32 = 1270;
    pub const UUID_ARRAY: u32 = 2951;
    pub const JSONB_ARRAY: u32 = 3807;
}

/// A built-in type's text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// `text` is cut to 64 characters; `type_name` is as [`builtin_type_name`] gives it.
    #[error("invalid {type_name} value {text:?}: {reason}")]
    Invalid {
        type_name: String,
        text: String,
        reason: String,
    },

    #[error("{type_name} value is not valid UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        type_name: String,
        valid_up_to: usize,
    },
}

/// Decodes one column value from its text form, given the column's type OID and type modifier
/// from the Relation message.
///
/// Built-in scalar types and arrays of them map to the matching [`Kind`] (see the module
/// documentation for the session settings this assumes). These become `raw_text` with the text
/// unchanged, never an error: every type this module does not decode (extension and user types,
/// `money`, network and geometric types, ranges…), arrays of those, and infinite dates,
/// timestamps and intervals (`infinity`, `-infinity`), which no typed value can hold.
///
/// `float4` text is read as a double from its shortest decimal form, so `0.1` stays 0.1 rather
/// than becoming the binary single-precision value widened (0.10000000149…).
pub fn decode_text(type_oid: u32, type_modifier: i32, text: &str) -> Result<Value, ValueError> {
    let result = match lookup(type_oid) {
        Some((builtin, Shape::Array)) if builtin.format != TextFormat::Raw => {
            decode_array(builtin.format, text)
        }
        Some((builtin, Shape::Scalar)) => {
            decode_scalar(builtin.format, text).map_err(|reason| reason.to_owned())
        }
        Some((_, Shape::Array)) | None => Ok(Kind::RawText(text.to_owned())),
    };
    result.map(value).map_err(|reason| ValueError::Invalid {
        type_name: type_display_name(type_oid, type_modifier),
        text: shorten(text),
        reason,
    })
}

/// Converts one pgoutput tuple value: `Null` → null, `UnchangedToast` → unchanged (the previous
/// value still holds), `Text` → [`decode_text`], `Binary` → `bytes_value` with the type's binary
/// send format as is (only sent when the subscription asked for `binary`).
pub fn decode_tuple_value(
    type_oid: u32,
    type_modifier: i32,
    tuple_value: &TupleValue,
) -> Result<Value, ValueError> {
    match tuple_value {
        TupleValue::Null => Ok(value(Kind::Null(true))),
        TupleValue::UnchangedToast => Ok(value(Kind::Unchanged(true))),
        TupleValue::Binary(bytes) => Ok(value(Kind::BytesValue(bytes.clone()))),
        TupleValue::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => decode_text(type_oid, type_modifier, text),
            Err(error) => Err(ValueError::InvalidUtf8 {
                type_name: type_display_name(type_oid, type_modifier),
                valid_up_to: error.valid_up_to(),
            }),
        },
    }
}

/// The name of a built-in type with its modifier, for schemas and messages: `int4`,
/// `numeric(5,2)`, `varchar(100)`, `bpchar(10)`, `timestamptz(3)`, `int4[]`, `varchar(20)[]`.
/// Internal names are used (`bpchar`, not `character`). `None` for OIDs that are not built in.
pub fn builtin_type_name(type_oid: u32, type_modifier: i32) -> Option<String> {
    let (builtin, shape) = lookup(type_oid)?;
    let mut name = format!("{}{}", builtin.name, builtin.modifier.render(type_modifier));
    if shape == Shape::Array {
        name.push_str("[]");
    }
    Some(name)
}

fn type_display_name(type_oid: u32, type_modifier: i32) -> String {
    builtin_type_name(type_oid, type_modifier).unwrap_or_else(|| format!("type OID {type_oid}"))
}

fn value(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

/// The offending text in an error, cut so that a huge value cannot flood a log line.
fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The built-in type table

/// How a type's text output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextFormat {
    Bool,
    Integer,
    Float,
    Numeric,
    Text,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
    Interval,
    /// Kept as the text PostgreSQL printed (`raw_text`).
    Raw,
}

/// How a type's `atttypmod` is shown in its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModifierStyle {
    None,
    /// varchar, bpchar: the modifier is the length plus 4 (the varlena header size).
    CharacterLength,
    /// numeric: precision and scale packed into the modifier minus 4.
    PrecisionAndScale,
    /// time, timetz, timestamp, timestamptz: the modifier is the fractional-second precision.
    SecondsPrecision,
    /// interval: the low 16 bits are the precision (0xFFFF when unset); the range fields
    /// (`year to month` …) in the high bits are not shown.
    IntervalPrecision,
    /// bit, varbit: the modifier is the length in bits.
    BitLength,
}

impl ModifierStyle {
    fn render(self, type_modifier: i32) -> String {
        // Every style uses -1 for "no modifier"; PostgreSQL never stores another negative value.
        if type_modifier < 0 {
            return String::new();
        }
        match self {
            Self::None => String::new(),
            Self::CharacterLength if type_modifier >= 4 => format!("({})", type_modifier - 4),
            Self::PrecisionAndScale if type_modifier >= 4 => {
                let packed = type_modifier - 4;
                let precision = (packed >> 16) & 0xFFFF;
                // Scale is an 11-bit signed number since PostgreSQL 15 (negative scales round to
                // tens, hundreds…); for 0..=1000 this equals the older `packed & 0xFFFF`.
                let scale = ((packed & 0x7FF) ^ 1024) - 1024;
                format!("({precision},{scale})")
            }
            Self::SecondsPrecision | Self::BitLength => format!("({type_modifier})"),
            Self::IntervalPrecision => match type_modifier & 0xFFFF {
                0xFFFF => String::new(),
                precision => format!("({precision})"),
            },
            Self::CharacterLength | Self::PrecisionAndScale => String::new(),
        }
    }
}

#[derive(Debug)]
struct BuiltinType {
    oid: u32,
    array_oid: u32,
    name: &'static str,
    format: TextFormat,
    modifier: ModifierStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Scalar,
    Array,
}

const fn builtin(
    oid: u32,
    array_oid: u32,
    name: &'static str,
    format: TextFormat,
    modifier: ModifierStyle,
) -> BuiltinType {
    BuiltinType {
        oid,
        array_oid,
        name,
        format,
        modifier,
    }
}

/// Built-in types by OID and array OID (`pg_type.dat`). Types with format `Raw` are listed for
/// their names; their values, and arrays of them, stay text.
const BUILTIN_TYPES: &[BuiltinType] = {
    use ModifierStyle as M;
    use TextFormat as F;
    &[
        builtin(16, 1000, "bool", F::Bool, M::None),
        builtin(17, 1001, "bytea", F::Bytea, M::None),
        builtin(18, 1002, "char", F::Text, M::None),
        builtin(19, 1003, "name", F::Text, M::None),
        builtin(20, 1016, "int8", F::Integer, M::None),
        builtin(21, 1005, "int2", F::Integer, M::None),
        builtin(23, 1007, "int4", F::Integer, M::None),
        builtin(25, 1009, "text", F::Text, M::None),
        builtin(26, 1028, "oid", F::Integer, M::None),
        builtin(114, 199, "json", F::Json, M::None),
        builtin(142, 143, "xml", F::Raw, M::None),
        builtin(600, 1017, "point", F::Raw, M::None),
        builtin(601, 1018, "lseg", F::Raw, M::None),
        builtin(602, 1019, "path", F::Raw, M::None),
        builtin(603, 1020, "box", F::Raw, M::None),
        builtin(604, 1027, "polygon", F::Raw, M::None),
        builtin(628, 629, "line", F::Raw, M::None),
        builtin(650, 651, "cidr", F::Raw, M::None),
        builtin(700, 1021, "float4", F::Float, M::None),
        builtin(701, 1022, "float8", F::Float, M::None),
        builtin(718, 719, "circle", F::Raw, M::None),
        builtin(774, 775, "macaddr8", F::Raw, M::None),
        // money's text carries the lc_monetary currency symbol and grouping ("$1,234.50"), so
        // it cannot be read as a decimal without knowing the server's locale.
        builtin(790, 791, "money", F::Raw, M::None),
        builtin(829, 1040, "macaddr", F::Raw, M::None),
        builtin(869, 1041, "inet", F::Raw, M::None),
        builtin(1042, 1014, "bpchar", F::Text, M::CharacterLength),
        builtin(1043, 1015, "varchar", F::Text, M::CharacterLength),
        builtin(1082, 1182, "date", F::Date, M::None),
        builtin(1083, 1183, "time", F::Time, M::SecondsPrecision),
        builtin(1114, 1115, "timestamp", F::Timestamp, M::SecondsPrecision),
        builtin(
            1184,
            1185,
            "timestamptz",
            F::TimestampTz,
            M::SecondsPrecision,
        ),
        builtin(1186, 1187, "interval", F::Interval, M::IntervalPrecision),
        builtin(1266, 1270, "timetz", F::TimeTz, M::SecondsPrecision),
        builtin(1560, 1561, "bit", F::Raw, M::BitLength),
        builtin(1562, 1563, "varbit", F::Raw, M::BitLength),
        builtin(1700, 1231, "numeric", F::Numeric, M::PrecisionAndScale),
        builtin(2950, 2951, "uuid", F::Uuid, M::None),
        builtin(3220, 3221, "pg_lsn", F::Raw, M::None),
        builtin(3614, 3643, "tsvector", F::Raw, M::None),
        builtin(3615, 3645, "tsquery", F::Raw, M::None),
        builtin(3802, 3807, "jsonb", F::Json, M::None),
        builtin(3904, 3905, "int4range", F::Raw, M::None),
        builtin(3906, 3907, "numrange", F::Raw, M::None),
        builtin(3908, 3909, "tsrange", F::Raw, M::None),
        builtin(3910, 3911, "tstzrange", F::Raw, M::None),
        builtin(3912, 3913, "daterange", F::Raw, M::None),
        builtin(3926, 3927, "int8range", F::Raw, M::None),
        builtin(4072, 4073, "jsonpath", F::Raw, M::None),
        builtin(5069, 271, "xid8", F::Raw, M::None),
    ]
};

fn lookup(type_oid: u32) -> Option<(&'static BuiltinType, Shape)> {
    BUILTIN_TYPES.iter().find_map(|builtin| {
        if builtin.oid == type_oid {
            Some((builtin, Shape::Scalar))
        } else if builtin.array_oid == type_oid {
            Some((builtin, Shape::Array))
        } else {
            None
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Scalars

type Reason = &'static str;

fn decode_scalar(format: TextFormat, text: &str) -> Result<Kind, Reason> {
    Ok(match format {
        TextFormat::Bool => match text {
            "t" => Kind::BoolValue(true),
            "f" => Kind::BoolValue(false),
            _ => return Err("expected 't' or 'f'"),
        },
        TextFormat::Integer => Kind::IntValue(decode_integer(text)?),
        TextFormat::Float => Kind::FloatValue(decode_float(text)?),
        TextFormat::Numeric => {
            check_numeric(text)?;
            Kind::DecimalValue(Decimal {
                value: text.to_owned(),
            })
        }
        TextFormat::Text => Kind::TextValue(text.to_owned()),
        TextFormat::Bytea => Kind::BytesValue(decode_bytea(text)?),
        TextFormat::Date => match text {
            "infinity" | "-infinity" => Kind::RawText(text.to_owned()),
            _ => Kind::DateValue(decode_date(text)?),
        },
        TextFormat::Time => Kind::TimeValue(decode_time(text, false)?),
        TextFormat::TimeTz => Kind::TimeValue(decode_time(text, true)?),
        TextFormat::Timestamp => match text {
            "infinity" | "-infinity" => Kind::RawText(text.to_owned()),
            _ => {
                let (date, time) = decode_local_datetime(text)?;
                Kind::DatetimeValue(LocalDateTime {
                    date: Some(date),
                    time: Some(time),
                })
            }
        },
        TextFormat::TimestampTz => match text {
            "infinity" | "-infinity" => Kind::RawText(text.to_owned()),
            _ => Kind::TimestampValue(decode_instant(text)?),
        },
        TextFormat::Uuid => Kind::UuidValue(decode_uuid(text)?),
        TextFormat::Json => Kind::JsonValue(text.to_owned()),
        TextFormat::Interval => match text {
            // Infinite intervals exist since PostgreSQL 17 and print the same in every style.
            "infinity" | "-infinity" => Kind::RawText(text.to_owned()),
            _ => {
                check_iso8601_interval(text)?;
                Kind::IntervalValue(text.to_owned())
            }
        },
        TextFormat::Raw => Kind::RawText(text.to_owned()),
    })
}

fn decode_integer(text: &str) -> Result<i64, Reason> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected an optional '-' and decimal digits");
    }
    text.parse().map_err(|_| "integer out of the 64-bit range")
}

fn decode_float(text: &str) -> Result<f64, Reason> {
    match text {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust's parser also takes "inf" and "nan" in any case; PostgreSQL prints only the three
    // spellings above, so anything else non-numeric is rejected here first.
    let numeric_chars = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if text.is_empty() || !numeric_chars {
        return Err("expected a decimal number, NaN, Infinity or -Infinity");
    }
    text.parse()
        .map_err(|_| "expected a decimal number, NaN, Infinity or -Infinity")
}

/// numeric's output: `-?digits(.digits)?`, or NaN, Infinity, -Infinity. Never an exponent.
fn check_numeric(text: &str) -> Result<(), Reason> {
    const EXPECTED: Reason = "expected an optional '-', digits, optionally '.' and digits, or NaN, \
                              Infinity, -Infinity";
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Ok(());
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if all_digits(whole) && fraction.is_none_or(all_digits) {
        Ok(())
    } else {
        Err(EXPECTED)
    }
}

/// `\x` and hex digit pairs (`bytea_output=hex`); the older escape format (`\\`, `\ooo`) is read
/// too, in case a session was left with `bytea_output=escape`.
fn decode_bytea(text: &str) -> Result<Vec<u8>, Reason> {
    if let Some(hex) = text.strip_prefix("\\x") {
        if hex.len() % 2 != 0 {
            return Err("odd number of hex digits after \\x");
        }
        return hex
            .as_bytes()
            .chunks_exact(2)
            .map(|pair| match pair {
                &[high, low] => match (hex_digit(high), hex_digit(low)) {
                    (Some(high), Some(low)) => Ok((high << 4) | low),
                    _ => Err("expected hex digits after \\x"),
                },
                _ => Err("odd number of hex digits after \\x"),
            })
            .collect();
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte != b'\\' {
            decoded.push(byte);
            index += 1;
            continue;
        }
        match bytes.get(index + 1..).unwrap_or_default() {
            [b'\\', ..] => {
                decoded.push(b'\\');
                index += 2;
            }
            [a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] => {
                decoded.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                index += 4;
            }
            _ => return Err("expected \\x and hex digits, or escape format (\\\\ or \\ooo)"),
        }
    }
    Ok(decoded)
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// 8-4-4-4-12 hex digits; returned lowercase (PostgreSQL prints lowercase already).
fn decode_uuid(text: &str) -> Result<String, Reason> {
    let well_formed = text.len() == 36
        && text.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        });
    if well_formed {
        Ok(text.to_ascii_lowercase())
    } else {
        Err("expected 8-4-4-4-12 hexadecimal digits")
    }
}

/// IntervalStyle `iso_8601`: `P`, then signed integer parts `Y`, `M`, `W`, `D` in that order,
/// then optionally `T` and `H`, `M`, and seconds `S` (the only part with a fraction). Zero is
/// `PT0S`. The text is kept as is; this only checks the session printed the expected style.
fn check_iso8601_interval(text: &str) -> Result<(), Reason> {
    const EXPECTED: Reason =
        "expected an ISO 8601 duration like P1Y2M3DT4H5M6.5S (is IntervalStyle=iso_8601 set?)";
    let mut scanner = Scanner::new(text);
    if !scanner.eat(b'P') {
        return Err(EXPECTED);
    }
    // Units in the order they may appear; each appears at most once.
    const DATE_UNITS: &[u8] = b"YMWD";
    const TIME_UNITS: &[u8] = b"HMS";
    let mut parts = 0;
    let mut in_time = false;
    let mut next_unit = 0;
    while !scanner.is_done() {
        if !in_time && scanner.eat(b'T') {
            in_time = true;
            next_unit = 0;
            if scanner.is_done() {
                return Err(EXPECTED);
            }
            continue;
        }
        scanner.eat(b'-');
        scanner.digits(1, usize::MAX).ok_or(EXPECTED)?;
        let has_fraction = scanner.eat(b'.');
        if has_fraction {
            scanner.digits(1, usize::MAX).ok_or(EXPECTED)?;
        }
        let unit = scanner.next().ok_or(EXPECTED)?;
        let units = if in_time { TIME_UNITS } else { DATE_UNITS };
        let position = units
            .iter()
            .skip(next_unit)
            .position(|&candidate| candidate == unit)
            .ok_or(EXPECTED)?;
        next_unit += position + 1;
        if has_fraction && unit != b'S' {
            return Err(EXPECTED);
        }
        parts += 1;
    }
    if parts == 0 {
        return Err(EXPECTED);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Dates and times

const SECONDS_PER_DAY: i64 = 86_400;

/// A date as PostgreSQL prints it under DateStyle=ISO, with the year as PostgreSQL numbers it
/// (1 and up; `BC` marks years before 1 AD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CivilDate {
    year: i64,
    before_christ: bool,
    month: u32,
    day: u32,
}

impl CivilDate {
    /// Year in astronomical numbering (1 BC = 0, 2 BC = -1), which the calendar arithmetic uses.
    fn astronomical_year(self) -> i64 {
        if self.before_christ {
            1 - self.year
        } else {
            self.year
        }
    }

    /// The proto Date: BC years negative with no year zero (see the module documentation).
    fn to_proto(self) -> Result<Date, Reason> {
        let year = if self.before_christ {
            -self.year
        } else {
            self.year
        };
        Ok(Date {
            year: i32::try_from(year).map_err(|_| "year out of range")?,
            // Both validated to 1..=12 and 1..=31.
            month: self.month as i32,
            day: self.day as i32,
        })
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    fn days_since_unix_epoch(self) -> i64 {
        days_from_civil(self.astronomical_year(), self.month, self.day)
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (astronomical year numbering).
///
/// Counts in 400-year eras (146 097 days each) of years that start on 1 March, so that the leap
/// day is the last day of its year and month lengths follow a fixed 153-days-per-5-months pattern.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

fn is_leap_year(astronomical_year: i64) -> bool {
    astronomical_year % 4 == 0 && (astronomical_year % 100 != 0 || astronomical_year % 400 == 0)
}

fn days_in_month(astronomical_year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(astronomical_year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Splits off the ` BC` suffix PostgreSQL appends to dates before 1 AD (after the time and zone
/// of a timestamp).
fn split_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

fn scan_date(scanner: &mut Scanner<'_>, before_christ: bool) -> Result<CivilDate, Reason> {
    const EXPECTED: Reason = "expected a date YYYY-MM-DD";
    // At least 4 digits; PostgreSQL's largest year (5874897) has 7.
    let year = scanner.digits(4, 9).ok_or(EXPECTED)?;
    scanner.expect(b'-', EXPECTED)?;
    let month = scanner.digits(2, 2).ok_or(EXPECTED)?;
    scanner.expect(b'-', EXPECTED)?;
    let day = scanner.digits(2, 2).ok_or(EXPECTED)?;
    if year == 0 {
        return Err("there is no year 0 (1 BC precedes 1 AD)");
    }
    let month = u32::try_from(month).map_err(|_| "month out of range")?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    let date = CivilDate {
        year: i64::try_from(year).map_err(|_| "year out of range")?,
        before_christ,
        month,
        day: u32::try_from(day).map_err(|_| "day out of range")?,
    };
    if date.day == 0 || date.day > days_in_month(date.astronomical_year(), month) {
        return Err("day out of range for the month");
    }
    Ok(date)
}

/// A time of day: hours, minutes, seconds, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClockTime {
    hours: u32,
    minutes: u32,
    seconds: u32,
    nanos: u32,
}

impl ClockTime {
    fn seconds_of_day(self) -> i64 {
        i64::from(self.hours) * 3600 + i64::from(self.minutes) * 60 + i64::from(self.seconds)
    }

    fn to_proto(self, utc_offset_seconds: Option<i32>) -> TimeOfDay {
        // All fields are validated far below i32::MAX.
        TimeOfDay {
            hours: self.hours as i32,
            minutes: self.minutes as i32,
            seconds: self.seconds as i32,
            nanos: self.nanos as i32,
            utc_offset_seconds,
        }
    }
}

/// `HH:MM:SS` with an optional fraction of 1 to 9 digits (PostgreSQL prints up to 6 and drops
/// trailing zeros). `allow_24` admits `24:00:00`, which the `time` types can hold.
fn scan_time(scanner: &mut Scanner<'_>, allow_24: bool) -> Result<ClockTime, Reason> {
    const EXPECTED: Reason = "expected a time HH:MM:SS[.ffffff]";
    let hours = scanner.digits(2, 2).ok_or(EXPECTED)?;
    scanner.expect(b':', EXPECTED)?;
    let minutes = scanner.digits(2, 2).ok_or(EXPECTED)?;
    scanner.expect(b':', EXPECTED)?;
    let seconds = scanner.digits(2, 2).ok_or(EXPECTED)?;
    let nanos = if scanner.eat(b'.') {
        let start = scanner.position;
        let fraction = scanner.digits(1, 9).ok_or(EXPECTED)?;
        let digit_count = scanner.position - start;
        // Scale to nanoseconds: ".5" is 500 000 000, ".000001" is 1 000.
        fraction * 10u64.pow(9 - digit_count as u32)
    } else {
        0
    };
    if minutes > 59 || seconds > 59 {
        return Err("minutes or seconds out of range");
    }
    let is_midnight_24 = hours == 24 && minutes == 0 && seconds == 0 && nanos == 0;
    if hours > 23 && !(allow_24 && is_midnight_24) {
        return Err("hours out of range");
    }
    // Every value is bounded above (hours ≤ 24, nanos < 10^9), so the conversions are exact.
    Ok(ClockTime {
        hours: hours as u32,
        minutes: minutes as u32,
        seconds: seconds as u32,
        nanos: nanos as u32,
    })
}

/// A UTC offset as PostgreSQL prints it: `+HH`, `+HH:MM` or `+HH:MM:SS` (seconds appear for
/// historical local mean time offsets). Returns seconds east of UTC.
fn scan_utc_offset(scanner: &mut Scanner<'_>) -> Result<i32, Reason> {
    const EXPECTED: Reason = "expected a UTC offset like +00, -03:30 or +07:06:40";
    let sign = match scanner.next() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(EXPECTED),
    };
    let hours = scanner.digits(2, 2).ok_or(EXPECTED)?;
    let (minutes, seconds) = if scanner.eat(b':') {
        let minutes = scanner.digits(2, 2).ok_or(EXPECTED)?;
        // Seconds appear only after minutes.
        let seconds = if scanner.eat(b':') {
            scanner.digits(2, 2).ok_or(EXPECTED)?
        } else {
            0
        };
        (minutes, seconds)
    } else {
        (0, 0)
    };
    if minutes > 59 || seconds > 59 {
        return Err("UTC offset minutes or seconds out of range");
    }
    // hours ≤ 99 here, so the total fits easily.
    Ok(sign * (hours * 3600 + minutes * 60 + seconds) as i32)
}

fn decode_date(text: &str) -> Result<Date, Reason> {
    let (rest, before_christ) = split_era(text);
    let mut scanner = Scanner::new(rest);
    let date = scan_date(&mut scanner, before_christ)?;
    scanner.finish("unexpected text after the date")?;
    date.to_proto()
}

fn decode_time(text: &str, with_offset: bool) -> Result<TimeOfDay, Reason> {
    let mut scanner = Scanner::new(text);
    let time = scan_time(&mut scanner, true)?;
    let offset = if with_offset {
        Some(scan_utc_offset(&mut scanner)?)
    } else {
        None
    };
    scanner.finish("unexpected text after the time")?;
    Ok(time.to_proto(offset))
}

fn decode_local_datetime(text: &str) -> Result<(Date, TimeOfDay), Reason> {
    let (rest, before_christ) = split_era(text);
    let mut scanner = Scanner::new(rest);
    let date = scan_date(&mut scanner, before_christ)?;
    scanner.expect(b' ', "expected a space between date and time")?;
    let time = scan_time(&mut scanner, false)?;
    scanner.finish("unexpected text after the timestamp")?;
    Ok((date.to_proto()?, time.to_proto(None)))
}

/// `timestamptz`: date, time and UTC offset (`+00` under TimeZone=UTC, but any offset is
/// honoured), then ` BC` for years before 1 AD; converted to the instant it denotes.
fn decode_instant(text: &str) -> Result<prost_types::Timestamp, Reason> {
    let (rest, before_christ) = split_era(text);
    let mut scanner = Scanner::new(rest);
    let date = scan_date(&mut scanner, before_christ)?;
    scanner.expect(b' ', "expected a space between date and time")?;
    let time = scan_time(&mut scanner, false)?;
    let offset = scan_utc_offset(&mut scanner)?;
    scanner.finish("unexpected text after the UTC offset")?;
    // Years have at most 9 digits, so this stays far inside i64.
    let local_seconds = date.days_since_unix_epoch() * SECONDS_PER_DAY + time.seconds_of_day();
    Ok(prost_types::Timestamp {
        seconds: local_seconds - i64::from(offset),
        nanos: time.nanos as i32,
    })
}

/// A cursor over ASCII text for the date, time and interval grammars.
#[derive(Debug)]
struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn is_done(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> bool {
        if self.peek() == Some(expected) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, expected: u8, reason: Reason) -> Result<(), Reason> {
        if self.eat(expected) {
            Ok(())
        } else {
            Err(reason)
        }
    }

    /// Between `min` and `max` decimal digits as a number; `None` if fewer than `min` digits
    /// follow or the number overflows. Consumes nothing on failure.
    fn digits(&mut self, min: usize, max: usize) -> Option<u64> {
        let start = self.position;
        let mut number: u64 = 0;
        while self.position - start < max {
            match self.peek() {
                Some(byte @ b'0'..=b'9') => {
                    let Some(next) = number
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(byte - b'0')))
                    else {
                        self.position = start;
                        return None;
                    };
                    number = next;
                    self.position += 1;
                }
                _ => break,
            }
        }
        if self.position - start < min {
            self.position = start;
            return None;
        }
        Some(number)
    }

    fn finish(&self, reason: Reason) -> Result<(), Reason> {
        if self.is_done() { Ok(()) } else { Err(reason) }
    }
}

// ---------------------------------------------------------------------------------------------
// Arrays

/// PostgreSQL's limit on array dimensions (MAXDIM); also bounds the parser's recursion.
const MAX_ARRAY_DIMENSIONS: usize = 6;

/// An array literal as `array_out` prints it: an optional bounds decoration (`[0:2]=`, printed
/// when a lower bound is not 1), then `{…}` with elements separated by `,`, nested braces for
/// each further dimension, elements double-quoted when they contain special characters (inside
/// quotes `\` escapes the next character), and unquoted `NULL` (any case) for null. Each
/// dimension becomes a nested `array_value`; elements decode as `element_format`.
fn decode_array(element_format: TextFormat, text: &str) -> Result<Kind, String> {
    let mut parser = ArrayParser {
        bytes: text.as_bytes(),
        position: 0,
        element_format,
        elements_seen: 0,
    };
    parser.skip_bounds_decoration()?;
    parser.skip_whitespace();
    let values = parser.parse_dimension(1)?;
    parser.skip_whitespace();
    if parser.position != parser.bytes.len() {
        return Err(format!(
            "unexpected text after the closing brace at byte {}",
            parser.position
        ));
    }
    Ok(Kind::ArrayValue(ValueList { values }))
}

#[derive(Debug)]
struct ArrayParser<'a> {
    bytes: &'a [u8],
    position: usize,
    element_format: TextFormat,
    /// Elements decoded so far, across all dimensions, to name the one that failed.
    elements_seen: usize,
}

/// One array item: a nested dimension or an element.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum ItemKind {
    SubArray,
    Element,
}

impl ArrayParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    /// Whitespace as `array_in` skips it around elements and braces.
    fn skip_whitespace(&mut self) {
        while matches!(
            self.peek(),
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
        ) {
            self.position += 1;
        }
    }

    /// `[lower:upper]` once per dimension, then `=`. The bounds are checked for form and then
    /// dropped: values keep their order, the lower bound is not part of a `ValueList`.
    fn skip_bounds_decoration(&mut self) -> Result<(), String> {
        if self.peek() != Some(b'[') {
            return Ok(());
        }
        let malformed = || "malformed dimension decoration, expected like [0:2]=".to_owned();
        while self.peek() == Some(b'[') {
            self.position += 1;
            self.signed_integer().ok_or_else(malformed)?;
            self.eat(b':').then_some(()).ok_or_else(malformed)?;
            self.signed_integer().ok_or_else(malformed)?;
            self.eat(b']').then_some(()).ok_or_else(malformed)?;
        }
        self.eat(b'=').then_some(()).ok_or_else(malformed)
    }

    fn signed_integer(&mut self) -> Option<()> {
        self.eat(b'-');
        let start = self.position;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.position += 1;
        }
        (self.position > start).then_some(())
    }

    fn eat(&mut self, expected: u8) -> bool {
        if self.peek() == Some(expected) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    /// `{ item, item, … }` where every item is a nested dimension or every item is an element.
    fn parse_dimension(&mut self, depth: usize) -> Result<Vec<Value>, String> {
        if depth > MAX_ARRAY_DIMENSIONS {
            return Err(format!(
                "more than {MAX_ARRAY_DIMENSIONS} dimensions (PostgreSQL's limit)"
            ));
        }
        if !self.eat(b'{') {
            return Err(format!("expected '{{' at byte {}", self.position));
        }
        let mut values = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(values);
        }
        let mut item_kind = None;
        loop {
            self.skip_whitespace();
            let this_kind = if self.peek() == Some(b'{') {
                let nested = self.parse_dimension(depth + 1)?;
                values.push(value(Kind::ArrayValue(ValueList { values: nested })));
                ItemKind::SubArray
            } else {
                let element = self.parse_element()?;
                values.push(self.decode_element(element)?);
                ItemKind::Element
            };
            if *item_kind.get_or_insert(this_kind) != this_kind {
                return Err(format!(
                    "a dimension mixes elements and nested arrays near byte {}",
                    self.position
                ));
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(values);
                }
                Some(_) => return Err(format!("expected ',' or '}}' at byte {}", self.position)),
                None => return Err("missing closing '}'".to_owned()),
            }
        }
    }

    /// One element's text, unescaped; `None` for an unquoted NULL.
    fn parse_element(&mut self) -> Result<Option<String>, String> {
        let mut unescaped = Vec::new();
        if self.eat(b'"') {
            loop {
                match self.peek() {
                    None => return Err("unterminated quoted element".to_owned()),
                    Some(b'"') => {
                        self.position += 1;
                        break;
                    }
                    Some(b'\\') => {
                        self.position += 1;
                        let Some(escaped) = self.peek() else {
                            return Err("unterminated quoted element".to_owned());
                        };
                        unescaped.push(escaped);
                        self.position += 1;
                    }
                    Some(byte) => {
                        unescaped.push(byte);
                        self.position += 1;
                    }
                }
            }
            return self.element_text(unescaped).map(Some);
        }
        // Unquoted: up to the next delimiter or brace; whitespace around it is not part of it
        // unless escaped.
        let start = self.position;
        let mut any_escape = false;
        let mut significant_len = 0;
        loop {
            match self.peek() {
                None | Some(b',' | b'}') => break,
                Some(b'{' | b'"') => {
                    return Err(format!("unexpected '{{' or '\"' at byte {}", self.position));
                }
                Some(b'\\') => {
                    any_escape = true;
                    self.position += 1;
                    let Some(escaped) = self.peek() else {
                        return Err("array ends with a lone backslash".to_owned());
                    };
                    unescaped.push(escaped);
                    self.position += 1;
                    significant_len = unescaped.len();
                }
                Some(byte) => {
                    unescaped.push(byte);
                    self.position += 1;
                    if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
                        significant_len = unescaped.len();
                    }
                }
            }
        }
        unescaped.truncate(significant_len);
        if unescaped.is_empty() {
            return Err(format!("empty unquoted element at byte {start}"));
        }
        if !any_escape && unescaped.eq_ignore_ascii_case(b"NULL") {
            return Ok(None);
        }
        self.element_text(unescaped).map(Some)
    }

    fn element_text(&self, bytes: Vec<u8>) -> Result<String, String> {
        // Only ASCII quotes and backslashes were removed from valid UTF-8, so this holds.
        String::from_utf8(bytes).map_err(|_| "element is not valid UTF-8".to_owned())
    }

    fn decode_element(&mut self, element: Option<String>) -> Result<Value, String> {
        let index = self.elements_seen;
        self.elements_seen += 1;
        match element {
            None => Ok(value(Kind::Null(true))),
            Some(text) => decode_scalar(self.element_format, &text)
                .map(value)
                .map_err(|reason| format!("element {index} {:?}: {reason}", shorten(&text))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decoded(type_oid: u32, text: &str) -> Kind {
        match decode_text(type_oid, -1, text) {
            Ok(Value { kind: Some(kind) }) => kind,
            other => panic!("{text:?} as OID {type_oid}: {other:?}"),
        }
    }

    fn rejected(type_oid: u32, text: &str) -> String {
        match decode_text(type_oid, -1, text) {
            Err(error) => error.to_string(),
            Ok(value) => panic!("{text:?} as OID {type_oid} decoded to {value:?}"),
        }
    }

    fn date(year: i32, month: i32, day: i32) -> Date {
        Date { year, month, day }
    }

    fn time(hours: i32, minutes: i32, seconds: i32, nanos: i32, offset: Option<i32>) -> TimeOfDay {
        TimeOfDay {
            hours,
            minutes,
            seconds,
            nanos,
            utc_offset_seconds: offset,
        }
    }

    fn instant(seconds: i64, nanos: i32) -> Kind {
        Kind::TimestampValue(prost_types::Timestamp { seconds, nanos })
    }

    fn null() -> Value {
        value(Kind::Null(true))
    }

    fn array(values: Vec<Value>) -> Kind {
        Kind::ArrayValue(ValueList { values })
    }

    #[test]
    fn booleans() {
        assert_eq!(decoded(type_oid::BOOL, "t"), Kind::BoolValue(true));
        assert_eq!(decoded(type_oid::BOOL, "f"), Kind::BoolValue(false));
        for bad in ["true", "T", "", "1"] {
            rejected(type_oid::BOOL, bad);
        }
    }

    #[test]
    fn integers() {
        assert_eq!(decoded(type_oid::INT2, "-32768"), Kind::IntValue(-32_768));
        assert_eq!(decoded(type_oid::INT4, "0"), Kind::IntValue(0));
        assert_eq!(
            decoded(type_oid::INT8, "-9223372036854775808"),
            Kind::IntValue(i64::MIN)
        );
        assert_eq!(
            decoded(type_oid::OID, "4294967295"),
            Kind::IntValue(4_294_967_295)
        );
        for bad in ["", "-", "1.0", " 1", "+1", "9223372036854775808", "1e3"] {
            rejected(type_oid::INT8, bad);
        }
    }

    #[test]
    fn floats() {
        assert_eq!(decoded(type_oid::FLOAT8, "1.5"), Kind::FloatValue(1.5));
        assert_eq!(
            decoded(type_oid::FLOAT8, "1.2345678901234567e+20"),
            Kind::FloatValue(1.234_567_890_123_456_7e20)
        );
        assert_eq!(decoded(type_oid::FLOAT4, "1e-05"), Kind::FloatValue(1e-5));
        assert_eq!(
            decoded(type_oid::FLOAT8, "Infinity"),
            Kind::FloatValue(f64::INFINITY)
        );
        assert_eq!(
            decoded(type_oid::FLOAT8, "-Infinity"),
            Kind::FloatValue(f64::NEG_INFINITY)
        );
        let Kind::FloatValue(nan) = decoded(type_oid::FLOAT4, "NaN") else {
            panic!("NaN is a float")
        };
        assert!(nan.is_nan());
        for bad in ["", "inf", "nan", "infinity", "1,5", "abc", "1e"] {
            rejected(type_oid::FLOAT8, bad);
        }
    }

    #[test]
    fn numerics_keep_their_text() {
        for text in [
            "0",
            "1.50",
            "-0.001",
            "123456789012345678901234567890.000000000000000001",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            assert_eq!(
                decoded(type_oid::NUMERIC, text),
                Kind::DecimalValue(Decimal {
                    value: text.to_owned()
                })
            );
        }
        for bad in ["", "-", ".5", "5.", "1e5", "+1", "1.2.3", "nan", "1 000"] {
            rejected(type_oid::NUMERIC, bad);
        }
    }

    #[test]
    fn character_types() {
        for oid in [
            type_oid::TEXT,
            type_oid::VARCHAR,
            type_oid::BPCHAR,
            type_oid::NAME,
            type_oid::CHAR,
        ] {
            assert_eq!(
                decoded(oid, "Nguyễn Văn A "),
                Kind::TextValue("Nguyễn Văn A ".into())
            );
            assert_eq!(decoded(oid, ""), Kind::TextValue(String::new()));
        }
    }

    #[test]
    fn unknown_and_raw_types_keep_text() {
        assert_eq!(
            decoded(16_500, "Mixed Case"),
            Kind::RawText("Mixed Case".into())
        );
        assert_eq!(
            decoded(type_oid::MONEY, "$1,234.50"),
            Kind::RawText("$1,234.50".into())
        );
        assert_eq!(
            decoded(869, "192.168.0.1/24"),
            Kind::RawText("192.168.0.1/24".into())
        );
        // An array of a type kept as text stays one piece of text.
        assert_eq!(
            decoded(791, "{$1.00,$2.00}"),
            Kind::RawText("{$1.00,$2.00}".into())
        );
    }

    #[test]
    fn bytea() {
        assert_eq!(
            decoded(type_oid::BYTEA, "\\x00ff7Fab"),
            Kind::BytesValue(vec![0x00, 0xFF, 0x7F, 0xAB])
        );
        assert_eq!(decoded(type_oid::BYTEA, "\\x"), Kind::BytesValue(vec![]));
        assert_eq!(
            decoded(type_oid::BYTEA, "a\\\\b\\000\\377"),
            Kind::BytesValue(vec![b'a', b'\\', b'b', 0, 0xFF])
        );
        for bad in ["\\x0", "\\xzz", "\\", "\\400", "\\12"] {
            rejected(type_oid::BYTEA, bad);
        }
    }

    #[test]
    fn uuids_are_lowercased() {
        assert_eq!(
            decoded(type_oid::UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
            Kind::UuidValue("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())
        );
        for bad in [
            "",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        ] {
            rejected(type_oid::UUID, bad);
        }
    }

    #[test]
    fn json_is_kept_as_is() {
        for oid in [type_oid::JSON, type_oid::JSONB] {
            assert_eq!(
                decoded(oid, r#"{"a": [1, 2]}"#),
                Kind::JsonValue(r#"{"a": [1, 2]}"#.into())
            );
        }
    }

    #[test]
    fn intervals() {
        for text in [
            "P1Y2M3DT4H5M6.5S",
            "PT0S",
            "P-1Y-2M3DT-4H-5M-6.25S",
            "P1W",
            "PT1000000H",
            "P3D",
            "PT-0.000001S",
        ] {
            assert_eq!(
                decoded(type_oid::INTERVAL, text),
                Kind::IntervalValue(text.into())
            );
        }
        assert_eq!(
            decoded(type_oid::INTERVAL, "-infinity"),
            Kind::RawText("-infinity".into())
        );
        for bad in [
            "",
            "P",
            "PT",
            "1 year 2 mons",
            "@ 1 year",
            "P1D2Y",
            "P1.5Y",
            "P1Y1Y",
            "PT1S2M",
            "P1",
            "01:00:00",
        ] {
            rejected(type_oid::INTERVAL, bad);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            decoded(type_oid::DATE, "2024-02-29"),
            Kind::DateValue(date(2024, 2, 29))
        );
        assert_eq!(
            decoded(type_oid::DATE, "2000-02-29"),
            Kind::DateValue(date(2000, 2, 29))
        );
        assert_eq!(
            decoded(type_oid::DATE, "0044-03-15 BC"),
            Kind::DateValue(date(-44, 3, 15))
        );
        // 1 BC is a leap year in the proleptic Gregorian calendar (astronomical year 0).
        assert_eq!(
            decoded(type_oid::DATE, "0001-02-29 BC"),
            Kind::DateValue(date(-1, 2, 29))
        );
        // 5 BC is astronomical year -4: a leap year.
        assert_eq!(
            decoded(type_oid::DATE, "0005-02-29 BC"),
            Kind::DateValue(date(-5, 2, 29))
        );
        assert_eq!(
            decoded(type_oid::DATE, "5874897-12-31"),
            Kind::DateValue(date(5_874_897, 12, 31))
        );
        assert_eq!(
            decoded(type_oid::DATE, "infinity"),
            Kind::RawText("infinity".into())
        );
        assert_eq!(
            decoded(type_oid::DATE, "-infinity"),
            Kind::RawText("-infinity".into())
        );
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "0002-02-29 BC",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-01-00",
            "0000-01-01",
            "24-01-01",
            "2024-1-01",
            "2024-01-01 AD",
            "2024-01-01 bc",
            "2024/01/01",
            "02-29-2024",
        ] {
            rejected(type_oid::DATE, bad);
        }
    }

    #[test]
    fn times_with_fractions_of_every_length() {
        let cases = [
            ("13:45:06", 0),
            ("13:45:06.1", 100_000_000),
            ("13:45:06.12", 120_000_000),
            ("13:45:06.123", 123_000_000),
            ("13:45:06.1234", 123_400_000),
            ("13:45:06.12345", 123_450_000),
            ("13:45:06.123456", 123_456_000),
            ("13:45:06.000001", 1_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(
                decoded(type_oid::TIME, text),
                Kind::TimeValue(time(13, 45, 6, nanos, None)),
                "{text}"
            );
        }
        assert_eq!(
            decoded(type_oid::TIME, "24:00:00"),
            Kind::TimeValue(time(24, 0, 0, 0, None))
        );
        assert_eq!(
            decoded(type_oid::TIME, "00:00:00"),
            Kind::TimeValue(time(0, 0, 0, 0, None))
        );
        for bad in [
            "24:00:01",
            "25:00:00",
            "12:60:00",
            "12:00:60",
            "1:00:00",
            "12:00",
            "12:00:00.",
            "12:00:00.1234567890",
            "12:00:00+00",
            "",
        ] {
            rejected(type_oid::TIME, bad);
        }
    }

    #[test]
    fn times_with_zone() {
        assert_eq!(
            decoded(type_oid::TIMETZ, "13:45:06+07"),
            Kind::TimeValue(time(13, 45, 6, 0, Some(7 * 3600)))
        );
        assert_eq!(
            decoded(type_oid::TIMETZ, "13:45:06.5-03:30"),
            Kind::TimeValue(time(13, 45, 6, 500_000_000, Some(-(3 * 3600 + 30 * 60))))
        );
        assert_eq!(
            decoded(type_oid::TIMETZ, "00:00:00+07:06:40"),
            Kind::TimeValue(time(0, 0, 0, 0, Some(7 * 3600 + 6 * 60 + 40)))
        );
        assert_eq!(
            decoded(type_oid::TIMETZ, "23:59:59.999999+00"),
            Kind::TimeValue(time(23, 59, 59, 999_999_000, Some(0)))
        );
        for bad in [
            "13:45:06",
            "13:45:06+7",
            "13:45:06 +07",
            "13:45:06+07:60",
            "13:45:06+0730",
            "13:45:06+07::00",
            "13:45:06Z",
        ] {
            rejected(type_oid::TIMETZ, bad);
        }
    }

    #[test]
    fn local_timestamps() {
        assert_eq!(
            decoded(type_oid::TIMESTAMP, "2024-02-29 13:45:06.123456"),
            Kind::DatetimeValue(LocalDateTime {
                date: Some(date(2024, 2, 29)),
                time: Some(time(13, 45, 6, 123_456_000, None)),
            })
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMP, "0044-03-15 12:00:00 BC"),
            Kind::DatetimeValue(LocalDateTime {
                date: Some(date(-44, 3, 15)),
                time: Some(time(12, 0, 0, 0, None)),
            })
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMP, "infinity"),
            Kind::RawText("infinity".into())
        );
        for bad in [
            "2024-02-29T13:45:06",
            "2024-02-29 24:00:00",
            "2024-02-29 13:45:06+00",
            "2024-02-29",
            "2024-02-30 00:00:00",
        ] {
            rejected(type_oid::TIMESTAMP, bad);
        }
    }

    #[test]
    fn instants() {
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "2024-02-29 13:45:06.123456+00"),
            instant(1_709_214_306, 123_456_000)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "1970-01-01 00:00:00+00"),
            instant(0, 0)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "1969-12-31 23:59:59.5+00"),
            instant(-1, 500_000_000)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "2000-01-01 07:00:00+07"),
            instant(946_684_800, 0)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "1999-12-31 20:30:00-03:30"),
            instant(946_684_800, 0)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "1900-03-01 07:06:40+07:06:40"),
            instant(-2_203_891_200, 0)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "0001-01-01 00:00:00+00"),
            instant(-62_135_596_800, 0)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "9999-12-31 23:59:59+00"),
            instant(253_402_300_799, 0)
        );
        // Julian day 0, PostgreSQL's earliest timestamp: 2 440 588 days before the Unix epoch.
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "4714-11-24 00:00:00+00 BC"),
            instant(-2_440_588 * 86_400, 0)
        );
        assert_eq!(
            decoded(type_oid::TIMESTAMPTZ, "-infinity"),
            Kind::RawText("-infinity".into())
        );
        for bad in [
            "2024-02-29 13:45:06",
            "2024-02-29 13:45:06+00 AD",
            "2024-02-29 13:45:06 BC+00",
            "2024-02-29 13:45:06+00 ",
            "2024-02-29 13:45:06.+00",
        ] {
            rejected(type_oid::TIMESTAMPTZ, bad);
        }
    }

    #[test]
    fn days_from_civil_known_values() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_eq!(days_from_civil(-4713, 11, 24), -2_440_588);
    }

    #[test]
    fn arrays() {
        let int = |n| value(Kind::IntValue(n));
        let text = |s: &str| value(Kind::TextValue(s.into()));
        assert_eq!(
            decoded(type_oid::INT4_ARRAY, "{1,2,3}"),
            array(vec![int(1), int(2), int(3)])
        );
        assert_eq!(decoded(type_oid::INT4_ARRAY, "{}"), array(vec![]));
        assert_eq!(
            decoded(type_oid::INT4_ARRAY, "{{1,2},{3,NULL}}"),
            array(vec![
                value(array(vec![int(1), int(2)])),
                value(array(vec![int(3), null()])),
            ])
        );
        assert_eq!(
            decoded(type_oid::INT4_ARRAY, "[0:2]={1,2,3}"),
            array(vec![int(1), int(2), int(3)])
        );
        assert_eq!(
            decoded(type_oid::INT4_ARRAY, "[-1:0][1:1]={{1},{2}}"),
            array(vec![value(array(vec![int(1)])), value(array(vec![int(2)]))])
        );
        assert_eq!(
            decoded(
                type_oid::TEXT_ARRAY,
                r#"{plain,"with space","quote \" and backslash \\","a,b","{}",NULL,null,"NULL",""}"#
            ),
            array(vec![
                text("plain"),
                text("with space"),
                text(r#"quote " and backslash \"#),
                text("a,b"),
                text("{}"),
                null(),
                null(),
                text("NULL"),
                text(""),
            ])
        );
        assert_eq!(
            decoded(type_oid::TEXT_ARRAY, "{ a , b\\ ,Hà Nội}"),
            array(vec![text("a"), text("b "), text("Hà Nội")])
        );
        assert_eq!(
            decoded(
                type_oid::TIMESTAMPTZ_ARRAY,
                r#"{"2024-02-29 13:45:06+00",NULL}"#
            ),
            array(vec![value(instant(1_709_214_306, 0)), null()])
        );
        assert_eq!(
            decoded(type_oid::BYTEA_ARRAY, r#"{"\\x0102"}"#),
            array(vec![value(Kind::BytesValue(vec![1, 2]))])
        );
        assert_eq!(
            decoded(type_oid::JSONB_ARRAY, r#"{"{\"a\": 1}","[]"}"#),
            array(vec![
                value(Kind::JsonValue(r#"{"a": 1}"#.into())),
                value(Kind::JsonValue("[]".into()))
            ])
        );
        assert_eq!(
            decoded(type_oid::BOOL_ARRAY, "{t,f}"),
            array(vec![
                value(Kind::BoolValue(true)),
                value(Kind::BoolValue(false))
            ])
        );
    }

    #[test]
    fn malformed_arrays() {
        for bad in [
            "",
            "1,2",
            "{1,2",
            "{1,,2}",
            "{1,}",
            "{,}",
            "{1}x",
            "{{1},2}",
            "{1,{2}}",
            "{\"unterminated}",
            "{a\"b}",
            "[0:2{1}",
            "[0:2]{1}",
            "[a:2]={1}",
            "{{{{{{{1}}}}}}}",
            "{1\\",
        ] {
            rejected(type_oid::TEXT_ARRAY, bad);
        }
        let message = rejected(type_oid::INT4_ARRAY, "{1,x,3}");
        assert!(message.contains("int4[]"), "{message}");
        assert!(message.contains("element 1 \"x\""), "{message}");
        // Six dimensions are allowed.
        assert!(decode_text(type_oid::INT4_ARRAY, -1, "{{{{{{1}}}}}}").is_ok());
    }

    #[test]
    fn error_text_is_shortened() {
        let long = "x".repeat(200);
        let ValueError::Invalid { text, .. } =
            decode_text(type_oid::INT4, -1, &long).expect_err("not an integer")
        else {
            panic!("wrong error kind")
        };
        assert_eq!(text.chars().count(), 65);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn tuple_values() {
        assert_eq!(
            decode_tuple_value(type_oid::INT4, -1, &TupleValue::Null),
            Ok(null())
        );
        assert_eq!(
            decode_tuple_value(type_oid::TEXT, -1, &TupleValue::UnchangedToast),
            Ok(value(Kind::Unchanged(true)))
        );
        assert_eq!(
            decode_tuple_value(type_oid::INT4, -1, &TupleValue::Text(b"42".to_vec())),
            Ok(value(Kind::IntValue(42)))
        );
        assert_eq!(
            decode_tuple_value(type_oid::INT4, -1, &TupleValue::Binary(vec![0, 0, 0, 42])),
            Ok(value(Kind::BytesValue(vec![0, 0, 0, 42])))
        );
        assert_eq!(
            decode_tuple_value(type_oid::TEXT, -1, &TupleValue::Text(vec![b'a', 0xC3])),
            Err(ValueError::InvalidUtf8 {
                type_name: "text".into(),
                valid_up_to: 1
            })
        );
    }

    #[test]
    fn type_names() {
        let name = |oid, modifier| builtin_type_name(oid, modifier);
        assert_eq!(name(type_oid::INT4, -1).as_deref(), Some("int4"));
        assert_eq!(
            name(type_oid::NUMERIC, ((5 << 16) | 2) + 4).as_deref(),
            Some("numeric(5,2)")
        );
        assert_eq!(
            name(type_oid::NUMERIC, (10 << 16) + 4).as_deref(),
            Some("numeric(10,0)")
        );
        // PostgreSQL 15+: numeric(3,-2) packs scale -2 as 11-bit two's complement.
        assert_eq!(
            name(type_oid::NUMERIC, ((3 << 16) | (-2i32 & 0x7FF)) + 4).as_deref(),
            Some("numeric(3,-2)")
        );
        assert_eq!(name(type_oid::NUMERIC, -1).as_deref(), Some("numeric"));
        assert_eq!(
            name(type_oid::VARCHAR, 104).as_deref(),
            Some("varchar(100)")
        );
        assert_eq!(name(type_oid::VARCHAR, -1).as_deref(), Some("varchar"));
        assert_eq!(name(type_oid::BPCHAR, 14).as_deref(), Some("bpchar(10)"));
        assert_eq!(
            name(type_oid::TIMESTAMPTZ, 3).as_deref(),
            Some("timestamptz(3)")
        );
        assert_eq!(name(type_oid::TIME, 0).as_deref(), Some("time(0)"));
        assert_eq!(name(type_oid::INTERVAL, -1).as_deref(), Some("interval"));
        assert_eq!(
            name(type_oid::INTERVAL, 0x7FFF_0003).as_deref(),
            Some("interval(3)")
        );
        assert_eq!(name(type_oid::BIT, 8).as_deref(), Some("bit(8)"));
        assert_eq!(name(type_oid::INT4_ARRAY, -1).as_deref(), Some("int4[]"));
        assert_eq!(
            name(type_oid::VARCHAR_ARRAY, 24).as_deref(),
            Some("varchar(20)[]")
        );
        assert_eq!(name(type_oid::JSON_ARRAY, -1).as_deref(), Some("json[]"));
        assert_eq!(name(16_500, -1), None);
    }

    #[test]
    fn array_oids_match_pg_type() {
        for (array_oid, element_name) in [
            (1000, "bool"),
            (1005, "int2"),
            (1007, "int4"),
            (1016, "int8"),
            (1009, "text"),
            (1015, "varchar"),
            (1014, "bpchar"),
            (1021, "float4"),
            (1022, "float8"),
            (1231, "numeric"),
            (1182, "date"),
            (1115, "timestamp"),
            (1185, "timestamptz"),
            (2951, "uuid"),
            (3807, "jsonb"),
            (199, "json"),
            (1001, "bytea"),
            (1183, "time"),
            (1187, "interval"),
        ] {
            assert_eq!(
                builtin_type_name(array_oid, -1),
                Some(format!("{element_name}[]"))
            );
        }
    }

    // ---- property tests -----------------------------------------------------------------

    /// Inverse of `days_from_civil`, written independently (by eras and day-of-era) so that each
    /// checks the other: days since 1970-01-01 → (astronomical year, month, day).
    fn civil_from_days(days: i64) -> (i64, u32, u32) {
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// Formats like PostgreSQL's ISO `timestamptz` output: zero-padded year of at least 4
    /// digits, microseconds without trailing zeros, offset as +HH[:MM[:SS]], then " BC".
    fn format_like_postgres(seconds: i64, micros: u32, offset: i32) -> String {
        let local = seconds + i64::from(offset);
        let (year, month, day) = civil_from_days(local.div_euclid(SECONDS_PER_DAY));
        let second_of_day = local.rem_euclid(SECONDS_PER_DAY);
        let (shown_year, era) = if year <= 0 {
            (1 - year, " BC")
        } else {
            (year, "")
        };
        let mut text = format!(
            "{shown_year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        );
        if micros != 0 {
            let fraction = format!("{micros:06}");
            text.push('.');
            text.push_str(fraction.trim_end_matches('0'));
        }
        let sign = if offset < 0 { '-' } else { '+' };
        let magnitude = offset.unsigned_abs();
        text.push_str(&format!("{sign}{:02}", magnitude / 3600));
        if !magnitude.is_multiple_of(3600) {
            text.push_str(&format!(":{:02}", magnitude / 60 % 60));
        }
        if !magnitude.is_multiple_of(60) {
            text.push_str(&format!(":{:02}", magnitude % 60));
        }
        text.push_str(era);
        text
    }

    /// PostgreSQL's timestamp range: 4714-11-24 BC to 294276 AD.
    const EARLIEST_SECONDS: i64 = -2_440_588 * 86_400;
    const LATEST_SECONDS: i64 = 9_224_318_015_999;

    proptest! {
        #[test]
        fn timestamptz_text_decodes_to_its_instant(
            seconds in EARLIEST_SECONDS + 86_400..LATEST_SECONDS - 86_400,
            micros in prop_oneof![Just(0u32), 0u32..1_000_000],
            offset in prop_oneof![
                Just(0i32),
                (-15i32..=15).prop_map(|hours| hours * 3600),
                -57_599i32..=57_599,
            ],
        ) {
            let text = format_like_postgres(seconds, micros, offset);
            let decoded = decode_text(type_oid::TIMESTAMPTZ, -1, &text);
            prop_assert_eq!(
                decoded,
                Ok(value(instant(seconds, (micros * 1_000) as i32))),
                "text {}", text
            );
        }

        #[test]
        fn days_from_civil_inverts_civil_from_days(days in -3_000_000_000i64..3_000_000_000) {
            let (year, month, day) = civil_from_days(days);
            prop_assert!((1..=12).contains(&month));
            prop_assert!(day >= 1 && day <= days_in_month(year, month));
            prop_assert_eq!(days_from_civil(year, month, day), days);
        }

        #[test]
        fn text_arrays_round_trip_through_array_out_quoting(
            elements in proptest::collection::vec(
                proptest::option::of("[a-zA-Z0-9 ,{}\"\\\\\tđ]{0,8}"),
                0..6,
            )
        ) {
            let literal = format!(
                "{{{}}}",
                elements.iter().map(|element| quote_like_array_out(element.as_deref()))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let expected = array(
                elements
                    .iter()
                    .map(|element| match element {
                        None => null(),
                        Some(text) => value(Kind::TextValue(text.clone())),
                    })
                    .collect(),
            );
            prop_assert_eq!(decode_text(type_oid::TEXT_ARRAY, -1, &literal), Ok(value(expected)));
        }

        #[test]
        fn decode_text_never_panics(oid in prop_oneof![
            Just(type_oid::TEXT_ARRAY), Just(type_oid::TIMESTAMPTZ), Just(type_oid::INTERVAL),
            Just(type_oid::BYTEA), Just(type_oid::DATE), Just(type_oid::TIMETZ), 0u32..4000,
        ], text in ".{0,40}") {
            let _ = decode_text(oid, -1, &text);
        }
    }

    /// How `array_out` prints one element: quoted when empty, when it reads as NULL, or when it
    /// holds a brace, comma, quote, backslash or whitespace; `"` and `\` escaped inside quotes.
    fn quote_like_array_out(element: Option<&str>) -> String {
        let Some(text) = element else {
            return "NULL".to_owned();
        };
        let needs_quotes = text.is_empty()
            || text.eq_ignore_ascii_case("NULL")
            || text.chars().any(|c| {
                matches!(
                    c,
                    '{' | '}' | ',' | '"' | '\\' | ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'
                )
            });
        if !needs_quotes {
            return text.to_owned();
        }
        let mut quoted = String::from("\"");
        for c in text.chars() {
            if matches!(c, '"' | '\\') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    }
}
