//! Canonical records while the engine builds them, their text borrowed instead of copied.
//!
//! A civil-servant file holds some seventy strings, and most of them are text the record is
//! built from as it is: the change event's codes, names and addresses, the code lists' systems
//! and displays, the mapping's ids. The prost messages would copy each into a string of its own
//! only for the stage to encode the record and drop it. The drafts here have the fields of the
//! messages `wire` writes itself (civil-servant files, persons and what they hold), under the
//! same names, with [`Cow`] text: the stage encodes a draft as it is, and
//! [`crate::Mapping::apply`] turns it into the prost messages ([`Draft::into_entity`]). The
//! other entities are built as their prost messages (see [`Draft::Other`]).
//!
//! A draft's record ids are left empty while it is built: they are the record's key, which the
//! writer and [`Draft::into_entity`] are given.

use std::borrow::Cow;

use lienthong_proto::v1::{
    CivilServant, CodedValue, Date, Decimal, Person, PersonName, Place, Provenance, Quality,
    SourcePosition,
};
use prost_types::Timestamp;

use crate::entity::{CanonicalEntity, EntityKind};

/// Text of a draft: borrowed from what the record is built from, or made for it.
pub(crate) type Text<'a> = Cow<'a, str>;

/// A `CodedValue`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CodedDraft<'a> {
    pub(crate) code_system: Text<'a>,
    pub(crate) code: Text<'a>,
    pub(crate) display: Text<'a>,
    pub(crate) original: Text<'a>,
}

/// A `PersonName`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NameDraft<'a> {
    pub(crate) full: Text<'a>,
    pub(crate) family: Text<'a>,
    pub(crate) middle: Text<'a>,
    pub(crate) given: Text<'a>,
    pub(crate) original: Text<'a>,
}

/// A `Place`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PlaceDraft<'a> {
    pub(crate) province: Option<CodedDraft<'a>>,
    pub(crate) district: Option<CodedDraft<'a>>,
    pub(crate) commune: Option<CodedDraft<'a>>,
    pub(crate) detail: Text<'a>,
    pub(crate) text: Text<'a>,
    pub(crate) as_of: Option<Date>,
}

/// A `Provenance`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProvenanceDraft<'a> {
    pub(crate) source_id: Text<'a>,
    pub(crate) schema: Text<'a>,
    pub(crate) table: Text<'a>,
    pub(crate) source_key: Text<'a>,
    pub(crate) position: Option<&'a SourcePosition>,
    pub(crate) mapping_id: Text<'a>,
    pub(crate) mapping_version: Text<'a>,
    pub(crate) source_commit_time: Option<Timestamp>,
    pub(crate) translated_at: Option<Timestamp>,
    pub(crate) source_operation: i32,
    pub(crate) idempotency_key: Text<'a>,
}

/// A `Person`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PersonDraft<'a> {
    pub(crate) record_id: Text<'a>,
    pub(crate) personal_id: Text<'a>,
    pub(crate) former_id_number: Text<'a>,
    pub(crate) name: Option<NameDraft<'a>>,
    pub(crate) birth_date: Option<Date>,
    pub(crate) sex: i32,
    pub(crate) birth_place: Option<PlaceDraft<'a>>,
    pub(crate) hometown: Option<PlaceDraft<'a>>,
    pub(crate) permanent_residence: Option<PlaceDraft<'a>>,
    pub(crate) current_residence: Option<PlaceDraft<'a>>,
    pub(crate) ethnicity: Option<CodedDraft<'a>>,
    pub(crate) religion: Option<CodedDraft<'a>>,
    pub(crate) nationality: Option<CodedDraft<'a>>,
    pub(crate) phone: Text<'a>,
    pub(crate) email: Text<'a>,
    /// Only in a draft of a prost message (the engine gives its provenance to the writer).
    pub(crate) provenance: Option<&'a Provenance>,
    pub(crate) quality: Option<&'a Quality>,
}

/// A `CivilServant`, but for its quality, which the writer is given.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CivilServantDraft<'a> {
    pub(crate) record_id: Text<'a>,
    pub(crate) person: Option<PersonDraft<'a>>,
    pub(crate) category: i32,
    pub(crate) status: i32,
    pub(crate) organisation_id: Text<'a>,
    pub(crate) organisation_name: Text<'a>,
    pub(crate) position: Option<CodedDraft<'a>>,
    pub(crate) rank: Option<CodedDraft<'a>>,
    pub(crate) salary_step: i32,
    /// `Decimal.value`.
    pub(crate) salary_coefficient: Option<Text<'a>>,
    /// `Decimal.value`.
    pub(crate) position_allowance: Option<Text<'a>>,
    pub(crate) recruitment_date: Option<Date>,
    pub(crate) rank_appointment_date: Option<Date>,
    pub(crate) education_level: Option<CodedDraft<'a>>,
    pub(crate) political_theory_level: Option<CodedDraft<'a>>,
    pub(crate) party_admission_date: Option<Date>,
    /// Only in a draft of a prost message (the engine gives its provenance to the writer).
    pub(crate) provenance: Option<&'a Provenance>,
}

/// A record being built, of any kind.
// Boxed where it is kept (`Translated::record`); boxing the common variants instead would cost
// an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Draft<'a> {
    Person(PersonDraft<'a>),
    CivilServant(CivilServantDraft<'a>),
    /// Organisations, administrative units and insurance records: built as their prost messages,
    /// which the stage leaves to prost to encode. An insurance record's person is drafted beside
    /// it and moved in by [`Draft::into_entity`].
    Other(Box<(CanonicalEntity, Option<PersonDraft<'a>>)>),
}

/// What the engine's drafts are written with besides themselves: the record's key as its
/// record ids (the record's own and its person's), and its provenance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'e> {
    pub(crate) record_id: &'e str,
    pub(crate) provenance: &'e ProvenanceDraft<'e>,
}

fn text(text: &str) -> Text<'_> {
    Cow::Borrowed(text)
}

impl<'a> CodedDraft<'a> {
    pub(crate) fn of(coded: &'a CodedValue) -> Self {
        CodedDraft {
            code_system: text(&coded.code_system),
            code: text(&coded.code),
            display: text(&coded.display),
            original: text(&coded.original),
        }
    }

    pub(crate) fn into_owned(self) -> CodedValue {
        CodedValue {
            code_system: self.code_system.into_owned(),
            code: self.code.into_owned(),
            display: self.display.into_owned(),
            original: self.original.into_owned(),
        }
    }
}

impl<'a> NameDraft<'a> {
    fn of(name: &'a PersonName) -> Self {
        NameDraft {
            full: text(&name.full),
            family: text(&name.family),
            middle: text(&name.middle),
            given: text(&name.given),
            original: text(&name.original),
        }
    }

    fn into_owned(self) -> PersonName {
        PersonName {
            full: self.full.into_owned(),
            family: self.family.into_owned(),
            middle: self.middle.into_owned(),
            given: self.given.into_owned(),
            original: self.original.into_owned(),
        }
    }
}

impl<'a> PlaceDraft<'a> {
    fn of(place: &'a Place) -> Self {
        PlaceDraft {
            province: place.province.as_ref().map(CodedDraft::of),
            district: place.district.as_ref().map(CodedDraft::of),
            commune: place.commune.as_ref().map(CodedDraft::of),
            detail: text(&place.detail),
            text: text(&place.text),
            as_of: place.as_of,
        }
    }

    fn into_owned(self) -> Place {
        Place {
            province: self.province.map(CodedDraft::into_owned),
            district: self.district.map(CodedDraft::into_owned),
            commune: self.commune.map(CodedDraft::into_owned),
            detail: self.detail.into_owned(),
            text: self.text.into_owned(),
            as_of: self.as_of,
        }
    }
}

impl<'a> ProvenanceDraft<'a> {
    pub(crate) fn of(provenance: &'a Provenance) -> Self {
        ProvenanceDraft {
            source_id: text(&provenance.source_id),
            schema: text(&provenance.schema),
            table: text(&provenance.table),
            source_key: text(&provenance.source_key),
            position: provenance.position.as_ref(),
            mapping_id: text(&provenance.mapping_id),
            mapping_version: text(&provenance.mapping_version),
            source_commit_time: provenance.source_commit_time,
            translated_at: provenance.translated_at,
            source_operation: provenance.source_operation,
            idempotency_key: text(&provenance.idempotency_key),
        }
    }

    /// The same provenance, borrowing this one's text.
    pub(crate) fn borrowed(&self) -> ProvenanceDraft<'_> {
        ProvenanceDraft {
            source_id: text(&self.source_id),
            schema: text(&self.schema),
            table: text(&self.table),
            source_key: text(&self.source_key),
            position: self.position,
            mapping_id: text(&self.mapping_id),
            mapping_version: text(&self.mapping_version),
            source_commit_time: self.source_commit_time,
            translated_at: self.translated_at,
            source_operation: self.source_operation,
            idempotency_key: text(&self.idempotency_key),
        }
    }

    pub(crate) fn into_owned(self) -> Provenance {
        Provenance {
            source_id: self.source_id.into_owned(),
            schema: self.schema.into_owned(),
            table: self.table.into_owned(),
            source_key: self.source_key.into_owned(),
            position: self.position.cloned(),
            mapping_id: self.mapping_id.into_owned(),
            mapping_version: self.mapping_version.into_owned(),
            source_commit_time: self.source_commit_time,
            translated_at: self.translated_at,
            source_operation: self.source_operation,
            idempotency_key: self.idempotency_key.into_owned(),
        }
    }
}

impl<'a> PersonDraft<'a> {
    pub(crate) fn of(person: &'a Person) -> Self {
        PersonDraft {
            record_id: text(&person.record_id),
            personal_id: text(&person.personal_id),
            former_id_number: text(&person.former_id_number),
            name: person.name.as_ref().map(NameDraft::of),
            birth_date: person.birth_date,
            sex: person.sex,
            birth_place: person.birth_place.as_ref().map(PlaceDraft::of),
            hometown: person.hometown.as_ref().map(PlaceDraft::of),
            permanent_residence: person.permanent_residence.as_ref().map(PlaceDraft::of),
            current_residence: person.current_residence.as_ref().map(PlaceDraft::of),
            ethnicity: person.ethnicity.as_ref().map(CodedDraft::of),
            religion: person.religion.as_ref().map(CodedDraft::of),
            nationality: person.nationality.as_ref().map(CodedDraft::of),
            phone: text(&person.phone),
            email: text(&person.email),
            provenance: person.provenance.as_ref(),
            quality: person.quality.as_ref(),
        }
    }

    fn into_owned(self) -> Person {
        Person {
            record_id: self.record_id.into_owned(),
            personal_id: self.personal_id.into_owned(),
            former_id_number: self.former_id_number.into_owned(),
            name: self.name.map(NameDraft::into_owned),
            birth_date: self.birth_date,
            sex: self.sex,
            birth_place: self.birth_place.map(PlaceDraft::into_owned),
            hometown: self.hometown.map(PlaceDraft::into_owned),
            permanent_residence: self.permanent_residence.map(PlaceDraft::into_owned),
            current_residence: self.current_residence.map(PlaceDraft::into_owned),
            ethnicity: self.ethnicity.map(CodedDraft::into_owned),
            religion: self.religion.map(CodedDraft::into_owned),
            nationality: self.nationality.map(CodedDraft::into_owned),
            phone: self.phone.into_owned(),
            email: self.email.into_owned(),
            provenance: self.provenance.cloned(),
            quality: self.quality.cloned(),
        }
    }
}

impl<'a> CivilServantDraft<'a> {
    pub(crate) fn of(record: &'a CivilServant) -> Self {
        let decimal = |d: &'a Option<Decimal>| d.as_ref().map(|d| text(&d.value));
        CivilServantDraft {
            record_id: text(&record.record_id),
            person: record.person.as_ref().map(PersonDraft::of),
            category: record.category,
            status: record.status,
            organisation_id: text(&record.organisation_id),
            organisation_name: text(&record.organisation_name),
            position: record.position.as_ref().map(CodedDraft::of),
            rank: record.rank.as_ref().map(CodedDraft::of),
            salary_step: record.salary_step,
            salary_coefficient: decimal(&record.salary_coefficient),
            position_allowance: decimal(&record.position_allowance),
            recruitment_date: record.recruitment_date,
            rank_appointment_date: record.rank_appointment_date,
            education_level: record.education_level.as_ref().map(CodedDraft::of),
            political_theory_level: record.political_theory_level.as_ref().map(CodedDraft::of),
            party_admission_date: record.party_admission_date,
            provenance: record.provenance.as_ref(),
        }
    }

    fn into_owned(self) -> CivilServant {
        let decimal = |d: Option<Text<'_>>| {
            d.map(|value| Decimal {
                value: value.into_owned(),
            })
        };
        CivilServant {
            record_id: self.record_id.into_owned(),
            person: self.person.map(PersonDraft::into_owned),
            category: self.category,
            status: self.status,
            organisation_id: self.organisation_id.into_owned(),
            organisation_name: self.organisation_name.into_owned(),
            position: self.position.map(CodedDraft::into_owned),
            rank: self.rank.map(CodedDraft::into_owned),
            salary_step: self.salary_step,
            salary_coefficient: decimal(self.salary_coefficient),
            position_allowance: decimal(self.position_allowance),
            recruitment_date: self.recruitment_date,
            rank_appointment_date: self.rank_appointment_date,
            education_level: self.education_level.map(CodedDraft::into_owned),
            political_theory_level: self.political_theory_level.map(CodedDraft::into_owned),
            party_admission_date: self.party_admission_date,
            provenance: self.provenance.cloned(),
            quality: None,
        }
    }
}

impl<'a> Draft<'a> {
    /// An empty record of `kind`, with no person yet. Its record ids are set at the end (see
    /// the module documentation); only the prost-built kinds take theirs now.
    pub(crate) fn empty(kind: EntityKind, record_id: &str) -> Self {
        match kind {
            EntityKind::Person => Draft::Person(PersonDraft::default()),
            EntityKind::CivilServant => Draft::CivilServant(CivilServantDraft::default()),
            other => Draft::Other(Box::new((CanonicalEntity::empty(other, record_id), None))),
        }
    }

    pub(crate) fn kind(&self) -> EntityKind {
        match self {
            Draft::Person(_) => EntityKind::Person,
            Draft::CivilServant(_) => EntityKind::CivilServant,
            Draft::Other(other) => other.0.kind(),
        }
    }

    /// The prost message of a record built as one ([`Draft::Other`]).
    pub(crate) fn message(&self) -> Option<&CanonicalEntity> {
        match self {
            Draft::Other(other) => Some(&other.0),
            _ => None,
        }
    }

    /// [`Draft::message`], to write to.
    pub(crate) fn message_mut(&mut self) -> Option<&mut CanonicalEntity> {
        match self {
            Draft::Other(other) => Some(&mut other.0),
            _ => None,
        }
    }

    /// The person the record is about, if it has one.
    #[inline]
    pub(crate) fn person(&self) -> Option<&PersonDraft<'a>> {
        match self {
            Draft::Person(p) => Some(p),
            Draft::CivilServant(cs) => cs.person.as_ref(),
            Draft::Other(other) => other.1.as_ref(),
        }
    }

    /// The person, created empty if the kind of record carries one and has none yet.
    #[inline]
    pub(crate) fn person_mut(&mut self) -> Option<&mut PersonDraft<'a>> {
        match self {
            Draft::Person(p) => Some(p),
            Draft::CivilServant(cs) => Some(cs.person.get_or_insert_with(PersonDraft::default)),
            Draft::Other(other) => {
                let (entity, person) = &mut **other;
                entity
                    .kind()
                    .has_person()
                    .then(|| person.get_or_insert_with(PersonDraft::default))
            }
        }
    }

    /// The prost message of the record, with `record_id` as its record ids (the record's own
    /// and its person's) and `provenance`, without quality.
    pub(crate) fn into_entity(self, record_id: &str, provenance: Provenance) -> CanonicalEntity {
        let person_of = |person: PersonDraft<'_>| Person {
            record_id: record_id.to_owned(),
            ..person.into_owned()
        };
        let mut entity = match self {
            Draft::Person(person) => CanonicalEntity::Person(person_of(person)),
            Draft::CivilServant(mut cs) => {
                let person = cs.person.take().map(person_of);
                CanonicalEntity::CivilServant(CivilServant {
                    record_id: record_id.to_owned(),
                    person,
                    ..cs.into_owned()
                })
            }
            Draft::Other(other) => {
                let (mut entity, person) = *other;
                if let (CanonicalEntity::SocialInsurance(si), Some(person)) = (&mut entity, person)
                {
                    si.person = Some(person_of(person));
                }
                entity
            }
        };
        entity.set_provenance(provenance);
        entity
    }

    /// The encoding of [`Draft::into_entity`] with `quality` set where the message has room
    /// for it, and `quality` back.
    pub(crate) fn encode(
        self: Box<Self>,
        envelope: Envelope<'_>,
        quality: Option<Quality>,
    ) -> (Vec<u8>, Option<Quality>) {
        let bytes = match &*self {
            // Written as they are (see `wire`).
            Draft::Person(person) => {
                crate::wire::person_draft(person, Some(envelope), quality.as_ref())
            }
            Draft::CivilServant(cs) => {
                crate::wire::civil_servant_draft(cs, Some(envelope), quality.as_ref())
            }
            Draft::Other(_) => {
                let provenance = envelope.provenance.borrowed().into_owned();
                let mut entity = self.into_entity(envelope.record_id, provenance);
                let Some(quality) = quality else {
                    return (entity.encode_to_vec(), None);
                };
                let (bytes, quality) = entity.encode_with_quality(quality);
                return (bytes, Some(quality));
            }
        };
        (bytes, quality)
    }
}
