//! The population index at scale: 200,000 synthetic people stay under 100 bytes per person, and
//! every one of them is found by personal ID (current and superseded) and by each blocking key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/synthetic.rs"]
mod synthetic;

use std::sync::Arc;
use std::time::Instant;

use lienthong_resolve::index::{BlockingKey, BlockingQuery, PopulationIndex};
use lienthong_resolve::levels::{NameRole, PreparedName};
use lienthong_resolve::{NameNormaliser, PopulationEntry, VietnameseNameNormaliser};

const PEOPLE: usize = 200_000;

struct Names {
    family: Option<PreparedName>,
    middle: Option<PreparedName>,
    given: Option<PreparedName>,
}

fn names(normaliser: &dyn NameNormaliser, entry: &PopulationEntry) -> Names {
    Names {
        family: PreparedName::new(normaliser, &entry.name.family, NameRole::Family),
        middle: PreparedName::new(normaliser, &entry.name.middle, NameRole::Middle),
        given: PreparedName::new(normaliser, &entry.name.given, NameRole::Given),
    }
}

fn query<'a>(names: &'a Names, entry: &PopulationEntry) -> BlockingQuery<'a> {
    BlockingQuery {
        family_name: names.family.as_ref(),
        middle_name: names.middle.as_ref(),
        given_name: names.given.as_ref(),
        birth_date: entry.birth_date,
        sex: entry.sex,
        birth_province: entry.birth_province,
    }
}

#[test]
fn two_hundred_thousand_people_fit_and_are_all_found() {
    let entries = synthetic::Population::new(20_260_101).people(PEOPLE);
    let started = Instant::now();
    let index = PopulationIndex::build(
        entries.iter().cloned(),
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )
    .unwrap();
    let built_in = started.elapsed();
    assert_eq!(index.len(), PEOPLE);

    let report = index.memory_report();
    let per_person = report.bytes_per_person();
    println!(
        "{PEOPLE} people: {} bytes, {per_person:.1} bytes/person, built in {built_in:.2?}; {report:?}",
        report.total()
    );
    assert!(per_person < 100.0, "{per_person:.1} bytes per person");
    assert_eq!(report.total(), index.memory_bytes());

    let normaliser = index.normaliser();
    let mut formable = [0usize; BlockingKey::COUNT];
    for entry in &entries {
        let hit = index.lookup_pin(entry.pin).expect("current number found");
        assert!(!hit.superseded);
        let view = index.person(hit.person).unwrap();
        assert_eq!(view.pin, entry.pin);
        assert_eq!(view.name(), entry.name);
        for old in &entry.superseded {
            let by_old = index.lookup_pin(*old).expect("superseded number found");
            assert!(by_old.superseded);
            assert_eq!(by_old.person, hit.person);
        }
        let names = names(normaliser, entry);
        let query = query(&names, entry);
        for key in BlockingKey::ALL {
            let block = index.block(key, &query);
            let needs_full_date = key == BlockingKey::DateSex && !entry.birth_date.is_full();
            if needs_full_date {
                assert!(block.is_empty());
                continue;
            }
            formable[key as usize] += 1;
            assert!(
                block.contains(&hit.person),
                "{} not in its {key:?} block",
                entry.pin
            );
        }
        let candidates = index.candidates(&query, usize::MAX);
        assert!(candidates.people.contains(&hit.person));
    }
    // Every key applies to nearly everyone (only partial dates lack the date key).
    for (key, count) in BlockingKey::ALL.iter().zip(formable) {
        assert!(count as f64 > 0.97 * PEOPLE as f64, "{key:?}: {count}");
    }
}

#[test]
fn snapshot_of_a_large_index_round_trips() {
    let entries = synthetic::Population::new(7).people(50_000);
    let mut index = PopulationIndex::build(
        entries.iter().cloned(),
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )
    .unwrap();
    // Pending changes travel with the snapshot.
    let mut extra = synthetic::Population::new(8);
    for _ in 0..500 {
        let mut entry = extra.person();
        entry.superseded.clear();
        index.upsert(entry).unwrap();
    }
    let mut bytes = Vec::new();
    let started = Instant::now();
    index.write_snapshot(&mut bytes).unwrap();
    let written_in = started.elapsed();
    let started = Instant::now();
    let loaded = PopulationIndex::read_snapshot(
        bytes.as_slice(),
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )
    .unwrap();
    println!(
        "snapshot of {} people: {} bytes, written in {written_in:.2?}, read in {:.2?}",
        index.len(),
        bytes.len(),
        started.elapsed()
    );
    assert_eq!(loaded.len(), index.len());
    assert_eq!(loaded.pending_changes(), index.pending_changes());
    assert_eq!(loaded.slots(), index.slots());
    // Live inserts grow the columns by small steps, not by doubling.
    let columns = index.memory_report().columns as f64;
    assert!(
        columns < 1.1 * loaded.memory_report().columns as f64,
        "{columns}"
    );
    for entry in entries.iter().step_by(97) {
        let a = index.lookup_pin(entry.pin).unwrap();
        let b = loaded.lookup_pin(entry.pin).unwrap();
        assert_eq!(a, b);
        let names = names(loaded.normaliser(), entry);
        for key in BlockingKey::ALL {
            assert_eq!(
                index.block(key, &query(&names, entry)),
                loaded.block(key, &query(&names, entry))
            );
        }
    }
    let mut again = Vec::new();
    loaded.write_snapshot(&mut again).unwrap();
    assert_eq!(again, bytes);
}
