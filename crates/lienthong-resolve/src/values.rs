//! Reading field values as exports and register extracts write them: dates in several orders,
//! sex as words in either language or codes, province codes of either list.

use serde::{Deserialize, Serialize};

use crate::convert::province_auto;
use crate::record::{PartialDate, Province, ProvinceCodeSystem, ProvinceMap, Sex};

/// The order of day, month and year in a date written with separators (`12/04/1990`).
/// ISO dates (`1990-04-12`, four-digit year first) are read whatever the order says.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// Day, month, year: the Vietnamese order.
    #[default]
    Dmy,
    Mdy,
    Ymd,
}

/// Which list province codes come from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProvinceCodes {
    /// The 63 provinces before 2025-07-01 (codes of birth registration).
    Pre2025,
    /// The 34 provincial units from 2025-07-01.
    From2025,
    /// Either: a code only the old list has is old, any other code is read in the current list.
    #[default]
    Auto,
}

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// Reads a date: `1990-04-12`, `1990-04`, `1990`, or day/month/year with `/`, `-` or `.` in
/// the stated order; an empty value is an unknown date. A zero day or month means unknown
/// (`00/04/1990`).
pub fn parse_date(text: &str, order: DateOrder) -> Result<PartialDate, ValueError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(PartialDate::default());
    }
    // A timestamp's time part is not a birth date's business.
    let text = text.split(['T', ' ']).next().unwrap_or(text);
    let parts: Vec<&str> = text.split(['/', '-', '.']).collect();
    let number = |s: &str| -> Result<u32, ValueError> {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError(format!("`{text}` is not a date")));
        }
        s.parse()
            .map_err(|_| ValueError(format!("`{text}` is not a date")))
    };
    let (year, month, day) = match parts.as_slice() {
        [y] => (number(y)?, 0, 0),
        [a, b] if a.len() == 4 => (number(a)?, number(b)?, 0),
        [a, b] => (number(b)?, number(a)?, 0),
        [a, b, c] if a.len() == 4 => (number(a)?, number(b)?, number(c)?),
        [a, b, c] => match order {
            DateOrder::Dmy => (number(c)?, number(b)?, number(a)?),
            DateOrder::Mdy => (number(c)?, number(a)?, number(b)?),
            DateOrder::Ymd => (number(a)?, number(b)?, number(c)?),
        },
        _ => return Err(ValueError(format!("`{text}` is not a date"))),
    };
    if !(1800..=2200).contains(&year) {
        return Err(ValueError(format!("`{text}`: year {year} out of range")));
    }
    let narrow =
        |v: u32| u8::try_from(v).map_err(|_| ValueError(format!("`{text}` is not a date")));
    // The year range above makes the conversion exact.
    PartialDate::new(year as u16, narrow(month)?, narrow(day)?)
        .map_err(|e| ValueError(format!("`{text}`: {e}")))
}

/// Reads a sex: male/female, nam/nữ (any case, with or without diacritics), M/F, 1/2 (the
/// register's codes); empty is unknown.
pub fn parse_sex(text: &str) -> Result<Option<Sex>, ValueError> {
    let folded = lienthong_vietnamese::text::fold(text.trim());
    match folded.as_str() {
        "" => Ok(None),
        "male" | "m" | "nam" | "1" | "sex_male" => Ok(Some(Sex::Male)),
        "female" | "f" | "nu" | "2" | "sex_female" => Ok(Some(Sex::Female)),
        _ => Err(ValueError(format!(
            "`{text}` is not a sex (Nam/Nữ, male/female)"
        ))),
    }
}

/// Reads a province code (`8`, `08`, or a personal-ID prefix `008`); empty is unknown.
pub fn parse_province(
    text: &str,
    codes: ProvinceCodes,
    map: &ProvinceMap,
) -> Result<Option<Province>, ValueError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| ValueError(format!("`{text}` is not a province code{why}"));
    let province = match codes {
        ProvinceCodes::Pre2025 => Province::parse(ProvinceCodeSystem::Pre2025, text)
            .map_err(|e| bad(&format!(": {e}")))?,
        ProvinceCodes::From2025 => Province::parse(ProvinceCodeSystem::From2025, text)
            .map_err(|e| bad(&format!(": {e}")))?,
        ProvinceCodes::Auto => province_auto(map, text).ok_or_else(|| bad(" of either list"))?,
    };
    if map.current_code(province).is_none() {
        return Err(bad(" of its list"));
    }
    Ok(Some(province))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn dates_in_every_written_form() {
        let full = PartialDate::full(1990, 4, 12).unwrap();
        assert_eq!(parse_date("1990-04-12", DateOrder::Dmy).unwrap(), full);
        assert_eq!(parse_date("12/04/1990", DateOrder::Dmy).unwrap(), full);
        assert_eq!(parse_date("12.04.1990", DateOrder::Dmy).unwrap(), full);
        assert_eq!(parse_date("04/12/1990", DateOrder::Mdy).unwrap(), full);
        assert_eq!(parse_date("1990/04/12", DateOrder::Dmy).unwrap(), full);
        assert_eq!(
            parse_date("1990-04-12T00:00:00", DateOrder::Dmy).unwrap(),
            full
        );
        assert_eq!(
            parse_date("1990", DateOrder::Dmy).unwrap(),
            PartialDate::year_only(1990).unwrap()
        );
        assert_eq!(
            parse_date("04/1990", DateOrder::Dmy).unwrap().month(),
            Some(4)
        );
        assert_eq!(
            parse_date("00/04/1990", DateOrder::Dmy).unwrap().day(),
            None
        );
        assert!(parse_date("", DateOrder::Dmy).unwrap().is_unknown());
        assert!(parse_date("31/02/1990", DateOrder::Dmy).is_err());
        assert!(parse_date("12/04/90x", DateOrder::Dmy).is_err());
        assert!(parse_date("12/04/0090", DateOrder::Dmy).is_err());
    }

    #[test]
    fn sexes_in_both_languages() {
        assert_eq!(parse_sex("Nam").unwrap(), Some(Sex::Male));
        assert_eq!(parse_sex("Nữ").unwrap(), Some(Sex::Female));
        assert_eq!(parse_sex("NU").unwrap(), Some(Sex::Female));
        assert_eq!(parse_sex("female").unwrap(), Some(Sex::Female));
        assert_eq!(parse_sex("1").unwrap(), Some(Sex::Male));
        assert_eq!(parse_sex(" ").unwrap(), None);
        assert!(parse_sex("x").is_err());
    }

    #[test]
    fn provinces_of_either_list() {
        let map = ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8)]).unwrap();
        let old = parse_province("02", ProvinceCodes::Auto, &map)
            .unwrap()
            .unwrap();
        assert_eq!(old.system(), ProvinceCodeSystem::Pre2025);
        let new = parse_province("008", ProvinceCodes::Auto, &map)
            .unwrap()
            .unwrap();
        assert_eq!(
            (new.system(), new.code()),
            (ProvinceCodeSystem::From2025, 8)
        );
        assert!(parse_province("02", ProvinceCodes::From2025, &map).is_err());
        assert!(parse_province("99", ProvinceCodes::Pre2025, &map).is_err());
        assert_eq!(parse_province("", ProvinceCodes::Auto, &map).unwrap(), None);
    }
}
