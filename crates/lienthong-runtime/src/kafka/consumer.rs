//! The consumer every stage reads through: manual commits only, headers decoded, the record's
//! trace joined.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::KafkaConfig;
use super::headers::RecordHeaders;
use crate::metrics::KafkaMetrics;

/// A record read from Kafka, owned so that it can outlive the consumer's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    pub headers: RecordHeaders,
    /// Broker or producer timestamp, milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl InboundRecord {
    /// A span for processing this record, child of the trace its producer started.
    pub fn span(&self, stage: &'static str) -> tracing::Span {
        let span = tracing::info_span!(
            "process_record",
            stage,
            topic = %self.topic,
            partition = self.partition,
            offset = self.offset,
        );
        // Fails only when no OpenTelemetry layer is installed; the span then simply has no parent.
        let _ = span.set_parent(self.headers.trace_context());
        span
    }

    /// "topic/partition@offset", for logs and dead letters.
    pub fn position(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// Reads records for one consumer group with manual offset commits.
///
/// Contract: offsets are committed only by [`EventConsumer::commit`], never automatically; a
/// stage commits a record's offset after everything it produced for that record (and for every
/// earlier record of the partition) was acknowledged. After a crash or restart the group
/// resumes from the last committed offset, so records are delivered at least once. Records of
/// one partition arrive in offset order. Not for concurrent `recv` from several tasks.
#[derive(Clone)]
pub struct EventConsumer {
    inner: Arc<StreamConsumer>,
    group_id: String,
    request_timeout: Duration,
    metrics: KafkaMetrics,
}

impl std::fmt::Debug for EventConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventConsumer")
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

impl EventConsumer {
    /// A consumer in group `group_id`. A group with no committed offset starts at the earliest
    /// record, so nothing published before the stage first started is skipped.
    pub fn new(
        config: &KafkaConfig,
        group_id: &str,
        metrics: KafkaMetrics,
    ) -> Result<Self, KafkaError> {
        let mut cfg = config.client_config(group_id);
        cfg.set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", config.session_timeout_ms.to_string())
            .set("fetch.wait.max.ms", config.fetch_wait_max_ms.to_string())
            .set("isolation.level", "read_committed");
        for (k, v) in &config.properties {
            if !matches!(k.as_str(), "enable.auto.commit" | "group.id") {
                cfg.set(k, v);
            }
        }
        Ok(Self {
            inner: Arc::new(cfg.create()?),
            group_id: group_id.to_string(),
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            metrics,
        })
    }

    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    pub fn subscribe(&self, topics: &[&str]) -> Result<(), KafkaError> {
        self.inner.subscribe(topics)
    }

    /// Reads the given partitions of `topic` from the given next-offsets (`None`: from the
    /// earliest record), outside group management: for a replica that must see every partition
    /// itself (the resolver's register feed) and keeps its own positions.
    pub fn assign(&self, topic: &str, start: &[(i32, Option<i64>)]) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (partition, next) in start {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            tpl.add_partition_offset(topic, *partition, offset)?;
        }
        self.inner.assign(&tpl)
    }

    /// The next record.
    pub async fn recv(&self) -> Result<InboundRecord, KafkaError> {
        let message = self.inner.recv().await?;
        let headers = RecordHeaders::from_kafka(message.headers());
        debug_assert!(
            message
                .headers()
                .is_none_or(|h| h.count() >= headers.other.len())
        );
        let record = InboundRecord {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        };
        self.metrics.record_consumed(&record.topic);
        Ok(record)
    }

    /// Commits, synchronously, that every record up to and including `record` was processed.
    pub async fn commit(&self, record: &InboundRecord) -> Result<(), KafkaError> {
        self.commit_offsets(&[(record.topic.clone(), record.partition, record.offset + 1)])
            .await
    }

    /// Commits next-offsets to read per (topic, partition), synchronously.
    pub async fn commit_offsets(&self, offsets: &[(String, i32, i64)]) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, next) in offsets {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.commit(&tpl, CommitMode::Sync))
            .await
            .unwrap_or(Err(KafkaError::Canceled))?;
        for (topic, _, _) in offsets {
            self.metrics.record_committed(topic);
        }
        Ok(())
    }

    /// The group's committed next-offset for each partition of `topic` (`None`: nothing
    /// committed yet).
    pub async fn committed(
        &self,
        topic: &str,
        partitions: i32,
    ) -> Result<Vec<Option<i64>>, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let inner = self.inner.clone();
        let timeout = self.request_timeout;
        let committed = tokio::task::spawn_blocking(move || inner.committed_offsets(tpl, timeout))
            .await
            .unwrap_or(Err(KafkaError::Canceled))?;
        Ok(committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            })
            .collect())
    }
}
