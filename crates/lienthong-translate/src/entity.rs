//! The canonical entities a mapping produces (`masterdata.proto`), as one enum.

use std::fmt;

use lienthong_proto::v1::{
    AdministrativeUnit, CivilServant, Organisation, Person, Provenance, Quality,
    SocialInsuranceRecord,
};
use prost::Message;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kinds of canonical entity, each with its own topic `canonical.<name>.v1`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// `lienthong.v1.Person`.
    Person,
    /// `lienthong.v1.CivilServant`: one civil-servant file, with its person.
    CivilServant,
    /// `lienthong.v1.Organisation`.
    Organisation,
    /// `lienthong.v1.AdministrativeUnit`.
    AdministrativeUnit,
    /// `lienthong.v1.SocialInsuranceRecord`: one contribution period, with its person.
    SocialInsurance,
}

impl EntityKind {
    pub const ALL: [EntityKind; 5] = [
        EntityKind::Person,
        EntityKind::CivilServant,
        EntityKind::Organisation,
        EntityKind::AdministrativeUnit,
        EntityKind::SocialInsurance,
    ];

    /// The name in mapping files and topic names.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::CivilServant => "civil_servant",
            EntityKind::Organisation => "organisation",
            EntityKind::AdministrativeUnit => "administrative_unit",
            EntityKind::SocialInsurance => "social_insurance",
        }
    }

    /// The output topic: `canonical.<entity>.v1`.
    pub fn topic(self) -> String {
        match self {
            EntityKind::Person => "canonical.person.v1",
            EntityKind::CivilServant => "canonical.civil_servant.v1",
            EntityKind::Organisation => "canonical.organisation.v1",
            EntityKind::AdministrativeUnit => "canonical.administrative_unit.v1",
            EntityKind::SocialInsurance => "canonical.social_insurance.v1",
        }
        .to_owned()
    }

    /// The protobuf message name (for the `lienthong-content-type` header).
    pub fn message_name(self) -> &'static str {
        match self {
            EntityKind::Person => "Person",
            EntityKind::CivilServant => "CivilServant",
            EntityKind::Organisation => "Organisation",
            EntityKind::AdministrativeUnit => "AdministrativeUnit",
            EntityKind::SocialInsurance => "SocialInsuranceRecord",
        }
    }

    /// Whether the entity carries a person.
    /// The `lienthong-content-type` header of the kind's records:
    /// `lienthong_proto::content_type(self.message_name())`, without formatting it per record.
    pub fn content_type(self) -> &'static str {
        macro_rules! content_type {
            ($name:literal) => {
                concat!("application/x-protobuf; messageType=lienthong.v1.", $name)
            };
        }
        match self {
            EntityKind::Person => content_type!("Person"),
            EntityKind::CivilServant => content_type!("CivilServant"),
            EntityKind::Organisation => content_type!("Organisation"),
            EntityKind::AdministrativeUnit => content_type!("AdministrativeUnit"),
            EntityKind::SocialInsurance => content_type!("SocialInsuranceRecord"),
        }
    }

    pub fn has_person(self) -> bool {
        matches!(
            self,
            EntityKind::Person | EntityKind::CivilServant | EntityKind::SocialInsurance
        )
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One canonical record.
// The variants differ in size (a civil-servant file holds a whole person), but records are built
// and published one at a time, never stored in bulk in this form: boxing would only add an
// allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CanonicalEntity {
    Person(Person),
    CivilServant(CivilServant),
    Organisation(Organisation),
    AdministrativeUnit(AdministrativeUnit),
    SocialInsurance(SocialInsuranceRecord),
}

impl CanonicalEntity {
    /// An empty record of `kind` with its record id set.
    pub fn empty(kind: EntityKind, record_id: &str) -> Self {
        let id = record_id.to_owned();
        match kind {
            EntityKind::Person => CanonicalEntity::Person(Person {
                record_id: id,
                ..Person::default()
            }),
            EntityKind::CivilServant => CanonicalEntity::CivilServant(CivilServant {
                record_id: id,
                ..CivilServant::default()
            }),
            EntityKind::Organisation => CanonicalEntity::Organisation(Organisation {
                record_id: id,
                ..Organisation::default()
            }),
            EntityKind::AdministrativeUnit => {
                // The unit's identity is its code, not a record id: the proto has no record_id.
                CanonicalEntity::AdministrativeUnit(AdministrativeUnit::default())
            }
            EntityKind::SocialInsurance => {
                CanonicalEntity::SocialInsurance(SocialInsuranceRecord {
                    record_id: id,
                    ..SocialInsuranceRecord::default()
                })
            }
        }
    }

    pub fn kind(&self) -> EntityKind {
        match self {
            CanonicalEntity::Person(_) => EntityKind::Person,
            CanonicalEntity::CivilServant(_) => EntityKind::CivilServant,
            CanonicalEntity::Organisation(_) => EntityKind::Organisation,
            CanonicalEntity::AdministrativeUnit(_) => EntityKind::AdministrativeUnit,
            CanonicalEntity::SocialInsurance(_) => EntityKind::SocialInsurance,
        }
    }

    /// The person the record is about, if the entity carries one.
    pub fn person(&self) -> Option<&Person> {
        match self {
            CanonicalEntity::Person(p) => Some(p),
            CanonicalEntity::CivilServant(c) => c.person.as_ref(),
            CanonicalEntity::SocialInsurance(s) => s.person.as_ref(),
            _ => None,
        }
    }

    /// The person, created empty if the entity carries one and has none yet.
    pub fn person_mut(&mut self) -> Option<&mut Person> {
        match self {
            CanonicalEntity::Person(p) => Some(p),
            CanonicalEntity::CivilServant(c) => Some(c.person.get_or_insert_with(Person::default)),
            CanonicalEntity::SocialInsurance(s) => {
                Some(s.person.get_or_insert_with(Person::default))
            }
            _ => None,
        }
    }

    pub fn provenance(&self) -> Option<&Provenance> {
        match self {
            CanonicalEntity::Person(e) => e.provenance.as_ref(),
            CanonicalEntity::CivilServant(e) => e.provenance.as_ref(),
            CanonicalEntity::Organisation(e) => e.provenance.as_ref(),
            CanonicalEntity::AdministrativeUnit(e) => e.provenance.as_ref(),
            CanonicalEntity::SocialInsurance(e) => e.provenance.as_ref(),
        }
    }

    pub(crate) fn set_provenance(&mut self, provenance: Provenance) {
        let slot = match self {
            CanonicalEntity::Person(e) => &mut e.provenance,
            CanonicalEntity::CivilServant(e) => &mut e.provenance,
            CanonicalEntity::Organisation(e) => &mut e.provenance,
            CanonicalEntity::AdministrativeUnit(e) => &mut e.provenance,
            CanonicalEntity::SocialInsurance(e) => &mut e.provenance,
        };
        *slot = Some(provenance);
    }

    /// The record's quality findings; `None` for administrative units, whose message has no
    /// quality field (the [`crate::MappedRecord`] still carries them).
    pub fn quality(&self) -> Option<&Quality> {
        match self {
            CanonicalEntity::Person(e) => e.quality.as_ref(),
            CanonicalEntity::CivilServant(e) => e.quality.as_ref(),
            CanonicalEntity::Organisation(e) => e.quality.as_ref(),
            CanonicalEntity::AdministrativeUnit(_) => None,
            CanonicalEntity::SocialInsurance(e) => e.quality.as_ref(),
        }
    }

    pub(crate) fn set_quality(&mut self, quality: Quality) {
        if let Some(slot) = self.quality_mut() {
            *slot = Some(quality);
        }
    }

    /// The message's quality field; `None` for administrative units, which have none.
    fn quality_mut(&mut self) -> Option<&mut Option<Quality>> {
        match self {
            CanonicalEntity::Person(e) => Some(&mut e.quality),
            CanonicalEntity::CivilServant(e) => Some(&mut e.quality),
            CanonicalEntity::Organisation(e) => Some(&mut e.quality),
            CanonicalEntity::AdministrativeUnit(_) => None,
            CanonicalEntity::SocialInsurance(e) => Some(&mut e.quality),
        }
    }

    /// The encoding with `quality` set (where the message has room for it), and `quality` back:
    /// a published record carries its findings both in its value and beside it (for metrics),
    /// and moving them in and out spares a copy of every flag.
    pub(crate) fn encode_with_quality(&mut self, quality: Quality) -> (Vec<u8>, Quality) {
        // The entities most records are, written without prost's measuring pass (see `wire`).
        match self {
            CanonicalEntity::CivilServant(cs) => {
                return (crate::wire::civil_servant(cs, Some(&quality)), quality);
            }
            CanonicalEntity::Person(p) => return (crate::wire::person(p, Some(&quality)), quality),
            _ => {}
        }
        let Some(slot) = self.quality_mut() else {
            return (self.encode_to_vec(), quality);
        };
        *slot = Some(quality);
        let bytes = self.encode_to_vec();
        let quality = self
            .quality_mut()
            .and_then(Option::take)
            .unwrap_or_default();
        (bytes, quality)
    }

    /// The protobuf encoding (the Kafka record value).
    pub fn encode_to_vec(&self) -> Vec<u8> {
        match self {
            CanonicalEntity::Person(e) => crate::wire::person(e, e.quality.as_ref()),
            CanonicalEntity::CivilServant(e) => crate::wire::civil_servant(e, e.quality.as_ref()),
            CanonicalEntity::Organisation(e) => e.encode_to_vec(),
            CanonicalEntity::AdministrativeUnit(e) => e.encode_to_vec(),
            CanonicalEntity::SocialInsurance(e) => e.encode_to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_the_proto_crates() {
        for kind in EntityKind::ALL {
            assert_eq!(
                kind.content_type(),
                lienthong_proto::content_type(kind.message_name())
            );
        }
    }
}
