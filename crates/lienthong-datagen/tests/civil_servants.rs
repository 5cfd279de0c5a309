//! The civil-servant list: each error kind at its rate, and a truth that agrees with what every
//! row states.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use lienthong_datagen::names::regional_variant;
use lienthong_datagen::{
    CivilServantList, Date, ErrorKind, ListEntry, ListOptions, Person, ProvinceList, Rates,
    Register, WORKING_AGES, draw_list, strip_diacritics,
};
use lienthong_vietnamese::legacy::{self, Encoding};
use lienthong_vietnamese::text::{ToneStyle, place_tones};

const REGISTER: usize = 120_000;

fn list(rates: Rates, size: usize, seed: u64) -> (Vec<Person>, CivilServantList) {
    let mut register = Register::new(seed);
    let people: Vec<Person> = register.by_ref().take(REGISTER).collect();
    let options = ListOptions {
        rates,
        ..ListOptions::new(size, seed)
    };
    let list = draw_list(&people, &mut register, options).unwrap();
    (people, list)
}

/// Name errors other than the encoding.
const NAME_KINDS: [ErrorKind; 6] = [
    ErrorKind::Typo,
    ErrorKind::LostDiacritics,
    ErrorKind::RegionalVariant,
    ErrorKind::ToneStyle,
    ErrorKind::UpperCase,
    ErrorKind::MissingMiddleName,
];

/// Whether `kind` can change this row: its person and the errors applied before it.
fn applicable(kind: ErrorKind, entry: &ListEntry) -> bool {
    let p = &entry.person;
    let name = p.full_name();
    let (day, month) = (p.birth_date.day(), p.birth_date.month());
    match kind {
        ErrorKind::SupersededId => !p.superseded_ids.is_empty() && !entry.has(ErrorKind::MissingId),
        ErrorKind::WrongIdDigit => !entry.has(ErrorKind::MissingId),
        ErrorKind::DayMonthSwap => day <= 12 && day != month,
        ErrorKind::OldProvinceCode => {
            p.current_birth_province() != p.birth_province
                && !entry.has(ErrorKind::MissingBirthProvince)
        }
        ErrorKind::RegionalVariant => regional_variant(&p.family_name).is_some(),
        ErrorKind::ToneStyle => {
            place_tones(&name, ToneStyle::Old) != place_tones(&name, ToneStyle::New)
        }
        ErrorKind::LostDiacritics => strip_diacritics(&name) != name,
        ErrorKind::MissingMiddleName => !p.middle_name.is_empty(),
        ErrorKind::Tcvn3 => {
            strip_diacritics(&name) != name && !entry.has(ErrorKind::LostDiacritics)
        }
        ErrorKind::WrongSex => !entry.has(ErrorKind::MissingSex),
        _ => true,
    }
}

#[test]
fn every_error_kind_occurs_at_its_rate() {
    // Every kind on, at rates high enough to measure on 30,000 rows.
    let mut rates = Rates::default();
    for (kind, rate) in [
        (ErrorKind::ToneStyle, 0.3),
        (ErrorKind::UpperCase, 0.05),
        (ErrorKind::MissingMiddleName, 0.05),
        (ErrorKind::MissingSex, 0.03),
        (ErrorKind::WrongSex, 0.02),
        (ErrorKind::MissingBirthProvince, 0.03),
        (ErrorKind::SupersededId, 0.5),
        (ErrorKind::RegionalVariant, 0.5),
    ] {
        *rates.rate_mut(kind) = rate;
    }
    let (_, list) = list(rates.clone(), 30_000, 1);
    assert_eq!(list.len(), 30_000);
    let counts = list.error_counts();
    let rows = list.len() as f64;
    for kind in ErrorKind::ALL {
        let observed = counts[&kind] as f64;
        let (expected, trials) = match kind {
            ErrorKind::NotInRegister | ErrorKind::Duplicate => (rates.rate(kind) * rows, rows),
            _ => {
                let trials = list.entries.iter().filter(|e| applicable(kind, e)).count() as f64;
                (rates.rate(kind) * trials, trials)
            }
        };
        let p = expected / trials.max(1.0);
        let sigma = (trials * p * (1.0 - p)).sqrt();
        // Typos can miss a name too short to slip in; every other kind applies where it can.
        let slack = if kind == ErrorKind::Typo {
            0.01 * expected
        } else {
            0.0
        };
        assert!(
            (observed - expected).abs() <= 4.5 * sigma + slack + 2.0,
            "{kind}: {observed} rows, expected {expected:.1} ± {sigma:.1} of {trials}"
        );
        assert!(observed > 0.0, "{kind} never occurs");
    }
}

#[test]
fn the_truth_agrees_with_every_row() {
    let (people, list) = list(Rates::default(), 20_000, 2);
    let register_ids: HashSet<&str> = people
        .iter()
        .flat_map(|p| std::iter::once(&p.personal_id).chain(&p.superseded_ids))
        .map(String::as_str)
        .collect();
    let reference = ListOptions::new(0, 0).reference_date;
    let mut record_ids = HashSet::new();
    let mut first_row: HashMap<String, usize> = HashMap::new();
    let mut checked: HashMap<ErrorKind, usize> = HashMap::new();
    for (row, entry) in list.entries.iter().enumerate() {
        let p = &entry.person;
        let s = &entry.stated;
        assert!(record_ids.insert(entry.record_id.clone()));
        assert_eq!(entry.record_id, format!("CS{:07}", row + 1));
        let age = p.age_on(reference);
        assert!((WORKING_AGES.0..=WORKING_AGES.1).contains(&age) && !p.deceased);
        for kind in &entry.errors {
            *checked.entry(*kind).or_default() += 1;
        }

        // Who the row is.
        if entry.has(ErrorKind::NotInRegister) {
            assert!(!entry.in_register && entry.truth_id().is_none());
            assert!(!register_ids.contains(p.personal_id.as_str()));
        } else {
            assert_eq!(entry.truth_id(), Some(p.personal_id.as_str()));
            assert!(register_ids.contains(p.personal_id.as_str()));
        }
        match (
            entry.has(ErrorKind::Duplicate),
            first_row.get(&p.personal_id),
        ) {
            (true, Some(&first)) => assert!(first < row),
            (true, None) => panic!("{} duplicates nobody listed before", entry.record_id),
            (false, Some(_)) => panic!("{} is listed twice without the error", p.personal_id),
            (false, None) => {
                first_row.insert(p.personal_id.clone(), row);
            }
        }

        // The ID number.
        let id_errors = (
            entry.has(ErrorKind::MissingId),
            entry.has(ErrorKind::SupersededId),
            entry.has(ErrorKind::WrongIdDigit),
        );
        match (id_errors, s.personal_id.as_deref()) {
            ((true, false, false), None) => {}
            ((false, false, false), Some(id)) => assert_eq!(id, p.personal_id),
            ((false, true, false), Some(id)) => assert_eq!(id, p.superseded_ids[0]),
            ((false, superseded, true), Some(id)) => {
                let meant = if superseded {
                    &p.superseded_ids[0]
                } else {
                    &p.personal_id
                };
                let differing = id
                    .bytes()
                    .zip(meant.bytes())
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!((id.len(), differing), (12, 1), "{id} vs {meant}");
            }
            (errors, id) => panic!("{}: {errors:?} with {id:?}", entry.record_id),
        }

        // The name.
        let stated = s.full_name();
        let name_errors = NAME_KINDS.iter().filter(|k| entry.has(**k)).count();
        if entry.has(ErrorKind::Tcvn3) {
            assert_ne!(stated, p.full_name());
            let decoded = legacy::to_unicode(&stated, Encoding::Tcvn3).unwrap();
            if name_errors == 0 {
                assert_eq!(decoded, p.full_name(), "{stated}");
            }
        } else if name_errors == 0 {
            assert_eq!(stated, p.full_name());
        }
        if entry.has(ErrorKind::LostDiacritics) && !entry.has(ErrorKind::Tcvn3) {
            assert!(stated.is_ascii(), "{stated}");
        }
        if entry.has(ErrorKind::RegionalVariant) && name_errors == 1 && !entry.has(ErrorKind::Tcvn3)
        {
            assert_eq!(
                Some(s.family_name.as_str()),
                regional_variant(&p.family_name)
            );
            assert_eq!(
                (&s.middle_name, &s.given_name),
                (&p.middle_name, &p.given_name)
            );
        }

        // The birth date.
        let b = p.birth_date;
        let swapped = entry.has(ErrorKind::DayMonthSwap);
        let off = entry.has(ErrorKind::YearOffByOne);
        match (swapped, off) {
            (false, false) => assert_eq!(s.birth_date, b),
            (true, false) => {
                assert_eq!(
                    s.birth_date,
                    Date::new(b.year(), b.day(), b.month()).unwrap()
                );
            }
            (false, true) => {
                assert_eq!(s.birth_date.year().abs_diff(b.year()), 1);
                assert_eq!(s.birth_date.month(), b.month());
            }
            (true, true) => assert_eq!(s.birth_date.year().abs_diff(b.year()), 1),
        }

        // Sex and birth province.
        assert_eq!(s.sex, Some(p.sex));
        let province = s.birth_province.unwrap();
        if entry.has(ErrorKind::OldProvinceCode) {
            assert_eq!(province.list, ProvinceList::Pre2025);
            assert_eq!(province.code, p.birth_province);
            assert_ne!(province.code, p.current_birth_province());
        } else if province.list == ProvinceList::From2025 {
            assert_eq!(province.code, p.current_birth_province());
        } else {
            // The old code was drawn but equals the new one: no error.
            assert_eq!(province.code, p.current_birth_province());
        }
        assert!(!entry.organisation.code.is_empty());
    }
    // The default list holds every default kind.
    for kind in ErrorKind::ALL.iter().take(12) {
        assert!(checked.get(kind).copied().unwrap_or_default() > 0, "{kind}");
    }
    // Working in the province of birth is the most common.
    let home = list
        .entries
        .iter()
        .filter(|e| e.organisation.province == Some(e.person.current_birth_province()))
        .count() as f64
        / list.len() as f64;
    assert!(home > 0.7, "{home}");
}

#[test]
fn the_list_is_deterministic_and_a_small_register_limits_it() {
    let (_, a) = list(Rates::default(), 2_000, 5);
    let (_, b) = list(Rates::default(), 2_000, 5);
    assert_eq!(a, b);
    let (_, c) = list(Rates::default(), 2_000, 6);
    assert_ne!(a, c);

    // A register with fewer eligible people than the list asks for gives a shorter list, with
    // every eligible person on it once.
    let mut register = Register::new(8);
    let people: Vec<Person> = register.by_ref().take(300).collect();
    let options = ListOptions::new(10_000, 8);
    let eligible = people
        .iter()
        .filter(|p| lienthong_datagen::is_eligible(p, options.reference_date))
        .count();
    let short = draw_list(&people, &mut register, options).unwrap();
    let listed: HashSet<&str> = short
        .entries
        .iter()
        .filter(|e| e.in_register)
        .map(|e| e.person.personal_id.as_str())
        .collect();
    assert_eq!(listed.len(), eligible);
    assert!(short.len() < 10_000);
}
