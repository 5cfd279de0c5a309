//! Administrative units and code lists, answered from the shared code lists (`schemas/codelists`):
//! an old (pre-2025) code answers with the unit it names and the units it became.

use std::collections::HashMap;

use lienthong_proto::v1 as pb;
use lienthong_translate::codelist::{CodeEntry, CodeLists, Resolution, UnitLevel};
use lienthong_translate::date::CivilDate;

/// Why a unit or code could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("no code given")]
    MissingCode,
    #[error("`{0}` is not a code system of administrative units")]
    NotAUnitSystem(String),
    #[error("no code list `{0}`")]
    UnknownSystem(String),
    #[error("the date is not a valid calendar date")]
    InvalidDate,
    #[error("no code `{code}` in {systems}")]
    NotFound { code: String, systems: String },
}

/// The unit lists tried, in order, when a request names no code system: the current ones first,
/// then the pre-2025 ones.
const UNIT_SYSTEMS: &[&str] = &[
    "vn.province.2025",
    "vn.commune.2025",
    "vn.province.pre2025",
    "vn.district.pre2025",
    "vn.commune.pre2025",
];

/// The code lists with the reverse of every crosswalk (which old codes a unit was formed from).
#[derive(Debug, Clone)]
pub struct Units {
    lists: CodeLists,
    /// (target system, target code) → the codes of the crosswalk's source system it replaced.
    predecessors: HashMap<(String, String), Vec<String>>,
}

impl Units {
    pub fn new(lists: CodeLists) -> Self {
        let mut predecessors: HashMap<(String, String), Vec<String>> = HashMap::new();
        for crosswalk in lists.crosswalks() {
            for (from, to) in crosswalk.pairs() {
                predecessors
                    .entry((crosswalk.to_system.clone(), to.to_owned()))
                    .or_default()
                    .push(from.to_owned());
            }
        }
        for codes in predecessors.values_mut() {
            codes.sort();
            codes.dedup();
        }
        Self {
            lists,
            predecessors,
        }
    }

    pub fn lists(&self) -> &CodeLists {
        &self.lists
    }

    /// The unit `code` names in `code_system` (or the first unit list that has the code when
    /// `code_system` is empty), and the units it is part of on `as_of` when it is no longer valid
    /// then.
    pub fn unit(
        &self,
        code: &str,
        code_system: &str,
        as_of: CivilDate,
    ) -> Result<pb::GetAdministrativeUnitResponse, UnitError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(UnitError::MissingCode);
        }
        let systems: Vec<&str> = if code_system.is_empty() {
            UNIT_SYSTEMS.to_vec()
        } else {
            let list = self
                .lists
                .list(code_system)
                .ok_or_else(|| UnitError::UnknownSystem(code_system.to_owned()))?;
            if list.info().unit_level.is_none() {
                return Err(UnitError::NotAUnitSystem(code_system.to_owned()));
            }
            vec![code_system]
        };
        let (system, entry) = systems
            .iter()
            .find_map(|system| {
                let list = self.lists.list(system)?;
                let canonical = list.canonical_code(code)?;
                Some((*system, list.get(canonical)?))
            })
            .ok_or_else(|| UnitError::NotFound {
                code: code.to_owned(),
                systems: systems.join(", "),
            })?;
        let unit = self.to_unit(system, entry);
        let current_units = match self.lists.resolve_on(system, &entry.code, as_of) {
            Resolution::Replaced { system, to, .. } => {
                to.into_iter().map(|e| self.to_unit(system, e)).collect()
            }
            _ => Vec::new(),
        };
        Ok(pb::GetAdministrativeUnitResponse {
            unit: Some(unit),
            current_units,
        })
    }

    fn to_unit(&self, system: &str, entry: &CodeEntry) -> pb::AdministrativeUnit {
        let level = match self.lists.list(system).and_then(|l| l.info().unit_level) {
            Some(UnitLevel::Province) => pb::AdministrativeLevel::Province,
            Some(UnitLevel::District) => pb::AdministrativeLevel::District,
            Some(UnitLevel::Commune) => pb::AdministrativeLevel::Commune,
            None => pb::AdministrativeLevel::Unspecified,
        };
        let successor_codes = if entry.replaced_by.is_empty() {
            self.lists
                .crosswalks_from(system)
                .flat_map(|c| c.targets(&entry.code).iter().cloned())
                .collect()
        } else {
            entry.replaced_by.clone()
        };
        pb::AdministrativeUnit {
            code_system: system.to_owned(),
            code: entry.code.clone(),
            name: entry.display.clone(),
            level: level as i32,
            parent_code: entry.parent_code.clone(),
            valid_from: entry.valid_from.map(CivilDate::to_proto),
            valid_to: entry.valid_to.map(CivilDate::to_proto),
            successor_codes,
            predecessor_codes: self
                .predecessors
                .get(&(system.to_owned(), entry.code.clone()))
                .cloned()
                .unwrap_or_default(),
            provenance: None,
        }
    }

    /// Every code list with its metadata, codes omitted.
    pub fn code_lists(&self) -> Vec<pb::CodeList> {
        self.lists
            .lists()
            .map(|list| {
                let mut proto = list.to_proto();
                proto.codes.clear();
                proto
            })
            .collect()
    }

    /// One code list with the codes valid on `as_of` (all when `None`).
    pub fn code_list(
        &self,
        code_system: &str,
        as_of: Option<CivilDate>,
    ) -> Result<pb::CodeList, UnitError> {
        let list = self
            .lists
            .list(code_system)
            .ok_or_else(|| UnitError::UnknownSystem(code_system.to_owned()))?;
        let mut proto = list.to_proto();
        if let Some(day) = as_of {
            proto.codes.retain(|code| {
                list.get(&code.code)
                    .is_some_and(|entry| entry.is_valid_on(day))
            });
        }
        Ok(proto)
    }

    /// One code, and the codes replacing it on `as_of` when it is no longer valid then.
    pub fn code(
        &self,
        code_system: &str,
        code: &str,
        as_of: CivilDate,
    ) -> Result<pb::LookupCodeResponse, UnitError> {
        if code.trim().is_empty() {
            return Err(UnitError::MissingCode);
        }
        let list = self
            .lists
            .list(code_system)
            .ok_or_else(|| UnitError::UnknownSystem(code_system.to_owned()))?;
        let not_found = || UnitError::NotFound {
            code: code.trim().to_owned(),
            systems: code_system.to_owned(),
        };
        let canonical = list.canonical_code(code).ok_or_else(not_found)?;
        let proto = list.to_proto();
        let find = |system: &str, code: &str| -> Option<pb::Code> {
            let list = self.lists.list(system)?;
            let entry = list.get(code)?;
            Some(code_proto(system, entry))
        };
        let found = proto
            .codes
            .into_iter()
            .find(|c| c.code == canonical)
            .ok_or_else(not_found)?;
        let current = match self.lists.resolve_on(code_system, canonical, as_of) {
            Resolution::Replaced { system, to, .. } => to
                .into_iter()
                .filter_map(|entry| find(system, &entry.code))
                .collect(),
            _ => Vec::new(),
        };
        Ok(pb::LookupCodeResponse {
            code: Some(found),
            current,
        })
    }
}

fn code_proto(system: &str, entry: &CodeEntry) -> pb::Code {
    pb::Code {
        code_system: system.to_owned(),
        code: entry.code.clone(),
        display: entry.display.clone(),
        display_en: entry.display_en.clone(),
        parent_code: entry.parent_code.clone(),
        valid_from: entry.valid_from.map(CivilDate::to_proto),
        valid_to: entry.valid_to.map(CivilDate::to_proto),
        replaced_by: entry.replaced_by.clone(),
        attributes: entry
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The date of a request: unset (all zero) means today in Vietnam.
pub fn as_of(date: Option<&pb::Date>) -> Result<CivilDate, UnitError> {
    match date {
        Some(d) if *d != pb::Date::default() => {
            CivilDate::from_proto(d).ok_or(UnitError::InvalidDate)
        }
        _ => Ok(today()),
    }
}

pub fn today() -> CivilDate {
    CivilDate::in_vietnam(std::time::SystemTime::now())
        .expect("the clock is within the range of civil dates")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units() -> Units {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists");
        Units::new(CodeLists::load_dir(dir).unwrap())
    }

    fn day(y: i32, m: u8, d: u8) -> CivilDate {
        CivilDate::new(y, m, d).unwrap()
    }

    #[test]
    fn an_old_province_code_answers_with_the_province_it_became() {
        let units = units();
        // Hà Giang (02) became part of Tuyên Quang (08) on 2025-07-01.
        let answer = units.unit("02", "", day(2025, 8, 1)).unwrap();
        let unit = answer.unit.unwrap();
        assert_eq!(unit.code_system, "vn.province.pre2025");
        assert_eq!(unit.code, "02");
        assert_eq!(unit.level, pb::AdministrativeLevel::Province as i32);
        assert_eq!(unit.valid_to, Some(day(2025, 6, 30).to_proto()));
        assert_eq!(unit.successor_codes, ["08"]);
        let current: Vec<_> = answer.current_units.iter().map(|u| &u.code).collect();
        assert_eq!(current, ["08"]);
        assert_eq!(answer.current_units[0].code_system, "vn.province.2025");

        // Before the merger the old code is itself valid: no current units.
        let before = units.unit("02", "", day(2025, 6, 1)).unwrap();
        assert!(before.current_units.is_empty());
    }

    #[test]
    fn a_current_province_lists_the_provinces_it_was_formed_from() {
        let units = units();
        let answer = units.unit("08", "", day(2026, 1, 1)).unwrap();
        let unit = answer.unit.unwrap();
        assert_eq!(unit.code_system, "vn.province.2025");
        assert!(answer.current_units.is_empty());
        assert!(unit.predecessor_codes.contains(&"02".to_owned()));
        assert!(unit.predecessor_codes.contains(&"08".to_owned()));
    }

    #[test]
    fn the_named_system_is_used_and_checked() {
        let units = units();
        let answer = units
            .unit("08", "vn.province.pre2025", day(2026, 1, 1))
            .unwrap();
        assert_eq!(answer.unit.unwrap().code_system, "vn.province.pre2025");
        assert_eq!(
            units.unit("08", "vn.ethnic.qd1019-2008", day(2026, 1, 1)),
            Err(UnitError::NotAUnitSystem("vn.ethnic.qd1019-2008".into()))
        );
        assert_eq!(
            units.unit("08", "no.such", day(2026, 1, 1)),
            Err(UnitError::UnknownSystem("no.such".into()))
        );
        assert!(matches!(
            units.unit("999", "", day(2026, 1, 1)),
            Err(UnitError::NotFound { .. })
        ));
        assert_eq!(
            units.unit(" ", "", day(2026, 1, 1)),
            Err(UnitError::MissingCode)
        );
    }

    #[test]
    fn code_lists_are_listed_without_codes_and_filtered_by_date() {
        let units = units();
        let lists = units.code_lists();
        assert!(lists.iter().all(|l| l.codes.is_empty()));
        assert!(lists.iter().any(|l| l.code_system == "vn.province.2025"));

        let all = units.code_list("vn.province.pre2025", None).unwrap();
        assert_eq!(all.codes.len(), 63);
        let after = units
            .code_list("vn.province.pre2025", Some(day(2025, 7, 1)))
            .unwrap();
        assert!(after.codes.is_empty());
        let current = units
            .code_list("vn.province.2025", Some(day(2025, 7, 1)))
            .unwrap();
        assert_eq!(current.codes.len(), 34);
    }

    #[test]
    fn a_replaced_code_names_its_replacements() {
        let units = units();
        let answer = units
            .code("vn.province.pre2025", "2", day(2026, 1, 1))
            .unwrap();
        assert_eq!(answer.code.unwrap().code, "02");
        let current: Vec<_> = answer.current.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(current, ["08"]);
        assert!(matches!(
            units.code("vn.province.pre2025", "03", day(2026, 1, 1)),
            Err(UnitError::NotFound { .. })
        ));
    }

    #[test]
    fn an_unset_date_is_today_and_a_bad_one_is_refused() {
        assert_eq!(as_of(None).unwrap(), today());
        assert_eq!(as_of(Some(&pb::Date::default())).unwrap(), today());
        let bad = pb::Date {
            year: 2025,
            month: 2,
            day: 30,
        };
        assert_eq!(as_of(Some(&bad)), Err(UnitError::InvalidDate));
    }
}
