//! Date and time values: their types and their storage formats in row images.
//!
//! Two generations of formats exist. MySQL 5.6 introduced `TIME2`, `DATETIME2` and `TIMESTAMP2`
//! (big-endian, with 0–3 bytes of fractional seconds); MariaDB writes them too since 10.1.2
//! (`mysql56_temporal_format=ON`, the default). The older `TIME`, `DATETIME` and `TIMESTAMP`
//! (little-endian, no fractions) still arrive for tables created before an upgrade and never
//! rebuilt. `DATE` and `YEAR` have one format each.
//!
//! Values are kept as stored, not validated as calendar dates: MySQL accepts `0000-00-00` and
//! dates with zero parts (`2024-00-00`) unless `NO_ZERO_DATE`/`NO_ZERO_IN_DATE` forbid them, and a
//! connector must pass them on rather than fail on them.

use std::fmt;

use super::error::ValueError;
use super::reader::{uint_be, uint_le};

/// Most fractional-second digits a temporal column can have.
pub const MAX_FRACTIONAL_DIGITS: u8 = 6;

/// A `DATE` (or the date part of a `DATETIME`). Parts can be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Whether this is the zero date `0000-00-00`.
    pub fn is_zero(&self) -> bool {
        self.year == 0 && self.month == 0 && self.day == 0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A `DATETIME`: a date and a time of day, in no time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub microsecond: u32,
    /// The column's fractional-second precision (0–6), which [`fmt::Display`] prints.
    pub fractional_digits: u8,
}

impl DateTime {
    /// Whether this is the zero datetime `0000-00-00 00:00:00`.
    pub fn is_zero(&self) -> bool {
        self.date.is_zero()
            && self.hour == 0
            && self.minute == 0
            && self.second == 0
            && self.microsecond == 0
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        write_fraction(f, self.microsecond, self.fractional_digits)
    }
}

/// A `TIME`: a signed duration of up to 838 hours (the SQL type is both a time of day and an
/// interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    pub negative: bool,
    pub hours: u16,
    pub minutes: u8,
    pub seconds: u8,
    pub microseconds: u32,
    /// The column's fractional-second precision (0–6), which [`fmt::Display`] prints.
    pub fractional_digits: u8,
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(
            f,
            "{sign}{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds
        )?;
        write_fraction(f, self.microseconds, self.fractional_digits)
    }
}

/// A `TIMESTAMP`: an instant, stored as seconds since the Unix epoch in UTC whatever the session
/// time zone was.
///
/// The zero timestamp `0000-00-00 00:00:00` is stored as 0 seconds; MySQL's range starts at
/// `1970-01-01 00:00:01` UTC, so 0 is never a real instant ([`Timestamp::is_zero`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub seconds: i64,
    pub microseconds: u32,
    /// The column's fractional-second precision (0–6).
    pub fractional_digits: u8,
}

impl Timestamp {
    pub fn is_zero(&self) -> bool {
        self.seconds == 0 && self.microseconds == 0
    }

    /// The instant as a UTC date and time (proleptic Gregorian calendar).
    pub fn to_utc(&self) -> DateTime {
        let days = self.seconds.div_euclid(86_400);
        let second_of_day = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        DateTime {
            date: Date {
                year: u16::try_from(year).unwrap_or(0),
                month,
                day,
            },
            hour: (second_of_day / 3600) as u8,
            minute: (second_of_day / 60 % 60) as u8,
            second: (second_of_day % 60) as u8,
            microsecond: self.microseconds,
            fractional_digits: self.fractional_digits,
        }
    }
}

impl fmt::Display for Timestamp {
    /// The zero timestamp prints as `0000-00-00 00:00:00`, any other as its UTC date and time
    /// followed by ` UTC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            f.write_str("0000-00-00 00:00:00")?;
            write_fraction(f, 0, self.fractional_digits)
        } else {
            write!(f, "{} UTC", self.to_utc())
        }
    }
}

fn write_fraction(f: &mut fmt::Formatter<'_>, microseconds: u32, digits: u8) -> fmt::Result {
    if digits == 0 {
        return Ok(());
    }
    let digits = u32::from(digits.min(MAX_FRACTIONAL_DIGITS));
    let value = microseconds / 10u32.pow(6 - digits);
    write!(f, ".{value:0width$}", width = digits as usize)
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Bytes of fractional seconds stored for a precision of `digits` (0–6).
pub(crate) fn fraction_len(digits: u8) -> usize {
    usize::from(digits).div_ceil(2)
}

fn check_digits(type_name: &'static str, digits: u8) -> Result<(), ValueError> {
    if digits > MAX_FRACTIONAL_DIGITS {
        Err(ValueError::InvalidMetadata {
            type_name,
            reason: format!("fractional-second precision {digits} is above 6"),
        })
    } else {
        Ok(())
    }
}

fn take<'a>(bytes: &'a [u8], len: usize, type_name: &'static str) -> Result<&'a [u8], ValueError> {
    bytes.get(..len).ok_or(ValueError::Truncated {
        type_name,
        needed: len,
        available: bytes.len(),
    })
}

fn invalid(type_name: &'static str, reason: String) -> ValueError {
    ValueError::Invalid { type_name, reason }
}

/// Microseconds from the big-endian fraction bytes of a `*2` type. The stored number counts
/// hundredths (1–2 digits), ten-thousandths (3–4) or millionths (5–6) of a second.
fn fraction_microseconds(
    bytes: &[u8],
    digits: u8,
    type_name: &'static str,
) -> Result<u32, ValueError> {
    let stored = uint_be(bytes) as u32;
    let microseconds = match bytes.len() {
        0 => 0,
        1 => stored * 10_000,
        2 => stored * 100,
        _ => stored,
    };
    if microseconds >= 1_000_000 {
        return Err(invalid(
            type_name,
            format!("fractional part {stored} is out of range for {digits} digits"),
        ));
    }
    Ok(microseconds)
}

/// `DATE` (and `NEWDATE`): 3 bytes little-endian, `day | month << 5 | year << 9`.
pub(crate) fn decode_date(bytes: &[u8]) -> Result<(Date, usize), ValueError> {
    let packed = uint_le(take(bytes, 3, "DATE")?) as u32;
    let date = Date {
        year: (packed >> 9) as u16,
        month: ((packed >> 5) & 0x0F) as u8,
        day: (packed & 0x1F) as u8,
    };
    if date.month > 12 {
        return Err(invalid("DATE", format!("month {} is above 12", date.month)));
    }
    Ok((date, 3))
}

/// `YEAR`: one byte, 0 for the zero year, else the year minus 1900.
pub(crate) fn decode_year(bytes: &[u8]) -> Result<(u16, usize), ValueError> {
    let stored = take(bytes, 1, "YEAR")?[0];
    let year = if stored == 0 {
        0
    } else {
        1900 + u16::from(stored)
    };
    Ok((year, 1))
}

/// Old `TIME`: 3 bytes little-endian, signed, the decimal number `±HHMMSS`.
pub(crate) fn decode_time_v1(bytes: &[u8]) -> Result<(Time, usize), ValueError> {
    let raw = uint_le(take(bytes, 3, "TIME")?) as u32;
    // Sign-extend the 24-bit value.
    let value = ((raw << 8) as i32) >> 8;
    let magnitude = value.unsigned_abs();
    let time = Time {
        negative: value < 0,
        hours: (magnitude / 10_000) as u16,
        minutes: (magnitude / 100 % 100) as u8,
        seconds: (magnitude % 100) as u8,
        microseconds: 0,
        fractional_digits: 0,
    };
    check_minutes_seconds("TIME", time.minutes, time.seconds)?;
    Ok((time, 3))
}

/// Old `DATETIME`: 8 bytes little-endian, the decimal number `YYYYMMDDhhmmss`.
pub(crate) fn decode_datetime_v1(bytes: &[u8]) -> Result<(DateTime, usize), ValueError> {
    let value = uint_le(take(bytes, 8, "DATETIME")?);
    let date_part = value / 1_000_000;
    let time_part = value % 1_000_000;
    if date_part > 99_991_231 {
        return Err(invalid("DATETIME", format!("{value} is out of range")));
    }
    let datetime = DateTime {
        date: Date {
            year: (date_part / 10_000) as u16,
            month: (date_part / 100 % 100) as u8,
            day: (date_part % 100) as u8,
        },
        hour: (time_part / 10_000) as u8,
        minute: (time_part / 100 % 100) as u8,
        second: (time_part % 100) as u8,
        microsecond: 0,
        fractional_digits: 0,
    };
    check_datetime("DATETIME", &datetime)?;
    Ok((datetime, 8))
}

/// Old `TIMESTAMP`: 4 bytes little-endian, seconds since the epoch.
pub(crate) fn decode_timestamp_v1(bytes: &[u8]) -> Result<(Timestamp, usize), ValueError> {
    let seconds = uint_le(take(bytes, 4, "TIMESTAMP")?);
    Ok((
        Timestamp {
            seconds: seconds as i64,
            microseconds: 0,
            fractional_digits: 0,
        },
        4,
    ))
}

/// `TIMESTAMP2`: 4 bytes big-endian seconds since the epoch, then the fraction.
pub(crate) fn decode_timestamp2(
    bytes: &[u8],
    digits: u8,
) -> Result<(Timestamp, usize), ValueError> {
    const NAME: &str = "TIMESTAMP";
    check_digits(NAME, digits)?;
    let len = 4 + fraction_len(digits);
    let stored = take(bytes, len, NAME)?;
    let seconds = uint_be(&stored[..4]);
    let microseconds = fraction_microseconds(&stored[4..], digits, NAME)?;
    Ok((
        Timestamp {
            seconds: seconds as i64,
            microseconds,
            fractional_digits: digits,
        },
        len,
    ))
}

/// `DATETIME2`: 5 bytes big-endian holding, after an offset of 2^39, the bit fields
/// `sign(1) year*13+month(17) day(5) hour(5) minute(6) second(6)`; then the fraction.
pub(crate) fn decode_datetime2(bytes: &[u8], digits: u8) -> Result<(DateTime, usize), ValueError> {
    const NAME: &str = "DATETIME";
    const INT_OFFSET: i64 = 0x80_0000_0000;
    check_digits(NAME, digits)?;
    let len = 5 + fraction_len(digits);
    let stored = take(bytes, len, NAME)?;
    let int_part = uint_be(&stored[..5]) as i64 - INT_OFFSET;
    if int_part < 0 {
        return Err(invalid(NAME, "negative datetime".to_owned()));
    }
    let microsecond = fraction_microseconds(&stored[5..], digits, NAME)?;
    let year_month = int_part >> 22;
    let datetime = DateTime {
        date: Date {
            year: (year_month / 13) as u16,
            month: (year_month % 13) as u8,
            day: ((int_part >> 17) & 0x1F) as u8,
        },
        hour: ((int_part >> 12) & 0x1F) as u8,
        minute: ((int_part >> 6) & 0x3F) as u8,
        second: (int_part & 0x3F) as u8,
        microsecond,
        fractional_digits: digits,
    };
    check_datetime(NAME, &datetime)?;
    Ok((datetime, len))
}

/// `TIME2`: 3 bytes big-endian holding, after an offset of 2^23, the bit fields
/// `sign(1) unused(1) hour(10) minute(6) second(6)`; then the fraction. Negative values are
/// stored as the two's complement of the whole (integer and fraction) number, so a negative
/// time with a fraction has its integer part one too low and its fraction complemented.
pub(crate) fn decode_time2(bytes: &[u8], digits: u8) -> Result<(Time, usize), ValueError> {
    const NAME: &str = "TIME";
    const INT_OFFSET: i64 = 0x80_0000;
    check_digits(NAME, digits)?;
    let frac_len = fraction_len(digits);
    let stored = take(bytes, 3 + frac_len, NAME)?;
    let int_part = uint_be(&stored[..3]) as i64 - INT_OFFSET;
    let frac = uint_be(&stored[3..]) as i64;
    // Packed as (seconds part << 24) + microseconds, signed.
    let packed = match frac_len {
        0 => int_part << 24,
        1 | 2 => {
            let (mut int_part, mut frac) = (int_part, frac);
            let modulus = 1i64 << (8 * frac_len);
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= modulus;
            }
            let scale = if frac_len == 1 { 10_000 } else { 100 };
            (int_part << 24) + frac * scale
        }
        // 3 bytes of microseconds: the 6 bytes read as one offset number are exactly this.
        _ => (int_part << 24) + frac,
    };
    let negative = packed < 0;
    let magnitude = packed.unsigned_abs();
    let microseconds = (magnitude % (1 << 24)) as u32;
    let hms = magnitude >> 24;
    if microseconds >= 1_000_000 {
        return Err(invalid(
            NAME,
            format!("fractional part {microseconds} is out of range"),
        ));
    }
    let time = Time {
        negative,
        hours: ((hms >> 12) & 0x3FF) as u16,
        minutes: ((hms >> 6) & 0x3F) as u8,
        seconds: (hms & 0x3F) as u8,
        microseconds,
        fractional_digits: digits,
    };
    check_minutes_seconds(NAME, time.minutes, time.seconds)?;
    Ok((time, 3 + frac_len))
}

fn check_minutes_seconds(
    type_name: &'static str,
    minutes: u8,
    seconds: u8,
) -> Result<(), ValueError> {
    if minutes > 59 || seconds > 59 {
        Err(invalid(
            type_name,
            format!("minutes {minutes} or seconds {seconds} above 59"),
        ))
    } else {
        Ok(())
    }
}

fn check_datetime(type_name: &'static str, datetime: &DateTime) -> Result<(), ValueError> {
    if datetime.date.month > 12 || datetime.date.day > 31 || datetime.hour > 23 {
        return Err(invalid(
            type_name,
            format!("{datetime} has a month, day or hour out of range"),
        ));
    }
    check_minutes_seconds(type_name, datetime.minute, datetime.second)
}

/// Test-only encoders: the inverse of the decoders, written from the format description, used by
/// the round-trip property tests and by fixtures built by hand.
#[cfg(test)]
pub(crate) mod encode {
    use super::*;

    fn fraction_bytes(microseconds: u32, digits: u8) -> Vec<u8> {
        let len = fraction_len(digits);
        let stored = match len {
            0 => 0,
            1 => microseconds / 10_000,
            2 => microseconds / 100,
            _ => microseconds,
        };
        stored.to_be_bytes()[4 - len..].to_vec()
    }

    pub(crate) fn datetime2(datetime: &DateTime) -> Vec<u8> {
        let year_month = i64::from(datetime.date.year) * 13 + i64::from(datetime.date.month);
        let int_part = (year_month << 22)
            | (i64::from(datetime.date.day) << 17)
            | (i64::from(datetime.hour) << 12)
            | (i64::from(datetime.minute) << 6)
            | i64::from(datetime.second);
        let stored = (int_part + 0x80_0000_0000) as u64;
        let mut bytes = stored.to_be_bytes()[3..].to_vec();
        bytes.extend(fraction_bytes(
            datetime.microsecond,
            datetime.fractional_digits,
        ));
        bytes
    }

    pub(crate) fn time2(time: &Time) -> Vec<u8> {
        let hms = (i64::from(time.hours) << 12)
            | (i64::from(time.minutes) << 6)
            | i64::from(time.seconds);
        let len = fraction_len(time.fractional_digits);
        let frac = match len {
            0 => 0,
            1 => i64::from(time.microseconds / 10_000),
            2 => i64::from(time.microseconds / 100),
            _ => i64::from(time.microseconds),
        };
        // The whole number hms.frac in units of the stored fraction, negated as a whole.
        let mut whole = (hms << (8 * len)) + frac;
        if time.negative {
            whole = -whole;
        }
        let offset = 0x80_0000i64 << (8 * len);
        let stored = (whole + offset) as u64;
        stored.to_be_bytes()[8 - 3 - len..].to_vec()
    }

    pub(crate) fn timestamp2(timestamp: &Timestamp) -> Vec<u8> {
        let mut bytes = (timestamp.seconds as u32).to_be_bytes().to_vec();
        bytes.extend(fraction_bytes(
            timestamp.microseconds,
            timestamp.fractional_digits,
        ));
        bytes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn datetime(
        (year, month, day): (u16, u8, u8),
        (hour, minute, second): (u8, u8, u8),
        microsecond: u32,
        fractional_digits: u8,
    ) -> DateTime {
        DateTime {
            date: Date { year, month, day },
            hour,
            minute,
            second,
            microsecond,
            fractional_digits,
        }
    }

    #[test]
    fn datetime2_known_bytes() {
        // '2024-02-29 13:45:06' DATETIME(0): 99 b2 ba db 46 as the server writes it.
        let (value, len) = decode_datetime2(&[0x99, 0xb2, 0xba, 0xdb, 0x46], 0).unwrap();
        assert_eq!(len, 5);
        assert_eq!(value, datetime((2024, 2, 29), (13, 45, 6), 0, 0));
        assert_eq!(value.to_string(), "2024-02-29 13:45:06");
    }

    #[test]
    fn datetime2_every_precision() {
        let expected = [
            (0, 0, "2001-02-03 04:05:06"),
            (1, 100_000, "2001-02-03 04:05:06.1"),
            (2, 120_000, "2001-02-03 04:05:06.12"),
            (3, 123_000, "2001-02-03 04:05:06.123"),
            (4, 123_400, "2001-02-03 04:05:06.1234"),
            (5, 123_450, "2001-02-03 04:05:06.12345"),
            (6, 123_456, "2001-02-03 04:05:06.123456"),
        ];
        for (digits, microsecond, text) in expected {
            let value = datetime((2001, 2, 3), (4, 5, 6), microsecond, digits);
            let bytes = encode::datetime2(&value);
            assert_eq!(bytes.len(), 5 + fraction_len(digits));
            let (decoded, len) = decode_datetime2(&bytes, digits).unwrap();
            assert_eq!(len, bytes.len());
            assert_eq!(decoded, value);
            assert_eq!(decoded.to_string(), text);
        }
    }

    #[test]
    fn zero_datetime_and_date() {
        let (value, _) = decode_datetime2(&[0x80, 0, 0, 0, 0], 0).unwrap();
        assert!(value.is_zero());
        assert_eq!(value.to_string(), "0000-00-00 00:00:00");
        let (date, _) = decode_date(&[0, 0, 0]).unwrap();
        assert!(date.is_zero());
        assert_eq!(date.to_string(), "0000-00-00");
    }

    #[test]
    fn date_packs_day_month_year() {
        // 2024-02-29: 29 | 2 << 5 | 2024 << 9 = 0x0fd05d
        let (date, len) = decode_date(&[0x5d, 0xd0, 0x0f]).unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            date,
            Date {
                year: 2024,
                month: 2,
                day: 29
            }
        );
        assert!(decode_date(&[0xff, 0x01, 0x00]).is_err());
    }

    #[test]
    fn time2_negative_with_fractions() {
        let cases = [
            (false, 0, 0, 0, 0, 0, "00:00:00"),
            (true, 838, 59, 59, 0, 0, "-838:59:59"),
            (false, 838, 59, 59, 0, 0, "838:59:59"),
            (true, 0, 0, 0, 500_000, 1, "-00:00:00.5"),
            (true, 1, 2, 3, 450_000, 2, "-01:02:03.45"),
            (true, 12, 34, 56, 789_000, 3, "-12:34:56.789"),
            (true, 12, 34, 56, 100, 4, "-12:34:56.0001"),
            (true, 12, 34, 56, 1, 6, "-12:34:56.000001"),
            (false, 12, 34, 56, 999_999, 6, "12:34:56.999999"),
        ];
        for (negative, hours, minutes, seconds, microseconds, digits, text) in cases {
            let time = Time {
                negative,
                hours,
                minutes,
                seconds,
                microseconds,
                fractional_digits: digits,
            };
            let bytes = encode::time2(&time);
            let (decoded, len) = decode_time2(&bytes, digits).unwrap();
            assert_eq!(len, bytes.len(), "{text}");
            assert_eq!(decoded, time, "{text}");
            assert_eq!(decoded.to_string(), text);
        }
    }

    #[test]
    fn time2_known_bytes() {
        // TIME(0) '-00:00:01' is 0x800000 - 1 = 7f ff ff.
        let (time, _) = decode_time2(&[0x7f, 0xff, 0xff], 0).unwrap();
        assert_eq!(time.to_string(), "-00:00:01");
        // TIME(2) '-00:00:00.01': integer part -1, fraction 0x100 - 1.
        let (time, _) = decode_time2(&[0x7f, 0xff, 0xff, 0xff], 2).unwrap();
        assert_eq!(time.to_string(), "-00:00:00.01");
    }

    #[test]
    fn timestamp2_with_fraction() {
        let (value, len) =
            decode_timestamp2(&[0x65, 0x92, 0x00, 0x80, 0x01, 0xe2, 0x40], 6).unwrap();
        assert_eq!(len, 7);
        assert_eq!(value.seconds, 0x6592_0080);
        assert_eq!(value.microseconds, 123_456);
        assert_eq!(value.to_utc().to_string(), "2024-01-01 00:00:00.123456");
        assert_eq!(value.to_string(), "2024-01-01 00:00:00.123456 UTC");
        let (zero, _) = decode_timestamp2(&[0, 0, 0, 0], 0).unwrap();
        assert!(zero.is_zero());
        assert_eq!(zero.to_string(), "0000-00-00 00:00:00");
    }

    #[test]
    fn old_formats() {
        // 2024-02-29 13:45:06 as the number YYYYMMDDhhmmss.
        let value: u64 = 20_240_229_134_506;
        let (datetime, len) = decode_datetime_v1(&value.to_le_bytes()).unwrap();
        assert_eq!(len, 8);
        assert_eq!(datetime.to_string(), "2024-02-29 13:45:06");

        let stored = (-8_385_959i32).to_le_bytes();
        let (time, len) = decode_time_v1(&stored[..3]).unwrap();
        assert_eq!(len, 3);
        assert_eq!(time.to_string(), "-838:59:59");

        let (timestamp, _) = decode_timestamp_v1(&1_000_000_000u32.to_le_bytes()).unwrap();
        assert_eq!(timestamp.to_utc().to_string(), "2001-09-09 01:46:40");

        assert_eq!(decode_year(&[0]).unwrap(), (0, 1));
        assert_eq!(decode_year(&[124]).unwrap(), (2024, 1));
        assert_eq!(decode_year(&[255]).unwrap(), (2155, 1));
    }

    #[test]
    fn errors_on_bad_input() {
        assert!(matches!(
            decode_datetime2(&[0x99, 0xb2], 0),
            Err(ValueError::Truncated { needed: 5, .. })
        ));
        assert!(matches!(
            decode_datetime2(&[0x99, 0xb2, 0xba, 0xdb, 0x46], 7),
            Err(ValueError::InvalidMetadata { .. })
        ));
        // Fraction 0xffffff is more than 999999 microseconds.
        assert!(matches!(
            decode_datetime2(&[0x99, 0xb2, 0xba, 0xdb, 0x46, 0xff, 0xff, 0xff], 6),
            Err(ValueError::Invalid { .. })
        ));
        // Minute 63.
        assert!(matches!(
            decode_time2(&[0x80, 0x0f, 0xc0], 0),
            Err(ValueError::Invalid { .. })
        ));
    }

    #[test]
    fn civil_dates_around_leap_years() {
        for (seconds, text) in [
            (0i64, "1970-01-01 00:00:00"),
            (951_782_400, "2000-02-29 00:00:00"),
            (2_147_483_647, "2038-01-19 03:14:07"),
            (4_294_967_295, "2106-02-07 06:28:15"),
        ] {
            let timestamp = Timestamp {
                seconds,
                microseconds: 0,
                fractional_digits: 0,
            };
            assert_eq!(timestamp.to_utc().to_string(), text);
        }
    }

    proptest! {
        #[test]
        fn datetime2_round_trips(
            year in 0u16..=9999, month in 0u8..=12, day in 0u8..=31,
            hour in 0u8..=23, minute in 0u8..=59, second in 0u8..=59,
            microsecond in 0u32..1_000_000, digits in 0u8..=6,
        ) {
            let scale = 10u32.pow(6 - u32::from(digits));
            let value = datetime((year, month, day), (hour, minute, second),
                microsecond / scale * scale, digits);
            let bytes = encode::datetime2(&value);
            let (decoded, len) = decode_datetime2(&bytes, digits).unwrap();
            prop_assert_eq!(len, bytes.len());
            prop_assert_eq!(decoded, value);
        }

        #[test]
        fn time2_round_trips(
            negative: bool, hours in 0u16..=838, minutes in 0u8..=59, seconds in 0u8..=59,
            microseconds in 0u32..1_000_000, digits in 0u8..=6,
        ) {
            let scale = 10u32.pow(6 - u32::from(digits));
            let microseconds = microseconds / scale * scale;
            let zero = hours == 0 && minutes == 0 && seconds == 0 && microseconds == 0;
            let time = Time { negative: negative && !zero, hours, minutes, seconds, microseconds,
                fractional_digits: digits };
            let bytes = encode::time2(&time);
            let (decoded, len) = decode_time2(&bytes, digits).unwrap();
            prop_assert_eq!(len, bytes.len());
            prop_assert_eq!(decoded, time);
        }

        #[test]
        fn timestamp2_round_trips(seconds in 0u32..=u32::MAX, microseconds in 0u32..1_000_000,
            digits in 0u8..=6) {
            let scale = 10u32.pow(6 - u32::from(digits));
            let value = Timestamp { seconds: i64::from(seconds),
                microseconds: microseconds / scale * scale, fractional_digits: digits };
            let bytes = encode::timestamp2(&value);
            let (decoded, _) = decode_timestamp2(&bytes, digits).unwrap();
            prop_assert_eq!(decoded, value);
        }

        #[test]
        fn temporal_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..10),
            digits in 0u8..=8) {
            let _ = decode_datetime2(&bytes, digits);
            let _ = decode_time2(&bytes, digits);
            let _ = decode_timestamp2(&bytes, digits);
            let _ = decode_date(&bytes);
            let _ = decode_time_v1(&bytes);
            let _ = decode_datetime_v1(&bytes);
        }
    }
}
