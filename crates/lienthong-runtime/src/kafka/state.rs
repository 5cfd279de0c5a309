//! Durable state of connectors (snapshot progress, schema versions, poll cursors) in a compacted
//! Kafka topic: one record per key, the last one wins. Keeping it in the broker, not on local
//! disk, lets a connector pod restart anywhere.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::producer::{EventProducer, OutboundRecord, ProduceError};
use super::{KafkaConfig, RecordHeaders, TopicAdmin, TopicSettings};
use crate::kafka::AdminError;

/// Connector state records, keyed by connector and aspect (`"csdl/snapshot"`).
///
/// Contract: [`StateStore::save`] returns after the broker acknowledged the record, so a
/// connector may act on saved state (confirm a position) right after. [`StateStore::load`]
/// reads the whole topic, so it is meant for start-up, not for hot paths.
#[derive(Debug, Clone)]
pub struct StateStore {
    topic: String,
    config: KafkaConfig,
    producer: EventProducer,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("reading state topic {topic}: {source}")]
    Read {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error(transparent)]
    Write(#[from] ProduceError),
}

impl crate::error::Classify for StateError {
    fn class(&self) -> crate::error::ErrorClass {
        match self {
            Self::Admin(e) => e.class(),
            Self::Read { source, .. } => crate::error::classify_kafka(source),
            Self::Write(e) => e.class(),
        }
    }
}

impl StateStore {
    /// Opens (creating when missing) the single-partition compacted topic `topic`.
    pub async fn open(
        config: &KafkaConfig,
        topic: &str,
        producer: EventProducer,
    ) -> Result<Self, StateError> {
        let admin = TopicAdmin::new(config)?;
        let settings = TopicSettings {
            partitions: 1,
            replication_factor: config.topics.default.replication_factor,
            config: [("cleanup.policy".to_string(), "compact".to_string())].into(),
        };
        admin.ensure_topic_with(topic, &settings).await?;
        Ok(Self {
            topic: topic.to_string(),
            config: config.clone(),
            producer,
        })
    }

    /// The last value saved under `key`, or `None`.
    pub async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let topic = self.topic.clone();
        let config = self.config.clone();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || read_last(&config, &topic, &key))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
            .map_err(|source| StateError::Read {
                topic: self.topic.clone(),
                source,
            })
    }

    /// Saves `value` under `key` and waits for the broker's acknowledgement.
    pub async fn save(&self, key: &str, value: &[u8]) -> Result<(), StateError> {
        self.producer
            .send(OutboundRecord {
                topic: &self.topic,
                key: Some(key.as_bytes()),
                payload: Some(value),
                headers: RecordHeaders::default(),
            })
            .await?;
        Ok(())
    }
}

fn read_last(config: &KafkaConfig, topic: &str, key: &str) -> Result<Option<Vec<u8>>, KafkaError> {
    let timeout = Duration::from_millis(config.request_timeout_ms);
    let mut cfg = config.client_config("state");
    // No group: the partition is assigned by hand and nothing is committed.
    cfg.set("enable.auto.commit", "false")
        .set("group.id", "lienthong-state-reader");
    let consumer: BaseConsumer = cfg.create()?;
    let (low, high) = consumer.fetch_watermarks(topic, 0, timeout)?;
    if high <= low {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(low))?;
    consumer.assign(&tpl)?;
    let mut last = None;
    let deadline = std::time::Instant::now() + timeout * 3;
    loop {
        if std::time::Instant::now() > deadline {
            return Err(KafkaError::MessageConsumption(
                rdkafka::error::RDKafkaErrorCode::RequestTimedOut,
            ));
        }
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = result?;
        if message.key() == Some(key.as_bytes()) {
            last = message.payload().map(<[u8]>::to_vec);
        }
        if message.offset() >= high - 1 {
            return Ok(last);
        }
    }
}
