//! Calendar dates: whole dates for validity ranges and freshness, and the parsing of dates as
//! Vietnamese sources write them, partial dates included.
//!
//! Vietnamese records write dates day first (`15/03/1975`, `5-3-1975`), and old registers often
//! knew only the year or the month of a birth: they wrote `00/00/1975`, `00/03/1975`, `03/1975`
//! or just `1975`. Such a value is not an error but a *partial* date, which the contracts carry as
//! a [`Date`] with the unknown parts 0 (see `common.proto`). `00/00/0000` is the usual way to
//! write "unknown" and parses to no date at all.
//!
//! The hub runs in Vietnam's time zone for calendar purposes: the date a change happened on (which
//! code list version applies, whether a province code was still valid) is the date in UTC+07:00,
//! which has no daylight saving time.
//!
//! Nothing here reads a clock: callers pass `now`.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use lienthong_proto::v1::Date;

/// Offset of Vietnam's time zone (ICT, UTC+07:00, no daylight saving time) in seconds.
pub const VIETNAM_UTC_OFFSET_SECONDS: i64 = 7 * 3600;

const SECONDS_PER_DAY: i64 = 86_400;

/// A whole calendar date in the proleptic Gregorian calendar, years 1 to 9999.
///
/// Ordered chronologically. `Display` and [`CivilDate::parse_iso`] use `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    // Field order matters: the derived `Ord` compares year, then month, then day.
    year: i32,
    month: u8,
    day: u8,
}

impl CivilDate {
    /// 1970-01-01.
    pub const UNIX_EPOCH: CivilDate = CivilDate {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// The date, if it exists (`2024-02-29` does, `2023-02-29` does not) and its year is 1–9999.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month))
            .then(|| days_in_month(year, month))
            .filter(|&last| (1..=last).contains(&day))
            .map(|_| CivilDate { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Parses `YYYY-MM-DD` exactly (four-digit year, two-digit month and day).
    ///
    /// ```
    /// use lienthong_translate::date::CivilDate;
    /// assert_eq!(CivilDate::parse_iso("2025-07-01"), CivilDate::new(2025, 7, 1));
    /// assert_eq!(CivilDate::parse_iso("2025-02-29"), None);
    /// assert_eq!(CivilDate::parse_iso("2025-7-1"), None);
    /// ```
    pub fn parse_iso(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year = digits_value(&b[0..4])?;
        let month = digits_value(&b[5..7])?;
        let day = digits_value(&b[8..10])?;
        CivilDate::new(
            i32::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's `days_from_civil`, on a calendar whose years start in March so the
        // leap day is the last day of the year.
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` days after 1970-01-01; `None` outside years 1–9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Self> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        CivilDate::new(
            i32::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }

    /// The calendar date in Vietnam at an instant given as seconds since the Unix epoch.
    pub fn in_vietnam_at_unix_seconds(seconds: i64) -> Option<Self> {
        let local = seconds.checked_add(VIETNAM_UTC_OFFSET_SECONDS)?;
        CivilDate::from_days_since_epoch(local.div_euclid(SECONDS_PER_DAY))
    }

    /// The calendar date in Vietnam at `at`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use lienthong_translate::date::CivilDate;
    /// // 2025-06-30 17:00 UTC is already 2025-07-01 00:00 in Vietnam.
    /// let at = UNIX_EPOCH + Duration::from_secs(1_751_302_800);
    /// assert_eq!(CivilDate::in_vietnam(at), CivilDate::new(2025, 7, 1));
    /// ```
    pub fn in_vietnam(at: SystemTime) -> Option<Self> {
        CivilDate::in_vietnam_at_unix_seconds(unix_seconds(at))
    }

    /// The calendar date in Vietnam at a protobuf instant.
    pub fn in_vietnam_at(timestamp: &prost_types::Timestamp) -> Option<Self> {
        CivilDate::in_vietnam_at_unix_seconds(timestamp.seconds)
    }

    /// As a contract [`Date`] with every part set.
    pub fn to_proto(self) -> Date {
        Date {
            year: self.year,
            month: i32::from(self.month),
            day: i32::from(self.day),
        }
    }

    /// A contract [`Date`] that names one whole day; `None` for partial or impossible dates.
    pub fn from_proto(date: &Date) -> Option<Self> {
        CivilDate::new(
            date.year,
            u8::try_from(date.month).ok()?,
            u8::try_from(date.day).ok()?,
        )
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for CivilDate {
    type Err = InvalidIsoDate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CivilDate::parse_iso(s).ok_or_else(|| InvalidIsoDate(s.to_owned()))
    }
}

/// A text is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date written YYYY-MM-DD")]
pub struct InvalidIsoDate(pub String);

/// Seconds since the Unix epoch (negative before it).
pub fn unix_seconds(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs())
            .map(|s| -s)
            .unwrap_or(i64::MIN),
    }
}

/// `SystemTime` as a protobuf timestamp.
pub fn to_timestamp(at: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(at)
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether a contract [`Date`] is well formed: all parts 0 (unknown), or a year 1–9999 with a
/// known month and day, a known month only, or neither — and a day that exists in its month.
///
/// ```
/// use lienthong_proto::v1::Date;
/// use lienthong_translate::date::is_valid_date;
/// assert!(is_valid_date(&Date { year: 1975, month: 0, day: 0 }));
/// assert!(is_valid_date(&Date { year: 1975, month: 3, day: 0 }));
/// assert!(!is_valid_date(&Date { year: 1975, month: 0, day: 15 }));
/// assert!(!is_valid_date(&Date { year: 2023, month: 2, day: 29 }));
/// ```
pub fn is_valid_date(date: &Date) -> bool {
    match (date.year, date.month, date.day) {
        (0, 0, 0) => true,
        (year, 0, 0) => (1..=9999).contains(&year),
        (year, month, 0) => (1..=9999).contains(&year) && (1..=12).contains(&month),
        (year, month, day) => u8::try_from(month)
            .ok()
            .zip(u8::try_from(day).ok())
            .and_then(|(m, d)| CivilDate::new(year, m, d))
            .is_some(),
    }
}

/// Whether the date has a year but lacks its month or day.
pub fn is_partial(date: &Date) -> bool {
    date.year != 0 && (date.month == 0 || date.day == 0)
}

/// Whether every part is 0.
pub fn is_unknown(date: &Date) -> bool {
    date.year == 0 && date.month == 0 && date.day == 0
}

/// The earliest and the latest whole day a (possibly partial) date can stand for: `1975` spans
/// 1975-01-01 to 1975-12-31, `03/1975` the days of March 1975. `None` for unknown or invalid
/// dates.
pub fn day_range(date: &Date) -> Option<(CivilDate, CivilDate)> {
    if !is_valid_date(date) || is_unknown(date) {
        return None;
    }
    let month = u8::try_from(date.month).ok()?;
    let day = u8::try_from(date.day).ok()?;
    match (month, day) {
        (0, _) => Some((
            CivilDate::new(date.year, 1, 1)?,
            CivilDate::new(date.year, 12, 31)?,
        )),
        (m, 0) => Some((
            CivilDate::new(date.year, m, 1)?,
            CivilDate::new(date.year, m, days_in_month(date.year, m))?,
        )),
        (m, d) => {
            let whole = CivilDate::new(date.year, m, d)?;
            Some((whole, whole))
        }
    }
}

/// Text form of a (possibly partial) contract date: `1975-03-15`, `1975-03`, `1975`, or empty
/// when unknown.
pub fn format_date(date: &Date) -> String {
    match (date.year, date.month, date.day) {
        (0, 0, 0) => String::new(),
        (y, 0, _) => format!("{y:04}"),
        (y, m, 0) => format!("{y:04}-{m:02}"),
        (y, m, d) => format!("{y:04}-{m:02}-{d:02}"),
    }
}

fn digits_value(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// A date format as mapping files write it: the tokens `dd` (two-digit day), `d` (one- or
/// two-digit day), `mm`, `m` (the same for months) and `yyyy` (four-digit year), joined by
/// separator characters that must appear as written (`/`, `-`, `.`, space...).
///
/// Examples: `dd/mm/yyyy`, `d/m/yyyy`, `yyyy-mm-dd`, `yyyymmdd`, `mm/yyyy`, `yyyy`.
///
/// A variable-width token (`d`, `m`) must be followed by a separator or end the pattern, so that
/// the digits can be split without guessing (`dmyyyy` is rejected). Two-digit years are not
/// supported: for a birth date, `75` could be 1875, 1975 or 2075.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    text: String,
    parts: Vec<PatternPart>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternPart {
    Day { fixed_width: bool },
    Month { fixed_width: bool },
    Year,
    Literal(char),
}

/// A date pattern is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatePatternError {
    #[error("the date format is empty")]
    Empty,
    #[error(
        "date format {pattern:?}: unknown token {token:?} (use dd, d, mm, m, yyyy and separators \
         such as / - . or space)"
    )]
    UnknownToken { pattern: String, token: String },
    #[error("date format {pattern:?}: {part} appears twice")]
    Repeated { pattern: String, part: &'static str },
    #[error("date format {pattern:?} has no year (yyyy)")]
    NoYear { pattern: String },
    #[error("date format {pattern:?} has a day but no month")]
    DayWithoutMonth { pattern: String },
    #[error(
        "date format {pattern:?}: the one- or two-digit token {token:?} must be followed by a \
         separator or end the format"
    )]
    AmbiguousWidth { pattern: String, token: String },
}

impl DatePattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has a day token (a pattern without one can only give partial dates).
    pub fn has_day(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, PatternPart::Day { .. }))
    }

    /// Reads `text` if it has exactly this pattern's shape: `(year, month, day)` with 0 for parts
    /// the pattern lacks. No range checks.
    fn match_text(&self, text: &str) -> Option<(u32, u32, u32)> {
        let bytes = text.as_bytes();
        let (mut year, mut month, mut day) = (0, 0, 0);
        let mut pos = 0;
        for part in &self.parts {
            match *part {
                PatternPart::Literal(c) => {
                    let mut buf = [0u8; 4];
                    let lit = c.encode_utf8(&mut buf).as_bytes();
                    if !bytes.get(pos..)?.starts_with(lit) {
                        return None;
                    }
                    pos += lit.len();
                }
                PatternPart::Year => {
                    year = digits_value(bytes.get(pos..pos + 4)?)?;
                    pos += 4;
                }
                PatternPart::Day { fixed_width } | PatternPart::Month { fixed_width } => {
                    let width = if fixed_width {
                        2
                    } else {
                        let run = bytes
                            .get(pos..)?
                            .iter()
                            .take_while(|b| b.is_ascii_digit())
                            .count();
                        if !(1..=2).contains(&run) {
                            return None;
                        }
                        run
                    };
                    let value = digits_value(bytes.get(pos..pos + width)?)?;
                    pos += width;
                    if matches!(part, PatternPart::Day { .. }) {
                        day = value;
                    } else {
                        month = value;
                    }
                }
            }
        }
        (pos == bytes.len()).then_some((year, month, day))
    }
}

impl fmt::Display for DatePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for DatePattern {
    type Err = DatePatternError;

    /// ```
    /// use lienthong_translate::date::DatePattern;
    /// assert!("dd/mm/yyyy".parse::<DatePattern>().is_ok());
    /// assert!("dmyyyy".parse::<DatePattern>().is_err());
    /// assert!("dd/mm/yy".parse::<DatePattern>().is_err());
    /// ```
    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        if pattern.is_empty() {
            return Err(DatePatternError::Empty);
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !c.is_alphanumeric() {
                parts.push(PatternPart::Literal(c));
                i += 1;
                continue;
            }
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            let token: String = chars[i..i + run].iter().collect();
            let part = match token.as_str() {
                "d" => PatternPart::Day { fixed_width: false },
                "dd" => PatternPart::Day { fixed_width: true },
                "m" => PatternPart::Month { fixed_width: false },
                "mm" => PatternPart::Month { fixed_width: true },
                "yyyy" => PatternPart::Year,
                _ => {
                    return Err(DatePatternError::UnknownToken {
                        pattern: pattern.to_owned(),
                        token,
                    });
                }
            };
            if let PatternPart::Day { fixed_width: false }
            | PatternPart::Month { fixed_width: false } = part
                && chars
                    .get(i + run)
                    .is_some_and(|next| next.is_alphanumeric())
            {
                return Err(DatePatternError::AmbiguousWidth {
                    pattern: pattern.to_owned(),
                    token,
                });
            }
            parts.push(part);
            i += run;
        }
        let count = |f: fn(&PatternPart) -> bool| parts.iter().filter(|p| f(p)).count();
        let years = count(|p| matches!(p, PatternPart::Year));
        let months = count(|p| matches!(p, PatternPart::Month { .. }));
        let days = count(|p| matches!(p, PatternPart::Day { .. }));
        for (n, part) in [
            (years, "the year"),
            (months, "the month"),
            (days, "the day"),
        ] {
            if n > 1 {
                return Err(DatePatternError::Repeated {
                    pattern: pattern.to_owned(),
                    part,
                });
            }
        }
        if years == 0 {
            return Err(DatePatternError::NoYear {
                pattern: pattern.to_owned(),
            });
        }
        if days == 1 && months == 0 {
            return Err(DatePatternError::DayWithoutMonth {
                pattern: pattern.to_owned(),
            });
        }
        Ok(DatePattern {
            text: pattern.to_owned(),
            parts,
        })
    }
}

/// A text could not be read as a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateParseError {
    #[error("the text matches none of the date formats {formats}")]
    NoFormatMatches { formats: String },
    #[error("month {month} does not exist")]
    MonthOutOfRange { month: u32 },
    #[error("day {day} does not exist in {year:04}-{month:02}")]
    DayOutOfRange { year: u32, month: u32, day: u32 },
    #[error("year 0000 with a known month or day")]
    YearZero,
    #[error("a day is given but the month is unknown (00)")]
    DayWithoutMonth,
    #[error("the date is partial (day or month 00) and this field allows only whole dates")]
    PartialNotAllowed,
}

/// Reads a date written in one of `patterns` (tried in order; surrounding white space ignored).
///
/// - A day or month written `00` (or `0`) means unknown: `00/03/1975` is March 1975 and
///   `00/00/1975` is 1975. A pattern without a day or month gives the same partial dates.
///   With `allow_partial` false these are [`DateParseError::PartialNotAllowed`].
/// - `00/00/0000` (all parts zero) and empty text mean "no date": `Ok(None)`.
/// - A day that does not exist in its month (`31/04/1975`, `29/02/1975`) is an error, as is a
///   known day in an unknown month.
///
/// When several patterns have the text's shape, the first that gives a valid date wins; if none
/// does, the error is the first shape match's.
///
/// ```
/// use lienthong_proto::v1::Date;
/// use lienthong_translate::date::{parse_date, DatePattern};
/// let formats: Vec<DatePattern> = ["dd/mm/yyyy", "d/m/yyyy", "mm/yyyy", "yyyy"]
///     .iter().map(|f| f.parse().unwrap()).collect();
/// let d = |y, m, d| Some(Date { year: y, month: m, day: d });
/// assert_eq!(parse_date("15/03/1975", &formats, true)?, d(1975, 3, 15));
/// assert_eq!(parse_date(" 5/3/1975 ", &formats, true)?, d(1975, 3, 5));
/// assert_eq!(parse_date("00/00/1975", &formats, true)?, d(1975, 0, 0));
/// assert_eq!(parse_date("1975", &formats, true)?, d(1975, 0, 0));
/// assert_eq!(parse_date("00/00/0000", &formats, true)?, None);
/// assert!(parse_date("31/04/1975", &formats, true).is_err());
/// assert!(parse_date("1975", &formats, false).is_err());
/// # Ok::<(), lienthong_translate::date::DateParseError>(())
/// ```
pub fn parse_date(
    text: &str,
    patterns: &[DatePattern],
    allow_partial: bool,
) -> Result<Option<Date>, DateParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut first_error = None;
    for pattern in patterns {
        let Some((year, month, day)) = pattern.match_text(text) else {
            continue;
        };
        match check_parts(year, month, day, allow_partial) {
            Ok(date) => return Ok(date),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(
        first_error.unwrap_or_else(|| DateParseError::NoFormatMatches {
            formats: patterns
                .iter()
                .map(|p| format!("{:?}", p.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    )
}

fn check_parts(
    year: u32,
    month: u32,
    day: u32,
    allow_partial: bool,
) -> Result<Option<Date>, DateParseError> {
    if year == 0 && month == 0 && day == 0 {
        return Ok(None);
    }
    if year == 0 {
        return Err(DateParseError::YearZero);
    }
    if month > 12 {
        return Err(DateParseError::MonthOutOfRange { month });
    }
    if month == 0 && day != 0 {
        return Err(DateParseError::DayWithoutMonth);
    }
    // `year` has at most four digits, so it fits.
    let year_i = i32::try_from(year).unwrap_or(i32::MAX);
    if day != 0 {
        let last = u32::from(days_in_month(year_i, u8::try_from(month).unwrap_or(0)));
        if day > last {
            return Err(DateParseError::DayOutOfRange { year, month, day });
        }
    }
    if (month == 0 || day == 0) && !allow_partial {
        return Err(DateParseError::PartialNotAllowed);
    }
    Ok(Some(Date {
        year: year_i,
        month: i32::try_from(month).unwrap_or(0),
        day: i32::try_from(day).unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn patterns(list: &[&str]) -> Vec<DatePattern> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    fn date(year: i32, month: i32, day: i32) -> Date {
        Date { year, month, day }
    }

    /// Writes a date in a pattern (the inverse of parsing), for round trips.
    fn write(pattern: &DatePattern, year: i32, month: u8, day: u8) -> String {
        pattern
            .parts
            .iter()
            .map(|p| match *p {
                PatternPart::Literal(c) => c.to_string(),
                PatternPart::Year => format!("{year:04}"),
                PatternPart::Day { fixed_width: true } => format!("{day:02}"),
                PatternPart::Day { fixed_width: false } => day.to_string(),
                PatternPart::Month { fixed_width: true } => format!("{month:02}"),
                PatternPart::Month { fixed_width: false } => month.to_string(),
            })
            .collect()
    }

    const WHOLE_FORMATS: &[&str] = &[
        "dd/mm/yyyy",
        "d/m/yyyy",
        "dd-mm-yyyy",
        "dd.mm.yyyy",
        "yyyy-mm-dd",
        "yyyymmdd",
        "d m yyyy",
    ];

    #[test]
    fn epoch_days_round_trip_known_dates() {
        assert_eq!(CivilDate::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(
            CivilDate::new(2000, 3, 1).unwrap().days_since_epoch(),
            11_017
        );
        assert_eq!(CivilDate::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
        assert_eq!(
            CivilDate::from_days_since_epoch(20_270),
            CivilDate::new(2025, 7, 1)
        );
        assert_eq!(
            CivilDate::from_days_since_epoch(-719_162),
            CivilDate::new(1, 1, 1)
        );
        assert_eq!(CivilDate::from_days_since_epoch(-719_163), None);
    }

    #[test]
    fn vietnam_dates_change_at_17_utc() {
        // 2025-06-30T16:59:59Z is 23:59:59 in Vietnam; one second later it is 2025-07-01.
        let before = 1_751_302_799;
        assert_eq!(
            CivilDate::in_vietnam_at_unix_seconds(before),
            CivilDate::new(2025, 6, 30)
        );
        assert_eq!(
            CivilDate::in_vietnam_at_unix_seconds(before + 1),
            CivilDate::new(2025, 7, 1)
        );
        assert_eq!(
            CivilDate::in_vietnam_at_unix_seconds(-7 * 3600 - 1),
            CivilDate::new(1969, 12, 31)
        );
    }

    #[test]
    fn iso_and_display_agree() {
        let d = CivilDate::new(2025, 6, 30).unwrap();
        assert_eq!(d.to_string(), "2025-06-30");
        assert_eq!("2025-06-30".parse::<CivilDate>().unwrap(), d);
        assert!("2025-13-01".parse::<CivilDate>().is_err());
        assert!("20250630".parse::<CivilDate>().is_err());
        assert!("+025-06-30".parse::<CivilDate>().is_err());
    }

    #[test]
    fn partial_dates_as_old_registers_write_them() {
        let f = patterns(&["dd/mm/yyyy", "mm/yyyy", "yyyy"]);
        assert_eq!(
            parse_date("00/00/1975", &f, true).unwrap(),
            Some(date(1975, 0, 0))
        );
        assert_eq!(
            parse_date("00/03/1975", &f, true).unwrap(),
            Some(date(1975, 3, 0))
        );
        assert_eq!(
            parse_date("03/1975", &f, true).unwrap(),
            Some(date(1975, 3, 0))
        );
        assert_eq!(
            parse_date("1975", &f, true).unwrap(),
            Some(date(1975, 0, 0))
        );
        assert_eq!(parse_date("00/00/0000", &f, true).unwrap(), None);
        assert_eq!(parse_date("  ", &f, true).unwrap(), None);
        assert_eq!(
            parse_date("15/00/1975", &f, true),
            Err(DateParseError::DayWithoutMonth)
        );
        assert_eq!(
            parse_date("00/00/1975", &f, false),
            Err(DateParseError::PartialNotAllowed)
        );
        assert_eq!(
            parse_date("15/03/0000", &f, true),
            Err(DateParseError::YearZero)
        );
    }

    #[test]
    fn impossible_days_are_errors_not_other_formats() {
        let f = patterns(&["dd/mm/yyyy", "mm/dd/yyyy"]);
        // 13/02 is not a valid mm/dd, and 30/02 is valid in neither: the first error is kept.
        assert_eq!(
            parse_date("30/02/2000", &f, false),
            Err(DateParseError::DayOutOfRange {
                year: 2000,
                month: 2,
                day: 30
            })
        );
        assert_eq!(
            parse_date("29/02/2000", &f, false).unwrap(),
            Some(date(2000, 2, 29))
        );
        assert_eq!(
            parse_date("29/02/1900", &f, false),
            Err(DateParseError::DayOutOfRange {
                year: 1900,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            parse_date("12/13/2000", &f, false).unwrap(),
            Some(date(2000, 12, 13))
        );
        assert!(matches!(
            parse_date("1975/03/15", &f, false),
            Err(DateParseError::NoFormatMatches { formats }) if formats == "\"dd/mm/yyyy\", \"mm/dd/yyyy\""
        ));
    }

    #[test]
    fn pattern_errors_say_what_is_wrong() {
        let err = |p: &str| p.parse::<DatePattern>().unwrap_err();
        assert!(matches!(err(""), DatePatternError::Empty));
        assert!(
            matches!(err("dd/mm/yy"), DatePatternError::UnknownToken { token, .. } if token == "yy")
        );
        assert!(matches!(
            err("ngày dd"),
            DatePatternError::UnknownToken { .. }
        ));
        assert!(matches!(err("dd/mm"), DatePatternError::NoYear { .. }));
        assert!(matches!(
            err("dd/yyyy"),
            DatePatternError::DayWithoutMonth { .. }
        ));
        assert!(matches!(
            err("yyyy/yyyy"),
            DatePatternError::Repeated { .. }
        ));
        assert!(matches!(
            err("dmyyyy"),
            DatePatternError::AmbiguousWidth { .. }
        ));
        assert!("yyyymmdd".parse::<DatePattern>().unwrap().has_day());
        assert!(!"mm/yyyy".parse::<DatePattern>().unwrap().has_day());
    }

    #[test]
    fn day_ranges_of_partial_dates() {
        let r = |y, m, d| day_range(&date(y, m, d)).map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(
            r(1975, 0, 0),
            Some(("1975-01-01".into(), "1975-12-31".into()))
        );
        assert_eq!(
            r(2024, 2, 0),
            Some(("2024-02-01".into(), "2024-02-29".into()))
        );
        assert_eq!(
            r(2024, 2, 3),
            Some(("2024-02-03".into(), "2024-02-03".into()))
        );
        assert_eq!(r(0, 0, 0), None);
        assert_eq!(r(2023, 2, 29), None);
        assert_eq!(format_date(&date(1975, 3, 0)), "1975-03");
        assert_eq!(format_date(&date(1975, 0, 0)), "1975");
        assert_eq!(format_date(&date(0, 0, 0)), "");
    }

    fn any_civil_date() -> impl Strategy<Value = CivilDate> {
        (-719_162i64..2_932_896).prop_map(|d| CivilDate::from_days_since_epoch(d).unwrap())
    }

    proptest! {
        #[test]
        fn epoch_days_round_trip(days in -719_162i64..2_932_896) {
            let d = CivilDate::from_days_since_epoch(days).unwrap();
            prop_assert_eq!(d.days_since_epoch(), days);
            let next = CivilDate::from_days_since_epoch(days + 1);
            if let Some(next) = next {
                prop_assert!(next > d);
            }
        }

        #[test]
        fn every_whole_date_round_trips_through_every_format(d in any_civil_date(), i in 0..WHOLE_FORMATS.len()) {
            let f = patterns(&[WHOLE_FORMATS[i]]);
            let text = write(&f[0], d.year(), d.month(), d.day());
            prop_assert_eq!(parse_date(&text, &f, false).unwrap(), Some(d.to_proto()));
            prop_assert_eq!(CivilDate::parse_iso(&d.to_string()), Some(d));
        }

        #[test]
        fn zero_parts_give_partial_dates(year in 1i32..=9999, month in 1u8..=12) {
            let f = patterns(&["dd/mm/yyyy"]);
            let only_year = parse_date(&format!("00/00/{year:04}"), &f, true).unwrap().unwrap();
            prop_assert_eq!(only_year, date(year, 0, 0));
            prop_assert!(is_partial(&only_year) && is_valid_date(&only_year));
            let month_year = parse_date(&format!("00/{month:02}/{year:04}"), &f, true).unwrap().unwrap();
            prop_assert_eq!(month_year, date(year, i32::from(month), 0));
            let text = format!("00/{month:02}/{year:04}");
            prop_assert!(parse_date(&text, &f, false).is_err());
        }

        #[test]
        fn parsed_dates_are_always_valid(s in "[0-9/ .-]{0,12}") {
            let f = patterns(&["dd/mm/yyyy", "d/m/yyyy", "yyyy-mm-dd", "mm/yyyy", "yyyy", "yyyymmdd"]);
            if let Ok(Some(d)) = parse_date(&s, &f, true) {
                prop_assert!(is_valid_date(&d));
                prop_assert!(d.year >= 1);
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,20}") {
            let f = patterns(&["dd/mm/yyyy", "d/m/yyyy", "yyyy"]);
            let _ = parse_date(&s, &f, true);
        }

        #[test]
        fn days_beyond_the_month_are_rejected(year in 1i32..=9999, month in 1u8..=12, extra in 1u8..=5) {
            let day = days_in_month(year, month) + extra;
            if day <= 99 {
                let f = patterns(&["d/m/yyyy"]);
                let r = parse_date(&format!("{day}/{month}/{year:04}"), &f, false);
                let is_out_of_range = matches!(r, Err(DateParseError::DayOutOfRange { .. }));
                prop_assert!(is_out_of_range);
            }
        }
    }
}
