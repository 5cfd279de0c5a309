//! The synthetic population register: people with personal ID numbers, names, birth dates, sex
//! and birth province, generated one at a time so a register of any size streams to disk.
//!
//! ## Personal ID numbers
//!
//! `PPP G YY NNNNNN`: PPP the birth-registration province (`0` + the pre-2025 GSO code), G the
//! century of birth and sex (0/1 the 1900s male/female, 2/3 the 2000s), YY the last two digits of
//! the birth year, NNNNNN random. Numbers are unique across the register, superseded ones
//! included, without remembering the numbers issued: each prefix `PPP G YY` has a counter, and
//! the n-th number of a prefix gets the serial `permute(n)`, a keyed permutation of
//! 0..1,000,000 (a Feistel network with cycle walking), so serials look random and never repeat.
//!
//! ## Superseded numbers
//!
//! A number is re-issued when a correction changes a digit it encodes, or when it was keyed
//! wrongly: a fraction of people carry one earlier number, which differs from the current one in
//! the sex digit (a sex correction), in the year digits (and the century digit across 2000: a
//! birth-year correction), or only in the serial (an entry error).

use std::fmt;

use lienthong_vietnamese::text::{ToneStyle, place_tones};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::DatagenError;
use crate::date::{Date, days_in_month};
use crate::names::{
    FAMILY_NAMES, GIVEN_NAME_ZIPF_EXPONENT, GIVEN_NAMES_FEMALE, GIVEN_NAMES_MALE,
    MIDDLE_NAMES_FEMALE, MIDDLE_NAMES_MALE, Weighted,
};
use crate::provinces::{PROVINCES_PRE_2025, current_code};

/// Sex as the register and the ID number record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// `male` / `female`, as `register.csv` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// `Nam` / `Nữ`, as Vietnamese forms write it.
    pub fn vietnamese(self) -> &'static str {
        match self {
            Sex::Male => "Nam",
            Sex::Female => "Nữ",
        }
    }

    pub fn other(self) -> Sex {
        match self {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Digit 4 of the personal ID: even for men, odd for women, 0/1 for births in the 1900s, 2/3 in
/// the 2000s (reference data `vn_pin_century_sex_digit.csv`). Years before 1900 count as 1900s.
pub fn century_sex_digit(birth_year: u16, sex: Sex) -> u8 {
    let century = u8::try_from(birth_year.saturating_sub(1900) / 100).unwrap_or(u8::MAX / 2);
    2 * century
        + match sex {
            Sex::Male => 0,
            Sex::Female => 1,
        }
}

/// One person of the register.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Person {
    /// The current 12-digit personal ID number.
    pub personal_id: String,
    /// Earlier numbers of the same person, replaced after a correction (usually none).
    pub superseded_ids: Vec<String>,
    pub family_name: String,
    /// Empty for a person without a middle name.
    pub middle_name: String,
    pub given_name: String,
    pub birth_date: Date,
    pub sex: Sex,
    /// Pre-2025 GSO code of the province of birth registration (the number's PPP is `0` + it).
    pub birth_province: u8,
    pub deceased: bool,
}

impl Person {
    /// Family, middle and given name joined by single spaces (no double space without a middle
    /// name).
    pub fn full_name(&self) -> String {
        join_name(&self.family_name, &self.middle_name, &self.given_name)
    }

    /// The birth province's code in the list in force from 2025-07-01.
    pub fn current_birth_province(&self) -> u8 {
        current_code(self.birth_province).unwrap_or(self.birth_province)
    }

    /// Age in whole years on `date`.
    pub fn age_on(&self, date: Date) -> u16 {
        self.birth_date.age_on(date)
    }
}

/// Name parts joined by single spaces, empty parts left out.
pub(crate) fn join_name(family: &str, middle: &str, given: &str) -> String {
    let mut full = String::with_capacity(family.len() + middle.len() + given.len() + 2);
    for part in [family, middle, given] {
        if part.is_empty() {
            continue;
        }
        if !full.is_empty() {
            full.push(' ');
        }
        full.push_str(part);
    }
    full
}

/// The first and last birth year of register people.
pub const BIRTH_YEARS: (u16, u16) = (1940, 2025);

/// How the register is made, beyond its seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterOptions {
    /// Share of people who carry a superseded (earlier) number.
    pub superseded_rate: f64,
    /// Share of people recorded as deceased.
    pub deceased_rate: f64,
    /// Share of people whose names are spelled with the new tone placement (`Hoà`, `Thuỷ`)
    /// rather than the old (`Hòa`, `Thủy`): both are in use and registers hold both.
    pub new_tone_style_rate: f64,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        Self {
            superseded_rate: 0.005,
            deceased_rate: 0.02,
            new_tone_style_rate: 0.5,
        }
    }
}

impl RegisterOptions {
    pub fn validate(&self) -> Result<(), DatagenError> {
        for (name, value) in [
            ("superseded_rate", self.superseded_rate),
            ("deceased_rate", self.deceased_rate),
            ("new_tone_style_rate", self.new_tone_style_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(DatagenError::Rate {
                    name: name.to_owned(),
                    value,
                });
            }
        }
        Ok(())
    }
}

/// How an earlier number differs from the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Correction {
    Sex,
    BirthYear,
    EntryError,
}

const CORRECTIONS: [(Correction, f64); 3] = [
    (Correction::Sex, 0.25),
    (Correction::BirthYear, 0.35),
    (Correction::EntryError, 0.40),
];

/// Serials per prefix: six digits.
const SERIALS: u32 = 1_000_000;
/// Century digits the generator issues (births 1900–2099).
const CENTURY_DIGITS: usize = 4;

/// Issues personal ID numbers without repeats (see the module documentation).
#[derive(Debug, Clone)]
struct IdIssuer {
    key: u64,
    /// Numbers issued so far per prefix, indexed by [`IdIssuer::slot`].
    issued: Vec<u32>,
    /// Row of each pre-2025 province code in `issued`.
    province_row: [Option<u16>; 100],
}

impl IdIssuer {
    fn new(seed: u64) -> Self {
        let mut province_row = [None; 100];
        for (row, province) in PROVINCES_PRE_2025.iter().enumerate() {
            province_row[usize::from(province.code)] = u16::try_from(row).ok();
        }
        Self {
            key: mix(seed ^ 0x5EED_1D5E_7141_0001),
            issued: vec![0; PROVINCES_PRE_2025.len() * CENTURY_DIGITS * 100],
            province_row,
        }
    }

    fn slot(&self, province: u8, digit: u8, year_digits: u8) -> Option<usize> {
        let row = usize::from(*self.province_row.get(usize::from(province))?.as_ref()?);
        let digit = usize::from(digit);
        (digit < CENTURY_DIGITS && year_digits < 100)
            .then(|| (row * CENTURY_DIGITS + digit) * 100 + usize::from(year_digits))
    }

    /// A new number for the prefix, `None` when the prefix has no serial left.
    fn issue(&mut self, province: u8, birth_year: u16, sex: Sex) -> Option<String> {
        let digit = century_sex_digit(birth_year, sex);
        let year_digits = (birth_year % 100) as u8;
        let slot = self.slot(province, digit, year_digits)?;
        let n = self.issued[slot];
        if n >= SERIALS {
            return None;
        }
        self.issued[slot] = n + 1;
        let serial = permute(n, mix(self.key ^ slot as u64));
        Some(format_id(province, digit, year_digits, serial))
    }
}

/// `PPP G YY NNNNNN` as twelve digits.
fn format_id(province: u8, digit: u8, year_digits: u8, serial: u32) -> String {
    let mut bytes = [b'0'; 12];
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            bytes[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 3, u32::from(province));
    put(3, 1, u32::from(digit));
    put(4, 2, u32::from(year_digits));
    put(6, 6, serial);
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// SplitMix64's finaliser: a cheap, well-mixing hash of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A keyed permutation of 0..[`SERIALS`]: a four-round Feistel network on 20 bits, applied again
/// while the result is out of range (cycle walking keeps it a permutation of the smaller range).
fn permute(n: u32, key: u64) -> u32 {
    let mut value = n;
    loop {
        let (mut left, mut right) = (value >> 10, value & 0x3FF);
        for round in 0..4u64 {
            let f = (mix(key ^ (round << 32) ^ u64::from(right)) & 0x3FF) as u32;
            (left, right) = (right, left ^ f);
        }
        value = (left << 10) | right;
        if value < SERIALS {
            return value;
        }
    }
}

/// A name with both tone placements (identical for most names).
#[derive(Debug, Clone)]
struct Spellings {
    old: String,
    new: String,
}

impl Spellings {
    fn of(names: impl IntoIterator<Item = &'static str>) -> Vec<Spellings> {
        names
            .into_iter()
            .map(|name| Spellings {
                old: place_tones(name, ToneStyle::Old),
                new: place_tones(name, ToneStyle::New),
            })
            .collect()
    }
}

/// Middle and given names of one sex.
#[derive(Debug, Clone)]
struct SexNames {
    middle: Vec<Spellings>,
    middle_choice: Weighted<usize>,
    given: Vec<Spellings>,
    given_choice: Weighted<usize>,
}

impl SexNames {
    fn new(middle: &'static [(&'static str, f64)], given: &'static [&'static str]) -> Self {
        Self {
            middle: Spellings::of(middle.iter().map(|(name, _)| *name)),
            middle_choice: Weighted::new(middle.iter().enumerate().map(|(i, (_, w))| (i, *w))),
            given: Spellings::of(given.iter().copied()),
            given_choice: Weighted::zipf(0..given.len(), GIVEN_NAME_ZIPF_EXPONENT),
        }
    }
}

/// The generator of register people: an endless, deterministic stream for its seed (take as
/// many as the register should hold). Every number it issues, current or superseded, is unique
/// within the stream, so people drawn after the register (people absent from it) never share a
/// number with a register person.
#[derive(Debug, Clone)]
pub struct Register {
    rng: StdRng,
    options: RegisterOptions,
    ids: IdIssuer,
    family: Weighted<&'static str>,
    male: SexNames,
    female: SexNames,
    provinces: Weighted<u8>,
    corrections: Weighted<Correction>,
}

impl Register {
    /// A register with the default options.
    pub fn new(seed: u64) -> Self {
        Self::build(seed, RegisterOptions::default())
    }

    pub fn with_options(seed: u64, options: RegisterOptions) -> Result<Self, DatagenError> {
        options.validate()?;
        Ok(Self::build(seed, options))
    }

    fn build(seed: u64, options: RegisterOptions) -> Self {
        // Hà Nội and Hồ Chí Minh City register many more births than other provinces.
        let provinces = Weighted::new(PROVINCES_PRE_2025.iter().map(|p| {
            let weight = match p.code {
                1 => 8.0,
                79 => 9.0,
                _ => 1.4,
            };
            (p.code, weight)
        }));
        Self {
            rng: StdRng::seed_from_u64(seed),
            options,
            ids: IdIssuer::new(seed),
            family: Weighted::new(FAMILY_NAMES.iter().copied()),
            male: SexNames::new(MIDDLE_NAMES_MALE, GIVEN_NAMES_MALE),
            female: SexNames::new(MIDDLE_NAMES_FEMALE, GIVEN_NAMES_FEMALE),
            provinces,
            corrections: Weighted::new(CORRECTIONS),
        }
    }

    pub fn options(&self) -> &RegisterOptions {
        &self.options
    }

    /// The next person.
    pub fn person(&mut self) -> Person {
        let rng = &mut self.rng;
        let sex = if rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let family_name = self.family.pick(rng).to_owned();
        let names = match sex {
            Sex::Male => &self.male,
            Sex::Female => &self.female,
        };
        let middle = &names.middle[names.middle_choice.pick(rng)];
        let given = &names.given[names.given_choice.pick(rng)];
        let (middle_name, given_name) = if rng.random_bool(self.options.new_tone_style_rate) {
            (middle.new.clone(), given.new.clone())
        } else {
            (middle.old.clone(), given.old.clone())
        };
        // A number is issued for every birth; a prefix without serials left (only possible far
        // beyond a real province's births in a year) sends the draw to another date or province.
        let (birth_date, birth_province, personal_id) = loop {
            let date = self.birth_date();
            let province = self.provinces.pick(&mut self.rng);
            if let Some(id) = self.ids.issue(province, date.year(), sex) {
                break (date, province, id);
            }
        };
        let superseded_ids = if self.rng.random_bool(self.options.superseded_rate) {
            self.earlier_number(birth_province, birth_date.year(), sex)
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        let deceased = self.rng.random_bool(self.options.deceased_rate);
        Person {
            personal_id,
            superseded_ids,
            family_name,
            middle_name,
            given_name,
            birth_date,
            sex,
            birth_province,
            deceased,
        }
    }

    /// Births rise towards recent years (the population is young), 1940–2025.
    fn birth_date(&mut self) -> Date {
        let (first, last) = BIRTH_YEARS;
        let span = f64::from(last - first + 1);
        let offset = (self.rng.random::<f64>().powf(0.8) * span) as u16;
        let year = (first + offset).min(last);
        let month = self.rng.random_range(1..=12u8);
        let day = self.rng.random_range(1..=days_in_month(year, month));
        // Year, month and day are in range by construction.
        Date::new(year, month, day).unwrap_or(Date::MIN)
    }

    /// An earlier number for a person, as one of the corrections would have left it.
    fn earlier_number(&mut self, province: u8, year: u16, sex: Sex) -> Option<String> {
        let (old_year, old_sex) = match self.corrections.pick(&mut self.rng) {
            Correction::Sex => (year, sex.other()),
            Correction::BirthYear => {
                let step = if self.rng.random_bool(0.5) { 1 } else { -1 };
                (year.saturating_add_signed(step), sex)
            }
            Correction::EntryError => (year, sex),
        };
        self.ids
            .issue(province, old_year, old_sex)
            .or_else(|| self.ids.issue(province, year, sex))
    }
}

impl Iterator for Register {
    type Item = Person;

    /// Never `None`: the stream is endless.
    fn next(&mut self) -> Option<Person> {
        Some(self.person())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_serial_permutation_is_a_bijection() {
        let key = mix(42);
        let mut seen = vec![false; SERIALS as usize];
        for n in 0..SERIALS {
            let s = permute(n, key) as usize;
            assert!(!seen[s], "{s} twice");
            seen[s] = true;
        }
        // Not the identity, nor the same for another key.
        assert!((0..100).any(|n| permute(n, key) != n));
        assert!((0..100).any(|n| permute(n, key) != permute(n, mix(43))));
    }

    #[test]
    fn a_full_prefix_issues_nothing_more() {
        let mut issuer = IdIssuer::new(1);
        let slot = issuer.slot(1, 0, 80).unwrap();
        issuer.issued[slot] = SERIALS - 1;
        assert!(issuer.issue(1, 1980, Sex::Male).is_some());
        assert_eq!(issuer.issue(1, 1980, Sex::Male), None);
        assert!(issuer.issue(1, 1980, Sex::Female).is_some());
        assert_eq!(issuer.issue(3, 1980, Sex::Male), None, "no province 03");
    }

    #[test]
    fn numbers_follow_the_structure() {
        assert_eq!(format_id(1, 0, 5, 42), "001005000042");
        assert_eq!(format_id(79, 3, 1, 999_999), "079301999999");
        assert_eq!(century_sex_digit(1999, Sex::Female), 1);
        assert_eq!(century_sex_digit(2000, Sex::Male), 2);
        assert_eq!(century_sex_digit(2025, Sex::Female), 3);
    }

    #[test]
    fn superseded_numbers_differ_as_a_correction_would() {
        let options = RegisterOptions {
            superseded_rate: 1.0,
            ..RegisterOptions::default()
        };
        let register = Register::with_options(3, options).unwrap();
        let mut kinds = HashSet::new();
        for person in register.take(2_000) {
            assert_eq!(person.superseded_ids.len(), 1);
            let old = person.superseded_ids[0].as_bytes();
            let new = person.personal_id.as_bytes();
            assert_eq!(old[..3], new[..3], "same registration province");
            assert_ne!(old, new);
            let kind = if old[3] != new[3] && old[4..6] == new[4..6] {
                "sex"
            } else if old[4..6] != new[4..6] {
                "year"
            } else {
                "serial"
            };
            kinds.insert(kind);
        }
        assert_eq!(kinds.len(), 3, "{kinds:?}");
    }

    #[test]
    fn rates_out_of_range_are_refused() {
        let options = RegisterOptions {
            deceased_rate: 1.5,
            ..RegisterOptions::default()
        };
        assert!(Register::with_options(1, options).is_err());
    }

    #[test]
    fn both_tone_styles_occur_and_one_person_uses_one() {
        let people: Vec<Person> = Register::new(5).take(20_000).collect();
        let old = people.iter().filter(|p| p.given_name == "Hòa").count();
        let new = people.iter().filter(|p| p.given_name == "Hoà").count();
        assert!(old > 20 && new > 20, "{old} {new}");
        for p in &people {
            let name = format!("{} {}", p.middle_name, p.given_name);
            assert!(
                name == place_tones(&name, ToneStyle::Old)
                    || name == place_tones(&name, ToneStyle::New),
                "{name}"
            );
        }
    }
}
