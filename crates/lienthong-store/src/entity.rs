//! The entities the store keeps, with their names (table partitions, metric labels), default
//! topics and protobuf messages.

use std::fmt;
use std::str::FromStr;

/// An entity kind of the store. Persons and civil servants are stored as the resolver
/// published them (with their population match); the other entities as the translator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// `resolved.person.v1`, `lienthong.v1.ResolvedPerson`.
    Person,
    /// `resolved.civil_servant.v1`, `lienthong.v1.ResolvedCivilServant`.
    CivilServant,
    /// `canonical.organisation.v1`, `lienthong.v1.Organisation`.
    Organisation,
    /// `canonical.administrative_unit.v1`, `lienthong.v1.AdministrativeUnit`.
    AdministrativeUnit,
    /// `canonical.social_insurance.v1`, `lienthong.v1.SocialInsuranceRecord`.
    SocialInsurance,
}

impl Entity {
    pub const ALL: [Entity; 5] = [
        Entity::Person,
        Entity::CivilServant,
        Entity::Organisation,
        Entity::AdministrativeUnit,
        Entity::SocialInsurance,
    ];

    /// The name in the `entity` column, the table partition and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Person => "person",
            Entity::CivilServant => "civil_servant",
            Entity::Organisation => "organisation",
            Entity::AdministrativeUnit => "administrative_unit",
            Entity::SocialInsurance => "social_insurance",
        }
    }

    /// The topic the store reads this entity from unless configured otherwise.
    pub fn default_topic(self) -> &'static str {
        match self {
            Entity::Person => "resolved.person.v1",
            Entity::CivilServant => "resolved.civil_servant.v1",
            Entity::Organisation => "canonical.organisation.v1",
            Entity::AdministrativeUnit => "canonical.administrative_unit.v1",
            Entity::SocialInsurance => "canonical.social_insurance.v1",
        }
    }

    /// The `lienthong.v1` message of a stored body.
    pub fn message_name(self) -> &'static str {
        match self {
            Entity::Person => "ResolvedPerson",
            Entity::CivilServant => "ResolvedCivilServant",
            Entity::Organisation => "Organisation",
            Entity::AdministrativeUnit => "AdministrativeUnit",
            Entity::SocialInsurance => "SocialInsuranceRecord",
        }
    }

    /// The entity named `name` ([`Entity::name`]).
    pub fn from_name(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An entity name that is not one of [`Entity::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an entity of the store (person, civil_servant, organisation, administrative_unit, social_insurance)"
)]
pub struct UnknownEntity(pub String);

impl FromStr for Entity {
    type Err = UnknownEntity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Entity::from_name(s).ok_or_else(|| UnknownEntity(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_topics_follow_the_contracts() {
        for entity in Entity::ALL {
            assert_eq!(entity.name().parse::<Entity>(), Ok(entity));
            assert_eq!(entity.to_string(), entity.name());
            assert!(entity.default_topic().ends_with(".v1"));
            assert!(entity.default_topic().contains(entity.name()));
        }
        assert!("people".parse::<Entity>().is_err());
        assert_eq!(Entity::Person.default_topic(), "resolved.person.v1");
        assert_eq!(
            Entity::SocialInsurance.default_topic(),
            "canonical.social_insurance.v1"
        );
    }
}
