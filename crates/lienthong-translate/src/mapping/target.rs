//! The canonical fields a mapping can set, their names in mapping files, and what kind of value
//! each takes.
//!
//! Fields of the person are written `person.<field>` in every entity that holds a person
//! (Person itself, CivilServant, SocialInsuranceRecord), so a person is mapped the same way
//! whatever record carries it; fields of the entity itself are written bare (`salary_step`).

use std::fmt;

use crate::entity::EntityKind;

/// The four places of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaceField {
    BirthPlace,
    Hometown,
    PermanentResidence,
    CurrentResidence,
}

impl PlaceField {
    const ALL: [PlaceField; 4] = [
        PlaceField::BirthPlace,
        PlaceField::Hometown,
        PlaceField::PermanentResidence,
        PlaceField::CurrentResidence,
    ];

    fn name(self) -> &'static str {
        match self {
            PlaceField::BirthPlace => "birth_place",
            PlaceField::Hometown => "hometown",
            PlaceField::PermanentResidence => "permanent_residence",
            PlaceField::CurrentResidence => "current_residence",
        }
    }
}

/// The parts of a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlacePart {
    Province,
    District,
    Commune,
    Detail,
    Text,
}

impl PlacePart {
    const ALL: [PlacePart; 5] = [
        PlacePart::Province,
        PlacePart::District,
        PlacePart::Commune,
        PlacePart::Detail,
        PlacePart::Text,
    ];

    fn name(self) -> &'static str {
        match self {
            PlacePart::Province => "province",
            PlacePart::District => "district",
            PlacePart::Commune => "commune",
            PlacePart::Detail => "detail",
            PlacePart::Text => "text",
        }
    }
}

/// One settable canonical field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    PersonalId,
    FormerIdNumber,
    Name,
    NameFamily,
    NameMiddle,
    NameGiven,
    BirthDate,
    Sex,
    Place(PlaceField, PlacePart),
    Ethnicity,
    Religion,
    Nationality,
    Phone,
    Email,

    Category,
    Status,
    OrganisationId,
    OrganisationName,
    Position,
    Rank,
    SalaryStep,
    SalaryCoefficient,
    PositionAllowance,
    RecruitmentDate,
    RankAppointmentDate,
    EducationLevel,
    PoliticalTheoryLevel,
    PartyAdmissionDate,

    OrgCode,
    OrgName,
    OrgShortName,
    OrgParentId,
    OrgLevel,
    OrgAdministrativeUnit,
    OrgEstablished,
    OrgDissolved,

    UnitCodeSystem,
    UnitCode,
    UnitName,
    UnitLevel,
    UnitParentCode,
    UnitValidFrom,
    UnitValidTo,
    UnitSuccessorCodes,
    UnitPredecessorCodes,

    InsuranceNumber,
    InsuranceScheme,
    EmployerCode,
    EmployerName,
    ContributionSalary,
    PeriodFrom,
    PeriodTo,
}

/// The kind of value a slot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    Text,
    /// A personal name (whole, split by the engine).
    Name,
    Date,
    Sex,
    /// A value of a code list (`CodedValue`).
    Coded,
    /// A proto enum, named by its short lower-case name (`civil_servant`, `active`).
    Enum,
    Int,
    Decimal,
    /// A list of text values.
    TextList,
}

/// How much a field's value may appear in messages (quality flags, errors, logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sensitivity {
    /// Not about a person: values may be quoted.
    Public,
    /// Personal data (Decree 13/2023): values are never quoted.
    Personal,
    /// Sensitive personal data (ethnicity, religion, salary): never quoted, and masked in partner
    /// projections unless granted.
    Sensitive,
}

impl Slot {
    pub fn kind(self) -> SlotKind {
        use Slot::*;
        match self {
            Name => SlotKind::Name,
            BirthDate | RecruitmentDate | RankAppointmentDate | PartyAdmissionDate
            | OrgEstablished | OrgDissolved | UnitValidFrom | UnitValidTo | PeriodFrom
            | PeriodTo => SlotKind::Date,
            Sex => SlotKind::Sex,
            Place(_, PlacePart::Province | PlacePart::District | PlacePart::Commune)
            | Ethnicity
            | Religion
            | Nationality
            | Position
            | Rank
            | EducationLevel
            | PoliticalTheoryLevel
            | OrgAdministrativeUnit => SlotKind::Coded,
            Category | Status | OrgLevel | UnitLevel | InsuranceScheme => SlotKind::Enum,
            SalaryStep => SlotKind::Int,
            SalaryCoefficient | PositionAllowance | ContributionSalary => SlotKind::Decimal,
            UnitSuccessorCodes | UnitPredecessorCodes => SlotKind::TextList,
            _ => SlotKind::Text,
        }
    }

    pub fn sensitivity(self) -> Sensitivity {
        use Slot::*;
        match self {
            Ethnicity | Religion | SalaryCoefficient | PositionAllowance | ContributionSalary => {
                Sensitivity::Sensitive
            }
            PersonalId
            | FormerIdNumber
            | Name
            | NameFamily
            | NameMiddle
            | NameGiven
            | BirthDate
            | Sex
            | Phone
            | Email
            | InsuranceNumber
            | Place(_, PlacePart::Detail | PlacePart::Text) => Sensitivity::Personal,
            _ => Sensitivity::Public,
        }
    }

    /// Whether the slot belongs to the person part of an entity.
    pub fn is_person(self) -> bool {
        use Slot::*;
        matches!(
            self,
            PersonalId
                | FormerIdNumber
                | Name
                | NameFamily
                | NameMiddle
                | NameGiven
                | BirthDate
                | Sex
                | Place(..)
                | Ethnicity
                | Religion
                | Nationality
                | Phone
                | Email
        )
    }

    /// The entity kinds that have this field.
    pub fn entities(self) -> &'static [EntityKind] {
        use Slot::*;
        const PERSONS: &[EntityKind] = &[
            EntityKind::Person,
            EntityKind::CivilServant,
            EntityKind::SocialInsurance,
        ];
        match self {
            s if s.is_person() => PERSONS,
            Category | Status | OrganisationId | OrganisationName | Position | Rank
            | SalaryStep | SalaryCoefficient | PositionAllowance | RecruitmentDate
            | RankAppointmentDate | EducationLevel | PoliticalTheoryLevel | PartyAdmissionDate => {
                &[EntityKind::CivilServant]
            }
            OrgCode
            | OrgName
            | OrgShortName
            | OrgParentId
            | OrgLevel
            | OrgAdministrativeUnit
            | OrgEstablished
            | OrgDissolved => &[EntityKind::Organisation],
            UnitCodeSystem | UnitCode | UnitName | UnitLevel | UnitParentCode | UnitValidFrom
            | UnitValidTo | UnitSuccessorCodes | UnitPredecessorCodes => {
                &[EntityKind::AdministrativeUnit]
            }
            _ => &[EntityKind::SocialInsurance],
        }
    }

    /// The field's name in mapping files and quality flags.
    pub fn path(self) -> String {
        use Slot::*;
        let bare = match self {
            Place(place, part) => return format!("person.{}.{}", place.name(), part.name()),
            PersonalId => "person.personal_id",
            FormerIdNumber => "person.former_id_number",
            Name => "person.name",
            NameFamily => "person.name.family",
            NameMiddle => "person.name.middle",
            NameGiven => "person.name.given",
            BirthDate => "person.birth_date",
            Sex => "person.sex",
            Ethnicity => "person.ethnicity",
            Religion => "person.religion",
            Nationality => "person.nationality",
            Phone => "person.phone",
            Email => "person.email",
            Category => "category",
            Status => "status",
            OrganisationId => "organisation_id",
            OrganisationName => "organisation_name",
            Position => "position",
            Rank => "rank",
            SalaryStep => "salary_step",
            SalaryCoefficient => "salary_coefficient",
            PositionAllowance => "position_allowance",
            RecruitmentDate => "recruitment_date",
            RankAppointmentDate => "rank_appointment_date",
            EducationLevel => "education_level",
            PoliticalTheoryLevel => "political_theory_level",
            PartyAdmissionDate => "party_admission_date",
            OrgCode | UnitCode => "code",
            OrgName | UnitName => "name",
            OrgShortName => "short_name",
            OrgParentId => "parent_id",
            OrgLevel | UnitLevel => "level",
            OrgAdministrativeUnit => "administrative_unit",
            OrgEstablished => "established",
            OrgDissolved => "dissolved",
            UnitCodeSystem => "code_system",
            UnitParentCode => "parent_code",
            UnitValidFrom => "valid_from",
            UnitValidTo => "valid_to",
            UnitSuccessorCodes => "successor_codes",
            UnitPredecessorCodes => "predecessor_codes",
            InsuranceNumber => "insurance_number",
            InsuranceScheme => "scheme",
            EmployerCode => "employer_code",
            EmployerName => "employer_name",
            ContributionSalary => "contribution_salary",
            PeriodFrom => "period_from",
            PeriodTo => "period_to",
        };
        bare.to_owned()
    }

    /// Every slot.
    pub fn all() -> Vec<Slot> {
        use Slot::*;
        let mut all = vec![
            PersonalId,
            FormerIdNumber,
            Name,
            NameFamily,
            NameMiddle,
            NameGiven,
            BirthDate,
            Sex,
        ];
        for place in PlaceField::ALL {
            for part in PlacePart::ALL {
                all.push(Place(place, part));
            }
        }
        all.extend([
            Ethnicity,
            Religion,
            Nationality,
            Phone,
            Email,
            Category,
            Status,
            OrganisationId,
            OrganisationName,
            Position,
            Rank,
            SalaryStep,
            SalaryCoefficient,
            PositionAllowance,
            RecruitmentDate,
            RankAppointmentDate,
            EducationLevel,
            PoliticalTheoryLevel,
            PartyAdmissionDate,
            OrgCode,
            OrgName,
            OrgShortName,
            OrgParentId,
            OrgLevel,
            OrgAdministrativeUnit,
            OrgEstablished,
            OrgDissolved,
            UnitCodeSystem,
            UnitCode,
            UnitName,
            UnitLevel,
            UnitParentCode,
            UnitValidFrom,
            UnitValidTo,
            UnitSuccessorCodes,
            UnitPredecessorCodes,
            InsuranceNumber,
            InsuranceScheme,
            EmployerCode,
            EmployerName,
            ContributionSalary,
            PeriodFrom,
            PeriodTo,
        ]);
        all
    }

    /// The slot named `path` in an entity of `kind`.
    pub fn find(kind: EntityKind, path: &str) -> Option<Slot> {
        Slot::all()
            .into_iter()
            .find(|s| s.entities().contains(&kind) && s.path() == path)
    }

    /// The field names an entity of `kind` has, in a stable order.
    pub fn names_for(kind: EntityKind) -> Vec<String> {
        Slot::all()
            .into_iter()
            .filter(|s| s.entities().contains(&kind))
            .map(Slot::path)
            .collect()
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Every target name of every entity, sorted and without repeats (for the JSON Schema).
pub fn all_target_names() -> Vec<&'static str> {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut names: Vec<String> = Slot::all().into_iter().map(Slot::path).collect();
        names.sort();
        names.dedup();
        names
    });
    names.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_has_a_unique_name_within_each_entity() {
        for kind in EntityKind::ALL {
            let mut names = Slot::names_for(kind);
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{kind:?}");
            for name in &names {
                assert_eq!(Slot::find(kind, name).map(Slot::path).as_ref(), Some(name));
            }
        }
    }

    #[test]
    fn entity_fields_are_found_only_in_their_entity() {
        assert_eq!(
            Slot::find(EntityKind::Organisation, "code"),
            Some(Slot::OrgCode)
        );
        assert_eq!(
            Slot::find(EntityKind::AdministrativeUnit, "code"),
            Some(Slot::UnitCode)
        );
        assert_eq!(Slot::find(EntityKind::Person, "salary_step"), None);
        assert_eq!(
            Slot::find(EntityKind::SocialInsurance, "person.hometown.province"),
            Some(Slot::Place(PlaceField::Hometown, PlacePart::Province))
        );
        assert_eq!(Slot::find(EntityKind::Organisation, "person.name"), None);
        assert_eq!(Slot::Religion.sensitivity(), Sensitivity::Sensitive);
        assert_eq!(Slot::OrgName.sensitivity(), Sensitivity::Public);
    }
}
