//! Between the contracts (`lienthong.v1` messages) and the matcher's own types: a canonical
//! person becomes a [`QueryRecord`], a register record a [`PopulationEntry`], a [`Resolution`]
//! a `ResolutionResult`.

use std::time::SystemTime;

use lienthong_proto::v1 as pb;
use lienthong_vietnamese::legacy::{self, Encoding};

use crate::matcher::{self, MatchMethod, MatchStatus, QueryName, QueryRecord, Resolution};
use crate::record::{PartialDate, PersonName, Pin, PopulationEntry, Province, ProvinceCodeSystem};
use crate::record::{ProvinceMap, Sex};

/// Code systems of province codes as the translator writes them.
pub const PROVINCE_2025: &str = "vn.province.2025";
pub const PROVINCE_PRE2025: &str = "vn.province.pre2025";

/// Why a register record cannot enter the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("personal_id `{value}`: {reason}")]
    PersonalId { value: String, reason: String },
    #[error("superseded id `{value}`: {reason}")]
    SupersededId { value: String, reason: String },
    #[error("birth_date `{value}`: {reason}")]
    BirthDate { value: String, reason: String },
    #[error("sex `{0}` is not male/female (or empty)")]
    Sex(String),
    #[error("birth_province `{value}`: {reason}")]
    Province { value: String, reason: String },
}

/// A partial date from `lienthong.v1.Date`: 0 for an unknown month or day; an impossible date
/// (31 February) counts as unknown.
pub fn partial_date(date: Option<&pb::Date>) -> PartialDate {
    let Some(d) = date else {
        return PartialDate::default();
    };
    let (Ok(year), Ok(month), Ok(day)) = (
        u16::try_from(d.year),
        u8::try_from(d.month),
        u8::try_from(d.day),
    ) else {
        return PartialDate::default();
    };
    if year == 0 {
        return PartialDate::default();
    }
    PartialDate::new(year, month, day)
        .or_else(|_| PartialDate::year_only(year))
        .unwrap_or_default()
}

pub fn sex(value: i32) -> Option<Sex> {
    match pb::Sex::try_from(value) {
        Ok(pb::Sex::Male) => Some(Sex::Male),
        Ok(pb::Sex::Female) => Some(Sex::Female),
        _ => None,
    }
}

fn sex_to_pb(value: Option<Sex>) -> pb::Sex {
    match value {
        Some(Sex::Male) => pb::Sex::Male,
        Some(Sex::Female) => pb::Sex::Female,
        None => pb::Sex::Unspecified,
    }
}

/// A province code whose list is not stated: a code only the old list has is an old code; a code
/// of the current list names the current unit (which contains the old province of that code, so
/// either reading compares the same after the merger).
pub fn province_auto(map: &ProvinceMap, code: &str) -> Option<Province> {
    let current = Province::parse(ProvinceCodeSystem::From2025, code).ok()?;
    if map.current_code(current).is_some() {
        return Some(current);
    }
    let old = Province::parse(ProvinceCodeSystem::Pre2025, code).ok()?;
    map.current_code(old).is_some().then_some(old)
}

/// The province of a coded value, by its code system; unknown systems are read as
/// [`province_auto`].
pub fn province(map: &ProvinceMap, coded: Option<&pb::CodedValue>) -> Option<Province> {
    let coded = coded?;
    let code = coded.code.trim();
    if code.is_empty() {
        return None;
    }
    match coded.code_system.as_str() {
        PROVINCE_2025 => Province::parse(ProvinceCodeSystem::From2025, code).ok(),
        PROVINCE_PRE2025 => Province::parse(ProvinceCodeSystem::Pre2025, code).ok(),
        _ => province_auto(map, code),
    }
}

/// Text as a legacy database may hold it: TCVN3 or VNI bytes read as Latin-1 are converted, any
/// other text is kept.
pub fn decode_legacy(text: &str) -> String {
    match legacy::detect(text) {
        encoding @ (Encoding::Tcvn3 | Encoding::Vni) => {
            legacy::to_unicode(text, encoding).unwrap_or_else(|_| text.to_owned())
        }
        _ => text.to_owned(),
    }
}

/// The record to resolve for a canonical person.
pub fn query_from_person(map: &ProvinceMap, person: &pb::Person) -> QueryRecord {
    let name = person.name.as_ref().map_or_else(QueryName::default, |n| {
        let full = if n.full.is_empty() && n.family.is_empty() && n.given.is_empty() {
            decode_legacy(&n.original)
        } else {
            n.full.clone()
        };
        QueryName {
            full,
            family: n.family.clone(),
            middle: n.middle.clone(),
            given: n.given.clone(),
        }
    });
    QueryRecord {
        personal_id: person.personal_id.clone(),
        name,
        birth_date: partial_date(person.birth_date.as_ref()),
        sex: sex(person.sex),
        birth_province: province(
            map,
            person
                .birth_place
                .as_ref()
                .and_then(|p| p.province.as_ref()),
        ),
    }
}

/// A register record as the index takes it.
pub fn entry_from_population(
    map: &ProvinceMap,
    record: &pb::PopulationRecord,
) -> Result<PopulationEntry, EntryError> {
    let pin = Pin::parse(record.personal_id.trim()).map_err(|e| EntryError::PersonalId {
        value: record.personal_id.clone(),
        reason: e.to_string(),
    })?;
    let superseded = record
        .superseded_ids
        .iter()
        .map(|s| {
            Pin::parse(s.trim()).map_err(|e| EntryError::SupersededId {
                value: s.clone(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name = record.name.as_ref().map_or_else(PersonName::default, |n| {
        PersonName::new(&n.family, &n.middle, &n.given)
    });
    Ok(PopulationEntry {
        pin,
        superseded,
        name,
        birth_date: partial_date(record.birth_date.as_ref()),
        sex: sex(record.sex),
        birth_province: province(
            map,
            record
                .birth_place
                .as_ref()
                .and_then(|p| p.province.as_ref()),
        ),
        deceased: record.deceased,
    })
}

/// The register record of an index entry (for the `population.v1` topic and tests).
pub fn population_from_entry(entry: &PopulationEntry) -> pb::PopulationRecord {
    pb::PopulationRecord {
        personal_id: entry.pin.to_string(),
        superseded_ids: entry.superseded.iter().map(ToString::to_string).collect(),
        name: Some(pb::PersonName {
            full: entry.name.full(),
            family: entry.name.family.clone(),
            middle: entry.name.middle.clone(),
            given: entry.name.given.clone(),
            original: String::new(),
        }),
        birth_date: date_to_pb(entry.birth_date),
        sex: sex_to_pb(entry.sex) as i32,
        birth_place: entry.birth_province.map(|p| pb::Place {
            province: Some(province_to_pb(p)),
            ..pb::Place::default()
        }),
        deceased: entry.deceased,
        change: pb::PopulationChangeKind::Registered as i32,
        ..pb::PopulationRecord::default()
    }
}

pub fn date_to_pb(date: PartialDate) -> Option<pb::Date> {
    let year = date.year()?;
    Some(pb::Date {
        year: i32::from(year),
        month: i32::from(date.month().unwrap_or(0)),
        day: i32::from(date.day().unwrap_or(0)),
    })
}

pub fn province_to_pb(province: Province) -> pb::CodedValue {
    pb::CodedValue {
        code_system: match province.system() {
            ProvinceCodeSystem::Pre2025 => PROVINCE_PRE2025,
            ProvinceCodeSystem::From2025 => PROVINCE_2025,
        }
        .to_string(),
        code: format!("{:02}", province.code()),
        ..pb::CodedValue::default()
    }
}

pub fn status_to_pb(status: MatchStatus) -> pb::MatchStatus {
    match status {
        MatchStatus::Matched => pb::MatchStatus::Matched,
        MatchStatus::MatchedWithDiscrepancies => pb::MatchStatus::MatchedWithDiscrepancies,
        MatchStatus::NotFound => pb::MatchStatus::NotFound,
        MatchStatus::Ambiguous => pb::MatchStatus::Ambiguous,
        MatchStatus::InvalidInput => pb::MatchStatus::InvalidInput,
    }
}

fn comparison_to_pb(c: &matcher::FieldComparison) -> pb::FieldComparison {
    pb::FieldComparison {
        field: c.field.name().to_string(),
        level: c.level.to_string(),
        match_weight: c.match_weight,
        record_value: c.record_value.clone(),
        register_value: c.register_value.clone(),
        discrepancy: c.discrepancy,
    }
}

/// The contract form of a verdict. Runners-up of a MATCHED record are listed only when
/// `include_candidates`; AMBIGUOUS always lists its candidates.
pub fn resolution_to_pb(
    resolution: &Resolution,
    include_candidates: bool,
    now: SystemTime,
) -> pb::ResolutionResult {
    let list_candidates = include_candidates || resolution.status == MatchStatus::Ambiguous;
    pb::ResolutionResult {
        status: status_to_pb(resolution.status) as i32,
        method: match resolution.method {
            Some(MatchMethod::PersonalId) => pb::MatchMethod::PersonalId,
            Some(MatchMethod::Probabilistic) => pb::MatchMethod::Probabilistic,
            None => pb::MatchMethod::Unspecified,
        } as i32,
        stated_personal_id: resolution.stated_personal_id.clone(),
        personal_id: resolution
            .personal_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
        stated_id_superseded: resolution.stated_id_superseded,
        probability: resolution.probability,
        match_weight: resolution.match_weight,
        comparisons: resolution
            .comparisons
            .iter()
            .map(comparison_to_pb)
            .collect(),
        discrepancies: resolution
            .discrepancies
            .iter()
            .map(comparison_to_pb)
            .collect(),
        candidates: if list_candidates {
            resolution
                .candidates
                .iter()
                .map(|c| pb::MatchCandidate {
                    personal_id: c.personal_id.to_string(),
                    probability: c.probability,
                    match_weight: c.match_weight,
                    comparisons: c.comparisons.iter().map(comparison_to_pb).collect(),
                })
                .collect()
        } else {
            Vec::new()
        },
        invalid_reason: resolution
            .invalid_reason
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        model_version: resolution.model_version.clone(),
        resolved_at: Some(prost_types::Timestamp::from(now)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn map() -> ProvinceMap {
        // Hà Giang (02) merged into Tuyên Quang (08); Hà Nội (01) unchanged.
        ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8)]).unwrap()
    }

    #[test]
    fn province_codes_follow_their_list_or_are_read_by_which_list_has_them() {
        let map = map();
        let old_only = province_auto(&map, "02").unwrap();
        assert_eq!(old_only.system(), ProvinceCodeSystem::Pre2025);
        let current = province_auto(&map, "08").unwrap();
        assert_eq!(current.system(), ProvinceCodeSystem::From2025);
        assert_eq!(province_auto(&map, "77"), None);
        assert_eq!(province_auto(&map, "x"), None);
        let stated = pb::CodedValue {
            code_system: PROVINCE_PRE2025.into(),
            code: "08".into(),
            ..Default::default()
        };
        assert_eq!(
            province(&map, Some(&stated)).unwrap().system(),
            ProvinceCodeSystem::Pre2025
        );
    }

    #[test]
    fn impossible_and_partial_dates() {
        let d = |y, m, d| pb::Date {
            year: y,
            month: m,
            day: d,
        };
        assert!(partial_date(Some(&d(1990, 4, 12))).is_full());
        assert_eq!(partial_date(Some(&d(1990, 2, 31))).year(), Some(1990));
        assert!(!partial_date(Some(&d(1990, 2, 31))).is_full());
        assert!(partial_date(Some(&d(0, 0, 0))).is_unknown());
        assert!(partial_date(Some(&d(-5, 1, 1))).is_unknown());
        assert!(partial_date(None).is_unknown());
        assert_eq!(
            date_to_pb(partial_date(Some(&d(1990, 4, 0)))),
            Some(d(1990, 4, 0))
        );
    }

    #[test]
    fn a_register_record_round_trips_through_the_index_form() {
        let map = map();
        let entry = PopulationEntry {
            pin: Pin::parse("002090001234").unwrap(),
            superseded: vec![Pin::parse("002190001234").unwrap()],
            name: PersonName::new("Nguyễn", "Văn", "An"),
            birth_date: PartialDate::full(1990, 4, 12).unwrap(),
            sex: Some(Sex::Male),
            birth_province: Some(Province::new(ProvinceCodeSystem::Pre2025, 2).unwrap()),
            deceased: false,
        };
        let back = entry_from_population(&map, &population_from_entry(&entry)).unwrap();
        assert_eq!(back, entry);

        let mut bad = population_from_entry(&entry);
        bad.personal_id = "12345".into();
        assert!(matches!(
            entry_from_population(&map, &bad),
            Err(EntryError::PersonalId { .. })
        ));
    }

    #[test]
    fn a_legacy_name_is_decoded_when_only_the_original_is_there() {
        let person = pb::Person {
            name: Some(pb::PersonName {
                original: "NguyÔn V¨n §øc".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let query = query_from_person(&map(), &person);
        assert_eq!(query.name.full, "Nguyễn Văn Đức");
        assert_eq!(decode_legacy("Trần Thị Bình"), "Trần Thị Bình");
    }
}
