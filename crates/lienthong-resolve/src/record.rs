//! The values the resolver compares: personal ID numbers, partial birth dates, sex, provinces and
//! the old→new province mapping, names, and the register entries the index is built from.
//!
//! Everything here is a plain value with validating constructors; nothing depends on the index or
//! the model. Text values (names) are expected to be Unicode NFC with single spaces: the caller's
//! normalisation (legacy encodings, stray characters) happens before the resolver sees them.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A 12-digit personal ID number (số định danh cá nhân): `PPP G YY NNNNNN`.
///
/// `PPP` is the province of birth registration (001–096) or a country code for births abroad,
/// `G` encodes century and sex, `YY` the last two digits of the birth year, then six random
/// digits. There is no check digit, so a typo usually yields another well-formed number: the
/// matcher therefore never trusts a stated number on its own (see `matcher`).
///
/// Stored as a `u64` (the number the digits spell); leading zeros are restored when printed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pin(u64);

/// Why a text is not a personal ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a personal ID number has 12 digits, this one has {length} characters")]
    WrongLength { length: usize },
    #[error(
        "character {character:?} at position {position} of a personal ID number is not a digit"
    )]
    NotADigit { position: usize, character: char },
    #[error("{value} is larger than any 12-digit number")]
    OutOfRange { value: u64 },
}

impl Pin {
    /// The largest 12-digit number.
    pub const MAX: u64 = 999_999_999_999;

    /// Parses exactly 12 ASCII digits (no spaces, no separators: the caller trims).
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let length = text.chars().count();
        if length != 12 {
            return Err(PinError::WrongLength { length });
        }
        let mut value = 0u64;
        for (position, character) in text.chars().enumerate() {
            // `to_digit(10)` accepts ASCII digits only, as the register does.
            let Some(digit) = character.to_digit(10) else {
                return Err(PinError::NotADigit {
                    position,
                    character,
                });
            };
            value = value * 10 + u64::from(digit);
        }
        Ok(Self(value))
    }

    /// The number whose 12-digit spelling (with leading zeros) is the ID.
    pub fn from_u64(value: u64) -> Result<Self, PinError> {
        if value > Self::MAX {
            return Err(PinError::OutOfRange { value });
        }
        Ok(Self(value))
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// A number this crate stored after checking it; clamped so a logic error cannot produce an
    /// out-of-range `Pin`.
    pub(crate) fn from_trusted(value: u64) -> Self {
        debug_assert!(value <= Self::MAX, "{value} is not a 12-digit number");
        Self(value.min(Self::MAX))
    }

    /// The 12 digits, most significant first.
    pub fn digits(self) -> [u8; 12] {
        let mut digits = [0u8; 12];
        let mut rest = self.0;
        for digit in digits.iter_mut().rev() {
            // `rest % 10` is below 10, so the narrowing cannot lose anything.
            *digit = (rest % 10) as u8;
            rest /= 10;
        }
        digits
    }

    /// Builds a number from 12 digits (each 0–9).
    pub fn from_digits(digits: [u8; 12]) -> Result<Self, PinError> {
        let mut value = 0u64;
        for (position, &digit) in digits.iter().enumerate() {
            if digit > 9 {
                return Err(PinError::NotADigit {
                    position,
                    character: char::from(digit),
                });
            }
            value = value * 10 + u64::from(digit);
        }
        Ok(Self(value))
    }

    /// Digits 1–3: the province of birth registration (1–96) or a country code.
    pub fn registration_code(self) -> u16 {
        // Below 1000 by construction.
        (self.0 / 1_000_000_000) as u16
    }

    /// Digit 4: century of birth and sex (0/1: 1900s male/female, 2/3: 2000s, ...).
    pub fn century_sex_digit(self) -> u8 {
        ((self.0 / 100_000_000) % 10) as u8
    }

    /// Digits 5–6: the last two digits of the birth year.
    pub fn year_digits(self) -> u8 {
        ((self.0 / 1_000_000) % 100) as u8
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin({:012})", self.0)
    }
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for Pin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A birth date of which any trailing part may be unknown.
///
/// Vietnamese records often hold "00/00/1975" or just "1975": the year is known, the day and
/// month are not. The allowed shapes are unknown, year only, year and month, and a full date; a
/// day without a month or a month without a year is rejected because no record means that.
///
/// Years are 1..=4095: every birth year a register can hold, and it keeps a date in 21 bits
/// ([`PartialDate::pack`]), which the population index relies on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PartialDate {
    year: u16,
    month: u8,
    day: u8,
}

/// How much of a [`PartialDate`] is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatePrecision {
    Unknown,
    Year,
    YearMonth,
    Full,
}

/// Why parts do not make a [`PartialDate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("year {year} is outside 1..=4095")]
    YearOutOfRange { year: u16 },
    #[error("month {month} is outside 1..=12")]
    MonthOutOfRange { month: u8 },
    #[error("day {day} does not exist in {year:04}-{month:02}")]
    NoSuchDay { year: u16, month: u8, day: u8 },
    #[error("a month is known but the year is not")]
    MonthWithoutYear,
    #[error("a day is known but the month is not")]
    DayWithoutMonth,
}

impl PartialDate {
    /// Nothing known.
    pub const UNKNOWN: Self = Self {
        year: 0,
        month: 0,
        day: 0,
    };

    /// The largest year a [`PartialDate`] holds.
    pub const MAX_YEAR: u16 = 4095;

    /// Builds a date from parts where 0 means "unknown".
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        if year > Self::MAX_YEAR {
            return Err(DateError::YearOutOfRange { year });
        }
        if month > 12 {
            return Err(DateError::MonthOutOfRange { month });
        }
        if year == 0 && month != 0 {
            return Err(DateError::MonthWithoutYear);
        }
        if month == 0 && day != 0 {
            return Err(DateError::DayWithoutMonth);
        }
        if day != 0 && day > days_in_month(year, month) {
            return Err(DateError::NoSuchDay { year, month, day });
        }
        Ok(Self { year, month, day })
    }

    /// A full date.
    pub fn full(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        if year == 0 {
            return Err(DateError::YearOutOfRange { year });
        }
        if month == 0 {
            return Err(DateError::MonthOutOfRange { month });
        }
        if day == 0 {
            return Err(DateError::NoSuchDay { year, month, day });
        }
        Self::new(year, month, day)
    }

    pub fn year_only(year: u16) -> Result<Self, DateError> {
        if year == 0 {
            return Err(DateError::YearOutOfRange { year });
        }
        Self::new(year, 0, 0)
    }

    pub fn year(self) -> Option<u16> {
        (self.year != 0).then_some(self.year)
    }

    pub fn month(self) -> Option<u8> {
        (self.month != 0).then_some(self.month)
    }

    pub fn day(self) -> Option<u8> {
        (self.day != 0).then_some(self.day)
    }

    pub fn precision(self) -> DatePrecision {
        match (self.year, self.month, self.day) {
            (0, _, _) => DatePrecision::Unknown,
            (_, 0, _) => DatePrecision::Year,
            (_, _, 0) => DatePrecision::YearMonth,
            _ => DatePrecision::Full,
        }
    }

    pub fn is_unknown(self) -> bool {
        self.year == 0
    }

    pub fn is_full(self) -> bool {
        self.precision() == DatePrecision::Full
    }

    /// The date in the low 21 bits: year (12 bits), month (4), day (5).
    pub fn pack(self) -> u32 {
        (u32::from(self.year) << 9) | (u32::from(self.month) << 5) | u32::from(self.day)
    }

    /// The inverse of [`PartialDate::pack`]; bits above 21 are ignored. `None` when the bits do
    /// not spell a valid date.
    pub fn unpack(bits: u32) -> Option<Self> {
        let bits = bits & 0x1F_FFFF;
        // Each part is masked to its width first, so the narrowing is exact.
        let year = (bits >> 9) as u16;
        let month = ((bits >> 5) & 0xF) as u8;
        let day = (bits & 0x1F) as u8;
        Self::new(year, month, day).ok()
    }
}

/// Days in a month of the proleptic Gregorian calendar; 31 when the year is unknown.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year == 0 => 29,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

impl fmt::Display for PartialDate {
    /// ISO 8601 with the unknown parts left off: `1975-03-12`, `1975-03`, `1975`, or empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.precision() {
            DatePrecision::Unknown => Ok(()),
            DatePrecision::Year => write!(f, "{:04}", self.year),
            DatePrecision::YearMonth => write!(f, "{:04}-{:02}", self.year, self.month),
            DatePrecision::Full => {
                write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
            }
        }
    }
}

impl fmt::Debug for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unknown() {
            f.write_str("PartialDate(unknown)")
        } else {
            write!(f, "PartialDate({self})")
        }
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Sex as the register records it. Unknown is `Option::None` wherever a sex is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
        }
    }

    /// 0 unknown, 1 male, 2 female: the two bits the index stores.
    pub(crate) fn code(sex: Option<Self>) -> u32 {
        match sex {
            None => 0,
            Some(Self::Male) => 1,
            Some(Self::Female) => 2,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Male),
            2 => Some(Self::Female),
            _ => None,
        }
    }
}

/// Which list a province code comes from.
///
/// On 2025-07-01 the 63 provinces became 34. No new codes were made: each new unit kept the code
/// of one of the provinces it absorbed, so the same number can name different units in the two
/// lists (08 is the old Tuyên Quang before, the merged Tuyên Quang with Hà Giang after). A code is
/// therefore meaningless without its list, and old codes stay valid forever inside old records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvinceCodeSystem {
    /// The 63 provinces before 2025-07-01.
    Pre2025,
    /// The 34 provincial units from 2025-07-01.
    From2025,
}

/// A province by its GSO number (the personal ID prefix is the same number padded to 3 digits:
/// 002 ↔ 02) in one of the two code lists.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Province {
    system: ProvinceCodeSystem,
    code: u8,
}

/// Why a value is not a province code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvinceError {
    #[error("province code {code} is outside 1..={max}", max = Province::MAX_CODE)]
    OutOfRange { code: u32 },
    #[error("province code {text:?} is not 1 to 3 digits")]
    NotNumeric { text: String },
}

impl Province {
    /// Province codes go up to 96; 127 leaves room while keeping a code in 7 bits.
    pub const MAX_CODE: u8 = 127;

    pub fn new(system: ProvinceCodeSystem, code: u8) -> Result<Self, ProvinceError> {
        if code == 0 || code > Self::MAX_CODE {
            return Err(ProvinceError::OutOfRange {
                code: u32::from(code),
            });
        }
        Ok(Self { system, code })
    }

    /// Parses a GSO code ("02") or a personal-ID prefix ("002").
    pub fn parse(system: ProvinceCodeSystem, text: &str) -> Result<Self, ProvinceError> {
        if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProvinceError::NotNumeric {
                text: text.to_owned(),
            });
        }
        let code: u32 = text
            .bytes()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
        let narrow = u8::try_from(code).map_err(|_| ProvinceError::OutOfRange { code })?;
        Self::new(system, narrow)
    }

    pub fn system(self) -> ProvinceCodeSystem {
        self.system
    }

    pub fn code(self) -> u8 {
        self.code
    }

    /// One byte: the code in the low 7 bits, the list in the high bit; 0 is "no province".
    pub(crate) fn pack(province: Option<Self>) -> u8 {
        match province {
            None => 0,
            Some(p) => {
                let system_bit = match p.system {
                    ProvinceCodeSystem::Pre2025 => 0,
                    ProvinceCodeSystem::From2025 => 0x80,
                };
                p.code | system_bit
            }
        }
    }

    pub(crate) fn unpack(byte: u8) -> Option<Self> {
        let code = byte & 0x7F;
        if code == 0 {
            return None;
        }
        let system = if byte & 0x80 == 0 {
            ProvinceCodeSystem::Pre2025
        } else {
            ProvinceCodeSystem::From2025
        };
        Some(Self { system, code })
    }
}

impl fmt::Display for Province {
    /// `02 (pre-2025)` / `08 (2025)`: the code with its list, because the number alone is
    /// ambiguous.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = match self.system {
            ProvinceCodeSystem::Pre2025 => "pre-2025",
            ProvinceCodeSystem::From2025 => "2025",
        };
        write!(f, "{:02} ({list})", self.code)
    }
}

impl fmt::Debug for Province {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Province({self})")
    }
}

impl Serialize for Province {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The 2025 province merger as data: every pre-2025 code → the post-2025 code of the unit it
/// became part of.
///
/// Built from pairs (the reference table `vn_province_merger_map_63_to_34.csv` holds them) rather
/// than compiled in, so a correction of the table is a data change. Because each new unit kept
/// the code of one of its old provinces, every new code is also an old code that maps to itself;
/// [`ProvinceMap::from_pairs`] adds that identity pair when the input leaves it out and rejects
/// input that contradicts it (a chain old → new → newer).
#[derive(Clone, PartialEq, Eq)]
pub struct ProvinceMap {
    /// Indexed by old code; 0 = not in the map.
    old_to_new: [u8; 128],
}

/// Why pairs do not make a [`ProvinceMap`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvinceMapError {
    #[error("province code {code} is outside 1..={max}", max = Province::MAX_CODE)]
    OutOfRange { code: u8 },
    #[error("old province {old} is mapped to both {first} and {second}")]
    Conflict { old: u8, first: u8, second: u8 },
    #[error(
        "province {new} is a post-2025 code but old code {new} is mapped to {other}: each new unit keeps one old code, so it must map to itself"
    )]
    NotSelfMapped { new: u8, other: u8 },
}

impl ProvinceMap {
    /// A map without any pair: only identical codes in the same list compare equal.
    pub fn empty() -> Self {
        Self {
            old_to_new: [0; 128],
        }
    }

    /// Builds the map from (old code, new code) pairs. Repeating a pair is harmless.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u8, u8)>) -> Result<Self, ProvinceMapError> {
        let mut old_to_new = [0u8; 128];
        let mut set = |old: u8, new: u8| -> Result<(), ProvinceMapError> {
            for code in [old, new] {
                if code == 0 || code > Province::MAX_CODE {
                    return Err(ProvinceMapError::OutOfRange { code });
                }
            }
            let slot = &mut old_to_new[usize::from(old)];
            if *slot != 0 && *slot != new {
                return Err(ProvinceMapError::Conflict {
                    old,
                    first: *slot,
                    second: new,
                });
            }
            *slot = new;
            Ok(())
        };
        let pairs: Vec<(u8, u8)> = pairs.into_iter().collect();
        for &(old, new) in &pairs {
            set(old, new)?;
        }
        for &(_, new) in &pairs {
            let current = old_to_new[usize::from(new)];
            if current == 0 {
                old_to_new[usize::from(new)] = new;
            } else if current != new {
                return Err(ProvinceMapError::NotSelfMapped {
                    new,
                    other: current,
                });
            }
        }
        Ok(Self { old_to_new })
    }

    /// The post-2025 code of the unit a province is (or became part of); `None` for an old code
    /// the map does not know or a code that is not a post-2025 unit.
    pub fn current_code(&self, province: Province) -> Option<u8> {
        let code = province.code;
        let mapped = self.old_to_new[usize::from(code)];
        match province.system {
            ProvinceCodeSystem::Pre2025 => (mapped != 0).then_some(mapped),
            // A post-2025 code is valid when it is the target of some old code, i.e. maps to
            // itself.
            ProvinceCodeSystem::From2025 => (mapped == code).then_some(code),
        }
    }

    /// The (old, new) pairs, by old code.
    pub fn pairs(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        self.old_to_new
            .iter()
            .enumerate()
            .filter(|(_, new)| **new != 0)
            // The array has 128 entries, so the index fits in a byte.
            .map(|(old, new)| (old as u8, *new))
    }

    /// A stable digest of the pairs, so a saved index can tell whether it was built with the
    /// same map.
    pub fn fingerprint(&self) -> u64 {
        crate::hash::fnv1a(&self.old_to_new)
    }
}

impl Default for ProvinceMap {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for ProvinceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.pairs()).finish()
    }
}

/// A personal name in the register: family (họ) + middle (tên đệm) + given (tên). Empty means
/// absent. NFC, single spaces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PersonName {
    pub family: String,
    pub middle: String,
    pub given: String,
}

impl PersonName {
    pub fn new(family: &str, middle: &str, given: &str) -> Self {
        Self {
            family: family.to_owned(),
            middle: middle.to_owned(),
            given: given.to_owned(),
        }
    }

    /// The parts joined by single spaces, absent parts left out.
    pub fn full(&self) -> String {
        [&self.family, &self.middle, &self.given]
            .iter()
            .filter(|part| !part.is_empty())
            .map(|part| part.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One person of the population register as the index takes it (the comparison-relevant part of
/// `lienthong.v1.PopulationRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationEntry {
    /// The current personal ID number.
    pub pin: Pin,
    /// Earlier numbers of the same person (re-issued after a correction of sex, birth year or an
    /// entry error); lookups by them resolve to `pin`.
    pub superseded: Vec<Pin>,
    pub name: PersonName,
    pub birth_date: PartialDate,
    pub sex: Option<Sex>,
    /// Province of birth registration, in the list it was recorded in.
    pub birth_province: Option<Province>,
    pub deceased: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pin_parses_twelve_digits_and_prints_leading_zeros() {
        let pin = Pin::parse("001090012345").unwrap();
        assert_eq!(pin.as_u64(), 1_090_012_345);
        assert_eq!(pin.to_string(), "001090012345");
        assert_eq!(pin.registration_code(), 1);
        assert_eq!(pin.century_sex_digit(), 0);
        assert_eq!(pin.year_digits(), 90);
        assert_eq!(
            pin.digits(),
            [0, 0, 1, 0, 9, 0, 0, 1, 2, 3, 4, 5],
            "digits most significant first"
        );
    }

    #[test]
    fn pin_rejects_wrong_length_and_non_digits() {
        assert_eq!(
            Pin::parse("00109001234"),
            Err(PinError::WrongLength { length: 11 })
        );
        assert_eq!(
            Pin::parse("00109001234x"),
            Err(PinError::NotADigit {
                position: 11,
                character: 'x'
            })
        );
        // Non-ASCII digits (Arabic-Indic) are digits to Unicode but not to the register.
        assert!(matches!(
            Pin::parse("٠٠١٠٩٠٠١٢٣٤٥"),
            Err(PinError::NotADigit { position: 0, .. })
        ));
        assert!(Pin::from_u64(1_000_000_000_000).is_err());
    }

    #[test]
    fn partial_date_shapes() {
        assert_eq!(
            PartialDate::new(1975, 0, 0).unwrap().precision(),
            DatePrecision::Year
        );
        assert_eq!(
            PartialDate::new(1975, 3, 0).unwrap().precision(),
            DatePrecision::YearMonth
        );
        assert_eq!(
            PartialDate::new(0, 3, 0),
            Err(DateError::MonthWithoutYear),
            "a month without a year is no record's meaning"
        );
        assert_eq!(
            PartialDate::new(1975, 0, 3),
            Err(DateError::DayWithoutMonth)
        );
        assert!(PartialDate::new(2023, 2, 29).is_err());
        assert!(PartialDate::new(2024, 2, 29).is_ok());
        assert!(PartialDate::new(1900, 2, 29).is_err());
        assert!(PartialDate::new(2000, 2, 29).is_ok());
        assert!(PartialDate::new(4096, 1, 1).is_err());
        assert_eq!(PartialDate::new(1975, 3, 0).unwrap().to_string(), "1975-03");
        assert_eq!(PartialDate::UNKNOWN.to_string(), "");
    }

    #[test]
    fn province_parse_accepts_gso_and_pin_prefix_forms() {
        let a = Province::parse(ProvinceCodeSystem::Pre2025, "02").unwrap();
        let b = Province::parse(ProvinceCodeSystem::Pre2025, "002").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "02 (pre-2025)");
        assert!(Province::parse(ProvinceCodeSystem::Pre2025, "0").is_err());
        assert!(Province::parse(ProvinceCodeSystem::Pre2025, "2a").is_err());
        assert!(Province::parse(ProvinceCodeSystem::Pre2025, "300").is_err());
    }

    fn real_pairs() -> Vec<(u8, u8)> {
        // From vn_province_merger_map_63_to_34.csv: Hà Giang → Tuyên Quang, Tuyên Quang kept,
        // Yên Bái's code kept by the merged Lào Cai, old Lào Cai → 15.
        vec![(2, 8), (8, 8), (10, 15), (15, 15)]
    }

    #[test]
    fn province_map_follows_the_merger() {
        let map = ProvinceMap::from_pairs(real_pairs()).unwrap();
        let ha_giang = Province::new(ProvinceCodeSystem::Pre2025, 2).unwrap();
        let tuyen_quang_new = Province::new(ProvinceCodeSystem::From2025, 8).unwrap();
        let old_lao_cai = Province::new(ProvinceCodeSystem::Pre2025, 10).unwrap();
        assert_eq!(map.current_code(ha_giang), Some(8));
        assert_eq!(map.current_code(tuyen_quang_new), Some(8));
        assert_eq!(map.current_code(old_lao_cai), Some(15));
        // 02 is not a post-2025 unit.
        let bogus = Province::new(ProvinceCodeSystem::From2025, 2).unwrap();
        assert_eq!(map.current_code(bogus), None);
    }

    #[test]
    fn province_map_adds_identity_of_kept_codes_and_rejects_contradictions() {
        let map = ProvinceMap::from_pairs([(2, 8)]).unwrap();
        assert_eq!(map.pairs().collect::<Vec<_>>(), vec![(2, 8), (8, 8)]);
        assert_eq!(
            ProvinceMap::from_pairs([(2, 8), (2, 15)]),
            Err(ProvinceMapError::Conflict {
                old: 2,
                first: 8,
                second: 15
            })
        );
        assert_eq!(
            ProvinceMap::from_pairs([(2, 8), (8, 15)]),
            Err(ProvinceMapError::NotSelfMapped { new: 8, other: 15 })
        );
        assert!(ProvinceMap::from_pairs([(0, 8)]).is_err());
        assert_ne!(
            ProvinceMap::from_pairs([(2, 8)]).unwrap().fingerprint(),
            ProvinceMap::from_pairs([(2, 15)]).unwrap().fingerprint()
        );
    }

    proptest! {
        #[test]
        fn pin_text_round_trips(value in 0u64..=Pin::MAX) {
            let pin = Pin::from_u64(value).unwrap();
            prop_assert_eq!(Pin::parse(&pin.to_string()).unwrap(), pin);
            prop_assert_eq!(Pin::from_digits(pin.digits()).unwrap(), pin);
        }

        #[test]
        fn date_pack_round_trips(year in 0u16..=4095, month in 0u8..=12, day in 0u8..=31) {
            if let Ok(date) = PartialDate::new(year, month, day) {
                prop_assert!(date.pack() < (1 << 21));
                prop_assert_eq!(PartialDate::unpack(date.pack()), Some(date));
            }
        }

        #[test]
        fn province_pack_round_trips(code in 1u8..=127, new_list in any::<bool>()) {
            let system = if new_list { ProvinceCodeSystem::From2025 } else { ProvinceCodeSystem::Pre2025 };
            let province = Province::new(system, code).unwrap();
            prop_assert_eq!(Province::unpack(Province::pack(Some(province))), Some(province));
        }
    }
}
