use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::normalise::VietnameseNameNormaliser;
use crate::record::ProvinceCodeSystem;

fn normaliser() -> Arc<dyn NameNormaliser> {
    Arc::new(VietnameseNameNormaliser::default())
}

fn provinces() -> ProvinceMap {
    // Real pairs from the merger table: Hà Giang and Tuyên Quang → Tuyên Quang (08), Hà Nội kept.
    ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8), (10, 15), (15, 15)]).unwrap()
}

fn old(code: u8) -> Option<Province> {
    Some(Province::new(ProvinceCodeSystem::Pre2025, code).unwrap())
}

fn new(code: u8) -> Option<Province> {
    Some(Province::new(ProvinceCodeSystem::From2025, code).unwrap())
}

fn pin(text: &str) -> Pin {
    Pin::parse(text).unwrap()
}

fn person(
    pin_text: &str,
    family: &str,
    middle: &str,
    given: &str,
    date: (u16, u8, u8),
) -> PopulationEntry {
    PopulationEntry {
        pin: pin(pin_text),
        superseded: Vec::new(),
        name: PersonName::new(family, middle, given),
        birth_date: PartialDate::new(date.0, date.1, date.2).unwrap(),
        sex: Some(Sex::Female),
        birth_province: old(2),
        deceased: false,
    }
}

fn sample() -> Vec<PopulationEntry> {
    vec![
        person("002175000001", "Nguyễn", "Thị", "Hoà", (1975, 3, 12)),
        person("002175000002", "Huỳnh", "Thị", "Mai", (1975, 3, 12)),
        person("001190000003", "Trần", "Văn", "An", (1990, 0, 0)),
        PopulationEntry {
            sex: Some(Sex::Male),
            birth_province: new(8),
            ..person("008185000004", "Võ", "Minh", "Khôi", (1985, 12, 1))
        },
    ]
}

fn index_of(entries: Vec<PopulationEntry>) -> PopulationIndex {
    PopulationIndex::build(entries, normaliser(), provinces()).unwrap()
}

/// Prepared names of an entry, for blocking queries.
struct Prepared {
    family: Option<PreparedName>,
    middle: Option<PreparedName>,
    given: Option<PreparedName>,
    entry: PopulationEntry,
}

impl Prepared {
    /// Names prepared with the index's own normaliser, as the matcher does.
    fn new(index: &PopulationIndex, entry: &PopulationEntry) -> Self {
        let n = index.normaliser();
        Self {
            family: PreparedName::new(n, &entry.name.family, NameRole::Family),
            middle: PreparedName::new(n, &entry.name.middle, NameRole::Middle),
            given: PreparedName::new(n, &entry.name.given, NameRole::Given),
            entry: entry.clone(),
        }
    }

    fn query(&self) -> BlockingQuery<'_> {
        BlockingQuery {
            family_name: self.family.as_ref(),
            middle_name: self.middle.as_ref(),
            given_name: self.given.as_ref(),
            birth_date: self.entry.birth_date,
            sex: self.entry.sex,
            birth_province: self.entry.birth_province,
        }
    }
}

fn found_by(index: &PopulationIndex, entry: &PopulationEntry, key: BlockingKey) -> Vec<Pin> {
    let prepared = Prepared::new(index, entry);
    index
        .block(key, &prepared.query())
        .into_iter()
        .map(|id| index.person(id).unwrap().pin)
        .collect()
}

#[test]
fn index_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<PopulationIndex>();
}

#[test]
fn build_then_lookup_by_pin() {
    let index = index_of(sample());
    assert_eq!(index.len(), 4);
    let hit = index.lookup_pin(pin("002175000002")).unwrap();
    assert!(!hit.superseded);
    let view = index.person(hit.person).unwrap();
    assert_eq!(view.pin, pin("002175000002"));
    assert_eq!(view.name(), PersonName::new("Huỳnh", "Thị", "Mai"));
    assert_eq!(view.family_name.unwrap().variant_group, Some("Hoàng/Huỳnh"));
    assert_eq!(view.birth_date, PartialDate::new(1975, 3, 12).unwrap());
    assert_eq!(view.sex, Some(Sex::Female));
    assert_eq!(view.birth_province, old(2));
    assert!(!view.deceased);
    assert_eq!(index.lookup_pin(pin("002175000009")), None);
    let partial = index
        .person(index.lookup_pin(pin("001190000003")).unwrap().person)
        .unwrap();
    assert_eq!(partial.birth_date, PartialDate::year_only(1990).unwrap());
    assert_eq!(partial.name().full(), "Trần Văn An");
}

#[test]
fn build_rejects_inconsistent_extracts() {
    let mut duplicate = sample();
    duplicate.push(duplicate[0].clone());
    assert_eq!(
        PopulationIndex::build(duplicate, normaliser(), provinces()).unwrap_err(),
        IndexError::DuplicatePin(pin("002175000001"))
    );

    let mut in_use = sample();
    in_use[0].superseded.push(pin("002175000002"));
    assert_eq!(
        PopulationIndex::build(in_use, normaliser(), provinces()).unwrap_err(),
        IndexError::SupersededPinInUse {
            pin: pin("002175000002")
        }
    );

    let mut claimed_twice = sample();
    claimed_twice[0].superseded.push(pin("002175999999"));
    claimed_twice[1].superseded.push(pin("002175999999"));
    assert_eq!(
        PopulationIndex::build(claimed_twice, normaliser(), provinces()).unwrap_err(),
        IndexError::ConflictingSupersededPin {
            pin: pin("002175999999")
        }
    );

    let mut itself = sample();
    itself[0].superseded.push(pin("002175000001"));
    assert!(matches!(
        PopulationIndex::build(itself, normaliser(), provinces()),
        Err(IndexError::SupersedesItself(_))
    ));
}

#[test]
fn superseded_numbers_lead_to_the_current_one() {
    let mut entries = sample();
    entries[0].superseded.push(pin("002075000001"));
    let index = index_of(entries);
    let hit = index.lookup_pin(pin("002075000001")).unwrap();
    assert!(hit.superseded);
    assert_eq!(index.person(hit.person).unwrap().pin, pin("002175000001"));
}

#[test]
fn every_person_is_in_each_of_their_blocks() {
    let entries = sample();
    let index = index_of(entries.clone());
    for entry in &entries {
        for key in BlockingKey::ALL {
            let found = found_by(&index, entry, key);
            // The partial date has no DateSex key.
            let expected = key != BlockingKey::DateSex || entry.birth_date.is_full();
            assert_eq!(
                found.contains(&entry.pin),
                expected,
                "{key:?} for {}",
                entry.pin
            );
        }
    }
}

#[test]
fn blocks_survive_the_errors_they_are_meant_to() {
    let index = index_of(sample());
    let hoa = sample()[0].clone();

    // Diacritics stripped, upper case, tone moved: every name-based key still finds her.
    let stripped = PopulationEntry {
        name: PersonName::new("NGUYEN", "Thi", "Hòa"),
        ..hoa.clone()
    };
    for key in [
        BlockingKey::NameYear,
        BlockingKey::NameProvince,
        BlockingKey::InitialsYearProvince,
    ] {
        assert!(
            found_by(&index, &stripped, key).contains(&hoa.pin),
            "{key:?}"
        );
    }

    // Day and month swapped: DateSex misses, NameYear finds.
    let swapped = PopulationEntry {
        birth_date: PartialDate::new(1975, 12, 3).unwrap(),
        ..hoa.clone()
    };
    assert!(!found_by(&index, &swapped, BlockingKey::DateSex).contains(&hoa.pin));
    assert!(found_by(&index, &swapped, BlockingKey::NameYear).contains(&hoa.pin));

    // The new code of the merged province meets the old code of Hà Giang.
    let new_code = PopulationEntry {
        birth_province: new(8),
        ..hoa.clone()
    };
    assert!(found_by(&index, &new_code, BlockingKey::NameProvince).contains(&hoa.pin));

    // Hoàng (northern spelling) finds Huỳnh by the family key.
    let mai = sample()[1].clone();
    let hoang = PopulationEntry {
        name: PersonName::new("Hoàng", "Thị", "Mai"),
        ..mai.clone()
    };
    assert!(found_by(&index, &hoang, BlockingKey::NameYear).contains(&mai.pin));
    // Vũ finds Võ.
    let khoi = sample()[3].clone();
    let vu = PopulationEntry {
        name: PersonName::new("Vũ", "Minh", "Khôi"),
        ..khoi.clone()
    };
    assert!(found_by(&index, &vu, BlockingKey::NameProvince).contains(&khoi.pin));
}

#[test]
fn candidates_skip_oversized_blocks() {
    let index = index_of(sample());
    let hoa = Prepared::new(&index, &sample()[0]);
    let all = index.candidates(&hoa.query(), 100);
    // Nguyễn Thị Hoà and Huỳnh Thị Mai share the birth date and sex.
    assert_eq!(all.people.len(), 2);
    assert_eq!(all.probes.len(), 4);
    assert!(all.probes.iter().all(|p| !p.skipped));
    let limited = index.candidates(&hoa.query(), 1);
    let date_probe = limited
        .probes
        .iter()
        .find(|p| p.key == BlockingKey::DateSex)
        .unwrap();
    assert!(date_probe.skipped);
    assert_eq!(date_probe.size, 2);
    assert_eq!(limited.people.len(), 1);
}

#[test]
fn block_stats_describe_the_tables() {
    let index = index_of(sample());
    let stats = index.block_stats();
    let date_sex = stats
        .iter()
        .find(|s| s.key == BlockingKey::DateSex)
        .unwrap();
    // Three full dates; Hoà and Mai share theirs (and their sex).
    assert_eq!(
        (date_sex.entries, date_sex.blocks, date_sex.largest),
        (3, 2, 2)
    );
    assert!((date_sex.mean_block_of_person - 5.0 / 3.0).abs() < 1e-12);
    let name_year = stats
        .iter()
        .find(|s| s.key == BlockingKey::NameYear)
        .unwrap();
    assert_eq!(
        (name_year.entries, name_year.blocks, name_year.largest),
        (4, 4, 1)
    );
}

#[test]
fn term_frequencies_count_folded_names() {
    let mut entries = sample();
    entries.push(person(
        "002175000005",
        "Nguyen",
        "Văn",
        "Bình",
        (1960, 1, 1),
    ));
    let index = index_of(entries);
    assert_eq!(
        index.term_frequency(NameRole::Family, "nguyen"),
        Some(2.0 / 5.0)
    );
    assert_eq!(index.term_frequency(NameRole::Given, "nguyen"), None);
    assert_eq!(
        index.term_frequency(NameRole::Middle, "thi"),
        Some(2.0 / 5.0)
    );
    let view = index
        .person(index.lookup_pin(pin("002175000001")).unwrap().person)
        .unwrap();
    assert_eq!(view.family_frequency, Some(0.4));
}

#[test]
fn upsert_inserts_corrects_reissues_and_merges() {
    let mut index = index_of(sample());

    // A new person is found at once, before any compaction.
    let newcomer = person("001200000010", "Lê", "Văn", "Tám", (2000, 8, 8));
    let outcome = index.upsert(newcomer.clone()).unwrap();
    assert_eq!(outcome.kind, UpsertKind::Inserted);
    assert_eq!(
        index.lookup_pin(newcomer.pin).map(|m| m.person),
        Some(outcome.person)
    );
    assert!(found_by(&index, &newcomer, BlockingKey::DateSex).contains(&newcomer.pin));
    assert_eq!(index.pending_changes(), 1);

    // A correction of the birth date moves her between blocks.
    let hoa = sample()[0].clone();
    let corrected = PopulationEntry {
        birth_date: PartialDate::new(1975, 4, 12).unwrap(),
        ..hoa.clone()
    };
    let outcome = index.upsert(corrected.clone()).unwrap();
    assert_eq!(outcome.kind, UpsertKind::Updated);
    assert!(
        !found_by(&index, &hoa, BlockingKey::DateSex).contains(&hoa.pin),
        "stale entry"
    );
    assert!(found_by(&index, &corrected, BlockingKey::DateSex).contains(&hoa.pin));

    // A re-issued number (sex corrected): the old number now leads to the new one.
    let an = sample()[2].clone();
    let reissued = PopulationEntry {
        pin: pin("001090000003"),
        superseded: vec![an.pin],
        sex: Some(Sex::Male),
        ..an.clone()
    };
    let outcome = index.upsert(reissued.clone()).unwrap();
    assert_eq!(outcome.kind, UpsertKind::Reissued { previous: an.pin });
    let by_old = index.lookup_pin(an.pin).unwrap();
    assert!(by_old.superseded);
    assert_eq!(index.person(by_old.person).unwrap().pin, reissued.pin);
    assert!(!index.lookup_pin(reissued.pin).unwrap().superseded);

    // Two registrations of one person merged: Mai's number is retired into Khôi's entry.
    let khoi = sample()[3].clone();
    let mai = sample()[1].clone();
    let merged = PopulationEntry {
        superseded: vec![mai.pin],
        ..khoi.clone()
    };
    let outcome = index.upsert(merged).unwrap();
    assert_eq!(outcome.kind, UpsertKind::Updated);
    assert_eq!(outcome.retired, vec![mai.pin]);
    let by_mai = index.lookup_pin(mai.pin).unwrap();
    assert!(by_mai.superseded);
    assert_eq!(index.person(by_mai.person).unwrap().pin, khoi.pin);
    assert!(!found_by(&index, &mai, BlockingKey::NameYear).contains(&mai.pin));
    assert_eq!(index.len(), 4, "five registrations, one retired");

    // Deceased is a correction like any other.
    let deceased = PopulationEntry {
        deceased: true,
        ..newcomer.clone()
    };
    index.upsert(deceased).unwrap();
    assert!(
        index
            .person(index.lookup_pin(newcomer.pin).unwrap().person)
            .unwrap()
            .deceased
    );

    // Compaction changes nothing visible.
    let before = visible_state(&index);
    index.compact();
    assert_eq!(index.pending_changes(), 0);
    assert_eq!(visible_state(&index), before);
    assert!(index.delta_pins.is_empty() && index.dirty.is_empty());
}

/// Everything a caller can observe, for comparing two indexes.
fn visible_state(index: &PopulationIndex) -> Vec<String> {
    let mut lines = Vec::new();
    for id in index.people() {
        let view = index.person(id).unwrap();
        lines.push(format!(
            "{} {} {} {:?} {:?} {} {:?} {:?}",
            view.pin,
            view.name().full(),
            view.birth_date,
            view.sex,
            view.birth_province,
            view.deceased,
            view.family_frequency,
            index.lookup_pin(view.pin).map(|m| m.superseded),
        ));
        let entry = PopulationEntry {
            pin: view.pin,
            superseded: Vec::new(),
            name: view.name(),
            birth_date: view.birth_date,
            sex: view.sex,
            birth_province: view.birth_province,
            deceased: view.deceased,
        };
        for key in BlockingKey::ALL {
            let mut found = found_by(index, &entry, key);
            found.sort_unstable();
            lines.push(format!("  {key:?}: {found:?}"));
        }
    }
    lines.sort();
    lines
}

fn snapshot_bytes(index: &PopulationIndex) -> Vec<u8> {
    let mut bytes = Vec::new();
    index.write_snapshot(&mut bytes).unwrap();
    bytes
}

#[test]
fn snapshot_round_trip_keeps_everything_including_pending_changes() {
    let mut entries = sample();
    entries[0].superseded.push(pin("002075000001"));
    let mut index = index_of(entries);
    index
        .upsert(person("001200000010", "Lê", "Văn", "Tám", (2000, 8, 8)))
        .unwrap();
    let an = sample()[2].clone();
    index
        .upsert(PopulationEntry {
            pin: pin("001090000003"),
            superseded: vec![an.pin],
            ..an
        })
        .unwrap();
    let bytes = snapshot_bytes(&index);
    let loaded =
        PopulationIndex::read_snapshot(bytes.as_slice(), normaliser(), provinces()).unwrap();
    assert_eq!(visible_state(&loaded), visible_state(&index));
    assert_eq!(loaded.pending_changes(), index.pending_changes());
    assert!(loaded.lookup_pin(pin("001190000003")).unwrap().superseded);
    assert!(loaded.lookup_pin(pin("002075000001")).unwrap().superseded);
    // Writing the loaded index gives the same bytes: nothing was lost or reordered.
    assert_eq!(snapshot_bytes(&loaded), bytes);
}

#[test]
fn damaged_snapshots_are_rejected() {
    let index = index_of(sample());
    let bytes = snapshot_bytes(&index);
    let read = |bytes: &[u8]| PopulationIndex::read_snapshot(bytes, normaliser(), provinces());

    for position in [20, bytes.len() / 2, bytes.len() - 9] {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x10;
        assert!(
            matches!(
                read(&damaged),
                Err(SnapshotError::ChecksumMismatch { .. }
                    | SnapshotError::Corrupt(_)
                    | SnapshotError::Truncated)
            ),
            "flip at {position}"
        );
    }
    let mut trailer = bytes.clone();
    let last = trailer.len() - 1;
    trailer[last] ^= 1;
    assert!(matches!(
        read(&trailer),
        Err(SnapshotError::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        read(&bytes[..bytes.len() - 3]),
        Err(SnapshotError::Truncated)
    ));
    assert!(matches!(read(&bytes[..100]), Err(SnapshotError::Truncated)));
    assert!(matches!(
        read(b"not a snapshot at all"),
        Err(SnapshotError::NotASnapshot)
    ));
    let mut version = bytes.clone();
    version[8] = 9;
    assert!(matches!(
        read(&version),
        Err(SnapshotError::UnsupportedVersion { found: 9 })
    ));
    // A count claiming more elements than slots is refused before any allocation.
    let mut huge = bytes.clone();
    let text_count_at = 8 + 4 + 8 * 4;
    huge[text_count_at + 7] = 0x7F;
    assert!(matches!(read(&huge), Err(SnapshotError::Corrupt(_))));
}

/// Folds like the basic normaliser but knows no regional variants.
#[derive(Debug)]
struct NoVariants;

impl NameNormaliser for NoVariants {
    fn fold(&self, name: &str) -> String {
        VietnameseNameNormaliser::default().fold(name)
    }
    fn fold_tones(&self, name: &str) -> String {
        VietnameseNameNormaliser::default().fold_tones(name)
    }
    fn family_variant_group<'a>(&'a self, _: &str) -> Option<&'a str> {
        None
    }
}

#[test]
fn snapshot_loaded_with_another_normaliser_rebuilds_its_blocks() {
    let index = index_of(sample());
    let bytes = snapshot_bytes(&index);
    let loaded =
        PopulationIndex::read_snapshot(bytes.as_slice(), Arc::new(NoVariants), provinces())
            .unwrap();
    let mai = sample()[1].clone();
    let hoang = PopulationEntry {
        name: PersonName::new("Hoàng", "Thị", "Mai"),
        ..mai.clone()
    };
    assert!(found_by(&index, &hoang, BlockingKey::NameYear).contains(&mai.pin));
    assert!(
        !found_by(&loaded, &hoang, BlockingKey::NameYear).contains(&mai.pin),
        "the blocks follow the new normaliser"
    );
    assert!(found_by(&loaded, &mai, BlockingKey::NameYear).contains(&mai.pin));

    // Likewise a different province map.
    let other_map = ProvinceMap::from_pairs([(2, 2), (8, 8)]).unwrap();
    let loaded = PopulationIndex::read_snapshot(bytes.as_slice(), normaliser(), other_map).unwrap();
    let hoa = sample()[0].clone();
    let new_code = PopulationEntry {
        birth_province: new(8),
        ..hoa.clone()
    };
    assert!(!found_by(&loaded, &new_code, BlockingKey::NameProvince).contains(&hoa.pin));
    assert!(found_by(&loaded, &hoa, BlockingKey::NameProvince).contains(&hoa.pin));
}

#[test]
fn memory_accounting_counts_capacities() {
    let index = index_of(sample());
    let report = index.memory_report();
    assert_eq!(report.people, 4);
    assert_eq!(report.total(), index.memory_bytes());
    // Columns: 8 + 4 + 1 + 12 bytes per person, exactly, after build.
    assert_eq!(report.columns, 4 * 25);
    assert_eq!(report.pin_index, 4 * 12 + 8, "keys, people and one fence");
    // At most one entry per person plus one fence per table.
    assert!(
        report.blocks.iter().all(|&b| b <= 4 * 8 + 8),
        "{:?}",
        report.blocks
    );
    assert_eq!(report.delta, 0);
    assert_eq!(hash_map_bytes::<u64, u32>(0), 0);
    let mut map: HashMap<u64, u32> = HashMap::new();
    map.insert(1, 1);
    assert!(hash_map_bytes::<u64, u32>(map.capacity()) >= 16);
}

#[test]
fn collapse_spaces_only_allocates_when_needed() {
    assert!(matches!(collapse_spaces("Thị Minh"), Cow::Borrowed(_)));
    assert_eq!(collapse_spaces(" Thị  Minh\t"), "Thị Minh");
    assert_eq!(collapse_spaces("Thị\u{a0}Minh"), "Thị Minh");
}

/// One step of the model-based test.
#[derive(Debug, Clone)]
enum Step {
    Insert {
        family: usize,
        given: usize,
        date: (u16, u8, u8),
        province: u8,
    },
    Correct {
        who: usize,
        given: usize,
        date: (u16, u8, u8),
    },
    Reissue {
        who: usize,
    },
    Merge {
        keep: usize,
        absorb: usize,
    },
    Compact,
    Snapshot,
}

const FAMILIES: [&str; 5] = ["Nguyễn", "Trần", "Hoàng", "Huỳnh", "Lê"];
const GIVENS: [&str; 5] = ["An", "Hoà", "Hòa", "Bình", "Mai"];

fn step() -> impl Strategy<Value = Step> {
    let date = (1990u16..1993, 0u8..=2, 0u8..=2)
        .prop_map(|(y, m, d)| if m == 0 { (y, 0, 0) } else { (y, m, d) });
    prop_oneof![
        4 => (0..FAMILIES.len(), 0..GIVENS.len(), date.clone(), prop_oneof![Just(1u8), Just(2), Just(8)])
            .prop_map(|(family, given, date, province)| Step::Insert { family, given, date, province }),
        2 => (0usize..64, 0..GIVENS.len(), date).prop_map(|(who, given, date)| Step::Correct { who, given, date }),
        1 => (0usize..64).prop_map(|who| Step::Reissue { who }),
        1 => (0usize..64, 0usize..64).prop_map(|(keep, absorb)| Step::Merge { keep, absorb }),
        1 => Just(Step::Compact),
        1 => Just(Step::Snapshot),
    ]
}

/// The reference: each live person's entry, and where every earlier number points.
#[derive(Default)]
struct Reference {
    people: Vec<PopulationEntry>,
    earlier: HashMap<Pin, Pin>,
    next_number: u64,
}

impl Reference {
    fn fresh_pin(&mut self) -> Pin {
        self.next_number += 1;
        Pin::from_u64(1_090_000_000 + self.next_number).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random registrations, corrections, re-issues, merges, compactions and snapshot round
    /// trips: the index always answers as the reference says, and blocks never return a person
    /// whose current key differs.
    #[test]
    fn index_agrees_with_a_reference_model(steps in proptest::collection::vec(step(), 1..40)) {
        let mut index = PopulationIndex::new(normaliser(), provinces());
        let mut reference = Reference::default();
        for step in steps {
            match step {
                Step::Insert { family, given, date, province } => {
                    let entry = PopulationEntry {
                        pin: reference.fresh_pin(),
                        superseded: Vec::new(),
                        name: PersonName::new(FAMILIES[family], "Văn", GIVENS[given]),
                        birth_date: PartialDate::new(date.0, date.1, date.2).unwrap(),
                        sex: Some(Sex::Male),
                        birth_province: old(province),
                        deceased: false,
                    };
                    prop_assert_eq!(index.upsert(entry.clone()).unwrap().kind, UpsertKind::Inserted);
                    reference.people.push(entry);
                }
                Step::Correct { who, given, date } if !reference.people.is_empty() => {
                    let who = who % reference.people.len();
                    let mut entry = reference.people[who].clone();
                    entry.name.given = GIVENS[given].to_owned();
                    entry.birth_date = PartialDate::new(date.0, date.1, date.2).unwrap();
                    prop_assert_eq!(index.upsert(entry.clone()).unwrap().kind, UpsertKind::Updated);
                    reference.people[who] = entry;
                }
                Step::Reissue { who } if !reference.people.is_empty() => {
                    let who = who % reference.people.len();
                    let mut entry = reference.people[who].clone();
                    let previous = entry.pin;
                    entry.pin = reference.fresh_pin();
                    entry.superseded = vec![previous];
                    let outcome = index.upsert(entry.clone()).unwrap();
                    prop_assert_eq!(outcome.kind, UpsertKind::Reissued { previous });
                    for target in reference.earlier.values_mut() {
                        if *target == previous {
                            *target = entry.pin;
                        }
                    }
                    reference.earlier.insert(previous, entry.pin);
                    entry.superseded.clear();
                    reference.people[who] = entry;
                }
                Step::Merge { keep, absorb } if reference.people.len() >= 2 => {
                    let keep = keep % reference.people.len();
                    let absorb = absorb % reference.people.len();
                    if keep == absorb {
                        continue;
                    }
                    let absorbed = reference.people[absorb].pin;
                    let mut entry = reference.people[keep].clone();
                    entry.superseded = vec![absorbed];
                    let outcome = index.upsert(entry.clone()).unwrap();
                    prop_assert_eq!(outcome.retired, vec![absorbed]);
                    for target in reference.earlier.values_mut() {
                        if *target == absorbed {
                            *target = entry.pin;
                        }
                    }
                    reference.earlier.insert(absorbed, entry.pin);
                    entry.superseded.clear();
                    reference.people[keep] = entry;
                    reference.people.remove(absorb);
                }
                Step::Compact => index.compact(),
                Step::Snapshot => {
                    let bytes = snapshot_bytes(&index);
                    index = PopulationIndex::read_snapshot(bytes.as_slice(), normaliser(), provinces()).unwrap();
                }
                _ => {}
            }
        }
        prop_assert_eq!(index.len(), reference.people.len());
        for entry in &reference.people {
            let hit = index.lookup_pin(entry.pin);
            prop_assert!(hit.is_some_and(|m| !m.superseded), "{} not current", entry.pin);
            let view = index.person(hit.unwrap().person).unwrap();
            prop_assert_eq!(view.name(), entry.name.clone());
            prop_assert_eq!(view.birth_date, entry.birth_date);
            for key in BlockingKey::ALL {
                let prepared = Prepared::new(&index, entry);
                let block = index.block(key, &prepared.query());
                if KeyParts::key(&index.query_parts(&prepared.query()), key).is_some() {
                    prop_assert!(block.iter().any(|id| index.person(*id).unwrap().pin == entry.pin),
                        "{} missing from {:?}", entry.pin, key);
                }
                // No stale entry: every person returned has the queried key now.
                let wanted = index.query_parts(&prepared.query()).key(key);
                for id in block {
                    prop_assert_eq!(index.person_parts(id.slot()).key(key), wanted);
                }
            }
        }
        for (earlier, current) in &reference.earlier {
            let hit = index.lookup_pin(*earlier);
            prop_assert!(hit.is_some_and(|m| m.superseded), "{} lost", earlier);
            prop_assert_eq!(index.person(hit.unwrap().person).unwrap().pin, *current);
        }
        let report = index.memory_report();
        prop_assert_eq!(report.people, reference.people.len());
    }
}
