//! Every partner-topic record is audited: which partner received what about whom, when, for
//! which purpose. [`AuditSink`] is where the events go: [`AuditLogSink`] appends them to the
//! hash-chained audit log (`[audit]` enabled), which also publishes each appended record to the
//! audit topic; [`KafkaAuditSink`] only publishes them to the audit topic as JSON (`[audit]`
//! disabled). One process uses one of the two, so the audit topic carries one shape of event.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use lienthong_runtime::kafka::{
    EventProducer, KafkaConfig, KafkaError, OutboundRecord, ProduceError, RecordHeaders,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::{Classify, ErrorClass};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A personal ID number on its way to an audit sink, which must not store or publish it as it
/// is. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalId(String);

impl PersonalId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The number itself, for a sink that hashes it its own way (with a key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the number, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        use std::fmt::Write as _;
        Sha256::digest(self.0.as_bytes())
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalId(***)")
    }
}

/// How a partner-topic record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareResult {
    /// The broker acknowledged the record on the partner topic.
    Delivered,
}

impl ShareResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareResult::Delivered => "delivered",
        }
    }
}

/// One record delivered to a partner topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAudit {
    /// The partner id.
    pub partner: String,
    /// `share.<entity>` (`share.civil_servant`).
    pub method: String,
    /// Whose data it is: the register's personal ID when the resolver matched the person, else
    /// the one the record states; `None` for records not about a person (organisations,
    /// administrative units) and for tombstones.
    pub subject: Option<PersonalId>,
    /// The granted field paths the record was filtered to.
    pub fields: Vec<String>,
    /// The purpose the partner's policy states for its topic.
    pub purpose: String,
    pub time: DateTime<Utc>,
    pub result: ShareResult,
    /// The partner topic.
    pub topic: String,
    /// The delivered record's idempotency key: a redelivered record is audited again with the
    /// same key, so sinks can keep the first.
    pub idempotency_key: String,
}

/// The JSON form of a [`ShareAudit`] on the audit topic.
#[derive(Debug, Serialize)]
struct PublishedAudit<'a> {
    partner: &'a str,
    method: &'a str,
    /// SHA-256 (hex) of the personal ID; never the ID.
    subject: Option<String>,
    fields: &'a [String],
    purpose: &'a str,
    /// RFC 3339, UTC, milliseconds.
    time: String,
    result: ShareResult,
    topic: &'a str,
    idempotency_key: &'a str,
}

impl ShareAudit {
    /// The event as published on the audit topic: the subject hashed.
    pub fn to_json(&self) -> Vec<u8> {
        let published = PublishedAudit {
            partner: &self.partner,
            method: &self.method,
            subject: self.subject.as_ref().map(PersonalId::sha256_hex),
            fields: &self.fields,
            purpose: &self.purpose,
            time: self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            result: self.result,
            topic: &self.topic,
            idempotency_key: &self.idempotency_key,
        };
        // Strings, lists of strings and an enum always serialize.
        serde_json::to_vec(&published).unwrap_or_default()
    }
}

/// Why audit events could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The sink is unreachable or overloaded; trying again later may work.
    #[error("the audit sink is unavailable: {0}")]
    Unavailable(String),
    /// The sink refuses the events until someone changes something (credentials, schema).
    #[error("the audit sink refuses the events: {0}")]
    Refused(String),
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error(transparent)]
    Log(#[from] lienthong_audit::AuditError),
}

impl Classify for AuditError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Unavailable(_) => ErrorClass::Transient,
            Self::Refused(hint) => ErrorClass::operator(format!("fix the audit sink: {hint}")),
            Self::Produce(e) => match e.class() {
                // An audit event is never dead-lettered: without it the record must not count
                // as shared.
                ErrorClass::DeadLetter { .. } => {
                    ErrorClass::operator(format!("the audit topic refuses events: {e}"))
                }
                other => other,
            },
            Self::Log(e) => match e.class() {
                ErrorClass::DeadLetter { .. } => {
                    ErrorClass::operator(format!("the audit log refuses events: {e}"))
                }
                other => other,
            },
        }
    }
}

/// Where the projection stage records what it delivered.
///
/// Contract: [`AuditSink::record`] resolves `Ok` only once every event of the call is stored
/// durably; the stage commits the input offsets of a batch only after that. Delivery is at
/// least once: after a failure or a restart the same events (same `idempotency_key`) may be
/// recorded again, and a sink that must not hold duplicates drops them by that key. Events of
/// one call are in delivery order. Calls come from one task at a time per stage, but a sink
/// may be shared by several stages, so it must be safe for concurrent calls. Implementations
/// must never store or publish `subject` as it is.
pub trait AuditSink: Send + Sync + fmt::Debug {
    fn record(&self, events: Vec<ShareAudit>) -> BoxFuture<'_, Result<(), AuditError>>;

    /// The Kafka topic the sink publishes to, if any: the stage creates it with its own.
    fn publishes_to(&self) -> Option<&str> {
        None
    }
}

/// Appends audit events to the hash-chained audit log ([`lienthong_audit::AuditLog`]), which
/// publishes every appended record to the audit topic too when one is configured.
///
/// Each delivery becomes one [`AuditEvent`](lienthong_audit::AuditEvent): the partner; as
/// method the partner topic (`share.<partner>.<entity>.v1`); as subject the personal ID, which
/// the log replaces by its keyed hash; the granted fields; the policy's purpose; result
/// `delivered`; and as detail `delivery <keyed hash of the idempotency key>`, so that an
/// auditor tells a redelivered record (same hash, see [`AuditSink`]) from a second delivery
/// without the key, which may hold source identifiers, appearing in the clear. The events of a
/// call are appended as one transaction, in order.
#[derive(Debug, Clone)]
pub struct AuditLogSink {
    log: Arc<lienthong_audit::AuditLog>,
}

impl AuditLogSink {
    pub fn new(log: Arc<lienthong_audit::AuditLog>) -> Self {
        Self { log }
    }

    /// The log's event for `event`.
    pub fn event(&self, event: ShareAudit) -> lienthong_audit::AuditEvent {
        lienthong_audit::AuditEvent {
            detail: format!("delivery {}", self.log.subject_hash(&event.idempotency_key)),
            partner: event.partner,
            method: event.topic,
            subject: event.subject.map(|id| id.0),
            fields: event.fields,
            purpose: event.purpose,
            result: event.result.as_str().to_string(),
            at: event.time,
        }
    }
}

impl AuditSink for AuditLogSink {
    fn record(&self, events: Vec<ShareAudit>) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async move {
            let events = events.into_iter().map(|e| self.event(e)).collect();
            self.log.append(events).await?;
            Ok(())
        })
    }

    fn publishes_to(&self) -> Option<&str> {
        self.log.topic()
    }
}

/// Publishes audit events to a Kafka topic as JSON, one record per event, keyed by partner (so
/// one partner's events stay in order), with the event's idempotency key plus `:audit`.
#[derive(Debug, Clone)]
pub struct KafkaAuditSink {
    producer: EventProducer,
    topic: String,
}

impl KafkaAuditSink {
    pub fn new(
        kafka: &KafkaConfig,
        topic: impl Into<String>,
        metrics: KafkaMetrics,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: EventProducer::new(kafka, "audit", metrics)?,
            topic: topic.into(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl AuditSink for KafkaAuditSink {
    fn publishes_to(&self) -> Option<&str> {
        Some(&self.topic)
    }

    fn record(&self, events: Vec<ShareAudit>) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async move {
            let mut pending = Vec::with_capacity(events.len());
            for event in &events {
                let payload = event.to_json();
                let headers = RecordHeaders {
                    content_type: Some("application/json".to_string()),
                    ..RecordHeaders::with_idempotency_key(format!(
                        "{}:audit",
                        event.idempotency_key
                    ))
                };
                pending.push(
                    self.producer
                        .enqueue(OutboundRecord {
                            topic: &self.topic,
                            key: Some(event.partner.as_bytes()),
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
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_published_event_hashes_the_subject() {
        let event = ShareAudit {
            partner: "bhxh".into(),
            method: "share.civil_servant".into(),
            subject: Some(PersonalId::new("001085012345")),
            fields: vec!["person.name".into(), "record_id".into()],
            purpose: "doi-soat".into(),
            time: DateTime::from_timestamp_millis(1_767_225_600_123).unwrap(),
            result: ShareResult::Delivered,
            topic: "share.bhxh.civil_servant.v1".into(),
            idempotency_key: "k:share.bhxh".into(),
        };
        let json = event.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(!text.contains("001085012345"), "{text}");
        assert!(!format!("{event:?}").contains("001085012345"));
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            value["subject"],
            PersonalId::new("001085012345").sha256_hex()
        );
        assert_eq!(value["time"], "2026-01-01T00:00:00.123Z");
        assert_eq!(value["result"], "delivered");
        assert_eq!(value["method"], "share.civil_servant");
        assert_eq!(value["fields"][1], "record_id");
    }

    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(
            PersonalId::new("abc").sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
