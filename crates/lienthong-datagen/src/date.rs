//! A calendar date, the only kind the generated data holds: every register person has a full
//! birth date, and the reference date of a civil-servant list is a day.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A valid Gregorian date between the years 1 and 9999.
///
/// `Display` and serde write it as `YYYY-MM-DD`; [`Date::dmy`] gives the `dd/mm/yyyy` of
/// Vietnamese forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// A date that does not exist or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("{year:04}-{month:02}-{day:02} is not a date")]
    Invalid { year: u16, month: u8, day: u8 },
    #[error("`{0}` is not a YYYY-MM-DD date")]
    Format(String),
}

/// Days in `month` (1–12) of `year`; 0 for a month out of range.
pub const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

const fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

impl Date {
    /// 1 January of the year 1.
    pub const MIN: Date = Date {
        year: 1,
        month: 1,
        day: 1,
    };

    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        Self::checked(year, month, day).ok_or(DateError::Invalid { year, month, day })
    }

    /// [`Date::new`] for constants: `None` for a date that does not exist.
    pub const fn checked(year: u16, month: u8, day: u8) -> Option<Self> {
        if year >= 1 && year <= 9999 && day >= 1 && day <= days_in_month(year, month) {
            Some(Self { year, month, day })
        } else {
            None
        }
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// `dd/mm/yyyy`, as Vietnamese forms and HR exports write dates.
    pub fn dmy(self) -> String {
        format!("{:02}/{:02}/{:04}", self.day, self.month, self.year)
    }

    /// Age in whole years on `on` (0 if `on` is before the date).
    pub fn age_on(self, on: Date) -> u16 {
        let years = on.year.saturating_sub(self.year);
        if (on.month, on.day) < (self.month, self.day) {
            years.saturating_sub(1)
        } else {
            years
        }
    }

    /// The same day `years` later or earlier; 29 February becomes 28 February in a year that has
    /// none. `None` outside the years 1–9999.
    pub fn shift_years(self, years: i32) -> Option<Date> {
        let year = u16::try_from(i32::from(self.year) + years).ok()?;
        let day = self.day.min(days_in_month(year, self.month));
        Date::new(year, self.month, day).ok()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    /// `YYYY-MM-DD`, exactly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let format_error = || DateError::Format(s.to_owned());
        let bytes = s.as_bytes();
        let digits_at = |range: std::ops::Range<usize>| {
            bytes[range.clone()]
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| s[range].parse::<u16>().ok())
                .flatten()
        };
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(format_error());
        }
        let (Some(year), Some(month), Some(day)) =
            (digits_at(0..4), digits_at(5..7), digits_at(8..10))
        else {
            return Err(format_error());
        };
        // Two digits are below 100, so they fit a u8.
        Date::new(year, month as u8, day as u8)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn validates_calendar_dates() {
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(1900, 2, 29).is_err());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert!(Date::new(2000, 13, 1).is_err());
        assert!(Date::new(2000, 4, 31).is_err());
        assert!(Date::new(2000, 1, 0).is_err());
    }

    #[test]
    fn parses_and_formats() {
        let date: Date = "1987-03-09".parse().unwrap();
        assert_eq!((date.year(), date.month(), date.day()), (1987, 3, 9));
        assert_eq!(date.to_string(), "1987-03-09");
        assert_eq!(date.dmy(), "09/03/1987");
        for bad in [
            "1987-3-09",
            "1987/03/09",
            "1987-02-30",
            "19870309",
            "198a-03-09",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&date).unwrap();
        assert_eq!(json, "\"1987-03-09\"");
        assert_eq!(serde_json::from_str::<Date>(&json).unwrap(), date);
    }

    #[test]
    fn ages_count_whole_years() {
        let birth = Date::new(1990, 6, 15).unwrap();
        assert_eq!(birth.age_on(Date::new(2026, 6, 14).unwrap()), 35);
        assert_eq!(birth.age_on(Date::new(2026, 6, 15).unwrap()), 36);
        assert_eq!(birth.age_on(Date::new(1980, 1, 1).unwrap()), 0);
    }

    #[test]
    fn shifting_years_keeps_the_day_where_it_exists() {
        let leap = Date::new(2000, 2, 29).unwrap();
        assert_eq!(leap.shift_years(1), Some(Date::new(2001, 2, 28).unwrap()));
        assert_eq!(leap.shift_years(-4), Some(Date::new(1996, 2, 29).unwrap()));
        assert_eq!(Date::new(1, 1, 1).unwrap().shift_years(-1), None);
    }
}
