//! Kafka plumbing shared by every stage: client settings, the producer and consumer every stage
//! uses, record headers with trace context, topic administration and dead-lettering.

mod admin;
mod config;
mod consumer;
mod dead_letter;
pub mod headers;
mod producer;
mod state;

pub use admin::{AdminError, ClusterInfo, TopicAdmin, TopicOutcome};
pub use config::{KafkaConfig, TopicOverride, TopicPolicy, TopicSettings};
pub use consumer::{EventConsumer, InboundRecord};
pub use dead_letter::{DeadLetterQueue, Rejection, dead_letter_topic};
pub use headers::RecordHeaders;
pub use producer::{Delivered, EventProducer, OutboundRecord, PendingDelivery, ProduceError};
pub use rdkafka::error::{KafkaError, RDKafkaErrorCode};
pub use state::{StateError, StateStore};
