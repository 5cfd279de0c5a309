//! Defects of the source databases themselves, beside the errors about people
//! ([`ErrorKind`](crate::ErrorKind)): values that the shipped mappings must flag or dead-letter.
//!
//! A person-level error is a wrong statement about someone (a typo, a swapped day and month);
//! a defect is a value that is malformed for its column: an ID number that cannot be one, a code
//! of no list, a date that does not exist, a name stored in a legacy encoding. Each defect says
//! what the translator must make of it ([`Defect::outcome`]), so a test can check the pipeline
//! row by row against `truth.csv`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DatagenError;

/// One kind of defect in a source row. The names (`snake_case`) are those of `truth.csv`,
/// [`DefectRates`] and `datagen.json`; they never collide with an [`ErrorKind`](crate::ErrorKind)
/// name, so `truth.csv` lists both in one column.
///
/// Like error kinds, a defect that cannot apply to a row (no ID number stated, a column the
/// table does not have) leaves no trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Defect {
    /// The ID number column holds something that cannot be a personal ID number: a digit
    /// dropped, a letter typed for a digit (`O` for `0`, `l` for `1`), or the 9-digit number of
    /// the old identity card keyed into the new field. The translator flags `pin.invalid`.
    InvalidId,
    /// The name stored as VNI-Windows bytes read back as Latin-1 (`Nguyeãn Vaên Ñöùc`); the
    /// shipped mappings of Unicode sources do not decode it, so the translator flags
    /// `text.legacy_encoding`. Applied only where the bytes read unambiguously as VNI.
    Vni,
    /// A coded column holds a code of no list: sex `3`, category `XX`, status `9`, religion
    /// `99`, ethnic group `99`, province `99`, scheme `XX`. The translator flags `code.unknown`
    /// or `map.unmapped`, whichever the column's transform gives.
    UnknownCode,
    /// A birth date that does not exist (`31/04/1975`), possible only in a text date column
    /// (social security). The translator flags `value.invalid_date`.
    ImpossibleDate,
    /// A birth date known only by its year (`00/00/1975`) or month (`00/03/1975`), as books
    /// opened from old paper records hold them (social security). The translator notes
    /// `date.partial`.
    PartialBirthDate,
    /// The first month of a contribution period cannot be read (`13/2019`); the social-security
    /// mapping rejects such rows (`on_error = "reject"`), so the translator dead-letters them.
    UnreadablePeriod,
    /// A social insurance number with a digit missing. The translator flags
    /// `insurance_number.invalid`.
    InvalidInsuranceNumber,
}

impl Defect {
    /// Every defect, in the order `truth.csv` lists a row's defects.
    pub const ALL: [Defect; 7] = [
        Defect::InvalidId,
        Defect::Vni,
        Defect::UnknownCode,
        Defect::ImpossibleDate,
        Defect::PartialBirthDate,
        Defect::UnreadablePeriod,
        Defect::InvalidInsuranceNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Defect::InvalidId => "invalid_id",
            Defect::Vni => "vni",
            Defect::UnknownCode => "unknown_code",
            Defect::ImpossibleDate => "impossible_date",
            Defect::PartialBirthDate => "partial_birth_date",
            Defect::UnreadablePeriod => "unreadable_period",
            Defect::InvalidInsuranceNumber => "invalid_insurance_number",
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Defect {
    type Err = DatagenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| DatagenError::UnknownErrorKind(s.to_owned()))
    }
}

/// The probability of each defect. Defects about a person's stated data (`invalid_id`, `vni`,
/// `impossible_date`, `partial_birth_date`, `invalid_insurance_number`) are drawn once per
/// person of a table, so every contribution period of one participant repeats them as the
/// social-security database repeats personal data; `unknown_code` and `unreadable_period` are
/// drawn per row. Missing fields in TOML keep their defaults; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefectRates {
    pub invalid_id: f64,
    pub vni: f64,
    pub unknown_code: f64,
    pub impossible_date: f64,
    pub partial_birth_date: f64,
    pub unreadable_period: f64,
    pub invalid_insurance_number: f64,
}

impl Default for DefectRates {
    fn default() -> Self {
        Self {
            invalid_id: 0.005,
            vni: 0.005,
            unknown_code: 0.005,
            impossible_date: 0.003,
            // Books opened from paper records before 1995 often knew only the birth year.
            partial_birth_date: 0.01,
            unreadable_period: 0.002,
            invalid_insurance_number: 0.003,
        }
    }
}

impl DefectRates {
    /// No defects at all.
    pub fn none() -> Self {
        let mut rates = Self::default();
        for defect in Defect::ALL {
            *rates.rate_mut(defect) = 0.0;
        }
        rates
    }

    /// Rates from TOML text (`invalid_id = 0.05`), defaults for what it leaves out.
    pub fn from_toml(text: &str) -> Result<Self, DatagenError> {
        let rates: DefectRates =
            toml::from_str(text).map_err(|e| DatagenError::RatesFile(e.to_string()))?;
        rates.validate()?;
        Ok(rates)
    }

    pub fn rate(&self, defect: Defect) -> f64 {
        match defect {
            Defect::InvalidId => self.invalid_id,
            Defect::Vni => self.vni,
            Defect::UnknownCode => self.unknown_code,
            Defect::ImpossibleDate => self.impossible_date,
            Defect::PartialBirthDate => self.partial_birth_date,
            Defect::UnreadablePeriod => self.unreadable_period,
            Defect::InvalidInsuranceNumber => self.invalid_insurance_number,
        }
    }

    pub fn rate_mut(&mut self, defect: Defect) -> &mut f64 {
        match defect {
            Defect::InvalidId => &mut self.invalid_id,
            Defect::Vni => &mut self.vni,
            Defect::UnknownCode => &mut self.unknown_code,
            Defect::ImpossibleDate => &mut self.impossible_date,
            Defect::PartialBirthDate => &mut self.partial_birth_date,
            Defect::UnreadablePeriod => &mut self.unreadable_period,
            Defect::InvalidInsuranceNumber => &mut self.invalid_insurance_number,
        }
    }

    /// Every rate is a probability.
    pub fn validate(&self) -> Result<(), DatagenError> {
        for defect in Defect::ALL {
            let value = self.rate(defect);
            if !(0.0..=1.0).contains(&value) {
                return Err(DatagenError::Rate {
                    name: defect.as_str().to_owned(),
                    value,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn names_round_trip_and_never_collide_with_error_kinds() {
        for defect in Defect::ALL {
            assert_eq!(defect.as_str().parse::<Defect>().unwrap(), defect);
            assert_eq!(
                serde_json::to_string(&defect).unwrap(),
                format!("\"{}\"", defect.as_str())
            );
            assert!(defect.as_str().parse::<ErrorKind>().is_err(), "{defect}");
        }
    }

    #[test]
    fn toml_overrides_defaults_and_refuses_unknown_keys() {
        let rates = DefectRates::from_toml("invalid_id = 0.2\n").unwrap();
        assert_eq!(rates.invalid_id, 0.2);
        assert_eq!(rates.vni, DefectRates::default().vni);
        assert!(DefectRates::from_toml("invalid_ids = 0.2").is_err());
        assert!(DefectRates::from_toml("vni = -0.1").is_err());
        let mut all = DefectRates::none();
        for (i, defect) in Defect::ALL.into_iter().enumerate() {
            *all.rate_mut(defect) = i as f64 / 10.0;
        }
        for (i, defect) in Defect::ALL.into_iter().enumerate() {
            assert_eq!(all.rate(defect), i as f64 / 10.0);
        }
    }
}
