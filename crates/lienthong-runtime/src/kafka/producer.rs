//! The producer every stage publishes through: idempotent, `acks=all`, headers on every record.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use super::KafkaConfig;
use super::headers::RecordHeaders;
use crate::metrics::KafkaMetrics;

/// One record to publish. `payload: None` is a tombstone (a delete marker for compacted topics).
#[derive(Debug, Clone)]
pub struct OutboundRecord<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: RecordHeaders,
}

/// Where the broker stored an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// A record failed to reach the broker.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProduceError {
    #[error("producing to {topic} failed: {source}")]
    Kafka {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("the producer was closed before {topic} acknowledged the record")]
    Canceled { topic: String },
}

impl ProduceError {
    /// The underlying Kafka error, when there is one.
    pub fn kafka(&self) -> Option<&KafkaError> {
        match self {
            Self::Kafka { source, .. } => Some(source),
            Self::Canceled { .. } => None,
        }
    }
}

/// A record handed to the producer and not yet acknowledged.
#[must_use = "a record counts as published only once its delivery has been awaited"]
pub struct PendingDelivery {
    topic: String,
    future: DeliveryFuture,
    metrics: KafkaMetrics,
}

impl std::fmt::Debug for PendingDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingDelivery")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl PendingDelivery {
    /// Waits for the broker's acknowledgement.
    pub async fn acknowledged(self) -> Result<Delivered, ProduceError> {
        let result = match self.future.await {
            Ok(Ok(d)) => Ok(Delivered {
                partition: d.partition,
                offset: d.offset,
            }),
            Ok(Err((source, _))) => Err(ProduceError::Kafka {
                topic: self.topic.clone(),
                source,
            }),
            Err(_) => Err(ProduceError::Canceled {
                topic: self.topic.clone(),
            }),
        };
        match &result {
            Ok(_) => self.metrics.record_produced(&self.topic),
            Err(_) => self.metrics.record_produce_error(&self.topic),
        }
        result
    }
}

/// Publishes records with at-least-once delivery.
///
/// Contract: the idempotent producer (`enable.idempotence=true`, `acks=all`) keeps records of one
/// partition in the order they were enqueued and never writes one twice because of its own
/// retries. A record is durable only when [`PendingDelivery::acknowledged`] returns `Ok`; callers
/// confirm a source position or commit an input offset only after every record before it was
/// acknowledged. Safe to share between tasks (`&self` methods).
#[derive(Clone)]
pub struct EventProducer {
    inner: FutureProducer,
    metrics: KafkaMetrics,
}

impl std::fmt::Debug for EventProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventProducer").finish_non_exhaustive()
    }
}

impl EventProducer {
    /// A producer for the stage `stage` (used in the client id).
    pub fn new(
        config: &KafkaConfig,
        stage: &str,
        metrics: KafkaMetrics,
    ) -> Result<Self, KafkaError> {
        let mut cfg = config.client_config(stage);
        cfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("max.in.flight.requests.per.connection", "5")
            .set("message.timeout.ms", config.message_timeout_ms.to_string())
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "200000");
        // User properties win over ours except for the delivery guarantees above.
        for (k, v) in &config.properties {
            if !matches!(k.as_str(), "enable.idempotence" | "acks") {
                cfg.set(k, v);
            }
        }
        Ok(Self {
            inner: cfg.create()?,
            metrics,
        })
    }

    /// Hands a record to the producer and returns at once with its pending delivery; waits only
    /// while the local queue is full. The current span's trace context is added to the headers
    /// unless they already carry one.
    pub async fn enqueue(
        &self,
        record: OutboundRecord<'_>,
    ) -> Result<PendingDelivery, ProduceError> {
        let mut headers = record.headers;
        if headers.traceparent.is_none() {
            headers.inject_current_trace();
        }
        let kafka_headers = headers.to_kafka();
        let mut future_record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(record.topic).headers(kafka_headers);
        if let Some(key) = record.key {
            future_record = future_record.key(key);
        }
        if let Some(payload) = record.payload {
            future_record = future_record.payload(payload);
        }
        loop {
            match self.inner.send_result(future_record) {
                Ok(future) => {
                    return Ok(PendingDelivery {
                        topic: record.topic.to_string(),
                        future,
                        metrics: self.metrics.clone(),
                    });
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    future_record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((source, _)) => {
                    self.metrics.record_produce_error(record.topic);
                    return Err(ProduceError::Kafka {
                        topic: record.topic.to_string(),
                        source,
                    });
                }
            }
        }
    }

    /// Enqueues a record's outputs in order (see [`enqueue`](Self::enqueue)); the stages hand the
    /// pending deliveries to their acknowledger with the input's position.
    pub async fn enqueue_all<'a>(
        &self,
        records: impl IntoIterator<Item = OutboundRecord<'a>>,
    ) -> Result<Vec<PendingDelivery>, ProduceError> {
        let records = records.into_iter();
        let mut deliveries = Vec::with_capacity(records.size_hint().0);
        for record in records {
            deliveries.push(self.enqueue(record).await?);
        }
        Ok(deliveries)
    }

    /// Publishes one record and waits for the broker's acknowledgement.
    pub async fn send(&self, record: OutboundRecord<'_>) -> Result<Delivered, ProduceError> {
        self.enqueue(record).await?.acknowledged().await
    }

    /// Waits until every enqueued record was acknowledged or failed, at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.flush(Timeout::After(timeout)))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
    }
}
