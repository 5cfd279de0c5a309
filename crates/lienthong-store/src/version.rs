//! What the store writes: a version of a record (with the query columns derived from its body),
//! and the superseded personal IDs of a population-register change. Pure: decoding and column
//! derivation need no database.

use chrono::{DateTime, NaiveDate, SubsecRound as _, Utc};
use lienthong_proto::v1::{
    AdministrativeUnit, CivilServant, Date, Operation, Organisation, Person, PopulationRecord,
    Provenance, ResolutionResult, ResolvedCivilServant, ResolvedPerson, SocialInsuranceRecord,
    SourcePosition, source_position,
};
use lienthong_vietnamese::text::fold;
use prost::Message as _;

use crate::entity::Entity;

/// Where a stored row was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOrigin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// One version of a record, ready to store.
///
/// `valid_from` is the source commit time when the record carries one, else the time it was
/// received; PostgreSQL keeps microseconds, so constructors truncate to them.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub entity: Entity,
    pub record_id: String,
    /// Persons and civil servants: the register's personal ID when the resolver matched the
    /// record, else the ID the record stated. Social insurance: the stated ID.
    pub personal_id: Option<String>,
    /// Civil servants: their organisation's record id.
    pub organisation_id: Option<String>,
    /// The full name (organisation or unit name) folded: lower case, no tone marks, đ → d.
    pub name_folded: String,
    pub birth_date: Option<NaiveDate>,
    /// Organisations and administrative units: their code.
    pub code: Option<String>,
    /// The encoded message as received; `None` for a tombstone.
    pub body: Option<Vec<u8>>,
    pub source_position: Option<String>,
    /// Stable across redelivery: a version whose key is stored already is a duplicate.
    pub idempotency_key: String,
    pub valid_from: DateTime<Utc>,
    /// The source deleted the record (a DELETE record or a tombstone).
    pub deleted: bool,
    pub origin: Option<KafkaOrigin>,
}

/// Why a value cannot be stored as a version.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRecord {
    #[error("not a lienthong.v1.{message}: {source}")]
    Decode {
        message: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    #[error("the record has no record id (neither in its value nor as its key)")]
    NoRecordId,
    #[error("the record has no idempotency key (provenance.idempotency_key is empty)")]
    NoIdempotencyKey,
    #[error("the {0} contains a NUL character, which PostgreSQL text cannot hold")]
    Nul(&'static str),
}

impl InvalidRecord {
    /// The dead-letter kind.
    pub fn kind(&self) -> &'static str {
        match self {
            InvalidRecord::Decode { .. } => "decode",
            _ => "invalid",
        }
    }
}

/// What a body says, before the identity falls back to the record's key and headers.
#[derive(Debug)]
struct Described {
    record_id: String,
    personal_id: Option<String>,
    organisation_id: Option<String>,
    name_folded: String,
    birth_date: Option<NaiveDate>,
    code: Option<String>,
    idempotency_key: String,
    source_position: Option<String>,
    commit_time: Option<DateTime<Utc>>,
    deleted: bool,
}

impl NewVersion {
    /// A version of `entity` from its encoded message, identified by the message alone (its
    /// record id and `provenance.idempotency_key`); for bulk loads and tests. The stage uses
    /// [`NewVersion::from_record`], which falls back to the Kafka key and headers.
    pub fn from_body(
        entity: Entity,
        body: Vec<u8>,
        received_at: DateTime<Utc>,
    ) -> Result<NewVersion, InvalidRecord> {
        NewVersion::from_record(entity, body, &RecordContext::default(), received_at)
    }

    /// A version of a resolved person.
    pub fn person(
        record: &ResolvedPerson,
        received_at: DateTime<Utc>,
    ) -> Result<NewVersion, InvalidRecord> {
        NewVersion::from_body(Entity::Person, record.encode_to_vec(), received_at)
    }

    /// A version of a resolved civil servant.
    pub fn civil_servant(
        record: &ResolvedCivilServant,
        received_at: DateTime<Utc>,
    ) -> Result<NewVersion, InvalidRecord> {
        NewVersion::from_body(Entity::CivilServant, record.encode_to_vec(), received_at)
    }

    /// A version of `entity` from a Kafka record's value. Identity: the message's record id,
    /// else `context.key` (administrative units have no record id in their message: their key
    /// is the translator's record id), else for a unit `<code_system>:<code>`; the idempotency
    /// key from the provenance, else `context.idempotency_key`.
    pub fn from_record(
        entity: Entity,
        body: Vec<u8>,
        context: &RecordContext,
        received_at: DateTime<Utc>,
    ) -> Result<NewVersion, InvalidRecord> {
        let described = describe(entity, &body)?;
        let record_id = if !described.record_id.is_empty() {
            described.record_id
        } else if let Some(key) = context.key.as_deref().filter(|k| !k.is_empty()) {
            key.to_string()
        } else if entity == Entity::AdministrativeUnit {
            unit_fallback_id(&body).ok_or(InvalidRecord::NoRecordId)?
        } else {
            return Err(InvalidRecord::NoRecordId);
        };
        let idempotency_key = if described.idempotency_key.is_empty() {
            context
                .idempotency_key
                .clone()
                .filter(|k| !k.is_empty())
                .ok_or(InvalidRecord::NoIdempotencyKey)?
        } else {
            described.idempotency_key
        };
        check_no_nul(&record_id, "record id")?;
        check_no_nul(&idempotency_key, "idempotency key")?;
        Ok(NewVersion {
            entity,
            record_id,
            personal_id: described.personal_id,
            organisation_id: described.organisation_id,
            name_folded: described.name_folded,
            birth_date: described.birth_date,
            code: described.code,
            body: Some(body),
            source_position: context
                .source_position
                .as_deref()
                .map(without_nul)
                .or(described.source_position),
            idempotency_key,
            valid_from: described
                .commit_time
                .unwrap_or(received_at)
                .trunc_subsecs(6),
            deleted: described.deleted,
            origin: context.origin.clone(),
        })
    }

    /// The deleted version a tombstone (a record with a key and no value) writes.
    pub fn tombstone(
        entity: Entity,
        record_id: &str,
        context: &RecordContext,
        received_at: DateTime<Utc>,
    ) -> Result<NewVersion, InvalidRecord> {
        if record_id.is_empty() {
            return Err(InvalidRecord::NoRecordId);
        }
        let idempotency_key = context
            .idempotency_key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or(InvalidRecord::NoIdempotencyKey)?;
        check_no_nul(record_id, "record id")?;
        check_no_nul(&idempotency_key, "idempotency key")?;
        Ok(NewVersion {
            entity,
            record_id: record_id.to_string(),
            personal_id: None,
            organisation_id: None,
            name_folded: String::new(),
            birth_date: None,
            code: None,
            body: None,
            source_position: context.source_position.as_deref().map(without_nul),
            idempotency_key,
            valid_from: received_at.trunc_subsecs(6),
            deleted: true,
            origin: context.origin.clone(),
        })
    }
}

/// What a Kafka record adds to its value: the key, the headers' idempotency key and source
/// position, and where it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordContext {
    pub key: Option<String>,
    pub idempotency_key: Option<String>,
    pub source_position: Option<String>,
    pub origin: Option<KafkaOrigin>,
}

fn describe(entity: Entity, body: &[u8]) -> Result<Described, InvalidRecord> {
    let not = |source| InvalidRecord::Decode {
        message: entity.message_name(),
        source,
    };
    Ok(match entity {
        Entity::Person => {
            let resolved = ResolvedPerson::decode(body).map_err(not)?;
            let person = resolved.record.unwrap_or_default();
            let mut d = from_provenance(person.provenance.as_ref());
            d.record_id = person.record_id.clone();
            d.personal_id = personal_id(Some(&person), resolved.resolution.as_ref());
            d.name_folded = person_name(&person);
            d.birth_date = date(person.birth_date.as_ref());
            d
        }
        Entity::CivilServant => {
            let resolved = ResolvedCivilServant::decode(body).map_err(not)?;
            let servant: CivilServant = resolved.record.unwrap_or_default();
            let mut d = from_provenance(servant.provenance.as_ref());
            d.record_id = servant.record_id.clone();
            let person = servant.person.as_ref();
            d.personal_id = personal_id(person, resolved.resolution.as_ref());
            d.organisation_id = non_empty(&servant.organisation_id);
            d.name_folded = person.map(person_name).unwrap_or_default();
            d.birth_date = date(person.and_then(|p| p.birth_date.as_ref()));
            d
        }
        Entity::Organisation => {
            let org = Organisation::decode(body).map_err(not)?;
            let mut d = from_provenance(org.provenance.as_ref());
            d.record_id = org.record_id.clone();
            d.name_folded = without_nul(&fold(&org.name));
            d.code = non_empty(&org.code);
            d
        }
        Entity::AdministrativeUnit => {
            let unit = AdministrativeUnit::decode(body).map_err(not)?;
            let mut d = from_provenance(unit.provenance.as_ref());
            d.name_folded = without_nul(&fold(&unit.name));
            d.code = non_empty(&unit.code);
            d
        }
        Entity::SocialInsurance => {
            let insurance = SocialInsuranceRecord::decode(body).map_err(not)?;
            let mut d = from_provenance(insurance.provenance.as_ref());
            d.record_id = insurance.record_id.clone();
            let person = insurance.person.as_ref();
            d.personal_id = personal_id(person, None);
            d.name_folded = person.map(person_name).unwrap_or_default();
            d.birth_date = date(person.and_then(|p| p.birth_date.as_ref()));
            d
        }
    })
}

fn from_provenance(provenance: Option<&Provenance>) -> Described {
    let provenance = provenance.cloned().unwrap_or_default();
    Described {
        record_id: String::new(),
        personal_id: None,
        organisation_id: None,
        name_folded: String::new(),
        birth_date: None,
        code: None,
        idempotency_key: provenance.idempotency_key,
        source_position: provenance.position.as_ref().and_then(position_text),
        commit_time: provenance
            .source_commit_time
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))),
        deleted: provenance.source_operation == Operation::Delete as i32,
    }
}

/// The identity of a unit whose record has no key: its code in its code system.
fn unit_fallback_id(body: &[u8]) -> Option<String> {
    let unit = AdministrativeUnit::decode(body).ok()?;
    (!unit.code.is_empty()).then(|| format!("{}:{}", unit.code_system, unit.code))
}

/// The register's number when the resolver found the person, else the stated one.
fn personal_id(person: Option<&Person>, resolution: Option<&ResolutionResult>) -> Option<String> {
    resolution
        .map(|r| r.personal_id.as_str())
        .filter(|id| !id.trim().is_empty())
        .or_else(|| {
            person
                .map(|p| p.personal_id.as_str())
                .filter(|id| !id.trim().is_empty())
        })
        .map(|id| without_nul(id.trim()))
}

/// The folded full name, or the folded parts when the full form is missing.
pub(crate) fn person_name(person: &Person) -> String {
    let Some(name) = person.name.as_ref() else {
        return String::new();
    };
    let full = if name.full.trim().is_empty() {
        [&name.family, &name.middle, &name.given]
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        name.full.clone()
    };
    without_nul(&fold(&full))
}

/// A full calendar date; partial dates (month or day 0) have no `date` value.
pub(crate) fn date(date: Option<&Date>) -> Option<NaiveDate> {
    let d = date?;
    let month = u32::try_from(d.month).ok().filter(|m| *m > 0)?;
    let day = u32::try_from(d.day).ok().filter(|d| *d > 0)?;
    NaiveDate::from_ymd_opt(d.year, month, day)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| without_nul(s))
}

fn without_nul(s: &str) -> String {
    s.replace('\0', "")
}

fn check_no_nul(value: &str, what: &'static str) -> Result<(), InvalidRecord> {
    if value.contains('\0') {
        Err(InvalidRecord::Nul(what))
    } else {
        Ok(())
    }
}

/// A source position as text, for records whose headers carry none.
pub fn position_text(position: &SourcePosition) -> Option<String> {
    Some(match position.kind.as_ref()? {
        source_position::Kind::Postgres(p) => format!("{:016X}:{}", p.commit_lsn, p.sequence),
        source_position::Kind::Binlog(b) => {
            format!("{}@{}:{}:{}", b.gtid, b.file, b.offset, b.row_index)
        }
        source_position::Kind::Poll(p) => format!("poll:{}", p.poll_sequence),
        source_position::Kind::Snapshot(s) => {
            format!("snapshot:{}:{}:{}", s.snapshot_id, s.chunk, s.row_index)
        }
    })
}

/// One personal ID the register re-issued: lookups of `old_id` answer `current_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supersession {
    pub old_id: String,
    pub current_id: String,
    /// The register's change time; of two changes claiming one old number, the later wins.
    pub changed_at: Option<DateTime<Utc>>,
    pub origin: Option<KafkaOrigin>,
}

impl Supersession {
    /// The links a register change states: each of its superseded numbers to its current one.
    /// Empty and self-referencing numbers are left out.
    pub fn from_population(
        record: &PopulationRecord,
        origin: Option<&KafkaOrigin>,
    ) -> Result<Vec<Supersession>, InvalidRecord> {
        let current = record.personal_id.trim();
        check_no_nul(current, "personal ID")?;
        if current.is_empty() {
            return Ok(Vec::new());
        }
        let changed_at = record.updated_at.as_ref().and_then(|t| {
            DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
                .map(|t| t.trunc_subsecs(6))
        });
        let mut links = Vec::with_capacity(record.superseded_ids.len());
        for old in &record.superseded_ids {
            let old = old.trim();
            check_no_nul(old, "superseded personal ID")?;
            if old.is_empty()
                || old == current
                || links.iter().any(|l: &Supersession| l.old_id == old)
            {
                continue;
            }
            links.push(Supersession {
                old_id: old.to_string(),
                current_id: current.to_string(),
                changed_at,
                origin: origin.cloned(),
            });
        }
        Ok(links)
    }

    /// Whether this link wins over `other` for the same old number: the later change, and of
    /// two at the same time the greater current number, so the outcome does not depend on the
    /// order changes are read in.
    pub fn wins_over(&self, other: &Supersession) -> bool {
        (self.changed_at, &self.current_id) > (other.changed_at, &other.current_id)
    }
}

/// One input of a batch write.
#[derive(Debug, Clone, PartialEq)]
// Versions are nearly every change; boxing them would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// A version of a record (a tombstone is a deleted version without a body).
    Version(NewVersion),
    /// A population-register change: the personal IDs it supersedes (possibly none).
    Register(Vec<Supersession>),
}

/// What a batch write did with one [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written: a new version, or at least one superseded-ID link added or changed.
    Stored,
    /// Changed nothing: its idempotency key was stored already (a redelivery or a replay), or
    /// the register links it states are all known.
    Duplicate,
    /// Nothing to store: a register change that supersedes no number.
    Ignored,
}

impl Applied {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Stored => "stored",
            Applied::Duplicate => "duplicate",
            Applied::Ignored => "ignored",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lienthong_proto::v1::{MatchStatus, PersonName, PostgresPosition};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn provenance(key: &str, commit: Option<i64>, op: Operation) -> Provenance {
        Provenance {
            idempotency_key: key.into(),
            source_commit_time: commit.map(|seconds| prost_types::Timestamp {
                seconds,
                nanos: 123_456_789,
            }),
            source_operation: op as i32,
            position: Some(SourcePosition {
                kind: Some(source_position::Kind::Postgres(PostgresPosition {
                    commit_lsn: 0x2A,
                    sequence: 3,
                    ..PostgresPosition::default()
                })),
            }),
            ..Provenance::default()
        }
    }

    fn person(name: &str, stated: &str) -> Person {
        Person {
            record_id: "csdl:hoso:7".into(),
            personal_id: stated.into(),
            name: Some(PersonName {
                full: name.into(),
                ..PersonName::default()
            }),
            birth_date: Some(Date {
                year: 1980,
                month: 2,
                day: 29,
            }),
            provenance: Some(provenance(
                "csdl:0/2A:3",
                Some(1_700_000_000),
                Operation::Insert,
            )),
            ..Person::default()
        }
    }

    #[test]
    fn a_resolved_person_is_indexed_by_the_register_number_and_its_folded_name() {
        let resolved = ResolvedPerson {
            record: Some(person("Nguyễn Văn Ánh", "001080000001")),
            resolution: Some(ResolutionResult {
                status: MatchStatus::Matched as i32,
                personal_id: "001080000999".into(),
                ..ResolutionResult::default()
            }),
        };
        let received = at("2025-01-01T00:00:00Z");
        let v = NewVersion::person(&resolved, received).unwrap();
        assert_eq!(v.entity, Entity::Person);
        assert_eq!(v.record_id, "csdl:hoso:7");
        assert_eq!(v.personal_id.as_deref(), Some("001080000999"));
        assert_eq!(v.name_folded, "nguyen van anh");
        assert_eq!(v.birth_date, NaiveDate::from_ymd_opt(1980, 2, 29));
        assert_eq!(v.idempotency_key, "csdl:0/2A:3");
        assert_eq!(v.source_position.as_deref(), Some("000000000000002A:3"));
        // The commit time, to the microsecond.
        assert_eq!(v.valid_from.timestamp(), 1_700_000_000);
        assert_eq!(v.valid_from.timestamp_subsec_nanos(), 123_456_000);
        assert!(!v.deleted);
        assert_eq!(v.body.as_deref(), Some(resolved.encode_to_vec().as_slice()));

        // Not matched: the stated number.
        let unmatched = ResolvedPerson {
            record: Some(person("Lê Thị Hồng", "001080000001")),
            resolution: Some(ResolutionResult {
                status: MatchStatus::NotFound as i32,
                ..ResolutionResult::default()
            }),
        };
        let v = NewVersion::person(&unmatched, received).unwrap();
        assert_eq!(v.personal_id.as_deref(), Some("001080000001"));
    }

    #[test]
    fn a_civil_servant_carries_its_organisation_and_parts_of_a_name_fold_too() {
        let mut p = person("", "");
        p.name = Some(PersonName {
            family: "Đặng".into(),
            middle: "Thị".into(),
            given: "Hoà".into(),
            ..PersonName::default()
        });
        p.provenance = None;
        let servant = ResolvedCivilServant {
            record: Some(CivilServant {
                record_id: "cs:1".into(),
                person: Some(p),
                organisation_id: "org:sonoivu".into(),
                provenance: Some(provenance("k1", None, Operation::Update)),
                ..CivilServant::default()
            }),
            resolution: None,
        };
        let received = at("2025-03-04T05:06:07.000000999Z");
        let v = NewVersion::civil_servant(&servant, received).unwrap();
        assert_eq!(v.name_folded, "dang thi hoa");
        assert_eq!(v.organisation_id.as_deref(), Some("org:sonoivu"));
        assert_eq!(v.personal_id, None);
        // No commit time: the time it was received.
        assert_eq!(v.valid_from, at("2025-03-04T05:06:07Z"));
    }

    #[test]
    fn a_delete_is_a_deleted_version_and_a_tombstone_needs_a_key() {
        let deleted = Organisation {
            record_id: "org:1".into(),
            provenance: Some(provenance("k-del", Some(1_700_000_100), Operation::Delete)),
            ..Organisation::default()
        };
        let v = NewVersion::from_body(
            Entity::Organisation,
            deleted.encode_to_vec(),
            at("2025-01-01T00:00:00Z"),
        )
        .unwrap();
        assert!(v.deleted);
        assert!(v.body.is_some());

        let context = RecordContext {
            key: Some("org:1".into()),
            idempotency_key: Some("k-del:tombstone".into()),
            ..RecordContext::default()
        };
        let t = NewVersion::tombstone(
            Entity::Organisation,
            "org:1",
            &context,
            at("2025-01-01T00:00:00Z"),
        )
        .unwrap();
        assert!(t.deleted && t.body.is_none());
        assert_eq!(t.idempotency_key, "k-del:tombstone");
        assert_eq!(
            NewVersion::tombstone(Entity::Organisation, "", &context, Utc::now()),
            Err(InvalidRecord::NoRecordId)
        );
        assert_eq!(
            NewVersion::tombstone(
                Entity::Organisation,
                "org:1",
                &RecordContext::default(),
                Utc::now()
            ),
            Err(InvalidRecord::NoIdempotencyKey)
        );
    }

    #[test]
    fn identity_falls_back_to_the_key_and_headers_and_garbage_is_refused() {
        let unit = AdministrativeUnit {
            code_system: "vn.province.2025".into(),
            code: "01".into(),
            name: "Thành phố Hà Nội".into(),
            ..AdministrativeUnit::default()
        };
        let context = RecordContext {
            key: Some("dvhc:tinh:01".into()),
            idempotency_key: Some("hdr-key".into()),
            source_position: Some("0/16B3748:0".into()),
            origin: Some(KafkaOrigin {
                topic: "canonical.administrative_unit.v1".into(),
                partition: 2,
                offset: 41,
            }),
        };
        let v = NewVersion::from_record(
            Entity::AdministrativeUnit,
            unit.encode_to_vec(),
            &context,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(v.record_id, "dvhc:tinh:01");
        assert_eq!(v.idempotency_key, "hdr-key");
        assert_eq!(v.code.as_deref(), Some("01"));
        assert_eq!(v.name_folded, "thanh pho ha noi");
        assert_eq!(v.source_position.as_deref(), Some("0/16B3748:0"));
        assert_eq!(v.origin, context.origin);
        // Without a key: the code in its system.
        let v = NewVersion::from_record(
            Entity::AdministrativeUnit,
            unit.encode_to_vec(),
            &RecordContext {
                key: None,
                ..context.clone()
            },
            Utc::now(),
        )
        .unwrap();
        assert_eq!(v.record_id, "vn.province.2025:01");

        let garbage =
            NewVersion::from_body(Entity::CivilServant, b"\x0a\xff\xff".to_vec(), Utc::now())
                .unwrap_err();
        assert_eq!(garbage.kind(), "decode");
        assert!(
            garbage.to_string().contains("ResolvedCivilServant"),
            "{garbage}"
        );
        let no_id = NewVersion::from_body(
            Entity::SocialInsurance,
            SocialInsuranceRecord::default().encode_to_vec(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(no_id, InvalidRecord::NoRecordId);
        assert_eq!(no_id.kind(), "invalid");
        let nul = NewVersion::from_record(
            Entity::Organisation,
            Organisation {
                record_id: "a\0b".into(),
                ..Organisation::default()
            }
            .encode_to_vec(),
            &context,
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(nul, InvalidRecord::Nul("record id"));
    }

    #[test]
    fn partial_dates_have_no_date() {
        let d = |year, month, day| Date { year, month, day };
        assert_eq!(date(Some(&d(1968, 0, 0))), None);
        assert_eq!(date(Some(&d(1968, 5, 0))), None);
        assert_eq!(date(Some(&d(1968, 2, 30))), None);
        assert_eq!(
            date(Some(&d(1968, 5, 1))),
            NaiveDate::from_ymd_opt(1968, 5, 1)
        );
        assert_eq!(date(None), None);
    }

    #[test]
    fn a_reissue_supersedes_its_old_numbers_and_the_later_change_wins() {
        let record = PopulationRecord {
            personal_id: "001090000002".into(),
            superseded_ids: vec![
                "001090000001".into(),
                "001090000002".into(),
                " ".into(),
                "001090000001".into(),
            ],
            updated_at: Some(prost_types::Timestamp {
                seconds: 1_750_000_000,
                nanos: 0,
            }),
            ..PopulationRecord::default()
        };
        let links = Supersession::from_population(&record, None).unwrap();
        assert_eq!(links.len(), 1, "{links:?}");
        assert_eq!(links[0].old_id, "001090000001");
        assert_eq!(links[0].current_id, "001090000002");
        let mut later = links[0].clone();
        later.current_id = "001090000003".into();
        later.changed_at = Some(at("2026-01-01T00:00:00Z"));
        assert!(later.wins_over(&links[0]));
        assert!(!links[0].wins_over(&later));
        let mut undated = links[0].clone();
        undated.changed_at = None;
        assert!(links[0].wins_over(&undated));
        assert!(
            Supersession::from_population(&PopulationRecord::default(), None)
                .unwrap()
                .is_empty()
        );
    }
}
