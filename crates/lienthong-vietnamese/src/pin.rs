//! The 12-digit personal identification number (số định danh cá nhân), the key of the National
//! Population Database and of every canonical person record.
//!
//! Structure (Nghị định 137/2015/NĐ-CP Điều 13; Thông tư 07/2016/TT-BCA Điều 7 and Phụ lục 1,
//! kept by Thông tư 59/2021/TT-BCA):
//!
//! ```text
//! P P P  G  Y Y  N N N N N N
//! │      │  │    └ six random digits
//! │      │  └ last two digits of the birth year
//! │      └ century of birth and sex (0/1: 1900s male/female, 2/3: 2000s, ... 8/9: 2300s)
//! └ province where the birth was registered (001–096), or a country code for births abroad
//! ```
//!
//! There is no check digit, so a mistyped number can only be caught by its structure and by
//! comparing it with the person's other data ([`consistency`]).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// Birth-registration province codes of the 63 provinces before 2025-07-01, with the province
/// each was merged into; copied from the project's reference data (see the file's header for
/// the sources).
const PREFIX_CSV: &str = include_str!("../data/pin_province_prefixes.csv");

/// Counts the data rows of the CSV (lines starting with a digit), at compile time.
const fn count_rows(data: &[u8]) -> usize {
    let mut count = 0;
    let mut line_start = true;
    let mut i = 0;
    while i < data.len() {
        if line_start && data[i].is_ascii_digit() {
            count += 1;
        }
        line_start = data[i] == b'\n';
        i += 1;
    }
    count
}

// The build fails if the table file loses or gains a province.
const _: () = assert!(
    count_rows(PREFIX_CSV.as_bytes()) == 63,
    "data/pin_province_prefixes.csv must list the 63 provinces"
);

/// Country codes for births registered abroad: digits 1–3 from 100 to 299.
///
/// UNVERIFIED: the country list (Thông tư 07/2016/TT-BCA Phụ lục 2) has been seen only in a
/// third-party transcription (codes 101–295, reference data
/// `vn_pin_country_codes_abroad_UNVERIFIED.csv`), so the whole block is accepted and no country
/// is named. Revisit when the official appendix is at hand.
const ABROAD: std::ops::RangeInclusive<u16> = 100..=299;

/// The highest century digit a number issued today can carry: 3 (births 2000–2099). Digits 4–9
/// are defined for births from 2100 to 2399, so a number with one is a keying error until then.
pub const HIGHEST_CENTURY_DIGIT_IN_USE: u8 = 3;

/// One birth-registration province (pre-2025 list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProvincePrefix {
    /// The three digits that start the ID number: `"001"` for Hà Nội.
    pub code: &'static str,
    /// The statistics office (GSO) province code before 2025-07-01: `"01"`.
    pub gso_code: &'static str,
    /// Short name as in the ID-number regulation: `"Hà Nội"`.
    pub name: &'static str,
    /// GSO code of the province this one became part of on 2025-07-01 (each new province kept
    /// the code of one old province, so this is also an old code).
    pub merged_into_gso_code: &'static str,
}

static PREFIXES: LazyLock<Vec<ProvincePrefix>> =
    // The file is compiled in, its row count is checked at build time and its content by the
    // tests, so a parse failure cannot reach a release; an empty table would reject every
    // number rather than accept wrong ones.
    LazyLock::new(|| parse_prefixes(PREFIX_CSV).unwrap_or_default());

fn parse_prefixes(csv: &'static str) -> Result<Vec<ProvincePrefix>, String> {
    let mut rows = csv.lines().filter(|line| !line.starts_with('#'));
    match rows.next() {
        Some("cccd_code,gso_code,cccd_name,merged_into_gso_code_2025_07") => {}
        other => return Err(format!("unexpected header {other:?}")),
    }
    rows.map(|row| {
        let fields: Vec<&'static str> = row.split(',').collect();
        match fields.as_slice() {
            [code, gso_code, name, merged]
                if is_digits(code, 3) && is_digits(gso_code, 2) && is_digits(merged, 2) =>
            {
                Ok(ProvincePrefix {
                    code,
                    gso_code,
                    name,
                    merged_into_gso_code: merged,
                })
            }
            _ => Err(format!("bad row {row:?}")),
        }
    })
    .collect()
}

fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// The 63 birth-registration provinces, in code order.
pub fn province_prefixes() -> &'static [ProvincePrefix] {
    &PREFIXES
}

/// The province with this three-digit code, if any.
pub fn province_prefix(code: &str) -> Option<&'static ProvincePrefix> {
    // Every record with an ID number looks its prefix up: by its value, not by scanning.
    static BY_NUMBER: LazyLock<Vec<Option<u8>>> = LazyLock::new(|| {
        let mut table = vec![None; 1000];
        for (i, prefix) in PREFIXES.iter().enumerate().rev() {
            if let (Some(n), Ok(i)) = (three_digits(prefix.code), u8::try_from(i)) {
                table[n] = Some(i);
            }
        }
        table
    });
    let at = BY_NUMBER[three_digits(code)?]?;
    PREFIXES.get(usize::from(at))
}

/// The value of a code of exactly three ASCII digits.
fn three_digits(code: &str) -> Option<usize> {
    match code.as_bytes() {
        &[a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(usize::from(a - b'0') * 100 + usize::from(b - b'0') * 10 + usize::from(c - b'0'))
        }
        _ => None,
    }
}

/// Sex as the ID number encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the century-and-sex digit (digit 4) means: the first year of the century of birth and
/// the sex, for every digit the regulation defines (even digits male, odd female; 0/1 the
/// 1900s, 2/3 the 2000s, 4/5 the 2100s, 6/7 the 2200s, 8/9 the 2300s; reference data
/// `vn_pin_century_sex_digit.csv`). `None` for a value above 9.
///
/// ```
/// use lienthong_vietnamese::pin::{century_and_sex, Sex};
/// assert_eq!(century_and_sex(0), Some((1900, Sex::Male)));
/// assert_eq!(century_and_sex(3), Some((2000, Sex::Female)));
/// assert_eq!(century_and_sex(8), Some((2300, Sex::Male)));
/// assert_eq!(century_and_sex(10), None);
/// ```
pub fn century_and_sex(digit: u8) -> Option<(u16, Sex)> {
    (digit <= 9).then(|| {
        let sex = if digit.is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        };
        (1900 + 100 * u16::from(digit / 2), sex)
    })
}

/// A personal ID number is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a personal ID number has 12 digits; this value has {len} characters")]
    WrongLength { len: usize },

    /// `position` counts characters from 1, after trimming.
    #[error("character {found:?} at position {position} is not an ASCII digit")]
    NonDigit { position: usize, found: char },

    #[error(
        "{prefix} is neither a birth-registration province code (001-096) nor a code for births \
         abroad (100-299)"
    )]
    UnknownPrefix { prefix: String },

    #[error("century digit {digit} is for births from {first_year}; no such number is issued yet")]
    CenturyDigitNotInUse { digit: u8, first_year: u16 },
}

/// A structurally valid 12-digit personal identification number.
///
/// `Display` and [`PersonalId::as_str`] give the full number. `Debug` masks the six random
/// digits (`PersonalId(079301******)`), because the number is personal data (Nghị định
/// 13/2023/NĐ-CP) and debug output ends up in logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonalId {
    /// Twelve ASCII digits (checked by [`PersonalId::parse`], the only constructor).
    digits: [u8; 12],
}

impl PersonalId {
    /// Parses a personal ID number: exactly 12 ASCII digits once surrounding white space is
    /// trimmed (no inner spaces, dots or full-width digits), a known province or abroad prefix,
    /// and a century digit in use (0–3, see [`HIGHEST_CENTURY_DIGIT_IN_USE`]).
    ///
    /// ```
    /// use lienthong_vietnamese::pin::{PersonalId, PinError, Sex};
    /// let id = PersonalId::parse(" 079301000123 ")?;
    /// assert_eq!(id.prefix(), "079");
    /// assert_eq!(id.birth_province().map(|p| p.name), Some("Hồ Chí Minh"));
    /// assert_eq!((id.century_sex_digit(), id.sex(), id.birth_year()), (3, Sex::Female, 2001));
    /// assert!(!id.is_abroad());
    ///
    /// assert_eq!(PersonalId::parse("07930100012"), Err(PinError::WrongLength { len: 11 }));
    /// assert_eq!(
    ///     PersonalId::parse("097301000123"),
    ///     Err(PinError::UnknownPrefix { prefix: "097".into() })
    /// );
    /// # Ok::<(), PinError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, PinError> {
        let s = s.trim();
        // Twelve ASCII digits (nearly every number): nothing to count or report.
        if !(s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())) {
            let len = s.chars().count();
            if len != 12 {
                return Err(PinError::WrongLength { len });
            }
            if let Some((i, found)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
                return Err(PinError::NonDigit {
                    position: i + 1,
                    found,
                });
            }
        }
        let mut digits = [0u8; 12];
        digits.copy_from_slice(s.as_bytes());
        let id = PersonalId { digits };

        let prefix = id.prefix();
        if province_prefix(prefix).is_none() && !ABROAD.contains(&id.number(0..3)) {
            return Err(PinError::UnknownPrefix {
                prefix: prefix.to_owned(),
            });
        }
        let digit = id.century_sex_digit();
        if digit > HIGHEST_CENTURY_DIGIT_IN_USE {
            let first_year = century_and_sex(digit).map_or(0, |(year, _)| year);
            return Err(PinError::CenturyDigitNotInUse { digit, first_year });
        }
        Ok(id)
    }

    /// The twelve digits.
    pub fn as_str(&self) -> &str {
        // Always ASCII digits (see `parse`), so always UTF-8.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// Digits 1–3: the birth-registration province code, or the country code for births abroad.
    pub fn prefix(&self) -> &str {
        &self.as_str()[..3]
    }

    /// Digit 4, as a number 0–9: century of birth and sex.
    pub fn century_sex_digit(&self) -> u8 {
        self.digits[3] - b'0'
    }

    pub fn sex(&self) -> Sex {
        if self.century_sex_digit().is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Year of birth: the century from digit 4 plus digits 5–6.
    pub fn birth_year(&self) -> u16 {
        let century = century_and_sex(self.century_sex_digit()).map_or(0, |(year, _)| year);
        century + self.number(4..6)
    }

    /// Digits 7–12, the random part.
    pub fn serial(&self) -> &str {
        &self.as_str()[6..]
    }

    /// Whether the birth was registered abroad: prefix 100–299. The country list behind these
    /// codes is unverified, so the whole block is accepted and no country is named.
    pub fn is_abroad(&self) -> bool {
        ABROAD.contains(&self.number(0..3))
    }

    /// The province of birth registration; `None` for births abroad.
    pub fn birth_province(&self) -> Option<&'static ProvincePrefix> {
        province_prefix(self.prefix())
    }

    fn number(&self, range: std::ops::Range<usize>) -> u16 {
        self.digits[range]
            .iter()
            .fold(0, |n, d| n * 10 + u16::from(d - b'0'))
    }
}

impl FromStr for PersonalId {
    type Err = PinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonalId::parse(s)
    }
}

impl fmt::Display for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonalId({}******)", &self.as_str()[..6])
    }
}

/// One way an ID number disagrees with the rest of a person's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PinDiscrepancy {
    BirthYear {
        in_pin: u16,
        recorded: u16,
    },
    Sex {
        in_pin: Sex,
        recorded: Sex,
    },
    /// `recorded` is the recorded province code as given (a two-digit code is shown with its
    /// leading 0). `same_province_since_2025` is true when both codes are provinces that were
    /// merged into the same new province on 2025-07-01: a record updated to the new unit's code
    /// names the same place, so this mismatch is likely harmless.
    BirthProvince {
        in_pin: String,
        recorded: String,
        same_province_since_2025: bool,
    },
}

/// Compares an ID number with the birth year, sex and province of birth registration recorded
/// for the same person, and returns every disagreement (empty when all given fields agree;
/// fields passed as `None` are not compared).
///
/// A disagreement is a discrepancy to report, not a reason to reject the number: the number is
/// re-issued when the person's sex, birth year or birth registration is corrected, or when it
/// was entered wrongly (the cases where "phải xác định lại số định danh cá nhân"), so an old
/// record can legitimately carry an old number or old data. The resolver reports such a match as
/// MATCHED_WITH_DISCREPANCIES and follows any "superseded by" link.
///
/// `birth_province_prefix` is the three-digit code (`"079"`); the two-digit statistics code of
/// the same province (`"79"`) is accepted too, as the pre-2025 codes differ only by the leading
/// 0.
///
/// ```
/// use lienthong_vietnamese::pin::{consistency, PersonalId, PinDiscrepancy, Sex};
/// let id = PersonalId::parse("001095012345")?;
/// assert!(consistency(&id, Some(1995), Some(Sex::Male), Some("01")).is_empty());
/// assert_eq!(
///     consistency(&id, Some(1959), Some(Sex::Male), None),
///     vec![PinDiscrepancy::BirthYear { in_pin: 1995, recorded: 1959 }]
/// );
/// # Ok::<(), lienthong_vietnamese::pin::PinError>(())
/// ```
pub fn consistency(
    id: &PersonalId,
    birth_year: Option<u16>,
    sex: Option<Sex>,
    birth_province_prefix: Option<&str>,
) -> Vec<PinDiscrepancy> {
    let mut found = Vec::new();
    if let Some(recorded) = birth_year
        && recorded != id.birth_year()
    {
        found.push(PinDiscrepancy::BirthYear {
            in_pin: id.birth_year(),
            recorded,
        });
    }
    if let Some(recorded) = sex
        && recorded != id.sex()
    {
        found.push(PinDiscrepancy::Sex {
            in_pin: id.sex(),
            recorded,
        });
    }
    if let Some(recorded) = birth_province_prefix {
        let recorded = recorded.trim();
        let recorded = if is_digits(recorded, 2) {
            format!("0{recorded}")
        } else {
            recorded.to_owned()
        };
        if recorded != id.prefix() {
            let same_province_since_2025 = match (id.birth_province(), province_prefix(&recorded)) {
                (Some(a), Some(b)) => a.merged_into_gso_code == b.merged_into_gso_code,
                _ => false,
            };
            found.push(PinDiscrepancy::BirthProvince {
                in_pin: id.prefix().to_owned(),
                recorded,
                same_province_since_2025,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_table_has_the_63_provinces() {
        let table = parse_prefixes(PREFIX_CSV).unwrap();
        assert_eq!(table.len(), 63);
        assert_eq!(province_prefixes(), table.as_slice());
        let codes: HashSet<&str> = table.iter().map(|p| p.code).collect();
        assert_eq!(codes.len(), 63);
        let gso: HashSet<&str> = table.iter().map(|p| p.gso_code).collect();
        for p in &table {
            let n: u16 = p.code.parse().unwrap();
            assert!((1..=96).contains(&n), "{}", p.code);
            assert_eq!(
                p.code,
                format!("0{}", p.gso_code),
                "pre-2025 codes differ by the leading 0"
            );
            assert!(
                gso.contains(p.merged_into_gso_code),
                "new units kept an old code"
            );
            assert!(!p.name.is_empty());
        }
        // 34 provinces after the merger.
        let merged: HashSet<&str> = table.iter().map(|p| p.merged_into_gso_code).collect();
        assert_eq!(merged.len(), 34);
        assert_eq!(province_prefix("001").unwrap().name, "Hà Nội");
        assert_eq!(province_prefix("096").unwrap().name, "Cà Mau");
        assert!(province_prefix("003").is_none());
    }

    #[test]
    fn prefixes_are_found_as_by_scanning_the_table() {
        let scan = |code: &str| PREFIXES.iter().find(|p| p.code == code);
        let mut codes: Vec<String> = (0..1000).map(|n| format!("{n:03}")).collect();
        codes.extend(["", "1", "01", "0001", "ab1", "０01", " 01"].map(String::from));
        for code in &codes {
            assert_eq!(province_prefix(code), scan(code), "{code:?}");
        }
    }

    #[test]
    fn a_malformed_table_is_an_error() {
        assert!(
            parse_prefixes("cccd_code,gso_code,cccd_name,merged_into_gso_code_2025_07\n01,01,X,01")
                .is_err()
        );
        assert!(parse_prefixes("code,name\n001,X").is_err());
        assert!(
            parse_prefixes("cccd_code,gso_code,cccd_name,merged_into_gso_code_2025_07\n001,01,X")
                .is_err()
        );
    }

    #[test]
    fn century_digit_table_matches_the_reference_data() {
        // vn_pin_century_sex_digit.csv: digit4, century start, sex.
        let reference = [
            (0, 1900, Sex::Male),
            (1, 1900, Sex::Female),
            (2, 2000, Sex::Male),
            (3, 2000, Sex::Female),
            (4, 2100, Sex::Male),
            (5, 2100, Sex::Female),
            (6, 2200, Sex::Male),
            (7, 2200, Sex::Female),
            (8, 2300, Sex::Male),
            (9, 2300, Sex::Female),
        ];
        for (digit, year, sex) in reference {
            assert_eq!(century_and_sex(digit), Some((year, sex)));
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("", PinError::WrongLength { len: 0 }),
            ("0010950123456", PinError::WrongLength { len: 13 }),
            (
                "001 95012345",
                PinError::NonDigit {
                    position: 4,
                    found: ' ',
                },
            ),
            (
                "00109501234x",
                PinError::NonDigit {
                    position: 12,
                    found: 'x',
                },
            ),
            (
                "００1095012345",
                PinError::NonDigit {
                    position: 1,
                    found: '０',
                },
            ),
            ("００10950123", PinError::WrongLength { len: 10 }),
            (
                "000095012345",
                PinError::UnknownPrefix {
                    prefix: "000".into(),
                },
            ),
            (
                "003095012345",
                PinError::UnknownPrefix {
                    prefix: "003".into(),
                },
            ),
            (
                "097095012345",
                PinError::UnknownPrefix {
                    prefix: "097".into(),
                },
            ),
            (
                "300095012345",
                PinError::UnknownPrefix {
                    prefix: "300".into(),
                },
            ),
            (
                "999095012345",
                PinError::UnknownPrefix {
                    prefix: "999".into(),
                },
            ),
            (
                "001495012345",
                PinError::CenturyDigitNotInUse {
                    digit: 4,
                    first_year: 2100,
                },
            ),
            (
                "001995012345",
                PinError::CenturyDigitNotInUse {
                    digit: 9,
                    first_year: 2300,
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(PersonalId::parse(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn births_abroad() {
        for prefix in ["100", "101", "232", "295", "299"] {
            let id = PersonalId::parse(&format!("{prefix}288004567")).unwrap();
            assert!(id.is_abroad());
            assert_eq!(id.birth_province(), None);
            assert_eq!(id.birth_year(), 2088);
        }
    }

    #[test]
    fn accessors() {
        let id: PersonalId = "\t038170999999\n".parse().unwrap();
        assert_eq!(id.as_str(), "038170999999");
        assert_eq!(id.to_string(), "038170999999");
        assert_eq!(id.prefix(), "038");
        assert_eq!(id.serial(), "999999");
        assert_eq!(id.century_sex_digit(), 1);
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.birth_year(), 1970);
        assert_eq!(id.birth_province().unwrap().name, "Thanh Hóa");
    }

    #[test]
    fn debug_masks_the_random_digits() {
        let id = PersonalId::parse("079301000123").unwrap();
        assert_eq!(format!("{id:?}"), "PersonalId(079301******)");
        assert!(!format!("{:?}", Some(id)).contains("000123"));
    }

    #[test]
    fn consistency_reports_each_disagreement() {
        let id = PersonalId::parse("002088001234").unwrap(); // Hà Giang, male, 1988
        assert!(consistency(&id, None, None, None).is_empty());
        assert!(consistency(&id, Some(1988), Some(Sex::Male), Some(" 002 ")).is_empty());
        assert_eq!(
            consistency(&id, Some(1989), Some(Sex::Female), Some("008")),
            vec![
                PinDiscrepancy::BirthYear {
                    in_pin: 1988,
                    recorded: 1989
                },
                PinDiscrepancy::Sex {
                    in_pin: Sex::Male,
                    recorded: Sex::Female
                },
                // Hà Giang and Tuyên Quang became one province on 2025-07-01.
                PinDiscrepancy::BirthProvince {
                    in_pin: "002".into(),
                    recorded: "008".into(),
                    same_province_since_2025: true,
                },
            ]
        );
        assert_eq!(
            consistency(&id, None, None, Some("79")),
            vec![PinDiscrepancy::BirthProvince {
                in_pin: "002".into(),
                recorded: "079".into(),
                same_province_since_2025: false,
            }]
        );
        assert_eq!(
            consistency(&id, None, None, Some("Hà Giang")),
            vec![PinDiscrepancy::BirthProvince {
                in_pin: "002".into(),
                recorded: "Hà Giang".into(),
                same_province_since_2025: false,
            }]
        );
    }

    fn valid_prefix() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(
                province_prefixes()
                    .iter()
                    .map(|p| p.code.to_owned())
                    .collect::<Vec<_>>()
            ),
            (100u16..=299).prop_map(|n| n.to_string()),
        ]
    }

    proptest! {
        #[test]
        fn valid_numbers_parse_and_give_back_their_parts(
            prefix in valid_prefix(),
            digit in 0u8..=3,
            yy in 0u16..100,
            serial in "[0-9]{6}",
        ) {
            let text = format!("{prefix}{digit}{yy:02}{serial}");
            let id = PersonalId::parse(&text).unwrap();
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert_eq!(id.prefix(), prefix.as_str());
            prop_assert_eq!(id.serial(), serial.as_str());
            prop_assert_eq!(id.century_sex_digit(), digit);
            prop_assert_eq!(id.birth_year(), 1900 + 100 * u16::from(digit / 2) + yy);
            prop_assert_eq!(id.sex() == Sex::Female, digit % 2 == 1);
            prop_assert_eq!(id.is_abroad(), id.birth_province().is_none());
            prop_assert_eq!(PersonalId::parse(&id.to_string()).unwrap(), id);
            prop_assert!(consistency(&id, Some(id.birth_year()), Some(id.sex()), Some(&prefix)).is_empty());
        }

        #[test]
        fn anything_else_is_rejected_with_a_reason(s in "\\PC{0,14}") {
            match PersonalId::parse(&s) {
                Ok(id) => {
                    prop_assert_eq!(id.as_str(), s.trim());
                    prop_assert!(id.century_sex_digit() <= HIGHEST_CENTURY_DIGIT_IN_USE);
                }
                Err(PinError::WrongLength { len }) => prop_assert_ne!(len, 12),
                Err(PinError::NonDigit { position, found }) => {
                    prop_assert_eq!(s.trim().chars().nth(position - 1), Some(found));
                    prop_assert!(!found.is_ascii_digit());
                }
                Err(PinError::UnknownPrefix { prefix }) => {
                    prop_assert!(province_prefix(&prefix).is_none());
                    let n: u16 = prefix.parse().unwrap();
                    prop_assert!(!(100..=299).contains(&n));
                }
                Err(PinError::CenturyDigitNotInUse { digit, .. }) => prop_assert!(digit > 3),
            }
        }
    }
}
