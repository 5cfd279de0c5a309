//! The entities a policy can grant, and the protobuf messages that carry them.

use std::fmt;
use std::str::FromStr;

use lienthong_proto::v1::{
    AdministrativeUnit, CivilServant, Organisation, Person, ResolvedCivilServant, ResolvedPerson,
    SocialInsuranceRecord,
};

/// A kind of master data a partner may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    Person,
    CivilServant,
    Organisation,
    AdministrativeUnit,
    SocialInsurance,
}

impl Entity {
    /// Every entity, in the order policies and reports list them.
    pub const ALL: [Entity; 5] = [
        Entity::Person,
        Entity::CivilServant,
        Entity::Organisation,
        Entity::AdministrativeUnit,
        Entity::SocialInsurance,
    ];

    /// The name used in policy files, topic names and metrics (`civil_servant`).
    pub fn name(self) -> &'static str {
        match self {
            Entity::Person => "person",
            Entity::CivilServant => "civil_servant",
            Entity::Organisation => "organisation",
            Entity::AdministrativeUnit => "administrative_unit",
            Entity::SocialInsurance => "social_insurance",
        }
    }

    /// Full name of the entity's message (`lienthong.v1.CivilServant`); field paths of a grant
    /// are paths in this message.
    pub fn message_name(self) -> &'static str {
        match self {
            Entity::Person => "lienthong.v1.Person",
            Entity::CivilServant => "lienthong.v1.CivilServant",
            Entity::Organisation => "lienthong.v1.Organisation",
            Entity::AdministrativeUnit => "lienthong.v1.AdministrativeUnit",
            Entity::SocialInsurance => "lienthong.v1.SocialInsuranceRecord",
        }
    }

    /// Full name of the resolver's wrapper (`record` + `resolution`) for entities the resolver
    /// reconciles against the population register.
    pub fn resolved_message_name(self) -> Option<&'static str> {
        match self {
            Entity::Person => Some("lienthong.v1.ResolvedPerson"),
            Entity::CivilServant => Some("lienthong.v1.ResolvedCivilServant"),
            _ => None,
        }
    }

    /// The partner topic of this entity: `share.<partner>.<entity>.v1`.
    pub fn partner_topic(self, partner: &str) -> String {
        format!("share.{partner}.{}.v1", self.name())
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of [`Entity::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown entity `{0}` (known: person, civil_servant, organisation, administrative_unit, social_insurance)"
)]
pub struct UnknownEntity(pub String);

impl FromStr for Entity {
    type Err = UnknownEntity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Entity::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| UnknownEntity(s.to_string()))
    }
}

/// A generated `lienthong.v1` message a [`Grant`](crate::Grant) can filter: the entity messages
/// and the resolver's wrappers. `FULL_NAME` finds the message in the descriptor set.
pub trait PolicyMessage: prost::Message + Default {
    const FULL_NAME: &'static str;
}

macro_rules! policy_messages {
    ($($ty:ident),* $(,)?) => {
        $(impl PolicyMessage for $ty {
            const FULL_NAME: &'static str = concat!("lienthong.v1.", stringify!($ty));
        })*
    };
}

policy_messages!(
    Person,
    CivilServant,
    Organisation,
    AdministrativeUnit,
    SocialInsuranceRecord,
    ResolvedPerson,
    ResolvedCivilServant,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_messages_exist() {
        for entity in Entity::ALL {
            assert_eq!(entity.name().parse::<Entity>(), Ok(entity));
            assert!(
                crate::fields::pool()
                    .get_message_by_name(entity.message_name())
                    .is_some(),
                "{entity}"
            );
            if let Some(wrapper) = entity.resolved_message_name() {
                assert!(crate::fields::pool().get_message_by_name(wrapper).is_some());
            }
        }
        assert!("civil_servants".parse::<Entity>().is_err());
        assert_eq!(
            Entity::CivilServant.partner_topic("bhxh"),
            "share.bhxh.civil_servant.v1"
        );
        assert_eq!(
            SocialInsuranceRecord::FULL_NAME,
            "lienthong.v1.SocialInsuranceRecord"
        );
    }
}
