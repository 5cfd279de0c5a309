//! The register: deterministic by seed, valid and unique ID numbers, realistic name shares.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use lienthong_datagen::names::TOP_FAMILY_NAMES;
use lienthong_datagen::provinces::PROVINCES_PRE_2025;
use lienthong_datagen::register::BIRTH_YEARS;
use lienthong_datagen::{Person, Register, Sex};
use lienthong_vietnamese::pin::{self, PersonalId};

#[test]
fn the_same_seed_gives_the_same_people() {
    let a: Vec<Person> = Register::new(11).take(5_000).collect();
    let b: Vec<Person> = Register::new(11).take(5_000).collect();
    assert_eq!(a, b);
    let c: Vec<Person> = Register::new(12).take(5_000).collect();
    let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0, "another seed gives other people");
}

/// Checks one number against the person it belongs to, as the regulation defines the digits.
fn check_number(id: &str, person: &Person, birth_year: u16, sex: Sex) {
    let parsed = PersonalId::parse(id).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(id.len(), 12);
    let province = parsed.birth_province().expect("a province prefix");
    assert_eq!(province.gso_code, format!("{:02}", person.birth_province));
    assert_eq!(parsed.birth_year(), birth_year, "{id}");
    let sex_of_digit = match parsed.sex() {
        pin::Sex::Male => Sex::Male,
        pin::Sex::Female => Sex::Female,
    };
    assert_eq!(sex_of_digit, sex, "{id}");
}

#[test]
fn numbers_are_valid_and_unique_superseded_ones_included() {
    let people: Vec<Person> = Register::new(2026).take(200_000).collect();
    let mut seen = HashSet::with_capacity(people.len() * 2);
    let mut superseded = 0;
    let mut corrections: HashMap<&str, usize> = HashMap::new();
    for person in &people {
        check_number(
            &person.personal_id,
            person,
            person.birth_date.year(),
            person.sex,
        );
        assert!(
            (BIRTH_YEARS.0..=BIRTH_YEARS.1).contains(&person.birth_date.year()),
            "{:?}",
            person.birth_date
        );
        assert!(
            seen.insert(person.personal_id.clone()),
            "{} issued twice",
            person.personal_id
        );
        for old in &person.superseded_ids {
            superseded += 1;
            assert!(seen.insert(old.clone()), "{old} issued twice");
            // An earlier number is valid too; it differs in sex, in birth year (by one), or in
            // the serial alone.
            let parsed = PersonalId::parse(old).unwrap();
            let current = PersonalId::parse(&person.personal_id).unwrap();
            assert_eq!(parsed.prefix(), current.prefix());
            let kind = if parsed.sex() != current.sex() {
                assert_eq!(parsed.birth_year(), current.birth_year());
                "sex"
            } else if parsed.birth_year() != current.birth_year() {
                assert_eq!(parsed.birth_year().abs_diff(current.birth_year()), 1);
                "year"
            } else {
                assert_ne!(parsed.serial(), current.serial());
                "serial"
            };
            *corrections.entry(kind).or_default() += 1;
        }
    }
    // 0.5% by default.
    let share = superseded as f64 / people.len() as f64;
    assert!((share - 0.005).abs() < 0.001, "{share}");
    assert_eq!(corrections.len(), 3, "{corrections:?}");
    let deceased = people.iter().filter(|p| p.deceased).count() as f64 / people.len() as f64;
    assert!((deceased - 0.02).abs() < 0.002, "{deceased}");
}

#[test]
fn family_name_shares_follow_the_reference_table() {
    let n = 100_000;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for person in Register::new(99).take(n) {
        *counts.entry(person.family_name).or_default() += 1;
    }
    for (names, share) in TOP_FAMILY_NAMES {
        let observed: usize = names
            .iter()
            .map(|name| counts.get(*name).copied().unwrap_or_default())
            .sum();
        let observed = 100.0 * observed as f64 / n as f64;
        // Four standard deviations of a binomial share, in percent.
        let p = share / 100.0;
        let tolerance = 400.0 * (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (observed - share).abs() < tolerance,
            "{names:?}: {observed:.2}% vs {share}% (±{tolerance:.2})"
        );
    }
    let top14: usize = TOP_FAMILY_NAMES
        .iter()
        .flat_map(|(names, _)| names.iter())
        .map(|name| counts.get(*name).copied().unwrap_or_default())
        .sum();
    let top14 = top14 as f64 / n as f64;
    assert!((top14 - 0.891).abs() < 0.005, "{top14}");
}

#[test]
fn sexes_birth_provinces_and_names_are_all_represented() {
    let people: Vec<Person> = Register::new(4).take(50_000).collect();
    let men = people.iter().filter(|p| p.sex == Sex::Male).count() as f64 / 50_000.0;
    assert!((men - 0.5).abs() < 0.02, "{men}");
    let provinces: HashSet<u8> = people.iter().map(|p| p.birth_province).collect();
    assert_eq!(provinces.len(), PROVINCES_PRE_2025.len());
    // Hà Nội and Hồ Chí Minh City register the most births.
    let share = |code| people.iter().filter(|p| p.birth_province == code).count();
    assert!(share(79) > 4 * share(40));
    assert!(people.iter().any(|p| p.middle_name.is_empty()));
    assert!(
        people
            .iter()
            .filter(|p| p.sex == Sex::Female)
            .all(|p| !p.given_name.is_empty())
    );
    for p in &people {
        assert!(!p.full_name().contains("  "), "{}", p.full_name());
        assert!(p.current_birth_province() > 0);
    }
}
