//! Column values of generated rows, the columns of each table, and the instants rows carry.
//!
//! One representation serves every consumer: the PostgreSQL `COPY` text the loader sends, the
//! parameters of the MariaDB `INSERT`s and of the workload's statements, and the sample rows
//! the tests feed the shipped mappings.

use chrono::{DateTime, FixedOffset, Offset as _, Utc};

use crate::date::Date;

/// Vietnam's offset from UTC (no daylight saving time): local date-times of the sources
/// (`DATETIME` columns, months of contribution periods) are Vietnam's.
pub const VIETNAM_OFFSET_SECONDS: i32 = 7 * 3600;

/// One column value of a generated row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
    /// A calendar date (PostgreSQL `date`).
    Date(Date),
    /// An exact decimal written with a point and no grouping (`4.98`, `5200000`).
    Decimal(String),
    /// An instant (PostgreSQL `timestamptz`), seconds since 1970.
    Instant(i64),
    /// The wall-clock date and time in Vietnam of an instant given in seconds since 1970
    /// (MariaDB `DATETIME`, which has no zone).
    VietnamDateTime(i64),
}

impl SqlValue {
    /// `Some(text)` for a text value, `None` for NULL.
    pub fn text(value: Option<String>) -> Self {
        value.map_or(SqlValue::Null, SqlValue::Text)
    }

    /// The value as the database reads it from text (`COPY`, a parameter cast to the column's
    /// type); `None` for NULL.
    pub fn to_sql_text(&self) -> Option<String> {
        match self {
            SqlValue::Null => None,
            SqlValue::Int(i) => Some(i.to_string()),
            SqlValue::Text(s) | SqlValue::Decimal(s) => Some(s.clone()),
            SqlValue::Date(d) => Some(d.to_string()),
            SqlValue::Instant(seconds) => Some(utc_timestamp(*seconds)),
            SqlValue::VietnamDateTime(seconds) => Some(vietnam_datetime(*seconds)),
        }
    }
}

/// A column of a source table as the mapping file's header comment describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    /// The column's type in the table's `CREATE TABLE`.
    pub sql_type: &'static str,
}

impl ColumnSpec {
    /// The declared length of a `char(n)` / `CHAR(n)` column: its values are blank-padded.
    pub fn char_length(&self) -> Option<usize> {
        let lower = self.sql_type.to_ascii_lowercase();
        let inner = lower.strip_prefix("char(")?.strip_suffix(')')?;
        inner.parse().ok()
    }
}

fn offset() -> FixedOffset {
    // A whole number of hours within a day is always a valid offset.
    FixedOffset::east_opt(VIETNAM_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix())
}

fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default()
}

/// `2026-03-01 03:00:00+00`: an instant as PostgreSQL reads a `timestamptz`.
pub fn utc_timestamp(seconds: i64) -> String {
    instant(seconds).format("%Y-%m-%d %H:%M:%S+00").to_string()
}

/// `2026-03-01 10:00:00`: the wall-clock time in Vietnam of an instant.
pub fn vietnam_datetime(seconds: i64) -> String {
    instant(seconds)
        .with_timezone(&offset())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The calendar day in Vietnam of an instant.
pub fn vietnam_date(seconds: i64) -> Date {
    use chrono::Datelike as _;
    let local = instant(seconds).with_timezone(&offset());
    let year = u16::try_from(local.year()).unwrap_or(1);
    // Month and day of a chrono date are always in range.
    Date::new(year, local.month() as u8, local.day() as u8).unwrap_or(Date::MIN)
}

/// Seconds since 1970 of midnight UTC at the start of `date`.
pub fn date_seconds(date: Date) -> i64 {
    chrono::NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        u32::from(date.month()),
        u32::from(date.day()),
    )
    .and_then(|d| d.and_hms_opt(0, 0, 0))
    .map(|t| t.and_utc().timestamp())
    .unwrap_or_default()
}

/// A salary or allowance coefficient in hundredths (`498` is 4.98), as `numeric(4,2)` holds it.
pub fn coefficient_text(hundredths: u16) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn instants_are_written_in_utc_and_in_vietnam_time() {
        // 2026-03-01 03:00:00 UTC is 10:00 in Vietnam.
        let t = 1_772_334_000;
        assert_eq!(utc_timestamp(t), "2026-03-01 03:00:00+00");
        assert_eq!(vietnam_datetime(t), "2026-03-01 10:00:00");
        // 17:00 UTC is midnight in Vietnam: the next day starts there seven hours earlier.
        let midnight = t - 10 * 3600;
        assert_eq!(vietnam_datetime(midnight), "2026-03-01 00:00:00");
        assert_eq!(vietnam_date(midnight).to_string(), "2026-03-01");
        assert_eq!(vietnam_date(midnight - 1).to_string(), "2026-02-28");
        assert_eq!(vietnam_date(t).to_string(), "2026-03-01");
        let day = Date::new(2026, 3, 1).unwrap();
        assert_eq!(utc_timestamp(date_seconds(day)), "2026-03-01 00:00:00+00");
    }

    #[test]
    fn values_read_as_text() {
        assert_eq!(SqlValue::Null.to_sql_text(), None);
        assert_eq!(SqlValue::Int(-3).to_sql_text().unwrap(), "-3");
        assert_eq!(
            SqlValue::Date(Date::new(1975, 3, 9).unwrap())
                .to_sql_text()
                .unwrap(),
            "1975-03-09"
        );
        assert_eq!(coefficient_text(498), "4.98");
        assert_eq!(coefficient_text(70), "0.70");
        let spec = ColumnSpec {
            name: "so_dinh_danh",
            sql_type: "char(12)",
        };
        assert_eq!(spec.char_length(), Some(12));
        let spec = ColumnSpec {
            name: "ho_ten",
            sql_type: "varchar(100)",
        };
        assert_eq!(spec.char_length(), None);
    }
}
