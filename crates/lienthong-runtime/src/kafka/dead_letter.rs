//! `dlq.<stage>`: where a stage puts a record it cannot process, with the reason, the original
//! bytes and the position, so that nothing is dropped silently and the stage keeps running.

use prost::Message;

use lienthong_proto::v1::{DeadLetter, Header};

use super::consumer::InboundRecord;
use super::headers::RecordHeaders;
use super::producer::{Delivered, EventProducer, OutboundRecord, ProduceError};
use crate::metrics::KafkaMetrics;

/// The dead-letter topic of a stage.
pub fn dead_letter_topic(stage: &str) -> String {
    format!("dlq.{stage}")
}

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable machine-readable kind ("decode", "mapping", "http-4xx").
    pub kind: String,
    /// Human-readable reason.
    pub reason: String,
    /// How many times the stage tried.
    pub attempts: u32,
}

/// Publishes rejected records of one stage.
///
/// Contract: [`DeadLetterQueue::reject`] returns only after the broker acknowledged the dead
/// letter, so a stage may commit the rejected record's offset right after it. The dead letter
/// keeps the record's key as its key (so it lands beside its siblings) and carries the
/// original headers, bytes and position.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    stage: String,
    topic: String,
    producer: EventProducer,
    metrics: KafkaMetrics,
}

impl DeadLetterQueue {
    pub fn new(stage: &str, producer: EventProducer, metrics: KafkaMetrics) -> Self {
        Self {
            stage: stage.to_string(),
            topic: dead_letter_topic(stage),
            producer,
            metrics,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Dead-letters a record read from Kafka.
    pub async fn reject(
        &self,
        record: &InboundRecord,
        why: &Rejection,
    ) -> Result<Delivered, ProduceError> {
        let letter = DeadLetter {
            stage: self.stage.clone(),
            error_kind: why.kind.clone(),
            reason: why.reason.clone(),
            topic: record.topic.clone(),
            partition: record.partition,
            offset: record.offset,
            key: record.key.clone().unwrap_or_default(),
            payload: record.payload.clone().unwrap_or_default(),
            headers: record
                .headers
                .pairs()
                .into_iter()
                .map(|(key, value)| Header { key, value })
                .collect(),
            source_position: None,
            idempotency_key: record.headers.idempotency_key.clone().unwrap_or_default(),
            failed_at: Some(now()),
            attempts: why.attempts,
        };
        let mut headers = RecordHeaders {
            idempotency_key: record.headers.idempotency_key.clone(),
            source_position: record.headers.source_position.clone(),
            traceparent: record.headers.traceparent.clone(),
            tracestate: record.headers.tracestate.clone(),
            ..RecordHeaders::default()
        }
        .protobuf("DeadLetter");
        if headers.idempotency_key.is_none() {
            headers.idempotency_key = Some(format!("dlq:{}", record.position()));
        }
        self.publish(record.key.as_deref(), &letter, headers).await
    }

    /// Dead-letters something that never was a Kafka record (a source row that cannot be
    /// captured), with the bytes and position the caller has.
    pub async fn reject_source(
        &self,
        letter: DeadLetter,
        key: Option<&[u8]>,
    ) -> Result<Delivered, ProduceError> {
        let headers = RecordHeaders {
            idempotency_key: Some(format!("dlq:{}:{}", self.stage, letter.idempotency_key)),
            ..RecordHeaders::default()
        }
        .protobuf("DeadLetter");
        let letter = DeadLetter {
            stage: self.stage.clone(),
            ..letter
        };
        self.publish(key, &letter, headers).await
    }

    async fn publish(
        &self,
        key: Option<&[u8]>,
        letter: &DeadLetter,
        headers: RecordHeaders,
    ) -> Result<Delivered, ProduceError> {
        let payload = letter.encode_to_vec();
        tracing::warn!(
            stage = %self.stage,
            kind = %letter.error_kind,
            reason = %letter.reason,
            position = %format!("{}/{}@{}", letter.topic, letter.partition, letter.offset),
            "record dead-lettered"
        );
        let delivered = self
            .producer
            .send(OutboundRecord {
                topic: &self.topic,
                key,
                payload: Some(&payload),
                headers,
            })
            .await?;
        self.metrics
            .record_dead_lettered(&self.stage, &letter.error_kind);
        Ok(delivered)
    }
}

fn now() -> prost_types::Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: since_epoch.as_secs() as i64,
        nanos: since_epoch.subsec_nanos() as i32,
    }
}
