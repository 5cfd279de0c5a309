//! The stream stage: `canonical.person.v1` and `canonical.civil_servant.v1` in, the same record
//! with its population match out to `resolved.<entity>.v1`, and every record that is not a
//! clean MATCHED (discrepancies, AMBIGUOUS, NOT_FOUND, INVALID_INPUT) also to the review topic
//! for data stewards.
//!
//! For every input record exactly one of: one resolved record (plus its review copy), a
//! tombstone passed on, or one dead letter in `dlq.resolve` (a payload that is not the topic's
//! message). `lienthong_resolve_stage_records_total{outcome}` lets an operator check that
//! records in = resolved + passed tombstones + dead-lettered. Offsets are committed only after
//! everything produced for a record and for every earlier record of its partition was
//! acknowledged.

use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::Instrument as _;

use lienthong_proto::v1::{
    CivilServant, Operation, Person, ResolutionResult, ResolvedCivilServant, ResolvedPerson,
};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventConsumer, EventProducer, InboundRecord, KafkaConfig, OutboundRecord,
    RecordHeaders, Rejection, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
pub use lienthong_runtime::stage::StageError;
use lienthong_runtime::stage::{InFlight, acker_ended, acknowledge, finish, supervise};
use lienthong_runtime::{Metrics, Shutdown};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prost::Message as _;
use tokio::sync::mpsc;

use crate::convert::{query_from_person, resolution_to_pb};
use crate::feed::STAGE;
use crate::matcher::MatchStatus;
use crate::record::ProvinceMap;
use crate::service::{ResolveConfig, Resolver, resolved_topic};

/// One record to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: RecordHeaders,
}

impl Output {
    /// The record for the producer, its headers moved out (an output is sent once).
    fn outbound(&mut self) -> OutboundRecord<'_> {
        let headers = std::mem::take(&mut self.headers);
        OutboundRecord {
            topic: &self.topic,
            key: self.key.as_deref(),
            payload: self.payload.as_deref(),
            headers,
        }
    }
}

/// What one input record becomes.
#[derive(Debug)]
pub enum Outcome {
    /// Published: the resolved record (and its review copy), or a passed-on tombstone.
    Publish {
        outputs: Vec<Output>,
        status: Option<MatchStatus>,
    },
    Reject(Rejection),
}

/// The entity of a canonical topic the stage reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Person,
    CivilServant,
}

impl Entity {
    fn of(topic: &str) -> Option<Self> {
        match topic {
            "canonical.person.v1" => Some(Self::Person),
            "canonical.civil_servant.v1" => Some(Self::CivilServant),
            _ => None,
        }
    }

    fn input_message(self) -> &'static str {
        match self {
            Self::Person => "Person",
            Self::CivilServant => "CivilServant",
        }
    }

    fn output_message(self) -> &'static str {
        match self {
            Self::Person => "ResolvedPerson",
            Self::CivilServant => "ResolvedCivilServant",
        }
    }
}

/// Resolves one input record. Pure apart from the clock value passed in and the index read.
pub fn resolve_record(
    resolver: &Resolver,
    provinces: &ProvinceMap,
    review_topic: &str,
    record: &InboundRecord,
    now: SystemTime,
) -> Outcome {
    let (Some(entity), Some(topic)) = (Entity::of(&record.topic), resolved_topic(&record.topic))
    else {
        return Outcome::Reject(Rejection {
            kind: "topic".to_string(),
            reason: format!("{} is not a topic the resolver reads", record.topic),
            attempts: 1,
        });
    };
    let mut headers = RecordHeaders {
        idempotency_key: record.headers.idempotency_key.clone(),
        source_position: record.headers.source_position.clone(),
        schema_version: record.headers.schema_version.clone(),
        traceparent: record.headers.traceparent.clone(),
        tracestate: record.headers.tracestate.clone(),
        ..RecordHeaders::default()
    }
    .protobuf(entity.output_message());
    if headers.idempotency_key.is_none() {
        headers.idempotency_key = Some(format!(
            "{}/{}@{}",
            record.topic, record.partition, record.offset
        ));
    }
    let Some(payload) = record.payload.as_deref() else {
        return Outcome::Publish {
            outputs: vec![Output {
                topic,
                key: record.key.clone(),
                payload: None,
                headers,
            }],
            status: None,
        };
    };
    let not_message = |e: prost::DecodeError| {
        Outcome::Reject(Rejection {
            kind: "decode".to_string(),
            reason: format!("not a lienthong.v1.{}: {e}", entity.input_message()),
            attempts: 1,
        })
    };
    let resolve = |person: &Person| -> Option<(ResolutionResult, MatchStatus)> {
        let deleted = person
            .provenance
            .as_ref()
            .is_some_and(|p| p.source_operation == Operation::Delete as i32);
        if deleted {
            // The record is gone at its source: say so downstream without a new verdict.
            return None;
        }
        let resolution = resolver.resolve(&query_from_person(provinces, person), "stream");
        Some((resolution_to_pb(&resolution, false, now), resolution.status))
    };
    let (encoded, status) = match entity {
        Entity::Person => {
            let person = match Person::decode(payload) {
                Ok(p) => p,
                Err(e) => return not_message(e),
            };
            let verdict = resolve(&person);
            let status = verdict.as_ref().map(|v| v.1);
            let out = ResolvedPerson {
                record: Some(person),
                resolution: verdict.map(|v| v.0),
            };
            (out.encode_to_vec(), status)
        }
        Entity::CivilServant => {
            let servant = match CivilServant::decode(payload) {
                Ok(c) => c,
                Err(e) => return not_message(e),
            };
            let verdict = servant.person.as_ref().and_then(resolve);
            let status = verdict.as_ref().map(|v| v.1);
            let out = ResolvedCivilServant {
                record: Some(servant),
                resolution: verdict.map(|v| v.0),
            };
            (out.encode_to_vec(), status)
        }
    };
    let mut outputs = Vec::with_capacity(2);
    if status.is_some_and(|s| s != MatchStatus::Matched) {
        let mut review = headers.clone();
        review.idempotency_key = review.idempotency_key.map(|k| format!("{k}:review"));
        outputs.push(Output {
            topic: review_topic.to_string(),
            key: record.key.clone(),
            payload: Some(encoded.clone()),
            headers: review,
        });
    }
    outputs.insert(
        0,
        Output {
            topic,
            key: record.key.clone(),
            payload: Some(encoded),
            headers,
        },
    );
    Outcome::Publish { outputs, status }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The resolve stream stage.
#[derive(Debug)]
pub struct ResolveStage {
    pub resolver: Arc<Resolver>,
    pub provinces: ProvinceMap,
    pub config: ResolveConfig,
    pub kafka: KafkaConfig,
    pub retry: RetryConfig,
    pub kafka_metrics: KafkaMetrics,
    pub readiness: Readiness,
    records: Family<OutcomeLabels, Counter>,
}

impl ResolveStage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        resolver: Arc<Resolver>,
        provinces: ProvinceMap,
        config: ResolveConfig,
        kafka: &KafkaConfig,
        retry: &RetryConfig,
        kafka_metrics: KafkaMetrics,
        metrics: &Metrics,
        readiness: Readiness,
    ) -> Self {
        let records = Family::<OutcomeLabels, Counter>::default();
        metrics.register(
            "resolve_stage_records",
            "Input records of the resolve stage by outcome (resolved, passed_tombstone, dead_lettered)",
            records.clone(),
        );
        Self {
            resolver,
            provinces,
            config,
            kafka: kafka.clone(),
            retry: retry.clone(),
            kafka_metrics,
            readiness,
            records,
        }
    }

    fn count(&self, outcome: &'static str) {
        self.records.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Runs until `shutdown`, restarting from the committed offsets after transient failures.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), StageError> {
        let stop = &shutdown;
        supervise(
            STAGE,
            &self.retry,
            &self.readiness,
            &self.kafka_metrics,
            stop,
            move || self.run_once(stop),
        )
        .await
        .map_err(|e| StageError::NeedsOperator(e.0))
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), StageError> {
        let producer = EventProducer::new(&self.kafka, STAGE, self.kafka_metrics.clone())?;
        let dlq = DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone());
        let admin = TopicAdmin::new(&self.kafka)?;
        let mut topics: Vec<String> = self.config.inputs.clone();
        topics.extend(self.config.inputs.iter().filter_map(|t| resolved_topic(t)));
        topics.push(self.config.review_topic.clone());
        topics.push(dead_letter_topic(STAGE));
        admin
            .ensure_topics(&topics.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        let consumer = EventConsumer::new(
            &self.kafka,
            &self.config.group_id,
            self.kafka_metrics.clone(),
        )?;
        consumer.subscribe(
            &self
                .config
                .inputs
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )?;
        tracing::info!(inputs = ?self.config.inputs, "resolving");
        let (ack_tx, ack_rx) = mpsc::channel::<InFlight>(self.config.max_in_flight);
        let mut acker = tokio::spawn(acknowledge(
            ack_rx,
            consumer.clone(),
            Duration::from_millis(self.config.commit_interval_ms),
        ));
        self.readiness.ready();
        let result = loop {
            let record = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                done = &mut acker => break Err(acker_ended(done)),
                record = consumer.recv() => record?,
            };
            // As in the translator: the record's span is entered around the resolution and
            // around each poll of the sends, so that their logs carry the record's trace.
            let span = record.span(STAGE);
            let outcome = span.in_scope(|| {
                resolve_record(
                    &self.resolver,
                    &self.provinces,
                    &self.config.review_topic,
                    &record,
                    SystemTime::now(),
                )
            });
            let deliveries = async {
                Ok::<_, StageError>(match outcome {
                    Outcome::Publish {
                        mut outputs,
                        status,
                    } => {
                        self.count(if status.is_some() {
                            "resolved"
                        } else {
                            "passed_tombstone_or_delete"
                        });
                        producer
                            .enqueue_all(outputs.iter_mut().map(Output::outbound))
                            .await?
                    }
                    Outcome::Reject(why) => {
                        dlq.reject(&record, &why).await?;
                        self.count("dead_lettered");
                        Vec::new()
                    }
                })
            }
            .instrument(span)
            .await?;
            let item = InFlight {
                topic: record.topic,
                partition: record.partition,
                offset: record.offset,
                deliveries,
            };
            if ack_tx.send(item).await.is_err() {
                break Err(StageError::AckerStopped);
            }
        };
        finish(result, ack_tx, &mut acker).await
    }
}
