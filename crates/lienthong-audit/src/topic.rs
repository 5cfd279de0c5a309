//! The audit topic: a copy of every appended record outside the database, for partners' and
//! inspectors' own archives and for anchoring the chain where the database's administrators
//! cannot rewrite it.

use lienthong_runtime::kafka::{EventProducer, OutboundRecord, ProduceError, RecordHeaders};
use serde::Serialize;

use crate::chain::{ChainedRecord, to_hex};

/// Content type of the audit topic's records.
pub const CONTENT_TYPE: &str = "application/json";

/// Publishes appended audit records to a topic.
///
/// Each record is one JSON object — `seq`, `at` (RFC 3339, microseconds, UTC), `partner`,
/// `method`, `subject_hash` (or null), `fields`, `purpose`, `result`, `detail`, `prev_hash` and
/// `hash` (lowercase hex) — keyed by partner, with the idempotency key `audit:<seq>`. Records of
/// one partner stay in order within their partition; across partners, order by `seq`.
/// Delivery is at least once: a consumer may see a `seq` twice and should keep the first.
/// The topic must exist (`lienthong topics ensure`, or a service that creates it).
#[derive(Debug, Clone)]
pub struct AuditTopic {
    producer: EventProducer,
    topic: String,
}

#[derive(Serialize)]
struct PublishedRecord<'a> {
    seq: u64,
    at: String,
    partner: &'a str,
    method: &'a str,
    subject_hash: Option<&'a str>,
    fields: &'a [String],
    purpose: &'a str,
    result: &'a str,
    detail: &'a str,
    prev_hash: String,
    hash: String,
}

impl AuditTopic {
    pub fn new(producer: EventProducer, topic: impl Into<String>) -> Self {
        Self {
            producer,
            topic: topic.into(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Publishes `records` and waits until the broker acknowledged every one.
    pub(crate) async fn publish(&self, records: &[ChainedRecord]) -> Result<(), ProduceError> {
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            let payload = json(record);
            let headers = RecordHeaders {
                content_type: Some(CONTENT_TYPE.to_string()),
                ..RecordHeaders::with_idempotency_key(format!("audit:{}", record.seq))
            };
            pending.push(
                self.producer
                    .enqueue(OutboundRecord {
                        topic: &self.topic,
                        key: Some(record.partner.as_bytes()),
                        payload: Some(&payload),
                        headers,
                    })
                    .await?,
            );
        }
        for delivery in pending {
            delivery.acknowledged().await?;
        }
        Ok(())
    }
}

/// The JSON form of a record on the topic.
pub(crate) fn json(record: &ChainedRecord) -> Vec<u8> {
    let published = PublishedRecord {
        seq: record.seq,
        at: record
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        partner: &record.partner,
        method: &record.method,
        subject_hash: record.subject_hash.as_deref(),
        fields: &record.fields,
        purpose: &record.purpose,
        result: &record.result,
        detail: &record.detail,
        prev_hash: to_hex(&record.prev_hash),
        hash: to_hex(&record.hash),
    };
    // A struct of strings and numbers always serializes.
    serde_json::to_vec(&published).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::DateTime;

    use super::*;
    use crate::chain::GENESIS;

    #[test]
    fn json_carries_every_field_and_no_raw_subject() {
        let mut record = ChainedRecord {
            seq: 42,
            at: DateTime::from_timestamp_micros(1_767_225_600_000_001).unwrap(),
            partner: "bhxh".into(),
            method: "lienthong.v1.LookupService/GetPerson".into(),
            subject_hash: Some("ab".repeat(32)),
            fields: vec!["name.family".into()],
            purpose: "enrolment".into(),
            result: "ok".into(),
            detail: String::new(),
            prev_hash: GENESIS,
            hash: [0; 32],
        };
        record.hash = record.compute_hash();
        let value: serde_json::Value = serde_json::from_slice(&json(&record)).unwrap();
        assert_eq!(value["seq"], 42);
        assert_eq!(value["at"], "2026-01-01T00:00:00.000001Z");
        assert_eq!(value["subject_hash"], "ab".repeat(32));
        assert_eq!(value["fields"][0], "name.family");
        assert_eq!(value["prev_hash"], "0".repeat(64));
        assert_eq!(value["hash"], to_hex(&record.hash));
        assert_eq!(value.as_object().unwrap().len(), 11);
    }
}
