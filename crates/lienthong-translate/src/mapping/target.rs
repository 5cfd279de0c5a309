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

    /// The name in paths; [`PLACE_PATHS`] spells every path out.
    #[cfg(test)]
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

    #[cfg(test)]
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
    #[inline]
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

    #[inline]
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
    #[inline]
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
        self.name().to_owned()
    }

    /// [`Slot::path`], without allocating.
    pub(crate) fn name(self) -> &'static str {
        use Slot::*;
        match self {
            Place(place, part) => PLACE_PATHS[place as usize][part as usize],
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
        }
    }

    /// The slot's position in [`Slot::all`], for [`SlotSet`].
    #[inline]
    pub(crate) fn index(self) -> usize {
        use Slot::*;
        match self {
            PersonalId => 0,
            FormerIdNumber => 1,
            Name => 2,
            NameFamily => 3,
            NameMiddle => 4,
            NameGiven => 5,
            BirthDate => 6,
            Sex => 7,
            Place(place, part) => 8 + place as usize * PlacePart::ALL.len() + part as usize,
            Ethnicity => 28,
            Religion => 29,
            Nationality => 30,
            Phone => 31,
            Email => 32,
            Category => 33,
            Status => 34,
            OrganisationId => 35,
            OrganisationName => 36,
            Position => 37,
            Rank => 38,
            SalaryStep => 39,
            SalaryCoefficient => 40,
            PositionAllowance => 41,
            RecruitmentDate => 42,
            RankAppointmentDate => 43,
            EducationLevel => 44,
            PoliticalTheoryLevel => 45,
            PartyAdmissionDate => 46,
            OrgCode => 47,
            OrgName => 48,
            OrgShortName => 49,
            OrgParentId => 50,
            OrgLevel => 51,
            OrgAdministrativeUnit => 52,
            OrgEstablished => 53,
            OrgDissolved => 54,
            UnitCodeSystem => 55,
            UnitCode => 56,
            UnitName => 57,
            UnitLevel => 58,
            UnitParentCode => 59,
            UnitValidFrom => 60,
            UnitValidTo => 61,
            UnitSuccessorCodes => 62,
            UnitPredecessorCodes => 63,
            InsuranceNumber => 64,
            InsuranceScheme => 65,
            EmployerCode => 66,
            EmployerName => 67,
            ContributionSalary => 68,
            PeriodFrom => 69,
            PeriodTo => 70,
        }
    }

    /// Every slot, in the order of [`Slot::index`].
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

/// `person.<place>.<part>`, by [`PlaceField`] and [`PlacePart`] (in declaration order).
const PLACE_PATHS: [[&str; 5]; 4] = [
    [
        "person.birth_place.province",
        "person.birth_place.district",
        "person.birth_place.commune",
        "person.birth_place.detail",
        "person.birth_place.text",
    ],
    [
        "person.hometown.province",
        "person.hometown.district",
        "person.hometown.commune",
        "person.hometown.detail",
        "person.hometown.text",
    ],
    [
        "person.permanent_residence.province",
        "person.permanent_residence.district",
        "person.permanent_residence.commune",
        "person.permanent_residence.detail",
        "person.permanent_residence.text",
    ],
    [
        "person.current_residence.province",
        "person.current_residence.district",
        "person.current_residence.commune",
        "person.current_residence.detail",
        "person.current_residence.text",
    ],
];

/// Every slot, built once.
#[cfg(test)]
fn every_slot() -> &'static [Slot] {
    static ALL: std::sync::LazyLock<Vec<Slot>> = std::sync::LazyLock::new(Slot::all);
    &ALL
}

/// A set of slots (the fields a record got, ...), one bit per slot: no hashing, no allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SlotSet(u128);

impl SlotSet {
    /// Adds `slot`; false when it was in the set already.
    #[inline]
    pub(crate) fn insert(&mut self, slot: Slot) -> bool {
        let bit = 1u128 << slot.index();
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }

    #[inline]
    pub(crate) fn contains(self, slot: Slot) -> bool {
        self.0 & (1u128 << slot.index()) != 0
    }

    /// The set of `slot` alone, to keep where a slot is tested for often (a mapping's fields):
    /// [`SlotSet::has`] and [`SlotSet::add`] then need no [`Slot::index`].
    pub(crate) fn of(slot: Slot) -> Self {
        SlotSet(1u128 << slot.index())
    }

    pub(crate) fn remove(&mut self, slot: Slot) {
        self.0 &= !(1u128 << slot.index());
    }

    /// Whether the set holds the slot of `single` (see [`SlotSet::of`]).
    #[inline]
    pub(crate) fn has(self, single: SlotSet) -> bool {
        self.0 & single.0 != 0
    }

    /// Adds the slot of `single` (see [`SlotSet::of`]).
    #[inline]
    pub(crate) fn add(&mut self, single: SlotSet) {
        self.0 |= single.0;
    }

    /// The slots in the set, in the order of [`Slot::all`].
    #[cfg(test)]
    pub(crate) fn iter(self) -> impl Iterator<Item = Slot> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let index = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            every_slot().get(index).copied()
        })
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

    #[test]
    fn slot_indices_follow_the_list_and_fit_the_set() {
        let all = Slot::all();
        assert!(all.len() <= 128, "SlotSet holds 128 slots");
        for (i, slot) in all.iter().enumerate() {
            assert_eq!(slot.index(), i, "{slot:?}");
        }
        for place in PlaceField::ALL {
            for part in PlacePart::ALL {
                assert_eq!(
                    Slot::Place(place, part).name(),
                    format!("person.{}.{}", place.name(), part.name())
                );
            }
        }
    }

    #[test]
    fn slot_sets_hold_each_slot_once() {
        let mut set = SlotSet::default();
        assert!(!set.contains(Slot::PeriodTo));
        assert!(set.insert(Slot::PeriodTo));
        assert!(!set.insert(Slot::PeriodTo));
        assert!(set.insert(Slot::PersonalId));
        assert!(set.insert(Slot::Place(PlaceField::Hometown, PlacePart::Commune)));
        assert!(set.contains(Slot::PersonalId));
        assert!(!set.contains(Slot::Place(PlaceField::Hometown, PlacePart::Province)));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [
                Slot::PersonalId,
                Slot::Place(PlaceField::Hometown, PlacePart::Commune),
                Slot::PeriodTo
            ]
        );
        assert_eq!(SlotSet::default().iter().count(), 0);
    }
}
