//! The kinds of error a source list holds, and how often each is injected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DatagenError;

/// One kind of error in a list row. The names (`snake_case`) are those of `truth.csv`, of
/// [`Rates`] and of `datagen.json`.
///
/// Each kind is drawn independently for every row, and counts only where it changed what the row
/// states: a kind that cannot apply (no superseded number, a day above 12, a province that kept
/// its code, a name without diacritics) leaves no trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// One edit (a letter replaced, dropped, added, or two swapped) in the given or middle name,
    /// never on a word's first letter.
    Typo,
    /// Every diacritic and tone mark removed (`Đặng Thị Hồng` → `Dang Thi Hong`).
    LostDiacritics,
    /// The whole name stored as TCVN3 bytes and read back as Latin-1 (`NguyÔn V¨n §øc`).
    Tcvn3,
    /// Day and month exchanged (only for a day of 12 or less that differs from the month).
    DayMonthSwap,
    /// One digit of the stated ID number replaced.
    WrongIdDigit,
    /// The person's earlier, superseded ID number stated instead of the current one.
    SupersededId,
    /// The birth province stated with its pre-2025 code instead of the code from 2025-07-01
    /// (only where the two differ).
    OldProvinceCode,
    /// No ID number stated.
    MissingId,
    /// The other regional spelling of the family name (Hoàng ↔ Huỳnh, Vũ ↔ Võ).
    RegionalVariant,
    /// The birth year one more or one less.
    YearOffByOne,
    /// The row describes a person who is not in the register.
    NotInRegister,
    /// A second row for a person already listed, under a new record id.
    Duplicate,
    /// The other tone placement (`Hòa` ↔ `Hoà`) where the name has a syllable it affects.
    ToneStyle,
    /// The name in capitals.
    UpperCase,
    /// The middle name left out.
    MissingMiddleName,
    /// No sex stated.
    MissingSex,
    /// The other sex stated.
    WrongSex,
    /// No birth province stated.
    MissingBirthProvince,
}

impl ErrorKind {
    /// Every kind, in the order `truth.csv` lists a row's errors.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::Typo,
        ErrorKind::LostDiacritics,
        ErrorKind::Tcvn3,
        ErrorKind::DayMonthSwap,
        ErrorKind::WrongIdDigit,
        ErrorKind::SupersededId,
        ErrorKind::OldProvinceCode,
        ErrorKind::MissingId,
        ErrorKind::RegionalVariant,
        ErrorKind::YearOffByOne,
        ErrorKind::NotInRegister,
        ErrorKind::Duplicate,
        ErrorKind::ToneStyle,
        ErrorKind::UpperCase,
        ErrorKind::MissingMiddleName,
        ErrorKind::MissingSex,
        ErrorKind::WrongSex,
        ErrorKind::MissingBirthProvince,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Typo => "typo",
            ErrorKind::LostDiacritics => "lost_diacritics",
            ErrorKind::Tcvn3 => "tcvn3",
            ErrorKind::DayMonthSwap => "day_month_swap",
            ErrorKind::WrongIdDigit => "wrong_id_digit",
            ErrorKind::SupersededId => "superseded_id",
            ErrorKind::OldProvinceCode => "old_province_code",
            ErrorKind::MissingId => "missing_id",
            ErrorKind::RegionalVariant => "regional_variant",
            ErrorKind::YearOffByOne => "year_off_by_one",
            ErrorKind::NotInRegister => "not_in_register",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::ToneStyle => "tone_style",
            ErrorKind::UpperCase => "upper_case",
            ErrorKind::MissingMiddleName => "missing_middle_name",
            ErrorKind::MissingSex => "missing_sex",
            ErrorKind::WrongSex => "wrong_sex",
            ErrorKind::MissingBirthProvince => "missing_birth_province",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ErrorKind {
    type Err = DatagenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| DatagenError::UnknownErrorKind(s.to_owned()))
    }
}

/// `;`-joined error kinds, as `truth.csv` writes them (empty for none).
pub fn join_kinds(kinds: &[ErrorKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    names.join(";")
}

/// The kinds of a `truth.csv` `errors` value.
pub fn parse_kinds(text: &str) -> Result<Vec<ErrorKind>, DatagenError> {
    text.split(';')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// The probability of each error kind, per row of the list.
///
/// For the kinds about one row's content, the probability that the error is applied where it
/// can apply (see [`ErrorKind`]); `not_in_register` and `duplicate` are the shares of list rows
/// that describe a person absent from the register, and that repeat a listed person. Missing
/// fields in TOML or JSON keep their defaults; unknown fields are refused.
///
/// The last six kinds (`tone_style` to `missing_birth_province`) are off by default: they
/// exercise the resolver harder than the list an HR export of the demo should look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rates {
    pub typo: f64,
    pub lost_diacritics: f64,
    pub tcvn3: f64,
    pub day_month_swap: f64,
    pub wrong_id_digit: f64,
    pub superseded_id: f64,
    pub old_province_code: f64,
    pub missing_id: f64,
    pub regional_variant: f64,
    pub year_off_by_one: f64,
    pub not_in_register: f64,
    pub duplicate: f64,
    pub tone_style: f64,
    pub upper_case: f64,
    pub missing_middle_name: f64,
    pub missing_sex: f64,
    pub wrong_sex: f64,
    pub missing_birth_province: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            typo: 0.03,
            lost_diacritics: 0.05,
            tcvn3: 0.01,
            day_month_swap: 0.01,
            wrong_id_digit: 0.01,
            // Of the people who have an earlier number (0.5% of the register): records made
            // before the correction keep the old number about half of the time.
            superseded_id: 0.5,
            old_province_code: 0.10,
            missing_id: 0.05,
            regional_variant: 0.01,
            year_off_by_one: 0.005,
            not_in_register: 0.03,
            duplicate: 0.01,
            tone_style: 0.0,
            upper_case: 0.0,
            missing_middle_name: 0.0,
            missing_sex: 0.0,
            wrong_sex: 0.0,
            missing_birth_province: 0.0,
        }
    }
}

impl Rates {
    /// No errors at all.
    pub fn none() -> Self {
        let mut rates = Self::default();
        for kind in ErrorKind::ALL {
            *rates.rate_mut(kind) = 0.0;
        }
        rates
    }

    /// Rates from TOML text (`typo = 0.05`), defaults for what it leaves out.
    pub fn from_toml(text: &str) -> Result<Self, DatagenError> {
        let rates: Rates =
            toml::from_str(text).map_err(|e| DatagenError::RatesFile(e.to_string()))?;
        rates.validate()?;
        Ok(rates)
    }

    pub fn rate(&self, kind: ErrorKind) -> f64 {
        match kind {
            ErrorKind::Typo => self.typo,
            ErrorKind::LostDiacritics => self.lost_diacritics,
            ErrorKind::Tcvn3 => self.tcvn3,
            ErrorKind::DayMonthSwap => self.day_month_swap,
            ErrorKind::WrongIdDigit => self.wrong_id_digit,
            ErrorKind::SupersededId => self.superseded_id,
            ErrorKind::OldProvinceCode => self.old_province_code,
            ErrorKind::MissingId => self.missing_id,
            ErrorKind::RegionalVariant => self.regional_variant,
            ErrorKind::YearOffByOne => self.year_off_by_one,
            ErrorKind::NotInRegister => self.not_in_register,
            ErrorKind::Duplicate => self.duplicate,
            ErrorKind::ToneStyle => self.tone_style,
            ErrorKind::UpperCase => self.upper_case,
            ErrorKind::MissingMiddleName => self.missing_middle_name,
            ErrorKind::MissingSex => self.missing_sex,
            ErrorKind::WrongSex => self.wrong_sex,
            ErrorKind::MissingBirthProvince => self.missing_birth_province,
        }
    }

    pub fn rate_mut(&mut self, kind: ErrorKind) -> &mut f64 {
        match kind {
            ErrorKind::Typo => &mut self.typo,
            ErrorKind::LostDiacritics => &mut self.lost_diacritics,
            ErrorKind::Tcvn3 => &mut self.tcvn3,
            ErrorKind::DayMonthSwap => &mut self.day_month_swap,
            ErrorKind::WrongIdDigit => &mut self.wrong_id_digit,
            ErrorKind::SupersededId => &mut self.superseded_id,
            ErrorKind::OldProvinceCode => &mut self.old_province_code,
            ErrorKind::MissingId => &mut self.missing_id,
            ErrorKind::RegionalVariant => &mut self.regional_variant,
            ErrorKind::YearOffByOne => &mut self.year_off_by_one,
            ErrorKind::NotInRegister => &mut self.not_in_register,
            ErrorKind::Duplicate => &mut self.duplicate,
            ErrorKind::ToneStyle => &mut self.tone_style,
            ErrorKind::UpperCase => &mut self.upper_case,
            ErrorKind::MissingMiddleName => &mut self.missing_middle_name,
            ErrorKind::MissingSex => &mut self.missing_sex,
            ErrorKind::WrongSex => &mut self.wrong_sex,
            ErrorKind::MissingBirthProvince => &mut self.missing_birth_province,
        }
    }

    /// Every rate is a probability, and absent plus duplicate rows leave room for others.
    pub fn validate(&self) -> Result<(), DatagenError> {
        for kind in ErrorKind::ALL {
            let value = self.rate(kind);
            if !(0.0..=1.0).contains(&value) {
                return Err(DatagenError::Rate {
                    name: kind.as_str().to_owned(),
                    value,
                });
            }
        }
        let extra_rows = self.not_in_register + self.duplicate;
        if extra_rows > 1.0 {
            return Err(DatagenError::Rate {
                name: "not_in_register + duplicate".to_owned(),
                value: extra_rows,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("typos".parse::<ErrorKind>().is_err());
        let kinds = [ErrorKind::Typo, ErrorKind::MissingId];
        assert_eq!(join_kinds(&kinds), "typo;missing_id");
        assert_eq!(parse_kinds("typo;missing_id").unwrap(), kinds);
        assert_eq!(parse_kinds("").unwrap(), []);
    }

    #[test]
    fn toml_overrides_defaults_and_unknown_keys_are_refused() {
        let rates = Rates::from_toml("typo = 0.2\nmissing_sex = 0.1\n").unwrap();
        assert_eq!(rates.typo, 0.2);
        assert_eq!(rates.missing_sex, 0.1);
        assert_eq!(rates.lost_diacritics, Rates::default().lost_diacritics);
        assert!(Rates::from_toml("typoo = 0.2").is_err());
        assert!(Rates::from_toml("typo = 1.2").is_err());
        assert!(Rates::from_toml("not_in_register = 0.6\nduplicate = 0.6").is_err());
        let json = serde_json::to_string(&rates).unwrap();
        assert_eq!(serde_json::from_str::<Rates>(&json).unwrap(), rates);
    }

    #[test]
    fn every_field_is_reachable_by_kind() {
        let mut rates = Rates::none();
        for (i, kind) in ErrorKind::ALL.into_iter().enumerate() {
            *rates.rate_mut(kind) = i as f64 / 100.0;
        }
        for (i, kind) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(rates.rate(kind), i as f64 / 100.0);
        }
        // Every kind has its own TOML key.
        let text = toml::to_string(&rates).unwrap();
        for kind in ErrorKind::ALL {
            assert!(text.contains(&format!("{} =", kind.as_str())), "{kind}");
        }
    }
}
