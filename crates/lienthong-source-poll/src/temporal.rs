//! Calendar arithmetic and ISO 8601 date-time text, for values read as text (MySQL date-times,
//! SQLite dates stored as text) and for the safety window's lower bound. Pure.
//!
//! Dates are proleptic Gregorian; a date-time without a zone is placed on the time line as if it
//! were UTC, which keeps the distance between two such values exact (the window only ever
//! subtracts from a value and renders the result in the same form).

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01: (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// A date-time as written in text: `YYYY-MM-DD`, optionally followed by `T` or a space and
/// `HH:MM[:SS[.fraction]]`, optionally followed by `Z` or an offset `±HH[:MM]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeText {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    /// Hours, minutes, seconds, microseconds; `None` for a bare date.
    pub time: Option<(u32, u32, u32, u32)>,
    /// The shape of the text, kept so a value rendered from it compares like it.
    pub shape: TextShape,
}

/// How a date-time text was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextShape {
    /// `'T'` or `' '` between date and time.
    pub separator: char,
    /// Whether seconds were written.
    pub seconds: bool,
    /// Digits of the fraction of a second (0: none).
    pub fraction_digits: u8,
    /// The zone as written: none, `Z`, or an offset in seconds east of UTC.
    pub zone: Zone,
    /// Whether the offset was written with a colon (`+07:00` rather than `+0700`).
    pub offset_colon: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    None,
    Utc,
    Offset(i32),
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl DateTimeText {
    /// Parses the text forms above; `None` for anything else (or an impossible date).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (date, rest) = if text.len() > 10 {
            (text.get(..10)?, text.get(10..)?)
        } else {
            (text, "")
        };
        let b = date.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year = i64::from(digits(&date[..4])?);
        let month = digits(&date[5..7])?;
        let day = digits(&date[8..10])?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let mut shape = TextShape {
            separator: ' ',
            seconds: false,
            fraction_digits: 0,
            zone: Zone::None,
            offset_colon: false,
        };
        if rest.is_empty() {
            return Some(Self {
                year,
                month,
                day,
                time: None,
                shape,
            });
        }
        let mut chars = rest.chars();
        shape.separator = match chars.next()? {
            c @ ('T' | 't' | ' ') => c,
            _ => return None,
        };
        let rest = chars.as_str();
        // The zone starts at 'Z' or at a sign after the clock.
        let zone_at = rest
            .char_indices()
            .find(|&(i, c)| c == 'Z' || c == 'z' || ((c == '+' || c == '-') && i > 0))
            .map(|(i, _)| i);
        let (clock, zone) = match zone_at {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (hms, fraction) = match clock.split_once('.') {
            Some((hms, f)) => (hms, Some(f)),
            None => (clock, None),
        };
        let mut parts = hms.split(':');
        let hour = parts.next().and_then(digits)?;
        let minute = parts.next().and_then(digits)?;
        let second = match parts.next() {
            Some(s) => {
                shape.seconds = true;
                digits(s)?
            }
            None => 0,
        };
        if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let micros = match fraction {
            None => 0,
            Some(f) => {
                if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                shape.fraction_digits = f.len() as u8;
                let six: String = f.chars().chain(std::iter::repeat('0')).take(6).collect();
                six.parse().ok()?
            }
        };
        shape.zone = match zone {
            "" => Zone::None,
            "Z" | "z" => Zone::Utc,
            z => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let body = &z[1..];
                let (h, m) = match body.split_once(':') {
                    Some((h, m)) => {
                        shape.offset_colon = true;
                        (digits(h)?, digits(m)?)
                    }
                    None if body.len() == 4 => (digits(&body[..2])?, digits(&body[2..])?),
                    None => (digits(body)?, 0),
                };
                if h > 14 || m > 59 {
                    return None;
                }
                Zone::Offset(sign * (h as i32 * 3600 + m as i32 * 60))
            }
        };
        Some(Self {
            year,
            month,
            day,
            time: Some((hour, minute, second, micros)),
            shape,
        })
    }

    /// Microseconds since 1970-01-01T00:00 UTC (a text without zone taken as UTC).
    pub fn micros(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let (h, m, s, us) = self.time.unwrap_or((0, 0, 0, 0));
        let offset = match self.shape.zone {
            Zone::Offset(o) => i64::from(o),
            Zone::None | Zone::Utc => 0,
        };
        days * MICROS_PER_DAY
            + (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s) - offset) * MICROS_PER_SECOND
            + i64::from(us)
    }

    /// `micros` (on the same line as [`Self::micros`]) written in this text's shape. `None`
    /// outside years 1–9999.
    pub fn render_like(&self, micros: i64) -> Option<String> {
        let offset = match self.shape.zone {
            Zone::Offset(o) => i64::from(o),
            Zone::None | Zone::Utc => 0,
        };
        if self.time.is_none() {
            return render_date(micros.div_euclid(MICROS_PER_DAY));
        }
        let local = micros + offset * MICROS_PER_SECOND;
        let date = render_date(local.div_euclid(MICROS_PER_DAY))?;
        let of_day = local.rem_euclid(MICROS_PER_DAY);
        let seconds = of_day / MICROS_PER_SECOND;
        let us = of_day % MICROS_PER_SECOND;
        let mut text = format!(
            "{date}{}{:02}:{:02}",
            self.shape.separator,
            seconds / 3600,
            seconds / 60 % 60
        );
        if self.shape.seconds || self.shape.fraction_digits > 0 {
            text.push_str(&format!(":{:02}", seconds % 60));
        }
        if self.shape.fraction_digits > 0 {
            let six = format!("{us:06}");
            let n = usize::from(self.shape.fraction_digits);
            let fraction: String = six.chars().chain(std::iter::repeat('0')).take(n).collect();
            text.push('.');
            text.push_str(&fraction);
        }
        match self.shape.zone {
            Zone::None => {}
            Zone::Utc => text.push('Z'),
            Zone::Offset(o) => {
                let sign = if o < 0 { '-' } else { '+' };
                let o = o.unsigned_abs();
                if self.shape.offset_colon {
                    text.push_str(&format!("{sign}{:02}:{:02}", o / 3600, o / 60 % 60));
                } else {
                    text.push_str(&format!("{sign}{:02}{:02}", o / 3600, o / 60 % 60));
                }
            }
        }
        Some(text)
    }
}

/// `YYYY-MM-DD` of a day number; `None` outside years 1–9999.
pub fn render_date(days: i64) -> Option<String> {
    let (y, m, d) = civil_from_days(days);
    (1..=9999)
        .contains(&y)
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` of a microsecond instant; `None` outside years 1–9999.
pub fn render_datetime(micros: i64) -> Option<String> {
    let date = render_date(micros.div_euclid(MICROS_PER_DAY))?;
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let seconds = of_day / MICROS_PER_SECOND;
    Some(format!(
        "{date} {:02}:{:02}:{:02}.{:06}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        of_day % MICROS_PER_SECOND
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    proptest! {
        #[test]
        fn any_day_round_trips(days in -800_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn rendered_like_parses_back(micros in 0i64..250_000_000_000_000_000, shape in 0usize..5) {
            let samples = [
                "2024-02-29 13:45:06",
                "2024-02-29T13:45:06.123Z",
                "2024-02-29 13:45:06.123456+07:00",
                "2024-02-29",
                "2024-02-29T13:45",
            ];
            let sample = DateTimeText::parse(samples[shape]).unwrap();
            let text = sample.render_like(micros).unwrap();
            let back = DateTimeText::parse(&text).unwrap();
            prop_assert_eq!(back.shape, sample.shape);
            // Rendering keeps the sample's precision: it never lands after the value.
            prop_assert!(back.micros() <= micros);
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        let t = DateTimeText::parse("2025-07-01 08:00:00").unwrap();
        assert_eq!(t.micros(), 1_751_356_800 * MICROS_PER_SECOND);
        let z = DateTimeText::parse("2025-07-01T01:00:00Z").unwrap();
        let plus7 = DateTimeText::parse("2025-07-01T08:00:00+07:00").unwrap();
        assert_eq!(z.micros(), plus7.micros());
        assert_eq!(
            DateTimeText::parse("2025-07-01 08:00:00.5")
                .unwrap()
                .micros()
                % MICROS_PER_SECOND,
            500_000
        );
        assert!(DateTimeText::parse("2025-07-01").unwrap().time.is_none());
        for bad in [
            "2025-02-30",
            "2025-13-01",
            "2025-07-01 25:00",
            "2025-07-01X08:00",
            "1 Jan 2025",
            "20250701",
            "2025-07-01 08:00:00+15:00",
        ] {
            assert_eq!(DateTimeText::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn renders_in_the_sample_shape() {
        let sample = DateTimeText::parse("2025-07-01T08:00:00+07:00").unwrap();
        let thirty_seconds_earlier = sample.micros() - 30 * MICROS_PER_SECOND;
        assert_eq!(
            sample.render_like(thirty_seconds_earlier).unwrap(),
            "2025-07-01T07:59:30+07:00"
        );
        assert_eq!(
            render_datetime(1_751_356_800 * MICROS_PER_SECOND + 7).unwrap(),
            "2025-07-01 08:00:00.000007"
        );
        assert_eq!(render_date(-719_162), Some("0001-01-01".into()));
        assert_eq!(render_date(-719_163), None);
    }
}
