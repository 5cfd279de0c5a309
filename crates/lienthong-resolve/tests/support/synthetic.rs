//! The resolver's view of the synthetic data of `lienthong-datagen`: register people as
//! [`PopulationEntry`], list rows as [`QueryRecord`], with their truth.
//!
//! The data itself (name distributions, ID numbers, the 2025 province merger, error injection)
//! is made by `lienthong-datagen`, the one generator of the repository; this file only converts.
//! A list row becomes a query the way the service receives a civil-servant export: the name in
//! one string (`ho_va_ten`), legacy TCVN3/VNI text decoded as the service shell decodes it, the
//! birth province in the code list the row states.

#![allow(dead_code)]

use lienthong_datagen::{
    CivilServantList, ErrorKind, ListOptions, Person, ProvinceList, Rates, Register,
    RegisterOptions, StatedPerson, draw_list,
};
use lienthong_resolve::convert::decode_legacy;
use lienthong_resolve::matcher::{QueryName, QueryRecord};
use lienthong_resolve::{
    PartialDate, PersonName, Pin, PopulationEntry, Province, ProvinceCodeSystem, ProvinceMap, Sex,
};

/// The 63 → 34 province merger, as datagen carries it.
pub fn province_map() -> ProvinceMap {
    ProvinceMap::from_pairs(lienthong_datagen::provinces::merger_pairs())
        .expect("the merger table is consistent")
}

pub fn pin(id: &str) -> Pin {
    Pin::parse(id).expect("datagen issues valid numbers")
}

fn sex(sex: lienthong_datagen::Sex) -> Sex {
    match sex {
        lienthong_datagen::Sex::Male => Sex::Male,
        lienthong_datagen::Sex::Female => Sex::Female,
    }
}

fn date(date: lienthong_datagen::Date) -> PartialDate {
    PartialDate::full(date.year(), date.month(), date.day()).expect("datagen dates are valid")
}

/// A register person as the index holds them (birth province in the pre-2025 list, as
/// `register.csv` states it).
pub fn entry(person: &Person) -> PopulationEntry {
    PopulationEntry {
        pin: pin(&person.personal_id),
        superseded: person.superseded_ids.iter().map(|id| pin(id)).collect(),
        name: PersonName::new(&person.family_name, &person.middle_name, &person.given_name),
        birth_date: date(person.birth_date),
        sex: Some(sex(person.sex)),
        birth_province: Province::new(ProvinceCodeSystem::Pre2025, person.birth_province).ok(),
        deceased: person.deceased,
    }
}

/// A list row as the resolver is asked about it.
pub fn query(stated: &StatedPerson) -> QueryRecord {
    QueryRecord {
        personal_id: stated.personal_id.clone().unwrap_or_default(),
        name: QueryName {
            full: decode_legacy(&stated.full_name()),
            ..QueryName::default()
        },
        birth_date: date(stated.birth_date),
        sex: stated.sex.map(sex),
        birth_province: stated.birth_province.and_then(|p| {
            let system = match p.list {
                ProvinceList::Pre2025 => ProvinceCodeSystem::Pre2025,
                ProvinceList::From2025 => ProvinceCodeSystem::From2025,
            };
            Province::new(system, p.code).ok()
        }),
    }
}

/// Register options of the resolver's tests: four times datagen's default share of superseded
/// numbers, so more queries state one.
pub fn register_options() -> RegisterOptions {
    RegisterOptions {
        superseded_rate: 0.02,
        ..RegisterOptions::default()
    }
}

/// Register people, converted.
pub struct Population {
    register: Register,
}

impl Population {
    pub fn new(seed: u64) -> Self {
        Self {
            register: Register::with_options(seed, register_options())
                .expect("the options are valid"),
        }
    }

    /// The datagen stream behind the entries (to draw lists and absent people from).
    pub fn register(&mut self) -> &mut Register {
        &mut self.register
    }

    pub fn person(&mut self) -> PopulationEntry {
        entry(&self.register.person())
    }

    pub fn people(&mut self, n: usize) -> Vec<PopulationEntry> {
        (0..n).map(|_| self.person()).collect()
    }
}

/// A messy source: every error kind well represented, a tenth of the rows about people absent
/// from the register, no duplicates.
pub fn messy_rates() -> Rates {
    Rates {
        missing_id: 0.55,
        wrong_id_digit: 0.10,
        superseded_id: 0.5,
        tone_style: 0.6,
        lost_diacritics: 0.12,
        tcvn3: 0.03,
        upper_case: 0.05,
        regional_variant: 0.5,
        typo: 0.04,
        missing_middle_name: 0.08,
        day_month_swap: 0.08,
        year_off_by_one: 0.02,
        old_province_code: 0.4,
        missing_birth_province: 0.03,
        wrong_sex: 0.01,
        missing_sex: 0.03,
        not_in_register: 0.1,
        duplicate: 0.0,
    }
}

/// A source record with its truth: the current number of the person it describes (`None` for
/// people absent from the register) and the errors it holds.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub record: QueryRecord,
    pub truth: Option<Pin>,
    pub errors: Vec<ErrorKind>,
}

/// A list of `size` rows drawn by datagen from `register` (the people of `after_register`'s
/// stream, which stands after them), as queries.
pub fn source_records(
    register: &[Person],
    after_register: &mut Register,
    size: usize,
    rates: &Rates,
    seed: u64,
) -> Vec<SourceRecord> {
    let options = ListOptions {
        rates: rates.clone(),
        ..ListOptions::new(size, seed)
    };
    let list: CivilServantList =
        draw_list(register, after_register, options).expect("the rates are valid");
    list.entries
        .iter()
        .map(|row| SourceRecord {
            record: query(&row.stated),
            truth: row.truth_id().map(pin),
            errors: row.errors.clone(),
        })
        .collect()
}
