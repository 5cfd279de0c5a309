//! A Kafka record made ready for a platform: its idempotency key, its entity name, and its
//! payload as proto3 JSON (the canonical JSON mapping, so any platform can read it without our
//! `.proto` files).
//!
//! The payload is a function of the source change alone (and of the mapping and model versions
//! it names): the processing times [`PROCESSING_TIMES`] are left out. A stage that processes a
//! change again after a crash stamps it with a new time, and a platform that holds the first
//! delivery under the same idempotency key would refuse the second as a conflict (same key,
//! other bytes) instead of recognising a duplicate. The times stay on the Kafka topics.

use std::hash::{Hash, Hasher};

use lienthong_runtime::kafka::InboundRecord;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, ReflectMessage as _, SerializeOptions, Value,
};
use serde_json::value::RawValue;

/// Fields (of any message, at any depth) that say when a stage processed a record rather than
/// what the source holds: `Provenance.translated_at`, `ResolutionResult.resolved_at`.
pub const PROCESSING_TIMES: [&str; 2] = ["translated_at", "resolved_at"];

/// Clears the [`PROCESSING_TIMES`] timestamps of `message` and of every message inside it.
fn clear_processing_times(message: &mut DynamicMessage) {
    let descriptor = message.descriptor();
    for field in descriptor.fields() {
        let Kind::Message(kind) = field.kind() else {
            continue;
        };
        if !message.has_field(&field) {
            continue;
        }
        if kind.full_name() == "google.protobuf.Timestamp" {
            if PROCESSING_TIMES.contains(&field.name()) {
                message.clear_field(&field);
            }
            continue;
        }
        match message.get_field_mut(&field) {
            Value::Message(inner) => clear_processing_times(inner),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        clear_processing_times(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Why a record cannot be sent at all. It goes to `dlq.sink`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error(
        "the record names no protobuf message (no lienthong-content-type header and no `message` in its route)"
    )]
    NoMessageType,
    #[error("unknown message type {0} (not in the lienthong.v1 contracts)")]
    UnknownMessage(String),
    #[error("not a valid {message}: {reason}")]
    Decode { message: String, reason: String },
    #[error("cannot write {message} as JSON: {reason}")]
    Json { message: String, reason: String },
}

impl PrepareError {
    /// The `error_kind` of the dead letter.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoMessageType | Self::UnknownMessage(_) => "message-type",
            Self::Decode { .. } => "decode",
            Self::Json { .. } => "json",
        }
    }
}

/// A record that cannot be sent, given back with why, for the dead-letter queue.
#[derive(Debug)]
pub struct Unsendable {
    pub record: InboundRecord,
    pub error: PrepareError,
}

/// One record on its way to a platform.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    /// Sent with every request that carries the record; the platform deduplicates by it.
    pub idempotency_key: String,
    /// The entity name the platform files the record under.
    pub entity: String,
    /// The record as proto3 JSON.
    pub payload: Box<RawValue>,
    /// Where it was read from (for receipts, dead letters and the offset commit).
    pub source: InboundRecord,
    /// Chooses the lane: records with the same value stay in order.
    pub lane_hash: u64,
}

impl SinkRecord {
    /// The JSON size, for batch limits.
    pub fn size(&self) -> usize {
        self.payload.get().len() + self.idempotency_key.len() + self.entity.len()
    }
}

/// The idempotency key of a record: the one its producer set (derived from the source position,
/// stable across every redelivery and replay), or else its Kafka coordinates, which are stable
/// across redelivery of that Kafka record.
pub fn idempotency_key(record: &InboundRecord) -> String {
    match &record.headers.idempotency_key {
        Some(key) if !key.is_empty() => key.clone(),
        _ => format!("{}-{}-{}", record.topic, record.partition, record.offset),
    }
}

/// The message type named by a `lienthong-content-type` header value
/// (`application/x-protobuf; messageType=lienthong.v1.CivilServant`).
pub fn message_type(content_type: &str) -> Option<&str> {
    content_type.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("messageType")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// Turns Kafka records into [`SinkRecord`]s with the contracts' descriptors.
#[derive(Debug, Clone)]
pub struct Preparer {
    pool: DescriptorPool,
    options: SerializeOptions,
}

impl Preparer {
    pub fn new() -> Self {
        // The descriptor set is generated from our own .proto files at build time; it always
        // decodes (the proto crate's tests decode it too).
        #[allow(clippy::expect_used)]
        let pool = DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET)
            .expect("the built-in descriptor set decodes");
        Self {
            pool,
            options: SerializeOptions::new(),
        }
    }

    /// Prepares a record that has a payload. `default_message` is the route's `message`.
    pub fn prepare(
        &self,
        record: InboundRecord,
        entity: &str,
        default_message: Option<&str>,
    ) -> Result<SinkRecord, Box<Unsendable>> {
        match self.payload(&record, default_message) {
            Ok(payload) => {
                let idempotency_key = idempotency_key(&record);
                let lane_hash = {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    match &record.key {
                        Some(key) => key.hash(&mut h),
                        None => idempotency_key.hash(&mut h),
                    }
                    h.finish()
                };
                Ok(SinkRecord {
                    idempotency_key,
                    entity: entity.to_string(),
                    payload,
                    source: record,
                    lane_hash,
                })
            }
            Err(error) => Err(Box::new(Unsendable { record, error })),
        }
    }

    fn payload(
        &self,
        record: &InboundRecord,
        default_message: Option<&str>,
    ) -> Result<Box<RawValue>, PrepareError> {
        let name = record
            .headers
            .content_type
            .as_deref()
            .and_then(message_type)
            .or(default_message)
            .ok_or(PrepareError::NoMessageType)?;
        let descriptor = self
            .pool
            .get_message_by_name(name)
            .ok_or_else(|| PrepareError::UnknownMessage(name.to_string()))?;
        let bytes = record.payload.as_deref().unwrap_or_default();
        let mut message =
            DynamicMessage::decode(descriptor, bytes).map_err(|e| PrepareError::Decode {
                message: name.to_string(),
                reason: e.to_string(),
            })?;
        clear_processing_times(&mut message);
        let mut out = Vec::with_capacity(bytes.len() * 2);
        let mut serializer = serde_json::Serializer::new(&mut out);
        message
            .serialize_with_options(&mut serializer, &self.options)
            .map_err(|e| PrepareError::Json {
                message: name.to_string(),
                reason: e.to_string(),
            })?;
        let text = String::from_utf8(out).map_err(|e| PrepareError::Json {
            message: name.to_string(),
            reason: e.to_string(),
        })?;
        RawValue::from_string(text).map_err(|e| PrepareError::Json {
            message: name.to_string(),
            reason: e.to_string(),
        })
    }
}

impl Default for Preparer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use lienthong_proto::v1::{CivilServant, Person, PersonName};
    use lienthong_runtime::kafka::RecordHeaders;
    use prost::Message as _;

    fn inbound(payload: Vec<u8>, headers: RecordHeaders) -> InboundRecord {
        InboundRecord {
            topic: "canonical.civil_servant.v1".into(),
            partition: 2,
            offset: 41,
            key: Some(b"cs-1".to_vec()),
            payload: Some(payload),
            headers,
            timestamp_ms: None,
        }
    }

    fn servant() -> CivilServant {
        CivilServant {
            person: Some(Person {
                personal_id: "001085012345".into(),
                name: Some(PersonName {
                    full: "Nguyễn Văn An".into(),
                    ..PersonName::default()
                }),
                ..Person::default()
            }),
            ..CivilServant::default()
        }
    }

    #[test]
    fn content_type_header_names_the_message() {
        assert_eq!(
            message_type("application/x-protobuf; messageType=lienthong.v1.CivilServant"),
            Some("lienthong.v1.CivilServant")
        );
        assert_eq!(message_type("application/x-protobuf"), None);
    }

    #[test]
    fn a_record_becomes_proto3_json_with_its_key() {
        let headers =
            RecordHeaders::with_idempotency_key("src:0/16B3748:0").protobuf("CivilServant");
        let record = inbound(servant().encode_to_vec(), headers);
        let prepared = Preparer::new()
            .prepare(record, "civil_servant", None)
            .unwrap();
        assert_eq!(prepared.idempotency_key, "src:0/16B3748:0");
        let json: serde_json::Value = serde_json::from_str(prepared.payload.get()).unwrap();
        assert_eq!(json["person"]["personalId"], "001085012345");
        assert_eq!(json["person"]["name"]["full"], "Nguyễn Văn An");
        // Same bytes, same JSON: redelivery sends an identical body.
        let again = Preparer::new()
            .prepare(
                inbound(
                    servant().encode_to_vec(),
                    RecordHeaders::default().protobuf("CivilServant"),
                ),
                "civil_servant",
                None,
            )
            .unwrap();
        assert_eq!(again.payload.get(), prepared.payload.get());
        assert_eq!(again.idempotency_key, "canonical.civil_servant.v1-2-41");
        assert_eq!(
            again.lane_hash, prepared.lane_hash,
            "same Kafka key, same lane"
        );
    }

    /// Two processings of one change differ only in when each stage ran: the platform must get
    /// the same bytes, or it refuses the second as an idempotency conflict.
    #[test]
    fn processing_times_are_left_out_so_a_reprocessed_change_is_byte_identical() {
        use lienthong_proto::v1::{
            MatchStatus, Provenance, ResolutionResult, ResolvedCivilServant,
        };
        let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let resolved = |processed: i64| ResolvedCivilServant {
            record: Some(CivilServant {
                provenance: Some(Provenance {
                    idempotency_key: "src:0/16B3748:0".into(),
                    source_commit_time: at(1_700_000_000),
                    translated_at: at(processed),
                    ..Provenance::default()
                }),
                ..servant()
            }),
            resolution: Some(ResolutionResult {
                status: MatchStatus::Matched as i32,
                personal_id: "001085012345".into(),
                resolved_at: at(processed + 1),
                ..ResolutionResult::default()
            }),
        };
        let preparer = Preparer::new();
        let body = |processed| {
            let record = inbound(
                resolved(processed).encode_to_vec(),
                RecordHeaders::default().protobuf("ResolvedCivilServant"),
            );
            preparer
                .prepare(record, "civil_servant", None)
                .unwrap()
                .payload
                .get()
                .to_string()
        };
        let (first, again) = (body(1_700_000_100), body(1_700_000_900));
        assert_eq!(first, again);
        let json: serde_json::Value = serde_json::from_str(&first).unwrap();
        let provenance = &json["record"]["provenance"];
        assert_eq!(provenance["sourceCommitTime"], "2023-11-14T22:13:20Z");
        assert!(provenance.get("translatedAt").is_none(), "{provenance}");
        assert!(json["resolution"].get("resolvedAt").is_none(), "{json}");
        assert_eq!(json["resolution"]["personalId"], "001085012345");
    }

    #[test]
    fn the_route_message_serves_records_without_header() {
        let record = inbound(servant().encode_to_vec(), RecordHeaders::default());
        let preparer = Preparer::new();
        let refused = preparer
            .prepare(record.clone(), "civil_servant", None)
            .unwrap_err();
        assert_eq!(refused.error, PrepareError::NoMessageType);
        assert!(
            preparer
                .prepare(record, "civil_servant", Some("lienthong.v1.CivilServant"))
                .is_ok()
        );
    }

    #[test]
    fn garbage_and_unknown_types_are_refused_with_their_kind() {
        let preparer = Preparer::new();
        let garbage = inbound(
            vec![0xff, 0xff, 0xff, 0xff],
            RecordHeaders::default().protobuf("CivilServant"),
        );
        let refused = preparer.prepare(garbage, "x", None).unwrap_err();
        assert_eq!(refused.error.kind(), "decode");
        assert_eq!(
            refused.record.offset, 41,
            "the original record comes back for the DLQ"
        );
        let unknown = inbound(vec![], RecordHeaders::default().protobuf("NoSuchThing"));
        let refused = preparer.prepare(unknown, "x", None).unwrap_err();
        assert_eq!(
            refused.error,
            PrepareError::UnknownMessage("lienthong.v1.NoSuchThing".into())
        );
    }
}
