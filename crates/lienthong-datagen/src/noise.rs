//! What a source states about a person, with errors injected at the stated rates.

use lienthong_vietnamese::legacy::{self, Encoding};
use lienthong_vietnamese::text::{ToneStyle, place_tones};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::date::Date;
use crate::errors::{ErrorKind, Rates};
use crate::names::regional_variant;
use crate::register::{Person, Sex, join_name};

/// Which province code list a stated code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProvinceList {
    /// The 63 provinces before 2025-07-01.
    Pre2025,
    /// The 34 provincial units from 2025-07-01.
    From2025,
}

/// A province code as a source states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatedProvince {
    pub code: u8,
    pub list: ProvinceList,
}

/// A person as a source row states them: every field possibly wrong or missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedPerson {
    /// The ID number stated, `None` when the row has none.
    pub personal_id: Option<String>,
    pub family_name: String,
    pub middle_name: String,
    pub given_name: String,
    pub birth_date: Date,
    pub sex: Option<Sex>,
    pub birth_province: Option<StatedProvince>,
}

impl StatedPerson {
    /// The name in one string, as a list with one name column holds it.
    pub fn full_name(&self) -> String {
        join_name(&self.family_name, &self.middle_name, &self.given_name)
    }
}

/// Removes every diacritic and tone mark (`đ` → `d`), keeping letter case.
pub fn strip_diacritics(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

/// Letters a typing slip puts in a name (as a replacement or an extra letter).
const SLIP_LETTERS: [char; 18] = [
    'a', 'e', 'i', 'o', 'u', 'n', 'h', 't', 'g', 'c', 'm', 'y', 'ư', 'ơ', 'ă', 'ê', 'ô', 'â',
];

/// Injects errors into what a source states about people. Deterministic by seed: the same
/// people in the same order get the same errors.
#[derive(Debug, Clone)]
pub struct Noise {
    rates: Rates,
    rng: StdRng,
}

impl Noise {
    pub fn new(rates: Rates, seed: u64) -> Self {
        Self {
            rates,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    /// What a source row states about `person`, and the errors it holds (in [`ErrorKind::ALL`]
    /// order). The birth province is stated in the list from 2025-07-01 unless an error says
    /// otherwise. [`ErrorKind::NotInRegister`] and [`ErrorKind::Duplicate`] are about rows, not
    /// their content, and are never returned here.
    pub fn state(&mut self, person: &Person) -> (StatedPerson, Vec<ErrorKind>) {
        // One draw per kind, always in the same order, so a rate change leaves the other kinds'
        // draws where they were.
        let mut drawn = [false; ErrorKind::ALL.len()];
        for (i, kind) in ErrorKind::ALL.into_iter().enumerate() {
            drawn[i] = self.rng.random_bool(self.rates.rate(kind));
        }
        let drew = |kind: ErrorKind| {
            ErrorKind::ALL
                .iter()
                .position(|k| *k == kind)
                .is_some_and(|i| drawn[i])
        };
        let mut errors = Vec::new();
        let mut applied = |kind: ErrorKind, changed: bool| {
            if changed {
                errors.push(kind);
            }
        };

        // The ID number.
        let personal_id = if drew(ErrorKind::MissingId) {
            applied(ErrorKind::MissingId, true);
            None
        } else {
            let mut id = person.personal_id.clone();
            if drew(ErrorKind::SupersededId)
                && let Some(old) = person.superseded_ids.first()
            {
                id.clone_from(old);
                applied(ErrorKind::SupersededId, true);
            }
            if drew(ErrorKind::WrongIdDigit) {
                id = self.wrong_digit(&id);
                applied(ErrorKind::WrongIdDigit, true);
            }
            Some(id)
        };

        // The name.
        let mut family = person.family_name.clone();
        let mut middle = person.middle_name.clone();
        let mut given = person.given_name.clone();
        if drew(ErrorKind::RegionalVariant)
            && let Some(other) = regional_variant(&family)
        {
            family = other.to_owned();
            applied(ErrorKind::RegionalVariant, true);
        }
        if drew(ErrorKind::ToneStyle) {
            let before = join_name(&family, &middle, &given);
            let style = if place_tones(&before, ToneStyle::Old) == before {
                ToneStyle::New
            } else {
                ToneStyle::Old
            };
            family = place_tones(&family, style);
            middle = place_tones(&middle, style);
            given = place_tones(&given, style);
            applied(
                ErrorKind::ToneStyle,
                join_name(&family, &middle, &given) != before,
            );
        }
        if drew(ErrorKind::Typo) {
            let changed = self.typo(&mut middle, &mut given);
            applied(ErrorKind::Typo, changed);
        }
        if drew(ErrorKind::MissingMiddleName) {
            applied(ErrorKind::MissingMiddleName, !middle.is_empty());
            middle.clear();
        }
        if drew(ErrorKind::LostDiacritics) {
            let before = join_name(&family, &middle, &given);
            family = strip_diacritics(&family);
            middle = strip_diacritics(&middle);
            given = strip_diacritics(&given);
            applied(
                ErrorKind::LostDiacritics,
                join_name(&family, &middle, &given) != before,
            );
        }
        if drew(ErrorKind::UpperCase) {
            let before = join_name(&family, &middle, &given);
            family = family.to_uppercase();
            middle = middle.to_uppercase();
            given = given.to_uppercase();
            applied(
                ErrorKind::UpperCase,
                join_name(&family, &middle, &given) != before,
            );
        }
        // Storage comes last: the slips above were made by people typing Vietnamese.
        if drew(ErrorKind::Tcvn3) {
            let encoded = (
                legacy::from_unicode(&family, Encoding::Tcvn3),
                legacy::from_unicode(&middle, Encoding::Tcvn3),
                legacy::from_unicode(&given, Encoding::Tcvn3),
            );
            // Every letter of a Vietnamese name has a TCVN3 form; a name that had none would
            // stay Unicode and not count.
            if let (Ok(f), Ok(m), Ok(g)) = encoded {
                let changed = (&f, &m, &g) != (&family, &middle, &given);
                (family, middle, given) = (f, m, g);
                applied(ErrorKind::Tcvn3, changed);
            }
        }

        // The birth date.
        let mut birth_date = person.birth_date;
        if drew(ErrorKind::DayMonthSwap) {
            let (day, month) = (birth_date.day(), birth_date.month());
            if day <= 12 && day != month {
                birth_date = Date::new(birth_date.year(), day, month).unwrap_or(birth_date);
                applied(ErrorKind::DayMonthSwap, true);
            }
        }
        if drew(ErrorKind::YearOffByOne) {
            let step = if self.rng.random_bool(0.5) { 1 } else { -1 };
            if let Some(shifted) = birth_date.shift_years(step) {
                birth_date = shifted;
                applied(ErrorKind::YearOffByOne, true);
            }
        }

        // Sex.
        let sex = if drew(ErrorKind::MissingSex) {
            applied(ErrorKind::MissingSex, true);
            None
        } else if drew(ErrorKind::WrongSex) {
            applied(ErrorKind::WrongSex, true);
            Some(person.sex.other())
        } else {
            Some(person.sex)
        };

        // The birth province.
        let current = person.current_birth_province();
        let birth_province = if drew(ErrorKind::MissingBirthProvince) {
            applied(ErrorKind::MissingBirthProvince, true);
            None
        } else if drew(ErrorKind::OldProvinceCode) {
            applied(ErrorKind::OldProvinceCode, person.birth_province != current);
            Some(StatedProvince {
                code: person.birth_province,
                list: ProvinceList::Pre2025,
            })
        } else {
            Some(StatedProvince {
                code: current,
                list: ProvinceList::From2025,
            })
        };

        errors.sort_unstable_by_key(|kind| ErrorKind::ALL.iter().position(|k| k == kind));
        let stated = StatedPerson {
            personal_id,
            family_name: family,
            middle_name: middle,
            given_name: given,
            birth_date,
            sex,
            birth_province,
        };
        (stated, errors)
    }

    /// `id` with one digit replaced by another.
    fn wrong_digit(&mut self, id: &str) -> String {
        let mut bytes = id.as_bytes().to_vec();
        if bytes.is_empty() {
            return id.to_owned();
        }
        let at = self.rng.random_range(0..bytes.len());
        let digit = bytes[at].wrapping_sub(b'0') % 10;
        bytes[at] = b'0' + (digit + self.rng.random_range(1..10u8)) % 10;
        bytes.into_iter().map(char::from).collect()
    }

    /// One typing slip in the given name, or in the middle name (a third of the time when there
    /// is one). Returns whether a name changed; a name too short to slip in leaves both alone.
    fn typo(&mut self, middle: &mut String, given: &mut String) -> bool {
        let target = if !middle.is_empty() && self.rng.random_bool(1.0 / 3.0) {
            middle
        } else {
            given
        };
        let mut chars: Vec<char> = target.chars().collect();
        // Positions that are not the first letter of a word: a slip there keeps the name
        // findable, and first letters are the ones people check.
        let inner: Vec<usize> = (1..chars.len())
            .filter(|&i| chars[i].is_alphabetic() && chars[i - 1].is_alphabetic())
            .collect();
        let Some(&at) = inner.get(self.rng.random_range(0..inner.len().max(1))) else {
            return false;
        };
        let slip = SLIP_LETTERS[self.rng.random_range(0..SLIP_LETTERS.len())];
        match self.rng.random_range(0..4u8) {
            0 => {
                // Replace, with a letter that differs.
                let lower = chars[at].to_lowercase().next().unwrap_or(chars[at]);
                chars[at] = if lower == slip { 'r' } else { slip };
            }
            1 => {
                chars.remove(at);
            }
            2 => chars.insert(at, slip),
            _ => {
                // Swap with the letter before unless that one starts the word (or is the same
                // letter): then add a letter instead.
                let can_swap =
                    at >= 2 && chars[at - 2].is_alphabetic() && chars[at] != chars[at - 1];
                if can_swap {
                    chars.swap(at - 1, at);
                } else {
                    chars.insert(at, slip);
                }
            }
        }
        let slipped: String = chars.into_iter().collect();
        let changed = slipped != *target;
        *target = slipped;
        changed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn person() -> Person {
        Person {
            personal_id: "040090123456".to_owned(),
            superseded_ids: vec!["040190123456".to_owned()],
            family_name: "Hoàng".to_owned(),
            middle_name: "Văn".to_owned(),
            given_name: "Hòa".to_owned(),
            birth_date: Date::new(1990, 3, 7).unwrap(),
            sex: Sex::Male,
            birth_province: 2,
            deceased: false,
        }
    }

    fn only(kind: ErrorKind) -> Rates {
        let mut rates = Rates::none();
        *rates.rate_mut(kind) = 1.0;
        rates
    }

    #[test]
    fn without_errors_the_row_states_the_person() {
        let (stated, errors) = Noise::new(Rates::none(), 1).state(&person());
        assert!(errors.is_empty());
        assert_eq!(stated.personal_id.as_deref(), Some("040090123456"));
        assert_eq!(stated.full_name(), "Hoàng Văn Hòa");
        assert_eq!(stated.birth_date, person().birth_date);
        assert_eq!(stated.sex, Some(Sex::Male));
        // Hà Giang (02) is part of Tuyên Quang (08) since 2025-07-01.
        assert_eq!(
            stated.birth_province,
            Some(StatedProvince {
                code: 8,
                list: ProvinceList::From2025
            })
        );
    }

    #[test]
    fn each_kind_does_what_it_says() {
        let p = person();
        let state = |kind| Noise::new(only(kind), 7).state(&p);

        let (s, e) = state(ErrorKind::MissingId);
        assert_eq!((s.personal_id, e), (None, vec![ErrorKind::MissingId]));
        let (s, e) = state(ErrorKind::SupersededId);
        assert_eq!(s.personal_id.as_deref(), Some("040190123456"));
        assert_eq!(e, [ErrorKind::SupersededId]);
        let (s, e) = state(ErrorKind::WrongIdDigit);
        let stated = s.personal_id.unwrap();
        let differing = stated
            .bytes()
            .zip(p.personal_id.bytes())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!((differing, stated.len()), (1, 12));
        assert_eq!(e, [ErrorKind::WrongIdDigit]);
        let (s, e) = state(ErrorKind::RegionalVariant);
        assert_eq!(
            (s.family_name.as_str(), e),
            ("Huỳnh", vec![ErrorKind::RegionalVariant])
        );
        let (s, e) = state(ErrorKind::ToneStyle);
        assert_eq!(
            (s.given_name.as_str(), e),
            ("Hoà", vec![ErrorKind::ToneStyle])
        );
        let (s, e) = state(ErrorKind::LostDiacritics);
        assert_eq!(
            (s.full_name(), e),
            ("Hoang Van Hoa".to_owned(), vec![ErrorKind::LostDiacritics])
        );
        let (s, e) = state(ErrorKind::UpperCase);
        assert_eq!(
            (s.full_name(), e),
            ("HOÀNG VĂN HÒA".to_owned(), vec![ErrorKind::UpperCase])
        );
        let (s, e) = state(ErrorKind::Tcvn3);
        assert_eq!(
            (s.full_name(), e),
            ("Hoµng V¨n Hßa".to_owned(), vec![ErrorKind::Tcvn3])
        );
        let (s, e) = state(ErrorKind::MissingMiddleName);
        assert_eq!(
            (s.full_name(), e),
            ("Hoàng Hòa".to_owned(), vec![ErrorKind::MissingMiddleName])
        );
        let (s, e) = state(ErrorKind::DayMonthSwap);
        assert_eq!(
            (s.birth_date, e),
            (
                Date::new(1990, 7, 3).unwrap(),
                vec![ErrorKind::DayMonthSwap]
            )
        );
        let (s, e) = state(ErrorKind::YearOffByOne);
        assert_eq!(s.birth_date.year().abs_diff(1990), 1);
        assert_eq!(e, [ErrorKind::YearOffByOne]);
        let (s, e) = state(ErrorKind::MissingSex);
        assert_eq!((s.sex, e), (None, vec![ErrorKind::MissingSex]));
        let (s, e) = state(ErrorKind::WrongSex);
        assert_eq!((s.sex, e), (Some(Sex::Female), vec![ErrorKind::WrongSex]));
        let (s, e) = state(ErrorKind::MissingBirthProvince);
        assert_eq!(
            (s.birth_province, e),
            (None, vec![ErrorKind::MissingBirthProvince])
        );
        let (s, e) = state(ErrorKind::OldProvinceCode);
        assert_eq!(
            (s.birth_province, e),
            (
                Some(StatedProvince {
                    code: 2,
                    list: ProvinceList::Pre2025
                }),
                vec![ErrorKind::OldProvinceCode]
            )
        );
    }

    #[test]
    fn kinds_that_cannot_apply_leave_no_trace() {
        let mut p = person();
        p.superseded_ids.clear();
        p.family_name = "Nguyễn".to_owned();
        p.given_name = "An".to_owned();
        p.birth_date = Date::new(1990, 3, 25).unwrap();
        p.birth_province = 40; // Nghệ An kept its code
        for kind in [
            ErrorKind::SupersededId,
            ErrorKind::RegionalVariant,
            ErrorKind::ToneStyle,
            ErrorKind::DayMonthSwap,
            ErrorKind::OldProvinceCode,
        ] {
            let (stated, errors) = Noise::new(only(kind), 3).state(&p);
            assert!(errors.is_empty(), "{kind}: {errors:?}");
            assert_eq!(stated.full_name(), p.full_name());
            assert_eq!(stated.birth_date, p.birth_date);
            assert_eq!(stated.personal_id.as_deref(), Some(p.personal_id.as_str()));
            assert_eq!(stated.birth_province.map(|b| b.code), Some(40));
        }
    }

    #[test]
    fn typos_change_one_name_by_one_edit_after_the_first_letter() {
        let p = person();
        let mut noise = Noise::new(only(ErrorKind::Typo), 11);
        for _ in 0..500 {
            let (s, e) = noise.state(&p);
            assert_eq!(e, [ErrorKind::Typo]);
            assert_eq!(s.family_name, p.family_name);
            let middle_changed = s.middle_name != p.middle_name;
            let given_changed = s.given_name != p.given_name;
            assert!(middle_changed ^ given_changed, "{}", s.full_name());
            let (before, after) = if middle_changed {
                (&p.middle_name, &s.middle_name)
            } else {
                (&p.given_name, &s.given_name)
            };
            assert_eq!(before.chars().next(), after.chars().next());
            assert!(edit_distance(before, after) <= 2, "{before} → {after}");
        }
    }

    /// Levenshtein distance (a swap counts as two).
    fn edit_distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut previous = row[0];
            row[0] = i;
            for j in 1..=b.len() {
                let substitution = previous + usize::from(a[i - 1] != b[j - 1]);
                previous = row[j];
                row[j] = substitution.min(row[j] + 1).min(row[j - 1] + 1);
            }
        }
        row[b.len()]
    }

    #[test]
    fn strip_diacritics_keeps_case_and_letters() {
        assert_eq!(strip_diacritics("Đặng Thị Hồng"), "Dang Thi Hong");
        assert_eq!(strip_diacritics("ĐỖ ƯỚC"), "DO UOC");
    }
}
