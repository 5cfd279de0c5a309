//! The pure core of the stage: one input record and the policies in force in, the partner-topic
//! records (with their audit events) out. No I/O; the clock is passed in.

use chrono::{DateTime, Utc};
use lienthong_policy::{Entity, PolicySet};
use lienthong_runtime::kafka::{InboundRecord, RecordHeaders, Rejection};
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage as _};

use crate::audit::{PersonalId, ShareAudit, ShareResult};
use crate::config::ShareInputs;

/// One record for a partner topic, and the event that audits it once delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRecord {
    pub partner: String,
    pub topic: String,
    /// The input record's key.
    pub key: Option<Vec<u8>>,
    /// The filtered record; `None` passes a tombstone on.
    pub payload: Option<Vec<u8>>,
    pub headers: RecordHeaders,
    pub audit: ShareAudit,
}

/// What one input record becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// One record per partner whose policy enables the entity's partner topic; `filtered` lists
    /// the other partners.
    Share {
        entity: Entity,
        records: Vec<PartnerRecord>,
        filtered: Vec<String>,
    },
    /// The record cannot be read: dead-letter it. `lost` lists the partners that would have
    /// received it, `filtered` the others.
    Reject {
        entity: Option<Entity>,
        rejection: Rejection,
        lost: Vec<String>,
        filtered: Vec<String>,
    },
}

/// Projects one input record for every partner of `policies`.
pub fn project(
    policies: &PolicySet,
    inputs: &ShareInputs,
    record: &InboundRecord,
    now: DateTime<Utc>,
) -> Projection {
    let Some(entity) = inputs.entity_of(&record.topic) else {
        return Projection::Reject {
            entity: None,
            rejection: Rejection {
                kind: "topic".to_string(),
                reason: format!("{} is not an input of the share stage", record.topic),
                attempts: 1,
            },
            lost: Vec::new(),
            filtered: policies.partners().map(|p| p.id().to_string()).collect(),
        };
    };
    let mut receivers = Vec::new();
    let mut filtered = Vec::new();
    for partner in policies.partners() {
        match partner.topic_grant(entity) {
            Some(grant) => receivers.push(grant),
            None => filtered.push(partner.id().to_string()),
        }
    }
    let desc = input_message(entity, &record.headers);
    let decoded = match record.payload.as_deref() {
        None => None,
        Some(payload) => match DynamicMessage::decode(desc.clone(), payload) {
            Ok(message) => Some(message),
            Err(e) => {
                return Projection::Reject {
                    entity: Some(entity),
                    rejection: Rejection {
                        kind: "decode".to_string(),
                        reason: format!("not a {}: {e}", desc.full_name()),
                        attempts: 1,
                    },
                    lost: receivers
                        .iter()
                        .map(|g| g.partner().id().to_string())
                        .collect(),
                    filtered,
                };
            }
        },
    };
    let subject = decoded.as_ref().and_then(personal_id).map(PersonalId::new);
    let base_key = record
        .headers
        .idempotency_key
        .clone()
        .unwrap_or_else(|| record.position());
    let message_name = desc
        .full_name()
        .strip_prefix("lienthong.v1.")
        .unwrap_or(desc.full_name())
        .to_string();
    let records = receivers
        .iter()
        .map(|grant| {
            let partner = grant.partner().id();
            let topic = entity.partner_topic(partner);
            let idempotency_key = format!("{base_key}:share.{partner}");
            let payload = decoded.as_ref().map(|message| {
                let mut filtered = message.clone();
                grant.apply_dynamic(&mut filtered);
                prost::Message::encode_to_vec(&filtered)
            });
            let headers = RecordHeaders {
                idempotency_key: Some(idempotency_key.clone()),
                source_position: record.headers.source_position.clone(),
                schema_version: record.headers.schema_version.clone(),
                traceparent: record.headers.traceparent.clone(),
                tracestate: record.headers.tracestate.clone(),
                ..RecordHeaders::default()
            }
            .protobuf(&message_name);
            let audit = ShareAudit {
                partner: partner.to_string(),
                method: format!("share.{entity}"),
                subject: subject.clone(),
                fields: if payload.is_some() {
                    grant.fields()
                } else {
                    Vec::new()
                },
                purpose: grant.purpose().to_string(),
                time: now,
                result: ShareResult::Delivered,
                topic: topic.clone(),
                idempotency_key,
            };
            PartnerRecord {
                partner: partner.to_string(),
                topic,
                key: record.key.clone(),
                payload,
                headers,
                audit,
            }
        })
        .collect();
    Projection::Share {
        entity,
        records,
        filtered,
    }
}

/// The message an input record carries: the one its content-type header names when that is the
/// entity's message or its resolved wrapper; otherwise the wrapper for person and civil servant
/// (the resolver's topics), the entity's message for the rest.
fn input_message(entity: Entity, headers: &RecordHeaders) -> MessageDescriptor {
    let pool = pool();
    let named = headers
        .content_type
        .as_deref()
        .and_then(|ct| ct.split("messageType=").nth(1))
        .map(|name| name.split(';').next().unwrap_or(name).trim());
    let accepted = [Some(entity.message_name()), entity.resolved_message_name()];
    let name = match named {
        Some(n) if accepted.contains(&Some(n)) => n,
        _ => entity
            .resolved_message_name()
            .unwrap_or(entity.message_name()),
    };
    pool.get_message_by_name(name)
        .unwrap_or_else(|| panic!("{name} is in the embedded descriptor set"))
}

fn pool() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::LazyLock<prost_reflect::DescriptorPool> =
        std::sync::LazyLock::new(|| {
            prost_reflect::DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET)
                .expect("the descriptor set embedded at build time decodes")
        });
    &POOL
}

/// Whose data a record is: the register's personal ID when the resolver found the person,
/// else the ID the record states.
fn personal_id(message: &DynamicMessage) -> Option<String> {
    let text = |path: &[&str]| text_at(message, path);
    match message.descriptor().full_name() {
        "lienthong.v1.ResolvedPerson" => {
            text(&["resolution", "personal_id"]).or_else(|| text(&["record", "personal_id"]))
        }
        "lienthong.v1.ResolvedCivilServant" => text(&["resolution", "personal_id"])
            .or_else(|| text(&["record", "person", "personal_id"])),
        "lienthong.v1.Person" => text(&["personal_id"]),
        "lienthong.v1.CivilServant" | "lienthong.v1.SocialInsuranceRecord" => {
            text(&["person", "personal_id"])
        }
        _ => None,
    }
}

/// The non-empty text at a path of singular fields.
fn text_at(message: &DynamicMessage, path: &[&str]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let field = message.descriptor().get_field_by_name(first)?;
    if !message.has_field(&field) {
        return None;
    }
    let value = message.get_field(&field);
    if rest.is_empty() {
        let text = value.as_str()?.trim();
        (!text.is_empty()).then(|| text.to_string())
    } else {
        text_at(value.as_message()?, rest)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use lienthong_proto::v1::{
        CivilServant, CodedValue, Decimal, MatchStatus, Person, PersonName, ResolutionResult,
        ResolvedCivilServant,
    };
    use prost::Message as _;

    use super::*;

    fn policies() -> PolicySet {
        let partner = |id: &str, entities: &str| {
            (
                PathBuf::from(format!("{id}.toml")),
                format!("id = \"{id}\"\nname = \"{id}\"\npurposes = [\"p-{id}\"]\n{entities}"),
            )
        };
        PolicySet::from_sources([
            partner(
                "labour",
                "[entities.civil_servant]\nfields = [\"record_id\", \"person.*\"]\ntopic = true\n",
            ),
            partner(
                "finance",
                "[entities.civil_servant]\nfields = [\"record_id\", \"salary_coefficient\", \"resolution.status\"]\ntopic = true\n",
            ),
            partner(
                "lookups",
                "[entities.civil_servant]\nfields = [\"*\"]\n[entities.person]\nfields = [\"*\"]\ntopic = true\n",
            ),
        ])
        .unwrap()
    }

    fn servant(resolved_id: &str) -> ResolvedCivilServant {
        ResolvedCivilServant {
            record: Some(CivilServant {
                record_id: "csdl:id=1".into(),
                person: Some(Person {
                    personal_id: "001085000001".into(),
                    name: Some(PersonName {
                        full: "Lê Văn Tám".into(),
                        ..PersonName::default()
                    }),
                    ethnicity: Some(CodedValue {
                        code: "01".into(),
                        ..CodedValue::default()
                    }),
                    ..Person::default()
                }),
                salary_coefficient: Some(Decimal {
                    value: "4.98".into(),
                }),
                ..CivilServant::default()
            }),
            resolution: Some(ResolutionResult {
                status: MatchStatus::Matched as i32,
                personal_id: resolved_id.into(),
                ..ResolutionResult::default()
            }),
        }
    }

    fn inbound(payload: Option<Vec<u8>>) -> InboundRecord {
        InboundRecord {
            topic: "resolved.civil_servant.v1".into(),
            partition: 2,
            offset: 41,
            key: Some(b"csdl:id=1".to_vec()),
            payload,
            headers: RecordHeaders::with_idempotency_key("csdl:0/1A:0")
                .source_position("0/1A")
                .schema_version("hoso@1.0.0")
                .protobuf("ResolvedCivilServant"),
            timestamp_ms: None,
        }
    }

    #[test]
    fn each_partner_gets_its_own_grant_and_the_others_nothing() {
        let record = inbound(Some(servant("001085000009").encode_to_vec()));
        let now = Utc::now();
        let Projection::Share {
            entity,
            records,
            filtered,
        } = project(&policies(), &ShareInputs::default(), &record, now)
        else {
            panic!("not shared");
        };
        assert_eq!(entity, Entity::CivilServant);
        assert_eq!(filtered, ["lookups"], "no topic enabled, nothing produced");
        let by = |p: &str| records.iter().find(|r| r.partner == p).unwrap();
        assert_eq!(records.len(), 2);

        let finance = by("finance");
        assert_eq!(finance.topic, "share.finance.civil_servant.v1");
        assert_eq!(finance.key.as_deref(), Some(&b"csdl:id=1"[..]));
        let got = ResolvedCivilServant::decode(finance.payload.as_deref().unwrap()).unwrap();
        let cs = got.record.unwrap();
        assert_eq!(cs.record_id, "csdl:id=1");
        assert_eq!(cs.salary_coefficient.unwrap().value, "4.98");
        assert!(cs.person.is_none());
        let resolution = got.resolution.unwrap();
        assert_eq!(resolution.status, MatchStatus::Matched as i32);
        assert!(resolution.personal_id.is_empty());
        assert_eq!(
            finance.headers.idempotency_key.as_deref(),
            Some("csdl:0/1A:0:share.finance")
        );
        assert_eq!(finance.headers.source_position.as_deref(), Some("0/1A"));
        assert_eq!(
            finance.headers.schema_version.as_deref(),
            Some("hoso@1.0.0")
        );
        assert_eq!(
            finance.headers.content_type.as_deref(),
            Some("application/x-protobuf; messageType=lienthong.v1.ResolvedCivilServant")
        );

        let labour = by("labour");
        let got = ResolvedCivilServant::decode(labour.payload.as_deref().unwrap()).unwrap();
        assert!(got.resolution.is_none());
        let person = got.record.unwrap().person.unwrap();
        assert_eq!(person.name.unwrap().full, "Lê Văn Tám");
        assert!(person.ethnicity.is_none(), "sensitive under a wildcard");

        // The audit: the register's ID (hashed only on publication), the topic purpose.
        let audit = &labour.audit;
        assert_eq!(audit.partner, "labour");
        assert_eq!(audit.method, "share.civil_servant");
        assert_eq!(audit.subject.as_ref().unwrap().expose(), "001085000009");
        assert_eq!(audit.fields, ["person.*", "record_id"]);
        assert_eq!(audit.purpose, "p-labour");
        assert_eq!(audit.time, now);
        assert_eq!(audit.idempotency_key, "csdl:0/1A:0:share.labour");
    }

    #[test]
    fn without_a_match_the_subject_is_the_stated_id() {
        let mut value = servant("");
        value.resolution.as_mut().unwrap().status = MatchStatus::NotFound as i32;
        let record = inbound(Some(value.encode_to_vec()));
        let Projection::Share { records, .. } =
            project(&policies(), &ShareInputs::default(), &record, Utc::now())
        else {
            panic!("not shared");
        };
        assert_eq!(
            records[0].audit.subject.as_ref().unwrap().expose(),
            "001085000001"
        );
    }

    #[test]
    fn tombstones_pass_to_every_receiving_partner() {
        let Projection::Share {
            records, filtered, ..
        } = project(
            &policies(),
            &ShareInputs::default(),
            &inbound(None),
            Utc::now(),
        )
        else {
            panic!("not shared");
        };
        assert_eq!(records.len(), 2);
        assert_eq!(filtered, ["lookups"]);
        for r in &records {
            assert!(r.payload.is_none());
            assert!(r.audit.subject.is_none() && r.audit.fields.is_empty());
        }
    }

    #[test]
    fn an_unreadable_record_is_rejected_once_for_all_partners() {
        let record = inbound(Some(b"\x0a\xff\xff\xff".to_vec()));
        let Projection::Reject {
            entity,
            rejection,
            lost,
            filtered,
        } = project(&policies(), &ShareInputs::default(), &record, Utc::now())
        else {
            panic!("not rejected");
        };
        assert_eq!(entity, Some(Entity::CivilServant));
        assert_eq!(rejection.kind, "decode");
        assert!(
            rejection
                .reason
                .contains("not a lienthong.v1.ResolvedCivilServant"),
            "{}",
            rejection.reason
        );
        assert_eq!(lost, ["finance", "labour"]);
        assert_eq!(filtered, ["lookups"]);

        let elsewhere = InboundRecord {
            topic: "canonical.civil_servant.v1".into(),
            ..record
        };
        assert!(matches!(
            project(&policies(), &ShareInputs::default(), &elsewhere, Utc::now()),
            Projection::Reject { entity: None, .. }
        ));
    }

    #[test]
    fn the_content_type_says_which_message_a_record_carries() {
        // A canonical person topic configured as the person input: plain Person records.
        let person = Person {
            personal_id: "001085000002".into(),
            phone: "0900000000".into(),
            ..Person::default()
        };
        let record = InboundRecord {
            topic: "canonical.person.v1".into(),
            headers: RecordHeaders::default().protobuf("Person"),
            ..inbound(Some(person.encode_to_vec()))
        };
        let inputs = ShareInputs {
            person: "canonical.person.v1".into(),
            ..ShareInputs::default()
        };
        let Projection::Share { records, .. } = project(&policies(), &inputs, &record, Utc::now())
        else {
            panic!("not shared");
        };
        assert_eq!(records.len(), 1);
        let got = Person::decode(records[0].payload.as_deref().unwrap()).unwrap();
        assert_eq!(got, person);
        assert_eq!(
            records[0].headers.idempotency_key.as_deref(),
            Some("canonical.person.v1/2@41:share.lookups"),
            "no idempotency key in: the position stands in"
        );
    }
}
