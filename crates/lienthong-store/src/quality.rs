//! The quality of what the store holds now, against the six criteria (*đúng, đủ, sạch, sống,
//! thống nhất, dùng chung*): for every entity, how many current records pass each criterion,
//! which flags are most frequent, and for people and civil servants how the resolver matched
//! them to the population register.
//!
//! Counted from the current (not deleted) version of every record, from the quality each
//! record carries since the translator checked it.

use std::collections::BTreeMap;

use futures::TryStreamExt as _;
use lienthong_proto::v1::{
    MatchStatus, Organisation, Quality, QualityCriterion, ResolutionResult, ResolvedCivilServant,
    ResolvedPerson, SocialInsuranceRecord,
};
use prost::Message as _;
use sqlx::Row as _;

use crate::error::StoreError;
use crate::{Entity, Store};

/// The six criteria in the order the state lists them.
pub const CRITERIA: [QualityCriterion; 6] = [
    QualityCriterion::Correct,
    QualityCriterion::Complete,
    QualityCriterion::Clean,
    QualityCriterion::Live,
    QualityCriterion::Unified,
    QualityCriterion::Shared,
];

/// The Vietnamese and English name of a criterion.
pub fn criterion_name(criterion: QualityCriterion) -> (&'static str, &'static str) {
    match criterion {
        QualityCriterion::Correct => ("đúng", "correct"),
        QualityCriterion::Complete => ("đủ", "complete"),
        QualityCriterion::Clean => ("sạch", "clean"),
        QualityCriterion::Live => ("sống", "live"),
        QualityCriterion::Unified => ("thống nhất", "unified"),
        QualityCriterion::Shared => ("dùng chung", "shared"),
        QualityCriterion::Unspecified => ("?", "unspecified"),
    }
}

/// One entity's counts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EntityQuality {
    /// Current records.
    pub records: u64,
    /// Records that carry a quality assessment (administrative units do not).
    pub assessed: u64,
    /// Per criterion (in [`CRITERIA`] order), the assessed records that pass it.
    pub passed: [u64; 6],
    /// Flag code → records carrying it.
    pub flags: BTreeMap<String, u64>,
    /// For people and civil servants: match status (`matched`, `not_found`, ...) → records.
    pub resolution: BTreeMap<String, u64>,
}

impl EntityQuality {
    fn add(&mut self, quality: Option<&Quality>, resolution: Option<&ResolutionResult>) {
        self.records += 1;
        if let Some(quality) = quality {
            self.assessed += 1;
            for (slot, criterion) in self.passed.iter_mut().zip(CRITERIA) {
                if quality.passed.contains(&(criterion as i32)) {
                    *slot += 1;
                }
            }
            let mut seen: Vec<&str> = quality.flags.iter().map(|f| f.code.as_str()).collect();
            seen.sort_unstable();
            seen.dedup();
            for code in seen {
                *self.flags.entry(code.to_owned()).or_default() += 1;
            }
        }
        if let Some(resolution) = resolution {
            let status = MatchStatus::try_from(resolution.status)
                .unwrap_or(MatchStatus::Unspecified)
                .as_str_name()
                .trim_start_matches("MATCH_STATUS_")
                .to_ascii_lowercase();
            *self.resolution.entry(status).or_default() += 1;
        }
    }

    /// The `limit` most frequent flags, most frequent first.
    pub fn top_flags(&self, limit: usize) -> Vec<(&str, u64)> {
        let mut flags: Vec<(&str, u64)> =
            self.flags.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        flags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        flags.truncate(limit);
        flags
    }
}

/// The quality of every entity the store holds, by entity name.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QualitySummary {
    pub entities: BTreeMap<String, EntityQuality>,
}

impl QualitySummary {
    /// Adds one current version's body.
    pub fn add(&mut self, entity: Entity, body: &[u8]) -> Result<(), prost::DecodeError> {
        let counts = self.entities.entry(entity.name().to_owned()).or_default();
        match entity {
            Entity::Person => {
                let value = ResolvedPerson::decode(body)?;
                let quality = value.record.as_ref().and_then(|p| p.quality.as_ref());
                counts.add(quality, value.resolution.as_ref());
            }
            Entity::CivilServant => {
                let value = ResolvedCivilServant::decode(body)?;
                let quality = value.record.as_ref().and_then(|c| c.quality.as_ref());
                counts.add(quality, value.resolution.as_ref());
            }
            Entity::Organisation => {
                let value = Organisation::decode(body)?;
                counts.add(value.quality.as_ref(), None);
            }
            Entity::SocialInsurance => {
                let value = SocialInsuranceRecord::decode(body)?;
                counts.add(value.quality.as_ref(), None);
            }
            Entity::AdministrativeUnit => counts.add(None, None),
        }
        Ok(())
    }

    /// All entities together.
    pub fn total(&self) -> EntityQuality {
        let mut total = EntityQuality::default();
        for counts in self.entities.values() {
            total.records += counts.records;
            total.assessed += counts.assessed;
            for (sum, n) in total.passed.iter_mut().zip(counts.passed) {
                *sum += n;
            }
            for (code, n) in &counts.flags {
                *total.flags.entry(code.clone()).or_default() += n;
            }
            for (status, n) in &counts.resolution {
                *total.resolution.entry(status.clone()).or_default() += n;
            }
        }
        total
    }
}

impl Store {
    /// Counts the quality of the current version of every record (streamed, not loaded at
    /// once).
    pub async fn quality_summary(&self) -> Result<QualitySummary, StoreError> {
        let mut summary = QualitySummary::default();
        let mut rows = sqlx::query(
            "SELECT entity, record_id, body FROM lienthong_store.versions \
             WHERE valid_to IS NULL AND NOT deleted",
        )
        .fetch(self.pool());
        while let Some(row) = rows.try_next().await? {
            let name: &str = row.try_get("entity")?;
            let Some(entity) = Entity::from_name(name) else {
                continue;
            };
            let body: Vec<u8> = row.try_get("body")?;
            if let Err(source) = summary.add(entity, &body) {
                let record_id: String = row.try_get("record_id")?;
                return Err(StoreError::Corrupt {
                    entity,
                    record_id,
                    source,
                });
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use lienthong_proto::v1::{CivilServant, QualityFlag};

    use super::*;

    fn quality(passed: &[QualityCriterion], flags: &[&str]) -> Quality {
        Quality {
            passed: passed.iter().map(|c| *c as i32).collect(),
            flags: flags
                .iter()
                .map(|code| QualityFlag {
                    code: (*code).to_owned(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn civil_servant(quality: Quality, status: MatchStatus) -> Vec<u8> {
        ResolvedCivilServant {
            record: Some(CivilServant {
                quality: Some(quality),
                ..Default::default()
            }),
            resolution: Some(ResolutionResult {
                status: status as i32,
                ..Default::default()
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn counts_criteria_flags_and_matches() {
        let mut summary = QualitySummary::default();
        let all = CRITERIA;
        summary
            .add(
                Entity::CivilServant,
                &civil_servant(quality(&all, &[]), MatchStatus::Matched),
            )
            .unwrap();
        let no_correct = &all[1..];
        summary
            .add(
                Entity::CivilServant,
                &civil_servant(
                    quality(no_correct, &["pin.invalid", "pin.invalid", "field.missing"]),
                    MatchStatus::NotFound,
                ),
            )
            .unwrap();
        summary
            .add(
                Entity::AdministrativeUnit,
                &lienthong_proto::v1::AdministrativeUnit::default().encode_to_vec(),
            )
            .unwrap();

        let cs = &summary.entities["civil_servant"];
        assert_eq!((cs.records, cs.assessed), (2, 2));
        assert_eq!(cs.passed, [1, 2, 2, 2, 2, 2]);
        // A flag raised twice on one record counts the record once.
        assert_eq!(cs.flags["pin.invalid"], 1);
        assert_eq!(cs.top_flags(1), vec![("field.missing", 1)]);
        assert_eq!(cs.resolution["matched"], 1);
        assert_eq!(cs.resolution["not_found"], 1);

        let units = &summary.entities["administrative_unit"];
        assert_eq!((units.records, units.assessed), (1, 0));
        let total = summary.total();
        assert_eq!((total.records, total.assessed), (3, 2));
        assert_eq!(total.passed[0], 1);
    }

    #[test]
    fn an_undecodable_body_is_an_error() {
        let mut summary = QualitySummary::default();
        assert!(
            summary
                .add(Entity::CivilServant, &[0xff, 0xff, 0xff])
                .is_err()
        );
    }
}
